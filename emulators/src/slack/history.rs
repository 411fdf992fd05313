//! Reading a conversation back: `conversations.history` (the channel's own timeline, newest
//! first) and `conversations.replies` (a thread, its parent first, then the replies oldest
//! first), both paged with a cursor and bounded by `oldest` / `latest`, as Slack documents them
//! (<https://api.slack.com/methods/conversations.history>,
//! <https://api.slack.com/methods/conversations.replies>). Message metadata is returned only to
//! a caller that asks with `include_all_metadata` (<https://api.slack.com/metadata/using>).

use serde_json::{json, Value};

use super::args::{known_channel, ApiError, Args, MethodResult};
use super::state::{Inner, Message, Shared};

/// `conversations.history`'s default page size, and its maximum.
const HISTORY_LIMIT: (usize, usize) = (100, 999);
/// `conversations.replies`'s default page size, and its maximum.
const REPLIES_LIMIT: (usize, usize) = (1000, 1000);
/// Cursors are opaque to clients; this one names the `ts` the next page starts at.
const CURSOR_PREFIX: &str = "next_ts:";

/// A Slack timestamp as a comparable pair: seconds and microseconds (`"1712.5"` is
/// `(1712, 500000)`).
fn instant(ts: &str) -> Option<(u64, u32)> {
    let (secs, fraction) = ts.split_once('.').unwrap_or((ts, "0"));
    if fraction.len() > 6 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros = format!("{fraction:0<6}").parse().ok()?;
    Some((secs.parse().ok()?, micros))
}

/// The time window and page of one call.
struct Window {
    oldest: Option<(u64, u32)>,
    latest: Option<(u64, u32)>,
    inclusive: bool,
    include_metadata: bool,
    limit: usize,
    cursor: Option<(u64, u32)>,
}

impl Window {
    fn parse(args: &Args, (default, max): (usize, usize)) -> Result<Self, ApiError> {
        let bound = |key| match args.str(key) {
            None => Ok(None),
            Some(ts) => instant(ts)
                .map(Some)
                .ok_or_else(|| ApiError::new("invalid_ts_oldest")),
        };
        let cursor = match args.str("cursor") {
            None => None,
            Some(c) => Some(
                c.strip_prefix(CURSOR_PREFIX)
                    .and_then(instant)
                    .ok_or_else(|| ApiError::new("invalid_cursor"))?,
            ),
        };
        Ok(Self {
            oldest: bound("oldest")?,
            latest: bound("latest")?,
            inclusive: args.flag("inclusive"),
            include_metadata: args.flag("include_all_metadata"),
            limit: args
                .count("limit")
                .filter(|l| *l > 0)
                .unwrap_or(default)
                .min(max),
            cursor,
        })
    }

    /// Whether `ts` lies between `oldest` and `latest` (each bound included when `inclusive`).
    fn contains(&self, ts: (u64, u32)) -> bool {
        let after = self
            .oldest
            .is_none_or(|o| ts > o || (self.inclusive && ts == o));
        let before = self
            .latest
            .is_none_or(|l| ts < l || (self.inclusive && ts == l));
        after && before
    }

    /// One page of `messages` (already in answer order, each with its instant), from the
    /// cursor on, and the answer's `messages` / `has_more` / `response_metadata` fields.
    fn page(
        &self,
        (shared, inner): (&Shared, &Inner),
        head: Option<&Message>,
        messages: &[(&Message, (u64, u32))],
    ) -> Value {
        let start = self.cursor.map_or(0, |c| {
            messages
                .iter()
                .position(|(_, at)| *at == c)
                .unwrap_or(messages.len())
        });
        let rest = &messages[start..];
        let page = &rest[..rest.len().min(self.limit)];
        let mut listed: Vec<Value> = head.iter().map(|m| self.json(shared, inner, m)).collect();
        listed.extend(page.iter().map(|(m, _)| self.json(shared, inner, m)));
        let mut answer = json!({ "messages": listed, "has_more": rest.len() > page.len() });
        if let Some((next, _)) = rest.get(page.len()) {
            answer["response_metadata"] =
                json!({ "next_cursor": format!("{CURSOR_PREFIX}{}", next.ts) });
        }
        answer
    }

    /// A message as these methods list it: with its metadata when asked for, and a thread
    /// parent with its reply count.
    fn json(&self, shared: &Shared, inner: &Inner, message: &Message) -> Value {
        let mut json = shared.message_json(message);
        if self.include_metadata && !message.metadata.is_null() {
            json["metadata"] = message.metadata.clone();
        }
        let replies = inner.reply_count(message);
        if replies > 0 {
            json["thread_ts"] = json!(message.ts);
            json["reply_count"] = json!(replies);
        }
        json
    }
}

/// `conversations.history`: the channel's top-level messages and thread broadcasts, newest
/// first.
pub(super) fn history(shared: &Shared, args: &Args) -> MethodResult {
    let channel = known_channel(shared, args)?;
    let window = Window::parse(args, HISTORY_LIMIT)?;
    let inner = shared.lock();
    let mut listed: Vec<(&Message, (u64, u32))> = inner
        .messages
        .iter()
        .filter(|m| m.channel == channel && (m.thread_ts.is_none() || m.reply_broadcast))
        .filter_map(|m| Some((m, instant(&m.ts)?)))
        .filter(|(_, at)| window.contains(*at))
        .collect();
    listed.sort_by_key(|(_, at)| std::cmp::Reverse(*at));
    let mut answer = window.page((shared, &inner), None, &listed);
    answer["pin_count"] = json!(0);
    Ok(answer)
}

/// `conversations.replies`: the thread of `ts` (its parent, or one of its replies), the
/// parent first on every page, then the replies oldest first.
pub(super) fn replies(shared: &Shared, args: &Args) -> MethodResult {
    let channel = known_channel(shared, args)?;
    let ts = args.required("ts", "thread_not_found")?;
    let window = Window::parse(args, REPLIES_LIMIT)?;
    let inner = shared.lock();
    let in_channel = || inner.messages.iter().filter(|m| m.channel == channel);
    let asked = in_channel()
        .find(|m| m.ts == ts)
        .ok_or_else(|| ApiError::new("thread_not_found"))?;
    let root = asked.thread_ts.as_deref().unwrap_or(&asked.ts);
    let parent = in_channel()
        .find(|m| m.ts == root)
        .ok_or_else(|| ApiError::new("thread_not_found"))?;
    let mut listed: Vec<(&Message, (u64, u32))> = in_channel()
        .filter(|m| m.thread_ts.as_deref() == Some(root))
        .filter_map(|m| Some((m, instant(&m.ts)?)))
        .filter(|(_, at)| window.contains(*at))
        .collect();
    listed.sort_by_key(|(_, at)| *at);
    Ok(window.page((shared, &inner), Some(parent), &listed))
}

#[cfg(test)]
mod tests {
    use super::instant;

    #[test]
    fn timestamps_compare_by_seconds_then_microseconds() {
        assert_eq!(instant("1712.5"), Some((1712, 500_000)));
        assert_eq!(instant("1712"), Some((1712, 0)));
        assert!(instant("1712.000010") < instant("1712.0001"));
        assert_eq!(instant("soon"), None);
    }
}
