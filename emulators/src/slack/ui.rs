//! The sandbox's browser UI, served by the emulator's own HTTP listener at `/`: a channel the
//! way Slack shows it (Block Kit, threads, ephemeral messages), buttons that send real
//! `block_actions` envelopes, a composer that sends real `slash_commands` envelopes, and demo
//! controls registered by whoever runs the emulator (the sandbox advances pipelines with them).
//! Plain HTML/CSS/JS in `ui/`, no build step.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::args::json_response;
use super::state::{Control, Message, Shared, SlackEmulator};

/// How long the UI waits for the bot to ack a slash command before showing nothing.
const ACK_WAIT: Duration = Duration::from_secs(3);

/// The UI routes, merged into the Web API router.
pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/",
            get(|| asset("text/html; charset=utf-8", include_str!("ui/index.html"))),
        )
        .route(
            "/ui/style.css",
            get(|| asset("text/css", include_str!("ui/style.css"))),
        )
        .route(
            "/ui/app.js",
            get(|| asset("text/javascript", include_str!("ui/app.js"))),
        )
        .route("/ui/workspace", get(workspace))
        .route("/ui/channel", get(channel))
        .route("/ui/click", post(click))
        .route("/ui/command", post(command))
        .route("/ui/control/{id}", post(control))
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(CONTENT_TYPE, content_type)], body).into_response()
}

fn fail(status: StatusCode, error: impl ToString) -> Response {
    json_response(status, &json!({"error": error.to_string()}))
}

impl SlackEmulator {
    /// The UI's address: `http://127.0.0.1:PORT/`.
    pub fn ui_url(&self) -> String {
        format!("{}/", self.shared.base_url())
    }

    /// Adds a button to the UI's demo controls.
    pub fn add_control(&self, label: &str, action: Control) {
        self.shared.lock().controls.push((label.to_owned(), action));
    }
}

async fn workspace(State(shared): State<Arc<Shared>>) -> Response {
    let inner = shared.lock();
    let mut channels: Vec<Value> = inner
        .channels
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name}))
        .collect();
    channels.sort_by_key(|c| c["name"].as_str().map(str::to_owned));
    let mut users: Vec<Value> = inner
        .users
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name}))
        .collect();
    users.sort_by_key(|u| u["name"].as_str().map(str::to_owned));
    users.push(json!({"id": shared.bot_user_id, "name": "chatops"}));
    let controls: Vec<Value> = inner
        .controls
        .iter()
        .enumerate()
        .map(|(id, (label, _))| json!({"id": id, "label": label}))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"channels": channels, "users": users, "controls": controls}),
    )
}

#[derive(Deserialize)]
struct ChannelQuery {
    channel: String,
    user: String,
}

/// The channel as `user` sees it: top-level messages and their thread replies, with the
/// user's ephemeral messages in time order.
async fn channel(State(shared): State<Arc<Shared>>, Query(q): Query<ChannelQuery>) -> Response {
    let inner = shared.lock();
    let is_reply = |m: &Message| m.thread_ts.as_deref().is_some_and(|t| t != m.ts);
    let mut timeline: Vec<(String, Value)> = inner
        .messages
        .iter()
        .filter(|m| m.channel == q.channel && !is_reply(m))
        .map(|m| {
            let replies: Vec<Value> = inner
                .messages
                .iter()
                .filter(|r| {
                    r.channel == q.channel && is_reply(r) && r.thread_ts.as_ref() == Some(&m.ts)
                })
                .map(message_json)
                .collect();
            (
                m.ts.clone(),
                json!({"message": message_json(m), "ephemeral": false, "replies": replies}),
            )
        })
        .collect();
    timeline.extend(
        inner
            .ephemerals
            .iter()
            .filter(|(to, m)| *to == q.user && m.channel == q.channel)
            .map(|(_, m)| {
                (
                    m.ts.clone(),
                    json!({"message": message_json(m), "ephemeral": true, "replies": []}),
                )
            }),
    );
    timeline.sort_by(|a, b| a.0.cmp(&b.0));
    let timeline: Vec<Value> = timeline.into_iter().map(|(_, v)| v).collect();
    json_response(StatusCode::OK, &json!({"timeline": timeline}))
}

fn message_json(m: &Message) -> Value {
    json!({
        "ts": m.ts, "user": m.user, "text": m.text, "blocks": m.blocks,
        "edited_count": m.edited_count,
    })
}

#[derive(Deserialize)]
struct ClickRequest {
    channel: String,
    ts: String,
    action_id: String,
    user: String,
}

async fn click(State(shared): State<Arc<Shared>>, Json(c): Json<ClickRequest>) -> Response {
    let emulator = SlackEmulator { shared };
    match emulator
        .click(&c.channel, &c.ts, &c.action_id, &c.user)
        .await
    {
        Ok(envelope) => json_response(
            StatusCode::OK,
            &json!({"envelope_id": envelope.envelope_id}),
        ),
        Err(e) => fail(StatusCode::BAD_REQUEST, e),
    }
}

#[derive(Deserialize)]
struct CommandRequest {
    channel: String,
    user: String,
    command: String,
    text: String,
}

/// Sends a slash command and shows the ack's reply, as Slack does: in the channel for
/// `response_type: in_channel`, else only to the user.
async fn command(State(shared): State<Arc<Shared>>, Json(c): Json<CommandRequest>) -> Response {
    let emulator = SlackEmulator {
        shared: shared.clone(),
    };
    let envelope = match emulator
        .slash_command(&c.channel, &c.user, &c.command, &c.text)
        .await
    {
        Ok(e) => e,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    let Some(payload) = envelope.acked(ACK_WAIT).await.and_then(|a| a.payload) else {
        return fail(
            StatusCode::GATEWAY_TIMEOUT,
            "the bot did not answer within 3 s",
        );
    };
    let text = payload
        .get("text")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let blocks = payload.get("blocks").cloned().unwrap_or(Value::Null);
    if text.is_some() || blocks.is_array() {
        let mut inner = shared.lock();
        let message = Message {
            channel: c.channel.clone(),
            ts: inner.next_ts(),
            thread_ts: None,
            user: shared.bot_user_id.clone(),
            text,
            blocks,
            edited_count: 0,
            metadata: Value::Null,
            reply_broadcast: false,
        };
        if payload.get("response_type").and_then(Value::as_str) == Some("in_channel") {
            inner.messages.push(message);
        } else {
            inner.ephemerals.push((c.user.clone(), message));
        }
        drop(inner);
        shared.notify();
    }
    json_response(
        StatusCode::OK,
        &json!({"envelope_id": envelope.envelope_id}),
    )
}

async fn control(State(shared): State<Arc<Shared>>, Path(id): Path<usize>) -> Response {
    let action = shared.lock().controls.get(id).map(|(_, a)| a.clone());
    let Some(action) = action else {
        return fail(StatusCode::NOT_FOUND, "no such control");
    };
    match action().await {
        Ok(result) => json_response(StatusCode::OK, &json!({"result": result})),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}
