//! The execution state machine, forward half: start an execution and advance it stage by
//! stage (superseding older executions, minting approval tokens, queueing notifications).
//! Pure transitions on [`State`]; the caller holds the mutex, publishes the returned
//! notifications afterwards and never awaits while holding it. Decisions, expiry and stops,
//! and the steps that end a stage or an execution, are in `decisions.rs`, which this builds on.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::decisions::{close_open_actions, fail_execution, set_stage_status};
use super::error::ApiError;
use super::model::{self, ActionKind, ExecutionMode};
use super::notify::{self, ApprovalNotice, Publication};
use super::runtime::Runtime;
use super::state::{
    ActionRun, ActionStatus, Approval, ApprovalState, Execution, ExecutionStatus, Pipeline,
    SourceRevision, StageStatus, State,
};

/// How long an approval waits before it fails
/// (<https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals.html>).
pub(crate) fn approval_lifetime() -> TimeDelta {
    TimeDelta::days(7)
}

/// A `StartPipelineExecution`, checked.
pub(crate) struct StartRequest {
    pub(crate) pipeline: String,
    pub(crate) started_by: String,
    pub(crate) client_token: Option<String>,
    /// (source action name, revision id) replacing the defined revision.
    pub(crate) source_overrides: Vec<(String, String)>,
    pub(crate) variables: Vec<(String, String)>,
}

impl State {
    /// Records a new execution (or finds the one this client token started) and returns its
    /// id and whether it is new and so must be advanced.
    pub(crate) fn start_execution(
        &mut self,
        request: StartRequest,
        now: DateTime<Utc>,
    ) -> Result<(String, bool), ApiError> {
        let State {
            pipelines, runtime, ..
        } = self;
        let pipeline = pipelines
            .get_mut(&request.pipeline)
            .ok_or_else(|| ApiError::PipelineNotFound(request.pipeline.clone()))?;
        if let Some(id) = request
            .client_token
            .as_ref()
            .and_then(|t| pipeline.client_tokens.get(t))
        {
            return Ok((id.clone(), false));
        }
        runtime.check_start(&pipeline.def.name, pipeline.running())?;
        let mut sources = Vec::new();
        for action in pipeline.def.stages.iter().flat_map(|s| &s.actions) {
            if let ActionKind::Source {
                revision_id,
                revision_summary,
                ..
            } = &action.kind
            {
                sources.push(SourceRevision {
                    action: action.name.clone(),
                    revision_id: revision_id.clone(),
                    summary: model::revision_summary(revision_summary),
                    repository: model::repository(&action.kind, &pipeline.def.name)
                        .unwrap_or_default(),
                });
            }
        }
        for (action, revision) in request.source_overrides {
            let source = sources.iter_mut().find(|s| s.action == action);
            let Some(source) = source else {
                return Err(ApiError::Validation(format!(
                    "sourceRevisions names '{action}', which is not a source action of the pipeline"
                )));
            };
            source.revision_id = revision;
        }
        let id = Uuid::new_v4().to_string();
        let stage_count = pipeline.def.stages.len();
        pipeline.executions.push(Execution {
            id: id.clone(),
            status: ExecutionStatus::InProgress,
            status_summary: None,
            started: now,
            updated: now,
            started_by: request.started_by,
            stop_reason: None,
            sources,
            variables: request.variables,
            stage: 0,
            stages: vec![None; stage_count],
            actions: pipeline
                .def
                .stages
                .iter()
                .map(|s| s.actions.iter().map(|_| None).collect())
                .collect(),
        });
        if let Some(token) = request.client_token {
            pipeline.client_tokens.insert(token, id.clone());
        }
        Ok((id, true))
    }

    /// Runs the execution forward until it waits for an approval or ends; returns the
    /// approval notifications to publish.
    pub(crate) fn advance(
        &mut self,
        pipeline: &str,
        execution_id: &str,
        region: &str,
        now: DateTime<Utc>,
    ) -> Vec<Publication> {
        let mut publications = Vec::new();
        let State {
            pipelines,
            approvals,
            runtime,
            ..
        } = self;
        let Some(pipeline) = pipelines.get_mut(pipeline) else {
            return publications;
        };
        loop {
            let stage_count = pipeline.def.stages.len();
            let Some(execution) = pipeline.execution_mut(execution_id) else {
                break;
            };
            let stage = execution.stage;
            let has = |status| {
                execution
                    .actions
                    .get(stage)
                    .is_some_and(|runs| runs.iter().flatten().any(|r| r.status == status))
            };
            let (waiting, failed) = (has(ActionStatus::InProgress), has(ActionStatus::Failed));
            match execution.status {
                ExecutionStatus::Stopping if !waiting => {
                    execution.status = ExecutionStatus::Stopped;
                    set_stage_status(execution, StageStatus::Stopped);
                    execution.updated = now;
                    break;
                }
                ExecutionStatus::InProgress => {}
                _ => break,
            }
            if stage == stage_count {
                execution.status = ExecutionStatus::Succeeded;
                execution.updated = now;
                break;
            }
            if failed && execution.stages[stage] == Some(StageStatus::InProgress) {
                fail_execution(execution, approvals, "An action failed", now);
                break;
            }
            if execution.stages[stage].is_none() {
                enter_stage(
                    pipeline,
                    approvals,
                    execution_id,
                    stage,
                    region,
                    now,
                    &mut publications,
                );
                fail_planned(runtime, pipeline, execution_id, stage);
            } else if waiting {
                break;
            } else {
                set_stage_status(execution, StageStatus::Succeeded);
                execution.stage += 1;
                execution.updated = now;
            }
        }
        publications
    }
}

