//! Where a followed execution stands, built from state changes (events or polls) in any
//! order and with duplicates; says which thread replies to post and when the top message
//! changes. Pure.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::events::{EventLevel, EventState, PipelineEvent};
use crate::outbound::codepipeline::StageView;

/// One observed change, whatever its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The execution's state, in the events' spelling (`SUCCEEDED`…).
    Execution(String),
    Stage {
        stage: String,
        state: String,
    },
    /// An action failed: its error, when known.
    ActionFailed {
        stage: String,
        action: String,
        summary: Option<String>,
    },
}

/// Why a stage or the execution failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionFailure {
    pub stage: String,
    pub action: String,
    pub summary: Option<String>,
}

/// What the follower posts after a change.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Thread replies, in order.
    pub replies: Vec<ThreadReply>,
    pub top_changed: bool,
}

/// One thread reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadReply {
    /// A stage ended in `state`.
    Stage {
        stage: String,
        state: String,
        failure: Option<ActionFailure>,
    },
    /// The execution ended.
    Result,
}

/// A followed execution (stored, so another process can follow it on).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Progress {
    pub started_at: DateTime<Utc>,
    /// The stage it is in (or last entered).
    pub current: Option<String>,
    /// Stages whose outcome was posted.
    reported: Vec<String>,
    pub failure: Option<ActionFailure>,
    /// `STOPPING` while a stop waits for actions to finish.
    pub stopping: bool,
    /// The final state and when it was seen.
    pub result: Option<(String, DateTime<Utc>)>,
}

const STAGE_ENDS: [&str; 4] = ["SUCCEEDED", "FAILED", "STOPPED", "CANCELED"];
const EXECUTION_ENDS: [&str; 5] = ["SUCCEEDED", "FAILED", "STOPPED", "SUPERSEDED", "CANCELED"];

impl Progress {
    /// An execution started at `started_at`, nothing seen yet.
    pub fn new(started_at: DateTime<Utc>) -> Self {
        Self {
            started_at,
            current: None,
            reported: Vec::new(),
            failure: None,
            stopping: false,
            result: None,
        }
    }

    /// Whether the execution ended.
    pub fn is_done(&self) -> bool {
        self.result.is_some()
    }

    /// Whether `change` reports a failure whose cause is not known yet (a poll can tell).
    pub fn lacks_failure_details(&self, change: &Change) -> bool {
        let failing = match change {
            Change::Execution(state) | Change::Stage { state, .. } => state == "FAILED",
            Change::ActionFailed { summary, .. } => summary.is_none(),
        };
        failing && self.failure.as_ref().is_none_or(|f| f.summary.is_none())
    }

    /// Applies `change`, seen at `now`; changes after the end are ignored.
    pub fn apply(&mut self, change: Change, now: DateTime<Utc>) -> Effects {
        let mut effects = Effects::default();
        if self.is_done() {
            return effects;
        }
        match change {
            Change::Execution(state) if EXECUTION_ENDS.contains(&state.as_str()) => {
                self.result = Some((state, now));
                effects.replies.push(ThreadReply::Result);
                effects.top_changed = true;
            }
            Change::Execution(state) => {
                let stopping = state == "STOPPING";
                effects.top_changed = stopping != self.stopping;
                self.stopping = stopping;
            }
            Change::Stage { stage, state } if STAGE_ENDS.contains(&state.as_str()) => {
                if !self.reported.contains(&stage) {
                    let failure = self.failure.clone().filter(|f| f.stage == stage);
                    self.reported.push(stage.clone());
                    effects.replies.push(ThreadReply::Stage {
                        stage,
                        state,
                        failure,
                    });
                }
            }
            Change::Stage { stage, .. } => {
                if self.current.as_ref() != Some(&stage) && !self.reported.contains(&stage) {
                    self.current = Some(stage);
                    effects.top_changed = true;
                }
            }
            Change::ActionFailed {
                stage,
                action,
                summary,
            } => match &mut self.failure {
                Some(f) if f.stage == stage && f.action == action => {
                    f.summary = f.summary.take().or(summary);
                }
                Some(_) => {}
                None => {
                    self.failure = Some(ActionFailure {
                        stage,
                        action,
                        summary,
                    });
                }
            },
        }
        effects
    }
}

/// The change an EventBridge event stands for, if it matters to a follower. Action events
/// carry no error details; a failure's summary comes from the next poll.
pub fn from_event(event: &PipelineEvent) -> Option<Change> {
    let state = match &event.state {
        EventState::Started => "STARTED",
        EventState::Succeeded => "SUCCEEDED",
        EventState::Failed => "FAILED",
        EventState::Canceled => "CANCELED",
        EventState::Abandoned => "ABANDONED",
        EventState::Superseded => "SUPERSEDED",
        EventState::Stopping => "STOPPING",
        EventState::Stopped => "STOPPED",
        EventState::Resumed => "RESUMED",
        EventState::Other(other) => other.as_str(),
    }
    .to_owned();
    let stage = event.stage.as_ref().map(|s| s.to_string());
    match (event.level, stage, &event.action) {
        (EventLevel::Pipeline, _, _) => Some(Change::Execution(state)),
        (EventLevel::Stage, Some(stage), _) => Some(Change::Stage { stage, state }),
        (EventLevel::Action, Some(stage), Some(action)) if event.state == EventState::Failed => {
            Some(Change::ActionFailed {
                stage,
                action: action.to_string(),
                summary: None,
            })
        }
        _ => None,
    }
}

