//! The audit trail end to end: decisions, refused attempts and `/deploy` starts are written
//! to the shared store before anything else is said in Slack, and `/deploy history` reads them
//! back newest first, in any process.

use emulators::slack::Failure;
use emulators::testing::eventually;

use crate::deploy::{confirmation, deploy, executions, response, text_of, START, STOP};
use crate::support::approvals::APPROVE;
use crate::support::{Bot, Options, ALICE, BOB, DEADLINE, MALLORY};

/// `/deploy history <the pipeline><more>` as `user`: the answer's text and blocks.
async fn history(bot: &Bot, user: &str, more: &str) -> String {
    let (_, url) = deploy(bot, user, &format!("history {}{more}", bot.pipeline)).await;
    let answer = response(bot, &url, "the history", |p| {
        text_of(p).contains("History of")
    })
    .await;
    text_of(&answer)
}

#[tokio::test]
async fn a_decision_and_a_refused_attempt_show_in_the_history_newest_first() {
    let bot = Bot::spawn(Options::default()).await;
    let (execution, prompt) = bot.start_and_wait_for_prompt().await;
    bot.click(&prompt.ts, APPROVE, MALLORY).await;
    bot.wait_for_ephemeral(MALLORY, "not an approver").await;
    bot.click(&prompt.ts, APPROVE, ALICE).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved* by <@U0ALICE>")
        .await;
    bot.audit_record(&prompt.ts, "recorded").await;

    // Who may read `/deploy status` may read it: BOB is an approver through his group.
    let shown = history(&bot, BOB, "").await;
    let approved = shown.find("*approved* by <@U0ALICE>: recorded");
    let refused = shown.find("*approved* by <@U0MALLORY>: not_an_approver");
    assert!(approved.is_some() && refused.is_some(), "{shown}");
    assert!(approved < refused, "newest first: {shown}");
    assert!(
        shown.contains(&format!("execution `{execution}`")),
        "{shown}"
    );

    let latest = history(&bot, ALICE, " 1").await;
    assert!(latest.contains("<@U0ALICE>"), "{latest}");
    assert!(
        !latest.contains("<@U0MALLORY>"),
        "only the newest: {latest}"
    );
}

#[tokio::test]
async fn a_confirmed_start_shows_in_the_history_with_its_execution() {
    let bot = Bot::spawn(Options::default()).await;
    let empty = history(&bot, ALICE, "").await;
    assert!(empty.contains("No decisions, starts or stops"), "{empty}");

    let confirm = confirmation(&bot, &bot.pipeline).await;
    bot.click(&confirm.ts, START, ALICE).await;
    let ids = eventually(DEADLINE, "the execution", || async {
        Some(executions(&bot).await).filter(|e| !e.is_empty())
    })
    .await;
    let line = format!("*start* by <@U0ALICE>: started · execution `{}`", ids[0]);
    eventually(DEADLINE, "the start in the history", || async {
        history(&bot, ALICE, "").await.contains(&line).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_confirmed_stop_shows_in_the_history_with_its_reason() {
    let bot = Bot::spawn(Options::default()).await;
    let (execution, _) = bot.start_and_wait_for_prompt().await;
    let confirm = confirmation(&bot, &format!("stop {} <b>hotfix</b>", bot.pipeline)).await;
    bot.click(&confirm.ts, STOP, ALICE).await;
    let line = format!(
        "*stop* by <@U0ALICE>: stop_requested · execution `{execution}` · in <#C0DEPLOYS> · &lt;b&gt;hotfix&lt;/b&gt;"
    );
    eventually(DEADLINE, "the stop in the history", || async {
        history(&bot, ALICE, "").await.contains(&line).then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_history_one_process_wrote_is_read_by_the_next_after_it_stopped() {
    let mut bot = Bot::spawn_shared().await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    bot.reject(&prompt.ts, BOB, "smoke tests are red").await;
    bot.wait_for_restamp(&prompt.ts, "*Rejected* by <@U0BOB>")
        .await;
    bot.audit_record(&prompt.ts, "recorded").await;

    bot.stop().await;
    let replacement = bot.start_replica(2, Vec::new()).await;
    let shown = history(&bot, ALICE, "").await;
    assert!(
        shown.contains("*rejected* by <@U0BOB>: recorded"),
        "{shown}"
    );
    assert!(shown.contains("smoke tests are red"), "{shown}");
    replacement.stop().await;
}

#[tokio::test]
async fn a_decision_is_in_the_history_while_its_thread_reply_is_still_on_its_way() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    // The audit thread reply is the bot's next chat.postMessage: it hangs past every wait here.
    let posts = bot.slack.calls("chat.postMessage");
    bot.slack
        .fail_next("chat.postMessage", Failure::Stall { secs: 120 }, 1);

    bot.click(&prompt.ts, APPROVE, ALICE).await;
    eventually(DEADLINE, "the audit reply under way", || async {
        (bot.slack.calls("chat.postMessage") > posts).then_some(())
    })
    .await;
    let shown = history(&bot, ALICE, "").await;
    assert!(
        shown.contains("*approved* by <@U0ALICE>: recorded"),
        "{shown}"
    );
    assert!(
        bot.replies(&prompt.ts).is_empty(),
        "the reply has not landed"
    );
}
