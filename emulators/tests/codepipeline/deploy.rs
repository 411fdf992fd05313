//! What `/deploy` needs from the simulator: state-change events (to SQS and through SNS, in
//! order), failing actions with `errorDetails`, `ConflictException`,
//! `ConcurrentPipelineExecutionsLimitExceededException`, and request counts.

use aws_sdk_codepipeline::types::ApprovalStatus;
use emulators::codepipeline::{EventTarget, PipelineDef};
use emulators::testing::eventually;
use serde_json::Value;

use super::support::{first_action_run, harness, harness_with, DEADLINE};

fn without_approval(name: &str, topic: &str) -> PipelineDef {
    let mut def = PipelineDef::with_approval(name, topic);
    def.stages.remove(2);
    def
}

/// (detail-type suffix, stage or action, state) of each event, in order.
fn summary(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let kind = e["detail-type"]
                .as_str()
                .unwrap_or_default()
                .split(' ')
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let at = e["detail"]["action"]
                .as_str()
                .or(e["detail"]["stage"].as_str())
                .unwrap_or("-");
            format!(
                "{kind} {at} {}",
                e["detail"]["state"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

#[tokio::test]
async fn a_run_publishes_its_state_changes_in_order_to_a_queue() {
    let h = harness_with(without_approval).await;
    h.sim
        .publish_events_to(EventTarget::Sqs(h.queue_url.clone()));
    let id = h.sim.start_execution(&h.pipeline).await;
    h.wait_for_status(&id, "Succeeded").await;

    let events = eventually(DEADLINE, "every event", || async {
        let e = h.sim.events();
        (e.len() == 14).then_some(e)
    })
    .await;
    assert!(events.iter().all(|e| e.outcome.is_ok()));
    let bodies: Vec<Value> = events.iter().map(|e| e.event.clone()).collect();
    assert_eq!(
        summary(&bodies),
        [
            "Pipeline - STARTED",
            "Stage Source STARTED",
            "Action Source STARTED",
            "Action Source SUCCEEDED",
            "Stage Source SUCCEEDED",
            "Stage Build STARTED",
            "Action Build STARTED",
            "Action Build SUCCEEDED",
            "Stage Build SUCCEEDED",
            "Stage Deploy STARTED",
            "Action Deploy STARTED",
            "Action Deploy SUCCEEDED",
            "Stage Deploy SUCCEEDED",
            "Pipeline - SUCCEEDED",
        ]
    );
    let first = &bodies[0];
    assert_eq!(first["source"], "aws.codepipeline");
    assert_eq!(first["detail"]["execution-id"], id.as_str());
    assert_eq!(
        first["resources"][0],
        format!("arn:aws:codepipeline:us-east-1:000000000000:{}", h.pipeline)
    );
    assert_eq!(bodies[2]["detail"]["type"]["category"], "Source");
    // Delivered to SQS as the event itself.
    let body: Value = serde_json::from_str(&h.receive_one().await).expect("json");
    assert_eq!(body["source"], "aws.codepipeline");
}

#[tokio::test]
async fn events_through_sns_arrive_wrapped_and_a_rejection_fails_the_approval() {
    let h = harness().await;
    h.sim
        .publish_events_to(EventTarget::Sns(h.topic_arn.clone()));
    let pending = h.start_and_wait().await;
    h.decide(&pending, ApprovalStatus::Rejected, "no")
        .await
        .expect("rejected");
    h.wait_for_status(&pending.execution_id, "Failed").await;
    let events = eventually(DEADLINE, "the failure events", || async {
        let e = h.sim.events();
        e.iter()
            .any(|e| e.event["detail"]["state"] == "FAILED" && e.event["detail"]["stage"].is_null())
            .then_some(e)
    })
    .await;
    let tail: Vec<Value> = events
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(|e| e.event.clone())
        .collect();
    assert_eq!(
        summary(&tail),
        [
            "Action ManualApproval FAILED",
            "Stage Approve FAILED",
            "Pipeline - FAILED"
        ]
    );
    assert_eq!(
        tail[0]["detail"]["execution-result"]["external-execution-summary"],
        "no"
    );
    let envelope: Value = serde_json::from_str(&h.receive_one().await).expect("json");
    assert_eq!(envelope["Type"], "Notification");
}

#[tokio::test]
async fn a_failing_action_fails_its_stage_and_execution_with_error_details() {
    let h = harness_with(without_approval).await;
    h.sim.fail_action(
        &h.pipeline,
        "Build",
        "JobFailed",
        "Build failed: exit status 2",
    );
    let id = h.sim.start_execution(&h.pipeline).await;
    h.wait_for_status(&id, "Failed").await;
    let state = h.state().await;
    let build = &state.stage_states()[1];
    assert_eq!(
        build.latest_execution().map(|e| e.status().as_str()),
        Some("Failed")
    );
    let run = first_action_run(&state, 1);
    let error = run.error_details().expect("error details");
    assert_eq!(
        (error.code(), error.message()),
        (Some("JobFailed"), Some("Build failed: exit status 2"))
    );
    assert!(
        state.stage_states()[2].latest_execution().is_none(),
        "Deploy never ran"
    );
    // The failure was for one run only.
    let next = h.sim.start_execution(&h.pipeline).await;
    h.wait_for_status(&next, "Succeeded").await;
}

#[tokio::test]
async fn a_busy_pipeline_answers_conflict_and_a_full_one_the_concurrency_limit() {
    let h = harness().await;
    h.sim.set_busy(&h.pipeline, true);
    let start = h.start_request().send().await;
    assert!(start
        .expect_err("busy")
        .into_service_error()
        .is_conflict_exception());
    h.sim.set_busy(&h.pipeline, false);

    h.sim.limit_concurrent_executions(&h.pipeline, 1);
    let pending = h.start_and_wait().await;
    let over = h.start_request().send().await;
    assert!(over
        .expect_err("limit")
        .into_service_error()
        .is_concurrent_pipeline_executions_limit_exceeded_exception());

    h.sim.set_busy(&h.pipeline, true);
    let stop = h.stop_request(&pending.execution_id).send().await;
    assert!(stop
        .expect_err("busy")
        .into_service_error()
        .is_conflict_exception());
    assert_eq!(h.sim.requests("StartPipelineExecution"), 2);
    assert_eq!(h.sim.requests("StopPipelineExecution"), 1);
}
