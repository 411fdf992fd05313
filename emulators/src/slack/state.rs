//! The emulated workspace: tokens, channels, users, stored messages, response URLs, uploads,
//! open sockets and pending acks, all behind one mutex, plus a change signal that waiters poll
//! against; and [`SlackEmulator`], the handle on it.
//!
//! The bottom layer: it imports only `connections`. Every other module reads and writes
//! through [`Shared`], and each capability (`envelopes`, `files`, `response_url`, `socket`,
//! `ui`) adds its own methods to [`SlackEmulator`]; nothing here does I/O.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::time::Instant;

use super::connections::Connections;

/// Identity and credentials of the emulated workspace and app.
#[derive(Clone, Debug)]
pub struct SlackConfig {
    /// The bot token (`xoxb-…`) accepted by the bot methods.
    pub bot_token: String,
    /// The app-level token (`xapp-…`) accepted by `apps.connections.open`.
    pub app_token: String,
    /// Workspace id (`T…`).
    pub team_id: String,
    /// App id (`A…`), reported in `hello` and payloads.
    pub app_id: String,
    /// The bot's user id (`U…`), the author of everything it posts.
    pub bot_user_id: String,
}

impl Default for SlackConfig {
    fn default() -> Self {
        Self {
            bot_token: "xoxb-test-bot".to_owned(),
            app_token: "xapp-test-app".to_owned(),
            team_id: "T0TEST".to_owned(),
            app_id: "A0TEST".to_owned(),
            bot_user_id: "U0BOT".to_owned(),
        }
    }
}

/// Handle on a running emulator; cheap to clone, all clones see the same workspace.
#[derive(Clone)]
pub struct SlackEmulator {
    pub(super) shared: Arc<Shared>,
}

/// The bot id reported by `auth.test` and stamped on the bot's messages.
pub(super) const BOT_ID: &str = "B0EMULATOR";

/// A message as the emulator stores it, with its current content.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// Channel id the message lives in.
    pub channel: String,
    /// Slack timestamp, unique and increasing (`"1732790400.000100"`).
    pub ts: String,
    /// Parent message ts when this is a thread reply.
    pub thread_ts: Option<String>,
    /// The posting user: the bot user for everything posted through the Web API.
    pub user: String,
    /// The `text` field (notification fallback when blocks are present).
    pub text: Option<String>,
    /// The Block Kit blocks as an array, or `Null` when the message has none.
    pub blocks: Value,
    /// How many times the message was changed by `chat.update` or a `response_url` replace.
    pub edited_count: u32,
    /// The message metadata (`{"event_type", "event_payload"}`) it was posted with, or `Null`.
    pub metadata: Value,
    /// A thread reply also shown in the channel (`reply_broadcast`).
    pub reply_broadcast: bool,
}

/// A failure to inject into upcoming calls of one Web API method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 200 with `{"ok":false,"error":<code>}`.
    Error(String),
    /// HTTP 429 with `Retry-After` and `{"ok":false,"error":"ratelimited"}`.
    RateLimited {
        /// Value of the `Retry-After` header.
        retry_after_secs: u64,
    },
    /// HTTP 500.
    ServerError,
    /// HTTP 500, only after this many seconds: a Slack that hangs (for a test that looks at
    /// what the client did before the call returned).
    Stall { secs: u64 },
}

/// The client's answer to one envelope: `{"envelope_id":…,"payload"?:…}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ack {
    /// The optional response payload (slash command reply, view_submission action…).
    pub payload: Option<Value>,
}

/// One post received on a `response_url`.
#[derive(Clone, Debug, PartialEq)]
pub struct ResponsePost {
    /// `in_channel` or `ephemeral`; `None` means ephemeral.
    pub response_type: Option<String>,
    /// Replace the message that held the clicked element.
    pub replace_original: bool,
    /// Delete the message that held the clicked element.
    pub delete_original: bool,
    /// The reply's `text`.
    pub text: Option<String>,
    /// The reply's blocks, or `Null`.
    pub blocks: Value,
    /// The thread to reply in, when given.
    pub thread_ts: Option<String>,
}

