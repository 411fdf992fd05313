//! Confirmations: the ephemeral message that shows exactly what will start or stop, and its
//! buttons. The button value carries the request and a token derived from the confirmation
//! (SHA-256 of the command's `trigger_id` and user), which is also the `clientRequestToken`:
//! a double click starts one execution.

use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::history::Acted;
use super::parse::{Confirmable, Start, Stop};
use super::render::{self, CANCEL, CONFIRM_START, CONFIRM_STOP};
use super::{failure, Deploy};
use crate::audit::What;
use crate::commands::Invocation;
use crate::error::Failure;
use crate::ids::{ChannelId, UserId};
use crate::interaction::{decode_value, encode_value, ButtonClick, ValueError};
use crate::outbound::codepipeline::StartRequest;
use crate::outbound::records::{Expect, StoreError};
use crate::outbound::slack::Response;

/// What became of a confirmation, in the shared records (`confirm#<token>` / `state`): any
/// process of the bot may get the second click.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Confirmation {
    InFlight,
    Done(String),
}

/// How long the outcome of a confirmation is remembered: its buttons live in an ephemeral
/// message, answerable through `response_url` for 30 minutes.
const REMEMBER_DONE: i64 = 24 * 3600;

/// Tries at recording who started an execution.
const NOTE_ATTEMPTS: u32 = 3;

fn confirmation_key(n: &str) -> String {
    format!("confirm#{n}")
}

/// What a confirmation button carries: its token, the request, and for a stop the execution
/// it named.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Confirmed<T> {
    n: String,
    s: T,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<crate::ids::ExecutionId>,
}

