//! Several bot processes, one truth: with `[state]` on DynamoDB (ministack), the votes of a
//! quorum that land on different processes meet, a prompt is posted once (even when the process
//! that posted it died before recording it), and what one process recorded holds after it
//! stops.
//!
//! Slack spreads envelopes over every open Socket Mode connection of the app, whichever process
//! holds it; the emulator does the same, and `route_next_to` picks the connection of a click:
//! the first process's sockets are 0 and 1, the second's 2 and 3.

use aws_sdk_dynamodb::types::AttributeValue;
use chatops::approvals::announce::{prompt_metadata, PROMPT_EVENT};
use chatops::approvals::{render, ApprovalRef};
use chatops::ids::{ActionName, ApprovalToken, ChannelId, ExecutionId, PipelineName, StageName};
use emulators::slack::Message;
use emulators::testing::eventually;
use serde_json::Value;
use std::collections::HashMap;

use crate::support::approvals::{APPROVE, REJECT};
use crate::support::{aws, has_buttons, Bot, Options, ALICE, BOB, CHANNEL, DEADLINE};

/// Quorum 2; Alice and the group (Bob) approve; the simulator's starter is nobody here.
fn quorum_of_two() -> Options {
    Options {
        config_tail: r#"
            [[pipelines.actions]]
            stage = "Approve"
            action = "ManualApproval"
            quorum = 2
            "#
        .into(),
        ..Options::default()
    }
}

fn text(m: &Message) -> String {
    m.blocks.to_string()
}

/// A bot on a fresh state table (its first process started with `options`).
async fn shared(options: Options) -> Bot {
    Bot::prepare(false)
        .await
        .with_shared_state()
        .await
        .start(options)
        .await
}

/// Waits until the prompt at `ts` counts Bob's vote, the first of two.
async fn wait_for_one_of_two(bot: &Bot, ts: &str) {
    eventually(DEADLINE, "the prompt to show 1 of 2", || async {
        text(&bot.message(ts))
            .contains("1 of 2 approvals: <@U0BOB>")
            .then_some(())
    })
    .await;
}

/// Clicks Approve as `user` through the connection at `socket`.
async fn approve_via(bot: &Bot, socket: usize, ts: &str, user: &str) {
    bot.slack.route_next_to(socket);
    bot.click(ts, APPROVE, user).await;
}

