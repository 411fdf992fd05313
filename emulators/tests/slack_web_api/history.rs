//! Reading messages back: `conversations.history` and `conversations.replies` with their
//! order, paging, time bounds and errors, and message metadata as `chat.postMessage` and
//! `chat.update` keep it (<https://api.slack.com/methods/conversations.history>,
//! <https://api.slack.com/methods/conversations.replies>, <https://api.slack.com/metadata/using>).

use serde_json::{json, Value};

use crate::support::{slack, Slack, BOT, CHANNEL};

fn metadata(hash: &str) -> Value {
    json!({"event_type": "chatops_approval_prompt", "event_payload": {"token_hash": hash}})
}

/// The `ts` of every listed message, in answer order.
fn stamps(answer: &Value) -> Vec<String> {
    answer["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["ts"].as_str().expect("ts").to_owned())
        .collect()
}

impl Slack {
    async fn history(&self, args: Value) -> Value {
        let mut args = args;
        args["channel"] = json!(CHANNEL);
        let answer = self.call("conversations.history", Some(BOT), args).await;
        assert_eq!(answer["ok"], true, "{answer}");
        answer
    }

    /// Posts `text` to `CHANNEL` with the metadata of token hash `hash`; answers the ts.
    async fn post_tagged(&self, text: &str, hash: &str) -> String {
        self.post(json!({"channel": CHANNEL, "text": text, "metadata": metadata(hash)}))
            .await
    }
}

#[tokio::test]
async fn history_lists_top_level_messages_and_broadcasts_newest_first_in_pages() {
    let slack = slack().await;
    let first = slack.post(json!({"channel": CHANNEL, "text": "one"})).await;
    let reply = slack
        .post(json!({"channel": CHANNEL, "text": "in thread", "thread_ts": first}))
        .await;
    let broadcast = slack
        .post(
            json!({"channel": CHANNEL, "text": "also in channel", "thread_ts": first,
                     "reply_broadcast": true}),
        )
        .await;
    let third = slack
        .post(json!({"channel": CHANNEL, "text": "three"}))
        .await;

    let all = slack.history(json!({})).await;
    assert_eq!(
        stamps(&all),
        [third.as_str(), broadcast.as_str(), first.as_str()]
    );
    assert!(
        !stamps(&all).contains(&reply),
        "plain replies stay in their thread"
    );
    assert_eq!(all["has_more"], false);
    let parent = &all["messages"][2];
    assert_eq!(
        (&parent["reply_count"], &parent["thread_ts"]),
        (&json!(2), &json!(&first))
    );
    assert_eq!(all["messages"][1]["subtype"], "thread_broadcast");

    let page = slack.history(json!({"limit": 2})).await;
    assert_eq!(stamps(&page), [third.as_str(), broadcast.as_str()]);
    assert_eq!(page["has_more"], true);
    let cursor = page["response_metadata"]["next_cursor"].clone();
    let next = slack.history(json!({"limit": 2, "cursor": cursor})).await;
    assert_eq!(stamps(&next), [first.as_str()]);
    assert_eq!(next["has_more"], false);

    let after = slack.history(json!({"oldest": first})).await;
    assert_eq!(stamps(&after), [third.as_str(), broadcast.as_str()]);
    let bounded = slack
        .history(json!({"oldest": first, "latest": broadcast, "inclusive": "true"}))
        .await;
    assert_eq!(stamps(&bounded), [broadcast.as_str(), first.as_str()]);
}

#[tokio::test]
async fn metadata_is_kept_by_updates_and_returned_only_when_asked_for() {
    let slack = slack().await;
    let ts = slack.post_tagged("waits", "abc").await;
    let plain = slack.history(json!({})).await;
    assert_eq!(plain["messages"][0].get("metadata"), None);
    let with = slack.history(json!({"include_all_metadata": true})).await;
    assert_eq!(with["messages"][0]["metadata"], metadata("abc"));

    // Without `metadata` an update keeps it; `{}` removes it.
    let update = |body: Value| slack.call("chat.update", Some(BOT), body);
    update(json!({"channel": CHANNEL, "ts": ts, "text": "decided"})).await;
    assert_eq!(
        slack.emulator.messages(CHANNEL)[0].metadata,
        metadata("abc")
    );
    update(json!({"channel": CHANNEL, "ts": ts, "text": "bare", "metadata": {}})).await;
    assert_eq!(slack.emulator.messages(CHANNEL)[0].metadata, Value::Null);

    let post = |m: Value| {
        slack.error(
            "chat.postMessage",
            Some(BOT),
            json!({"channel": CHANNEL, "text": "x", "metadata": m}),
        )
    };
    assert_eq!(post(json!("not json")).await, "invalid_metadata_format");
    assert_eq!(
        post(json!({"event_payload": {}})).await,
        "invalid_metadata_schema"
    );
}

#[tokio::test]
async fn replies_list_the_parent_first_then_the_thread_oldest_first() {
    let slack = slack().await;
    let parent = slack.post_tagged("thread", "p").await;
    let mut replies = Vec::new();
    for text in ["a", "b", "c"] {
        let reply = json!({"channel": CHANNEL, "text": text, "thread_ts": parent,
                           "metadata": metadata(text)});
        replies.push(slack.post(reply).await);
    }
    let replies_of = |args: Value| slack.call("conversations.replies", Some(BOT), args);

    // Asked by a reply's ts too: the whole thread.
    let answer = replies_of(json!({"channel": CHANNEL, "ts": replies[1],
                                   "include_all_metadata": "1"}))
    .await;
    assert_eq!(
        stamps(&answer),
        [&parent, &replies[0], &replies[1], &replies[2]].map(String::as_str)
    );
    assert_eq!(answer["messages"][2]["metadata"], metadata("b"));

    let page = replies_of(json!({"channel": CHANNEL, "ts": parent, "limit": 2})).await;
    assert_eq!(
        stamps(&page),
        [&parent, &replies[0], &replies[1]].map(String::as_str)
    );
    assert_eq!(page["has_more"], true);
    assert_eq!(page["messages"][1].get("metadata"), None);
    let cursor = page["response_metadata"]["next_cursor"].clone();
    let rest = replies_of(json!({"channel": CHANNEL, "ts": parent, "cursor": cursor})).await;
    assert_eq!(stamps(&rest), [&parent, &replies[2]].map(String::as_str));

    let errors = |body| slack.error("conversations.replies", Some(BOT), body);
    assert_eq!(
        errors(json!({"channel": CHANNEL, "ts": "1.000001"})).await,
        "thread_not_found"
    );
    assert_eq!(
        errors(json!({"channel": "C0NOPE", "ts": parent})).await,
        "channel_not_found"
    );
    assert_eq!(
        slack
            .error(
                "conversations.history",
                Some(BOT),
                json!({"channel": "C0NOPE"})
            )
            .await,
        "channel_not_found"
    );
}
