//! Changing a posted prompt: its quorum progress, or its outcome in place of its buttons.
//! The base is the prompt as posted (remembered at announce time), else as a click showed it.
//!
//! An outcome Slack would not take (after a few tries) is kept in the store and retried by
//! [`Approvals::restamp_periodically`] with a growing delay until Slack takes it, in whichever
//! process runs next: a decided prompt never keeps live buttons because Slack was down when it
//! was decided.

use chrono::Utc;
use slack_morphism::prelude::{SlackBlock, SlackMessageContent};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use super::announce::Prompt;
use super::ApprovalRef;
use super::Approvals;
use super::{render, Outcome};
use crate::ids::{ApprovalToken, ChannelId};
use crate::outbound::slack::SlackError;

/// Attempts at updating a prompt (rate limits).
const UPDATE_ATTEMPTS: u32 = 3;

/// A prompt to change: where it is and what it shows now.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Target {
    pub(super) channel: ChannelId,
    pub(super) ts: String,
    pub(super) blocks: Vec<SlackBlock>,
    /// The mrkdwn-safe fallback text.
    pub(super) text: String,
}

impl Target {
    /// A posted prompt, as posted.
    pub(super) fn of(prompt: &Prompt) -> Self {
        Self {
            channel: prompt.posted.channel.clone(),
            ts: prompt.posted.ts.clone(),
            blocks: prompt.content.blocks.clone().unwrap_or_default(),
            text: prompt
                .content
                .text
                .clone()
                .unwrap_or_else(|| "Approval".to_owned()),
        }
    }
}

