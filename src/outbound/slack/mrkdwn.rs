//! Slack-generic message pieces: mrkdwn escaping, cutting to Block Kit's limits, links, dates,
//! mentions, and the step from JSON blocks to slack-morphism's types. Pure: no I/O. Every
//! capability's renderer (`approvals::render`, `commands::deploy::render`,
//! `commands::redshift_alerts::render`) builds on these; none of them is about approvals.
//!
//! Untrusted text is escaped (`&`, `<`, `>` only, as
//! <https://docs.slack.dev/messaging/formatting-message-text#escaping> documents) and cut with an
//! ellipsis; lengths are counted in UTF-16 code units, the stricter reading of Slack's
//! "characters" in the limits of <https://docs.slack.dev/reference/block-kit/blocks>.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use slack_morphism::prelude::{SlackBlock, SlackMessageContent};

use crate::ids::{ChannelId, UserGroupId, UserId};

/// A section's `text`, and a message's fallback `text` as the bot sends it.
pub const SECTION_TEXT_MAX: usize = 3000;
/// One of a section's `fields`.
pub const FIELD_MAX: usize = 2000;
/// A header block's text.
pub const HEADER_MAX: usize = 150;
/// A link's URL.
const URL_MAX: usize = 3000;

/// A template produced something slack-morphism cannot read as Block Kit (a bug in the
/// template, never the user's input).
#[derive(Debug, thiserror::Error)]
#[error("rendered blocks are not valid Block Kit: {0}")]
pub struct RenderError(#[from] serde_json::Error);

/// A message of `blocks` with the notification fallback `text` (already mrkdwn-safe).
///
/// # Errors
/// Only on a template bug (see [`RenderError`]).
pub fn content(text: &str, blocks: Vec<Value>) -> Result<SlackMessageContent, RenderError> {
    let blocks: Vec<SlackBlock> = serde_json::from_value(Value::Array(blocks))?;
    Ok(SlackMessageContent::new()
        .with_text(cut(text, SECTION_TEXT_MAX))
        .with_blocks(blocks))
}

/// A `plain_text` object cut to `max`.
pub fn plain(text: &str, max: usize) -> Value {
    json!({"type": "plain_text", "text": cut(text, max), "emoji": true})
}

/// A section field `*label*` over the escaped `value`.
pub fn labelled_field(label: &str, value: &str) -> Value {
    let head = format!("*{label}*\n");
    let text = head.clone() + &escape_cut(value, FIELD_MAX - utf16_len(&head));
    json!({"type": "mrkdwn", "text": text})
}

/// A Slack date in the reader's time zone, with a UTC fallback.
pub fn date(at: DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} at {{time}}|{}>",
        at.timestamp(),
        at.format("%Y-%m-%d %H:%M UTC")
    )
}

/// A mrkdwn link, or `None` when `url` is not a plain http(s) URL.
pub fn link(url: &str, label: &str) -> Option<String> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && utf16_len(url) <= URL_MAX
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '|'));
    ok.then(|| format!("<{}|{label}>", url.replace('&', "&amp;")))
}

/// Someone or somewhere Slack names: a user, a user group or a channel, as a mention.
#[derive(Debug, Clone, Copy)]
pub enum Mention<'a> {
    User(&'a UserId),
    Group(&'a UserGroupId),
    Channel(&'a ChannelId),
}

impl std::fmt::Display for Mention<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Ids are validated (`U…`, `S…`: letters and digits), so they need no escaping.
        match self {
            Self::User(u) => write!(f, "<@{u}>"),
            Self::Group(g) => write!(f, "<!subteam^{g}>"),
            Self::Channel(c) => write!(f, "<#{c}>"),
        }
    }
}

/// The `users` and then the `groups` as mentions, comma-separated; `none` when both are empty.
pub fn mentions(users: &[UserId], groups: &[UserGroupId], none: &str) -> String {
    join(
        users
            .iter()
            .map(Mention::User)
            .chain(groups.iter().map(Mention::Group)),
        none,
    )
}

/// `names` comma-separated; `none` when there are none.
pub fn join<'a>(names: impl IntoIterator<Item = Mention<'a>>, none: &str) -> String {
    let all: Vec<String> = names.into_iter().map(|m| m.to_string()).collect();
    if all.is_empty() {
        none.to_owned()
    } else {
        all.join(", ")
    }
}

/// Escapes the three mrkdwn control characters.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escapes `text` and cuts it to `max` UTF-16 units, never inside an entity.
pub fn escape_cut(text: &str, max: usize) -> String {
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

/// Cuts already-safe `text` to `max` UTF-16 units (Slack's unit) with an ellipsis.
pub fn cut(text: &str, max: usize) -> String {
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
pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_and_groups_are_mentioned_in_order_and_nobody_is_named() {
        let users = [UserId::parse("U0ALICE").expect("user")];
        let groups = [UserGroupId::parse("S0REL").expect("group")];
        assert_eq!(
            mentions(&users, &groups, "nobody"),
            "<@U0ALICE>, <!subteam^S0REL>"
        );
        assert_eq!(mentions(&[], &[], "nobody"), "nobody");
    }

    #[test]
    fn cutting_counts_utf16_units_and_never_splits_an_entity() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("😀😀😀", 5), "😀😀…");
        assert_eq!(escape_cut("a<b", 3), "a…");
        assert_eq!(escape_cut("a<b", 10), "a&lt;b");
    }
}
