//! The reason modal: opened from a click ("Approve…", "Reject…") with `views.open`, and its
//! `view_submission` validated purely, inside the Socket Mode callback, so a rejection without
//! a reason is answered in the ack (`response_action: errors`).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use super::render::{self, REASON_BLOCK, REASON_CALLBACK, REASON_INPUT, REASON_MAX};
use super::{ApprovalRef, Approvals, Decision};
use crate::ids::{ChannelId, TeamId, UserId};
use crate::interaction::ViewSubmission;

/// What the modal carries in `private_metadata`: the prompt and the button pressed. Comes back
/// untrusted and is re-validated like a button value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonMetadata {
    #[serde(rename = "r")]
    pub approval: ApprovalRef,
    #[serde(rename = "c")]
    pub channel: ChannelId,
    #[serde(rename = "m")]
    pub ts: String,
    #[serde(rename = "d")]
    pub decision: Decision,
}

/// A valid submission: a decision with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub metadata: ReasonMetadata,
    pub comment: Option<String>,
    pub user: UserId,
    pub user_name: Option<String>,
    pub team: TeamId,
}

/// Checks a submission without any I/O. `Ok(None)`: not our modal.
///
/// # Errors
/// The messages to show in the modal, by `block_id` (`response_action: errors`).
pub fn validate(sub: ViewSubmission) -> Result<Option<Reason>, HashMap<String, String>> {
    if sub.callback_id.as_deref() != Some(REASON_CALLBACK) {
        return Ok(None);
    }
    let error = |text: &str| HashMap::from([(REASON_BLOCK.to_owned(), text.to_owned())]);
    let metadata: ReasonMetadata = sub
        .private_metadata
        .as_deref()
        .filter(|m| m.len() <= 3000)
        .and_then(|m| serde_json::from_str(m).ok())
        .filter(|m: &ReasonMetadata| is_ts(&m.ts))
        .ok_or_else(|| {
            error("This form is no longer valid; close it and press the button again.")
        })?;
    let comment = sub
        .values
        .get(&(REASON_BLOCK.to_owned(), REASON_INPUT.to_owned()))
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    if comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > REASON_MAX)
    {
        return Err(error(&format!(
            "Keep it to {REASON_MAX} characters: it goes into CodePipeline's summary."
        )));
    }
    if metadata.decision == Decision::Reject && comment.is_none() {
        return Err(error("A rejection needs a reason."));
    }
    Ok(Some(Reason {
        metadata,
        comment,
        user: sub.user,
        user_name: sub.user_name,
        team: sub.team,
    }))
}

/// A Slack message timestamp: `digits.digits`.
fn is_ts(ts: &str) -> bool {
    ts.len() <= 32
        && ts.split_once('.').is_some_and(|(a, b)| {
            [a, b]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
        })
}

impl Approvals {
    /// Opens the reason modal for `decision` on the prompt at (`channel`, `ts`) with the
    /// click's `trigger_id` (valid for 3 seconds: this is the first thing the click task does).
    ///
    /// # Errors
    /// What to tell the clicker.
    pub(super) async fn open_reason_modal(
        &self,
        trigger_id: &str,
        decision: Decision,
        approval: &ApprovalRef,
        channel: &ChannelId,
        ts: &str,
    ) -> Result<(), anyhow::Error> {
        let metadata = ReasonMetadata {
            approval: approval.clone(),
            channel: channel.clone(),
            ts: ts.to_owned(),
            decision,
        };
        let metadata = serde_json::to_string(&metadata)?;
        // Checked by the registry when the modal is submitted, like a button's value.
        let metadata = self
            .clients
            .signer
            .sign_metadata(REASON_CALLBACK, &metadata)?;
        let view = render::reason_modal(decision, approval, &metadata)?;
        self.clients.slack.open_view(trigger_id, view).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(decision: Decision) -> String {
        let approval = crate::approvals::notification::parse(include_str!(
            "../../tests/fixtures/approval-raw.json"
        ))
        .expect("fixture")
        .approval;
        serde_json::to_string(&ReasonMetadata {
            approval,
            channel: ChannelId::parse("C0DEPLOYS").expect("channel"),
            ts: "1700000000.000100".into(),
            decision,
        })
        .expect("json")
    }

    fn submission(decision: Decision, comment: Option<&str>) -> ViewSubmission {
        ViewSubmission {
            callback_id: Some(REASON_CALLBACK.into()),
            private_metadata: Some(metadata(decision)),
            values: comment
                .map(|c| ((REASON_BLOCK.into(), REASON_INPUT.into()), c.to_owned()))
                .into_iter()
                .collect(),
            user: UserId::parse("U0ALICE").expect("user"),
            user_name: None,
            team: TeamId::parse("T0TEAM").expect("team"),
        }
    }

    #[test]
    fn a_rejection_without_a_reason_is_answered_in_the_modal() {
        for comment in [None, Some("   ")] {
            let errors = validate(submission(Decision::Reject, comment)).expect_err("required");
            assert_eq!(errors[REASON_BLOCK], "A rejection needs a reason.");
        }
    }

    #[test]
    fn an_approval_may_come_without_a_comment() {
        let reason = validate(submission(Decision::Approve, None))
            .expect("valid")
            .expect("ours");
        assert_eq!(reason.comment, None);
        assert_eq!(reason.metadata.ts, "1700000000.000100");
    }

    #[test]
    fn tampered_metadata_or_a_long_comment_is_refused() {
        let mut sub = submission(Decision::Approve, Some("ok"));
        sub.private_metadata = Some(metadata(Decision::Approve).replace("C0DEPLOYS", "#x"));
        assert!(validate(sub).is_err());
        let mut sub = submission(Decision::Approve, Some("ok"));
        sub.private_metadata = Some(metadata(Decision::Approve).replace("1700000000.000100", "x"));
        assert!(validate(sub).is_err());
        let long = "x".repeat(REASON_MAX + 1);
        assert!(validate(submission(Decision::Approve, Some(&long))).is_err());
    }

    #[test]
    fn other_modals_are_not_ours() {
        let mut sub = submission(Decision::Approve, None);
        sub.callback_id = Some("other".into());
        assert_eq!(validate(sub), Ok(None));
    }
}
