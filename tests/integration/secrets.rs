//! Secrets never leak: the real binary at `RUST_LOG=trace` (every crate, every level) goes
//! through prompts, clicks, a reason modal, commands, a Socket Mode reconnect and a failed
//! Slack call, and nothing it printed holds a token, the button-signing key, a Socket Mode
//! ticket, a `response_url` or an approval token.

use emulators::slack::Failure;
use emulators::testing::eventually;

use crate::support::approvals::APPROVE;
use crate::support::process::finish;
use crate::support::{Bot, ALICE, BOB, CHANNEL, DEADLINE};

#[tokio::test]
async fn at_trace_level_no_secret_reaches_the_output() {
    let bot = Bot::prepare(false).await;
    let running = bot.start_process(2, &[("RUST_LOG", "trace")]).await;
    let mut approval_tokens = Vec::new();

    let (_, first) = bot.start_and_wait_for_prompt().await;
    approval_tokens.extend(
        bot.codepipeline
            .pending_approval(&bot.pipeline)
            .map(|p| p.token),
    );
    bot.click(&first.ts, APPROVE, ALICE).await;
    bot.wait_for_restamp(&first.ts, "*Approved*").await;

    let (_, second) = bot.start_and_wait_for_prompt().await;
    approval_tokens.extend(
        bot.codepipeline
            .pending_approval(&bot.pipeline)
            .map(|p| p.token),
    );
    bot.slack
        .fail_next("chat.postEphemeral", Failure::ServerError, 1);
    bot.click(&second.ts, APPROVE, "U0NOBODY").await;
    bot.reject(&second.ts, BOB, "not today").await;
    bot.wait_for_restamp(&second.ts, "*Rejected*").await;

    for text in ["status", "list", "history"] {
        let envelope = bot
            .slack
            .slash_command(
                CHANNEL,
                ALICE,
                "/deploy",
                &format!("{text} {}", bot.pipeline),
            )
            .await
            .expect("delivered");
        envelope.acked(DEADLINE).await.expect("acked");
    }
    let dials = bot.slack.calls("apps.connections.open");
    bot.slack.drop_connection();
    eventually(DEADLINE, "a new socket", || async {
        (bot.slack.calls("apps.connections.open") > dials && bot.slack.open_connections() == 2)
            .then_some(())
    })
    .await;

    running.signal("TERM").await;
    let (status, stdout, stderr) = finish(running).await;
    assert_eq!(status.code(), Some(0));
    let output = format!("{stdout}{stderr}");
    let traced = output.lines().filter(|l| l.contains("TRACE")).count();
    assert!(traced > 20, "trace level was on: {traced} TRACE lines");
    assert!(
        approval_tokens.len() == 2,
        "two approval tokens to look for"
    );
    let aws = &bot.aws;
    let secrets = [&aws.bot_token, &aws.app_token, &aws.button_key]
        .into_iter()
        .cloned()
        .chain(bot.slack.issued_secrets())
        .chain(approval_tokens);
    for secret in secrets {
        // The line is shown with the secret masked, so that this test's output leaks nothing.
        if let Some(line) = output.lines().find(|l| l.contains(&secret)) {
            let line: String = line
                .replace(&secret, "«secret»")
                .chars()
                .take(600)
                .collect();
            panic!(
                "a secret of {} characters is in the output: {line}",
                secret.len()
            );
        }
    }
}
