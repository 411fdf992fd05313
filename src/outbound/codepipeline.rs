//! CodePipeline: record an approval decision, read what is being promoted, (in
//! `approval_state`) where an approval stands now, and (in `executions`) `/deploy`'s calls.
//!
//! The errors a caller branches on are typed: "already decided" and "no longer valid" change
//! what the Slack prompt says; anything else leaves the prompt clickable.

use anyhow::Context;
use aws_sdk_codepipeline::error::DisplayErrorContext;
use aws_sdk_codepipeline::operation::get_pipeline_execution::GetPipelineExecutionOutput;
use aws_sdk_codepipeline::operation::get_pipeline_state::GetPipelineStateOutput;
use aws_sdk_codepipeline::operation::list_action_executions::ListActionExecutionsOutput;
use aws_sdk_codepipeline::types::ApprovalResult;
use std::sync::Arc;
use std::time::Duration;

use super::shared::Shared;

use crate::ids::{ActionName, ApprovalToken, ExecutionId, PipelineName, StageName};

mod answering;
mod approval_state;
mod executions;

pub use answering::Answering;
use approval_state::Pages;
pub use approval_state::{ApprovalState, PipelineState};
pub use aws_sdk_codepipeline::types::ApprovalStatus;
pub use executions::{ActionView, DeployError, ExecutionSummary, StageView, StartRequest};

/// One manual approval action's run, by the ids CodePipeline's approval calls take.
#[derive(Debug, Clone, Copy)]
pub struct ApprovalAt<'a> {
    pub pipeline: &'a PipelineName,
    pub stage: &'a StageName,
    pub action: &'a ActionName,
    pub token: &'a ApprovalToken,
    /// The execution waiting there, when known.
    pub execution: Option<&'a ExecutionId>,
}

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
    /// The commit message (or an S3 object's summary).
    pub summary: Option<String>,
    pub url: Option<String>,
    /// Where a CodeStar connection's revision lives: `ProviderType` (`GitHub`,
    /// `GitHubEnterpriseServer`, `Bitbucket`, `GitLab`…) and `FullRepositoryId` (`owner/repo`).
    pub source: Option<SourceRepository>,
}

/// The repository behind a CodeStar connection's revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRepository {
    pub provider: String,
    pub repository: String,
}

impl Revision {
    /// Reads one `artifactRevisions` entry. A CodeStar connection's `revisionSummary` is JSON
    /// (`{"ProviderType":"GitHub","CommitMessage":…}`) and its `revisionUrl` the console's
    /// redirect carrying `FullRepositoryId` and `Commit`: both are unpacked. Other sources
    /// (CodeCommit, S3, ECR) keep their plain summary and no repository.
    pub fn from_api(
        artifact: &str,
        revision_id: Option<&str>,
        summary: Option<&str>,
        url: Option<&str>,
    ) -> Self {
        let connection = summary.and_then(connection_summary);
        let repository = url.and_then(|u| query_value(u, "FullRepositoryId"));
        Self {
            artifact: artifact.to_owned(),
            revision_id: revision_id.map(str::to_owned),
            summary: match &connection {
                Some((_, message)) => message.clone(),
                None => summary.map(str::to_owned),
            },
            url: url.map(str::to_owned),
            source: connection
                .and_then(|(provider, _)| provider)
                .zip(repository)
                .map(|(provider, repository)| SourceRepository {
                    provider,
                    repository,
                }),
        }
    }
}

/// A source action's summary as people should read it: a CodeStar connection's JSON summary
/// gives its `CommitMessage`; anything else is shown as it is.
pub fn readable_summary(summary: &str) -> Option<String> {
    match connection_summary(summary) {
        Some((_, message)) => message,
        None => Some(summary.to_owned()),
    }
}

/// `(ProviderType, CommitMessage)` of a CodeStar connection's `revisionSummary`, or `None`
/// when it is not that JSON.
fn connection_summary(summary: &str) -> Option<(Option<String>, Option<String>)> {
    let value: serde_json::Value = serde_json::from_str(summary).ok()?;
    let field = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let (provider, message) = (field("ProviderType"), field("CommitMessage"));
    (provider.is_some() || message.is_some()).then_some((provider, message))
}