/// Where a `response_url` points: the interaction it was issued for.
pub(super) struct ResponseTarget {
    pub(super) channel: String,
    pub(super) user: String,
    /// The clicked message; `None` for slash commands.
    pub(super) message_ts: Option<String>,
    pub(super) posts: Vec<ResponsePost>,
}

/// A file shared with `files.completeUploadExternal`.
#[derive(Clone, Debug, PartialEq)]
pub struct SharedFile {
    /// `F…` id.
    pub id: String,
    pub filename: String,
    pub title: Option<String>,
    pub alt_txt: Option<String>,
    /// The bytes POSTed to the upload URL.
    pub bytes: Vec<u8>,
    /// The channel it was shared in (`None`: kept private).
    pub channel: Option<String>,
    pub initial_comment: Option<String>,
    /// The share message's ts, when shared in a channel.
    pub message_ts: Option<String>,
}

/// An upload between its URL and its completion.
#[derive(Debug)]
pub(super) struct Upload {
    pub(super) key: String,
    pub(super) received: Option<Vec<u8>>,
    pub(super) file: SharedFile,
    pub(super) completed: bool,
}

/// A demo control: runs when its button is pressed, answers a line for the page.
pub type Control = Arc<dyn Fn() -> BoxFuture<'static, Result<String, String>> + Send + Sync>;

/// Everything mutable about the workspace.
pub(super) struct Inner {
    pub(super) bot_token: String,
    pub(super) app_token: String,
    pub(super) revoked: HashSet<String>,
    pub(super) channels: HashMap<String, String>,
    pub(super) users: HashMap<String, String>,
    pub(super) usergroups: HashMap<String, Vec<String>>,
    pub(super) messages: Vec<Message>,
    /// Ephemeral messages with the user who may see them.
    pub(super) ephemerals: Vec<(String, Message)>,
    pub(super) failures: HashMap<String, VecDeque<Failure>>,
    pub(super) calls: HashMap<String, usize>,
    /// When each call of a method arrived, in order.
    pub(super) call_times: HashMap<String, Vec<std::time::Instant>>,
    pub(super) tickets: HashSet<String>,
    /// Every Socket Mode ticket and `response_url` handed out, used or not (for tests that
    /// look for them where they must not be, such as logs).
    pub(super) issued: Vec<String>,
    /// Trigger ids handed out in envelopes; `true` once `views.open` used one.
    pub(super) triggers: HashMap<String, bool>,
    pub(super) views: Vec<Value>,
    /// `files.getUploadURLExternal` uploads, pending and shared.
    pub(super) uploads: Vec<Upload>,
    pub(super) response_urls: HashMap<String, ResponseTarget>,
    pub(super) connections: Connections,
    /// New sockets get no `hello` (a Slack that accepted the upgrade but never greets).
    pub(super) withhold_hello: bool,
    pub(super) acks: HashMap<String, Vec<Ack>>,
    /// Demo controls of the browser UI, in the order they were added.
    pub(super) controls: Vec<(String, Control)>,
    last_ts: (u64, u32),
}

impl Inner {
    /// A fresh message timestamp: wall clock, bumped so it is always greater than the last one.
    pub(super) fn next_ts(&mut self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let candidate = (now.as_secs(), now.subsec_micros());
        self.last_ts = if candidate > self.last_ts {
            candidate
        } else if self.last_ts.1 < 999_999 {
            (self.last_ts.0, self.last_ts.1 + 1)
        } else {
            (self.last_ts.0 + 1, 0)
        };
        format!("{}.{:06}", self.last_ts.0, self.last_ts.1)
    }

    /// The display name of a user, falling back to the id for unknown users.
    pub(super) fn user_name(&self, user_id: &str) -> String {
        self.users
            .get(user_id)
            .cloned()
            .unwrap_or_else(|| user_id.to_owned())
    }

