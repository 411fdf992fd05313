//! File uploads the way Slack does them since `files.upload` was retired: `files.getUploadURLExternal`
//! hands out a file id and an upload URL, the client POSTs the raw bytes there (`POST
//! /upload/{key}`, answered `200 OK - <length>` in text/plain), and
//! `files.completeUploadExternal` shares the files in a channel, with the `initial_comment`
//! posted as the share message.
//!
//! Errors follow Slack's documentation where it names them: `invalid_arguments` for a missing
//! or malformed `filename`, `length` or `files`, `alt_txt_too_large` past 1,000 characters,
//! `file_not_found` for an id never handed out, already completed, or whose bytes never
//! arrived, `channel_not_found` for an unknown channel. An upload URL that is unknown or
//! already used answers HTTP 404.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use uuid::Uuid;

use super::args::{ApiError, Args, MethodResult};
use super::state::{Message, Shared, SharedFile, SlackEmulator, Upload};

/// Longest `alt_txt` Slack accepts.
const MAX_ALT_TXT: usize = 1000;

/// `files.getUploadURLExternal`.
pub(super) fn get_upload_url(shared: &Shared, args: &Args) -> MethodResult {
    let filename = args.required("filename", "invalid_arguments")?;
    let length = match args.json("length") {
        Some(Ok(Value::Number(n))) => n.as_u64(),
        _ => None,
    };
    if length.is_none_or(|n| n == 0) {
        return Err(ApiError::new("invalid_arguments"));
    }
    let alt_txt = args.str("alt_txt").map(str::to_owned);
    if alt_txt
        .as_ref()
        .is_some_and(|a| a.chars().count() > MAX_ALT_TXT)
    {
        return Err(ApiError::new("alt_txt_too_large"));
    }
    let id = format!("F{}", &Uuid::new_v4().simple().to_string()[..10]).to_uppercase();
    let key = Uuid::new_v4().simple().to_string();
    let upload_url = format!("{}/upload/{key}", shared.base_url());
    shared.lock().uploads.push(Upload {
        key,
        received: None,
        file: SharedFile {
            id: id.clone(),
            filename: filename.to_owned(),
            title: None,
            alt_txt,
            bytes: Vec::new(),
            channel: None,
            initial_comment: None,
            message_ts: None,
        },
        completed: false,
    });
    Ok(json!({ "upload_url": upload_url, "file_id": id }))
}

/// `POST /upload/{key}`: the file's bytes, raw.
pub(super) async fn receive(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let mut inner = shared.lock();
    let Some(upload) = inner
        .uploads
        .iter_mut()
        .find(|u| u.key == key && !u.completed && u.received.is_none())
    else {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    };
    upload.received = Some(body.to_vec());
    let answer = format!("OK - {}", body.len());
    drop(inner);
    shared.notify();
    (StatusCode::OK, [("content-type", "text/plain")], answer).into_response()
}

/// `files.completeUploadExternal`.
pub(super) fn complete_upload(shared: &Shared, args: &Args) -> MethodResult {
    let files = match args.json("files") {
        Some(Ok(Value::Array(files))) if !files.is_empty() => files,
        _ => return Err(ApiError::new("invalid_arguments")),
    };
    let mut wanted = Vec::new();
    for f in &files {
        let id = f["id"]
            .as_str()
            .ok_or_else(|| ApiError::new("invalid_arguments"))?;
        wanted.push((id.to_owned(), f["title"].as_str().map(str::to_owned)));
    }
    let channel = args.str("channel_id").map(str::to_owned);
    let comment = args.str("initial_comment").map(str::to_owned);
    let mut inner = shared.lock();
    if channel
        .as_ref()
        .is_some_and(|c| !inner.channels.contains_key(c))
    {
        return Err(ApiError::new("channel_not_found"));
    }
    for (id, _) in &wanted {
        let ready = inner
            .uploads
            .iter()
            .any(|u| &u.file.id == id && !u.completed && u.received.is_some());
        if !ready {
            return Err(ApiError::new("file_not_found"));
        }
    }
    let message_ts = match &channel {
        Some(c) => {
            let ts = inner.next_ts();
            inner.messages.push(Message {
                channel: c.clone(),
                ts: ts.clone(),
                thread_ts: args.str("thread_ts").map(str::to_owned),
                user: shared.bot_user_id.clone(),
                text: comment.clone(),
                blocks: Value::Null,
                edited_count: 0,
                metadata: Value::Null,
                reply_broadcast: false,
            });
            Some(ts)
        }
        None => None,
    };
    let mut answered = Vec::new();
    for (id, title) in wanted {
        if let Some(upload) = inner.uploads.iter_mut().find(|u| u.file.id == id) {
            upload.completed = true;
            let file = &mut upload.file;
            file.bytes = upload.received.take().unwrap_or_default();
            file.title = title.or_else(|| Some(file.filename.clone()));
            file.channel = channel.clone();
            file.initial_comment = comment.clone();
            file.message_ts = message_ts.clone();
            answered.push(json!({
                "id": file.id,
                "name": file.filename,
                "title": file.title,
                "size": file.bytes.len(),
                "channels": channel.iter().collect::<Vec<_>>(),
            }));
        }
    }
    drop(inner);
    shared.notify();
    Ok(json!({ "files": answered }))
}

impl SlackEmulator {
    /// Files shared in `channel` with `files.completeUploadExternal`, in order.
    pub fn files(&self, channel: &str) -> Vec<SharedFile> {
        let inner = self.shared.lock();
        let shared = inner.uploads.iter().filter(|u| u.completed);
        shared
            .filter(|u| u.file.channel.as_deref() == Some(channel))
            .map(|u| u.file.clone())
            .collect()
    }
}
