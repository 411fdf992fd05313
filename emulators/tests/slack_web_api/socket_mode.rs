//! Socket Mode with a tokio-tungstenite client: hello, click and slash envelopes, acks,
//! response URLs and trigger ids, single-use tickets, disconnect and dropped sockets.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::support::{approval_blocks, next_json, slack, APP, BOT, CHANNEL, WAIT};

#[tokio::test]
async fn a_click_reaches_the_socket_and_its_ack_is_seen() {
    let slack = slack().await;
    let ts = slack.post_approval("deploy?").await;
    let (mut socket, hello) = slack.connect().await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(
        (
            &hello["num_connections"],
            &hello["connection_info"]["app_id"]
        ),
        (&json!(1), &json!("A0TEST"))
    );
    assert!(
        hello["debug_info"]["host"].is_string()
            && hello["debug_info"]["approximate_connection_time"].is_u64()
    );
    assert!(slack.emulator.wait_for_connections(1, WAIT).await);

    let envelope = slack
        .emulator
        .click(CHANNEL, &ts, "approve", "U0ALICE")
        .await
        .expect("sent");
    let frame = next_json(&mut socket).await;
    assert_eq!(
        (&frame["type"], &frame["envelope_id"]),
        (&json!("interactive"), &json!(envelope.envelope_id))
    );
    assert_eq!(frame["accepts_response_payload"], false);
    let payload = &frame["payload"];
    assert_eq!(
        (
            &payload["type"],
            &payload["team"]["id"],
            &payload["api_app_id"]
        ),
        (&json!("block_actions"), &json!("T0TEST"), &json!("A0TEST"))
    );
    assert_eq!(
        payload["container"],
        json!({"type": "message", "message_ts": ts, "channel_id": CHANNEL, "is_ephemeral": false})
    );
    assert_eq!(payload["user"]["name"], "alice");
    assert_eq!(
        (&payload["message"]["ts"], &payload["message"]["blocks"]),
        (&json!(ts), &approval_blocks())
    );
    let action = &payload["actions"][0];
    assert_eq!(
        (
            &action["action_id"],
            &action["block_id"],
            &action["value"],
            &action["style"]
        ),
        (
            &json!("approve"),
            &json!("decide"),
            &json!("ref-1"),
            &json!("primary")
        )
    );
    assert_eq!(
        action["text"],
        json!({"type": "plain_text", "text": "Approve"})
    );
    assert!(envelope.acked(Duration::ZERO).await.is_none());

    socket
        .send(Frame::text(
            json!({"envelope_id": envelope.envelope_id}).to_string(),
        ))
        .await
        .expect("ack sent");
    assert_eq!(envelope.acked(WAIT).await.expect("acked").payload, None);
    assert_eq!(slack.emulator.acks(&envelope.envelope_id).len(), 1);
    let missing = slack
        .emulator
        .click(CHANNEL, &ts, "no-such-button", "U0ALICE")
        .await;
    assert!(missing.is_err());
}

#[tokio::test]
async fn slash_commands_accept_a_response_payload() {
    let slack = slack().await;
    let (mut socket, _) = slack.connect().await;
    let envelope = slack
        .emulator
        .slash_command(CHANNEL, "U0ALICE", "/deploy", "api prod")
        .await
        .expect("sent");
    let frame = next_json(&mut socket).await;
    assert_eq!(
        (&frame["type"], &frame["accepts_response_payload"]),
        (&json!("slash_commands"), &json!(true))
    );
    let payload = &frame["payload"];
    assert_eq!(
        (
            &payload["command"],
            &payload["text"],
            &payload["channel_name"]
        ),
        (&json!("/deploy"), &json!("api prod"), &json!("deploys"))
    );
    for key in [
        "team_id",
        "channel_id",
        "user_id",
        "response_url",
        "trigger_id",
        "api_app_id",
    ] {
        assert!(payload[key].is_string(), "{key} in {payload}");
    }
    let reply = json!({"text": "on it"});
    socket
        .send(Frame::text(
            json!({"envelope_id": envelope.envelope_id, "payload": reply}).to_string(),
        ))
        .await
        .expect("ack");
    assert_eq!(
        envelope.acked(WAIT).await.expect("acked").payload,
        Some(reply)
    );
}

