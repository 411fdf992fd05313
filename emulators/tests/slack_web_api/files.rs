//! File uploads over raw HTTP: `files.getUploadURLExternal`, the bytes POSTed to the upload URL,
//! `files.completeUploadExternal`, and the errors of each step.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{slack, Slack, BOT, CHANNEL};

/// Gets an upload URL for `bytes` and POSTs them; returns the file id.
async fn upload(slack: &Slack, bytes: &[u8]) -> String {
    let url = format!(
        "{}/files.getUploadURLExternal?filename=chart.png&length={}&alt_txt=a%20chart",
        slack.emulator.api_url(),
        bytes.len()
    );
    let answer = slack.get_json_as_bot(&url).await;
    assert_eq!(answer["ok"], true, "{answer}");
    let file_id = answer["file_id"].as_str().expect("file_id").to_owned();
    assert!(file_id.starts_with('F'), "{file_id}");
    let upload_url = answer["upload_url"].as_str().expect("upload_url");
    let sent = slack.post_bytes_to(upload_url, bytes, "upload").await;
    assert_eq!(sent.status(), StatusCode::OK);
    assert_eq!(
        sent.text().await.expect("text"),
        format!("OK - {}", bytes.len())
    );
    let again = slack
        .post_bytes_to(upload_url, bytes, "second upload")
        .await;
    assert_eq!(
        again.status(),
        StatusCode::NOT_FOUND,
        "an upload URL is used once"
    );
    file_id
}

#[tokio::test]
async fn a_file_is_uploaded_then_shared_in_the_channel_with_its_comment() {
    let slack = slack().await;
    let id = upload(&slack, b"\x89PNG fake").await;

    let done = slack
        .call(
            "files.completeUploadExternal",
            Some(BOT),
            json!({"files": [{"id": id, "title": "Hourly"}], "channel_id": CHANNEL,
                   "initial_comment": "Queries per hour"}),
        )
        .await;
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(done["files"][0]["id"], json!(id));
    assert_eq!(done["files"][0]["title"], "Hourly");

    let files = slack.emulator.files(CHANNEL);
    assert_eq!(files.len(), 1);
    let file = &files[0];
    assert_eq!(file.bytes, b"\x89PNG fake");
    assert_eq!(
        (file.filename.as_str(), file.alt_txt.as_deref()),
        ("chart.png", Some("a chart"))
    );
    let share = slack.emulator.messages(CHANNEL);
    assert_eq!(share.len(), 1);
    assert_eq!(Some(share[0].ts.clone()), file.message_ts);
    assert_eq!(share[0].text.as_deref(), Some("Queries per hour"));

    let twice = slack
        .error(
            "files.completeUploadExternal",
            Some(BOT),
            json!({"files": [{"id": id}], "channel_id": CHANNEL}),
        )
        .await;
    assert_eq!(twice, "file_not_found", "completion happens once");
}

#[tokio::test]
async fn upload_steps_refuse_what_slack_refuses() {
    let slack = slack().await;
    let get = |body| slack.error("files.getUploadURLExternal", Some(BOT), body);
    assert_eq!(get(json!({"length": 3})).await, "invalid_arguments");
    assert_eq!(get(json!({"filename": "a.png"})).await, "invalid_arguments");
    assert_eq!(
        get(json!({"filename": "a.png", "length": 0})).await,
        "invalid_arguments"
    );
    assert_eq!(
        get(json!({"filename": "a.png", "length": 3, "alt_txt": "x".repeat(1001)})).await,
        "alt_txt_too_large"
    );

    let complete = |body| slack.error("files.completeUploadExternal", Some(BOT), body);
    assert_eq!(complete(json!({})).await, "invalid_arguments");
    assert_eq!(
        complete(json!({"files": [{"id": "F0NOPE"}]})).await,
        "file_not_found"
    );
    let pending = slack
        .call(
            "files.getUploadURLExternal",
            Some(BOT),
            json!({"filename": "a.png", "length": 3}),
        )
        .await;
    let pending_id = pending["file_id"].clone();
    assert_eq!(
        complete(json!({"files": [{"id": pending_id}]})).await,
        "file_not_found",
        "no bytes were uploaded yet"
    );
    let id = upload(&slack, b"abc").await;
    assert_eq!(
        complete(json!({"files": [{"id": id}], "channel_id": "C0NOPE"})).await,
        "channel_not_found"
    );
    let not_posted = slack
        .http
        .post(format!(
            "{}/upload/unknown",
            slack.emulator.api_url().trim_end_matches("/api")
        ))
        .body("x")
        .send()
        .await
        .expect("HTTP");
    assert_eq!(not_posted.status(), StatusCode::NOT_FOUND);
}
