//! Slack emulator: the Web API methods and the Socket Mode WebSocket chatops uses, served on
//! loopback so integration tests (and the local sandbox) run the real bot end to end.
//!
//! Map, bottom up: each module imports only modules listed before it. `blocks` checks Block
//! Kit limits; `connections` keeps the sockets' command channels and their round robin;
//! `state` holds the workspace behind one mutex and defines the [`SlackEmulator`] handle;
//! `args` reads Web API arguments and writes JSON answers; `response_url` serves interaction
//! reply URLs; `envelopes` builds and routes envelopes and waits for their acks; `files` takes
//! file uploads (upload URL, bytes, completion); `history` reads channels and threads back;
//! `methods` runs the Web API methods; `socket`
//! runs the WebSocket listener; `ui` serves the sandbox's browser page; `web_api` serves HTTP,
//! checking tokens and playing injected failures before `methods` runs. This file, on top,
//! starts both listeners and seeds the workspace.
//!
//! Behaviour follows Slack's documentation: Socket Mode
//! (<https://docs.slack.dev/apis/events-api/using-socket-mode>), interactions and their
//! `response_url`s (<https://docs.slack.dev/interactivity/handling-user-interaction/>), the Web
//! API methods (<https://docs.slack.dev/reference/methods/>) and Block Kit's limits
//! (<https://docs.slack.dev/reference/block-kit/blocks>).

mod args;
mod blocks;
mod connections;
mod envelopes;
mod files;
mod history;
mod methods;
mod response_url;
mod socket;
mod state;
mod ui;
mod web_api;

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use envelopes::{EmulatorError, Envelope};
pub use state::{
    Ack, Control, Failure, Message, ResponsePost, SharedFile, SlackConfig, SlackEmulator,
};

use state::Shared;

impl SlackEmulator {
    /// Binds the Web API (HTTP) and the Socket Mode WebSocket on `127.0.0.1:0` each and
    /// serves both until `shutdown` is cancelled.
    ///
    /// # Errors
    /// Binding either listener failed.
    pub async fn start(
        config: SlackConfig,
        shutdown: CancellationToken,
    ) -> std::io::Result<SlackEmulator> {
        let http = TcpListener::bind("127.0.0.1:0").await?;
        let ws = TcpListener::bind("127.0.0.1:0").await?;
        let shared = Arc::new(Shared::new(config, http.local_addr()?, ws.local_addr()?));
        tokio::spawn(web_api::serve(http, shared.clone(), shutdown.clone()));
        tokio::spawn(socket::serve(ws, shared.clone(), shutdown));
        Ok(SlackEmulator { shared })
    }

    /// `http://127.0.0.1:PORT/api`, without a trailing slash: methods live at
    /// `{api_url}/{method}` (what slack-morphism's `with_slack_api_url` expects).
    pub fn api_url(&self) -> String {
        format!("{}/api", self.shared.base_url())
    }

    /// Adds a channel; `chat.*` calls to unknown channels fail with `channel_not_found`.
    pub fn add_channel(&self, id: &str, name: &str) {
        let mut inner = self.shared.lock();
        inner.channels.insert(id.to_owned(), name.to_owned());
    }

    /// Adds a user (needed as `chat.postEphemeral` target; names show up in payloads).
    pub fn add_user(&self, id: &str, name: &str) {
        let mut inner = self.shared.lock();
        inner.users.insert(id.to_owned(), name.to_owned());
    }

    /// Adds (or replaces) a user group for `usergroups.users.list`.
    pub fn add_usergroup(&self, id: &str, members: &[&str]) {
        let members = members.iter().map(|&m| m.to_owned()).collect();
        self.shared.lock().usergroups.insert(id.to_owned(), members);
    }

    /// Stores a message written by a human `user` (one the bot may not `chat.update`);
    /// returns its ts.
    pub fn add_user_message(&self, channel: &str, user: &str, text: &str) -> String {
        let mut inner = self.shared.lock();
        let ts = inner.next_ts();
        inner.messages.push(Message {
            channel: channel.to_owned(),
            ts: ts.clone(),
            thread_ts: None,
            user: user.to_owned(),
            text: Some(text.to_owned()),
            blocks: Value::Null,
            edited_count: 0,
            metadata: Value::Null,
            reply_broadcast: false,
        });
        ts
    }

