//! The approval loop end to end: CodePipeline simulator → SNS → SQS (ministack) → the bot →
//! Slack emulator → click over Socket Mode → PutApprovalResult → restamped prompt.

use chatops::outbound::parameter_store::{
    ButtonKeys, TokenStore, Tokens, BUTTON_KEY, PREVIOUS_BUTTON_KEY,
};
use chatops::secret::Secret;
use emulators::slack::{Failure, Message};
use emulators::testing::eventually;
use serde_json::json;

use crate::support::approvals::APPROVE;
use crate::support::{has_buttons, Bot, Options, ALICE, BOB, CHANNEL, DEADLINE, MALLORY};

#[tokio::test]
async fn an_approver_approves_and_the_pipeline_moves_on() {
    let bot = Bot::spawn(Options::default()).await;
    let (execution, prompt) = bot.start_and_wait_for_prompt().await;
    assert!(has_buttons(&prompt));
    let blocks = prompt.blocks.to_string();
    assert!(blocks.contains(&bot.pipeline), "{blocks}");
    assert!(blocks.contains("<!date^"), "expiry shown: {blocks}");
    assert!(
        blocks.contains(&format!("*Execution* `{execution}`")),
        "{blocks}"
    );

    bot.click(&prompt.ts, APPROVE, ALICE).await;

    let restamped = bot
        .wait_for_restamp(&prompt.ts, "*Approved* by <@U0ALICE>")
        .await;
    assert!(restamped.blocks.to_string().contains("<!date^"));
    let results = bot.codepipeline.approval_results();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].status, "Approved");
    assert!(results[0].summary.contains(ALICE), "{}", results[0].summary);
    assert!(results[0].summary.chars().count() <= 512);
    bot.wait_for_execution(&execution, "Succeeded").await;
    assert_eq!(bot.prompts().len(), 1, "exactly one prompt");
}

#[tokio::test]
async fn a_failing_context_lookup_does_not_hold_back_the_prompt() {
    let bot = Bot::spawn(Options::default()).await;
    bot.codepipeline
        .fail_next("GetPipelineState", "ValidationException", 1);

    let (_, prompt) = bot.start_and_wait_for_prompt().await;

    let blocks = prompt.blocks.to_string();
    assert!(!blocks.contains("*Execution*"), "{blocks}");
    assert!(has_buttons(&prompt));
}

#[tokio::test]
async fn a_group_member_rejects_with_raw_delivery_and_the_execution_fails() {
    let bot = Bot::spawn(Options {
        raw_delivery: true,
        ..Options::default()
    })
    .await;
    let (execution, prompt) = bot.start_and_wait_for_prompt().await;

    bot.reject(&prompt.ts, BOB, "smoke tests are red").await;

    bot.wait_for_restamp(&prompt.ts, "*Rejected* by <@U0BOB>")
        .await;
    let results = bot.codepipeline.approval_results();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].status, "Rejected");
    bot.wait_for_execution(&execution, "Failed").await;
}

#[tokio::test]
async fn a_redelivered_notification_is_posted_once() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    let published = bot
        .codepipeline
        .notifications()
        .into_iter()
        .last()
        .expect("a notification was published");
    // SNS and SQS are at-least-once: deliver the very same notification twice more.
    for _ in 0..2 {
        bot.aws
            .sns
            .publish()
            .topic_arn(&bot.aws.topic_arn)
            .subject(&published.subject)
            .message(published.message.to_string())
            .send()
            .await
            .expect("publish");
    }
    eventually(DEADLINE, "the queue to be drained", || async {
        (bot.aws.queue_depth().await == 0).then_some(())
    })
    .await;
    let prompts = bot.prompts();
    assert_eq!(prompts.len(), 1, "one prompt for one token");
    assert_eq!(prompts[0].ts, prompt.ts);
}

#[tokio::test]
async fn someone_who_is_not_an_approver_is_told_so_and_nothing_reaches_codepipeline() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;

    bot.click(&prompt.ts, APPROVE, MALLORY).await;

    let reply = bot.wait_for_ephemeral(MALLORY, "not an approver").await;
    let text = reply.text.unwrap_or_default();
    assert!(
        text.contains("<@U0ALICE>") && text.contains("<!subteam^S0RELEASE>"),
        "{text}"
    );
    assert_eq!(bot.codepipeline.put_approval_calls(), 0);
    assert!(
        has_buttons(&bot.message(&prompt.ts)),
        "the prompt stays open"
    );
}

