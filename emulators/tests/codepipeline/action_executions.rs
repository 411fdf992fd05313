//! `ListActionExecutions` through the SDK: in PARALLEL mode the one place a waiting approval's
//! token shows (`output.executionResult.externalExecutionId`), per execution.

use aws_sdk_codepipeline::types::{ActionExecutionFilter, ActionExecutionStatus, ApprovalStatus};
use emulators::codepipeline::{ExecutionMode, PipelineDef};

use super::support::harness_with;

fn parallel(name: &str, topic: &str) -> PipelineDef {
    PipelineDef {
        execution_mode: ExecutionMode::Parallel,
        ..PipelineDef::with_approval(name, topic)
    }
}

#[tokio::test]
async fn each_waiting_parallel_execution_shows_its_token_as_the_external_execution_id() {
    let h = harness_with(parallel).await;
    let first = h.start_and_wait().await;
    let second = h.start_and_wait().await;

    let all = h.action_executions(None).await;
    let waiting: Vec<_> = all
        .action_execution_details()
        .iter()
        .filter(|d| d.status() == Some(&ActionExecutionStatus::InProgress))
        .collect();
    assert_eq!(waiting.len(), 2);
    assert_eq!(
        waiting[0].pipeline_execution_id(),
        Some(second.execution_id.as_str()),
        "newest first"
    );
    for (detail, pending) in waiting.iter().zip([&second, &first]) {
        assert_eq!(detail.stage_name(), Some("Approve"));
        assert_eq!(detail.action_name(), Some("ManualApproval"));
        let type_id = detail.input().and_then(|i| i.action_type_id());
        assert_eq!(type_id.map(|t| t.category().as_str()), Some("Approval"));
        let result = detail.output().and_then(|o| o.execution_result());
        assert_eq!(
            result.and_then(|r| r.external_execution_id()),
            Some(pending.token.as_str())
        );
    }

    h.decide(&first, ApprovalStatus::Approved, "first, second")
        .await
        .expect("the external execution id is the token");
    let filter = ActionExecutionFilter::builder()
        .pipeline_execution_id(&first.execution_id)
        .build();
    let one = h.action_executions(Some(filter)).await;
    let details = one.action_execution_details();
    assert!(details
        .iter()
        .all(|d| d.pipeline_execution_id() == Some(first.execution_id.as_str())));
    let approval = details
        .iter()
        .find(|d| d.stage_name() == Some("Approve"))
        .expect("the approval run");
    assert_eq!(approval.status(), Some(&ActionExecutionStatus::Succeeded));
    assert!(approval.updated_by().is_some_and(|b| b.contains(":user/")));
    assert_eq!(
        approval
            .output()
            .and_then(|o| o.execution_result())
            .and_then(|r| r.external_execution_summary()),
        Some("first, second")
    );
}