/// The first value of `key` in `url`'s query.
fn query_value(url: &str, key: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// How long one `GetPipelineState` serves every prompt of its pipeline: a burst of
/// notifications, not the state a later prompt should see (a token it does not show is looked
/// up by `ListActionExecutions`).
const STATE_WINDOW: Duration = Duration::from_secs(1);

/// How long an execution's revisions and trigger are kept: they never change, so this bounds
/// memory, not staleness.
const EXECUTION_TTL: Duration = Duration::from_secs(600);

/// Executions (and pipelines) whose answers are kept at once.
const SHARED_CAPACITY: u64 = 1024;

/// The CodePipeline client.
#[derive(Clone)]
pub struct CodePipeline {
    client: aws_sdk_codepipeline::Client,
    /// `GetPipelineState` by pipeline, shared for [`STATE_WINDOW`].
    states: Arc<Shared<Arc<GetPipelineStateOutput>>>,
    /// `GetPipelineExecution` by pipeline and execution, for its revisions and trigger.
    executions: Arc<Shared<Arc<GetPipelineExecutionOutput>>>,
    /// Pages of `ListActionExecutions` by pipeline and page token, shared for
    /// [`STATE_WINDOW`] by the prompts' lookups of PARALLEL-mode tokens.
    pages: Arc<Shared<Arc<ListActionExecutionsOutput>>>,
}

impl CodePipeline {
    /// Wraps an SDK client built by the composition root.
    pub fn new(client: aws_sdk_codepipeline::Client) -> Self {
        Self {
            client,
            states: Arc::new(Shared::new(STATE_WINDOW, SHARED_CAPACITY)),
            executions: Arc::new(Shared::new(EXECUTION_TTL, SHARED_CAPACITY)),
            pages: Arc::new(Shared::new(STATE_WINDOW, SHARED_CAPACITY)),
        }
    }

    /// The execution waiting at `approval` (`GetPipelineState`, one call shared by the prompts
    /// of a burst: the stage's latest execution, confirmed by the action's token; in PARALLEL
    /// mode, where that token is hidden and several executions may wait, the in-progress run
    /// of `ListActionExecutions` whose `externalExecutionId` is the token) and its revisions and
    /// trigger (`GetPipelineExecution`, one call per execution).
    ///
    /// # Errors
    /// A failed call, or no execution waits there with this token any more.
    pub async fn execution_context(
        &self,
        approval: ApprovalAt<'_>,
    ) -> anyhow::Result<ExecutionContext> {
        let pipeline = approval.pipeline.as_str();
        let state = self
            .states
            .get(pipeline, || async {
                let state = self.client.get_pipeline_state().name(pipeline).send();
                state
                    .await
                    .map(Arc::new)
                    .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))
            })
            .await?;
        let stage = state
            .stage_states()
            .iter()
            .find(|s| s.stage_name() == Some(approval.stage.as_str()))
            .context("the approval's stage is not in the pipeline state")?;
        let action = stage
            .action_states()
            .iter()
            .find(|a| a.action_name() == Some(approval.action.as_str()))
            .and_then(|a| a.latest_execution())
            .context("the approval action has not run")?;
        let execution_id = match stage.latest_execution() {
            Some(e) if action.token() == Some(approval.token.as_str()) => {
                e.pipeline_execution_id().to_owned()
            }
            // The pages a burst's prompts share first; a run not found there is looked for
            // afresh (it may have started after they were read).
            _ => match self.waiting_execution(approval, Pages::Shared).await {
                Ok(Some(execution)) => execution,
                _ => self
                    .waiting_execution(approval, Pages::Fresh)
                    .await?
                    .context("no execution waits at the approval with this token")?,
            },
        };
        let execution = self
            .executions
            .get(&format!("{pipeline}/{execution_id}"), || async {
                let execution = self
                    .client
                    .get_pipeline_execution()
                    .pipeline_name(pipeline)
                    .pipeline_execution_id(&execution_id)
                    .send();
                execution
                    .await
                    .map(Arc::new)
                    .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))
            })
            .await?;
        let execution = execution.pipeline_execution();
        let revisions = execution
            .map(|e| e.artifact_revisions())
            .unwrap_or_default()
            .iter()
            .map(|r| {
                Revision::from_api(
                    r.name().unwrap_or("source"),
                    r.revision_id(),
                    r.revision_summary(),
                    r.revision_url(),
                )
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
        approval: ApprovalAt<'_>,
        status: ApprovalStatus,
        summary: &str,
    ) -> Result<(), DecisionError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_codestar_connection_revision_is_unpacked() {
        let r = Revision::from_api(
            "SourceArtifact",
            Some("ddbe7ef257512f9455e9b74a5ebe8ef831e615b7"),
            Some(r#"{"ProviderType":"GitHub","CommitMessage":"initial commit"}"#),
            Some("https://us-west-2.console.aws.amazon.com/codesuite/settings/connections/redirect?connectionArn=arn:aws:codestar-connections:us-west-2:570351108046:connection/221894bb&referenceType=COMMIT&FullRepositoryId=acme/web-app&Commit=ddbe7ef257512f9455e9b74a5ebe8ef831e615b7"),
        );
        assert_eq!(r.summary.as_deref(), Some("initial commit"));
        assert_eq!(
            r.source,
            Some(SourceRepository {
                provider: "GitHub".into(),
                repository: "acme/web-app".into()
            })
        );
    }

    #[test]
    fn other_sources_keep_their_text_and_have_no_repository() {
        let r = Revision::from_api(
            "SourceArtifact",
            Some("abc"),
            Some("Fix the build {not json}"),
            Some("https://console.aws.amazon.com/codecommit/home#/repository/web/commit/abc"),
        );
        assert_eq!(r.summary.as_deref(), Some("Fix the build {not json}"));
        assert_eq!(r.source, None);
        assert_eq!(readable_summary("[1, 2]").as_deref(), Some("[1, 2]"));
        assert_eq!(
            readable_summary(r#"{"ProviderType":"GitLab","CommitMessage":"m"}"#).as_deref(),
            Some("m")
        );
    }
}
