//! The simulator's state, kept behind one mutex: pipelines, their executions, approval
//! tokens, and what the test handle inspects (decisions, notifications, injected faults).
//!
//! Transitions live in `engine.rs` and `decisions.rs`; this file holds the data and the
//! lookups, and imports only the modules below it (`error`, `model`, `notify`, `runtime`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::error::ApiError;
use super::model::PipelineDef;
use super::notify::PublishedNotification;
use super::runtime::Runtime;

/// Everything the simulator knows, but for the state-change events already announced
/// (`events::Emitter`, kept beside it).
#[derive(Default)]
pub(crate) struct State {
    pub(crate) pipelines: HashMap<String, Pipeline>,
    /// Every approval token ever minted.
    pub(crate) approvals: HashMap<String, Approval>,
    pub(crate) results: Vec<ApprovalResultRecord>,
    pub(crate) put_approval_calls: usize,
    pub(crate) notifications: Vec<PublishedNotification>,
    /// Operation name → (error type, times left).
    pub(crate) faults: HashMap<String, (String, u32)>,
    /// Operation name → (seconds each request hangs before it is served, times left).
    pub(crate) stalls: HashMap<String, (u64, u32)>,
    /// Execution limits, busy pipelines and failing actions set by the test handle.
    pub(crate) runtime: Runtime,
    /// The token the GitHub emulation requires, if any.
    pub(crate) github_token: Option<String>,
}

/// A defined pipeline and its history.
pub(crate) struct Pipeline {
    pub(crate) def: PipelineDef,
    pub(crate) version: i64,
    pub(crate) created: DateTime<Utc>,
    pub(crate) updated: DateTime<Utc>,
    /// Oldest first.
    pub(crate) executions: Vec<Execution>,
    /// Per stage: the execution that entered it last (`latestExecution` of `GetPipelineState`).
    pub(crate) latest_in_stage: Vec<Option<String>>,
    /// `clientRequestToken` → execution id, so SDK retries start one execution only.
    pub(crate) client_tokens: HashMap<String, String>,
}

/// One source revision of an execution, as CodePipeline shows it.
pub(crate) struct SourceRevision {
    /// The source action that produced it.
    pub(crate) action: String,
    pub(crate) revision_id: String,
    /// `revisionSummary`: the CodeStar connection's JSON.
    pub(crate) summary: String,
    /// `FullRepositoryId`.
    pub(crate) repository: String,
}

/// One run of a pipeline.
pub(crate) struct Execution {
    pub(crate) id: String,
    pub(crate) status: ExecutionStatus,
    pub(crate) status_summary: Option<String>,
    pub(crate) started: DateTime<Utc>,
    pub(crate) updated: DateTime<Utc>,
    /// ARN of whoever started it (`trigger.triggerDetail`).
    pub(crate) started_by: String,
    pub(crate) stop_reason: Option<String>,
    /// Its source revisions.
    pub(crate) sources: Vec<SourceRevision>,
    /// (name, value) as passed to `StartPipelineExecution`.
    pub(crate) variables: Vec<(String, String)>,
    /// Index of the stage it is in, or has stopped in; `stages.len()` once succeeded.
    pub(crate) stage: usize,
    /// Per stage: its status, once entered.
    pub(crate) stages: Vec<Option<StageStatus>>,
    /// Per stage, per action: its run, once started.
    pub(crate) actions: Vec<Vec<Option<ActionRun>>>,
}

/// One action's run within an execution (`ActionExecution` of `GetPipelineState`).
pub(crate) struct ActionRun {
    pub(crate) action_execution_id: String,
    pub(crate) status: ActionStatus,
    pub(crate) summary: Option<String>,
    pub(crate) last_status_change: DateTime<Utc>,
    pub(crate) token: Option<String>,
    pub(crate) last_updated_by: Option<String>,
    pub(crate) external_execution_id: String,
    /// `errorDetails` (code, message) of a failed run.
    pub(crate) error_details: Option<(String, String)>,
}

