//! Reading pipelines and executions through the SDK: `GetPipelineState`, `GetPipeline`,
//! `ListPipelines`, `StartPipelineExecution`, `ListPipelineExecutions`,
//! `GetPipelineExecution`, `StopPipelineExecution`.

use aws_sdk_codepipeline::types::{ApprovalStatus, PipelineExecutionStatus};
use emulators::codepipeline::{ActionDef, ActionKind, ExecutionMode, PipelineDef, StageDef};
use emulators::testing::eventually;

use super::support::{harness, harness_with, ACCOUNT_ID, DEADLINE};

fn without_approval(name: &str, topic: &str) -> PipelineDef {
    let mut def = PipelineDef::with_approval(name, topic);
    def.stages.remove(2);
    def
}

#[tokio::test]
async fn pipeline_state_shows_the_token_only_while_the_approval_waits() {
    let h = harness().await;
    let pending = h.start_and_wait().await;

    let state = h.state().await;
    assert_eq!(state.pipeline_name(), Some(h.pipeline.as_str()));
    let stage = &state.stage_states()[2];
    assert_eq!(stage.stage_name(), Some("Approve"));
    let latest = stage.latest_execution().expect("stage entered");
    assert_eq!(latest.pipeline_execution_id(), pending.execution_id);
    assert_eq!(latest.status().as_str(), "InProgress");
    let action = &stage.action_states()[0];
    assert_eq!(action.action_name(), Some("ManualApproval"));
    let run = action.latest_execution().expect("action run");
    assert_eq!(run.status().map(|s| s.as_str()), Some("InProgress"));
    assert_eq!(run.token(), Some(pending.token.as_str()));
    assert!(run.last_status_change().is_some());
    let source = &state.stage_states()[0].action_states()[0];
    assert!(source.current_revision().is_some());

    h.decide(&pending, ApprovalStatus::Approved, "ok")
        .await
        .expect("approved");
    h.wait_for_status(&pending.execution_id, "Succeeded").await;
    let run = h.action_run(2).await;
    assert_eq!(run.status().map(|s| s.as_str()), Some("Succeeded"));
    assert_eq!(run.token(), None);
    assert_eq!(run.summary(), Some("ok"));

    let missing = h
        .codepipeline
        .get_pipeline_state()
        .name("no-such-pipeline")
        .send()
        .await;
    assert!(missing
        .expect_err("refused")
        .into_service_error()
        .is_pipeline_not_found_exception());
}

#[tokio::test]
async fn executions_list_newest_first_in_pages() {
    let h = harness_with(without_approval).await;
    let mut started = Vec::new();
    for _ in 0..5 {
        started.push(h.start_through_api().await);
    }
    for id in &started {
        h.wait_for_status(id, "Succeeded").await;
    }

    let mut listed = Vec::new();
    let mut next_token = None;
    let mut pages = 0;
    loop {
        let page = h
            .codepipeline
            .list_pipeline_executions()
            .pipeline_name(&h.pipeline)
            .max_results(2)
            .set_next_token(next_token)
            .send()
            .await
            .expect("ListPipelineExecutions");
        pages += 1;
        assert!(page.pipeline_execution_summaries().len() <= 2);
        for summary in page.pipeline_execution_summaries() {
            assert_eq!(summary.status(), Some(&PipelineExecutionStatus::Succeeded));
            assert!(summary.start_time().is_some());
            listed.push(summary.pipeline_execution_id().expect("id").to_owned());
        }
        next_token = page.next_token;
        if next_token.is_none() {
            break;
        }
    }
    started.reverse();
    assert_eq!((listed, pages), (started, 3));

    let bad = h
        .codepipeline
        .list_pipeline_executions()
        .pipeline_name(&h.pipeline)
        .next_token("not-a-token")
        .send()
        .await;
    assert!(bad
        .expect_err("refused")
        .into_service_error()
        .is_invalid_next_token_exception());
}

