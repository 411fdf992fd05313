//! Faults of the services the bot calls: a Slack that hangs costs a call its timeout
//! (`[timeouts] slack_secs`), not the bot its approvals; a Slack that says "slow down" is
//! obeyed for as long as it said.

use emulators::slack::Failure;
use emulators::testing::eventually;
use std::time::Duration;

use crate::support::approvals::APPROVE;
use crate::support::{Bot, Options, ALICE, DEADLINE};

/// Far longer than [`DEADLINE`]: a bot that waited for this stall would fail every wait.
const STALL_SECS: u64 = 300;

#[tokio::test]
async fn a_prompt_post_that_hangs_times_out_and_the_redelivered_message_posts_it_once() {
    let bot = Bot::spawn(Options {
        env: vec![("CHATOPS__TIMEOUTS__SLACK_SECS".into(), "2".into())],
        ..Options::default()
    })
    .await;
    bot.slack
        .fail_next("chat.postMessage", Failure::Stall { secs: STALL_SECS }, 1);

    // The first post hangs until the timeout cuts it; the notification stays in the queue,
    // comes back after `retry_base_secs`, and its second post lands, long before the stall ends.
    let (_, prompt) = bot.start_and_wait_for_prompt().await;

    assert!(
        bot.slack.calls("chat.postMessage") >= 2,
        "the hung post, then the one that landed"
    );
    eventually(DEADLINE, "the queue to be drained", || async {
        (bot.aws.queue_depth().await == 0).then_some(())
    })
    .await;
    assert_eq!(bot.prompts().len(), 1, "exactly one prompt");
    bot.click(&prompt.ts, APPROVE, ALICE).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved*").await;
}

#[tokio::test]
async fn after_a_429_the_bot_waits_as_long_as_slack_said_before_posting_again() {
    let bot = Bot::spawn(Options::default()).await;
    bot.slack.fail_next(
        "chat.postMessage",
        Failure::RateLimited {
            retry_after_secs: 2,
        },
        1,
    );

    let (_, prompt) = bot.start_and_wait_for_prompt().await;

    let posts = bot.slack.call_times("chat.postMessage");
    assert!(
        posts.len() >= 2,
        "the refused post, then the one that landed"
    );
    let waited = posts[1].duration_since(posts[0]);
    assert!(
        waited >= Duration::from_secs(2),
        "the next post came {waited:?} after the 429 that said 2 s"
    );
    assert_eq!(bot.prompts().len(), 1, "exactly one prompt");
    bot.click(&prompt.ts, APPROVE, ALICE).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved*").await;
}

#[tokio::test]
async fn a_decision_whose_restamp_slack_refused_is_restamped_once_slack_takes_it() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    let updates = bot.slack.calls("chat.update");
    // The click's three tries and two later ones fail (Slack answering 500s for a while).
    bot.slack.fail_next("chat.update", Failure::ServerError, 5);

    bot.click(&prompt.ts, APPROVE, ALICE).await;

    bot.wait_for_restamp(&prompt.ts, "*Approved*").await;
    assert!(
        bot.slack.calls("chat.update") >= updates + 6,
        "five refused updates, then the one Slack took"
    );
    assert_eq!(bot.codepipeline.put_approval_calls(), 1, "decided once");
}

#[tokio::test]
async fn a_message_being_worked_on_stays_hidden_past_the_queues_visibility_timeout() {
    // Set before the bot's first long poll, which reads the queue's timeout when it starts.
    let bot = Bot::prepare(false).await;
    bot.aws
        .sqs
        .set_queue_attributes()
        .queue_url(&bot.aws.queue_url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "2",
        )
        .send()
        .await
        .expect("a 2 s visibility timeout");
    let bot = bot
        .start(Options {
            env: [
                ("CHATOPS__TIMEOUTS__SLACK_SECS", "20"),
                ("CHATOPS__APPROVALS__HEARTBEAT_SECS", "1"),
                // One at a time: the bot does not poll while it works, so only this test could
                // receive the message if it reappeared.
                ("CHATOPS__APPROVALS__CONCURRENCY", "1"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
            ..Options::default()
        })
        .await;
    bot.slack
        .fail_next("chat.postMessage", Failure::Stall { secs: 8 }, 1);

    bot.codepipeline.start_execution(&bot.pipeline).await;
    eventually(DEADLINE, "the prompt's post to hang", || async {
        (bot.slack.calls("chat.postMessage") >= 1).then_some(())
    })
    .await;

    // Three times the visibility timeout: without the heartbeat the message would be handed out
    // again within it.
    let window = std::time::Instant::now() + Duration::from_secs(6);
    while std::time::Instant::now() < window {
        let received = bot
            .aws
            .sqs
            .receive_message()
            .queue_url(&bot.aws.queue_url)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        assert!(
            received.messages.unwrap_or_default().is_empty(),
            "the message in the works was handed out again"
        );
    }
    eventually(DEADLINE, "the prompt, once the stall ends", || async {
        (!bot.prompts().is_empty()).then_some(())
    })
    .await;
    eventually(DEADLINE, "the queue to be drained", || async {
        (bot.aws.queue_depth().await == 0).then_some(())
    })
    .await;
    assert_eq!(bot.prompts().len(), 1, "exactly one prompt");
}
