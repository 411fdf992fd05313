//! `ListActionExecutions`: every action run of a pipeline's executions, newest first, with
//! the shapes AWS answers. In PARALLEL mode this is where a waiting approval's token is found:
//! `output.executionResult.externalExecutionId` (the `token` parameter of
//! <https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PutApprovalResult.html>).

use serde::Deserialize;
use serde_json::{json, Value};

use super::{compact, epoch, page};
use crate::codepipeline::error::ApiError;
use crate::codepipeline::sim::CodePipelineSim;
use crate::codepipeline::state::{ActionRun, Execution, Pipeline};
use crate::codepipeline::validate;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListInput {
    pipeline_name: Option<String>,
    filter: Option<Filter>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    pipeline_execution_id: Option<String>,
}

/// Action runs newest first (by execution, then latest stage first), paged by action
/// execution id; `filter.pipelineExecutionId` keeps one execution's runs.
pub(super) fn list(sim: &CodePipelineSim, input: ListInput) -> Result<Value, ApiError> {
    let name = validate::name("pipelineName", &input.pipeline_name)?;
    let max_results = validate::page_size("maxResults", input.max_results, 100)?;
    let only = input.filter.and_then(|f| f.pipeline_execution_id);
    if let Some(id) = &only {
        validate::uuid("filter.pipelineExecutionId", &Some(id.clone()))?;
    }
    let state = sim.lock();
    let pipeline = state.pipeline(name)?;
    // The runs as references, newest first; only those up to the page's end are looked at,
    // and only the page is rendered.
    let mut newest_first = pipeline.executions.iter().rev();
    let executions: Box<dyn Iterator<Item = &Execution>> = match &only {
        // One execution: found, not filtered out of every other.
        Some(id) => Box::new(newest_first.find(|e| e.id == *id).into_iter()),
        None => Box::new(newest_first),
    };
    let runs = executions.flat_map(|execution| {
        execution
            .actions
            .iter()
            .enumerate()
            .rev()
            .flat_map(move |(i, stage_runs)| {
                stage_runs
                    .iter()
                    .enumerate()
                    .rev()
                    .filter_map(move |(j, run)| run.as_ref().map(|run| (execution, i, j, run)))
            })
    });
    let (runs, next_token) = page(
        runs,
        |(_, _, _, run)| run.action_execution_id.as_str(),
        input.next_token.as_deref(),
        max_results,
    )?;
    let details: Vec<Value> = runs
        .into_iter()
        .map(|(execution, i, j, run)| detail(sim, pipeline, execution, i, j, run))
        .collect();
    Ok(compact(
        json!({"actionExecutionDetails": details, "nextToken": next_token}),
    ))
}

fn detail(
    sim: &CodePipelineSim,
    pipeline: &Pipeline,
    execution: &Execution,
    stage: usize,
    action: usize,
    run: &ActionRun,
) -> Value {
    let stage_def = &pipeline.def.stages[stage];
    let action_def = &stage_def.actions[action];
    let configuration = action_def
        .kind
        .configuration(&pipeline.def.name, sim.config());
    json!({
        "pipelineExecutionId": execution.id,
        "actionExecutionId": run.action_execution_id,
        "pipelineVersion": pipeline.version,
        "stageName": stage_def.name,
        "actionName": action_def.name,
        "startTime": epoch(run.last_status_change),
        "lastUpdateTime": epoch(run.last_status_change),
        "updatedBy": run.last_updated_by,
        "status": run.status.as_str(),
        "input": {
            "actionTypeId": action_def.kind.type_id(),
            "configuration": configuration,
            "resolvedConfiguration": configuration,
            "region": sim.config().region,
            "inputArtifacts": [],
        },
        "output": {
            "outputArtifacts": [],
            "executionResult": {
                "externalExecutionId": run.external_execution_id,
                "externalExecutionSummary": run.summary,
            },
            "outputVariables": {},
        },
    })
}