/// Fails the build actions of `stage` that a test planned to fail, as the execution just
/// entered it (consuming each plan).
fn fail_planned(runtime: &mut Runtime, pipeline: &mut Pipeline, execution_id: &str, stage: usize) {
    let name = pipeline.def.name.clone();
    let Some(stage_def) = pipeline.def.stages.get(stage) else {
        return;
    };
    let planned: Vec<(usize, (String, String))> = stage_def
        .actions
        .iter()
        .enumerate()
        .filter(|(_, a)| a.kind == ActionKind::Build)
        .filter_map(|(i, a)| Some((i, runtime.take_failure(&name, &a.name)?)))
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

/// Starts every action of `stage`: sources and builds succeed, approvals mint a token and
/// queue their notification. In SUPERSEDED mode, an older execution in that stage is superseded.
fn enter_stage(
    pipeline: &mut Pipeline,
    approvals: &mut HashMap<String, Approval>,
    execution_id: &str,
    stage: usize,
    region: &str,
    now: DateTime<Utc>,
    publications: &mut Vec<Publication>,
) {
    if pipeline.def.execution_mode == ExecutionMode::Superseded {
        for older in pipeline.executions.iter_mut().filter(|e| {
            e.id != execution_id && e.status == ExecutionStatus::InProgress && e.stage == stage
        }) {
            close_open_actions(older, approvals, StageStatus::Cancelled, now);
            older.status = ExecutionStatus::Superseded;
            older.status_summary = Some(format!("Superseded by execution {execution_id}"));
            older.updated = now;
        }
    }
    pipeline.latest_in_stage[stage] = Some(execution_id.to_owned());
    let pipeline_name = pipeline.def.name.clone();
    let stage_def = &pipeline.def.stages[stage];
    let Some(execution) = pipeline
        .executions
        .iter_mut()
        .find(|e| e.id == execution_id)
    else {
        return;
    };
    execution.stages[stage] = Some(StageStatus::InProgress);
    for (index, action) in stage_def.actions.iter().enumerate() {
        let mut run = ActionRun {
            action_execution_id: Uuid::new_v4().to_string(),
            status: ActionStatus::Succeeded,
            summary: None,
            last_status_change: now,
            token: None,
            last_updated_by: None,
            external_execution_id: format!("{}:{}", action.name, Uuid::new_v4()),
            error_details: None,
        };
        match &action.kind {
            ActionKind::Source { .. } => {
                if let Some(source) = execution.sources.iter().find(|s| s.action == action.name) {
                    run.external_execution_id.clone_from(&source.revision_id);
                    run.summary = Some(source.summary.clone());
                }
            }
            ActionKind::Build => {}
            ActionKind::ManualApproval {
                notification_arn,
                custom_data,
                external_entity_link,
            } => {
                let token = Uuid::new_v4().to_string();
                let expires = now + approval_lifetime();
                run.status = ActionStatus::InProgress;
                run.token = Some(token.clone());
                run.external_execution_id.clone_from(&token);
                approvals.insert(
                    token.clone(),
                    Approval {
                        pipeline: pipeline_name.clone(),
                        execution_id: execution_id.to_owned(),
                        stage,
                        action: index,
                        expires,
                        state: ApprovalState::Pending,
                    },
                );
                if let Some(topic_arn) = notification_arn {
                    publications.push(notify::approval_publication(&ApprovalNotice {
                        topic_arn,
                        region,
                        pipeline: &pipeline_name,
                        stage: &stage_def.name,
                        action: &action.name,
                        token: &token,
                        expires,
                        custom_data: custom_data.as_deref(),
                        external_entity_link: external_entity_link.as_deref(),
                    }));
                }
            }
        }
        execution.actions[stage][index] = Some(run);
    }
    execution.updated = now;
}
