//! Posting the prompt for a pending approval, at most once per token, and remembering it so it
//! can be restamped later without a click.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slack_morphism::prelude::SlackMessageContent;
use std::time::Duration;

use super::policy::{self, Policy};
use super::records::PromptClaim;
use super::render::{self, PromptOptions, RenderError};
use super::{ApprovalRef, ApprovalRequest, Approvals};
use crate::ids::{ChannelId, ExecutionId, UserId};
use crate::outbound::codepipeline::ExecutionContext;
use crate::outbound::records::StoreError;
use crate::outbound::slack::SlackError;

/// How long the prompt may wait for the execution's context before it is posted without.
const CONTEXT_TIMEOUT: Duration = Duration::from_secs(3);

/// Where a prompt was posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    pub channel: ChannelId,
    pub ts: String,
}

/// A posted prompt, as every process finds it in the shared records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Prompt {
    pub posted: Posted,
    /// What the buttons carry (with the execution id when it was found).
    pub approval: ApprovalRef,
    /// The message as posted: the base for every restamp.
    pub content: SlackMessageContent,
    /// Who started the execution, when known: they may not approve it.
    pub starter: Option<UserId>,
    /// Whether CodePipeline said who or what started it when the prompt was posted; if not,
    /// a click looks it up again (and refuses an approval while it stays unknown).
    #[serde(default)]
    pub starter_known: bool,
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
    /// Another process is posting this token's prompt now: nothing posted (if it dies, its
    /// claim expires and a redelivery posts).
    PostingElsewhere,
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
    /// The shared records could not be read or written: nothing was posted; try again later.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AnnounceError {
    /// Whether trying again later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Slack(_) | Self::Store(_))
    }
}

impl Approvals {
    /// Posts `req`'s prompt in its pipeline's channel unless this token's prompt was posted
    /// already.
    ///
    /// Across processes: the token's prompt is claimed in the shared records first, so one
    /// process posts it; a process that dies holding the claim is replaced once it expires.
    ///
    /// # Errors
    /// See [`AnnounceError`]; the claim is released on error, so a retry posts.
    pub async fn announce(&self, req: &ApprovalRequest) -> Result<Announced, AnnounceError> {
        let pipeline = self
            .settings
            .pipeline(req.approval.pipeline.as_str())
            .ok_or_else(|| AnnounceError::UnknownPipeline(req.approval.pipeline.to_string()))?;
        let claim = match self.records.claim_prompt(&req.approval.token).await? {
            PromptClaim::Mine(claim) => claim,
            PromptClaim::Posted(prompt) => return Ok(Announced::AlreadyPosted(prompt.posted)),
            PromptClaim::Elsewhere => return Ok(Announced::PostingElsewhere),
        };
        let posted = self.post_prompt(req, pipeline, claim).await;
        if posted.is_err() {
            if let Err(e) = self
                .records
                .release_prompt(&req.approval.token, claim)
                .await
            {
                tracing::warn!(error = %e, "cannot release the prompt claim; it expires by itself");
            }
        }
        posted
    }

    /// Looks up the context, renders, posts, and records the prompt claimed at `claim`.
    async fn post_prompt(
        &self,
        req: &ApprovalRequest,
        pipeline: &crate::config::PipelineSettings,
        claim: u64,
    ) -> Result<Announced, AnnounceError> {
        let context = self.context(req).await;
        let mut req = req.clone();
        req.approval.execution = context
            .as_ref()
            .and_then(|c| ExecutionId::parse(&c.execution_id).ok());
        let noted = match &req.approval.execution {
            Some(e) => self.records.starter(e.as_str()).await?,
            None => None,
        };
        let starter = req.approval.execution.as_ref().and_then(|_| {
            policy::starter(
                noted,
                context.as_ref().and_then(|c| c.started_by.as_deref()),
                &self.settings.approvals.principals,
            )
        });
        let authors = match &context {
            Some(c) => self.authors(c).await,
            None => Vec::new(),
        };
        let thread = match &context {
            Some(c) => self.records.thread(&c.execution_id).await?,
            None => None,
        };
        let options = PromptOptions {
            one_click: Policy::of(pipeline, &req.approval).one_click_approve,
            starter: starter.as_ref(),
            authors: &authors,
        };
        let content = render::approval_prompt(&req, context.as_ref(), options)?;
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
            channel: channel.clone(),
            ts,
        };
        let prompt = Prompt {
            posted: posted.clone(),
            approval: req.approval.clone(),
            content,
            starter,
            starter_known: context.is_some(),
            authors,
            expires: req.expires,
        };
        // Slack has the prompt: a failure to record it now is logged, not retried (a retry
        // would post it twice). Clicks still work, from the message as Slack shows it.
        if let Err(e) = self.records.posted(claim, &prompt).await {
            tracing::error!(error = %e, "the posted prompt could not be recorded");
        }
        Ok(Announced::Posted(posted))
    }

    /// The prompt of `approval` as a `/deploy status` reply shows it: what waits, and the
    /// buttons its policy offers. `None` for a pipeline this bot does not serve.
    pub fn status_prompt(&self, approval: &ApprovalRef) -> Option<SlackMessageContent> {
        let pipeline = self.settings.pipeline(approval.pipeline.as_str())?;
        let one_click = Policy::of(pipeline, approval).one_click_approve;
        render::bare_prompt(approval, &self.settings.aws.region, one_click)
            .inspect_err(|e| tracing::error!(error = %e, "cannot render the status prompt"))
            .ok()
    }

    /// The execution behind `req`, or `None` when CodePipeline cannot say in time: the prompt
    /// then shows the notification's own fields.
    async fn context(&self, req: &ApprovalRequest) -> Option<ExecutionContext> {
        let lookup = self
            .clients
            .codepipeline
            .execution_context(req.approval.at());
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

    /// Records that `user` started `execution_id` from `/deploy` (they may not approve it),
    /// and that its approval prompts go as replies in the thread at `ts` in `channel`.
    ///
    /// # Errors
    /// The shared records could not be written.
    pub async fn note_started(
        &self,
        execution_id: &str,
        user: &UserId,
        channel: ChannelId,
        ts: &str,
    ) -> Result<(), StoreError> {
        self.records.note_starter(execution_id, user).await?;
        let thread = ExecutionThread {
            channel,
            ts: ts.to_owned(),
        };
        self.records.note_thread(execution_id, &thread).await
    }
}

/// A thread that follows one execution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionThread {
    pub channel: ChannelId,
    pub ts: String,
}
