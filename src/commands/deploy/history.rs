//! `/deploy history` and the audit entries of `/deploy` itself: every start and stop goes into
//! the pipeline's audit trail (`crate::audit`, shared with the approval decisions) right after
//! CodePipeline answered, and `history` reads the latest entries back.

use chrono::Utc;

use super::parse::History;
use super::{render, Deploy};
use crate::audit::{AuditEntry, MessageLink, What};
use crate::commands::Invocation;
use crate::error::Failure;
use crate::ids::{ChannelId, PipelineName, UserId};
use crate::outbound::slack::Response;

/// A `/deploy` start or stop, as the audit trail keeps it.
pub(super) struct Acted<'a> {
    pub(super) what: What,
    pub(super) pipeline: &'a PipelineName,
    pub(super) user: &'a UserId,
    /// `started`, `stop_requested` or `failed`.
    pub(super) outcome: &'static str,
    /// The stop reason, or the error.
    pub(super) reason: String,
    pub(super) execution_id: Option<&'a str>,
    pub(super) channel: &'a ChannelId,
    /// The message about it, when one was posted before.
    pub(super) ts: Option<&'a str>,
}

impl Deploy {
    /// `/deploy history`: the pipeline's latest audit entries, to the user who asked.
    ///
    /// # Errors
    /// What to tell the user instead.
    pub(super) async fn history(&self, inv: &Invocation, h: &History) -> Result<(), Failure> {
        let entries = self
            .approvals
            .audit_log()
            .latest(&h.pipeline, h.count)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot read the audit trail");
                Failure::user(
                    "The bot cannot read the audit trail right now; try again in a minute.",
                )
            })?;
        let content = render::history(&h.pipeline, &entries).map_err(Failure::internal)?;
        self.respond(&inv.response_url, &Response::ephemeral(content))
            .await;
        Ok(())
    }

    /// Appends a start or stop to the audit trail; a failure is only logged (the execution
    /// started or stopped all the same).
    pub(super) async fn audit(&self, acted: Acted<'_>) {
        let entry = AuditEntry {
            at: Utc::now(),
            pipeline: acted.pipeline.clone(),
            user: acted.user.to_string(),
            what: acted.what,
            outcome: acted.outcome.to_owned(),
            reason: acted.reason,
            summary: None,
            execution_id: acted.execution_id.map(str::to_owned),
            token_hash: None,
            link: MessageLink {
                channel: acted.channel.clone(),
                ts: acted.ts.map(str::to_owned),
            },
        };
        tracing::info!(
            target: "chatops::audit",
            pipeline = %entry.pipeline,
            user = %entry.user,
            what = entry.what.as_str(),
            outcome = %entry.outcome,
            execution_id = entry.execution_id.as_deref().unwrap_or("-"),
            reason = %entry.reason,
            "deploy audit"
        );
        self.approvals.audit_log().append(&entry).await;
    }
}
