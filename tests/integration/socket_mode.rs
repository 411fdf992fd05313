//! Socket Mode under faults: a silent (half-open) socket is replaced, a socket that never said
//! `hello` does not count, refused connections are retried with backoff, `link_disabled` stops
//! the bot reconnecting, and `/healthz` tells the truth throughout. Envelopes for another app or
//! workspace are acked and refused.

use emulators::slack::Failure;
use emulators::testing::eventually;
use serde_json::json;
use std::time::Duration;

use crate::health::{get, with_health};
use crate::support::{Bot, Options, ALICE, CHANNEL, DEADLINE};

/// Health on, `connections` sockets, pings every second, silence after 3 s, quick redials.
fn faulty(connections: u32) -> Options {
    let mut options = with_health();
    options.env.extend(
        [
            (
                "CHATOPS__SLACK__SOCKET_CONNECTIONS",
                connections.to_string(),
            ),
            ("CHATOPS__SLACK__PING_SECS", "1".into()),
            ("CHATOPS__SLACK__SILENCE_SECS", "3".into()),
            ("CHATOPS__SLACK__HELLO_TIMEOUT_SECS", "2".into()),
            ("CHATOPS__SLACK__RECONNECT_MAX_SECS", "2".into()),
        ]
        .map(|(key, value)| (key.to_owned(), value)),
    );
    options
}

/// Waits until `/healthz`'s Socket Mode line says `ok` (`true`) or `failing` (`false`).
async fn socket_health(bot: &Bot, connected: bool) {
    let line = if connected {
        "socket_mode_connected ok"
    } else {
        "socket_mode_connected failing"
    };
    eventually(DEADLINE, line, || async {
        let (status, body) = get(bot, "/healthz").await;
        (body.contains(line) && (connected || status == 503)).then_some(())
    })
    .await;
}

/// A command goes through: acked with the bot's reply.
async fn answers(bot: &Bot) {
    let envelope = bot
        .slack
        .slash_command(CHANNEL, ALICE, "/nope", "")
        .await
        .expect("delivered");
    let ack = envelope.acked(DEADLINE).await.expect("acked");
    assert!(ack.payload.is_some(), "the bot answered in the ack");
}

#[tokio::test]
async fn a_silent_socket_is_dropped_and_replaced() {
    let bot = Bot::spawn(faulty(1)).await;
    socket_health(&bot, true).await;
    let dials = bot.slack.calls("apps.connections.open");

    // The TCP stream stays open but nothing answers: no pong, no frame. No replacement can say
    // hello yet, so the bot has no working socket: /healthz must say so.
    bot.slack.withhold_hello(true);
    bot.slack.freeze_connection();
    socket_health(&bot, false).await;
    eventually(DEADLINE, "the silent socket redialled", || async {
        (bot.slack.calls("apps.connections.open") > dials).then_some(())
    })
    .await;

    bot.slack.withhold_hello(false);
    socket_health(&bot, true).await;
    answers(&bot).await;
}

#[tokio::test]
async fn a_socket_that_never_said_hello_does_not_count_and_is_redialled() {
    let bot = Bot::spawn(faulty(1)).await;
    socket_health(&bot, true).await;
    let dials = bot.slack.calls("apps.connections.open");

    bot.slack.withhold_hello(true);
    bot.slack.drop_connection();
    socket_health(&bot, false).await;
    eventually(DEADLINE, "a second dial without hello", || async {
        (bot.slack.calls("apps.connections.open") >= dials + 2).then_some(())
    })
    .await;
    assert_eq!(bot.slack.open_connections(), 0);

    bot.slack.withhold_hello(false);
    socket_health(&bot, true).await;
    answers(&bot).await;
}

#[tokio::test]
async fn refused_connections_are_retried_until_slack_takes_them() {
    let bot = Bot::spawn(faulty(2)).await;
    socket_health(&bot, true).await;
    let dials = bot.slack.calls("apps.connections.open");

    bot.slack
        .fail_next("apps.connections.open", Failure::ServerError, 6);
    bot.slack.drop_connection();
    bot.slack.drop_connection();
    socket_health(&bot, false).await;
    socket_health(&bot, true).await;

    // Six refusals, then the two sockets that got through.
    assert!(bot.slack.wait_for_connections(2, DEADLINE).await);
    assert!(bot.slack.calls("apps.connections.open") >= dials + 8);
    answers(&bot).await;
}

