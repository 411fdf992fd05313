//! EventBridge "CodePipeline … State Change" events, as a rule with an SNS topic or SQS queue
//! target would deliver them
//! (<https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-codepipeline.html>; states:
//! <https://docs.aws.amazon.com/codepipeline/latest/userguide/detect-state-changes-cloudwatch-events.html>).
//!
//! After every change the simulator compares each execution with what it last announced and
//! queues the events in between, in order: pipeline `STARTED`, then per stage `STARTED`, its
//! actions' `STARTED` and outcomes, the stage's outcome, and last the pipeline's outcome. One
//! task publishes them in that order. Nothing is published until a target is set.
//!
//! The [`Emitter`] reads the state and is kept beside it (in `sim`), not inside it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_sns::error::DisplayErrorContext;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::model::SimConfig;
use super::notify;
use super::state::{ActionStatus, Execution, ExecutionStatus, Pipeline, StageStatus};

/// Where the events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTarget {
    /// `sns:Publish` to this topic: subscribers get the event inside the SNS envelope.
    Sns(String),
    /// `sqs:SendMessage` to this queue URL: the body is the event itself.
    Sqs(String),
}

/// One event the simulator tried to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedEvent {
    /// The event JSON, as sent.
    pub event: Value,
    /// The SNS or SQS message id, or the error rendered.
    pub outcome: Result<String, String>,
}

/// What one action run looked like when last announced: status and `errorDetails`.
type ActionSeen = (ActionStatus, Option<(String, String)>);

/// What was announced about one execution.
#[derive(Default, Clone, PartialEq)]
struct Seen {
    status: Option<ExecutionStatus>,
    stages: Vec<Option<StageStatus>>,
    actions: Vec<Vec<Option<ActionSeen>>>,
}

/// The queue of events to publish and what was announced so far.
#[derive(Default)]
pub(crate) struct Emitter {
    sender: Option<mpsc::UnboundedSender<Value>>,
    seen: HashMap<String, Seen>,
    published: Arc<Mutex<Vec<PublishedEvent>>>,
}

impl Emitter {
    /// Publishes every event queued from now on to `target` (ministack's SNS or SQS at the
    /// configured SNS endpoint), in order, from one spawned task.
    pub(crate) fn publish_to(&mut self, target: EventTarget, config: &SimConfig) {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Value>();
        self.sender = Some(sender);
        let published = self.published.clone();
        let sns = notify::sns_client(config);
        let (endpoint, region) = (config.sns_endpoint_url.clone(), config.region.clone());
        tokio::spawn(async move {
            let sqs =
                aws_sdk_sqs::Client::new(&crate::ministack::sdk_config(&endpoint, &region).await);
            while let Some(event) = receiver.recv().await {
                let body = event.to_string();
                let outcome = match &target {
                    EventTarget::Sns(topic) => sns
                        .publish()
                        .topic_arn(topic)
                        .message(body)
                        .send()
                        .await
                        .map(|o| o.message_id.unwrap_or_default())
                        .map_err(|e| DisplayErrorContext(&e).to_string()),
                    EventTarget::Sqs(queue) => sqs
                        .send_message()
                        .queue_url(queue)
                        .message_body(body)
                        .send()
                        .await
                        .map(|o| o.message_id.unwrap_or_default())
                        .map_err(|e| DisplayErrorContext(&e).to_string()),
                };
                if let Err(error) = &outcome {
                    tracing::warn!(%error, "state-change event not published");
                }
                published
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(PublishedEvent { event, outcome });
            }
        });
    }

    /// Every event published or attempted so far, in order.
    pub(crate) fn published(&self) -> Vec<PublishedEvent> {
        let events = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        events.clone()
    }

    /// Queues the events for every change of `pipelines` since the last call (nothing
    /// without a target).
    pub(crate) fn collect(
        &mut self,
        pipelines: &HashMap<String, Pipeline>,
        config: &SimConfig,
        now: DateTime<Utc>,
    ) {
        let Emitter {
            sender,
            seen: announced,
            ..
        } = self;
        let Some(sender) = sender else {
            return;
        };
        for pipeline in pipelines.values() {
            for execution in &pipeline.executions {
                let current = seen(execution);
                let previous = announced.get(&execution.id).cloned().unwrap_or_default();
                if current == previous {
                    continue;
                }
                let context = Context {
                    config,
                    pipeline,
                    execution,
                    now,
                };
                for event in diff(&context, &previous, &current) {
                    // The receiver lives as long as the simulator; a send cannot fail sooner.
                    let _ = sender.send(event);
                }
                announced.insert(execution.id.clone(), current);
            }
        }
    }
}

fn seen(execution: &Execution) -> Seen {
    Seen {
        status: Some(execution.status),
        stages: execution.stages.clone(),
        actions: execution
            .actions
            .iter()
            .map(|runs| {
                runs.iter()
                    .map(|r| r.as_ref().map(|r| (r.status, r.error_details.clone())))
                    .collect()
            })
            .collect(),
    }
}