/// What one poll saw of `execution_id`: its stages (where it is their latest execution) in
/// order, failed actions before their stage, then the execution's own status.
pub fn from_poll(execution_id: &str, status: Option<&str>, stages: &[StageView]) -> Vec<Change> {
    let mut changes = Vec::new();
    for stage in stages
        .iter()
        .filter(|s| s.execution_id.as_deref() == Some(execution_id))
    {
        for action in stage
            .actions
            .iter()
            .filter(|a| a.status.as_deref() == Some("Failed"))
        {
            changes.push(Change::ActionFailed {
                stage: stage.name.clone(),
                action: action.name.clone(),
                summary: action.error.clone().or_else(|| action.summary.clone()),
            });
        }
        if let Some(state) = stage.status.as_deref().and_then(event_spelling) {
            changes.push(Change::Stage {
                stage: stage.name.clone(),
                state: state.to_owned(),
            });
        }
    }
    if let Some(state) = status.and_then(event_spelling) {
        changes.push(Change::Execution(state.to_owned()));
    }
    changes
}

/// The events' spelling of an API status.
fn event_spelling(status: &str) -> Option<&'static str> {
    Some(match status {
        "InProgress" => "STARTED",
        "Succeeded" => "SUCCEEDED",
        "Failed" => "FAILED",
        "Stopping" => "STOPPING",
        "Stopped" => "STOPPED",
        "Superseded" => "SUPERSEDED",
        "Cancelled" => "CANCELED",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::codepipeline::ActionView;

    fn stage(name: &str, state: &str) -> Change {
        Change::Stage {
            stage: name.into(),
            state: state.into(),
        }
    }

    #[test]
    fn each_stage_outcome_is_replied_once_and_the_end_once() {
        let now = Utc::now();
        let mut p = Progress::new(now);
        assert!(p.apply(stage("Build", "STARTED"), now).top_changed);
        assert_eq!(p.current.as_deref(), Some("Build"));
        let first = p.apply(stage("Build", "SUCCEEDED"), now);
        assert_eq!(first.replies.len(), 1);
        assert!(p.apply(stage("Build", "SUCCEEDED"), now).replies.is_empty());
        let end = p.apply(Change::Execution("SUCCEEDED".into()), now);
        assert_eq!(end.replies, vec![ThreadReply::Result]);
        assert!(p.is_done());
        assert_eq!(p.apply(stage("Deploy", "FAILED"), now), Effects::default());
    }

    #[test]
    fn a_failed_stage_carries_its_failed_action() {
        let now = Utc::now();
        let mut p = Progress::new(now);
        p.apply(
            Change::ActionFailed {
                stage: "Deploy".into(),
                action: "DeployApp".into(),
                summary: Some("health checks failed".into()),
            },
            now,
        );
        let e = p.apply(stage("Deploy", "FAILED"), now);
        let Some(ThreadReply::Stage { failure, .. }) = e.replies.first() else {
            panic!("a stage reply: {e:?}");
        };
        assert_eq!(
            failure.as_ref().map(|f| f.action.as_str()),
            Some("DeployApp")
        );
    }

    #[test]
    fn real_events_direct_and_sns_wrapped_become_changes() {
        let parse = |body: &str| crate::events::parse(body).expect("event");
        let direct = parse(include_str!(
            "../../../tests/fixtures/codepipeline-stage-event.json"
        ));
        assert_eq!(from_event(&direct), Some(stage("Prod", "STARTED")));
        let wrapped = parse(include_str!(
            "../../../tests/fixtures/codepipeline-action-failed-sns.json"
        ));
        assert_eq!(
            from_event(&wrapped),
            Some(Change::ActionFailed {
                stage: "Deploy".into(),
                action: "DeployApp".into(),
                summary: None,
            })
        );
        let done = parse(include_str!(
            "../../../tests/fixtures/codepipeline-pipeline-event.json"
        ));
        assert_eq!(
            from_event(&done),
            Some(Change::Execution("SUCCEEDED".into()))
        );
    }

    #[test]
    fn a_poll_reports_only_this_executions_stages_in_order() {
        let view = |name: &str, id: &str, status: &str, failed: bool| StageView {
            name: name.into(),
            execution_id: Some(id.into()),
            status: Some(status.into()),
            actions: vec![ActionView {
                name: format!("{name}Action"),
                status: Some(if failed { "Failed" } else { "Succeeded" }.into()),
                summary: None,
                error: failed.then(|| "boom".to_owned()),
                token: None,
                last_change: None,
                revision: None,
            }],
        };
        let stages = [
            view("Source", "me", "Succeeded", false),
            view("Build", "other", "Succeeded", false),
            view("Deploy", "me", "Failed", true),
        ];
        assert_eq!(
            from_poll("me", Some("Failed"), &stages),
            vec![
                stage("Source", "SUCCEEDED"),
                Change::ActionFailed {
                    stage: "Deploy".into(),
                    action: "DeployAction".into(),
                    summary: Some("boom".into()),
                },
                stage("Deploy", "FAILED"),
                Change::Execution("FAILED".into()),
            ]
        );
    }
}
