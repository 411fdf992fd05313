//! Conditions a test sets on running pipelines: a concurrent-execution limit
//! (`ConcurrentPipelineExecutionsLimitExceededException`), a busy pipeline
//! (`ConflictException`), and actions whose next run fails with `errorDetails`; plus a count
//! of the requests each operation received.

use std::collections::{HashMap, HashSet};

use super::error::ApiError;
use super::model::ActionKind;
use super::state::{ActionStatus, ExecutionStatus, Pipeline};
use super::CodePipelineSim;

/// The conditions, kept in the simulator state.
#[derive(Default)]
pub(crate) struct Runtime {
    /// Pipeline → most executions in progress (or stopping) at once.
    limits: HashMap<String, usize>,
    /// Pipelines that answer `ConflictException` to starts and stops.
    busy: HashSet<String>,
    /// (pipeline, action) → (error code, message) of its next run.
    failures: HashMap<(String, String), (String, String)>,
    /// Operation → requests received (faults and refusals included).
    requests: HashMap<String, usize>,
}

impl Runtime {
    /// Refuses a new execution of a busy pipeline or one at its concurrency limit.
    pub(crate) fn check_start(&self, pipeline: &Pipeline) -> Result<(), ApiError> {
        self.check_busy(&pipeline.def.name)?;
        let Some(&limit) = self.limits.get(&pipeline.def.name) else {
            return Ok(());
        };
        let running = pipeline
            .executions
            .iter()
            .filter(|e| {
                matches!(
                    e.status,
                    ExecutionStatus::InProgress | ExecutionStatus::Stopping
                )
            })
            .count();
        if running >= limit {
            return Err(ApiError::ConcurrentExecutionsLimitExceeded(
                pipeline.def.name.clone(),
                limit,
            ));
        }
        Ok(())
    }

    /// `ConflictException` while the pipeline is busy.
    pub(crate) fn check_busy(&self, pipeline: &str) -> Result<(), ApiError> {
        if self.busy.contains(pipeline) {
            return Err(ApiError::Conflict);
        }
        Ok(())
    }

    /// Counts one request of `operation`.
    pub(crate) fn count(&mut self, operation: &str) {
        *self.requests.entry(operation.to_owned()).or_default() += 1;
    }

    /// Fails the build actions of `stage` that a test planned to fail, as the execution just
    /// entered it (consuming each plan).
    pub(crate) fn fail_planned(
        &mut self,
        pipeline: &mut Pipeline,
        execution_id: &str,
        stage: usize,
    ) {
        let name = pipeline.def.name.clone();
        let Some(stage_def) = pipeline.def.stages.get(stage) else {
            return;
        };
        let planned: Vec<(usize, (String, String))> = stage_def
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.kind == ActionKind::Build)
            .filter_map(|(i, a)| Some((i, self.failures.remove(&(name.clone(), a.name.clone()))?)))
            .collect();
        let Some(execution) = pipeline.execution_mut(execution_id) else {
            return;
        };
        for (i, (code, message)) in planned {
            let run = execution
                .actions
                .get_mut(stage)
                .and_then(|runs| runs.get_mut(i));
            if let Some(run) = run.and_then(Option::as_mut) {
                run.status = ActionStatus::Failed;
                run.summary = Some(message.clone());
                run.error_details = Some((code, message));
            }
        }
    }
}

impl CodePipelineSim {
    /// How many requests of `operation` arrived, refused and fault-injected ones included.
    pub fn requests(&self, operation: &str) -> usize {
        self.lock()
            .runtime
            .requests
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// At most `limit` executions of `pipeline` may be in progress at once; one more
    /// `StartPipelineExecution` answers `ConcurrentPipelineExecutionsLimitExceededException`.
    pub fn limit_concurrent_executions(&self, pipeline: &str, limit: usize) {
        self.lock()
            .runtime
            .limits
            .insert(pipeline.to_owned(), limit);
    }

    /// While `busy`, starting or stopping an execution of `pipeline` answers
    /// `ConflictException` ("the pipeline is busy handling ongoing activities").
    pub fn set_busy(&self, pipeline: &str, busy: bool) {
        let mut state = self.lock();
        if busy {
            state.runtime.busy.insert(pipeline.to_owned());
        } else {
            state.runtime.busy.remove(pipeline);
        }
    }

    /// The next run of build action `action` in `pipeline` fails with `errorDetails`
    /// `{code, message}`; its stage and execution fail with it.
    pub fn fail_action(&self, pipeline: &str, action: &str, code: &str, message: &str) {
        self.lock().runtime.failures.insert(
            (pipeline.to_owned(), action.to_owned()),
            (code.to_owned(), message.to_owned()),
        );
    }
}
