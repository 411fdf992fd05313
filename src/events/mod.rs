//! CodePipeline's EventBridge state-change events → [`PipelineEvent`]. Pure: no I/O. Shared by
//! the approvals (prompts that stay true) and `/deploy` (followed executions); `sns` unwraps
//! the SNS envelope both queues may carry.
//!
//! The events arrive from an SQS queue, either directly (an EventBridge rule targeting the queue,
//! or SNS with raw delivery: the body is the event) or inside an SNS envelope (`Message` is the
//! event as a string). Traps handled here: `detail.version` and `type.version` arrive as `"1"`,
//! `1` or `9.0` (ignored); new states appear over time (kept as [`EventState::Other`]); the
//! approval event carries no token, so it is matched by pipeline, execution, stage and action.

pub mod sns;

use serde::Deserialize;

use crate::ids::{ActionName, ExecutionId, InvalidId, PipelineName, StageName};
use sns::SnsError;

/// Which level of the pipeline changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventLevel {
    Pipeline,
    Stage,
    Action,
}

/// The new state, as the events spell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventState {
    Started,
    Succeeded,
    Failed,
    Canceled,
    Abandoned,
    Superseded,
    Stopping,
    Stopped,
    Resumed,
    /// A state this version does not know.
    Other(String),
}

