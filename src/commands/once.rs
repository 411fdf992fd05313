//! A slash command's work runs once per `trigger_id`, however often Slack delivers it.
//!
//! Slack redelivers an envelope it thinks was not acknowledged in time, possibly on another
//! connection, so to another process
//! (<https://api.slack.com/apis/connections/socket>, "Acknowledge events"); every delivery carries the same
//! `trigger_id`. Before the work after the ack starts, its `trigger_id` is claimed in the
//! shared state store (a conditional put: DynamoDB with `[state]`, else this process's memory);
//! a delivery that finds it claimed does nothing. A store that cannot be reached fails closed:
//! the user is told, nothing runs.

use futures_util::future::BoxFuture;
use sha2::Digest;

use crate::outbound::records::{Expect, Records};
use crate::outbound::slack::{Response, SlackWeb};

/// How long a claim is kept: far beyond Slack's retries (three, within minutes).
const REMEMBER_SECS: i64 = 3600;

/// What the user is told when the claim cannot be made.
pub const STORE_DOWN: &str = "The bot cannot reach its state store to make sure this command runs only once, so nothing was done. Try again in a minute.";

/// Claims each command's `trigger_id` before its work runs.
#[derive(Clone)]
pub struct Once {
    records: Records,
    slack: SlackWeb,
}

impl Once {
    /// Claims in `records`; answers a failed claim through `slack`.
    pub fn new(records: Records, slack: SlackWeb) -> Self {
        Self { records, slack }
    }

    /// `work`, run only when `trigger_id` was not claimed before; the user is answered on
    /// `response_url` when the store fails.
    pub fn guard(
        &self,
        trigger_id: &str,
        response_url: String,
        work: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, ()> {
        let this = self.clone();
        let key = key(trigger_id);
        Box::pin(async move {
            let expires_at = chrono::Utc::now().timestamp() + REMEMBER_SECS;
            let claim = this
                .records
                .put(&key, "command", Expect::Absent, "{}", expires_at)
                .await;
            let tag = &key[key.len() - 12..];
            match claim {
                Ok(Some(_)) => work.await,
                Ok(None) => {
                    tracing::info!(trigger = %tag, "this command was delivered again; it ran already, skipped");
                }
                Err(error) => {
                    tracing::error!(%error, trigger = %tag, "cannot claim the command's trigger id; nothing was done");
                    let content = slack_morphism::prelude::SlackMessageContent::new()
                        .with_text(STORE_DOWN.to_owned());
                    if let Err(e) = this
                        .slack
                        .respond(&response_url, &Response::ephemeral(content))
                        .await
                    {
                        tracing::warn!(error = %e, "cannot answer through response_url");
                    }
                }
            }
        })
    }
}

/// The record key of `trigger_id`: its SHA-256 (the id itself is Slack's, of any length).
fn key(trigger_id: &str) -> String {
    let digest = sha2::Sha256::digest(trigger_id.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("trigger#{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn once() -> Once {
        let client = crate::outbound::slack::build_client(None).expect("client");
        let tokens = crate::outbound::testing::tokens();
        let timeout = std::time::Duration::from_secs(10);
        Once::new(Records::memory(), SlackWeb::new(client, tokens, timeout))
    }

    fn counting(runs: &Arc<AtomicUsize>) -> BoxFuture<'static, ()> {
        let runs = runs.clone();
        Box::pin(async move {
            runs.fetch_add(1, Ordering::SeqCst);
        })
    }

    #[tokio::test]
    async fn the_same_trigger_id_runs_once_and_another_runs_again() {
        let once = once();
        let runs = Arc::new(AtomicUsize::new(0));
        for trigger in ["1.2.abc", "1.2.abc", "3.4.def"] {
            once.guard(trigger, String::new(), counting(&runs)).await;
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_key_is_a_fixed_length_hash_of_any_trigger_id() {
        let long = key(&"x".repeat(10_000));
        assert_eq!(long.len(), "trigger#".len() + 64);
        assert_ne!(key("a"), key("b"));
        assert!(!key("1.2.secret").contains("secret"));
    }
}