#[tokio::test]
async fn a_double_click_records_one_decision() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;

    let first = bot.slack.click(CHANNEL, &prompt.ts, APPROVE, ALICE);
    let second = bot.slack.click(CHANNEL, &prompt.ts, APPROVE, ALICE);
    let (first, second) = tokio::join!(first, second);
    for e in [first.expect("click"), second.expect("click")] {
        assert!(e.acked(DEADLINE).await.is_some());
    }

    bot.wait_for_restamp(&prompt.ts, "*Approved* by <@U0ALICE>")
        .await;
    bot.wait_for_ephemeral(ALICE, "changed nothing").await;
    assert_eq!(bot.codepipeline.approval_results().len(), 1);
}

#[tokio::test]
async fn two_people_at_once_end_with_one_result_and_a_consistent_message() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    let modal = bot
        .open_modal(&prompt.ts, crate::support::approvals::REJECT, BOB)
        .await;

    let (a, b) = tokio::join!(
        bot.slack.click(CHANNEL, &prompt.ts, APPROVE, ALICE),
        bot.submit(&modal, BOB, Some("not today")),
    );
    assert!(a.expect("click").acked(DEADLINE).await.is_some());
    assert_eq!(b.payload, None);

    let winner = eventually(DEADLINE, "one decision", || async {
        bot.codepipeline.approval_results().into_iter().next()
    })
    .await;
    let expected = match winner.status.as_str() {
        "Approved" => "*Approved* by <@U0ALICE>",
        _ => "*Rejected* by <@U0BOB>",
    };
    let loser = if winner.status == "Approved" {
        BOB
    } else {
        ALICE
    };
    bot.wait_for_restamp(&prompt.ts, expected).await;
    bot.wait_for_ephemeral(loser, "changed nothing").await;
    assert_eq!(bot.codepipeline.approval_results().len(), 1);
    assert_eq!(
        bot.message(&prompt.ts)
            .blocks
            .to_string()
            .matches("approval_outcome")
            .count(),
        1
    );
}

#[tokio::test]
async fn an_expired_approval_says_so_and_loses_its_buttons() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    bot.codepipeline.expire_approvals(&bot.pipeline);

    bot.click(&prompt.ts, APPROVE, ALICE).await;

    bot.wait_for_restamp(&prompt.ts, "expired or was superseded")
        .await;
    bot.wait_for_ephemeral(ALICE, "expired or was superseded")
        .await;
    assert!(bot.codepipeline.approval_results().is_empty());
}

#[tokio::test]
async fn an_approval_decided_in_the_console_is_shown_as_already_decided() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    bot.decide_in_console(true, "approved in the console");

    bot.click(&prompt.ts, APPROVE, ALICE).await;

    bot.wait_for_restamp(&prompt.ts, "already decided").await;
    bot.wait_for_ephemeral(ALICE, "already decided").await;
}

#[tokio::test]
async fn a_prompt_that_slack_refuses_at_first_is_posted_once_slack_recovers() {
    let bot = Bot::spawn(Options::default()).await;
    bot.slack
        .fail_next("chat.postMessage", Failure::ServerError, 1);
    bot.slack.fail_next(
        "chat.postMessage",
        Failure::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );

    let (_, prompt) = bot.start_and_wait_for_prompt().await;

    assert!(bot.slack.calls("chat.postMessage") >= 3);
    eventually(DEADLINE, "the queue to be drained", || async {
        (bot.aws.queue_depth().await == 0).then_some(())
    })
    .await;
    assert_eq!(bot.prompts().len(), 1);
    bot.click(&prompt.ts, APPROVE, ALICE).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved*").await;
}