impl EventState {
    fn parse(s: &str) -> Self {
        match s {
            "STARTED" => Self::Started,
            "SUCCEEDED" => Self::Succeeded,
            "FAILED" => Self::Failed,
            "CANCELED" | "CANCELLED" => Self::Canceled,
            "ABANDONED" => Self::Abandoned,
            "SUPERSEDED" => Self::Superseded,
            "STOPPING" => Self::Stopping,
            "STOPPED" => Self::Stopped,
            "RESUMED" => Self::Resumed,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// One CodePipeline state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineEvent {
    pub level: EventLevel,
    pub pipeline: PipelineName,
    pub execution_id: ExecutionId,
    pub stage: Option<StageName>,
    pub action: Option<ActionName>,
    pub state: EventState,
    /// The action's `type.category` (`Approval` for manual approvals).
    pub category: Option<String>,
}

impl PipelineEvent {
    /// Whether an open approval prompt of this execution may have changed: a manual approval
    /// (or an action of unknown type) ended, or the stage or execution ended.
    pub fn may_close_approvals(&self) -> bool {
        let ended = !matches!(self.state, EventState::Started | EventState::Resumed);
        match self.level {
            EventLevel::Action => ended && self.category.as_deref().is_none_or(|c| c == "Approval"),
            EventLevel::Stage | EventLevel::Pipeline => ended,
        }
    }
}

/// Why a message body is not a CodePipeline event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error("not a CodePipeline state-change event: {0}")]
    NotAnEvent(String),
    #[error("event field {field}: {reason}")]
    BadField { field: &'static str, reason: String },
}

#[derive(Deserialize)]
struct Envelope {
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    detail: Detail,
}

#[derive(Deserialize)]
struct Detail {
    pipeline: String,
    #[serde(rename = "execution-id")]
    execution_id: String,
    stage: Option<String>,
    action: Option<String>,
    state: String,
    #[serde(rename = "type")]
    action_type: Option<ActionType>,
}

#[derive(Deserialize)]
struct ActionType {
    category: Option<String>,
}

/// Parses an SQS message body (SNS-wrapped or direct) into an event.
///
/// # Errors
/// The body is not a CodePipeline state-change event, or a field is invalid.
pub fn parse(body: &str) -> Result<PipelineEvent, EventError> {
    let event_json = sns::unwrap(body)
        .map_err(|(SnsError::Body(e) | SnsError::Message(e))| EventError::NotJson(e))?;
    let e: Envelope =
        serde_json::from_value(event_json).map_err(|e| EventError::NotAnEvent(e.to_string()))?;
    if e.source != "aws.codepipeline" {
        return Err(EventError::NotAnEvent(format!("source `{}`", e.source)));
    }
    let level = match e.detail_type.as_str() {
        "CodePipeline Pipeline Execution State Change" => EventLevel::Pipeline,
        "CodePipeline Stage Execution State Change" => EventLevel::Stage,
        "CodePipeline Action Execution State Change" => EventLevel::Action,
        other => return Err(EventError::NotAnEvent(format!("detail-type `{other}`"))),
    };
    let d = e.detail;
    let field = |field: &'static str| {
        move |e: InvalidId| EventError::BadField {
            field,
            reason: e.to_string(),
        }
    };
    Ok(PipelineEvent {
        level,
        pipeline: PipelineName::parse(&d.pipeline).map_err(field("pipeline"))?,
        execution_id: ExecutionId::parse(&d.execution_id).map_err(field("execution-id"))?,
        stage: d
            .stage
            .as_deref()
            .map(StageName::parse)
            .transpose()
            .map_err(field("stage"))?,
        action: d
            .action
            .as_deref()
            .map(ActionName::parse)
            .transpose()
            .map_err(field("action"))?,
        state: EventState::parse(&d.state),
        category: d.action_type.and_then(|t| t.category),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EXECUTION: &str = "0f6b2a4c-1111-4222-8333-444455556666";

    fn action_event(version: serde_json::Value, state: &str) -> serde_json::Value {
        json!({"version": "0", "id": "x", "detail-type": "CodePipeline Action Execution State Change",
            "source": "aws.codepipeline", "account": "111122223333", "time": "2026-11-24T21:17:51Z",
            "region": "us-east-1", "resources": ["arn:aws:codepipeline:us-east-1:111122223333:web"],
            "detail": {"pipeline": "web", "version": version, "execution-id": EXECUTION,
                "stage": "Prod", "action": "Approve", "state": state, "region": "us-east-1",
                "type": {"owner": "AWS", "category": "Approval", "provider": "Manual", "version": version},
                "execution-result": {"external-execution-summary": "ok"}}})
    }

    #[test]
    fn an_approval_event_reads_with_any_version_spelling() {
        for version in [json!("1"), json!(1), json!(9.0)] {
            let e = parse(&action_event(version, "SUCCEEDED").to_string()).expect("event");
            assert_eq!(e.level, EventLevel::Action);
            assert_eq!(e.execution_id.as_str(), EXECUTION);
            assert_eq!(e.action.as_ref().map(|a| a.as_str()), Some("Approve"));
            assert_eq!(e.state, EventState::Succeeded);
            assert!(e.may_close_approvals());
        }
    }

    #[test]
    fn an_sns_wrapped_event_is_unwrapped() {
        let body = json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:x",
            "Message": action_event(json!(1), "FAILED").to_string(),
            "Timestamp": "2026-11-24T21:17:51.000Z"});
        let e = parse(&body.to_string()).expect("event");
        assert_eq!(e.state, EventState::Failed);
    }

    #[test]
    fn pipeline_events_and_unknown_states_are_kept() {
        let body = json!({"detail-type": "CodePipeline Pipeline Execution State Change",
            "source": "aws.codepipeline",
            "detail": {"pipeline": "web", "version": 3, "execution-id": EXECUTION, "state": "SUPERSEDED"}});
        let e = parse(&body.to_string()).expect("event");
        assert_eq!(
            (e.level, e.state.clone()),
            (EventLevel::Pipeline, EventState::Superseded)
        );
        assert!(e.may_close_approvals());
        let started = parse(&action_event(json!(1), "STARTED").to_string()).expect("event");
        assert!(!started.may_close_approvals());
        let new = parse(&action_event(json!(1), "PAUSED").to_string()).expect("event");
        assert_eq!(new.state, EventState::Other("PAUSED".into()));
    }

    #[test]
    fn other_sources_and_bad_ids_are_refused() {
        let mut other = action_event(json!(1), "FAILED");
        other["source"] = json!("aws.codebuild");
        assert!(matches!(
            parse(&other.to_string()),
            Err(EventError::NotAnEvent(_))
        ));
        let mut bad = action_event(json!(1), "FAILED");
        bad["detail"]["execution-id"] = json!("not-an-id");
        assert!(matches!(
            parse(&bad.to_string()),
            Err(EventError::BadField { .. })
        ));
        assert!(matches!(parse("nope"), Err(EventError::NotJson(_))));
    }
}
