//! The approval's own Block Kit: the prompt (here), how it ends or progresses (`outcome`), the
//! reason modal and the audit reply (`modal`). Pure: no I/O.
//!
//! Untrusted text (custom data, names, user names) goes through the Slack-generic helpers of
//! [`crate::outbound::slack::mrkdwn`]: escaped and cut to Block Kit's limits.

use serde_json::{json, Value};
use slack_morphism::prelude::SlackMessageContent;

use super::{ApprovalRef, ApprovalRequest, Press};
use crate::ids::UserId;
use crate::outbound::codepipeline::ExecutionContext;
pub use crate::outbound::slack::mrkdwn::RenderError;
use crate::outbound::slack::mrkdwn::{
    content, cut, date, escape, escape_cut, labelled_field, link, plain, HEADER_MAX,
    SECTION_TEXT_MAX,
};
use crate::signing::Signer;

mod modal;
mod outcome;

pub use modal::{
    audit_reply, reason_modal, REASON_BLOCK, REASON_CALLBACK, REASON_INPUT, REASON_MAX,
};
pub use outcome::{progress, restamp};

/// `block_id` of the Approve/Reject buttons, removed when the prompt is restamped.
pub const ACTIONS_BLOCK: &str = "approval_actions";
/// `block_id` of the line that tells the outcome.
const OUTCOME_BLOCK: &str = "approval_outcome";
/// `block_id` of the quorum's progress line.
const VOTES_BLOCK: &str = "approval_votes";

/// How the prompt is offered.
#[derive(Debug, Clone, Copy, Default)]
pub struct PromptOptions<'a> {
    /// Offer the one-click "Approve" (with a confirm dialog) besides "Approve…".
    pub one_click: bool,
    /// The Slack user who started the execution, when known.
    pub starter: Option<&'a UserId>,
    /// The Slack users who wrote its revisions, when matched.
    pub authors: &'a [UserId],
}

/// The prompt posted when an approval is pending.
///
/// # Errors
/// Only on a template bug (see [`RenderError`]).
pub fn approval_prompt(
    req: &ApprovalRequest,
    context: Option<&ExecutionContext>,
    options: PromptOptions<'_>,
    signer: &Signer,
) -> Result<SlackMessageContent, RenderError> {
    let mut blocks = heading(&req.approval, &req.region);
    if let Some(context) = context {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": cut(&execution_text(context, options), SECTION_TEXT_MAX)}}));
    }
    if let Some(data) = req.custom_data.as_deref().filter(|d| !d.trim().is_empty()) {
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "verbatim": true,
            "text": escape_cut(data, SECTION_TEXT_MAX)}}),
        );
    }
    let links: Vec<String> = [
        (&req.review_link, "Review in CodePipeline"),
        (&req.external_entity_link, "External link"),
        (&req.console_link, "Pipeline console"),
    ]
    .into_iter()
    .filter_map(|(url, label)| url.as_deref().and_then(|u| link(u, label)))
    .chain(req.expires.map(|e| format!("Expires {}", date(e))))
    .collect();
    if !links.is_empty() {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": links.join("  ·  ")}]}));
    }
    finish(&req.approval, blocks, options.one_click, signer)
}

/// The prompt of an approval known only by its ids (a `/deploy status` reply): what is waiting
/// and the buttons, without the notification's links and the execution's context.
///
/// # Errors
/// Only on a template bug (see [`RenderError`]).
pub fn bare_prompt(
    approval: &ApprovalRef,
    region: &str,
    one_click: bool,
    signer: &Signer,
) -> Result<SlackMessageContent, RenderError> {
    finish(approval, heading(approval, region), one_click, signer)
}

/// The header and the pipeline / stage / action / region fields.
fn heading(a: &ApprovalRef, region: &str) -> Vec<Value> {
    vec![
        json!({"type": "header", "text": plain(&format!("Approval needed: {}", a.pipeline), HEADER_MAX)}),
        json!({"type": "section", "fields": [
            labelled_field("Pipeline", a.pipeline.as_str()),
            labelled_field("Stage", a.stage.as_str()),
            labelled_field("Action", a.action.as_str()),
            labelled_field("Region", region),
        ]}),
    ]
}

