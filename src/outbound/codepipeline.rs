//! CodePipeline: record an approval decision.
//!
//! The errors a caller branches on are typed: "already decided" and "no longer valid" change
//! what the Slack prompt says; anything else leaves the prompt clickable.

use aws_sdk_codepipeline::error::DisplayErrorContext;
use aws_sdk_codepipeline::types::{ApprovalResult, ApprovalStatus};

use crate::approvals::{ApprovalRef, Decision};

/// CodePipeline's limit on `result.summary`.
pub const SUMMARY_MAX: usize = 512;

/// Why `PutApprovalResult` did not record the decision.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// `ApprovalAlreadyCompletedException`: someone approved or rejected it already.
    #[error("the approval was already decided")]
    AlreadyCompleted,
    /// `InvalidApprovalTokenException`: expired, or its execution was superseded.
    #[error("the approval expired or was superseded")]
    NoLongerValid,
    /// Pipeline, stage or action not found (edited or deleted since the prompt).
    #[error("{0}")]
    NotFound(String),
    /// Anything else (throttling, network, validation): worth trying again.
    #[error("{0}")]
    Other(String),
}

/// The CodePipeline client.
#[derive(Clone)]
pub struct CodePipeline {
    client: aws_sdk_codepipeline::Client,
}

impl CodePipeline {
    /// Wraps an SDK client built by the composition root.
    pub fn new(client: aws_sdk_codepipeline::Client) -> Self {
        Self { client }
    }

    /// `PutApprovalResult` for `approval`; `summary` is cut to CodePipeline's limit.
    ///
    /// # Errors
    /// See [`DecisionError`].
    pub async fn put_approval_result(
        &self,
        approval: &ApprovalRef,
        decision: Decision,
        summary: &str,
    ) -> Result<(), DecisionError> {
        let status = match decision {
            Decision::Approve => ApprovalStatus::Approved,
            Decision::Reject => ApprovalStatus::Rejected,
        };
        let result = ApprovalResult::builder()
            .status(status)
            .summary(summary.chars().take(SUMMARY_MAX).collect::<String>())
            .build()
            .map_err(|e| DecisionError::Other(e.to_string()))?;
        self.client
            .put_approval_result()
            .pipeline_name(approval.pipeline.as_str())
            .stage_name(approval.stage.as_str())
            .action_name(approval.action.as_str())
            .token(approval.token.as_str())
            .result(result)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                let service = e.as_service_error();
                if service.is_some_and(|s| s.is_approval_already_completed_exception()) {
                    DecisionError::AlreadyCompleted
                } else if service.is_some_and(|s| s.is_invalid_approval_token_exception()) {
                    DecisionError::NoLongerValid
                } else if service.is_some_and(|s| {
                    s.is_pipeline_not_found_exception()
                        || s.is_stage_not_found_exception()
                        || s.is_action_not_found_exception()
                }) {
                    DecisionError::NotFound(DisplayErrorContext(&e).to_string())
                } else {
                    DecisionError::Other(DisplayErrorContext(&e).to_string())
                }
            })
    }
}
