//! CodePipeline simulator: the manual-approval slice of AWS CodePipeline, served over the
//! AWS JSON 1.1 protocol so the real `aws-sdk-codepipeline` client talks to it unchanged.
//!
//! Tests define pipelines, start executions, and the simulator runs them stage by stage in
//! spawned tasks. At a manual approval it mints a token and publishes the documented SNS
//! notification to the configured SNS endpoint (ministack). `PutApprovalResult` then
//! resumes or fails the execution. The [`CodePipelineSim`] handle also inspects the state
//! and injects faults.
//!
//! Layout, top down; a module imports only modules after it in this list. This file (the
//! test-facing methods) and `wire` (HTTP) → `ops` (one file per operation group) and
//! `source_host` (the GitHub API) → `sim` (the handle: state mutex, event emitter, SNS
//! client, running executions forward) → `engine` (start, advance) → `decisions` (approve,
//! reject, expire, stop) → `events` (state-change events) → `state` (data and lookups) →
//! `notify` (notification JSON + `sns:Publish`), `runtime` (conditions a test sets),
//! `validate` (the service model's input constraints) → `model` (pipeline definitions,
//! [`SimConfig`]) and `error`.

mod decisions;
mod engine;
mod error;
mod events;
mod model;
mod notify;
mod ops;
mod runtime;
mod sim;
mod source_host;
mod state;
mod validate;
mod wire;

use std::io;

use chrono::Utc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use events::{EventTarget, PublishedEvent};
pub use model::{
    ActionDef, ActionKind, CommitAuthor, ExecutionMode, PipelineDef, SimConfig, StageDef,
};
pub use notify::PublishedNotification;
pub use sim::CodePipelineSim;
pub use source_host::GET_COMMIT as GITHUB_GET_COMMIT;
pub use state::{ApprovalResultRecord, PendingApproval};

use engine::StartRequest;
use state::{ActionStatus, ApprovalState, Pipeline};