/// The token of the confirmation shown for `inv`: 32 hex digits (a valid `clientRequestToken`).
fn token(inv: &Invocation) -> String {
    let digest = sha2::Sha256::digest(format!("{}:{}", inv.trigger_id, inv.user).as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn is_token(n: &str) -> bool {
    n.len() == 32 && n.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The button value of a confirmation.
fn encode<T: Serialize>(value: &Confirmed<T>) -> Result<String, Failure> {
    encode_value(value).map_err(too_long)
}

/// What a value that does not fit a button (once signed) tells the user.
fn too_long(e: ValueError) -> Failure {
    match e {
        ValueError::TooLong(_) => {
            Failure::user("That request is too long to confirm; use fewer or shorter variables.")
        }
        ValueError::Unreadable(_) => Failure::internal(e),
    }
}

impl Deploy {
    /// Shows the start confirmation to a deployer.
    ///
    /// # Errors
    /// What to tell the user instead.
    pub(super) async fn offer_start(
        &self,
        inv: &Invocation,
        user: &UserId,
        start: Start,
    ) -> Result<(), Failure> {
        self.check_deployer(&start.pipeline, user).await?;
        let source = self.source_action(&start).await?;
        let value = encode(&Confirmed {
            n: token(inv),
            s: start.clone(),
            e: None,
        })?;
        let content =
            render::confirm_start(&start, source.as_deref(), &value).map_err(Failure::internal)?;
        let content = self
            .clients
            .signer
            .sign_buttons(content)
            .map_err(too_long)?;
        self.respond(&inv.response_url, &Response::ephemeral(content))
            .await;
        Ok(())
    }

    /// Shows the stop confirmation, naming the execution that runs now.
    ///
    /// # Errors
    /// What to tell the user instead.
    pub(super) async fn offer_stop(
        &self,
        inv: &Invocation,
        user: &UserId,
        stop: Stop,
    ) -> Result<(), Failure> {
        self.check_deployer(&stop.pipeline, user).await?;
        let running = self
            .clients
            .codepipeline
            .running_execution(&stop.pipeline)
            .await
            .map_err(|e| failure(&stop.pipeline, e))?
            .ok_or_else(|| {
                Failure::user(format!(
                    "Nothing is running on `{}`; nothing to stop.",
                    stop.pipeline
                ))
            })?;
        let execution = crate::ids::ExecutionId::parse(&running.execution_id)
            .map_err(|e| Failure::internal(anyhow::anyhow!(e)))?;
        let value = encode(&Confirmed {
            n: token(inv),
            e: Some(execution),
            s: stop.clone(),
        })?;
        let content = render::confirm_stop(&stop, &running, &value).map_err(Failure::internal)?;
        let content = self
            .clients
            .signer
            .sign_buttons(content)
            .map_err(too_long)?;
        self.respond(&inv.response_url, &Response::ephemeral(content))
            .await;
        Ok(())
    }

    /// The source action a revision override applies to: the pipeline's only one.
    async fn source_action(&self, start: &Start) -> Result<Option<String>, Failure> {
        if start.revision.is_none() {
            return Ok(None);
        }
        let mut sources = self
            .clients
            .codepipeline
            .source_actions(&start.pipeline)
            .await
            .map_err(|e| failure(&start.pipeline, e))?;
        match sources.len() {
            1 => Ok(sources.pop()),
            n => Err(Failure::user(format!(
                "`{}` has {n} source actions; a revision can be given only for a pipeline with exactly one.",
                start.pipeline
            ))),
        }
    }

    /// Handles one click on a `deploy:` button to the end (a start is followed to its end).
    pub(super) async fn click(&self, click: ButtonClick) {
        let Some(response_url) = click.response_url.clone() else {
            tracing::warn!("a /deploy click without response_url");
            return;
        };
        let (text, thread) = match click.action_id.as_str() {
            CANCEL => ("Cancelled; nothing was done.".to_owned(), None),
            CONFIRM_START => match self.confirm_start(&click, &response_url).await {
                Ok((text, thread)) => (text, Some(thread)),
                Err(failure) => (failure.reply(), None),
            },
            CONFIRM_STOP => match self.confirm_stop(&click).await {
                Ok(text) => (text, None),
                Err(failure) => (failure.reply(), None),
            },
            other => (
                format!("Unknown button `{}`.", crate::ids::shorten(other)),
                None,
            ),
        };
        let content = slack_morphism::prelude::SlackMessageContent::new().with_text(text);
        self.respond(&response_url, &Response::replace(content))
            .await;
        if let Some(thread) = thread {
            self.follow(thread).await;
        }
    }

    /// Claims confirmation `n` for this click, in every process (held for `[state]
    /// claim_secs` if this one dies); the claim's version.
    ///
    /// # Errors
    /// What an earlier click on the same confirmation did, or that the records cannot be
    /// reached (nothing was done).
    async fn claim(&self, n: &str) -> Result<u64, Failure> {
        let records = &self.clients.records;
        let key = confirmation_key(n);
        let unreachable = |e: StoreError| {
            tracing::error!(error = %e, "cannot claim the confirmation");
            Failure::user("The bot cannot record this confirmation right now; nothing was done. Try again in a minute.")
        };
        let body = serde_json::to_string(&Confirmation::InFlight).map_err(Failure::internal)?;
        let until = Utc::now().timestamp() + self.claim_secs();
        if let Some(version) = records
            .put(&key, "state", Expect::Absent, &body, until)
            .await
            .map_err(unreachable)?
        {
            return Ok(version);
        }
        let earlier = records.get(&key, "state").await.map_err(unreachable)?;
        let earlier: Option<Confirmation> = earlier
            .map(|s| serde_json::from_str(&s.body))
            .transpose()
            .map_err(Failure::internal)?;
        Err(Failure::user(match earlier {
            Some(Confirmation::Done(what)) => format!("Already done: {what}"),
            _ => "This confirmation is being carried out already.".to_owned(),
        }))
    }

    /// Records what the claimed confirmation did, or gives it back (only its claimer settles).
    async fn settle(&self, n: &str, version: u64, done: Option<String>) {
        let records = &self.clients.records;
        let key = confirmation_key(n);
        let result = match done {
            Some(what) => match serde_json::to_string(&Confirmation::Done(what)) {
                Ok(body) => {
                    let until = Utc::now().timestamp() + REMEMBER_DONE;
                    records
                        .put(&key, "state", Expect::Version(version), &body, until)
                        .await
                        .map(|_| ())
                }
                Err(e) => Err(StoreError::corrupt(&e)),
            },
            // Given back: written as already expired, and only over this process's own claim.
            None => match serde_json::to_string(&Confirmation::InFlight) {
                Ok(body) => records
                    .put(
                        &key,
                        "state",
                        Expect::Version(version),
                        &body,
                        Utc::now().timestamp(),
                    )
                    .await
                    .map(|_| ()),
                Err(e) => Err(StoreError::corrupt(&e)),
            },
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot record what the confirmation did; its claim expires by itself");
        }
    }

    /// Records who started `id` (they may not approve it) and its thread, retried a few times:
    /// the approval check reads it from the shared records.
    async fn note_started(&self, id: &str, user: &UserId, channel: &ChannelId, ts: &str) {
        for attempt in 1..=NOTE_ATTEMPTS {
            match self
                .approvals
                .note_started(id, user, channel.clone(), ts)
                .await
            {
                Ok(()) => return,
                Err(e) if attempt < NOTE_ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "cannot record who started the execution; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt)))
                        .await;
                }
                Err(e) => {
                    tracing::error!(error = %e, execution_id = %id, "cannot record who started the execution");
                }
            }
        }
    }

    /// How long a claim of this process holds.
    fn claim_secs(&self) -> i64 {
        self.settings
            .state
            .as_ref()
            .map_or(60, |s| i64::try_from(s.claim_secs).unwrap_or(60))
    }

    /// Reads a confirmation button back (untrusted), re-checks its request and the clicker,
    /// and claims the confirmation for this click.
    ///
    /// # Errors
    /// What to tell the clicker; nothing was `done`.
    async fn accept_click<T: Confirmable + DeserializeOwned>(
        &self,
        click: &ButtonClick,
        done: &str,
    ) -> Result<(Confirmed<T>, u64), Failure> {
        let invalid = || {
            Failure::user(format!(
                "This button is not a valid confirmation; nothing was {done}."
            ))
        };
        let value: Confirmed<T> = decode_value(&click.value).map_err(|e| {
            tracing::warn!(reason = %e, "refused a /deploy button");
            invalid()
        })?;
        if !is_token(&value.n) {
            return Err(invalid());
        }
        value.s.check()?;
        self.check_deployer(value.s.pipeline(), &click.user).await?;
        let claim = self.claim(&value.n).await?;
        Ok((value, claim))
    }

    /// Re-checks the clicker and the request, then starts; the thread is followed next.
    async fn confirm_start(
        &self,
        click: &ButtonClick,
        response_url: &str,
    ) -> Result<(String, super::follow::Follower), Failure> {
        let (value, claim) = self.accept_click::<Start>(click, "started").await?;
        let (user, channel) = (&click.user, &click.channel);
        let replaced = Response::replace(
            slack_morphism::prelude::SlackMessageContent::new()
                .with_text(format!("Starting `{}`…", value.s.pipeline)),
        );
        self.respond(response_url, &replaced).await;
        let started = self.start(&value, user, channel).await;
        self.settle(
            &value.n,
            claim,
            started
                .as_ref()
                .ok()
                .map(|(id, _)| format!("started execution `{id}`.")),
        )
        .await;
        let (execution_id, thread) = started?;
        Ok((
            format!("Started execution `{execution_id}`; it is followed in the channel."),
            thread,
        ))
    }

    /// Posts the thread's top message, starts the execution, and readies the follower.
    async fn start(
        &self,
        value: &Confirmed<Start>,
        user: &UserId,
        channel: &ChannelId,
    ) -> Result<(String, super::follow::Follower), Failure> {
        let start = &value.s;
        let source = self.source_action(start).await?;
        // Posted before the start, so the thread exists when the approval prompt comes.
        let placeholder = slack_morphism::prelude::SlackMessageContent::new().with_text(format!(
            ":rocket: `{}` starting, requested by <@{user}>…",
            start.pipeline
        ));
        let ts = self
            .clients
            .slack
            .post(channel, placeholder, None)
            .await
            .map_err(|e| {
                Failure::user(format!(
                    "Could not post in this channel ({e}); nothing was started."
                ))
            })?;
        let request = StartRequest {
            pipeline: &start.pipeline,
            revision: source.as_deref().zip(start.revision.as_deref()),
            variables: &start.variables,
            client_request_token: &value.n,
        };
        let started_at = chrono::Utc::now();
        let result = self.clients.codepipeline.start_execution(&request).await;
        // Into the audit trail as soon as CodePipeline answered, before any other Slack call.
        self.audit(Acted {
            what: What::Start,
            pipeline: &start.pipeline,
            user,
            outcome: if result.is_ok() { "started" } else { "failed" },
            reason: result
                .as_ref()
                .err()
                .map(ToString::to_string)
                .unwrap_or_default(),
            execution_id: result.as_deref().ok(),
            channel,
            ts: Some(&ts),
        })
        .await;
        match result {
            Ok(id) => {
                self.note_started(&id, user, channel, &ts).await;
                let thread = self.thread(
                    start.pipeline.clone(),
                    id.clone(),
                    user.clone(),
                    channel.clone(),
                    ts,
                    started_at,
                );
                Ok((id, thread))
            }
            Err(e) => {
                // Logged once here (an internal one with its reference); the clicker reads
                // the same text as the channel.
                let text = failure(&start.pipeline, e).reply();
                let failed = slack_morphism::prelude::SlackMessageContent::new()
                    .with_text(format!(":x: `{}` was not started: {text}", start.pipeline));
                if let Err(e) = self.clients.slack.update(channel, &ts, failed).await {
                    tracing::warn!(error = %e, "cannot update the start message");
                }
                Err(Failure::user(text))
            }
        }
    }

    /// Re-checks the clicker and the request, then stops the confirmed execution.
    async fn confirm_stop(&self, click: &ButtonClick) -> Result<String, Failure> {
        let (value, claim) = self.accept_click::<Stop>(click, "stopped").await?;
        let (user, channel) = (&click.user, &click.channel);
        let (stop, execution) = match &value.e {
            Some(e) => (&value.s, e),
            None => {
                return Err(Failure::user(
                    "This button names no execution; nothing was stopped.",
                ))
            }
        };
        let result = self
            .clients
            .codepipeline
            .stop_execution(
                &stop.pipeline,
                execution.as_str(),
                stop.abandon,
                stop.reason.as_deref(),
            )
            .await;
        // Into the audit trail as soon as CodePipeline answered, before any Slack call.
        self.audit(Acted {
            what: What::Stop,
            pipeline: &stop.pipeline,
            user,
            outcome: if result.is_ok() {
                "stop_requested"
            } else {
                "failed"
            },
            reason: match &result {
                Ok(()) => stop.reason.clone().unwrap_or_default(),
                Err(e) => e.to_string(),
            },
            execution_id: Some(execution.as_str()),
            channel,
            ts: None,
        })
        .await;
        let mode = if stop.abandon {
            "abandoning in-progress actions"
        } else {
            "letting in-progress actions finish"
        };
        match result {
            Ok(()) => {
                let done = format!("stop of execution `{execution}` requested ({mode}).");
                self.settle(&value.n, claim, Some(done.clone())).await;
                let reason = stop
                    .reason
                    .as_deref()
                    .map(|r| format!(": {}", crate::outbound::slack::mrkdwn::escape(r)))
                    .unwrap_or_default();
                let note = slack_morphism::prelude::SlackMessageContent::new().with_text(format!(
                    ":octagonal_sign: <@{user}> stopped execution `{}` of `{}` ({mode}){reason}",
                    execution, stop.pipeline
                ));
                if let Err(e) = self.clients.slack.post(channel, note, None).await {
                    tracing::warn!(error = %e, "cannot post the stop note");
                }
                Ok(format!("Done: {done}"))
            }
            Err(e) => {
                self.settle(&value.n, claim, None).await;
                Err(failure(&stop.pipeline, e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_a_stable_client_request_token() {
        let inv = Invocation {
            command: "/deploy".into(),
            text: "web".into(),
            user: UserId::parse("U1X").expect("user"),
            channel: ChannelId::parse("C1X").expect("channel"),
            team: crate::ids::TeamId::parse("T1X").expect("team"),
            response_url: "https://x".into(),
            trigger_id: "123.456".into(),
        };
        assert_eq!(token(&inv), token(&inv.clone()));
        assert!(is_token(&token(&inv)));
        let other = Invocation {
            trigger_id: "123.457".into(),
            ..inv.clone()
        };
        assert_ne!(token(&inv), token(&other));
    }

    #[test]
    fn tampered_values_are_refused() {
        assert!(decode_value::<Confirmed<Start>>("{}").is_err());
        assert!(decode_value::<Confirmed<Start>>(&"x".repeat(3000)).is_err());
        assert!(decode_value::<Confirmed<Start>>(r#"{"n":"a","s":{"p":"bad name"}}"#).is_err());
        assert!(decode_value::<Confirmed<Start>>(r#"{"n":"a","s":{"p":"web"},"x":1}"#).is_err());
        assert!(!is_token("ABC"));
    }
}
