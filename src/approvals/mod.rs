//! Manual approvals: the request CodePipeline announces, the reference a button carries, and the
//! decision a person makes.
//!
//! `notification` parses what arrives from SQS (pure), `announce` posts the prompt, `decide`
//! handles a click or a reason modal's submission, `policy` and `access` say who may decide,
//! `quorum` counts votes per token, `audit` records every attempt, `refusals` says a burst of
//! refused clicks once, `reconcile` keeps open
//! prompts true (on [`crate::events`] or by polling), and `render` builds the prompt, its
//! outcome and the reason modal (pure).

pub mod access;
pub mod announce;
pub mod audit;
mod authorship;
mod check;
pub mod decide;
pub mod modal;
pub mod notification;
mod outcome;
pub mod policy;
pub mod quorum;
pub mod reconcile;
pub mod records;
mod refusals;
pub mod render;
mod stamp;

pub use outcome::Outcome;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

use crate::audit::AuditLog;
use crate::config::Settings;
use crate::ids::{ActionName, ApprovalToken, ExecutionId, PipelineName, StageName};
use crate::interaction::{decode_value, encode_value, ValueError};
use crate::outbound::codepipeline::{ApprovalAt, ApprovalStatus};
use crate::outbound::Clients;
use records::ApprovalRecords;

/// The approval capability: posts prompts and applies decisions. One per process, shared by the
/// SQS loop and the Socket Mode handlers.
pub struct Approvals {
    clients: Clients,
    settings: Arc<Settings>,
    access: access::Access,
    /// What every process shares: posted prompts (one per token), the votes and decision of
    /// each token (one decision per token), who started an execution, its thread.
    records: ApprovalRecords,
    /// Every decision and refused attempt, shared with `/deploy`'s starts and stops.
    audit_log: AuditLog,
    /// Replies to clicks on buttons the bot did not sign, once per burst (this process).
    unsigned: refusals::Throttle,
}

impl Approvals {
    /// Who belongs to which configured users and groups (one user-group cache for the
    /// process: `/deploy` checks its deployers with it too).
    pub fn access(&self) -> &access::Access {
        &self.access
    }

    /// The audit trail (in the same store as the approval records).
    pub fn audit_log(&self) -> &AuditLog {
        &self.audit_log
    }

    /// The capability over the injected clients.
    pub fn new(clients: Clients, settings: Arc<Settings>) -> Self {
        let access = access::Access::new(
            clients.slack.clone(),
            Duration::from_secs(settings.slack.usergroup_cache_secs),
        );
        let records = ApprovalRecords::new(
            clients.records.clone(),
            Duration::from_secs(settings.state.as_ref().map_or(60, |s| s.claim_secs)),
        );
        let audit_log = AuditLog::new(clients.records.clone(), settings.audit_keep());
        Self {
            clients,
            settings,
            access,
            records,
            audit_log,
            unsigned: refusals::Throttle::default(),
        }
    }
}

/// A pending manual approval, as announced by CodePipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRequest {
    pub approval: ApprovalRef,
    pub region: String,
    pub console_link: Option<String>,
    pub review_link: Option<String>,
    pub external_entity_link: Option<String>,
    pub custom_data: Option<String>,
    pub expires: Option<DateTime<Utc>>,
}

/// Everything needed to act on one approval: what an Approve/Reject button carries in its
/// `value`. It comes back from Slack as untrusted input and is re-validated by [`ApprovalRef::decode`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRef {
    #[serde(rename = "p")]
    pub pipeline: PipelineName,
    #[serde(rename = "s")]
    pub stage: StageName,
    #[serde(rename = "a")]
    pub action: ActionName,
    #[serde(rename = "t")]
    pub token: ApprovalToken,
    /// The waiting execution, when CodePipeline said which it is.
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<ExecutionId>,
}

impl ApprovalRef {
    /// The ids CodePipeline's approval calls take.
    pub fn at(&self) -> ApprovalAt<'_> {
        ApprovalAt {
            pipeline: &self.pipeline,
            stage: &self.stage,
            action: &self.action,
            token: &self.token,
            execution: self.execution.as_ref(),
        }
    }

    /// The compact JSON written into the button's `value` (at most ~350 bytes: names are at
    /// most 100 characters and the token is a UUID, so it always fits).
    pub fn encode(&self) -> String {
        encode_value(self).unwrap_or_default()
    }

    /// Reads a button value back, checking every field as if it were hostile.
    ///
    /// # Errors
    /// Why the value is not a valid approval reference.
    pub fn decode(value: &str) -> Result<Self, ValueError> {
        decode_value(value)
    }
}