    /// The app's id (as `hello` and every payload name it) and the workspace's team id.
    pub fn app_and_team(&self) -> (String, String) {
        (self.shared.app_id.clone(), self.shared.team_id.clone())
    }

    /// Rotates the bot token: the previous one now answers `token_revoked`.
    pub fn set_bot_token(&self, token: &str) {
        let mut inner = self.shared.lock();
        let old = std::mem::replace(&mut inner.bot_token, token.to_owned());
        rotate(&mut inner.revoked, old, token);
    }

    /// Rotates the app-level token: the previous one now answers `token_revoked`.
    pub fn set_app_token(&self, token: &str) {
        let mut inner = self.shared.lock();
        let old = std::mem::replace(&mut inner.app_token, token.to_owned());
        rotate(&mut inner.revoked, old, token);
    }

    /// Waits until `check` holds for the message at (`channel`, `ts`), woken by each
    /// `chat.update` (no polling delay: what a benchmark times); the message then, or `None`
    /// when `deadline` passed first.
    pub async fn wait_for_message(
        &self,
        channel: &str,
        ts: &str,
        deadline: std::time::Duration,
        check: impl Fn(&Message) -> bool,
    ) -> Option<Message> {
        self.shared
            .wait_for(deadline, |inner| {
                inner
                    .messages
                    .iter()
                    .find(|m| m.channel == channel && m.ts == ts)
                    .filter(|m| check(m))
                    .cloned()
            })
            .await
    }

    /// Top-level and thread messages of `channel` in post order, with current content.
    pub fn messages(&self, channel: &str) -> Vec<Message> {
        let inner = self.shared.lock();
        let in_channel = inner.messages.iter().filter(|m| m.channel == channel);
        in_channel.cloned().collect()
    }

    /// The last `n` messages of `channel` (top-level and thread), in post order, with current
    /// content: for a long run, where copying every message on each look would cost more than
    /// the run.
    pub fn recent_messages(&self, channel: &str, n: usize) -> Vec<Message> {
        let inner = self.shared.lock();
        let in_channel = inner.messages.iter().rev().filter(|m| m.channel == channel);
        let mut recent: Vec<Message> = in_channel.take(n).cloned().collect();
        recent.reverse();
        recent
    }

    /// Ephemeral messages shown to `user` in `channel`, in post order.
    pub fn ephemerals(&self, channel: &str, user: &str) -> Vec<Message> {
        let inner = self.shared.lock();
        let visible = inner.ephemerals.iter();
        let visible = visible.filter(|(to, m)| to == user && m.channel == channel);
        visible.map(|(_, m)| m.clone()).collect()
    }

    /// Makes the next `times` calls of `method` fail with `failure` (queued after any
    /// failures injected earlier).
    pub fn fail_next(&self, method: &str, failure: Failure, times: u32) {
        let mut inner = self.shared.lock();
        let queue = inner.failures.entry(method.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(failure, times as usize));
    }

    /// Drops the failures still queued for `method`: Slack answers it again.
    pub fn clear_failures(&self, method: &str) {
        self.shared.lock().failures.remove(method);
    }

    /// How many calls reached `method`, failed ones included.
    pub fn calls(&self, method: &str) -> usize {
        self.shared.lock().calls.get(method).copied().unwrap_or(0)
    }

    /// Every Socket Mode ticket and `response_url` id handed out so far: secrets a log must
    /// never show.
    pub fn issued_secrets(&self) -> Vec<String> {
        self.shared.lock().issued.clone()
    }

    /// When each call that reached `method` arrived, in order (failed ones included).
    pub fn call_times(&self, method: &str) -> Vec<std::time::Instant> {
        self.shared
            .lock()
            .call_times
            .get(method)
            .cloned()
            .unwrap_or_default()
    }

    /// Views opened with `views.open`, as answered (with their `id`), in order.
    pub fn views_opened(&self) -> Vec<Value> {
        self.shared.lock().views.clone()
    }
}

/// Revokes `old` unless it is also the new token; a token reinstated is valid again.
fn rotate(revoked: &mut HashSet<String>, old: String, new: &str) {
    revoked.remove(new);
    if old != new {
        revoked.insert(old);
    }
}
