//! Who may run a command, where, and how often: `/deploy` reads a pipeline only in its channels
//! and for its approvers, deployers and viewers; `/redshift-alerts` answers only where an access
//! grant applies; a refusal runs nothing (no CodePipeline call, no Athena query). Slack's
//! retried envelope (the same `trigger_id`) runs a command once, on one process or two.

use emulators::slack::Envelope;
use emulators::testing::eventually;

use crate::deploy::{response, text_of};
use crate::support::redshift::{Exports, CLOCK};
use crate::support::{
    response_url, Bot, Options, ALICE, APPROVERS_GROUP, BOB, CHANNEL, DEADLINE, MALLORY,
};

/// A channel no pipeline is served in.
const ELSEWHERE: &str = "C0RANDOM";
/// ALICE's direct message with the bot.
const ALICE_DM: &str = "D0ALICE";

/// `/deploy status <the pipeline>` as `user` in `channel`; the envelope and the ack's text.
async fn deploy_status(bot: &Bot, channel: &str, user: &str) -> (Envelope, String) {
    let text = format!("status {}", bot.pipeline);
    bot.command(channel, user, "/deploy", &text).await
}

/// A bot whose test channel has another channel and ALICE's DM beside it.
async fn spawn(options: Options) -> Bot {
    let bot = Bot::spawn(options).await;
    bot.slack.add_channel(ELSEWHERE, "random");
    bot.slack.add_channel(ALICE_DM, "alice-dm");
    bot
}

/// The CodePipeline reads `/deploy status` and `list` make.
fn reads(bot: &Bot) -> usize {
    ["GetPipelineState", "ListPipelineExecutions"]
        .iter()
        .map(|op| bot.codepipeline.requests(op))
        .sum()
}

#[tokio::test]
async fn a_non_approvers_deploy_status_is_refused_and_codepipeline_is_not_called() {
    let mut bot = spawn(Options::default()).await;
    let status = format!("status {}", bot.pipeline);

    let (envelope, _) = bot.command(CHANNEL, MALLORY, "/deploy", &status).await;
    let refusal = response(&bot, &response_url(&envelope), "the refusal", |p| {
        text_of(p).contains("You may not see")
    })
    .await;
    assert!(text_of(&refusal).contains(&bot.pipeline), "{refusal:?}");
    let (envelope, _) = bot.command(CHANNEL, MALLORY, "/deploy", "list").await;
    response(&bot, &response_url(&envelope), "the empty list", |p| {
        text_of(p).contains("You may not see any pipeline served here")
    })
    .await;

    bot.stop().await;
    assert_eq!(reads(&bot), 0, "no CodePipeline call for a refused user");
    assert!(bot.slack.messages(CHANNEL).is_empty(), "nothing was posted");
}

#[tokio::test]
async fn deploy_in_another_channel_or_a_dm_is_refused_in_the_ack() {
    let mut bot = spawn(Options::default()).await;
    for text in [
        format!("status {}", bot.pipeline),
        format!("history {}", bot.pipeline),
        bot.pipeline.clone(),
    ] {
        let (_, ack) = bot.command(ELSEWHERE, ALICE, "/deploy", &text).await;
        assert!(
            ack.contains("does not act on") && ack.contains("in this channel"),
            "{ack}"
        );
        assert!(ack.contains(&format!("<#{CHANNEL}>")), "{ack}");
        let (_, ack) = bot.command(ALICE_DM, ALICE, "/deploy", &text).await;
        assert!(ack.contains("in a direct message"), "{ack}");
    }
    let (_, ack) = bot.command(ELSEWHERE, ALICE, "/deploy", "list").await;
    assert!(ack.contains("No pipeline is served here"), "{ack}");
    let (_, ack) = bot.command(ALICE_DM, ALICE, "/deploy", "help").await;
    assert!(ack.contains("*Usage*"), "help works anywhere: {ack}");

    bot.stop().await;
    assert_eq!(reads(&bot), 0);
    assert_eq!(bot.codepipeline.requests("StartPipelineExecution"), 0);
    assert!(bot.slack.messages(ELSEWHERE).is_empty());
    assert!(bot.slack.messages(ALICE_DM).is_empty());
}

#[tokio::test]
async fn an_approver_through_a_group_reads_the_status_in_the_pipelines_channel() {
    let bot = spawn(Options::default()).await;
    let (_, ack) = deploy_status(&bot, CHANNEL, BOB).await;
    assert!(ack.contains("Reading the state"), "{ack}");
    eventually(DEADLINE, "the status in the channel", || async {
        bot.slack
            .messages(CHANNEL)
            .into_iter()
            .find(|m| m.blocks.to_string().contains(&bot.pipeline))
    })
    .await;
    assert_eq!(bot.codepipeline.requests("GetPipelineState"), 1);
}

#[tokio::test]
async fn configured_viewers_and_channels_widen_the_default() {
    let bot = spawn(Options {
        config_tail: format!(
            "viewer_users = [\"{MALLORY}\"]\ncommand_channels = [\"{ELSEWHERE}\"]\ncommand_in_dm = true\n"
        ),
        ..Options::default()
    })
    .await;
    let (_, ack) = deploy_status(&bot, ELSEWHERE, MALLORY).await;
    assert!(ack.contains("Reading the state"), "{ack}");
    eventually(DEADLINE, "the status where it was asked", || async {
        bot.slack.messages(ELSEWHERE).into_iter().next()
    })
    .await;

    let (envelope, _) = bot.command(ALICE_DM, ALICE, "/deploy", "list").await;
    response(&bot, &response_url(&envelope), "the list in the DM", |p| {
        text_of(p).contains(&format!("• `{}`", bot.pipeline))
    })
    .await;
}

