//! Interaction `response_url`s: `POST /response/{id}` on the HTTP listener, five uses each
//! (then 404 `used_url`). Each post is recorded and applied the way Slack applies it:
//! `delete_original` / `replace_original` act on the clicked message (ephemeral ones too),
//! otherwise the reply is posted in the channel (`in_channel`) or shown only to the user (the
//! default, ephemeral).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use uuid::Uuid;

use super::args::{json_response, ApiError};
use super::blocks;
use super::state::{Inner, Message, ResponsePost, ResponseTarget, Shared, SlackEmulator};

/// Uses Slack allows per `response_url`.
const MAX_USES: usize = 5;

/// Issues a fresh `response_url` for an interaction by `user` in `channel`.
pub(super) fn issue(
    shared: &Shared,
    inner: &mut Inner,
    channel: &str,
    user: &str,
    message_ts: Option<&str>,
) -> String {
    let id = Uuid::new_v4().simple().to_string();
    let target = ResponseTarget {
        channel: channel.to_owned(),
        user: user.to_owned(),
        message_ts: message_ts.map(str::to_owned),
        posts: Vec::new(),
    };
    inner.response_urls.insert(id.clone(), target);
    inner.issued.push(id.clone());
    format!("{}/response/{id}", shared.base_url())
}

impl SlackEmulator {
    /// The posts received so far on `response_url` (as found in an envelope's payload).
    pub fn responses(&self, response_url: &str) -> Vec<ResponsePost> {
        let id = response_url.rsplit('/').next().unwrap_or_default();
        self.shared
            .lock()
            .response_urls
            .get(id)
            .map(|target| target.posts.clone())
            .unwrap_or_default()
    }
}

/// `POST /response/{id}`.
pub(super) async fn respond(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    match apply(&shared, &id, &body) {
        Ok(()) => json_response(StatusCode::OK, &json!({"ok": true})),
        Err((status, error)) => json_response(status, &error.body()),
    }
}

fn apply(shared: &Shared, id: &str, body: &[u8]) -> Result<(), (StatusCode, ApiError)> {
    let bad_request = |error: &str| (StatusCode::BAD_REQUEST, ApiError::new(error));
    let body: Value = serde_json::from_slice(body).map_err(|_| bad_request("invalid_payload"))?;
    let blocks = match body.get("blocks") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Array(list)) => {
            blocks::validate(list).map_err(|errors| {
                let error = ApiError {
                    error: "invalid_blocks".to_owned(),
                    errors,
                };
                (StatusCode::BAD_REQUEST, error)
            })?;
            Value::Array(list.clone())
        }
        Some(_) => return Err(bad_request("invalid_blocks_format")),
    };
    let text_of = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    let post = ResponsePost {
        response_type: text_of("response_type"),
        replace_original: body.get("replace_original") == Some(&json!(true)),
        delete_original: body.get("delete_original") == Some(&json!(true)),
        text: text_of("text"),
        blocks,
        thread_ts: text_of("thread_ts"),
    };
    let mut inner = shared.lock();
    let target = inner
        .response_urls
        .get(id)
        .ok_or_else(|| (StatusCode::NOT_FOUND, ApiError::new("no_service")))?;
    if target.posts.len() >= MAX_USES {
        return Err((StatusCode::NOT_FOUND, ApiError::new("used_url")));
    }
    let (channel, user) = (target.channel.clone(), target.user.clone());
    let original = target.message_ts.clone();
    match original {
        Some(ts) if post.delete_original => inner
            .messages
            .retain(|m| !(m.channel == channel && m.ts == ts)),
        Some(ts) if post.replace_original => {
            let ephemeral = inner
                .ephemerals
                .iter_mut()
                .find(|(to, m)| *to == user && m.channel == channel && m.ts == ts)
                .map(|(_, m)| m);
            let message = match ephemeral {
                Some(m) => Some(m),
                None => inner.message_mut(&channel, &ts),
            };
            if let Some(message) = message {
                message.text = post.text.clone();
                message.blocks = post.blocks.clone();
                message.edited_count += 1;
            }
        }
        _ => {
            let message = Message {
                channel: channel.clone(),
                ts: inner.next_ts(),
                thread_ts: post.thread_ts.clone(),
                user: shared.bot_user_id.clone(),
                text: post.text.clone(),
                blocks: post.blocks.clone(),
                edited_count: 0,
                metadata: Value::Null,
                reply_broadcast: false,
            };
            if post.response_type.as_deref() == Some("in_channel") {
                inner.messages.push(message);
            } else {
                inner.ephemerals.push((user, message));
            }
        }
    }
    if let Some(target) = inner.response_urls.get_mut(id) {
        target.posts.push(post);
    }
    Ok(())
}