#[tokio::test]
async fn a_refresh_requested_disconnect_loses_no_click() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;

    bot.slack.disconnect("refresh_requested");
    bot.click(&prompt.ts, APPROVE, ALICE).await;

    bot.wait_for_restamp(&prompt.ts, "*Approved*").await;
    assert!(
        bot.slack.wait_for_connections(2, DEADLINE).await,
        "the bot reconnects to two sockets"
    );
    bot.slack.drop_connection();
    let (_, second) = bot.start_and_wait_for_prompt().await;
    bot.reject(&second.ts, ALICE, "wrong build").await;
    bot.wait_for_restamp(&second.ts, "*Rejected*").await;
}

/// The prompt's blocks with the one-click "Approve" value replaced by `edit(value)`, posted
/// as the bot in the channel; the copy's `ts`.
async fn post_with_approve_value(
    bot: &Bot,
    prompt: &Message,
    edit: impl FnOnce(&str) -> String,
) -> String {
    let mut blocks = prompt.blocks.clone();
    let actions = blocks
        .as_array_mut()
        .and_then(|b| b.iter_mut().find(|b| b["type"] == "actions"))
        .expect("the buttons");
    assert_eq!(actions["elements"][0]["action_id"], APPROVE);
    let value = &mut actions["elements"][0]["value"];
    *value = json!(edit(value.as_str().unwrap_or_default()));
    let content =
        serde_json::from_value(json!({"text": "copy", "blocks": blocks})).expect("message content");
    let channel = chatops::ids::ChannelId::parse(CHANNEL).expect("channel");
    bot.web().post(&channel, content, None).await.expect("post")
}

/// The reference a signed button value carries (what comes after the tag).
fn unsigned(value: &str) -> String {
    value.split_once('.').expect("a signed value").1.to_owned()
}

#[tokio::test]
async fn a_signed_value_of_another_pipeline_is_still_refused_without_calling_codepipeline() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    let signer = bot.signer();
    let ts = post_with_approve_value(&bot, &prompt, |value| {
        let other = unsigned(value).replace(&bot.pipeline, "other-pipeline");
        signer.sign_button(APPROVE, &other).expect("fits")
    })
    .await;

    bot.click(&ts, APPROVE, ALICE).await;

    bot.wait_for_ephemeral(ALICE, "not served by this bot")
        .await;
    assert_eq!(bot.codepipeline.put_approval_calls(), 0);
}

#[tokio::test]
async fn a_button_value_the_bot_did_not_sign_is_refused_even_when_it_names_the_real_approval() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    let other_key = chatops::signing::Signer::new(TokenStore::fixed(Tokens {
        bot: Secret::new("xoxb-other"),
        app: Secret::new("xapp-other"),
        github: None,
        buttons: ButtonKeys::new(
            Secret::new("another-key-another-key-0123456789"),
            Vec::new(),
        ),
    }));
    // The real, pending approval's reference: unsigned, signed with another key, and with the
    // real tag over another pipeline's reference.
    let forged = [
        post_with_approve_value(&bot, &prompt, unsigned).await,
        post_with_approve_value(&bot, &prompt, |v| {
            other_key.sign_button(APPROVE, &unsigned(v)).expect("fits")
        })
        .await,
        post_with_approve_value(&bot, &prompt, |v| {
            v.replace(&bot.pipeline, "other-pipeline")
        })
        .await,
    ];

    for ts in &forged {
        bot.click(ts, APPROVE, ALICE).await;
    }

    eventually(DEADLINE, "an ephemeral for each forged message", || async {
        let told = bot.slack.ephemerals(CHANNEL, ALICE);
        let told = told.iter().filter(|m| {
            m.text
                .as_deref()
                .is_some_and(|t| t.contains("not issued by this bot"))
        });
        (told.count() == forged.len()).then_some(())
    })
    .await;
    assert_eq!(bot.codepipeline.put_approval_calls(), 0);
    assert!(
        has_buttons(&bot.message(&prompt.ts)),
        "the prompt stays open"
    );

    bot.click(&prompt.ts, APPROVE, ALICE).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved* by <@U0ALICE>")
        .await;
    assert_eq!(bot.codepipeline.put_approval_calls(), 1);
}

