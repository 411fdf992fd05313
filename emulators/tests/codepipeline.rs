//! The CodePipeline simulator, driven by the real AWS SDK for Rust.
//!
//! Needs ministack (env `MINISTACK_URL`, e.g. `http://127.0.0.1:4566`) for SNS → SQS: each
//! test gets its own topic, queue and pipeline, its own simulator, and talks to the
//! simulator through `aws-sdk-codepipeline` so every answer is checked by the SDK's parsers.

#[path = "codepipeline/action_executions.rs"]
mod action_executions;
#[path = "codepipeline/approvals.rs"]
mod approvals;
#[path = "codepipeline/deploy.rs"]
mod deploy;
#[path = "codepipeline/executions.rs"]
mod executions;
#[path = "codepipeline/notifications.rs"]
mod notifications;
#[path = "codepipeline/source_host.rs"]
mod source_host;
#[path = "codepipeline/support.rs"]
mod support;