/// What the person decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    /// The past tense shown in Slack and in the CodePipeline summary.
    pub fn past_tense(self) -> &'static str {
        match self {
            Self::Approve => "Approved",
            Self::Reject => "Rejected",
        }
    }

    /// What `PutApprovalResult` records.
    pub fn status(self) -> ApprovalStatus {
        match self {
            Self::Approve => ApprovalStatus::Approved,
            Self::Reject => ApprovalStatus::Rejected,
        }
    }

    /// The verb on buttons and modals.
    pub fn verb(self) -> &'static str {
        match self {
            Self::Approve => "Approve",
            Self::Reject => "Reject",
        }
    }
}

/// The `action_id` prefix of every approval button: how the registry routes clicks here.
pub const ACTION_PREFIX: &str = "approval:";

/// Which prompt button was pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    /// "Approve" (behind a confirm dialog): decides at once, where the policy allows it.
    Approve,
    /// "Approve…": opens the reason modal, comment optional.
    ApproveWithReason,
    /// "Reject…": opens the reason modal, comment required.
    RejectWithReason,
}

impl Press {
    const ALL: [Self; 3] = [
        Self::Approve,
        Self::ApproveWithReason,
        Self::RejectWithReason,
    ];

    /// The button's `action_id`.
    pub fn action_id(self) -> &'static str {
        match self {
            Self::Approve => "approval:approve",
            Self::ApproveWithReason => "approval:approve_reason",
            Self::RejectWithReason => "approval:reject",
        }
    }

    /// The button an `action_id` stands for, if it is one of ours.
    pub fn from_action_id(action_id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.action_id() == action_id)
    }

    /// The decision the button leads to.
    pub fn decision(self) -> Decision {
        match self {
            Self::Approve | Self::ApproveWithReason => Decision::Approve,
            Self::RejectWithReason => Decision::Reject,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn sample() -> ApprovalRef {
        ApprovalRef {
            pipeline: PipelineName::parse("web-app").expect("name"),
            stage: StageName::parse("Approve").expect("name"),
            action: ActionName::parse("Manual").expect("name"),
            token: ApprovalToken::parse("1a2b3c4d-573f-4ea7-a67e-0123456789ab").expect("uuid"),
            execution: Some(
                ExecutionId::parse("0f6b2a4c-1111-4222-8333-444455556666").expect("uuid"),
            ),
        }
    }

    #[test]
    fn a_button_value_round_trips() {
        let r = sample();
        assert_eq!(ApprovalRef::decode(&r.encode()), Ok(r));
    }

    #[test]
    fn the_longest_reference_fits_a_button_value() {
        let long = "a".repeat(100);
        let r = ApprovalRef {
            pipeline: PipelineName::parse(&long).expect("name"),
            stage: StageName::parse(&long).expect("name"),
            action: ActionName::parse(&long).expect("name"),
            ..sample()
        };
        assert!(r.encode().len() <= crate::interaction::MAX_BUTTON_VALUE);
    }

    #[test]
    fn tampered_values_are_refused() {
        let good = sample().encode();
        for bad in [
            String::new(),
            "not json".into(),
            good.replace("web-app", "web app"),
            good.replace("1a2b3c4d", "ZZZZ"),
            good.replace("\"p\"", "\"x\""),
            good.replace('}', ",\"extra\":1}"),
            good.replace("0f6b2a4c", "not-an-id"),
            "x".repeat(5000),
        ] {
            assert!(ApprovalRef::decode(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_reference_without_an_execution_still_reads() {
        let r = ApprovalRef {
            execution: None,
            ..sample()
        };
        assert!(!r.encode().contains("\"e\""));
        assert_eq!(ApprovalRef::decode(&r.encode()), Ok(r));
    }

    #[test]
    fn action_ids_map_to_buttons() {
        for p in Press::ALL {
            assert_eq!(Press::from_action_id(p.action_id()), Some(p));
        }
        assert_eq!(Press::from_action_id("other"), None);
        assert_eq!(Press::RejectWithReason.decision(), Decision::Reject);
    }
}