#[tokio::test]
async fn response_urls_replace_the_clicked_message_five_times_at_most() {
    let slack = slack().await;
    let ts = slack.post_approval("deploy?").await;
    let _socket = slack.connect().await;
    let envelope = slack
        .emulator
        .click(CHANNEL, &ts, "reject", "U0ALICE")
        .await
        .expect("sent");
    let url = envelope.payload["response_url"]
        .as_str()
        .expect("response_url")
        .to_owned();
    let body = json!({"replace_original": true, "text": "rejected by alice"});
    for _ in 0..5 {
        let response = slack.post_json_to(&url, &body).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let sixth = slack.post_json_to(&url, &body).await;
    assert_eq!(sixth.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        sixth.json::<Value>().await.expect("JSON")["error"],
        "used_url"
    );
    let posts = slack.emulator.responses(&url);
    assert_eq!(posts.len(), 5);
    assert!(posts[0].replace_original);
    let message = &slack.emulator.messages(CHANNEL)[0];
    assert_eq!(
        (message.text.as_deref(), &message.blocks),
        (Some("rejected by alice"), &Value::Null)
    );

    let trigger = envelope.payload["trigger_id"].clone();
    let view =
        json!({"type": "modal", "title": {"type": "plain_text", "text": "Why?"}, "blocks": []});
    let opened = slack
        .call(
            "views.open",
            Some(BOT),
            json!({"trigger_id": trigger, "view": view}),
        )
        .await;
    assert!(opened["view"]["id"].is_string(), "{opened}");
    let again = json!({"trigger_id": trigger, "view": view});
    assert_eq!(
        slack.error("views.open", Some(BOT), again).await,
        "exchanged_trigger_id"
    );
    assert_eq!(
        slack
            .error(
                "views.open",
                Some(BOT),
                json!({"trigger_id": "1.x", "view": view})
            )
            .await,
        "invalid_trigger_id"
    );
    assert_eq!(slack.emulator.views_opened().len(), 1);
}

#[tokio::test]
async fn tickets_are_single_use() {
    let slack = slack().await;
    let opened = slack
        .call("apps.connections.open", Some(APP), json!({}))
        .await;
    let url = opened["url"].as_str().expect("url");
    assert!(
        url.starts_with("ws://127.0.0.1:") && url.ends_with("&app_id=A0TEST"),
        "{url}"
    );
    let _first = tokio_tungstenite::connect_async(url)
        .await
        .expect("first use");
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("second use must be refused, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn disconnect_sends_the_frame_and_stops_routing_to_that_socket() {
    let slack = slack().await;
    let (mut old, _) = slack.connect().await;
    let (mut new, hello) = slack.connect().await;
    assert_eq!(hello["num_connections"], 2);

    slack.emulator.disconnect("warning");
    let frame = next_json(&mut old).await;
    assert_eq!(
        (&frame["type"], &frame["reason"]),
        (&json!("disconnect"), &json!("warning"))
    );
    assert!(frame["debug_info"]["host"].is_string(), "{frame}");
    assert_eq!(slack.emulator.open_connections(), 1);

    let envelope = slack
        .emulator
        .send_envelope("events_api", json!({"type": "event_callback"}), false)
        .await
        .expect("sent");
    assert_eq!(
        next_json(&mut new).await["envelope_id"],
        json!(envelope.envelope_id)
    );
    old.close(None).await.expect("client closes");

    slack.emulator.drop_connection();
    loop {
        match tokio::time::timeout(WAIT, new.next())
            .await
            .expect("dropped in time")
        {
            None | Some(Err(_)) => break,
            Some(Ok(Frame::Text(text))) => {
                panic!("no frame expected on a dropped socket, got {text}")
            }
            Some(Ok(_)) => {}
        }
    }
    assert_eq!(slack.emulator.open_connections(), 0);
}