/// `blocks` with the buttons appended, as a message. Each button's value is the reference
/// signed for its own `action_id`.
fn finish(
    a: &ApprovalRef,
    mut blocks: Vec<Value>,
    one_click: bool,
    signer: &Signer,
) -> Result<SlackMessageContent, RenderError> {
    let what = format!("{} / {} / {}", a.pipeline, a.stage, a.action);
    let value = a.encode();
    // A reference always fits (see `ApprovalRef::encode`): failing here is a template bug.
    let signed = |press: Press| {
        signer
            .sign_button(press.action_id(), &value)
            .map_err(|e| RenderError::from(<serde_json::Error as serde::ser::Error>::custom(e)))
    };
    let mut buttons = Vec::new();
    if one_click {
        buttons.push(one_click_button(&signed(Press::Approve)?, &what));
    }
    let approve_style = (!one_click).then_some("primary");
    buttons.push(button(
        Press::ApproveWithReason,
        approve_style,
        &signed(Press::ApproveWithReason)?,
    ));
    buttons.push(button(
        Press::RejectWithReason,
        Some("danger"),
        &signed(Press::RejectWithReason)?,
    ));
    blocks.push(json!({"type": "actions", "block_id": ACTIONS_BLOCK, "elements": buttons}));
    content(&escape(&format!("Approval needed: {what}")), blocks)
}

/// Revisions shown in a prompt; the rest are counted.
const REVISIONS_SHOWN: usize = 5;

/// The execution id, who started it, who wrote it, and its source revisions (escaped, each
/// cut).
fn execution_text(context: &ExecutionContext, options: PromptOptions<'_>) -> String {
    let mut lines = vec![format!("*Execution* `{}`", escape(&context.execution_id))];
    match (options.starter, &context.started_by) {
        (Some(user), Some(by)) => {
            lines.push(format!("*Started by* <@{user}> ({})", escape_cut(by, 200)));
        }
        (Some(user), None) => lines.push(format!("*Started by* <@{user}>")),
        (None, Some(by)) => lines.push(format!("*Started by* {}", escape_cut(by, 200))),
        (None, None) => {}
    }
    if !options.authors.is_empty() {
        let authors: Vec<String> = options.authors.iter().map(|u| format!("<@{u}>")).collect();
        lines.push(format!("*Written by* {}", authors.join(", ")));
    }
    for r in context.revisions.iter().take(REVISIONS_SHOWN) {
        let id = r.revision_id.as_deref().unwrap_or("unknown revision");
        let short: String = id.chars().take(12).collect();
        let id = r
            .url
            .as_deref()
            .and_then(|u| link(u, &format!("`{}`", escape(&short))))
            .unwrap_or_else(|| format!("`{}`", escape(&short)));
        let summary = r
            .summary
            .as_deref()
            .map(|s| escape_cut(s.lines().next().unwrap_or_default(), 300))
            .unwrap_or_default();
        lines.push(format!(
            "• {}: {id} {summary}",
            escape_cut(&r.artifact, 100)
        ));
    }
    if context.revisions.len() > REVISIONS_SHOWN {
        lines.push(format!(
            "…and {} more revisions",
            context.revisions.len() - REVISIONS_SHOWN
        ));
    }
    lines.join("\n")
}

/// A button opening the reason modal ("Approve…", "Reject…").
fn button(press: Press, style: Option<&str>, value: &str) -> Value {
    let mut b = json!({
        "type": "button", "action_id": press.action_id(), "value": value,
        "text": plain(&format!("{}…", press.decision().verb()), 75),
    });
    if let Some(style) = style {
        b["style"] = json!(style);
    }
    b
}

/// The one-click "Approve", behind a confirm dialog.
fn one_click_button(value: &str, what: &str) -> Value {
    json!({
        "type": "button", "action_id": Press::Approve.action_id(), "style": "primary",
        "value": value, "text": plain("Approve", 75),
        "confirm": {
            "title": plain("Approve this deployment?", 100),
            "text": plain(&format!("Approve {what}?"), 300),
            "confirm": plain("Approve", 30),
            "deny": plain("Cancel", 30),
            "style": "primary",
        }
    })
}

#[cfg(test)]
mod tests;
