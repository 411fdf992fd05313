//! CodePipeline: record an approval decision, read what is being promoted, (in
//! `approval_state`) where an approval stands now, and (in `executions`) `/deploy`'s calls.
//!
//! The errors a caller branches on are typed: "already decided" and "no longer valid" change
//! what the Slack prompt says; anything else leaves the prompt clickable.

use aws_sdk_codepipeline::error::DisplayErrorContext;
use aws_sdk_codepipeline::types::{ApprovalResult, ApprovalStatus};

use crate::approvals::{ApprovalRef, Decision};

mod approval_state;
mod executions;

pub use approval_state::{ApprovalState, PipelineState};
pub use executions::{ActionView, DeployError, ExecutionSummary, StageView, StartRequest};

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

/// What is being promoted: the execution waiting at an approval and its source revisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionContext {
    pub execution_id: String,
    pub revisions: Vec<Revision>,
    /// Who or what started the execution (`trigger.triggerDetail`, e.g. an IAM ARN).
    pub started_by: Option<String>,
}

/// One source revision of an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub artifact: String,
    pub revision_id: Option<String>,
    pub summary: Option<String>,
    pub url: Option<String>,
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

    /// The execution waiting at `approval` (`GetPipelineState`: the stage's latest execution,
    /// confirmed by the action's token; in PARALLEL mode, where that token is hidden and several
    /// executions may wait, the in-progress run of `ListActionExecutions` whose
    /// `externalExecutionId` is the token) and its revisions and trigger (`GetPipelineExecution`).
    ///
    /// # Errors
    /// A failed call, or no execution waits there with this token any more.
    pub async fn execution_context(
        &self,
        approval: &ApprovalRef,
    ) -> Result<ExecutionContext, String> {
        let state = self
            .client
            .get_pipeline_state()
            .name(approval.pipeline.as_str())
            .send()
            .await
            .map_err(|e| DisplayErrorContext(&e).to_string())?;
        let stage = state
            .stage_states()
            .iter()
            .find(|s| s.stage_name() == Some(approval.stage.as_str()))
            .ok_or("the approval's stage is not in the pipeline state")?;
        let action = stage
            .action_states()
            .iter()
            .find(|a| a.action_name() == Some(approval.action.as_str()))
            .and_then(|a| a.latest_execution())
            .ok_or("the approval action has not run")?;
        let execution_id = match stage.latest_execution() {
            Some(e) if action.token() == Some(approval.token.as_str()) => {
                e.pipeline_execution_id().to_owned()
            }
            _ => self
                .waiting_execution(approval)
                .await?
                .ok_or("no execution waits at the approval with this token")?,
        };
        let execution = self
            .client
            .get_pipeline_execution()
            .pipeline_name(approval.pipeline.as_str())
            .pipeline_execution_id(&execution_id)
            .send()
            .await
            .map_err(|e| DisplayErrorContext(&e).to_string())?;
        let execution = execution.pipeline_execution();
        let revisions = execution
            .map(|e| e.artifact_revisions())
            .unwrap_or_default()
            .iter()
            .map(|r| Revision {
                artifact: r.name().unwrap_or("source").to_owned(),
                revision_id: r.revision_id().map(str::to_owned),
                summary: r.revision_summary().map(str::to_owned),
                url: r.revision_url().map(str::to_owned),
            })
            .collect();
        let started_by = execution
            .and_then(|e| e.trigger())
            .and_then(|t| t.trigger_detail().or(t.trigger_type().map(|t| t.as_str())))
            .map(str::to_owned);
        Ok(ExecutionContext {
            execution_id,
            revisions,
            started_by,
        })
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
