//! Checks the Slack emulator against the official Slack Python SDK: runs
//! `tests/python/slack_sdk_check.py` with the interpreter named by `CHATOPS_PYTHON` (a venv
//! with slack_sdk), then clicks the button the script posted once its SocketModeClient is
//! connected, and expects the SDK's ack.

use std::process::Stdio;
use std::time::Duration;

use emulators::slack::{SlackConfig, SlackEmulator};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{ChildStdout, Command};
use tokio_util::sync::CancellationToken;

const CHANNEL: &str = "C0DEPLOY";
const USER: &str = "U0ALICE";
const WAIT: Duration = Duration::from_secs(60);

/// Reads the script's stdout up to the line `wanted`; panics with what it printed otherwise.
async fn read_until(lines: &mut tokio::io::Lines<BufReader<ChildStdout>>, wanted: &str) {
    let mut printed = Vec::new();
    let found = tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.expect("script stdout") {
            if line == wanted {
                return true;
            }
            printed.push(line);
        }
        false
    })
    .await;
    assert_eq!(
        found,
        Ok(true),
        "script never printed {wanted}; stdout: {printed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_works_against_the_emulator() {
    let python = std::env::var("CHATOPS_PYTHON").expect(
        "CHATOPS_PYTHON must name a Python interpreter with slack_sdk installed \
         (e.g. a venv's bin/python); this test never skips",
    );
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let config = SlackConfig::default();
    let (bot_token, app_token) = (config.bot_token.clone(), config.app_token.clone());
    let slack = SlackEmulator::start(config, shutdown)
        .await
        .expect("emulator starts");
    slack.add_channel(CHANNEL, "deploys");
    slack.add_user(USER, "alice");
    slack.add_usergroup("S0OPS", &[USER]);

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/slack_sdk_check.py"
    );
    let mut child = Command::new(&python)
        .arg(script)
        .args([
            &slack.api_url(),
            &bot_token,
            &app_token,
            CHANNEL,
            USER,
            "S0OPS",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run CHATOPS_PYTHON={python}: {error}"));
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();

    read_until(&mut lines, "WEB_API_OK").await;
    let messages = slack.messages(CHANNEL);
    assert_eq!(messages.len(), 2, "the prompt and its reply: {messages:?}");
    assert_eq!(messages[0].text.as_deref(), Some("api still waits"));
    assert_eq!(
        messages[1].metadata["event_payload"]["token_hash"], "abc",
        "the SDK's metadata is stored"
    );
    assert_eq!(messages[0].edited_count, 1);
    assert_eq!(slack.ephemerals(CHANNEL, USER).len(), 1);

    read_until(&mut lines, "CONNECTED").await;
    assert!(
        slack.wait_for_connections(1, WAIT).await,
        "the SDK's socket never got hello"
    );
    let envelope = slack
        .click(CHANNEL, &messages[0].ts, "approve", USER)
        .await
        .expect("click sent");
    assert!(
        envelope.acked(WAIT).await.is_some(),
        "the SDK never acked the click"
    );
    read_until(&mut lines, "ACKED approve").await;

    let mut rest = String::new();
    let mut stdout = lines.into_inner();
    let status = tokio::time::timeout(WAIT, async {
        stdout
            .read_to_string(&mut rest)
            .await
            .expect("script stdout");
        child.wait().await.expect("script status")
    })
    .await
    .expect("script exits in time");
    assert!(
        status.success(),
        "script failed ({status}); rest of stdout: {rest}"
    );
}
