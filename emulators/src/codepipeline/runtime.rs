//! Conditions a test sets on running pipelines: a concurrent-execution limit
//! (`ConcurrentPipelineExecutionsLimitExceededException`), a busy pipeline
//! (`ConflictException`), and actions whose next run fails with `errorDetails`; plus a count
//! of the requests each operation received.
//!
//! Plain tables, kept in the simulator state; `engine` applies them to executions.

use std::collections::{HashMap, HashSet};

use super::error::ApiError;

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
    /// Refuses a new execution of a busy pipeline, or of one whose `running` executions (in
    /// progress or stopping) already reach its concurrency limit.
    pub(crate) fn check_start(&self, pipeline: &str, running: usize) -> Result<(), ApiError> {
        self.check_busy(pipeline)?;
        match self.limits.get(pipeline) {
            Some(&limit) if running >= limit => Err(ApiError::ConcurrentExecutionsLimitExceeded(
                pipeline.to_owned(),
                limit,
            )),
            _ => Ok(()),
        }
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

    /// How many requests of `operation` were counted.
    pub(crate) fn requests(&self, operation: &str) -> usize {
        self.requests.get(operation).copied().unwrap_or(0)
    }

    /// At most `limit` executions of `pipeline` may be in progress at once.
    pub(crate) fn limit(&mut self, pipeline: &str, limit: usize) {
        self.limits.insert(pipeline.to_owned(), limit);
    }

    /// Marks `pipeline` busy, or no longer busy.
    pub(crate) fn set_busy(&mut self, pipeline: &str, busy: bool) {
        if busy {
            self.busy.insert(pipeline.to_owned());
        } else {
            self.busy.remove(pipeline);
        }
    }

    /// Plans the next run of `action` in `pipeline` to fail with `code` and `message`.
    pub(crate) fn plan_failure(&mut self, pipeline: &str, action: &str, code: &str, message: &str) {
        self.failures.insert(
            (pipeline.to_owned(), action.to_owned()),
            (code.to_owned(), message.to_owned()),
        );
    }

    /// Takes the planned failure (code, message) of `action` in `pipeline`, if any.
    pub(crate) fn take_failure(
        &mut self,
        pipeline: &str,
        action: &str,
    ) -> Option<(String, String)> {
        self.failures
            .remove(&(pipeline.to_owned(), action.to_owned()))
    }
}
