//! Block Kit rendering of approval prompts and their outcomes. Pure: no I/O.
//!
//! Untrusted text (custom data, names, user names) is mrkdwn-escaped (`&`, `<`, `>` only, as
//! Slack documents) and cut to Block Kit's limits with an ellipsis; lengths are counted in UTF-16
//! code units, the stricter reading of Slack's "characters".

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use slack_morphism::prelude::{SlackBlock, SlackMessageContent};

use crate::approvals::{ApprovalRequest, Press};
use crate::ids::UserId;
use crate::outbound::codepipeline::ExecutionContext;

mod modal;
mod outcome;

pub use modal::{
    audit_reply, reason_modal, REASON_BLOCK, REASON_CALLBACK, REASON_INPUT, REASON_MAX,
};
pub use outcome::{progress, restamp, Outcome};

/// `block_id` of the Approve/Reject buttons, removed when the prompt is restamped.
pub const ACTIONS_BLOCK: &str = "approval_actions";
/// `block_id` of the line that tells the outcome.
const OUTCOME_BLOCK: &str = "approval_outcome";
/// `block_id` of the quorum's progress line.
const VOTES_BLOCK: &str = "approval_votes";
const SECTION_TEXT_MAX: usize = 3000;
const FIELD_MAX: usize = 2000;
const HEADER_MAX: usize = 150;
const URL_MAX: usize = 3000;

/// A template produced something slack-morphism cannot read as Block Kit (a bug here).
#[derive(Debug, thiserror::Error)]
#[error("rendered blocks are not valid Block Kit: {0}")]
pub struct RenderError(#[from] serde_json::Error);

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
) -> Result<SlackMessageContent, RenderError> {
    let a = &req.approval;
    let mut blocks = vec![
        json!({"type": "header", "text": plain(&format!("Approval needed: {}", a.pipeline), HEADER_MAX)}),
        json!({"type": "section", "fields": [
            mrkdwn_field("Pipeline", a.pipeline.as_str()),
            mrkdwn_field("Stage", a.stage.as_str()),
            mrkdwn_field("Action", a.action.as_str()),
            mrkdwn_field("Region", &req.region),
        ]}),
    ];
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
    .chain(req.expires.map(|e| format!("Expires {}", slack_date(e))))
    .collect();
    if !links.is_empty() {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": links.join("  ·  ")}]}));
    }
    let what = format!("{} / {} / {}", a.pipeline, a.stage, a.action);
    let value = a.encode();
    let mut buttons = Vec::new();
    if options.one_click {
        buttons.push(one_click_button(&value, &what));
    }
    let approve_style = (!options.one_click).then_some("primary");
    buttons.push(button(Press::ApproveWithReason, approve_style, &value));
    buttons.push(button(Press::RejectWithReason, Some("danger"), &value));
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

/// `text` is the notification fallback, already mrkdwn-safe.
pub(crate) fn content(text: &str, blocks: Vec<Value>) -> Result<SlackMessageContent, RenderError> {
    let blocks: Vec<SlackBlock> = serde_json::from_value(Value::Array(blocks))?;
    Ok(SlackMessageContent::new()
        .with_text(cut(text, SECTION_TEXT_MAX))
        .with_blocks(blocks))
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

/// A `plain_text` object cut to `max`.
pub(crate) fn plain(text: &str, max: usize) -> Value {
    json!({"type": "plain_text", "text": cut(text, max), "emoji": true})
}

fn mrkdwn_field(label: &str, value: &str) -> Value {
    let head = format!("*{label}*\n");
    let text = head.clone() + &escape_cut(value, FIELD_MAX - utf16_len(&head));
    json!({"type": "mrkdwn", "text": text})
}

/// A Slack date in the reader's time zone, with a UTC fallback.
pub fn slack_date(at: DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} at {{time}}|{}>",
        at.timestamp(),
        at.format("%Y-%m-%d %H:%M UTC")
    )
}

/// A mrkdwn link, or `None` when `url` is not a plain http(s) URL.
pub(crate) fn link(url: &str, label: &str) -> Option<String> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && utf16_len(url) <= URL_MAX
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '|'));
    ok.then(|| format!("<{}|{label}>", url.replace('&', "&amp;")))
}

/// Escapes the three mrkdwn control characters.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escapes `text` and cuts it to `max` UTF-16 units, never inside an entity.
pub(crate) fn escape_cut(text: &str, max: usize) -> String {
    let escaped = escape(text);
    if utf16_len(&escaped) <= max {
        return escaped;
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let piece = escape(c.encode_utf8(&mut [0; 4]));
        let len = utf16_len(&piece);
        if used + len > max - 1 {
            out.push('…');
            return out;
        }
        used += len;
        out.push_str(&piece);
    }
    out
}

/// Cuts already-safe `text` to `max` UTF-16 units with an ellipsis.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if utf16_len(text) <= max {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        if used + c.len_utf16() > max - 1 {
            break;
        }
        used += c.len_utf16();
        out.push(c);
    }
    out.push('…');
    out
}

/// Length as Slack counts it (UTF-16 code units).
pub(crate) fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

#[cfg(test)]
mod tests;
