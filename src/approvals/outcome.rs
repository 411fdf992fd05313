//! How an approval ended: the domain's record of it, which the prompt shows in place of its
//! buttons (`render::restamp`) and which later clicks are told (`check::closed_text`).

use chrono::{DateTime, Utc};

use super::Decision;
use crate::ids::UserId;

/// How a prompt ended; shown in place of its buttons.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    /// Decided through this bot: `users` approved (everyone in a quorum) or rejected, with
    /// their `comment`.
    Decided {
        decision: Decision,
        users: Vec<UserId>,
        comment: Option<String>,
        at: DateTime<Utc>,
    },
    /// CodePipeline says it was already approved or rejected (console, CLI, another channel).
    AlreadyDecided { at: DateTime<Utc> },
    /// CodePipeline no longer accepts the token: expired or superseded.
    NoLongerValid { at: DateTime<Utc> },
    /// Seen in CodePipeline: decided outside this prompt, by `by` (an AWS principal) with
    /// CodePipeline's `summary`.
    DecidedElsewhere {
        decision: Decision,
        by: Option<String>,
        summary: Option<String>,
        at: DateTime<Utc>,
    },
    /// Nobody decided within CodePipeline's 7 days.
    Expired { at: DateTime<Utc> },
    /// A newer execution took the stage.
    Superseded { at: DateTime<Utc> },
    /// The execution was stopped.
    Stopped { at: DateTime<Utc> },
}
