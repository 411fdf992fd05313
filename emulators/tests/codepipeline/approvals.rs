//! `PutApprovalResult` through the SDK: outcomes, every typed refusal, races, injected faults.

use aws_config::retry::RetryConfig;
use aws_sdk_codepipeline::error::ProvideErrorMetadata;
use aws_sdk_codepipeline::types::ApprovalStatus;
use tokio::task::JoinSet;

use super::support::{codepipeline_client, first_action_run, harness, put_with, ACCOUNT_ID};

#[tokio::test]
async fn approving_lets_the_execution_run_to_success() {
    let h = harness().await;
    let pending = h.start_and_wait().await;

    let output = h
        .decide(
            &pending,
            ApprovalStatus::Approved,
            "Approved by @alice via Slack",
        )
        .await
        .expect("approval accepted");
    assert!(output.approved_at().is_some());
    h.wait_for_status(&pending.execution_id, "Succeeded").await;

    let results = h.sim.approval_results();
    assert_eq!(results.len(), 1);
    assert_eq!(
        (
            results[0].status.as_str(),
            results[0].summary.as_str(),
            results[0].token.as_str()
        ),
        (
            "Approved",
            "Approved by @alice via Slack",
            pending.token.as_str()
        )
    );
    assert_eq!(h.sim.pending_approval(&h.pipeline), None);
}

#[tokio::test]
async fn rejecting_fails_the_action_the_stage_and_the_execution() {
    let h = harness().await;
    let pending = h.start_and_wait().await;

    h.decide(&pending, ApprovalStatus::Rejected, "Rejected by @bob")
        .await
        .expect("rejection accepted");
    h.wait_for_status(&pending.execution_id, "Failed").await;

    let state = h.state().await;
    let stage = &state.stage_states()[2];
    assert_eq!(
        stage.latest_execution().map(|e| e.status().as_str()),
        Some("Failed")
    );
    let action = first_action_run(&state, 2);
    assert_eq!(action.status().map(|s| s.as_str()), Some("Failed"));
    assert_eq!(action.summary(), Some("Rejected by @bob"));
    assert_eq!(
        action.last_updated_by(),
        Some(format!("arn:aws:iam::{ACCOUNT_ID}:user/test").as_str())
    );
    assert_eq!(action.token(), None);
}

#[tokio::test]
async fn a_decided_token_is_already_completed() {
    let h = harness().await;
    let pending = h.start_and_wait().await;
    h.decide(&pending, ApprovalStatus::Approved, "ok")
        .await
        .expect("first decision accepted");

    let again = h
        .decide(&pending, ApprovalStatus::Rejected, "too late")
        .await;
    let error = again
        .expect_err("second decision refused")
        .into_service_error();
    assert!(error.is_approval_already_completed_exception(), "{error:?}");
}

#[tokio::test]
async fn a_token_never_minted_is_invalid() {
    let h = harness().await;
    let pending = h.start_and_wait().await;
    let random = uuid::Uuid::new_v4().to_string();

    let error = h
        .put(&pending, &random, ApprovalStatus::Approved, "ok")
        .await
        .expect_err("unknown token refused")
        .into_service_error();
    assert!(error.is_invalid_approval_token_exception(), "{error:?}");
}

#[tokio::test]
async fn an_expired_token_is_invalid_and_the_action_failed() {
    let h = harness().await;
    let pending = h.start_and_wait().await;
    h.sim.expire_approvals(&h.pipeline);

    let error = h
        .decide(&pending, ApprovalStatus::Approved, "ok")
        .await
        .expect_err("expired token refused")
        .into_service_error();
    assert!(error.is_invalid_approval_token_exception(), "{error:?}");
    h.wait_for_status(&pending.execution_id, "Failed").await;
    let action = h.action_run(2).await;
    assert_eq!(action.status().map(|s| s.as_str()), Some("Failed"));
    assert!(action.summary().is_some_and(|s| s.contains("timed out")));
}

#[tokio::test]
async fn malformed_input_is_a_validation_error() {
    let h = harness().await;
    let pending = h.start_and_wait().await;

    let too_long = "x".repeat(513);
    let lowercase = ApprovalStatus::from("approved");
    let uppercase_token = pending.token.to_uppercase();
    let cases = [
        (
            pending.token.as_str(),
            ApprovalStatus::Approved,
            too_long.as_str(),
        ),
        (pending.token.as_str(), lowercase, "ok"),
        (uppercase_token.as_str(), ApprovalStatus::Approved, "ok"),
    ];
    for (token, status, summary) in cases {
        let error = h
            .put(&pending, token, status, summary)
            .await
            .expect_err("malformed input refused")
            .into_service_error();
        assert!(error.is_validation_exception(), "{error:?}");
    }
    let limit = "x".repeat(512);
    h.decide(&pending, ApprovalStatus::Approved, &limit)
        .await
        .expect("a 512-character summary is fine");
}

