//! Where an approval stands in CodePipeline: the cheap look (`GetPipelineState`, one call per
//! pipeline) and the precise one for an execution (`ListActionExecutions`, then
//! `GetPipelineExecution` for abandoned runs). Also finds the execution a PARALLEL-mode token
//! belongs to.

use aws_sdk_codepipeline::error::DisplayErrorContext;
use aws_sdk_codepipeline::operation::list_action_executions::ListActionExecutionsOutput;
use aws_sdk_codepipeline::types::{
    ActionExecutionDetail, ActionExecutionFilter, ActionExecutionStatus, PipelineExecutionStatus,
};

use super::{ApprovalAt, CodePipeline};
use crate::ids::PipelineName;

/// Pages of `ListActionExecutions` read when looking for a PARALLEL-mode token.
const MAX_PAGES: usize = 3;

/// Pages read when they are shared between the prompts of a burst ([`Pages::Shared`]): one
/// read serves them all, so it may go as deep as a backlog of several hundred approvals
/// waiting at once.
const MAX_SHARED_PAGES: usize = 20;

/// How the pages of `ListActionExecutions` are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pages {
    /// Read now: what a decision or a reconcile round relies on ("not waiting" must be true).
    Fresh,
    /// Shared with the lookups of the last second: only a run found there is used (a token's
    /// execution never changes); not finding it says nothing.
    Shared,
}

/// Where an approval stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalState {
    /// Still waiting for a decision.
    Open,
    /// Approved, by `by` (an AWS principal) with CodePipeline's `summary`.
    Approved {
        by: Option<String>,
        summary: Option<String>,
    },
    /// Rejected by `by`.
    Rejected {
        by: Option<String>,
        summary: Option<String>,
    },
    /// Failed with nobody's decision: the 7 days ran out.
    Expired,
    /// A newer execution took the stage.
    Superseded,
    /// The execution was stopped.
    Stopped,
    /// Not open, and CodePipeline does not say why (or no longer knows the run).
    Gone,
}

/// The latest run of each action, as `GetPipelineState` shows it.
#[derive(Debug, Clone, Default)]
pub struct PipelineState {
    runs: Vec<Run>,
}

#[derive(Debug, Clone)]
struct Run {
    stage: String,
    action: String,
    execution_id: Option<String>,
    token: Option<String>,
    in_progress: bool,
}

impl PipelineState {
    /// Whether `approval` visibly still waits: the stage's latest execution is its execution
    /// and the action is in progress with its token (hidden in PARALLEL mode). `false` means
    /// "look closer", not "decided".
    pub fn still_waiting(&self, approval: ApprovalAt<'_>) -> bool {
        self.runs.iter().any(|r| {
            let execution = approval.execution.map(|e| e.as_str());
            r.stage == approval.stage.as_str()
                && r.action == approval.action.as_str()
                && r.in_progress
                && match &r.token {
                    Some(t) => t == approval.token.as_str(),
                    None => execution.is_some() && r.execution_id.as_deref() == execution,
                }
        })
    }
}

