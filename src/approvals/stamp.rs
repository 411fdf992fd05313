//! Changing a posted prompt: its quorum progress, or its outcome in place of its buttons.
//! The base is the prompt as posted (remembered at announce time), else as a click showed it.

use slack_morphism::prelude::{SlackBlock, SlackMessageContent};
use std::time::Duration;

use super::announce::Prompt;
use super::ApprovalRef;
use super::Approvals;
use super::{render, Outcome};
use crate::ids::ChannelId;

/// Attempts at updating a prompt (rate limits).
const UPDATE_ATTEMPTS: u32 = 3;

/// A prompt to change: where it is and what it shows now.
#[derive(Debug, Clone)]
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

    /// Replaces the prompt's buttons with `outcome`.
    pub(super) async fn close_prompt(&self, target: &Target, outcome: &Outcome) {
        match render::restamp(&target.blocks, &target.text, outcome) {
            Ok(content) => self.update(target, content).await,
            Err(e) => tracing::error!(error = %e, "cannot render the restamped prompt"),
        }
    }

    /// Shows the quorum's progress `line` above the prompt's buttons.
    pub(super) async fn show_progress(&self, target: &Target, line: &str) {
        match render::progress(&target.blocks, &target.text, line) {
            Ok(content) => self.update(target, content).await,
            Err(e) => tracing::error!(error = %e, "cannot render the prompt's progress"),
        }
    }

    /// `chat.update`, retried a few times on failure.
    async fn update(&self, target: &Target, content: SlackMessageContent) {
        for attempt in 1..=UPDATE_ATTEMPTS {
            match self
                .clients
                .slack
                .update(&target.channel, &target.ts, content.clone())
                .await
            {
                Ok(()) => return,
                Err(e) if attempt < UPDATE_ATTEMPTS => {
                    let wait = e
                        .retry_after()
                        .unwrap_or(Duration::from_secs(u64::from(attempt)))
                        .min(Duration::from_secs(10));
                    tracing::warn!(error = %e, attempt, "chat.update failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, ts = %target.ts, "cannot update the prompt");
                }
            }
        }
    }
}