#[tokio::test]
async fn a_retried_envelope_runs_the_command_once() {
    let mut bot = spawn(Options::default()).await;
    let (envelope, _) = deploy_status(&bot, CHANNEL, ALICE).await;
    // Slack's retry: the same payload, so the same trigger_id, in a new envelope.
    let again = bot
        .slack
        .send_envelope("slash_commands", envelope.payload.clone(), true)
        .await
        .expect("delivered again");
    assert!(again.acked(DEADLINE).await.is_some());

    // Stopping waits for the work of both deliveries.
    bot.stop().await;
    assert_eq!(bot.slack.messages(CHANNEL).len(), 1, "one status post");
    assert_eq!(bot.codepipeline.requests("GetPipelineState"), 1);
}

#[tokio::test]
async fn a_retried_envelope_landing_on_another_process_runs_the_command_once() {
    let mut bot = Bot::spawn_shared().await;
    let replica = bot.start_replica(4, Vec::new()).await;
    bot.slack.route_next_to(0);
    let (envelope, _) = deploy_status(&bot, CHANNEL, ALICE).await;
    bot.slack.route_next_to(2);
    let again = bot
        .slack
        .send_envelope("slash_commands", envelope.payload.clone(), true)
        .await
        .expect("delivered again");
    assert!(again.acked(DEADLINE).await.is_some());

    replica.stop().await;
    bot.stop().await;
    assert_eq!(bot.slack.messages(CHANNEL).len(), 1, "one status post");
    assert_eq!(bot.codepipeline.requests("GetPipelineState"), 1);
}

/// A bot whose `/redshift-alerts` grants are `access` (a TOML array of grants).
async fn redshift(exports: &Exports, access: &str) -> Bot {
    let mut env = exports.env();
    env.push(("CHATOPS__REDSHIFT_ALERTS__ACCESS".into(), access.to_owned()));
    spawn(Options {
        env,
        clock: Some(CLOCK),
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn redshift_alerts_outside_its_granted_channels_is_refused_and_starts_no_query() {
    let exports = Exports::create().await;
    let mut bot = redshift(&exports, &format!(r#"[{{ channels = ["{CHANNEL}"] }}]"#)).await;
    let (_, ack) = bot
        .command(ELSEWHERE, ALICE, "/redshift-alerts", "queues")
        .await;
    assert!(ack.contains("not enabled in this channel"), "{ack}");
    let (_, ack) = bot
        .command(ALICE_DM, ALICE, "/redshift-alerts", "queues")
        .await;
    assert!(ack.contains("direct messages"), "{ack}");

    bot.stop().await;
    assert!(exports.all_queries().await.is_empty(), "no Athena query");
    assert!(bot.slack.messages(ELSEWHERE).is_empty());
}

#[tokio::test]
async fn redshift_alerts_answers_a_groups_members_about_their_clusters_only() {
    let exports = Exports::create().await;
    let grant = format!(
        r#"[{{ channels = ["{CHANNEL}"], groups = ["{APPROVERS_GROUP}"], clusters = ["etl-prod"] }}]"#
    );
    let bot = redshift(&exports, &grant).await;

    let (envelope, ack) = bot
        .command(CHANNEL, MALLORY, "/redshift-alerts", "queues etl-prod")
        .await;
    assert!(ack.contains("Checking"), "{ack}");
    response(&bot, &response_url(&envelope), "MALLORY's refusal", |p| {
        text_of(p).contains("You may not use `/redshift-alerts` in this channel")
    })
    .await;
    let (envelope, _) = bot
        .command(CHANNEL, BOB, "/redshift-alerts", "queues analytics-prod")
        .await;
    response(&bot, &response_url(&envelope), "BOB's refusal", |p| {
        text_of(p).contains("You may not ask about analytics-prod")
    })
    .await;
    assert!(
        exports.all_queries().await.is_empty(),
        "no Athena query yet"
    );

    let (envelope, _) = bot
        .command(CHANNEL, BOB, "/redshift-alerts", "queues")
        .await;
    response(&bot, &response_url(&envelope), "BOB's question runs", |p| {
        text_of(p).contains("Running")
    })
    .await;
    let answer = eventually(DEADLINE, "the answer", || async {
        bot.slack.messages(CHANNEL).into_iter().next()
    })
    .await;
    let text = answer.blocks.to_string();
    assert!(
        text.contains("etl-prod") && !text.contains("analytics-prod"),
        "{text}"
    );
}

#[tokio::test]
async fn a_state_store_that_cannot_be_reached_runs_nothing_and_says_so() {
    let bot = Bot::prepare(false).await;
    let missing = format!("\n[state]\ntable = \"chatops-missing-{}\"\n", bot.aws.id);
    let mut bot = bot
        .start(Options {
            config_tail: missing,
            ..Options::default()
        })
        .await;
    let (envelope, _) = deploy_status(&bot, CHANNEL, ALICE).await;
    response(
        &bot,
        &response_url(&envelope),
        "the fail-closed reply",
        |p| text_of(p).contains("cannot reach its state store"),
    )
    .await;

    bot.stop().await;
    assert_eq!(bot.codepipeline.requests("GetPipelineState"), 0);
    assert!(bot.slack.messages(CHANNEL).is_empty(), "nothing was posted");
}