impl CodePipeline {
    /// `GetPipelineState` of `pipeline`, reduced to its actions' latest runs.
    ///
    /// # Errors
    /// The call failed.
    pub async fn pipeline_state(&self, pipeline: &PipelineName) -> anyhow::Result<PipelineState> {
        let out = self
            .client
            .get_pipeline_state()
            .name(pipeline.as_str())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))?;
        let runs = out
            .stage_states()
            .iter()
            .flat_map(|s| {
                let execution_id = s
                    .latest_execution()
                    .map(|e| e.pipeline_execution_id().to_owned());
                s.action_states().iter().filter_map(move |a| {
                    let run = a.latest_execution()?;
                    Some(Run {
                        stage: s.stage_name()?.to_owned(),
                        action: a.action_name()?.to_owned(),
                        execution_id: execution_id.clone(),
                        token: run.token().map(str::to_owned),
                        in_progress: run.status().map(|s| s.as_str()) == Some("InProgress"),
                    })
                })
            })
            .collect();
        Ok(PipelineState { runs })
    }

    /// Where `approval` stands now. Without an execution id only "open" or "gone" can be told.
    ///
    /// # Errors
    /// A call failed.
    pub async fn approval_state(&self, approval: ApprovalAt<'_>) -> anyhow::Result<ApprovalState> {
        let Some(execution) = approval.execution else {
            let state = self.pipeline_state(approval.pipeline).await?;
            // In PARALLEL mode the state shows only the newest execution at each stage; an
            // older one may still wait there.
            let waiting = state.still_waiting(approval)
                || self
                    .waiting_execution(approval, Pages::Fresh)
                    .await?
                    .is_some();
            return Ok(if waiting {
                ApprovalState::Open
            } else {
                ApprovalState::Gone
            });
        };
        let filter = ActionExecutionFilter::builder()
            .pipeline_execution_id(execution.as_str())
            .build();
        let out = self
            .client
            .list_action_executions()
            .pipeline_name(approval.pipeline.as_str())
            .filter(filter)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))?;
        let Some(run) = out
            .action_execution_details()
            .iter()
            .find(|d| at_approval(d, approval))
        else {
            return Ok(ApprovalState::Gone);
        };
        let by = run.updated_by().map(str::to_owned);
        let summary = run
            .output()
            .and_then(|o| o.execution_result())
            .and_then(|r| r.external_execution_summary())
            .map(str::to_owned);
        Ok(match run.status() {
            Some(ActionExecutionStatus::InProgress) => ApprovalState::Open,
            Some(ActionExecutionStatus::Succeeded) => ApprovalState::Approved { by, summary },
            Some(ActionExecutionStatus::Failed) if by.is_none() => ApprovalState::Expired,
            Some(ActionExecutionStatus::Failed) => ApprovalState::Rejected { by, summary },
            _ => self.abandoned(approval, execution.as_str()).await?,
        })
    }

    /// Why an abandoned run was abandoned: its execution's status.
    async fn abandoned(
        &self,
        approval: ApprovalAt<'_>,
        execution: &str,
    ) -> anyhow::Result<ApprovalState> {
        let out = self
            .client
            .get_pipeline_execution()
            .pipeline_name(approval.pipeline.as_str())
            .pipeline_execution_id(execution)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))?;
        Ok(match out.pipeline_execution().and_then(|e| e.status()) {
            Some(PipelineExecutionStatus::Superseded) => ApprovalState::Superseded,
            Some(PipelineExecutionStatus::Stopped | PipelineExecutionStatus::Stopping) => {
                ApprovalState::Stopped
            }
            _ => ApprovalState::Gone,
        })
    }

    /// The execution whose in-progress run of `approval`'s action has the token as its
    /// `externalExecutionId` (what `PutApprovalResult` takes as the token in PARALLEL mode);
    /// `None` when every run was read and none waits with the token.
    ///
    /// # Errors
    /// A call failed, or the run was not among the pages read (it may wait further back).
    pub(super) async fn waiting_execution(
        &self,
        approval: ApprovalAt<'_>,
        pages: Pages,
    ) -> anyhow::Result<Option<String>> {
        let most = match pages {
            Pages::Fresh => MAX_PAGES,
            Pages::Shared => MAX_SHARED_PAGES,
        };
        let mut next: Option<String> = None;
        for _ in 0..most {
            let out = self.action_executions(approval, next.take(), pages).await?;
            let found = out.action_execution_details().iter().find(|d| {
                at_approval(d, approval)
                    && d.status() == Some(&ActionExecutionStatus::InProgress)
                    && d.output()
                        .and_then(|o| o.execution_result())
                        .and_then(|r| r.external_execution_id())
                        == Some(approval.token.as_str())
            });
            if let Some(d) = found {
                return Ok(d.pipeline_execution_id().map(str::to_owned));
            }
            match out.next_token() {
                Some(t) => next = Some(t.to_owned()),
                None => return Ok(None),
            }
        }
        // Not seen, but not every run was read: nobody can say it ended.
        anyhow::bail!(
            "the approval's run is not among the {most} newest pages of action executions"
        )
    }

    /// One page of the pipeline's action runs, newest first, from `next`.
    async fn action_executions(
        &self,
        approval: ApprovalAt<'_>,
        next: Option<String>,
        pages: Pages,
    ) -> anyhow::Result<std::sync::Arc<ListActionExecutionsOutput>> {
        let pipeline = approval.pipeline.as_str();
        let fetch = || async {
            let page = self
                .client
                .list_action_executions()
                .pipeline_name(pipeline)
                .set_next_token(next.clone())
                .send();
            page.await
                .map(std::sync::Arc::new)
                .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))
        };
        match pages {
            Pages::Fresh => fetch().await,
            Pages::Shared => {
                let key = format!("{pipeline}#{}", next.as_deref().unwrap_or_default());
                self.pages.get(&key, fetch).await
            }
        }
    }
}

fn at_approval(d: &ActionExecutionDetail, approval: ApprovalAt<'_>) -> bool {
    d.stage_name() == Some(approval.stage.as_str())
        && d.action_name() == Some(approval.action.as_str())
}
