//! Posting the prompt for a pending approval, at most once per token, and remembering it so it
//! can be restamped later without a click.
//!
//! `chat.postMessage` has no idempotency key, so every prompt carries message metadata naming
//! its token's hash (<https://api.slack.com/metadata/using>): a process that takes over the
//! claim of one that died looks for that prompt in Slack before posting its own.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slack_morphism::prelude::{SlackMessageContent, SlackMessageMetadata};
use std::collections::HashMap;
use std::time::Duration;

use super::policy::{self, Policy};
use super::records::{Claim, PromptClaim};
use super::render::{self, PromptOptions, RenderError};
use super::{ApprovalRef, ApprovalRequest, Approvals};
use crate::ids::{ApprovalToken, ChannelId, ExecutionId, UserId};
use crate::outbound::codepipeline::ExecutionContext;
use crate::outbound::records::StoreError;
use crate::outbound::slack::{MetadataMatch, Place, SlackError};

/// How long the prompt may wait for the execution's context before it is posted without.
const CONTEXT_TIMEOUT: Duration = Duration::from_secs(3);

/// The `event_type` of a prompt's message metadata.
pub const PROMPT_EVENT: &str = "chatops_approval_prompt";
/// The `event_payload` key of the token's hash (never the token: any app in the workspace may
/// read message metadata).
pub const TOKEN_HASH_KEY: &str = "token_hash";
/// How far before a lapsed claim began a lookup starts: Slack's clock and this process's may
/// differ.
const LOOKBACK_SECS: i64 = 60;

/// The message metadata every prompt of `token` is posted with.
pub fn prompt_metadata(token: &ApprovalToken) -> SlackMessageMetadata {
    SlackMessageMetadata {
        event_type: PROMPT_EVENT.to_owned(),
        event_payload: Some(HashMap::from([(TOKEN_HASH_KEY.to_owned(), token.hash())])),
    }
}

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
    /// A process that died before recording its post had posted this prompt: found in Slack
    /// and recorded now, nothing posted.
    Found(Posted),
    /// Another process is posting this token's prompt now: nothing posted (if it dies, its
    /// claim lapses and a redelivery takes it over).
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
    /// A lapsed claim's prompt could not be looked for in Slack: nothing was posted (it may
    /// be there already); try again later.
    #[error("cannot tell whether a lapsed claim's prompt was posted: {0}")]
    Lookup(SlackError),
    /// The shared records could not be read or written: nothing was posted; try again later.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AnnounceError {
    /// Whether trying again later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Slack(_) | Self::Lookup(_) | Self::Store(_))
    }

    /// Whether the prompt may be in Slack despite the error: a post whose answer was lost.
    fn may_have_posted(&self) -> bool {
        matches!(self, Self::Slack(SlackError::Transport(_)))
    }
}

impl Approvals {
    /// Posts `req`'s prompt in its pipeline's channel unless this token's prompt was posted
    /// already.
    ///
    /// Across processes: the token's prompt is claimed in the shared records first, so one
    /// process posts it; the claim of a process that dies lapses and is taken over by one that
    /// looks for its prompt in Slack before posting.
    ///
    /// # Errors
    /// See [`AnnounceError`]; the claim is released on error, so a retry posts (after looking
    /// in Slack when a post may have happened).
    pub async fn announce(&self, req: &ApprovalRequest) -> Result<Announced, AnnounceError> {
        let pipeline = self
            .settings
            .pipeline(req.approval.pipeline.as_str())
            .ok_or_else(|| AnnounceError::UnknownPipeline(req.approval.pipeline.to_string()))?;
        let token = &req.approval.token;
        let claim = match self.records.claim_prompt(token, req.expires).await? {
            PromptClaim::Mine(claim) => claim,
            PromptClaim::Posted(prompt) => return Ok(Announced::AlreadyPosted(prompt.posted)),
            PromptClaim::Elsewhere => return Ok(Announced::PostingElsewhere),
        };
        let posted = self.post_prompt(req, pipeline, &claim).await;
        if let Err(e) = &posted {
            let release = self
                .records
                .release_prompt(token, &claim, e.may_have_posted())
                .await;
            if let Err(e) = release {
                tracing::warn!(error = %e, "cannot release the prompt claim; it lapses by itself");
            }
        }
        posted
    }

    /// Looks up the context, renders, posts (unless a lapsed claim's post is found), and
    /// records the prompt under `claim`.
    async fn post_prompt(
        &self,
        req: &ApprovalRequest,
        pipeline: &crate::config::PipelineSettings,
        claim: &Claim,
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
        let content =
            render::approval_prompt(&req, context.as_ref(), options, &self.clients.signer)?;
        let (channel, thread_ts) = match &thread {
            Some(t) => (&t.channel, Some(t.ts.as_str())),
            None => (&pipeline.channel, None),
        };
        let token = &req.approval.token;
        let found = self.find_posted(claim, channel, thread_ts, token).await?;
        let ts = match &found {
            Some(ts) => ts.clone(),
            None => {
                let metadata = prompt_metadata(token);
                let slack = &self.clients.slack;
                slack
                    .post_with_metadata(channel, content.clone(), thread_ts, metadata)
                    .await?
            }
        };
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
        Ok(match found {
            Some(_) => Announced::Found(posted),
            None => Announced::Posted(posted),
        })
    }

    /// When `claim` was taken over from one that lapsed, the `ts` of the prompt that claim
    /// may have posted in `channel` (or the thread at `thread_ts`), found by its metadata.
    ///
    /// # Errors
    /// [`AnnounceError::Lookup`]: Slack could not say; post nothing.
    async fn find_posted(
        &self,
        claim: &Claim,
        channel: &ChannelId,
        thread_ts: Option<&str>,
        token: &ApprovalToken,
    ) -> Result<Option<String>, AnnounceError> {
        if !claim.taken_over {
            return Ok(None);
        }
        let place = match thread_ts {
            Some(ts) => Place::Thread { channel, ts },
            None => Place::Channel(channel),
        };
        let hash = token.hash();
        let wanted = MetadataMatch {
            event_type: PROMPT_EVENT,
            key: TOKEN_HASH_KEY,
            value: &hash,
        };
        let oldest = claim.since.saturating_sub(LOOKBACK_SECS);
        let found = self
            .clients
            .slack
            .find_by_metadata(place, oldest, &wanted)
            .await
            .map_err(AnnounceError::Lookup)?;
        match &found {
            Some(ts) => {
                tracing::info!(token_hash = %hash, %ts, "a lapsed claim's prompt is in Slack; recorded, not posted again")
            }
            None => {
                tracing::info!(token_hash = %hash, "a lapsed claim's prompt is not in Slack; posting it")
            }
        }
        Ok(found)
    }

    /// The prompt of `approval` as a `/deploy status` reply shows it: what waits, and the
    /// buttons its policy offers. `None` for a pipeline this bot does not serve.
    pub fn status_prompt(&self, approval: &ApprovalRef) -> Option<SlackMessageContent> {
        let pipeline = self.settings.pipeline(approval.pipeline.as_str())?;
        let one_click = Policy::of(pipeline, approval).one_click_approve;
        render::bare_prompt(
            approval,
            &self.settings.aws.region,
            one_click,
            &self.clients.signer,
        )
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