impl Approvals {
    /// The prompt of `approval` at (`channel`, `ts`): as posted, from the shared records, else
    /// as the click showed it (`blocks`, `text`), else (a reason modal's submission on a
    /// prompt the records do not know) rendered again from the approval's ids, so that a
    /// restamp never leaves the message bare.
    pub(super) async fn target(
        &self,
        approval: &ApprovalRef,
        channel: &ChannelId,
        ts: &str,
        blocks: &[SlackBlock],
        text: Option<&str>,
    ) -> Target {
        let stored = self
            .records
            .prompt(&approval.token)
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "cannot read the posted prompt; using the message as Slack showed it"))
            .ok()
            .flatten()
            .filter(|p| &p.posted.channel == channel && p.posted.ts == ts);
        if let Some(p) = stored {
            return Target::of(&p);
        }
        let rendered = blocks
            .is_empty()
            .then(|| self.status_prompt(approval))
            .flatten();
        let (blocks, text) = match rendered {
            Some(c) => (c.blocks.unwrap_or_default(), c.text),
            None => (blocks.to_vec(), text.map(str::to_owned)),
        };
        Target {
            channel: channel.clone(),
            ts: ts.to_owned(),
            blocks,
            text: text.unwrap_or_else(|| "Approval".to_owned()),
        }
    }

    /// Replaces the prompt's buttons with `outcome`; if Slack does not take it, keeps it for
    /// [`Self::restamp_periodically`].
    pub(super) async fn close_prompt(
        &self,
        token: &ApprovalToken,
        target: &Target,
        outcome: &Outcome,
    ) {
        let content = match render::restamp(&target.blocks, &target.text, outcome) {
            Ok(content) => content,
            Err(e) => {
                tracing::error!(error = %e, "cannot render the restamped prompt");
                return;
            }
        };
        if let Err(e) = self.update(target, content).await {
            let pending = PendingRestamp {
                target: target.clone(),
                outcome: outcome.clone(),
                attempts: 0,
                next_at: Utc::now().timestamp() + self.retry_delay(0),
            };
            match self.records.keep_restamp(token, &pending).await {
                Ok(()) => {
                    tracing::warn!(error = %e, ts = %target.ts, "cannot restamp the prompt now; retrying later")
                }
                Err(store) => {
                    tracing::error!(error = %e, %store, ts = %target.ts, "cannot restamp the prompt, nor keep it for later")
                }
            }
        }
    }

    /// Retries the restamps Slack did not take, every `approvals.retry_base_secs`, each with a
    /// delay doubling from `retry_base_secs` to `retry_max_secs`, until `cancel` fires. A
    /// message Slack says is gone (deleted, archived) is given up, logged.
    pub async fn restamp_periodically(self: Arc<Self>, cancel: CancellationToken) {
        let every = Duration::from_secs(self.settings.approvals.retry_base_secs);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            let pending = match self.records.pending_restamps().await {
                Ok(pending) => pending,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list the restamps to retry");
                    continue;
                }
            };
            let now = Utc::now().timestamp();
            for (token, restamp) in pending.into_iter().filter(|(_, r)| r.next_at <= now) {
                self.retry_restamp(&token, restamp).await;
            }
        }
    }

    /// One more try at a kept restamp.
    async fn retry_restamp(&self, token: &str, mut restamp: PendingRestamp) {
        let target = &restamp.target;
        let result = match render::restamp(&target.blocks, &target.text, &restamp.outcome) {
            Ok(content) => {
                self.clients
                    .slack
                    .update(&target.channel, &target.ts, content)
                    .await
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot render a kept restamp; giving it up");
                Ok(())
            }
        };
        let done = match &result {
            Ok(()) => {
                tracing::info!(ts = %target.ts, attempts = restamp.attempts + 1, "prompt restamped on a later try");
                true
            }
            Err(SlackError::Api { code, .. }) if GONE.contains(&code.as_str()) => {
                tracing::warn!(%code, ts = %target.ts, "the prompt to restamp is gone; giving it up");
                true
            }
            Err(_) => false,
        };
        let kept = if done {
            self.records.drop_restamp(token).await
        } else {
            restamp.attempts += 1;
            restamp.next_at = Utc::now().timestamp() + self.retry_delay(restamp.attempts);
            match ApprovalToken::parse(token) {
                Ok(token) => self.records.keep_restamp(&token, &restamp).await,
                // Not a token this bot writes: nothing to retry under it.
                Err(_) => self.records.drop_restamp(token).await,
            }
        };
        if let Err(e) = kept {
            tracing::warn!(error = %e, "cannot record the restamp's progress; it is tried again");
        }
    }

    /// `retry_base_secs` doubled `attempts` times, at most `retry_max_secs`.
    fn retry_delay(&self, attempts: u32) -> i64 {
        let settings = &self.settings.approvals;
        let delay = settings
            .retry_base_secs
            .saturating_mul(1 << attempts.min(16))
            .min(settings.retry_max_secs);
        i64::try_from(delay).unwrap_or(i64::MAX)
    }

    /// Shows the quorum's progress `line` above the prompt's buttons.
    pub(super) async fn show_progress(&self, target: &Target, line: &str) {
        match render::progress(&target.blocks, &target.text, line) {
            // Logged by `update`; the next vote or the outcome writes the prompt again.
            Ok(content) => drop(self.update(target, content).await),
            Err(e) => tracing::error!(error = %e, "cannot render the prompt's progress"),
        }
    }

    /// `chat.update`, retried a few times on failure; the last failure.
    async fn update(
        &self,
        target: &Target,
        content: SlackMessageContent,
    ) -> Result<(), SlackError> {
        let mut attempt = 1;
        loop {
            match self
                .clients
                .slack
                .update(&target.channel, &target.ts, content.clone())
                .await
            {
                Ok(()) => return Ok(()),
                Err(e) if attempt < UPDATE_ATTEMPTS => {
                    let wait = e
                        .retry_after()
                        .unwrap_or(Duration::from_secs(u64::from(attempt)))
                        .min(Duration::from_secs(10));
                    tracing::warn!(error = %e, attempt, "chat.update failed; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => {
                    tracing::error!(error = %e, ts = %target.ts, "cannot update the prompt");
                    return Err(e);
                }
            }
        }
    }
}

/// Slack's answers for a message that can no longer be updated
/// (<https://docs.slack.dev/reference/methods/chat.update#errors>).
const GONE: &[&str] = &[
    "message_not_found",
    "channel_not_found",
    "cant_update_message",
    "is_archived",
];

/// A restamp Slack did not take yet: what to show, where, and when to try again.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PendingRestamp {
    target: Target,
    outcome: Outcome,
    /// Later tries so far.
    attempts: u32,
    /// Epoch seconds.
    next_at: i64,
}