#[tokio::test]
async fn two_votes_of_a_quorum_landing_on_two_processes_decide_once() {
    let bot = shared(quorum_of_two()).await;
    let replica = bot.start_replica(4, Vec::new()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;

    approve_via(&bot, 0, &prompt.ts, BOB).await;
    wait_for_one_of_two(&bot, &prompt.ts).await;
    approve_via(&bot, 2, &prompt.ts, ALICE).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved* by <@U0BOB>, <@U0ALICE>")
        .await;

    assert_eq!(bot.codepipeline.put_approval_calls(), 1);
    assert_eq!(bot.prompts().len(), 1, "one prompt for the approval");
    replica.stop().await;
}

#[tokio::test]
async fn a_vote_counted_before_a_restart_still_counts_after_it() {
    let mut bot = shared(quorum_of_two()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    approve_via(&bot, 0, &prompt.ts, BOB).await;
    wait_for_one_of_two(&bot, &prompt.ts).await;

    // The process that counted the vote stops; a new one takes its place.
    bot.stop().await;
    let replacement = bot.start_replica(2, Vec::new()).await;
    approve_via(&bot, 0, &prompt.ts, ALICE).await;
    let done = bot
        .wait_for_restamp(&prompt.ts, "*Approved* by <@U0BOB>, <@U0ALICE>")
        .await;
    assert!(!has_buttons(&done));
    assert_eq!(bot.codepipeline.put_approval_calls(), 1);
    let results = bot.codepipeline.approval_results();
    assert!(results[0].summary.contains(BOB) && results[0].summary.contains(ALICE));
    replacement.stop().await;
}

#[tokio::test]
async fn a_notification_that_reaches_two_processes_posts_one_prompt() {
    let bot = shared(Options::default()).await;
    // The second process polls its own queue on the same topic: every notification reaches
    // both processes (as SQS's at-least-once delivery may do with one queue).
    let config = crate::support::aws::sdk_config().await;
    let second = emulators::ministack::subscribe_queue(
        &config,
        &bot.aws.topic_arn,
        &format!("approvals-2-{}", bot.aws.id),
    )
    .await
    .expect("second queue");
    let env = vec![("CHATOPS__APPROVALS__QUEUE_URL".to_owned(), second.clone())];
    let replica = bot.start_replica(4, env).await;
    for _ in 0..3 {
        bot.start_and_wait_for_prompt().await;
    }
    eventually(DEADLINE, "both queues to be drained", || async {
        let depths = (bot.aws.queue_depth().await, bot.aws.depth_of(&second).await);
        (depths == (0, 0)).then_some(())
    })
    .await;
    assert_eq!(bot.prompts().len(), 3, "{:?}", bot.prompts());
    replica.stop().await;
}

#[tokio::test]
async fn reject_on_a_decided_approval_is_answered_at_the_click_before_any_modal() {
    let bot = shared(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    // A second copy of the prompt's buttons (as a `/deploy status` reply or a stale client
    // shows them), still clickable after the decision.
    let copy = bot.post_copy(&prompt, crate::support::CHANNEL).await;

    approve_via(&bot, 0, &prompt.ts, ALICE).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved* by <@U0ALICE>")
        .await;
    bot.click(&copy, REJECT, BOB).await;
    bot.wait_for_ephemeral(BOB, "already approved by <@U0ALICE>")
        .await;
    assert!(bot.slack.views_opened().is_empty(), "no modal opened");
    assert_eq!(bot.codepipeline.put_approval_calls(), 1);
}

#[tokio::test]
async fn a_click_while_the_state_table_is_unreachable_is_refused_and_sends_nothing() {
    let bot = shared(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    let config = crate::support::aws::sdk_config().await;
    aws_sdk_dynamodb::Client::new(&config)
        .delete_table()
        .table_name(bot.state_table())
        .send()
        .await
        .expect("delete the state table");

    approve_via(&bot, 0, &prompt.ts, ALICE).await;
    bot.wait_for_ephemeral(
        ALICE,
        "cannot record decisions right now; nothing was sent to CodePipeline",
    )
    .await;
    assert_eq!(bot.codepipeline.put_approval_calls(), 0);
    assert!(
        has_buttons(&bot.message(&prompt.ts)),
        "the prompt stays open"
    );
}

#[tokio::test]
async fn a_prompt_whose_record_is_lost_can_be_decided_only_in_the_pipeline_channel() {
    // No `[state]`: the records live in memory and a restart loses them.
    let mut bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    bot.stop().await;
    let replacement = bot.start_replica(2, Vec::new()).await;
    // The prompt's buttons, shown in another channel.
    bot.slack.add_channel("C0ELSEWHERE", "elsewhere");
    let copy = bot.post_copy(&prompt, "C0ELSEWHERE").await;
    let envelope = bot
        .slack
        .click("C0ELSEWHERE", &copy, APPROVE, ALICE)
        .await
        .expect("click");
    envelope.acked(DEADLINE).await.expect("ack");
    bot.wait_for_ephemeral_in("C0ELSEWHERE", ALICE, "<#C0DEPLOYS>")
        .await;
    assert_eq!(bot.codepipeline.put_approval_calls(), 0);
    replacement.stop().await;
}

#[tokio::test]
async fn a_reason_decision_on_a_prompt_whose_record_is_lost_keeps_the_prompt_readable() {
    let mut bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    bot.stop().await;
    let replacement = bot.start_replica(2, Vec::new()).await;

    bot.reject(&prompt.ts, BOB, "smoke tests are red").await;
    let done = bot
        .wait_for_restamp(&prompt.ts, "*Rejected* by <@U0BOB>")
        .await;
    let blocks = text(&done);
    assert!(blocks.contains("Approval needed"), "{blocks}");
    assert!(blocks.contains(&bot.pipeline), "{blocks}");
    replacement.stop().await;
}

/// A bot on a fresh state table, not started yet, and an execution waiting for approval: its
/// notification waits in the queue for the bot. The approval's reference.
async fn approval_waiting_for_a_bot() -> (Bot, ApprovalRef) {
    let bot = Bot::prepare(false).await.with_shared_state().await;
    let execution = bot.codepipeline.start_execution(&bot.pipeline).await;
    let pending = eventually(DEADLINE, "the approval to wait", || async {
        bot.codepipeline.pending_approval(&bot.pipeline)
    })
    .await;
    let approval = ApprovalRef {
        pipeline: PipelineName::parse(&bot.pipeline).expect("name"),
        stage: StageName::parse(&pending.stage).expect("name"),
        action: ActionName::parse(&pending.action).expect("name"),
        token: ApprovalToken::parse(&pending.token).expect("token"),
        execution: Some(ExecutionId::parse(&execution).expect("id")),
    };
    (bot, approval)
}

async fn dynamodb() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&aws::sdk_config().await)
}

/// The state table's key of `approval`'s prompt record.
fn prompt_key(approval: &ApprovalRef) -> HashMap<String, AttributeValue> {
    let pk = AttributeValue::S(format!("approval#{}", approval.token));
    let sk = AttributeValue::S("prompt".to_owned());
    HashMap::from([("pk".to_owned(), pk), ("sk".to_owned(), sk)])
}

/// Leaves `approval`'s prompt claimed as a process that died holding it would: claimed two
/// minutes ago, held until a minute ago (README, "Shared state and guarantees").
async fn write_lapsed_claim(bot: &Bot, approval: &ApprovalRef) {
    let now = chrono::Utc::now().timestamp();
    let body = serde_json::json!({"Claimed": {"since": now - 120, "until": now - 60}});
    let number = |n: i64| AttributeValue::N(n.to_string());
    let mut item = prompt_key(approval);
    item.extend([
        ("body".to_owned(), AttributeValue::S(body.to_string())),
        ("version".to_owned(), number(41)),
        ("expires_at".to_owned(), number(now + 24 * 3600)),
    ]);
    dynamodb()
        .await
        .put_item()
        .table_name(bot.state_table())
        .set_item(Some(item))
        .send()
        .await
        .expect("write the claim");
}

/// The body of `approval`'s prompt record, once it says the prompt is posted.
async fn posted_record(bot: &Bot, approval: &ApprovalRef) -> Value {
    let table = dynamodb().await;
    eventually(DEADLINE, "the prompt recorded as posted", || async {
        let item = table
            .get_item()
            .table_name(bot.state_table())
            .set_key(Some(prompt_key(approval)))
            .consistent_read(true)
            .send()
            .await
            .ok()?
            .item?;
        let body: Value = serde_json::from_str(item.get("body")?.as_s().ok()?).ok()?;
        body.get("Posted").cloned()
    })
    .await
}

/// Waits until the bot deleted the notification.
async fn wait_for_drained_queue(bot: &Bot) {
    eventually(DEADLINE, "the queue to be drained", || async {
        (bot.aws.queue_depth().await == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_prompt_posted_by_a_process_that_died_before_recording_it_is_found_not_posted_again() {
    let (bot, approval) = approval_waiting_for_a_bot().await;
    // The dead process claimed the prompt and Slack took its post; then it died.
    write_lapsed_claim(&bot, &approval).await;
    let content = render::bare_prompt(&approval, aws::REGION, true, &bot.signer()).expect("prompt");
    let channel = ChannelId::parse(CHANNEL).expect("channel");
    let ts = bot
        .web()
        .post_with_metadata(&channel, content, None, prompt_metadata(&approval.token))
        .await
        .expect("the dead process's post");

    let bot = bot.start(Options::default()).await;
    let record = posted_record(&bot, &approval).await;
    assert_eq!(
        record["posted"]["ts"], ts,
        "the record points at the existing prompt"
    );
    wait_for_drained_queue(&bot).await;
    let prompts: Vec<String> = bot.prompts().into_iter().map(|m| m.ts).collect();
    assert_eq!(prompts, [ts.as_str()], "no second prompt");

    approve_via(&bot, 0, &ts, ALICE).await;
    bot.wait_for_restamp(&ts, "*Approved* by <@U0ALICE>").await;
    assert_eq!(bot.codepipeline.put_approval_calls(), 1);
}

#[tokio::test]
async fn a_lapsed_claim_whose_prompt_is_not_in_slack_posts_it_once() {
    let (bot, approval) = approval_waiting_for_a_bot().await;
    // The dead process claimed the prompt and died before Slack took its post.
    write_lapsed_claim(&bot, &approval).await;

    let bot = bot.start(Options::default()).await;
    let record = posted_record(&bot, &approval).await;
    wait_for_drained_queue(&bot).await;
    let prompts = bot.prompts();
    assert_eq!(prompts.len(), 1, "{prompts:?}");
    assert_eq!(record["posted"]["ts"], prompts[0].ts);
    let metadata = &prompts[0].metadata;
    assert_eq!(metadata["event_type"], PROMPT_EVENT);
    assert_eq!(
        metadata["event_payload"]["token_hash"],
        approval.token.hash(),
        "the prompt names its token by hash only"
    );
    assert!(!metadata.to_string().contains(approval.token.as_str()));
}
