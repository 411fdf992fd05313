//! The execution state machine, deciding half: approve or reject a token, time approvals
//! out, stop an execution; and the steps that end a stage or an execution, which `engine` also
//! takes when an action fails or a newer execution supersedes an older one. Pure transitions
//! on [`State`], applied under the state mutex.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::error::ApiError;
use super::state::{
    ActionStatus, Approval, ApprovalState, Execution, ExecutionStatus, StageStatus, State,
};

/// Summary of an approval action that nobody answered in time.
const TIMED_OUT: &str = "Approval action timed out after 7 days";

/// An approve/reject decision on one token.
pub(crate) struct Decision<'a> {
    pub(crate) pipeline: &'a str,
    /// Stage and action the caller named; `None` when deciding by token alone (console).
    pub(crate) at: Option<(usize, usize)>,
    pub(crate) token: &'a str,
    pub(crate) approved: bool,
    pub(crate) summary: &'a str,
    pub(crate) by: &'a str,
}

impl State {
    /// Applies an approve/reject decision; returns the execution to advance when approved.
    pub(crate) fn decide(
        &mut self,
        decision: &Decision,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, ApiError> {
        let approval = self
            .approvals
            .get(decision.token)
            .filter(|a| a.pipeline == decision.pipeline)
            .filter(|a| decision.at.is_none_or(|at| at == (a.stage, a.action)))
            .ok_or(ApiError::InvalidApprovalToken)?;
        match approval.state {
            ApprovalState::Decided => return Err(ApiError::ApprovalAlreadyCompleted),
            ApprovalState::Void => return Err(ApiError::InvalidApprovalToken),
            ApprovalState::Pending if approval.expires <= now => {
                self.expire(decision.token, now);
                return Err(ApiError::InvalidApprovalToken);
            }
            ApprovalState::Pending => {}
        }
        let (execution_id, stage, action) = (
            approval.execution_id.clone(),
            approval.stage,
            approval.action,
        );
        let State {
            pipelines,
            approvals,
            ..
        } = self;
        let execution = pipelines
            .get_mut(decision.pipeline)
            .and_then(|p| p.execution_mut(&execution_id))
            .ok_or(ApiError::InvalidApprovalToken)?;
        if let Some(approval) = approvals.get_mut(decision.token) {
            approval.state = ApprovalState::Decided;
        }
        let status = if decision.approved {
            ActionStatus::Succeeded
        } else {
            ActionStatus::Failed
        };
        finish_action(
            execution,
            stage,
            action,
            status,
            decision.summary,
            Some(decision.by),
            now,
        );
        if decision.approved {
            return Ok(Some(execution_id));
        }
        fail_execution(execution, approvals, "Rejected by an approver", now);
        Ok(None)
    }

    /// Fails every pending approval of the pipeline as if 7 days had passed.
    pub(crate) fn expire_pipeline(&mut self, pipeline: &str, now: DateTime<Utc>) {
        let tokens: Vec<String> = self
            .approvals
            .iter()
            .filter(|(_, a)| a.pipeline == pipeline && a.state == ApprovalState::Pending)
            .map(|(token, _)| token.clone())
            .collect();
        for token in tokens {
            self.expire(&token, now);
        }
    }

    /// `StopPipelineExecution`: abandon stops at once; otherwise the execution is Stopping
    /// until its in-progress actions (approvals) finish.
    pub(crate) fn stop(
        &mut self,
        pipeline: &str,
        execution_id: &str,
        abandon: bool,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let State {
            pipelines,
            approvals,
            ..
        } = self;
        let pipeline = pipelines
            .get_mut(pipeline)
            .ok_or_else(|| ApiError::PipelineNotFound(pipeline.to_owned()))?;
        let not_stoppable = || ApiError::PipelineExecutionNotStoppable(execution_id.to_owned());
        let execution = pipeline
            .execution_mut(execution_id)
            .ok_or_else(not_stoppable)?;
        match (execution.status, abandon) {
            (ExecutionStatus::InProgress | ExecutionStatus::Stopping, true) => {
                close_open_actions(execution, approvals, StageStatus::Stopped, now);
                execution.status = ExecutionStatus::Stopped;
            }
            (ExecutionStatus::InProgress, false) => {
                execution.status = ExecutionStatus::Stopping;
                set_stage_status(execution, StageStatus::Stopping);
            }
            (ExecutionStatus::Stopping, false) => {
                return Err(ApiError::DuplicatedStopRequest(execution_id.to_owned()))
            }
            _ => return Err(not_stoppable()),
        }
        execution.stop_reason = reason;
        execution.updated = now;
        Ok(())
    }

    /// Times one pending approval out: the action, its stage and its execution fail.
    fn expire(&mut self, token: &str, now: DateTime<Utc>) {
        let State {
            pipelines,
            approvals,
            ..
        } = self;
        let Some(approval) = approvals.get_mut(token) else {
            return;
        };
        approval.state = ApprovalState::Void;
        let (stage, action) = (approval.stage, approval.action);
        let execution = pipelines
            .get_mut(&approval.pipeline)
            .and_then(|p| p.execution_mut(&approval.execution_id));
        if let Some(execution) = execution {
            finish_action(
                execution,
                stage,
                action,
                ActionStatus::Failed,
                TIMED_OUT,
                None,
                now,
            );
            fail_execution(execution, approvals, TIMED_OUT, now);
        }
    }
}

/// Ends one action run with a status and summary.
fn finish_action(
    execution: &mut Execution,
    stage: usize,
    action: usize,
    status: ActionStatus,
    summary: &str,
    by: Option<&str>,
    now: DateTime<Utc>,
) {
    let run = execution
        .actions
        .get_mut(stage)
        .and_then(|runs| runs.get_mut(action));
    if let Some(run) = run.and_then(Option::as_mut) {
        run.status = status;
        run.summary = Some(summary.to_owned());
        run.token = None;
        run.last_updated_by = by.map(str::to_owned);
        run.last_status_change = now;
    }
    execution.updated = now;
}

/// Fails the execution and its current stage, abandoning whatever else was still running.
pub(crate) fn fail_execution(
    execution: &mut Execution,
    approvals: &mut HashMap<String, Approval>,
    summary: &str,
    now: DateTime<Utc>,
) {
    close_open_actions(execution, approvals, StageStatus::Failed, now);
    execution.status = ExecutionStatus::Failed;
    execution.status_summary = Some(summary.to_owned());
}

/// Abandons the in-progress actions of the current stage (voiding their tokens) and gives
/// the stage its final status.
pub(crate) fn close_open_actions(
    execution: &mut Execution,
    approvals: &mut HashMap<String, Approval>,
    stage_status: StageStatus,
    now: DateTime<Utc>,
) {
    let stage = execution.stage;
    for run in execution
        .actions
        .get_mut(stage)
        .into_iter()
        .flatten()
        .flatten()
    {
        if run.status == ActionStatus::InProgress {
            run.status = ActionStatus::Abandoned;
            run.last_status_change = now;
            if let Some(approval) = run.token.take().and_then(|t| approvals.get_mut(&t)) {
                approval.state = ApprovalState::Void;
            }
        }
    }
    set_stage_status(execution, stage_status);
    execution.updated = now;
}

/// Gives the execution's current stage a status (no-op past the last stage).
pub(crate) fn set_stage_status(execution: &mut Execution, status: StageStatus) {
    if let Some(slot) = execution.stages.get_mut(execution.stage) {
        *slot = Some(status);
    }
}