#[tokio::test]
async fn link_disabled_stops_reconnecting_and_fails_healthz() {
    let bot = Bot::spawn(faulty(2)).await;
    socket_health(&bot, true).await;

    bot.slack.disconnect("link_disabled");
    bot.slack.disconnect("link_disabled");
    socket_health(&bot, false).await;
    eventually(DEADLINE, "both sockets closed by the bot", || async {
        (bot.slack.open_connections() == 0).then_some(())
    })
    .await;
    let dials = bot.slack.calls("apps.connections.open");

    // Watched for over twice the longest backoff (2 s): a bot that still redialled would
    // dial within it, and /healthz stays 503 throughout.
    let mut watch = tokio::time::interval(Duration::from_millis(250));
    for _ in 0..20 {
        watch.tick().await;
        assert_eq!(bot.slack.calls("apps.connections.open"), dials, "redialled");
        let (status, _) = get(&bot, "/healthz").await;
        assert_eq!(status, 503);
    }
}

/// A slash command's payload as Slack sends it, with this app's or another's ids.
fn command_payload(bot: &Bot, app_id: &str, team_id: &str) -> serde_json::Value {
    json!({
        "token": "emulated-verification-token",
        "team_id": team_id,
        "team_domain": "emulated",
        "channel_id": CHANNEL,
        "channel_name": "deploys",
        "user_id": ALICE,
        "user_name": "alice",
        "command": "/deploy",
        "text": format!("status {}", bot.pipeline),
        "api_app_id": app_id,
        "is_enterprise_install": "false",
        "response_url": format!("{}/../response/forged", bot.slack.api_url()),
        "trigger_id": "1.2.forged",
    })
}

#[tokio::test]
async fn envelopes_for_another_app_or_workspace_are_acked_and_refused() {
    let bot = Bot::spawn(Options::default()).await;
    let (app_id, team_id) = bot.slack.app_and_team();

    for (app, team) in [
        ("A0OTHERAPP", team_id.as_str()),
        (app_id.as_str(), "T0OTHER"),
    ] {
        let envelope = bot
            .slack
            .send_envelope("slash_commands", command_payload(&bot, app, team), true)
            .await
            .expect("delivered");
        let ack = envelope.acked(DEADLINE).await.expect("acked");
        assert_eq!(ack.payload, None, "refused: no reply for {app} in {team}");
    }
    // This app's own envelope is answered, so the refusals above were not for lack of a bot.
    let envelope = bot
        .slack
        .send_envelope(
            "slash_commands",
            command_payload(&bot, &app_id, &team_id),
            true,
        )
        .await
        .expect("delivered");
    let ack = envelope.acked(DEADLINE).await.expect("acked");
    assert!(ack.payload.is_some());
}

#[tokio::test]
async fn with_no_room_left_a_command_is_refused_in_the_ack_and_runs_nothing() {
    let mut options = Options::default();
    options
        .env
        .push(("CHATOPS__SLACK__MAX_IN_FLIGHT".into(), "1".into()));
    let bot = Bot::spawn(options).await;
    // The one room is taken by a /deploy status whose execution list hangs (a read only the
    // command makes: the reconcile loop reads pipeline states too).
    bot.codepipeline
        .stall_next("ListPipelineExecutions", 300, 1);
    let (_, first) = deploy_status(&bot).await;
    assert!(first.contains("Reading the state"), "{first}");
    eventually(DEADLINE, "the hanging read", || async {
        (bot.codepipeline.requests("ListPipelineExecutions") == 1).then_some(())
    })
    .await;

    let (_, second) = deploy_status(&bot).await;

    assert!(second.contains("busy"), "{second}");
    assert_eq!(
        bot.codepipeline.requests("ListPipelineExecutions"),
        1,
        "nothing ran"
    );
}

/// `/deploy status` of the test's pipeline, as ALICE in its channel.
async fn deploy_status(bot: &Bot) -> (emulators::slack::Envelope, String) {
    let text = format!("status {}", bot.pipeline);
    bot.command(CHANNEL, ALICE, "/deploy", &text).await
}
