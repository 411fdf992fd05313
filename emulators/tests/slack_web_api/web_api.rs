//! Web API answers over raw HTTP: tokens, channels, Block Kit limits, storage order, form
//! and query arguments, injected failures, `chat.update` semantics, ephemerals.

use emulators::slack::Failure;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{approval_blocks, slack, APP, BOT, CHANNEL};

#[tokio::test]
async fn tokens_are_checked_like_slack() {
    let slack = slack().await;
    assert_eq!(
        slack.error("auth.test", None, json!({})).await,
        "not_authed"
    );
    assert_eq!(
        slack
            .error("auth.test", Some("xoxb-wrong"), json!({}))
            .await,
        "invalid_auth"
    );
    assert_eq!(
        slack.error("chat.postMessage", Some(APP), json!({})).await,
        "not_allowed_token_type"
    );
    assert_eq!(
        slack
            .error("apps.connections.open", Some(BOT), json!({}))
            .await,
        "not_allowed_token_type"
    );
    assert_eq!(
        slack.error("chat.unknown", Some(BOT), json!({})).await,
        "unknown_method"
    );

    slack.emulator.set_bot_token("xoxb-rotated");
    assert_eq!(
        slack.error("auth.test", Some(BOT), json!({})).await,
        "token_revoked"
    );
    let me = slack
        .call("auth.test", Some("xoxb-rotated"), json!({}))
        .await;
    assert_eq!(
        (&me["ok"], &me["user_id"], &me["team_id"]),
        (&json!(true), &json!("U0BOT"), &json!("T0TEST"))
    );
}

#[tokio::test]
async fn posting_validates_channel_content_and_block_kit_limits() {
    let slack = slack().await;
    let post = |body| slack.error("chat.postMessage", Some(BOT), body);
    assert_eq!(
        post(json!({"channel": "C0NOPE", "text": "hi"})).await,
        "channel_not_found"
    );
    assert_eq!(post(json!({"channel": CHANNEL})).await, "no_text");
    assert_eq!(
        post(json!({"channel": CHANNEL, "blocks": {"type": "divider"}})).await,
        "invalid_blocks_format"
    );
    assert_eq!(
        post(json!({"channel": CHANNEL, "text": "r", "thread_ts": "1.000001"})).await,
        "thread_not_found"
    );

    let long_section =
        json!([{"type": "section", "text": {"type": "mrkdwn", "text": "x".repeat(3001)}}]);
    let too_many = Value::Array(vec![json!({"type": "divider"}); 51]);
    let long_button = json!([{"type": "actions", "elements": [
        {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "b".repeat(76)}}]}]);
    for (blocks, pointer) in [
        (
            long_section,
            "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
        ),
        (
            too_many,
            "no more than 50 items allowed [json-pointer:/blocks]",
        ),
        (
            long_button,
            "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
        ),
    ] {
        let answer = slack
            .call(
                "chat.postMessage",
                Some(BOT),
                json!({"channel": CHANNEL, "blocks": blocks}),
            )
            .await;
        assert_eq!(
            (&answer["error"], &answer["errors"]),
            (&json!("invalid_blocks"), &json!([pointer]))
        );
    }
    assert!(slack.emulator.messages(CHANNEL).is_empty());
}

#[tokio::test]
async fn posts_and_thread_replies_are_stored_in_order_with_increasing_ts() {
    let slack = slack().await;
    let parent = slack.post_approval("deploy?").await;
    let reply = slack
        .post(json!({"channel": CHANNEL, "text": "note", "thread_ts": parent}))
        .await;
    let as_number = |ts: &str| ts.parse::<f64>().expect("numeric ts");
    assert!(as_number(&reply) > as_number(&parent), "{parent} < {reply}");
    assert_eq!(
        parent.split_once('.').map(|(_, micros)| micros.len()),
        Some(6)
    );

    let messages = slack.emulator.messages(CHANNEL);
    assert_eq!(messages.len(), 2);
    assert_eq!(
        (messages[0].blocks.clone(), messages[0].user.as_str()),
        (approval_blocks(), "U0BOT")
    );
    assert_eq!(messages[1].thread_ts.as_deref(), Some(parent.as_str()));
}

