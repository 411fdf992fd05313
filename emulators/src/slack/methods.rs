//! The Web API methods chatops calls, each a function from arguments to the fields of an
//! `{"ok":true,...}` answer, listed in [`METHODS`] with the token type it needs.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::args::{known_channel, ApiError, Args, MethodResult};
use super::state::{Message, Shared, BOT_ID};
use super::{files, history};

/// Which kind of token a method accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TokenKind {
    /// `xoxb-…`
    Bot,
    /// `xapp-…` (Socket Mode only)
    App,
}

/// One Web API method.
pub(super) struct Method {
    pub(super) name: &'static str,
    pub(super) token: TokenKind,
    pub(super) run: fn(&Shared, &Args) -> MethodResult,
}

/// Every method the emulator answers; anything else is `unknown_method`.
pub(super) const METHODS: &[Method] = &[
    Method {
        name: "auth.test",
        token: TokenKind::Bot,
        run: auth_test,
    },
    Method {
        name: "apps.connections.open",
        token: TokenKind::App,
        run: connections_open,
    },
    Method {
        name: "chat.postMessage",
        token: TokenKind::Bot,
        run: post_message,
    },
    Method {
        name: "chat.update",
        token: TokenKind::Bot,
        run: update,
    },
    Method {
        name: "conversations.history",
        token: TokenKind::Bot,
        run: history::history,
    },
    Method {
        name: "conversations.replies",
        token: TokenKind::Bot,
        run: history::replies,
    },
    Method {
        name: "chat.postEphemeral",
        token: TokenKind::Bot,
        run: post_ephemeral,
    },
    Method {
        name: "usergroups.users.list",
        token: TokenKind::Bot,
        run: usergroup_users,
    },
    Method {
        name: "views.open",
        token: TokenKind::Bot,
        run: views_open,
    },
    Method {
        name: "files.getUploadURLExternal",
        token: TokenKind::Bot,
        run: files::get_upload_url,
    },
    Method {
        name: "files.completeUploadExternal",
        token: TokenKind::Bot,
        run: files::complete_upload,
    },
];

/// Longest `text` accepted by `chat.update` and `chat.postEphemeral`.
const MAX_TEXT: usize = 4000;

fn auth_test(shared: &Shared, _args: &Args) -> MethodResult {
    Ok(json!({
        "url": "https://emulated.slack.com/",
        "team": "Emulated Workspace",
        "user": "chatops",
        "team_id": shared.team_id,
        "user_id": shared.bot_user_id,
        "bot_id": BOT_ID,
    }))
}

fn connections_open(shared: &Shared, _args: &Args) -> MethodResult {
    let ticket = Uuid::new_v4().to_string();
    let mut inner = shared.lock();
    inner.tickets.insert(ticket.clone());
    inner.issued.push(ticket.clone());
    drop(inner);
    let url = format!(
        "ws://{}/link/?ticket={ticket}&app_id={}",
        shared.ws_addr, shared.app_id
    );
    Ok(json!({ "url": url }))
}

/// The `text` and `blocks` of a post or update.
struct Content {
    text: Option<String>,
    blocks: Option<Vec<Value>>,
}

impl Content {
    fn parse(args: &Args, max_text: Option<usize>) -> Result<Self, ApiError> {
        let text = args.str("text").map(str::to_owned);
        let blocks = args.blocks()?;
        if max_text.is_some_and(|max| text.as_ref().is_some_and(|t| t.chars().count() > max)) {
            return Err(ApiError::new("msg_too_long"));
        }
        Ok(Self { text, blocks })
    }

    /// Posts need something to show: text or at least one block.
    fn require_visible(&self) -> Result<(), ApiError> {
        if self.text.is_none() && self.blocks.as_ref().is_none_or(Vec::is_empty) {
            return Err(ApiError::new("no_text"));
        }
        Ok(())
    }

    fn blocks_value(&self) -> Value {
        self.blocks.clone().map_or(Value::Null, Value::Array)
    }
}

/// The `metadata` argument of a post or update (<https://api.slack.com/metadata/using>):
/// `None` when absent, `Null` for `{}` (chat.update's "remove it"), else the checked object.
///
/// # Errors
/// `invalid_metadata_format` when it is not a JSON object, `invalid_metadata_schema` when it
/// lacks a string `event_type` or has an `event_payload` that is not an object.
fn metadata(args: &Args) -> Result<Option<Value>, ApiError> {
    let metadata = match args.json("metadata") {
        None => return Ok(None),
        Some(Ok(Value::Object(m))) => m,
        Some(_) => return Err(ApiError::new("invalid_metadata_format")),
    };
    if metadata.is_empty() {
        return Ok(Some(Value::Null));
    }
    let typed = metadata.get("event_type").is_some_and(Value::is_string);
    let payload = metadata.get("event_payload");
    if !typed || payload.is_some_and(|p| !p.is_object()) {
        return Err(ApiError::new("invalid_metadata_schema"));
    }
    Ok(Some(Value::Object(metadata)))
}

