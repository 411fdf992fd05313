//! The reason modal ("Approve…" / "Reject…") and the audit thread reply. Pure: no I/O.

use serde_json::{json, Value};
use slack_morphism::prelude::{SlackMessageContent, SlackView};

use crate::approvals::{ApprovalRef, Decision};
use crate::outbound::slack::mrkdwn::{content, cut, escape, plain, RenderError, SECTION_TEXT_MAX};

/// `callback_id` of the reason modal.
pub const REASON_CALLBACK: &str = "approval:reason";
/// `block_id` of the comment input.
pub const REASON_BLOCK: &str = "reason";
/// `action_id` of the comment input.
pub const REASON_INPUT: &str = "comment";
/// Longest comment: it must fit CodePipeline's 512-character summary with the names.
pub const REASON_MAX: usize = 300;
/// Modal titles are at most 24 characters.
const TITLE_MAX: usize = 24;

/// The modal asking for a reason; `metadata` (at most 3,000 characters) comes back with the
/// submission. The comment is optional for approvals, required for rejections.
///
/// # Errors
/// Only on a template bug (see [`RenderError`]).
pub fn reason_modal(
    decision: Decision,
    approval: &ApprovalRef,
    metadata: &str,
) -> Result<SlackView, RenderError> {
    let mut what = format!(
        "*{}* / {} / {}",
        escape(approval.pipeline.as_str()),
        escape(approval.stage.as_str()),
        escape(approval.action.as_str())
    );
    if let Some(e) = &approval.execution {
        what.push_str(&format!("\nExecution `{e}`"));
    }
    let (label, optional) = match decision {
        Decision::Approve => ("Comment (optional)", true),
        Decision::Reject => ("Reason for rejecting (required)", false),
    };
    let view = json!({
        "type": "modal",
        "callback_id": REASON_CALLBACK,
        "private_metadata": metadata,
        "title": plain(&format!("{} deployment", decision.verb()), TITLE_MAX),
        "submit": plain(decision.verb(), TITLE_MAX),
        "close": plain("Cancel", TITLE_MAX),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": cut(&what, SECTION_TEXT_MAX)}},
            {"type": "input", "block_id": REASON_BLOCK, "optional": optional,
             "label": plain(label, 2000),
             "element": {"type": "plain_text_input", "action_id": REASON_INPUT,
                         "multiline": true, "max_length": REASON_MAX}},
        ],
    });
    Ok(serde_json::from_value(view)?)
}

/// The audit thread reply: a readable `line` (mrkdwn-safe) and the JSON `record`.
///
/// # Errors
/// Only on a template bug (see [`RenderError`]).
pub fn audit_reply(line: &str, record: &str) -> Result<SlackMessageContent, RenderError> {
    let blocks: Vec<Value> = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(line, SECTION_TEXT_MAX)}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn",
            "text": cut(&format!("```{}```", escape(record)), SECTION_TEXT_MAX)}]}),
    ];
    content(line, blocks)
}
