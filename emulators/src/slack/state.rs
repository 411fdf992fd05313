//! The emulated workspace: tokens, channels, users, stored messages, open sockets and
//! pending acks, all behind one mutex, plus a change signal that waiters poll against.
//!
//! Every other module reads and writes through [`Shared`]; nothing here does I/O.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::time::Instant;

use super::envelopes::Ack;
use super::response_url::ResponseTarget;
use super::socket::Connection;
use super::ui::Control;
use super::SlackConfig;

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
}

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
    pub(super) tickets: HashSet<String>,
    /// Trigger ids handed out in envelopes; `true` once `views.open` used one.
    pub(super) triggers: HashMap<String, bool>,
    pub(super) views: Vec<Value>,
    /// `files.getUploadURLExternal` uploads, pending and shared.
    pub(super) uploads: Vec<super::files::Upload>,
    pub(super) response_urls: HashMap<String, ResponseTarget>,
    /// Sockets in connection order, the oldest first.
    pub(super) connections: Vec<Connection>,
    pub(super) next_connection_id: u64,
    pub(super) round_robin: usize,
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

    pub(super) fn message_mut(&mut self, channel: &str, ts: &str) -> Option<&mut Message> {
        self.messages
            .iter_mut()
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
            tickets: HashSet::new(),
            triggers: HashMap::new(),
            views: Vec::new(),
            uploads: Vec::new(),
            response_urls: HashMap::new(),
            connections: Vec::new(),
            next_connection_id: 0,
            round_robin: 0,
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
        if message.user == self.bot_user_id {
            json["bot_id"] = json!(BOT_ID);
            json["app_id"] = json!(self.app_id);
        }
        json
    }
}