struct Context<'a> {
    config: &'a SimConfig,
    pipeline: &'a Pipeline,
    execution: &'a Execution,
    now: DateTime<Utc>,
}

/// The events between two views of one execution, in the order AWS emits them.
fn diff(cx: &Context, previous: &Seen, current: &Seen) -> Vec<Value> {
    let mut events = Vec::new();
    if previous.status.is_none() {
        events.push(pipeline_event(cx, "STARTED"));
    }
    for (i, stage) in current.stages.iter().enumerate() {
        let Some(stage) = *stage else { continue };
        let before = previous.stages.get(i).copied().flatten();
        if before.is_none() {
            events.push(stage_event(cx, i, "STARTED"));
        }
        for (j, run) in current.actions[i].iter().enumerate() {
            let Some((status, error)) = run else { continue };
            let was = previous
                .actions
                .get(i)
                .and_then(|a| a.get(j))
                .cloned()
                .flatten();
            if was.is_none() {
                events.push(action_event(cx, i, j, "STARTED", None));
            }
            if *status != ActionStatus::InProgress && was.map(|w| w.0) != Some(*status) {
                let state = match status {
                    ActionStatus::Succeeded => "SUCCEEDED",
                    ActionStatus::Failed => "FAILED",
                    ActionStatus::Abandoned | ActionStatus::InProgress => "ABANDONED",
                };
                events.push(action_event(cx, i, j, state, error.as_ref()));
            }
        }
        if stage != StageStatus::InProgress && before != Some(stage) {
            let state = match stage {
                StageStatus::Succeeded => "SUCCEEDED",
                StageStatus::Failed => "FAILED",
                StageStatus::Stopping => "STOPPING",
                StageStatus::Stopped => "STOPPED",
                StageStatus::Cancelled | StageStatus::InProgress => "CANCELED",
            };
            events.push(stage_event(cx, i, state));
        }
    }
    if current.status != previous.status {
        let state = match current.status {
            Some(ExecutionStatus::Succeeded) => Some("SUCCEEDED"),
            Some(ExecutionStatus::Failed) => Some("FAILED"),
            Some(ExecutionStatus::Stopping) => Some("STOPPING"),
            Some(ExecutionStatus::Stopped) => Some("STOPPED"),
            Some(ExecutionStatus::Superseded) => Some("SUPERSEDED"),
            Some(ExecutionStatus::InProgress) | None => None,
        };
        events.extend(state.map(|s| pipeline_event(cx, s)));
    }
    events
}

fn envelope(cx: &Context, detail_type: &str, detail: Value) -> Value {
    let (region, account) = (&cx.config.region, &cx.config.account_id);
    json!({
        "version": "0",
        "id": Uuid::new_v4().to_string(),
        "detail-type": detail_type,
        "source": "aws.codepipeline",
        "account": account,
        "time": cx.now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": region,
        "resources": [format!("arn:aws:codepipeline:{region}:{account}:{}", cx.pipeline.def.name)],
        "detail": detail,
    })
}

fn pipeline_event(cx: &Context, state: &str) -> Value {
    let detail = json!({
        "pipeline": cx.pipeline.def.name,
        "version": cx.pipeline.version,
        "state": state,
        "execution-id": cx.execution.id,
        "execution-trigger": {"trigger-type": "StartPipelineExecution",
                              "trigger-detail": cx.execution.started_by},
        "pipeline-execution-attempt": 1,
    });
    envelope(cx, "CodePipeline Pipeline Execution State Change", detail)
}

fn stage_event(cx: &Context, stage: usize, state: &str) -> Value {
    let detail = json!({
        "pipeline": cx.pipeline.def.name,
        "version": cx.pipeline.version,
        "execution-id": cx.execution.id,
        "stage": cx.pipeline.def.stages[stage].name,
        "state": state,
        "pipeline-execution-attempt": 1,
    });
    envelope(cx, "CodePipeline Stage Execution State Change", detail)
}

fn action_event(
    cx: &Context,
    stage: usize,
    action: usize,
    state: &str,
    error: Option<&(String, String)>,
) -> Value {
    let stage_def = &cx.pipeline.def.stages[stage];
    let action_def = &stage_def.actions[action];
    let mut detail = json!({
        "pipeline": cx.pipeline.def.name,
        "version": cx.pipeline.version,
        "execution-id": cx.execution.id,
        "stage": stage_def.name,
        "action": action_def.name,
        "state": state,
        "region": cx.config.region,
        "type": action_def.kind.type_id(),
        "pipeline-execution-attempt": 1,
    });
    let run = cx.execution.actions[stage][action].as_ref();
    if let (Some(run), true) = (run, state != "STARTED") {
        let mut result = json!({"external-execution-id": run.external_execution_id});
        if let Some(summary) = &run.summary {
            result["external-execution-summary"] = json!(summary);
        }
        if let Some((code, _)) = error {
            result["error-code"] = json!(code);
        }
        detail["execution-result"] = result;
    }
    envelope(cx, "CodePipeline Action Execution State Change", detail)
}
