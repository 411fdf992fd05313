//! How a prompt ends or progresses: the outcome line that replaces its buttons, and the
//! quorum's progress line above them. Pure: no I/O.

use serde_json::{json, Value};
use slack_morphism::prelude::{SlackBlock, SlackMessageContent};

use super::{ACTIONS_BLOCK, OUTCOME_BLOCK, VOTES_BLOCK};
use crate::approvals::{Decision, Outcome};
use crate::ids::UserId;
use crate::outbound::slack::mrkdwn::{content, date, escape_cut, mentions, RenderError};

/// The prompt as it stands (`current` blocks and mrkdwn-safe `fallback` text) with its buttons
/// replaced by `outcome`.
///
/// # Errors
/// Only on a template bug (see [`RenderError`]).
pub fn restamp(
    current: &[SlackBlock],
    fallback: &str,
    outcome: &Outcome,
) -> Result<SlackMessageContent, RenderError> {
    let mut blocks = without(current, &[ACTIONS_BLOCK, OUTCOME_BLOCK, VOTES_BLOCK])?;
    blocks.push(json!({"type": "section", "block_id": OUTCOME_BLOCK,
        "text": {"type": "mrkdwn", "text": outcome_line(outcome)}}));
    content(&format!("{fallback}: {}", outcome_summary(outcome)), blocks)
}

/// The prompt as it stands, still open, with the quorum's progress `line` (mrkdwn-safe) above
/// its buttons.
///
/// # Errors
/// Only on a template bug (see [`RenderError`]).
pub fn progress(
    current: &[SlackBlock],
    fallback: &str,
    line: &str,
) -> Result<SlackMessageContent, RenderError> {
    let mut blocks = without(current, &[OUTCOME_BLOCK, VOTES_BLOCK])?;
    let at = blocks
        .iter()
        .position(|b| b.get("block_id").and_then(Value::as_str) == Some(ACTIONS_BLOCK))
        .unwrap_or(blocks.len());
    blocks.insert(
        at,
        json!({"type": "section", "block_id": VOTES_BLOCK,
            "text": {"type": "mrkdwn", "text": format!(":ballot_box_with_check: {line}")}}),
    );
    content(fallback, blocks)
}

fn without(current: &[SlackBlock], ids: &[&str]) -> Result<Vec<Value>, RenderError> {
    Ok(serde_json::to_value(current)?
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|b| {
            let id = b.get("block_id").and_then(Value::as_str);
            !id.is_some_and(|id| ids.contains(&id))
        })
        .collect())
}

fn deciders(users: &[UserId]) -> String {
    mentions(users, &[], "nobody")
}

fn outcome_line(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Decided {
            decision,
            users,
            comment,
            at,
        } => {
            let mark = match decision {
                Decision::Approve => ":white_check_mark:",
                Decision::Reject => ":x:",
            };
            let mut line = format!(
                "{mark} *{}* by {} {}",
                decision.past_tense(),
                deciders(users),
                date(*at)
            );
            if let Some(c) = comment.as_deref().filter(|c| !c.trim().is_empty()) {
                line.push_str(&format!(
                    "\n> {}",
                    escape_cut(c, 1000).replace('\n', "\n> ")
                ));
            }
            line
        }
        Outcome::AlreadyDecided { at } => format!(
            ":information_source: This approval was already decided outside this prompt (seen {}).",
            date(*at)
        ),
        Outcome::NoLongerValid { at } => format!(
            ":hourglass: This approval expired or was superseded (seen {}).",
            date(*at)
        ),
        Outcome::DecidedElsewhere {
            decision,
            by,
            summary,
            at,
        } => {
            let mut line = format!(
                ":information_source: *{} outside Slack* (console, CLI or another channel)",
                decision.past_tense()
            );
            if let Some(by) = by {
                line.push_str(&format!(" by `{}`", escape_cut(by, 200)));
            }
            line.push_str(&format!(", seen {}.", date(*at)));
            if let Some(s) = summary.as_deref().filter(|s| !s.trim().is_empty()) {
                line.push_str(&format!("\n> {}", escape_cut(s, 600).replace('\n', "\n> ")));
            }
            line
        }
        Outcome::Expired { at } => format!(
            ":hourglass: *Expired*: nobody decided within CodePipeline's 7 days (seen {}).",
            date(*at)
        ),
        Outcome::Superseded { at } => format!(
            ":fast_forward: *Superseded* by a newer execution (seen {}).",
            date(*at)
        ),
        Outcome::Stopped { at } => {
            format!(":octagonal_sign: *Execution stopped* (seen {}).", date(*at))
        }
    }
}

fn outcome_summary(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Decided {
            decision, users, ..
        } => format!("{} by {}", decision.past_tense(), deciders(users)),
        Outcome::AlreadyDecided { .. } => "already decided".into(),
        Outcome::NoLongerValid { .. } => "expired or superseded".into(),
        Outcome::DecidedElsewhere { decision, .. } => {
            format!("{} outside Slack", decision.past_tense().to_lowercase())
        }
        Outcome::Expired { .. } => "expired".into(),
        Outcome::Superseded { .. } => "superseded".into(),
        Outcome::Stopped { .. } => "execution stopped".into(),
    }
}
