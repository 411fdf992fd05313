//! The browser UI's endpoints: the page, the workspace, the channel as a user sees it, clicks
//! and slash commands sent as real envelopes, demo controls.

use futures_util::SinkExt;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::support::{next_json, slack, Slack, CHANNEL};

async fn get(slack: &Slack, path: &str) -> (reqwest::StatusCode, String) {
    let response = slack
        .http
        .get(format!("{}{path}", slack.emulator.ui_url()))
        .send()
        .await
        .expect("GET");
    (response.status(), response.text().await.expect("body"))
}

async fn post(slack: &Slack, path: &str, body: Value) -> Value {
    let response = slack
        .http
        .post(format!("{}{path}", slack.emulator.ui_url()))
        .json(&body)
        .send()
        .await
        .expect("POST");
    response.json().await.expect("JSON")
}

#[tokio::test]
async fn the_page_and_its_assets_are_served() {
    let slack = slack().await;
    for (path, needle) in [
        ("", "<main>"),
        ("ui/app.js", "renderBlock"),
        ("ui/style.css", "#messages"),
    ] {
        let (status, body) = get(&slack, path).await;
        assert_eq!(status, reqwest::StatusCode::OK, "{path}");
        assert!(body.contains(needle), "{path}");
    }
}

#[tokio::test]
async fn the_workspace_lists_channels_users_and_controls_that_run() {
    let slack = slack().await;
    slack.emulator.add_control(
        "Advance web",
        Arc::new(|| Box::pin(async { Ok("web is at its approval".to_owned()) })),
    );
    let (_, body) = get(&slack, "ui/workspace").await;
    let workspace: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        workspace["channels"][0],
        json!({"id": CHANNEL, "name": "deploys"})
    );
    assert!(workspace["users"].to_string().contains("alice"));
    assert_eq!(workspace["controls"][0]["label"], "Advance web");
    let ran = post(&slack, "ui/control/0", json!({})).await;
    assert_eq!(ran["result"], "web is at its approval");
}

#[tokio::test]
async fn a_click_in_the_page_is_a_real_envelope_and_threads_nest() {
    let slack = slack().await;
    let (mut socket, _) = slack.connect().await;
    let ts = slack.post_approval("approve?").await;
    slack
        .post(json!({"channel": CHANNEL, "text": "a reply", "thread_ts": ts}))
        .await;

    let clicked = post(
        &slack,
        "ui/click",
        json!({"channel": CHANNEL, "ts": ts, "action_id": "approve", "user": "U0ALICE"}),
    )
    .await;
    let frame = next_json(&mut socket).await;
    assert_eq!(frame["envelope_id"], clicked["envelope_id"]);
    assert_eq!(frame["payload"]["actions"][0]["action_id"], "approve");

    let (_, body) = get(
        &slack,
        &format!("ui/channel?channel={CHANNEL}&user=U0ALICE"),
    )
    .await;
    let view: Value = serde_json::from_str(&body).expect("JSON");
    let timeline = view["timeline"].as_array().expect("timeline");
    assert_eq!(timeline.len(), 1, "the reply sits in its thread");
    assert_eq!(timeline[0]["replies"][0]["text"], "a reply");
}

#[tokio::test]
async fn a_slash_command_reply_is_shown_only_to_its_user() {
    let slack = slack().await;
    let (mut socket, _) = slack.connect().await;
    let ui = {
        let slack_http = slack.http.clone();
        let url = format!("{}ui/command", slack.emulator.ui_url());
        tokio::spawn(async move {
            slack_http
                .post(url)
                .json(&json!({"channel": CHANNEL, "user": "U0ALICE", "command": "/deploy", "text": "help"}))
                .send()
                .await
                .expect("POST")
                .status()
        })
    };
    let frame = next_json(&mut socket).await;
    socket
        .send(Frame::text(
            json!({"envelope_id": frame["envelope_id"], "payload": {"text": "usage: /deploy …"}})
                .to_string(),
        ))
        .await
        .expect("ack");
    assert_eq!(ui.await.expect("joined"), reqwest::StatusCode::OK);

    let seen = |user: &str| {
        let slack = &slack;
        let path = format!("ui/channel?channel={CHANNEL}&user={user}");
        async move {
            let (_, body) = get(slack, &path).await;
            serde_json::from_str::<Value>(&body).expect("JSON")["timeline"].clone()
        }
    };
    let alice = seen("U0ALICE").await;
    assert_eq!(alice[0]["ephemeral"], true);
    assert_eq!(alice[0]["message"]["text"], "usage: /deploy …");
    assert_eq!(seen("U0BOB").await, json!([]));
}
