//! Manual approvals: the request CodePipeline announces, the reference a button carries, and the
//! decision a person makes.
//!
//! `notification` parses what arrives from SQS (pure), `announce` posts the prompt, `decide`
//! handles a click, `access` says who may decide.

pub mod access;
pub mod announce;
pub mod decide;
pub mod notification;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::bounded::BoundedMap;
use crate::config::Settings;
use crate::ids::{ActionName, ApprovalToken, PipelineName, StageName};
use crate::outbound::Clients;

/// How many tokens the in-memory records remember (posted prompts, decisions).
const REMEMBERED_TOKENS: usize = 10_000;

/// The approval capability: posts prompts and applies decisions. One per process, shared by the
/// SQS loop and the Socket Mode handlers.
pub struct Approvals {
    clients: Clients,
    settings: Arc<Settings>,
    access: access::Access,
    /// Tokens whose prompt was posted: a redelivered notification is not posted twice.
    posted: Mutex<BoundedMap<ApprovalToken, announce::Posted>>,
    /// Tokens being decided or decided through this process: one decision per token.
    decisions: Mutex<BoundedMap<ApprovalToken, decide::TokenState>>,
    /// Executions followed in a Slack thread: their prompts go there.
    threads: Mutex<BoundedMap<String, announce::Thread>>,
}

impl Approvals {
    /// The capability over the injected clients.
    pub fn new(clients: Clients, settings: Arc<Settings>) -> Self {
        let access = access::Access::new(
            clients.slack.clone(),
            Duration::from_secs(settings.slack.usergroup_cache_secs),
        );
        Self {
            clients,
            settings,
            access,
            posted: Mutex::new(BoundedMap::new(REMEMBERED_TOKENS)),
            decisions: Mutex::new(BoundedMap::new(REMEMBERED_TOKENS)),
            threads: Mutex::new(BoundedMap::new(REMEMBERED_TOKENS)),
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
}

/// The largest button value Block Kit accepts.
const MAX_BUTTON_VALUE: usize = 2000;

impl ApprovalRef {
    /// The compact JSON written into the button's `value` (at most ~350 bytes: names are at
    /// most 100 characters and the token is a UUID).
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a button value back, checking every field as if it were hostile.
    ///
    /// # Errors
    /// A readable reason the value is not a valid approval reference.
    pub fn decode(value: &str) -> Result<Self, String> {
        if value.len() > MAX_BUTTON_VALUE {
            return Err("button value is too long".into());
        }
        serde_json::from_str(value).map_err(|e| format!("button value is not an approval: {e}"))
    }
}

/// What the person clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    /// The button's `action_id`.
    pub fn action_id(self) -> &'static str {
        match self {
            Self::Approve => "approval:approve",
            Self::Reject => "approval:reject",
        }
    }

    /// The decision a button `action_id` stands for, if it is one of ours.
    pub fn from_action_id(action_id: &str) -> Option<Self> {
        [Self::Approve, Self::Reject]
            .into_iter()
            .find(|d| d.action_id() == action_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ApprovalRef {
        ApprovalRef {
            pipeline: PipelineName::parse("web-app").expect("name"),
            stage: StageName::parse("Approve").expect("name"),
            action: ActionName::parse("Manual").expect("name"),
            token: ApprovalToken::parse("1a2b3c4d-573f-4ea7-a67e-0123456789ab").expect("uuid"),
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
        assert!(r.encode().len() <= MAX_BUTTON_VALUE);
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
            "x".repeat(5000),
        ] {
            assert!(ApprovalRef::decode(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn action_ids_map_to_decisions() {
        for d in [Decision::Approve, Decision::Reject] {
            assert_eq!(Decision::from_action_id(d.action_id()), Some(d));
        }
        assert_eq!(Decision::from_action_id("other"), None);
    }
}
