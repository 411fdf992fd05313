//! `StartPipelineExecution`, `ListPipelineExecutions`, `GetPipelineExecution`,
//! `StopPipelineExecution`.

use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{compact, epoch, page};
use crate::codepipeline::engine::StartRequest;
use crate::codepipeline::error::ApiError;
use crate::codepipeline::model;
use crate::codepipeline::sim::CodePipelineSim;
use crate::codepipeline::state::Execution;
use crate::codepipeline::validate;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StartInput {
    name: Option<String>,
    #[serde(default)]
    variables: Vec<Variable>,
    client_request_token: Option<String>,
    #[serde(default)]
    source_revisions: Vec<SourceRevision>,
}

#[derive(Deserialize)]
struct Variable {
    name: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SourceRevision {
    action_name: Option<String>,
    revision_value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExecutionInput {
    pipeline_name: Option<String>,
    pipeline_execution_id: Option<String>,
    #[serde(default)]
    abandon: bool,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListInput {
    pipeline_name: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// Records the execution and lets it run in the background; answers at once.
pub(super) fn start(
    sim: &CodePipelineSim,
    caller: &str,
    input: StartInput,
) -> Result<Value, ApiError> {
    let pipeline = validate::name("name", &input.name)?;
    if let Some(token) = &input.client_request_token {
        validate::length("clientRequestToken", token, 1, 128)?;
    }
    let mut variables = Vec::new();
    for variable in input.variables {
        let name = validate::required("variables.member.name", &variable.name)?;
        let value = validate::required("variables.member.value", &variable.value)?;
        validate::length("variables.member.name", name, 1, 128)?;
        validate::length("variables.member.value", value, 1, 1000)?;
        variables.push((name.clone(), value.clone()));
    }
    let mut source_overrides = Vec::new();
    for revision in input.source_revisions {
        let action = validate::name("sourceRevisions.member.actionName", &revision.action_name)?;
        let value = validate::required(
            "sourceRevisions.member.revisionValue",
            &revision.revision_value,
        )?;
        source_overrides.push((action.to_owned(), value.clone()));
    }
    let request = StartRequest {
        pipeline: pipeline.to_owned(),
        started_by: caller.to_owned(),
        client_token: input.client_request_token,
        source_overrides,
        variables,
    };
    let id = start_execution(sim, request)?;
    Ok(json!({"pipelineExecutionId": id}))
}

/// Starts (or, for a repeated client token, finds) an execution and runs it if new.
pub(crate) fn start_execution(
    sim: &CodePipelineSim,
    request: StartRequest,
) -> Result<String, ApiError> {
    let pipeline = request.pipeline.clone();
    let (id, new) = sim.lock().start_execution(request, Utc::now())?;
    if new {
        sim.run(&pipeline, &id);
    }
    Ok(id)
}

/// Newest first, paged by execution id.
pub(super) fn list(sim: &CodePipelineSim, input: ListInput) -> Result<Value, ApiError> {
    let name = validate::name("pipelineName", &input.pipeline_name)?;
    let max_results = validate::page_size("maxResults", input.max_results, 100)?;
    let state = sim.lock();
    let pipeline = state.pipeline(name)?;
    let (executions, next_token) = page(
        pipeline.executions.iter().rev(),
        |e: &&Execution| e.id.as_str(),
        input.next_token.as_deref(),
        max_results,
    )?;
    let summaries: Vec<Value> = executions
        .iter()
        .map(|e| {
            let revisions: Vec<Value> = e
                .sources
                .iter()
                .map(|s| {
                    json!({"actionName": s.action, "revisionId": s.revision_id,
                           "revisionSummary": s.summary})
                })
                .collect();
            json!({
                "pipelineExecutionId": e.id,
                "status": e.status.as_str(),
                "statusSummary": e.status_summary,
                "startTime": epoch(e.started),
                "lastUpdateTime": epoch(e.updated),
                "sourceRevisions": revisions,
                "trigger": trigger(e),
                "stopTrigger": e.stop_reason.as_ref().map(|reason| json!({"reason": reason})),
                "executionMode": pipeline.def.execution_mode.as_str(),
                "executionType": "STANDARD",
            })
        })
        .collect();
    Ok(compact(
        json!({"pipelineExecutionSummaries": summaries, "nextToken": next_token}),
    ))
}

/// One execution: status, source revisions, variables, trigger.
pub(super) fn get(sim: &CodePipelineSim, input: ExecutionInput) -> Result<Value, ApiError> {
    let name = validate::name("pipelineName", &input.pipeline_name)?;
    let id = validate::uuid("pipelineExecutionId", &input.pipeline_execution_id)?;
    let state = sim.lock();
    let pipeline = state.pipeline(name)?;
    let execution = pipeline
        .execution(id)
        .ok_or_else(|| ApiError::PipelineExecutionNotFound(id.to_owned()))?;
    let artifacts: Vec<Value> = execution
        .sources
        .iter()
        .map(|s| {
            json!({"name": format!("{}Artifact", s.action), "revisionId": s.revision_id,
                   "revisionSummary": s.summary, "created": epoch(execution.started),
                   "revisionUrl": model::revision_url(sim.config(), &s.repository, &s.revision_id)})
        })
        .collect();
    let variables: Vec<Value> = execution
        .variables
        .iter()
        .map(|(name, value)| json!({"name": name, "resolvedValue": value}))
        .collect();
    Ok(compact(json!({"pipelineExecution": {
        "pipelineName": name,
        "pipelineVersion": pipeline.version,
        "pipelineExecutionId": execution.id,
        "status": execution.status.as_str(),
        "statusSummary": execution.status_summary,
        "artifactRevisions": artifacts,
        "variables": variables,
        "trigger": trigger(execution),
        "executionMode": pipeline.def.execution_mode.as_str(),
        "executionType": "STANDARD",
    }})))
}

/// Stops an in-progress execution; see `State::stop` for abandon versus wait.
pub(super) fn stop(sim: &CodePipelineSim, input: ExecutionInput) -> Result<Value, ApiError> {
    let name = validate::name("pipelineName", &input.pipeline_name)?;
    let id = validate::uuid("pipelineExecutionId", &input.pipeline_execution_id)?;
    if let Some(reason) = &input.reason {
        validate::length("reason", reason, 0, 200)?;
    }
    {
        let mut state = sim.lock();
        state.pipeline(name)?;
        state.runtime.check_busy(name)?;
        state.stop(name, id, input.abandon, input.reason, Utc::now())?;
    }
    // A stop-and-wait whose actions are done already finishes on the next advance.
    sim.run(name, id);
    Ok(json!({"pipelineExecutionId": id}))
}

fn trigger(execution: &Execution) -> Value {
    json!({"triggerType": "StartPipelineExecution", "triggerDetail": execution.started_by})
}