/// A minted approval token and where it belongs.
pub(crate) struct Approval {
    pub(crate) pipeline: String,
    pub(crate) execution_id: String,
    pub(crate) stage: usize,
    pub(crate) action: usize,
    pub(crate) expires: DateTime<Utc>,
    pub(crate) state: ApprovalState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApprovalState {
    Pending,
    /// Approved or rejected: reuse → `ApprovalAlreadyCompletedException`.
    Decided,
    /// Expired, superseded or stopped: reuse → `InvalidApprovalTokenException`.
    Void,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExecutionStatus {
    InProgress,
    Succeeded,
    Failed,
    Stopping,
    Stopped,
    Superseded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StageStatus {
    InProgress,
    Succeeded,
    Failed,
    Stopping,
    Stopped,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActionStatus {
    InProgress,
    Succeeded,
    Failed,
    Abandoned,
}

macro_rules! api_names {
    ($($ty:ident { $($variant:ident),+ })+) => {$(
        impl $ty {
            /// The API spelling of the status.
            pub(crate) fn as_str(self) -> &'static str {
                match self { $($ty::$variant => stringify!($variant)),+ }
            }
        }
    )+};
}
api_names! {
    ExecutionStatus { InProgress, Succeeded, Failed, Stopping, Stopped, Superseded }
    StageStatus { InProgress, Succeeded, Failed, Stopping, Stopped, Cancelled }
    ActionStatus { InProgress, Succeeded, Failed, Abandoned }
}

/// An approval waiting for a decision, as the test handle reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingApproval {
    /// `pipelineExecutionId` of the waiting execution.
    pub execution_id: String,
    /// Stage name of the approval action.
    pub stage: String,
    /// Action name of the approval action.
    pub action: String,
    /// The token `PutApprovalResult` needs.
    pub token: String,
}

/// An accepted `PutApprovalResult` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalResultRecord {
    /// `pipelineName` of the call.
    pub pipeline: String,
    /// `stageName` of the call.
    pub stage: String,
    /// `actionName` of the call.
    pub action: String,
    /// `token` of the call.
    pub token: String,
    /// `result.status`: `"Approved"` or `"Rejected"`.
    pub status: String,
    /// `result.summary`.
    pub summary: String,
}

impl State {
    /// The named pipeline, or `PipelineNotFoundException`.
    pub(crate) fn pipeline(&self, name: &str) -> Result<&Pipeline, ApiError> {
        self.pipelines
            .get(name)
            .ok_or_else(|| ApiError::PipelineNotFound(name.to_owned()))
    }
}

impl Pipeline {
    /// A fresh pipeline with no history.
    pub(crate) fn new(def: PipelineDef, version: i64, now: DateTime<Utc>) -> Pipeline {
        Pipeline {
            latest_in_stage: vec![None; def.stages.len()],
            def,
            version,
            created: now,
            updated: now,
            executions: Vec::new(),
            client_tokens: HashMap::new(),
        }
    }

    /// How many executions are in progress or stopping.
    pub(crate) fn running(&self) -> usize {
        let running = |e: &&Execution| {
            matches!(
                e.status,
                ExecutionStatus::InProgress | ExecutionStatus::Stopping
            )
        };
        self.executions.iter().filter(running).count()
    }

    /// The execution with this id, if any.
    pub(crate) fn execution(&self, id: &str) -> Option<&Execution> {
        self.executions.iter().find(|e| e.id == id)
    }

    /// The execution with this id, mutably, if any.
    pub(crate) fn execution_mut(&mut self, id: &str) -> Option<&mut Execution> {
        self.executions.iter_mut().find(|e| e.id == id)
    }

    /// Indices of the named stage and action, or the matching not-found error.
    pub(crate) fn locate(&self, stage: &str, action: &str) -> Result<(usize, usize), ApiError> {
        let (stage_index, stage_def) = self
            .def
            .stages
            .iter()
            .enumerate()
            .find(|(_, s)| s.name == stage)
            .ok_or_else(|| ApiError::StageNotFound(stage.to_owned()))?;
        let action_index = stage_def
            .actions
            .iter()
            .position(|a| a.name == action)
            .ok_or_else(|| ApiError::ActionNotFound(action.to_owned()))?;
        Ok((stage_index, action_index))
    }
}