#[tokio::test]
async fn wrong_names_get_their_own_not_found_errors() {
    let h = harness().await;
    let pending = h.start_and_wait().await;
    let mut wrong_stage = pending.clone();
    wrong_stage.stage = "Nope".to_owned();
    let mut wrong_action = pending.clone();
    wrong_action.action = "Nope".to_owned();

    let client = &h.codepipeline;
    let token = pending.token.as_str();
    let approved = || ApprovalStatus::Approved;
    let missing_pipeline = put_with(
        client,
        "no-such-pipeline",
        &pending,
        token,
        approved(),
        "ok",
    );
    let error = missing_pipeline
        .await
        .expect_err("refused")
        .into_service_error();
    assert!(error.is_pipeline_not_found_exception(), "{error:?}");
    let error = h
        .put(&wrong_stage, token, approved(), "ok")
        .await
        .expect_err("refused");
    assert!(error.into_service_error().is_stage_not_found_exception());
    let error = h
        .put(&wrong_action, token, approved(), "ok")
        .await
        .expect_err("refused");
    assert!(error.into_service_error().is_action_not_found_exception());
}

#[tokio::test]
async fn a_superseded_executions_token_is_invalid() {
    let h = harness().await;
    let older = h.start_and_wait().await;
    let newer = h.start_and_wait().await;

    assert_eq!(
        h.status_of(&older.execution_id).as_deref(),
        Some("Superseded")
    );
    let error = h
        .decide(&older, ApprovalStatus::Approved, "ok")
        .await
        .expect_err("superseded token refused")
        .into_service_error();
    assert!(error.is_invalid_approval_token_exception(), "{error:?}");
    h.decide(&newer, ApprovalStatus::Approved, "ok")
        .await
        .expect("the newer approval is open");
    h.wait_for_status(&newer.execution_id, "Succeeded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_decisions_on_one_token_let_exactly_one_through() {
    let h = harness().await;
    let pending = h.start_and_wait().await;

    let mut calls = JoinSet::new();
    for i in 0..8 {
        let (client, pipeline, pending) =
            (h.codepipeline.clone(), h.pipeline.clone(), pending.clone());
        calls.spawn(async move {
            let summary = format!("click {i}");
            put_with(
                &client,
                &pipeline,
                &pending,
                &pending.token,
                ApprovalStatus::Approved,
                &summary,
            )
            .await
        });
    }
    let (mut accepted, mut already) = (0, 0);
    while let Some(joined) = calls.join_next().await {
        match joined.expect("task finished") {
            Ok(_) => accepted += 1,
            Err(error) => {
                assert!(error
                    .into_service_error()
                    .is_approval_already_completed_exception());
                already += 1;
            }
        }
    }
    assert_eq!((accepted, already), (1, 7));
    assert_eq!(h.sim.approval_results().len(), 1);
    assert_eq!(h.sim.put_approval_calls(), 8);
}

#[tokio::test]
async fn an_injected_throttle_is_typed_and_retried_by_the_sdk() {
    let h = harness().await;
    let pending = h.start_and_wait().await;
    let no_retries = codepipeline_client(&h.sdk_config, &h.sim, Some(RetryConfig::disabled()));

    h.sim
        .fail_next("PutApprovalResult", "ThrottlingException", 1);
    let token = pending.token.as_str();
    let refused = put_with(
        &no_retries,
        &h.pipeline,
        &pending,
        token,
        ApprovalStatus::Approved,
        "ok",
    );
    let error = refused.await.expect_err("throttled").into_service_error();
    assert_eq!(error.code(), Some("ThrottlingException"));

    h.sim
        .fail_next("PutApprovalResult", "ThrottlingException", 1);
    h.put(&pending, token, ApprovalStatus::Approved, "ok")
        .await
        .expect("the SDK retries a throttle");
    assert_eq!(h.sim.put_approval_calls(), 3);
    assert_eq!(h.sim.approval_results().len(), 1);
}

#[tokio::test]
async fn a_console_decision_closes_the_token_for_the_api() {
    let h = harness().await;
    let pending = h.start_and_wait().await;

    h.sim
        .decide_in_console(&h.pipeline, &pending.token, true, "Approved in the console")
        .expect("console decision");
    h.wait_for_status(&pending.execution_id, "Succeeded").await;
    let error = h
        .decide(&pending, ApprovalStatus::Approved, "ok")
        .await
        .expect_err("already decided")
        .into_service_error();
    assert!(error.is_approval_already_completed_exception(), "{error:?}");
    assert_eq!(h.sim.put_approval_calls(), 1);
    assert!(h.sim.approval_results().is_empty());
    let again = h
        .sim
        .decide_in_console(&h.pipeline, &pending.token, false, "no");
    assert!(again.is_err_and(|e| e.starts_with("ApprovalAlreadyCompletedException")));
}
