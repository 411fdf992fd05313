//! `GetPipelineState`, `GetPipeline`, `ListPipelines`: reading pipelines and where their
//! executions stand.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{compact, epoch, page};
use crate::codepipeline::error::ApiError;
use crate::codepipeline::model::{ActionKind, ExecutionMode};
use crate::codepipeline::sim::CodePipelineSim;
use crate::codepipeline::state::{ActionRun, Pipeline};
use crate::codepipeline::validate;

#[derive(Deserialize)]
pub(super) struct NameInput {
    name: Option<String>,
    version: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListInput {
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// Each stage's latest execution and each action's latest run, token included while an
/// approval waits (except in PARALLEL mode, as on AWS).
pub(super) fn get_pipeline_state(
    sim: &CodePipelineSim,
    input: NameInput,
) -> Result<Value, ApiError> {
    let name = validate::name("name", &input.name)?;
    let state = sim.lock();
    let pipeline = state.pipeline(name)?;
    let stages: Vec<Value> = pipeline
        .def
        .stages
        .iter()
        .enumerate()
        .map(|(i, stage)| {
            let latest = pipeline.latest_in_stage[i]
                .as_deref()
                .and_then(|id| pipeline.execution(id));
            let actions: Vec<Value> = stage
                .actions
                .iter()
                .enumerate()
                .map(|(j, action)| {
                    let run = latest.and_then(|e| e.actions[i][j].as_ref());
                    let revision = latest.and_then(|e| {
                        let source = e.sources.iter().find(|s| s.action == action.name)?;
                        Some(json!({"revisionId": source.revision_id,
                                    "revisionChangeId": source.revision_id,
                                    "created": epoch(e.started)}))
                    });
                    json!({"actionName": action.name, "currentRevision": revision,
                           "latestExecution": run.map(|r| action_execution(pipeline, r))})
                })
                .collect();
            json!({
                "stageName": stage.name,
                "inboundTransitionState": {"enabled": true},
                "latestExecution": latest.map(|e| json!({
                    "pipelineExecutionId": e.id,
                    "status": e.stages[i].map(|s| s.as_str()),
                })),
                "actionStates": actions,
            })
        })
        .collect();
    Ok(compact(json!({
        "pipelineName": name,
        "pipelineVersion": pipeline.version,
        "stageStates": stages,
        "created": epoch(pipeline.created),
        "updated": epoch(pipeline.updated),
    })))
}

fn action_execution(pipeline: &Pipeline, run: &ActionRun) -> Value {
    let token = run
        .token
        .as_deref()
        .filter(|_| pipeline.def.execution_mode != ExecutionMode::Parallel);
    json!({
        "actionExecutionId": run.action_execution_id,
        "status": run.status.as_str(),
        "summary": run.summary,
        "lastStatusChange": epoch(run.last_status_change),
        "token": token,
        "lastUpdatedBy": run.last_updated_by,
        "externalExecutionId": run.external_execution_id,
        "errorDetails": run.error_details.as_ref().map(|(code, message)| json!({"code": code, "message": message})),
    })
}

/// The pipeline's declaration and metadata.
pub(super) fn get_pipeline(sim: &CodePipelineSim, input: NameInput) -> Result<Value, ApiError> {
    let name = validate::name("name", &input.name)?;
    let state = sim.lock();
    let pipeline = state.pipeline(name)?;
    if let Some(version) = input.version.filter(|v| *v != pipeline.version) {
        return Err(ApiError::PipelineVersionNotFound(version));
    }
    let config = sim.config();
    let stages: Vec<Value> = pipeline
        .def
        .stages
        .iter()
        .map(|stage| {
            let actions: Vec<Value> = stage.actions.iter().map(|action| {
            let (inputs, outputs) = match action.kind {
                ActionKind::Source { .. } => (json!([]), json!([{"name": "SourceArtifact"}])),
                ActionKind::Build => (json!([{"name": "SourceArtifact"}]), json!([])),
                ActionKind::ManualApproval { .. } => (json!([]), json!([])),
            };
            json!({"name": action.name, "actionTypeId": action.kind.type_id(), "runOrder": 1,
                   "configuration": action.kind.configuration(&pipeline.def.name, config),
                   "inputArtifacts": inputs, "outputArtifacts": outputs})
        }).collect();
            json!({"name": stage.name, "actions": actions})
        })
        .collect();
    Ok(json!({
        "pipeline": {
            "name": name,
            "roleArn": format!("arn:aws:iam::{}:role/codepipeline-sim", config.account_id),
            "artifactStore": {"type": "S3", "location": format!("codepipeline-{}-sim", config.region)},
            "stages": stages,
            "version": pipeline.version,
            "executionMode": pipeline.def.execution_mode.as_str(),
            "pipelineType": "V2",
        },
        "metadata": {
            "pipelineArn": format!("arn:aws:codepipeline:{}:{}:{name}", config.region, config.account_id),
            "created": epoch(pipeline.created),
            "updated": epoch(pipeline.updated),
        },
    }))
}

/// Pipelines by name, paged.
pub(super) fn list_pipelines(sim: &CodePipelineSim, input: ListInput) -> Result<Value, ApiError> {
    let max_results = validate::page_size("maxResults", input.max_results, 1000)?;
    let state = sim.lock();
    let mut pipelines: Vec<&Pipeline> = state.pipelines.values().collect();
    pipelines.sort_by(|a, b| a.def.name.cmp(&b.def.name));
    let (pipelines, next_token) = page(
        pipelines.into_iter(),
        |p| p.def.name.as_str(),
        input.next_token.as_deref(),
        max_results,
    )?;
    let summaries: Vec<Value> = pipelines
        .iter()
        .map(|p| {
            json!({
                "name": p.def.name, "version": p.version, "pipelineType": "V2",
                "executionMode": p.def.execution_mode.as_str(),
                "created": epoch(p.created), "updated": epoch(p.updated),
            })
        })
        .collect();
    Ok(compact(
        json!({"pipelines": summaries, "nextToken": next_token}),
    ))
}
