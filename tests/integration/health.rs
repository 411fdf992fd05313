//! `/healthz` and `/metrics`: off by default, on when configured, telling the truth about the
//! dependencies and counting what the bot does.

use emulators::testing::eventually;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::deploy::deploy;
use crate::support::{Bot, Options, ALICE, DEADLINE};

pub(crate) fn with_health() -> Options {
    Options {
        env: vec![("CHATOPS__HEALTH__LISTEN".into(), "127.0.0.1:0".into())],
        ..Options::default()
    }
}

/// A plain HTTP/1.1 GET; the status code and the body.
pub(crate) async fn get(bot: &Bot, path: &str) -> (u16, String) {
    let addr = bot.health.expect("the health listener is on");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: chatops\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The body of `/healthz` once it answers `status`.
pub(crate) async fn once_status(bot: &Bot, status: u16) -> String {
    eventually(DEADLINE, &format!("/healthz {status}"), || async {
        let (answered, body) = get(bot, "/healthz").await;
        (answered == status).then_some(body)
    })
    .await
}

/// `chatops healthcheck` as the task definition's health check runs it: the configuration from
/// the environment alone (`--config /dev/null`), `[health] listen` = `listen`. Exit code, stdout.
async fn healthcheck(listen: &str) -> (Option<i32>, String) {
    let queue = format!("{}/000000000000/any", emulators::ministack::url_from_env());
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatops"))
        .args(["healthcheck", "--config", "/dev/null"])
        .env_clear()
        .envs([
            ("CHATOPS__AWS__REGION", "eu-west-1"),
            ("CHATOPS__PARAMETER_STORE__PATH", "/test/chatops"),
            ("CHATOPS__APPROVALS__QUEUE_URL", queue.as_str()),
            ("CHATOPS__HEALTH__LISTEN", listen),
        ])
        .output()
        .await
        .expect("run chatops healthcheck");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    (output.status.code(), format!("{stdout}{stderr}"))
}

fn counter(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no series {series} in {metrics}"))
}

#[tokio::test]
async fn the_listener_is_off_unless_configured() {
    let bot = Bot::spawn(Options::default()).await;
    assert!(bot.health.is_none());
}

#[tokio::test]
async fn healthz_is_ok_once_connected_polled_and_read_and_metrics_count_clicks() {
    let bot = Bot::spawn(with_health()).await;
    let body = once_status(&bot, 200).await;
    for check in [
        "socket_mode_connected ok",
        "approval_queue_reachable ok",
        "parameters_fresh ok",
        "slack_api_answering ok",
        "codepipeline_answering ok",
    ] {
        assert!(body.contains(check), "{body}");
    }

    let (_, before) = get(&bot, "/metrics").await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    bot.click(&prompt.ts, "approval:approve", ALICE).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved*").await;

    let (status, after) = get(&bot, "/metrics").await;
    assert_eq!(status, 200);
    let grew = |series: &str| counter(&after, series) > counter(&before, series);
    assert!(grew("chatops_envelopes_total "), "{after}");
    assert!(grew("chatops_ack_latency_seconds_count "), "{after}");
    assert!(
        grew("chatops_approvals_total{outcome=\"recorded\"} "),
        "{after}"
    );
    assert!(
        grew("chatops_sqs_messages_total{state=\"deleted\"} "),
        "{after}"
    );
    assert!(after.contains("# TYPE chatops_ack_latency_seconds histogram"));
    assert_eq!(get(&bot, "/nope").await.0, 404);
}

/// Health on, and an approval queue that does not exist (it never answers).
fn without_a_queue() -> Options {
    let mut options = with_health();
    let missing = format!(
        "{}/000000000000/no-such-queue",
        emulators::ministack::url_from_env()
    );
    options
        .env
        .push(("CHATOPS__APPROVALS__QUEUE_URL".into(), missing));
    options
}

#[tokio::test]
async fn healthz_fails_while_the_approval_queue_cannot_be_read() {
    let options = without_a_queue();
    let bot = Bot::spawn(options).await;

    // Socket Mode connects at once; the queue never answers, so /healthz stays 503.
    let body = eventually(
        DEADLINE,
        "/healthz to see Socket Mode connected",
        || async {
            let (status, body) = get(&bot, "/healthz").await;
            assert_eq!(status, 503, "{body}");
            body.contains("socket_mode_connected ok").then_some(body)
        },
    )
    .await;
    assert!(body.contains("approval_queue_reachable failing"), "{body}");
    assert!(body.contains("parameters_fresh ok"), "{body}");
}

#[tokio::test]
async fn healthz_fails_while_codepipeline_throttles_every_try_and_recovers_once_it_answers() {
    let bot = Bot::spawn(with_health()).await;
    let body = once_status(&bot, 200).await;
    assert!(body.contains("codepipeline_answering ok"), "{body}");

    // Throttled on each of the SDK's three attempts: the call fails for want of an answer.
    // `/deploy status` reads the pipeline's state first, and nothing else calls CodePipeline
    // here (no prompt is open).
    bot.codepipeline
        .fail_next("GetPipelineState", "ThrottlingException", 3);
    let status = format!("status {}", bot.pipeline);
    deploy(&bot, ALICE, &status).await;
    let body = once_status(&bot, 503).await;
    assert!(body.contains("codepipeline_answering failing"), "{body}");
    assert!(body.contains("socket_mode_connected ok"), "{body}");
    assert_eq!(bot.codepipeline.requests("GetPipelineState"), 3);

    // CodePipeline answers the next call: healthy again.
    deploy(&bot, ALICE, &status).await;
    let body = once_status(&bot, 200).await;
    assert!(body.contains("codepipeline_answering ok"), "{body}");
}

#[tokio::test]
async fn healthz_fails_while_the_state_table_cannot_be_read() {
    let mut options = with_health();
    // `[state]` names a table that does not exist: every decision would be refused.
    options.config_tail = "\n[state]\ntable = \"no-such-table\"\n".into();
    let bot = Bot::spawn(options).await;
    let body = eventually(DEADLINE, "/healthz to see the queue polled", || async {
        let (status, body) = get(&bot, "/healthz").await;
        assert_eq!(status, 503, "{body}");
        body.contains("approval_queue_reachable ok").then_some(body)
    })
    .await;
    assert!(body.contains("state_store_reachable failing"), "{body}");

    let healthy = Bot::prepare(false)
        .await
        .with_shared_state()
        .await
        .start(with_health())
        .await;
    let body = once_status(&healthy, 200).await;
    assert!(body.contains("state_store_reachable ok"), "{body}");
}

#[tokio::test]
async fn the_healthcheck_subcommand_exits_zero_only_while_healthz_is_ok() {
    let healthy = Bot::spawn(with_health()).await;
    let port = healthy.health.expect("the health listener is on").port();
    once_status(&healthy, 200).await;
    // `0.0.0.0` (what a container may listen on) is asked on loopback.
    for listen in [format!("127.0.0.1:{port}"), format!("0.0.0.0:{port}")] {
        let (code, out) = healthcheck(&listen).await;
        assert_eq!(code, Some(0), "{listen}: {out}");
        assert!(out.contains("socket_mode_connected ok"), "{out}");
    }

    let options = without_a_queue();
    let sick = Bot::spawn(options).await;
    eventually(
        DEADLINE,
        "/healthz to see Socket Mode connected",
        || async {
            let (status, body) = get(&sick, "/healthz").await;
            (status == 503 && body.contains("socket_mode_connected ok")).then_some(())
        },
    )
    .await;
    let sick_addr = sick.health.expect("the health listener is on").to_string();
    let (code, out) = healthcheck(&sick_addr).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("503"), "{out}");
    assert!(out.contains("approval_queue_reachable failing"), "{out}");

    // Nothing listening: a port that was free a moment ago.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr")
        .to_string();
    let (code, out) = healthcheck(&closed).await;
    assert_eq!(code, Some(1), "{out}");
}
