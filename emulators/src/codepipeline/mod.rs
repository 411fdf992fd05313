//! CodePipeline simulator: the manual-approval slice of AWS CodePipeline, served over the
//! AWS JSON 1.1 protocol so the real `aws-sdk-codepipeline` client talks to it unchanged.
//!
//! Tests define pipelines, start executions, and the simulator runs them stage by stage in
//! spawned tasks. At a manual approval it mints a token and publishes the documented SNS
//! notification to the configured SNS endpoint (ministack). `PutApprovalResult` then
//! resumes or fails the execution. The [`CodePipelineSim`] handle also inspects the state
//! and injects faults.
//!
//! Layout: `wire` (HTTP) → `ops` (one file per operation group) → `engine` and
//! `decisions` (transitions on `state`) and `notify` (notification JSON + `sns:Publish`);
//! `model` holds the pipeline definitions, `validate` the service model's input constraints.

mod decisions;
mod engine;
mod error;
mod events;
mod model;
mod notify;
mod ops;
mod runtime;
mod source_host;
mod state;
mod validate;
mod wire;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::Utc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use events::{EventTarget, PublishedEvent};
pub use model::{ActionDef, ActionKind, CommitAuthor, ExecutionMode, PipelineDef, StageDef};
pub use notify::PublishedNotification;
pub use source_host::GET_COMMIT as GITHUB_GET_COMMIT;
pub use state::{ApprovalResultRecord, PendingApproval};

use engine::StartRequest;
use state::{ActionStatus, ApprovalState, Pipeline, State};

/// Where the simulated service claims to live and where it publishes notifications.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Region shown in notifications, ARNs and console links (e.g. `us-east-1`).
    pub region: String,
    /// Account id shown in ARNs.
    pub account_id: String,
    /// SNS endpoint for `sns:Publish`, e.g. ministack's `http://127.0.0.1:4566`.
    pub sns_endpoint_url: String,
}

/// A running simulator; cheap to clone, all clones share one state behind one mutex.
#[derive(Clone)]
pub struct CodePipelineSim {
    inner: Arc<Inner>,
}

struct Inner {
    config: SimConfig,
    addr: SocketAddr,
    state: Mutex<State>,
    sns: aws_sdk_sns::Client,
}

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
        let addr = listener.local_addr()?;
        let sim = CodePipelineSim {
            inner: Arc::new(Inner {
                sns: notify::sns_client(&config),
                config,
                addr,
                state: Mutex::new(State::default()),
            }),
        };
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

    /// Base URL for the SDK's `endpoint_url`: `http://127.0.0.1:PORT`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.inner.addr)
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
                self.inner.config.account_id
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

    /// The state; never held across an await.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves consistent-enough data for a test.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    /// Advances the execution in a spawned task and publishes the notifications it causes.
    pub(crate) fn run(&self, pipeline: &str, execution_id: &str) {
        let (sim, pipeline, execution_id) =
            (self.clone(), pipeline.to_owned(), execution_id.to_owned());
        tokio::spawn(async move {
            let region = &sim.inner.config.region;
            let publications = sim
                .lock()
                .advance(&pipeline, &execution_id, region, Utc::now());
            sim.emit_events();
            for publication in publications {
                let record = notify::publish(&sim.inner.sns, publication).await;
                sim.lock().notifications.push(record);
            }
        });
    }
}