impl CodePipelineSim {
    /// Serves on `127.0.0.1:<free port>` until `shutdown` is cancelled.
    ///
    /// # Errors
    /// The listener cannot be bound.
    pub async fn start(
        config: SimConfig,
        shutdown: CancellationToken,
    ) -> io::Result<CodePipelineSim> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        CodePipelineSim::serve(listener, config, shutdown)
    }

    /// Serves on an already bound listener until `shutdown` is cancelled; the server runs
    /// in a spawned task, so this returns at once.
    ///
    /// # Errors
    /// The listener has no local address.
    pub fn serve(
        listener: TcpListener,
        config: SimConfig,
        shutdown: CancellationToken,
    ) -> io::Result<CodePipelineSim> {
        let sim = CodePipelineSim::new(config, listener.local_addr()?);
        let app = wire::router(sim.clone());
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "codepipeline simulator stopped serving");
            }
        });
        Ok(sim)
    }

    /// Defines a pipeline; redefining a name starts it afresh (version + 1, no history, its
    /// open approval tokens become invalid).
    pub fn create_pipeline(&self, def: PipelineDef) {
        let mut state = self.lock();
        let name = def.name.clone();
        let version = state.pipelines.get(&name).map_or(1, |p| p.version + 1);
        for approval in state.approvals.values_mut().filter(|a| a.pipeline == name) {
            if approval.state == ApprovalState::Pending {
                approval.state = ApprovalState::Void;
            }
        }
        state
            .pipelines
            .insert(name, Pipeline::new(def, version, Utc::now()));
    }

    /// Starts an execution as `StartPipelineExecution` would; returns its id at once.
    ///
    /// # Panics
    /// The pipeline was never created: a mistake in the calling test.
    pub async fn start_execution(&self, pipeline: &str) -> String {
        let request = StartRequest {
            pipeline: pipeline.to_owned(),
            started_by: format!(
                "arn:aws:iam::{}:user/codepipeline-sim",
                self.config().account_id
            ),
            client_token: None,
            source_overrides: Vec::new(),
            variables: Vec::new(),
        };
        match ops::start_execution(self, request) {
            Ok(id) => id,
            Err(error) => panic!("start_execution({pipeline}): {error}"),
        }
    }

    /// The newest execution's approval still waiting for a decision, if any.
    pub fn pending_approval(&self, pipeline: &str) -> Option<PendingApproval> {
        let state = self.lock();
        let pipeline = state.pipelines.get(pipeline)?;
        pipeline.executions.iter().rev().find_map(|execution| {
            let stages = pipeline.def.stages.iter().zip(&execution.actions);
            stages.into_iter().find_map(|(stage, runs)| {
                stage.actions.iter().zip(runs).find_map(|(action, run)| {
                    let run = run
                        .as_ref()
                        .filter(|r| r.status == ActionStatus::InProgress)?;
                    Some(PendingApproval {
                        execution_id: execution.id.clone(),
                        stage: stage.name.clone(),
                        action: action.name.clone(),
                        token: run.token.clone()?,
                    })
                })
            })
        })
    }

    /// The execution's status as the API spells it (`InProgress`, `Succeeded`, `Failed`,
    /// `Superseded`, `Stopping`, `Stopped`); `None` for an unknown pipeline or execution.
    pub fn execution_status(&self, pipeline: &str, execution_id: &str) -> Option<String> {
        let state = self.lock();
        let execution = state.pipelines.get(pipeline)?.execution(execution_id)?;
        Some(execution.status.as_str().to_owned())
    }

    /// Every accepted `PutApprovalResult`, in order.
    pub fn approval_results(&self) -> Vec<ApprovalResultRecord> {
        self.lock().results.clone()
    }

    /// How many `PutApprovalResult` requests arrived: accepted, refused and fault-injected.
    pub fn put_approval_calls(&self) -> usize {
        self.lock().put_approval_calls
    }

    /// Fast-forwards past the 7-day limit for this pipeline: its pending approvals fail
    /// (action `Failed`, "timed out"), and their tokens become invalid.
    pub fn expire_approvals(&self, pipeline: &str) {
        self.lock().expire_pipeline(pipeline, Utc::now());
        self.emit_events();
    }

    /// Approves or rejects as a person in the console would (not counted as an API call).
    ///
    /// # Errors
    /// `"<ExceptionName>: <message>"` when the API would refuse the same decision.
    pub fn decide_in_console(
        &self,
        pipeline: &str,
        token: &str,
        approved: bool,
        summary: &str,
    ) -> Result<(), String> {
        let decided = ops::decide_in_console(self, pipeline, token, approved, summary)
            .map_err(|error| format!("{}: {error}", error.type_name()));
        self.emit_events();
        decided
    }

    /// Every notification published or attempted, with its outcome, in order.
    pub fn notifications(&self) -> Vec<PublishedNotification> {
        self.lock().notifications.clone()
    }

    /// Makes the next `times` calls of `operation` fail with HTTP 400 (5xx for
    /// internal/unavailable names) and `__type` = `error_type`, e.g.
    /// `("PutApprovalResult", "ThrottlingException", 1)`. `times == 0` clears it.
    pub fn fail_next(&self, operation: &str, error_type: &str, times: u32) {
        let mut state = self.lock();
        if times == 0 {
            state.faults.remove(operation);
        } else {
            state
                .faults
                .insert(operation.to_owned(), (error_type.to_owned(), times));
        }
    }

    /// Makes the next `times` requests of `operation` hang for `secs` before they are served,
    /// as a CodePipeline that stopped answering does; a client that gives up first closes the
    /// connection, and its request is then never served. `times == 0` clears it.
    pub fn stall_next(&self, operation: &str, secs: u64, times: u32) {
        let mut state = self.lock();
        if times == 0 {
            state.stalls.remove(operation);
        } else {
            state.stalls.insert(operation.to_owned(), (secs, times));
        }
    }

    /// How many requests of `operation` arrived, refused and fault-injected ones included.
    pub fn requests(&self, operation: &str) -> usize {
        self.lock().runtime.requests(operation)
    }

    /// At most `limit` executions of `pipeline` may be in progress at once; one more
    /// `StartPipelineExecution` answers `ConcurrentPipelineExecutionsLimitExceededException`.
    pub fn limit_concurrent_executions(&self, pipeline: &str, limit: usize) {
        self.lock().runtime.limit(pipeline, limit);
    }

    /// While `busy`, starting or stopping an execution of `pipeline` answers
    /// `ConflictException` ("the pipeline is busy handling ongoing activities").
    pub fn set_busy(&self, pipeline: &str, busy: bool) {
        self.lock().runtime.set_busy(pipeline, busy);
    }

    /// The next run of build action `action` in `pipeline` fails with `errorDetails`
    /// `{code, message}`; its stage and execution fail with it.
    pub fn fail_action(&self, pipeline: &str, action: &str, code: &str, message: &str) {
        self.lock()
            .runtime
            .plan_failure(pipeline, action, code, message);
    }

    /// Publishes every later state change as an EventBridge event to `target` (ministack's
    /// SNS or SQS at the simulator's SNS endpoint), in order, from one task.
    pub fn publish_events_to(&self, target: EventTarget) {
        self.emitter().publish_to(target, self.config());
        self.emit_events();
    }

    /// Every state-change event published or attempted, in order.
    pub fn events(&self) -> Vec<PublishedEvent> {
        self.emitter().published()
    }
}