#[tokio::test]
async fn a_prompt_signed_before_a_key_rotation_is_decided_after_a_restart() {
    let mut bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    let old = bot.aws.button_key.clone();
    bot.aws
        .put_parameter(
            BUTTON_KEY,
            &format!("the-rotated-key-{}", bot.aws.id.repeat(3)),
        )
        .await;
    bot.aws.put_parameter(PREVIOUS_BUTTON_KEY, &old).await;
    bot.stop().await;
    let replacement = bot.start_replica(2, Vec::new()).await;

    bot.click(&prompt.ts, APPROVE, ALICE).await;

    bot.wait_for_restamp(&prompt.ts, "*Approved* by <@U0ALICE>")
        .await;
    assert_eq!(bot.codepipeline.put_approval_calls(), 1);
    replacement.stop().await;
}

#[tokio::test]
async fn a_key_replaced_while_the_bot_runs_still_verifies_the_prompts_signed_with_it() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    // A copy whose value only the next key signs (posted while the bot token still works).
    let new_key = format!("the-rotated-key-{}", bot.aws.id.repeat(3));
    let new_signer = chatops::signing::Signer::new(TokenStore::fixed(Tokens {
        bot: Secret::new(bot.aws.bot_token.clone()),
        app: Secret::new(bot.aws.app_token.clone()),
        github: None,
        buttons: ButtonKeys::new(Secret::new(new_key.clone()), Vec::new()),
    }));
    let copy = post_with_approve_value(&bot, &prompt, |v| {
        let other = unsigned(v).replace(&bot.pipeline, "other-pipeline");
        new_signer.sign_button(APPROVE, &other).expect("fits")
    })
    .await;

    // The key is overwritten (no previous-key parameter); the bot re-reads its parameters at
    // the next invalid_auth, which the bot token's rotation brings.
    bot.aws.put_parameter(BUTTON_KEY, &new_key).await;
    let rotated = format!("xoxb-rotated-{}", bot.aws.id);
    bot.aws.put_parameter("slack/bot_token", &rotated).await;
    bot.slack.set_bot_token(&rotated);
    bot.click(&prompt.ts, APPROVE, MALLORY).await;
    bot.wait_for_ephemeral(MALLORY, "not an approver").await;

    // The new key verifies now: the parameters were re-read.
    bot.click(&copy, APPROVE, ALICE).await;
    bot.wait_for_ephemeral(ALICE, "not served by this bot")
        .await;
    // And the replaced key still does, for the prompt signed with it.
    bot.click(&prompt.ts, APPROVE, ALICE).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved* by <@U0ALICE>")
        .await;
    assert_eq!(bot.codepipeline.put_approval_calls(), 1);
}

#[tokio::test]
async fn a_rotated_bot_token_is_reread_from_parameter_store_on_invalid_auth() {
    let bot = Bot::spawn(Options::default()).await;
    let rotated = format!("xoxb-rotated-{}", bot.aws.id);
    bot.aws.put_parameter("slack/bot_token", &rotated).await;
    bot.slack.set_bot_token(&rotated);

    let (_, prompt) = bot.start_and_wait_for_prompt().await;

    assert_eq!(
        bot.slack.calls("chat.postMessage"),
        2,
        "refused once with the old token, then posted at once with the new one"
    );
    bot.click(&prompt.ts, APPROVE, ALICE).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved*").await;
}

#[tokio::test]
async fn shutdown_during_a_click_finishes_the_decision_and_stops_cleanly() {
    let mut bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;

    bot.click(&prompt.ts, APPROVE, ALICE).await;
    bot.stop().await;

    assert_eq!(bot.codepipeline.approval_results().len(), 1);
    let m = bot.message(&prompt.ts);
    assert!(!has_buttons(&m) && m.blocks.to_string().contains("*Approved*"));
}

#[tokio::test]
async fn shutdown_mid_long_poll_leaves_new_notifications_in_the_queue() {
    let mut bot = Bot::spawn(Options::default()).await;
    bot.stop().await;

    bot.codepipeline.start_execution(&bot.pipeline).await;

    eventually(
        DEADLINE,
        "the notification to wait in the queue",
        || async { (bot.aws.queue_depth().await == 1).then_some(()) },
    )
    .await;
    assert!(bot.prompts().is_empty());
}