fn post_message(shared: &Shared, args: &Args) -> MethodResult {
    let channel = known_channel(shared, args)?;
    let content = Content::parse(args, None)?;
    content.require_visible()?;
    let metadata = metadata(args)?.unwrap_or(Value::Null);
    let thread_ts = args.str("thread_ts").map(str::to_owned);
    let mut inner = shared.lock();
    if let Some(parent) = &thread_ts {
        if inner.message_mut(channel, parent).is_none() {
            return Err(ApiError::new("thread_not_found"));
        }
    }
    let message = Message {
        channel: channel.to_owned(),
        ts: inner.next_ts(),
        reply_broadcast: thread_ts.is_some() && args.flag("reply_broadcast"),
        thread_ts,
        user: shared.bot_user_id.clone(),
        blocks: content.blocks_value(),
        text: content.text,
        edited_count: 0,
        metadata,
    };
    let answer = json!({
        "channel": channel,
        "ts": message.ts,
        "message": shared.message_json(&message),
    });
    inner.messages.push(message);
    Ok(answer)
}

fn update(shared: &Shared, args: &Args) -> MethodResult {
    let channel = known_channel(shared, args)?;
    let ts = args.required("ts", "message_not_found")?;
    let content = Content::parse(args, Some(MAX_TEXT))?;
    if content.text.is_none() && content.blocks.is_none() {
        return Err(ApiError::new("no_text"));
    }
    let metadata = metadata(args)?;
    let mut inner = shared.lock();
    let message = inner
        .message_mut(channel, ts)
        .ok_or_else(|| ApiError::new("message_not_found"))?;
    if message.user != shared.bot_user_id {
        return Err(ApiError::new("cant_update_message"));
    }
    // Text without blocks removes the blocks; blocks without text keep the old text.
    message.blocks = content.blocks_value();
    if let Some(text) = content.text {
        message.text = Some(text);
    }
    // Without `metadata` the message keeps its own; `{}` removes it
    // (https://api.slack.com/methods/chat.update#arg_metadata).
    if let Some(metadata) = metadata {
        message.metadata = metadata;
    }
    message.edited_count += 1;
    let mut answer = json!({
        "channel": channel,
        "ts": ts,
        "text": message.text.clone().unwrap_or_default(),
        "message": shared.message_json(message),
    });
    if let Some(thread_ts) = &message.thread_ts {
        answer["thread_ts"] = json!(thread_ts);
    }
    drop(inner);
    shared.notify();
    Ok(answer)
}

fn post_ephemeral(shared: &Shared, args: &Args) -> MethodResult {
    let channel = known_channel(shared, args)?;
    let user = args.required("user", "user_not_in_channel")?;
    let content = Content::parse(args, Some(MAX_TEXT))?;
    content.require_visible()?;
    let mut inner = shared.lock();
    if !inner.users.contains_key(user) {
        return Err(ApiError::new("user_not_in_channel"));
    }
    let message = Message {
        channel: channel.to_owned(),
        ts: inner.next_ts(),
        thread_ts: args.str("thread_ts").map(str::to_owned),
        user: shared.bot_user_id.clone(),
        blocks: content.blocks_value(),
        text: content.text,
        edited_count: 0,
        metadata: Value::Null,
        reply_broadcast: false,
    };
    let answer = json!({ "message_ts": message.ts });
    inner.ephemerals.push((user.to_owned(), message));
    Ok(answer)
}

fn usergroup_users(shared: &Shared, args: &Args) -> MethodResult {
    let group = args.required("usergroup", "no_such_subteam")?;
    let inner = shared.lock();
    let users = inner
        .usergroups
        .get(group)
        .ok_or_else(|| ApiError::new("no_such_subteam"))?;
    Ok(json!({ "users": users }))
}

fn views_open(shared: &Shared, args: &Args) -> MethodResult {
    let trigger = args.required("trigger_id", "invalid_trigger_id")?;
    let view = args
        .object("view")
        .ok_or_else(|| ApiError::new("invalid_arguments"))?;
    let mut inner = shared.lock();
    match inner.triggers.get_mut(trigger) {
        None => return Err(ApiError::new("invalid_trigger_id")),
        Some(true) => return Err(ApiError::new("exchanged_trigger_id")),
        Some(used) => *used = true,
    }
    let id = format!("V{}", Uuid::new_v4().simple()).to_uppercase();
    let mut opened = Map::new();
    opened.extend(view);
    opened.extend([
        ("id".to_owned(), json!(id)),
        ("team_id".to_owned(), json!(shared.team_id)),
        ("app_id".to_owned(), json!(shared.app_id)),
        ("bot_id".to_owned(), json!(BOT_ID)),
        (
            "hash".to_owned(),
            json!(Uuid::new_v4().simple().to_string()),
        ),
        ("state".to_owned(), json!({ "values": {} })),
    ]);
    let opened = Value::Object(opened);
    inner.views.push(opened.clone());
    Ok(json!({ "view": opened }))
}
