//! Faults of the services the bot calls: a Slack that hangs costs a call its timeout
//! (`[timeouts] slack_secs`), not the bot its approvals.

use emulators::slack::Failure;
use emulators::testing::eventually;

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
