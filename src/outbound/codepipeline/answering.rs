//! Whether CodePipeline is answering, seen from the client itself: an SDK interceptor marks
//! each call's final outcome (after the SDK's retries) in [`Health::codepipeline`], so
//! `/healthz` reports a CodePipeline that throttles every try, hangs past the timeouts or
//! cannot be reached, without a probe call of its own.
//!
//! A call failed for want of an answer when the SDK's own retry classifiers call its last
//! error retryable (throttling, a timeout, a connection error, a 5xx); anything else CodePipeline
//! said ("already decided", "not found", a validation error) is an answer.

use aws_sdk_codepipeline::config::interceptors::FinalizerInterceptorContextRef;
use aws_sdk_codepipeline::config::retry::RetryAction;
use aws_sdk_codepipeline::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime::client::retries::classifiers::run_classifiers_on_ctx;
use std::sync::Arc;

use crate::metrics::Health;

/// The interceptor; one per CodePipeline client (see `app.rs`).
#[derive(Debug)]
pub struct Answering(Arc<Health>);

impl Answering {
    /// Marks the calls' outcomes in `health`.
    pub fn new(health: Arc<Health>) -> Self {
        Self(health)
    }
}

impl Intercept for Answering {
    fn name(&self) -> &'static str {
        "CodePipelineAnswering"
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let calls = &self.0.codepipeline;
        match context.output_or_error() {
            Some(Ok(_)) => calls.answered(),
            Some(Err(_)) => {
                let verdict =
                    run_classifiers_on_ctx(runtime_components.retry_classifiers(), context.inner());
                if matches!(verdict, RetryAction::RetryIndicated(_)) {
                    calls.failed();
                } else {
                    calls.answered();
                }
            }
            // Nothing was sent (the request could not be built): says nothing of CodePipeline.
            None => {}
        }
        Ok(())
    }
}