#[tokio::test]
async fn an_execution_reports_its_revisions_and_trigger() {
    let h = harness().await;
    let id = h.start_through_api().await;
    let pending = h.pending(&id).await;

    let execution = h.execution(&id).await.expect("execution");
    assert_eq!(
        execution.status(),
        Some(&PipelineExecutionStatus::InProgress)
    );
    let revision = &execution.artifact_revisions()[0];
    assert_eq!(
        revision.revision_id(),
        Some("3f7c1e2a9b8d4c6e5f0a1b2c3d4e5f6a7b8c9d0e")
    );
    assert!(revision.revision_summary().is_some());
    let trigger = execution.trigger().expect("trigger");
    assert_eq!(
        trigger.trigger_type().map(|t| t.as_str()),
        Some("StartPipelineExecution")
    );
    assert_eq!(
        trigger.trigger_detail(),
        Some(format!("arn:aws:iam::{ACCOUNT_ID}:user/test").as_str())
    );
    assert_eq!(pending.execution_id, id);

    let unknown = h.get_execution(uuid::Uuid::new_v4().to_string()).await;
    let error = unknown.expect_err("refused").into_service_error();
    assert!(
        error.is_pipeline_execution_not_found_exception(),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_repeated_client_request_token_starts_one_execution() {
    let h = harness_with(without_approval).await;
    let start = || {
        h.start_request()
            .client_request_token("retry-of-one-click")
            .send()
    };
    let first = start().await.expect("first start");
    let second = start().await.expect("repeated start");
    assert_eq!(
        first.pipeline_execution_id(),
        second.pipeline_execution_id()
    );
}

#[tokio::test]
async fn stopping_abandons_the_approval_and_only_works_once() {
    let h = harness().await;
    let pending = h.start_and_wait().await;
    let stop = || {
        h.stop_request(&pending.execution_id)
            .abandon(true)
            .reason("wrong build")
            .send()
    };

    stop().await.expect("StopPipelineExecution");
    h.wait_for_status(&pending.execution_id, "Stopped").await;
    let error = h
        .decide(&pending, ApprovalStatus::Approved, "ok")
        .await
        .expect_err("abandoned token refused")
        .into_service_error();
    assert!(error.is_invalid_approval_token_exception(), "{error:?}");
    let again = stop()
        .await
        .expect_err("not stoppable")
        .into_service_error();
    assert!(
        again.is_pipeline_execution_not_stoppable_exception(),
        "{again:?}"
    );
}

#[tokio::test]
async fn stop_and_wait_lets_the_approval_finish_first() {
    let h = harness().await;
    let pending = h.start_and_wait().await;
    h.stop_request(&pending.execution_id)
        .send()
        .await
        .expect("StopPipelineExecution");
    assert_eq!(
        h.status_of(&pending.execution_id).as_deref(),
        Some("Stopping")
    );

    h.decide(&pending, ApprovalStatus::Approved, "ok")
        .await
        .expect("the waiting approval can still be decided");
    h.wait_for_status(&pending.execution_id, "Stopped").await;
}

#[tokio::test]
async fn pipelines_are_declared_and_listed() {
    let h = harness().await;
    let output = h
        .codepipeline
        .get_pipeline()
        .name(&h.pipeline)
        .send()
        .await
        .expect("GetPipeline");
    let declaration = output.pipeline().expect("declaration");
    let approval = &declaration.stages()[2].actions()[0];
    let type_id = approval.action_type_id().expect("action type");
    assert_eq!(
        (type_id.category().as_str(), type_id.provider()),
        ("Approval", "Manual")
    );
    let configuration = approval.configuration().expect("configuration");
    assert_eq!(configuration.get("NotificationArn"), Some(&h.topic_arn));
    assert!(output.metadata().and_then(|m| m.pipeline_arn()).is_some());

    let listed = h
        .codepipeline
        .list_pipelines()
        .send()
        .await
        .expect("ListPipelines");
    assert!(listed
        .pipelines()
        .iter()
        .any(|p| p.name() == Some(h.pipeline.as_str())));
}

#[tokio::test]
async fn parallel_executions_wait_side_by_side_without_a_state_token() {
    let h = harness_with(|name, topic| PipelineDef {
        execution_mode: ExecutionMode::Parallel,
        stages: vec![StageDef {
            name: "Approve".to_owned(),
            actions: vec![ActionDef {
                name: "ManualApproval".to_owned(),
                kind: ActionKind::ManualApproval {
                    notification_arn: Some(topic.to_owned()),
                    custom_data: None,
                    external_entity_link: None,
                },
            }],
        }],
        ..PipelineDef::with_approval(name, topic)
    })
    .await;
    let first = h.start_and_wait().await;
    let second = h.start_and_wait().await;
    assert_eq!(
        h.status_of(&first.execution_id).as_deref(),
        Some("InProgress")
    );
    eventually(DEADLINE, "two published notifications", || async {
        (h.sim.notifications().len() == 2).then_some(())
    })
    .await;

    let run = h.action_run(0).await;
    assert_eq!(run.token(), None, "PARALLEL mode hides the token");
    assert_eq!(run.external_execution_id(), Some(second.token.as_str()));
    h.decide(&first, ApprovalStatus::Approved, "ok")
        .await
        .expect("the older approval is still open");
}