    /// How many replies the thread under `message` has (0 for a reply itself).
    pub(super) fn reply_count(&self, message: &Message) -> usize {
        let replies = self.messages.iter().filter(|m| {
            m.channel == message.channel && m.thread_ts.as_deref() == Some(message.ts.as_str())
        });
        replies.count()
    }

    pub(super) fn message_mut(&mut self, channel: &str, ts: &str) -> Option<&mut Message> {
        // Newest first: what is updated is mostly what was posted last.
        self.messages
            .iter_mut()
            .rev()
            .find(|m| m.channel == channel && m.ts == ts)
    }
}

/// The state shared by the HTTP server, the socket tasks and the test-facing handle.
pub(super) struct Shared {
    pub(super) team_id: String,
    pub(super) app_id: String,
    pub(super) bot_user_id: String,
    pub(super) http_addr: SocketAddr,
    pub(super) ws_addr: SocketAddr,
    inner: Mutex<Inner>,
    changes: watch::Sender<()>,
}

impl Shared {
    pub(super) fn new(config: SlackConfig, http_addr: SocketAddr, ws_addr: SocketAddr) -> Self {
        let inner = Inner {
            bot_token: config.bot_token,
            app_token: config.app_token,
            revoked: HashSet::new(),
            channels: HashMap::new(),
            users: HashMap::new(),
            usergroups: HashMap::new(),
            messages: Vec::new(),
            ephemerals: Vec::new(),
            failures: HashMap::new(),
            calls: HashMap::new(),
            call_times: HashMap::new(),
            tickets: HashSet::new(),
            issued: Vec::new(),
            triggers: HashMap::new(),
            views: Vec::new(),
            uploads: Vec::new(),
            response_urls: HashMap::new(),
            connections: Connections::default(),
            withhold_hello: false,
            acks: HashMap::new(),
            controls: Vec::new(),
            last_ts: (0, 0),
        };
        Self {
            team_id: config.team_id,
            app_id: config.app_id,
            bot_user_id: config.bot_user_id,
            http_addr,
            ws_addr,
            inner: Mutex::new(inner),
            changes: watch::Sender::new(()),
        }
    }

    /// Locks the workspace. A panic elsewhere cannot leave it half-written in a way that
    /// matters to a test double, so a poisoned lock is simply taken over.
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes every [`Shared::wait_for`] so it re-checks its condition.
    pub(super) fn notify(&self) {
        self.changes.send_modify(|()| ());
    }

    /// Runs `check` now and after every change until it yields a value or `deadline` passes.
    pub(super) async fn wait_for<T>(
        &self,
        deadline: Duration,
        mut check: impl FnMut(&mut Inner) -> Option<T>,
    ) -> Option<T> {
        let until = Instant::now() + deadline;
        let mut changes = self.changes.subscribe();
        loop {
            let found = check(&mut self.lock());
            if found.is_some() {
                return found;
            }
            match tokio::time::timeout_at(until, changes.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    /// `http://127.0.0.1:PORT`, the root of the HTTP listener.
    pub(super) fn base_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// The JSON form of a stored message, as Slack returns it in API answers and payloads.
    pub(super) fn message_json(&self, message: &Message) -> Value {
        let mut json = json!({
            "type": "message",
            "ts": message.ts,
            "user": message.user,
            "team": self.team_id,
            "text": message.text.clone().unwrap_or_default(),
        });
        if message.blocks.is_array() {
            json["blocks"] = message.blocks.clone();
        }
        if let Some(thread_ts) = &message.thread_ts {
            json["thread_ts"] = json!(thread_ts);
        }
        if message.reply_broadcast {
            json["subtype"] = json!("thread_broadcast");
        }
        if message.user == self.bot_user_id {
            json["bot_id"] = json!(BOT_ID);
            json["app_id"] = json!(self.app_id);
        }
        json
    }
}
