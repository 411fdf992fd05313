//! Posting the prompt for a pending approval, at most once per token, and remembering it so it
//! can be restamped later without a click.

use chrono::{DateTime, Utc};
use slack_morphism::prelude::SlackMessageContent;
use std::time::Duration;

use super::policy::{self, Policy};
use super::{ApprovalRef, ApprovalRequest, Approvals};
use crate::ids::{ApprovalToken, ChannelId, ExecutionId, UserId};
use crate::outbound::blocks::{self, PromptOptions, RenderError};
use crate::outbound::codepipeline::ExecutionContext;
use crate::outbound::slack::SlackError;

/// How long the prompt may wait for the execution's context before it is posted without.
const CONTEXT_TIMEOUT: Duration = Duration::from_secs(3);

/// Where a prompt was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

/// A posted prompt, as this process remembers it.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub posted: Posted,
    /// What the buttons carry (with the execution id when it was found).
    pub approval: ApprovalRef,
    /// The message as posted: the base for every restamp.
    pub content: SlackMessageContent,
    /// Who started the execution, when known: they may not approve it.
    pub starter: Option<UserId>,
    /// Who wrote its revisions, when matched: they may not approve it either.
    pub authors: Vec<UserId>,
    pub expires: Option<DateTime<Utc>>,
}

/// What became of an announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announced {
    /// The prompt is in the channel now.
    Posted(Posted),
    /// This token's prompt was posted before (a redelivery): nothing posted.
    AlreadyPosted(Posted),
}

/// Why an announcement did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AnnounceError {
    /// The pipeline is not in the configuration: the message can never be handled here.
    #[error("pipeline `{0}` is not configured")]
    UnknownPipeline(String),
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Slack did not take the post: try again later.
    #[error(transparent)]
    Slack(#[from] SlackError),
}

impl AnnounceError {
    /// Whether trying again later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Slack(_))
    }
}

impl Approvals {
    /// Posts `req`'s prompt in its pipeline's channel unless this token's prompt was posted
    /// already.
    ///
    /// # Errors
    /// See [`AnnounceError`]; nothing is recorded on error, so a retry posts.
    pub async fn announce(&self, req: &ApprovalRequest) -> Result<Announced, AnnounceError> {
        if let Some(prompt) = self.prompt(&req.approval.token) {
            return Ok(Announced::AlreadyPosted(prompt.posted));
        }
        let pipeline = self
            .settings
            .pipeline(req.approval.pipeline.as_str())
            .ok_or_else(|| AnnounceError::UnknownPipeline(req.approval.pipeline.to_string()))?;
        let context = self.context(req).await;
        let mut req = req.clone();
        req.approval.execution = context
            .as_ref()
            .and_then(|c| ExecutionId::parse(&c.execution_id).ok());
        let starter = req.approval.execution.as_ref().and_then(|e| {
            policy::starter(
                self.noted_starter(e),
                context.as_ref().and_then(|c| c.started_by.as_deref()),
                &self.settings.approvals.principals,
            )
        });
        let authors = match &context {
            Some(c) => self.authors(c).await,
            None => Vec::new(),
        };
        let thread = context
            .as_ref()
            .and_then(|c| self.threads.get(&c.execution_id));
        let options = PromptOptions {
            one_click: Policy::of(pipeline, &req.approval).one_click_approve,
            starter: starter.as_ref(),
            authors: &authors,
        };
        let content = blocks::approval_prompt(&req, context.as_ref(), options)?;
        let (channel, thread_ts) = match &thread {
            Some(t) => (&t.channel, Some(t.ts.as_str())),
            None => (&pipeline.channel, None),
        };
        let ts = self
            .clients
            .slack
            .post(channel, content.clone(), thread_ts)
            .await?;
        let posted = Posted {
            channel: channel.to_string(),
            ts,
        };
        self.prompts.insert(
            req.approval.token.clone(),
            Prompt {
                posted: posted.clone(),
                approval: req.approval.clone(),
                content,
                starter,
                authors,
                expires: req.expires,
            },
        );
        Ok(Announced::Posted(posted))
    }

    /// The prompt posted for `token`, if remembered.
    pub(super) fn prompt(&self, token: &ApprovalToken) -> Option<Prompt> {
        self.prompts.get(token)
    }

    /// The execution behind `req`, or `None` when CodePipeline cannot say in time: the prompt
    /// then shows the notification's own fields.
    async fn context(&self, req: &ApprovalRequest) -> Option<ExecutionContext> {
        let lookup = self.clients.codepipeline.execution_context(&req.approval);
        match tokio::time::timeout(CONTEXT_TIMEOUT, lookup).await {
            Ok(Ok(context)) => Some(context),
            Ok(Err(reason)) => {
                tracing::warn!(%reason, "no execution context for the prompt");
                None
            }
            Err(_) => {
                tracing::warn!("execution context lookup timed out; posting without it");
                None
            }
        }
    }

    /// Posts the approval prompts of `execution_id` as replies in the thread at `ts` in
    /// `channel` (the thread that follows an execution started from Slack).
    pub fn follow_in_thread(&self, execution_id: &str, channel: ChannelId, ts: &str) {
        self.threads.insert(
            execution_id.to_owned(),
            Thread {
                channel,
                ts: ts.to_owned(),
            },
        );
    }
}

/// A thread that follows one execution.
#[derive(Debug, Clone)]
pub struct Thread {
    pub channel: ChannelId,
    pub ts: String,
}
