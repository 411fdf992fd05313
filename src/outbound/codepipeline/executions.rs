//! CodePipeline for `/deploy`: list, read, start and stop executions, read a pipeline's stages.
//!
//! Throttling is retried by the SDK's standard retry policy (exponential backoff with jitter,
//! three attempts); what still fails comes back as [`DeployError`], typed where `/deploy`
//! answers differently.

use aws_sdk_codepipeline::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_codepipeline::types::{
    PipelineVariable, SourceRevisionOverride, SourceRevisionType, StageState,
};
use chrono::{DateTime, Utc};

use super::CodePipeline;
use crate::ids::PipelineName;

/// Executions read when looking for the running one.
const RUNNING_LOOKBACK: i32 = 20;

/// Why a `/deploy` call failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("CodePipeline has no pipeline with this name")]
    NotFound,
    /// Still throttled after the SDK's retries.
    #[error("CodePipeline is throttling requests")]
    Throttled,
    /// `ConflictException`: the pipeline is busy with other activities.
    #[error("the pipeline is busy with other activities")]
    Conflict,
    /// `ConcurrentPipelineExecutionsLimitExceededException`.
    #[error("the pipeline runs as many executions as it may at once")]
    ConcurrencyLimit,
    /// `PipelineExecutionNotStoppableException`: it already ended.
    #[error("the execution is not in progress any more")]
    NotStoppable,
    /// `DuplicatedStopRequestException`: a stop is already under way.
    #[error("a stop of this execution is already under way")]
    AlreadyStopping,
    /// Anything else, rendered with its cause chain.
    #[error("{0}")]
    Other(String),
}

impl<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug> From<SdkError<E, R>>
    for DeployError
{
    fn from(e: SdkError<E, R>) -> Self {
        match e.code() {
            Some("ThrottlingException" | "Throttling" | "TooManyRequestsException") => {
                Self::Throttled
            }
            Some("PipelineNotFoundException") => Self::NotFound,
            Some("ConflictException") => Self::Conflict,
            Some("ConcurrentPipelineExecutionsLimitExceededException") => Self::ConcurrencyLimit,
            Some("PipelineExecutionNotStoppableException") => Self::NotStoppable,
            Some("DuplicatedStopRequestException") => Self::AlreadyStopping,
            _ => Self::Other(DisplayErrorContext(&e).to_string()),
        }
    }
}

/// One execution as `ListPipelineExecutions` summarises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionSummary {
    pub execution_id: String,
    /// The API spelling: `InProgress`, `Succeeded`, `Failed`, `Stopped`…
    pub status: String,
    pub started: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// The first source revision id.
    pub revision: Option<String>,
}

/// A start, exactly as confirmed.
#[derive(Debug, Clone)]
pub struct StartRequest<'a> {
    pub pipeline: &'a PipelineName,
    /// (source action, commit id) to run instead of the source's latest.
    pub revision: Option<(&'a str, &'a str)>,
    pub variables: &'a [(String, String)],
    /// The idempotency token: the same token starts one execution only.
    pub client_request_token: &'a str,
}

/// One stage as `GetPipelineState` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageView {
    pub name: String,
    /// The stage's latest execution and its status there.
    pub execution_id: Option<String>,
    pub status: Option<String>,
    pub actions: Vec<ActionView>,
}

/// One action's latest run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionView {
    pub name: String,
    pub status: Option<String>,
    pub summary: Option<String>,
    /// `errorDetails.message` of a failed run.
    pub error: Option<String>,
    /// The approval token while a manual approval waits.
    pub token: Option<String>,
    pub last_change: Option<DateTime<Utc>>,
    /// The source revision it runs with.
    pub revision: Option<String>,
}

