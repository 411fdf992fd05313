//! One harness for every simulator test: ministack clients, a unique topic + queue +
//! subscription, a running simulator with one pipeline, and polling helpers with deadlines.

use std::time::Duration;

use aws_sdk_codepipeline::error::SdkError;
use aws_sdk_codepipeline::operation::get_pipeline_execution::{
    GetPipelineExecutionError, GetPipelineExecutionOutput,
};
use aws_sdk_codepipeline::operation::get_pipeline_state::GetPipelineStateOutput;
use aws_sdk_codepipeline::operation::list_action_executions::ListActionExecutionsOutput;
use aws_sdk_codepipeline::operation::put_approval_result::{
    PutApprovalResultError, PutApprovalResultOutput,
};
use aws_sdk_codepipeline::operation::start_pipeline_execution::builders::StartPipelineExecutionFluentBuilder;
use aws_sdk_codepipeline::operation::stop_pipeline_execution::builders::StopPipelineExecutionFluentBuilder;
use aws_sdk_codepipeline::types::{
    ActionExecution, ActionExecutionFilter, ApprovalResult, ApprovalStatus, PipelineExecution,
};
use emulators::codepipeline::{CodePipelineSim, PendingApproval, PipelineDef, SimConfig};
use emulators::ministack::{create_topic_queue, TopicQueue};
use emulators::testing::eventually;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long any background effect may take to show (the deadline given to [`eventually`]).
pub const DEADLINE: Duration = Duration::from_secs(15);

pub const ACCOUNT_ID: &str = "000000000000";