#[tokio::test]
async fn form_bodies_and_query_parameters_are_accepted() {
    let slack = slack().await;
    let url = format!("{}/chat.postMessage", slack.emulator.api_url());
    let blocks = approval_blocks().to_string();
    let form = [
        ("token", BOT),
        ("channel", CHANNEL),
        ("text", "from a form"),
        ("blocks", blocks.as_str()),
    ];
    let answer: Value = slack
        .http
        .post(&url)
        .form(&form)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(
        slack.emulator.messages(CHANNEL)[0].blocks,
        approval_blocks()
    );

    let url = format!(
        "{}/usergroups.users.list?usergroup=S0OPS",
        slack.emulator.api_url()
    );
    let answer = slack.get_json_as_bot(&url).await;
    assert_eq!(answer["users"], json!(["U0ALICE", "U0BOB"]));
    assert_eq!(
        slack
            .error(
                "usergroups.users.list",
                Some(BOT),
                json!({"usergroup": "S0NOPE"})
            )
            .await,
        "no_such_subteam"
    );
}

#[tokio::test]
async fn injected_failures_answer_429_500_or_an_error_then_recover() {
    let slack = slack().await;
    let body = json!({"channel": CHANNEL, "text": "hi"});
    slack.emulator.fail_next(
        "chat.postMessage",
        Failure::RateLimited {
            retry_after_secs: 7,
        },
        1,
    );
    let (status, retry_after, answer) =
        slack.raw("chat.postMessage", Some(BOT), body.clone()).await;
    assert_eq!(
        (status, retry_after.as_deref()),
        (StatusCode::TOO_MANY_REQUESTS, Some("7"))
    );
    assert_eq!(answer, json!({"ok": false, "error": "ratelimited"}));

    slack
        .emulator
        .fail_next("chat.postMessage", Failure::ServerError, 1);
    slack
        .emulator
        .fail_next("chat.postMessage", Failure::Error("fatal_error".into()), 1);
    let (status, _, _) = slack.raw("chat.postMessage", Some(BOT), body.clone()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        slack
            .error("chat.postMessage", Some(BOT), body.clone())
            .await,
        "fatal_error"
    );
    slack.post(body).await;
    assert_eq!(slack.emulator.calls("chat.postMessage"), 4);
}

#[tokio::test]
async fn update_replaces_content_and_text_alone_drops_blocks() {
    let slack = slack().await;
    let ts = slack.post_approval("v1").await;
    let update = |body: Value| slack.call("chat.update", Some(BOT), body);

    let new_blocks =
        json!([{"type": "section", "text": {"type": "plain_text", "text": "approved"}}]);
    let answer =
        update(json!({"channel": CHANNEL, "ts": ts, "text": "v2", "blocks": new_blocks})).await;
    assert_eq!(
        (&answer["ok"], &answer["ts"], &answer["text"]),
        (&json!(true), &json!(ts), &json!("v2"))
    );
    assert_eq!(answer["message"]["blocks"], new_blocks);
    assert_eq!(slack.emulator.messages(CHANNEL)[0].blocks, new_blocks);

    update(json!({"channel": CHANNEL, "ts": ts, "text": "v3"})).await;
    let message = &slack.emulator.messages(CHANNEL)[0];
    assert_eq!(
        (
            message.text.as_deref(),
            &message.blocks,
            message.edited_count
        ),
        (Some("v3"), &Value::Null, 2)
    );

    let error = |body| slack.error("chat.update", Some(BOT), body);
    assert_eq!(
        error(json!({"channel": CHANNEL, "ts": "1.000001", "text": "x"})).await,
        "message_not_found"
    );
    assert_eq!(
        error(json!({"channel": CHANNEL, "ts": ts, "text": "x".repeat(4001)})).await,
        "msg_too_long"
    );
    let human = slack.emulator.add_user_message(CHANNEL, "U0ALICE", "mine");
    assert_eq!(
        error(json!({"channel": CHANNEL, "ts": human, "text": "x"})).await,
        "cant_update_message"
    );
}

#[tokio::test]
async fn ephemerals_need_a_known_user() {
    let slack = slack().await;
    let body = |user| json!({"channel": CHANNEL, "user": user, "text": "only you"});
    assert_eq!(
        slack
            .error("chat.postEphemeral", Some(BOT), body("U0NOPE"))
            .await,
        "user_not_in_channel"
    );
    let answer = slack
        .call("chat.postEphemeral", Some(BOT), body("U0ALICE"))
        .await;
    assert!(answer["message_ts"].is_string(), "{answer}");
    let seen = slack.emulator.ephemerals(CHANNEL, "U0ALICE");
    assert_eq!(
        seen.iter().map(|m| m.text.as_deref()).collect::<Vec<_>>(),
        [Some("only you")]
    );
}