fn utc(t: Option<&aws_sdk_codepipeline::primitives::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

impl CodePipeline {
    /// The newest executions of `pipeline`, newest first (`ListPipelineExecutions`).
    ///
    /// # Errors
    /// See [`DeployError`].
    pub async fn recent_executions(
        &self,
        pipeline: &PipelineName,
        max: i32,
    ) -> Result<Vec<ExecutionSummary>, DeployError> {
        let out = self
            .client
            .list_pipeline_executions()
            .pipeline_name(pipeline.as_str())
            .max_results(max)
            .send()
            .await?;
        Ok(out
            .pipeline_execution_summaries()
            .iter()
            .map(|s| ExecutionSummary {
                execution_id: s.pipeline_execution_id().unwrap_or_default().to_owned(),
                status: s
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                started: utc(s.start_time()),
                updated: utc(s.last_update_time()),
                revision: s
                    .source_revisions()
                    .first()
                    .and_then(|r| r.revision_id())
                    .map(str::to_owned),
            })
            .collect())
    }

    /// The newest execution of `pipeline` still in progress (or stopping), if any.
    ///
    /// # Errors
    /// See [`DeployError`].
    pub async fn running_execution(
        &self,
        pipeline: &PipelineName,
    ) -> Result<Option<ExecutionSummary>, DeployError> {
        let recent = self.recent_executions(pipeline, RUNNING_LOOKBACK).await?;
        Ok(recent
            .into_iter()
            .find(|e| e.status == "InProgress" || e.status == "Stopping"))
    }

    /// The names of `pipeline`'s source actions (`GetPipeline`, category `Source`).
    ///
    /// # Errors
    /// See [`DeployError`].
    pub async fn source_actions(
        &self,
        pipeline: &PipelineName,
    ) -> Result<Vec<String>, DeployError> {
        let out = self
            .client
            .get_pipeline()
            .name(pipeline.as_str())
            .send()
            .await?;
        Ok(out
            .pipeline()
            .map(|p| p.stages())
            .unwrap_or_default()
            .iter()
            .flat_map(|s| s.actions())
            .filter(|a| {
                a.action_type_id()
                    .is_some_and(|t| t.category().as_str() == "Source")
            })
            .map(|a| a.name().to_owned())
            .collect())
    }

    /// `StartPipelineExecution`; returns the execution id.
    ///
    /// # Errors
    /// See [`DeployError`].
    pub async fn start_execution(&self, req: &StartRequest<'_>) -> Result<String, DeployError> {
        let mut call = self
            .client
            .start_pipeline_execution()
            .name(req.pipeline.as_str())
            .client_request_token(req.client_request_token);
        for (name, value) in req.variables {
            let variable = PipelineVariable::builder()
                .name(name)
                .value(value)
                .build()
                .map_err(|e| DeployError::Other(e.to_string()))?;
            call = call.variables(variable);
        }
        if let Some((action, revision)) = req.revision {
            let source = SourceRevisionOverride::builder()
                .action_name(action)
                .revision_type(SourceRevisionType::CommitId)
                .revision_value(revision)
                .build()
                .map_err(|e| DeployError::Other(e.to_string()))?;
            call = call.source_revisions(source);
        }
        let out = call.send().await?;
        out.pipeline_execution_id()
            .map(str::to_owned)
            .ok_or_else(|| DeployError::Other("no execution id in the answer".into()))
    }

    /// `StopPipelineExecution`: graceful (in-progress actions finish) unless `abandon`.
    ///
    /// # Errors
    /// See [`DeployError`].
    pub async fn stop_execution(
        &self,
        pipeline: &PipelineName,
        execution_id: &str,
        abandon: bool,
        reason: Option<&str>,
    ) -> Result<(), DeployError> {
        self.client
            .stop_pipeline_execution()
            .pipeline_name(pipeline.as_str())
            .pipeline_execution_id(execution_id)
            .abandon(abandon)
            .set_reason(reason.map(str::to_owned))
            .send()
            .await?;
        Ok(())
    }

    /// The execution's status (`GetPipelineExecution`), API spelling.
    ///
    /// # Errors
    /// See [`DeployError`].
    pub async fn execution_status(
        &self,
        pipeline: &PipelineName,
        execution_id: &str,
    ) -> Result<Option<String>, DeployError> {
        let out = self
            .client
            .get_pipeline_execution()
            .pipeline_name(pipeline.as_str())
            .pipeline_execution_id(execution_id)
            .send()
            .await?;
        Ok(out
            .pipeline_execution()
            .and_then(|e| e.status())
            .map(|s| s.as_str().to_owned()))
    }

    /// Every stage of `pipeline` with its latest execution and actions (`GetPipelineState`).
    ///
    /// # Errors
    /// See [`DeployError`].
    pub async fn stages(&self, pipeline: &PipelineName) -> Result<Vec<StageView>, DeployError> {
        let out = self
            .client
            .get_pipeline_state()
            .name(pipeline.as_str())
            .send()
            .await?;
        Ok(out.stage_states().iter().map(stage_view).collect())
    }
}

fn stage_view(stage: &StageState) -> StageView {
    StageView {
        name: stage.stage_name().unwrap_or_default().to_owned(),
        execution_id: stage
            .latest_execution()
            .map(|e| e.pipeline_execution_id().to_owned()),
        status: stage
            .latest_execution()
            .map(|e| e.status().as_str().to_owned()),
        actions: stage
            .action_states()
            .iter()
            .map(|a| {
                let run = a.latest_execution();
                ActionView {
                    name: a.action_name().unwrap_or_default().to_owned(),
                    status: run.and_then(|r| r.status()).map(|s| s.as_str().to_owned()),
                    summary: run
                        .and_then(|r| r.summary())
                        .and_then(super::readable_summary),
                    error: run
                        .and_then(|r| r.error_details())
                        .and_then(|e| e.message())
                        .map(str::to_owned),
                    token: run.and_then(|r| r.token()).map(str::to_owned),
                    last_change: utc(run.and_then(|r| r.last_status_change())),
                    revision: a.current_revision().map(|r| r.revision_id().to_owned()),
                }
            })
            .collect(),
    }
}