/// A simulator under test and the clients that talk to it.
pub struct Harness {
    pub sim: CodePipelineSim,
    /// `aws-sdk-codepipeline` pointed at the simulator (default retries).
    pub codepipeline: aws_sdk_codepipeline::Client,
    pub sdk_config: aws_config::SdkConfig,
    pub sqs: aws_sdk_sqs::Client,
    pub topic_arn: String,
    pub queue_url: String,
    /// The pipeline the harness created (`PipelineDef::with_approval` unless customised).
    pub pipeline: String,
    shutdown: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A harness whose pipeline is `PipelineDef::with_approval`.
pub async fn harness() -> Harness {
    harness_with(PipelineDef::with_approval).await
}

/// A harness whose pipeline is built by `define(pipeline_name, topic_arn)`.
pub async fn harness_with(define: impl FnOnce(&str, &str) -> PipelineDef) -> Harness {
    let ministack = emulators::ministack::url_from_env();
    let sdk_config = emulators::ministack::sdk_config(&ministack, "us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&sdk_config);
    let unique = Uuid::new_v4().simple().to_string();
    let TopicQueue {
        topic_arn,
        queue_url,
    } = create_topic_queue(&sdk_config, &format!("approvals-{unique}"), false)
        .await
        .expect("topic and queue on ministack");

    let shutdown = CancellationToken::new();
    let config = SimConfig {
        region: "us-east-1".to_owned(),
        account_id: ACCOUNT_ID.to_owned(),
        sns_endpoint_url: ministack,
    };
    let sim = CodePipelineSim::start(config, shutdown.clone())
        .await
        .expect("simulator binds");
    let pipeline = format!("pipeline-{unique}");
    sim.create_pipeline(define(&pipeline, &topic_arn));
    let codepipeline = codepipeline_client(&sdk_config, &sim, None);
    Harness {
        sim,
        codepipeline,
        sdk_config,
        sqs,
        topic_arn,
        queue_url,
        pipeline,
        shutdown,
    }
}

/// A CodePipeline client for the simulator, optionally with its own retry policy.
pub fn codepipeline_client(
    sdk_config: &aws_config::SdkConfig,
    sim: &CodePipelineSim,
    retry: Option<aws_config::retry::RetryConfig>,
) -> aws_sdk_codepipeline::Client {
    let mut config =
        aws_sdk_codepipeline::config::Builder::from(sdk_config).endpoint_url(sim.endpoint_url());
    if let Some(retry) = retry {
        config = config.retry_config(retry);
    }
    aws_sdk_codepipeline::Client::from_conf(config.build())
}

impl Harness {
    /// The pipeline's declaration, through `GetPipeline`.
    pub async fn declaration(&self) -> aws_sdk_codepipeline::types::PipelineDeclaration {
        self.codepipeline
            .get_pipeline()
            .name(&self.pipeline)
            .send()
            .await
            .expect("GetPipeline")
            .pipeline
            .expect("a declaration")
    }

    /// Waits until the execution waits at an approval; returns that approval.
    pub async fn pending(&self, execution_id: &str) -> PendingApproval {
        eventually(DEADLINE, "a pending approval", || async {
            self.sim
                .pending_approval(&self.pipeline)
                .filter(|p| p.execution_id == execution_id)
        })
        .await
    }

    /// Starts an execution through the test handle and waits for its approval.
    pub async fn start_and_wait(&self) -> PendingApproval {
        let execution_id = self.sim.start_execution(&self.pipeline).await;
        self.pending(&execution_id).await
    }

    /// Waits until the execution reaches `status`, read through `GetPipelineExecution`.
    pub async fn wait_for_status(&self, execution_id: &str, status: &str) {
        eventually(DEADLINE, &format!("execution status {status}"), || async {
            let execution = self.execution(execution_id).await?;
            (execution.status?.as_str() == status).then_some(())
        })
        .await;
    }

    /// `StartPipelineExecution` for the harness pipeline, to refine and send.
    pub fn start_request(&self) -> StartPipelineExecutionFluentBuilder {
        self.codepipeline
            .start_pipeline_execution()
            .name(&self.pipeline)
    }

    /// Starts an execution through `StartPipelineExecution`; returns its id.
    pub async fn start_through_api(&self) -> String {
        let output = self
            .start_request()
            .send()
            .await
            .expect("StartPipelineExecution");
        output.pipeline_execution_id.expect("execution id")
    }

    /// `StopPipelineExecution` of one execution of the harness pipeline, to refine and send.
    pub fn stop_request(&self, execution_id: &str) -> StopPipelineExecutionFluentBuilder {
        self.codepipeline
            .stop_pipeline_execution()
            .pipeline_name(&self.pipeline)
            .pipeline_execution_id(execution_id)
    }

    /// `GetPipelineExecution` of one execution of the harness pipeline, as answered.
    pub async fn get_execution(
        &self,
        execution_id: impl Into<String>,
    ) -> Result<GetPipelineExecutionOutput, SdkError<GetPipelineExecutionError>> {
        self.codepipeline
            .get_pipeline_execution()
            .pipeline_name(&self.pipeline)
            .pipeline_execution_id(execution_id)
            .send()
            .await
    }

    /// The execution as `GetPipelineExecution` reads it (the call must succeed).
    pub async fn execution(&self, execution_id: &str) -> Option<PipelineExecution> {
        self.get_execution(execution_id)
            .await
            .expect("GetPipelineExecution")
            .pipeline_execution
    }

    /// `GetPipelineState` of the harness pipeline (the call must succeed).
    pub async fn state(&self) -> GetPipelineStateOutput {
        self.codepipeline
            .get_pipeline_state()
            .name(&self.pipeline)
            .send()
            .await
            .expect("GetPipelineState")
    }

    /// The latest run of the first action of stage `stage`, read through `GetPipelineState`.
    pub async fn action_run(&self, stage: usize) -> ActionExecution {
        first_action_run(&self.state().await, stage).clone()
    }

    /// `ListActionExecutions` of the harness pipeline, optionally filtered.
    pub async fn action_executions(
        &self,
        filter: Option<ActionExecutionFilter>,
    ) -> ListActionExecutionsOutput {
        self.codepipeline
            .list_action_executions()
            .pipeline_name(&self.pipeline)
            .set_filter(filter)
            .send()
            .await
            .expect("ListActionExecutions")
    }

    /// `PutApprovalResult` for the pending approval, with any token and status.
    pub async fn put(
        &self,
        pending: &PendingApproval,
        token: &str,
        status: ApprovalStatus,
        summary: &str,
    ) -> Result<PutApprovalResultOutput, SdkError<PutApprovalResultError>> {
        put_with(
            &self.codepipeline,
            &self.pipeline,
            pending,
            token,
            status,
            summary,
        )
        .await
    }

    /// `PutApprovalResult` for the pending approval with its own token.
    pub async fn decide(
        &self,
        pending: &PendingApproval,
        status: ApprovalStatus,
        summary: &str,
    ) -> Result<PutApprovalResultOutput, SdkError<PutApprovalResultError>> {
        self.put(pending, &pending.token, status, summary).await
    }

    /// The execution's status as the simulator holds it right now.
    pub fn status_of(&self, execution_id: &str) -> Option<String> {
        self.sim.execution_status(&self.pipeline, execution_id)
    }

    /// Long-polls the harness queue (bounded) for one message body.
    pub async fn receive_one(&self) -> String {
        eventually(DEADLINE, "a message to reach the queue", || async {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .wait_time_seconds(2)
                .send()
                .await
                .expect("ReceiveMessage");
            received
                .messages
                .unwrap_or_default()
                .into_iter()
                .find_map(|m| m.body)
        })
        .await
    }
}

/// The latest run of the first action of stage `stage` in a pipeline state.
pub fn first_action_run(state: &GetPipelineStateOutput, stage: usize) -> &ActionExecution {
    state.stage_states()[stage].action_states()[0]
        .latest_execution()
        .expect("action run")
}

/// `PutApprovalResult` through a given client.
pub async fn put_with(
    client: &aws_sdk_codepipeline::Client,
    pipeline: &str,
    pending: &PendingApproval,
    token: &str,
    status: ApprovalStatus,
    summary: &str,
) -> Result<PutApprovalResultOutput, SdkError<PutApprovalResultError>> {
    let result = ApprovalResult::builder()
        .summary(summary)
        .status(status)
        .build()
        .expect("summary and status set");
    client
        .put_approval_result()
        .pipeline_name(pipeline)
        .stage_name(&pending.stage)
        .action_name(&pending.action)
        .token(token)
        .result(result)
        .send()
        .await
}
