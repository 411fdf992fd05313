//! `PutApprovalResult`, and the same decision taken "in the console" by the test handle.

use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::epoch;
use crate::codepipeline::decisions::Decision;
use crate::codepipeline::error::ApiError;
use crate::codepipeline::sim::CodePipelineSim;
use crate::codepipeline::state::ApprovalResultRecord;
use crate::codepipeline::validate;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PutApprovalResultInput {
    pipeline_name: Option<String>,
    stage_name: Option<String>,
    action_name: Option<String>,
    result: Option<ApprovalResultInput>,
    token: Option<String>,
}

#[derive(Deserialize)]
struct ApprovalResultInput {
    summary: Option<String>,
    status: Option<String>,
}

/// Validates like AWS, then decides: names first, then the token's fate.
pub(super) fn put_approval_result(
    sim: &CodePipelineSim,
    caller: &str,
    input: PutApprovalResultInput,
) -> Result<Value, ApiError> {
    let pipeline = validate::name("pipelineName", &input.pipeline_name)?;
    let stage = validate::name("stageName", &input.stage_name)?;
    let action = validate::name("actionName", &input.action_name)?;
    let result = validate::required("result", &input.result)?;
    let summary = validate::required("result.summary", &result.summary)?;
    validate::length("result.summary", summary, 0, 512)?;
    let status = validate::one_of("result.status", &result.status, &["Approved", "Rejected"])?;
    let token = validate::uuid("token", &input.token)?;

    let now = Utc::now();
    let advance = {
        let mut state = sim.lock();
        let at = state.pipeline(pipeline)?.locate(stage, action)?;
        let decision = Decision {
            pipeline,
            at: Some(at),
            token,
            approved: status == "Approved",
            summary,
            by: caller,
        };
        let advance = state.decide(&decision, now)?;
        state.results.push(ApprovalResultRecord {
            pipeline: pipeline.to_owned(),
            stage: stage.to_owned(),
            action: action.to_owned(),
            token: token.to_owned(),
            status: status.to_owned(),
            summary: summary.to_owned(),
        });
        advance
    };
    if let Some(execution_id) = advance {
        sim.run(pipeline, &execution_id);
    }
    Ok(json!({"approvedAt": epoch(now)}))
}

/// Decides by token alone, as a person in the console would; not an API call, so neither
/// counted nor recorded among the API's approval results.
pub(crate) fn decide_in_console(
    sim: &CodePipelineSim,
    pipeline: &str,
    token: &str,
    approved: bool,
    summary: &str,
) -> Result<(), ApiError> {
    let by = format!(
        "arn:aws:iam::{}:user/console-approver",
        sim.config().account_id
    );
    let decision = Decision {
        pipeline,
        at: None,
        token,
        approved,
        summary,
        by: &by,
    };
    let advance = sim.lock().decide(&decision, Utc::now())?;
    if let Some(execution_id) = advance {
        sim.run(pipeline, &execution_id);
    }
    Ok(())
}
