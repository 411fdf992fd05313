//! Posting the prompt for a pending approval, at most once per token.

use super::{ApprovalRequest, Approvals};
use crate::outbound::blocks::{self, RenderError};
use crate::outbound::slack::SlackError;

/// Where a prompt was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
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
        let token = &req.approval.token;
        if let Some(posted) = self.posted.lock().ok().and_then(|p| p.get(token).cloned()) {
            return Ok(Announced::AlreadyPosted(posted));
        }
        let pipeline = self
            .settings
            .pipeline(req.approval.pipeline.as_str())
            .ok_or_else(|| AnnounceError::UnknownPipeline(req.approval.pipeline.to_string()))?;
        let content = blocks::approval_prompt(req)?;
        let ts = self
            .clients
            .slack
            .post(&pipeline.channel, content, None)
            .await?;
        let posted = Posted {
            channel: pipeline.channel.to_string(),
            ts,
        };
        if let Ok(mut p) = self.posted.lock() {
            p.insert(token.clone(), posted.clone());
        }
        Ok(Announced::Posted(posted))
    }
}
