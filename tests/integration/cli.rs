//! The `chatops` binary as an operator runs it: configuration errors, `check`, start-up failures,
//! logs, and SIGTERM.

use std::process::ExitStatus;
use tokio::process::Command;

use crate::support::process::{arg, chatops, finish, start};
use crate::support::{Bot, ALICE, DEADLINE};

async fn run(cmd: &mut Command) -> (ExitStatus, String, String) {
    finish(start(cmd)).await
}

fn config_file(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("chatops-cli-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, text).expect("write config");
    path
}

const VALID: &str = include_str!("../../config/chatops.example.toml");

#[tokio::test]
async fn the_documented_example_configuration_is_valid() {
    let settings = chatops::config::Settings::parse(VALID, "example", Vec::new())
        .expect("config/chatops.example.toml parses");
    assert!(!settings.pipelines.is_empty());
}

#[tokio::test]
async fn an_unknown_key_stops_the_program_with_exit_code_2_naming_the_key() {
    let path = config_file("typo", &VALID.replace("region =", "regoin ="));
    let (status, _, stderr) = run(&mut chatops(&["run", "--config", arg(&path)])).await;
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("aws.regoin"), "{stderr}");
}

#[tokio::test]
async fn a_bad_environment_override_stops_the_program_with_exit_code_2() {
    let path = config_file("env", VALID);
    let (status, _, stderr) =
        run(chatops(&["check", "--config", arg(&path)])
            .env("CHATOPS__APPROVALS__WAIT_TIME_SECS", "60"))
        .await;
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("approvals.wait_time_secs"), "{stderr}");
}

#[tokio::test]
async fn a_missing_parameter_stops_start_up_naming_it_in_full() {
    let bot = Bot::prepare(false).await;
    let name = format!("{}/slack/app_token", bot.aws.parameter_path);
    bot.aws
        .ssm
        .delete_parameter()
        .name(&name)
        .send()
        .await
        .expect("delete parameter");
    let path = bot.write_config();

    let (status, _, stderr) = run(&mut chatops(&["run", "--config", arg(&path)])).await;

    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.contains(&format!("parameter {name} is missing")),
        "{stderr}"
    );
    assert_eq!(bot.slack.open_connections(), 0, "nothing connected");
}

#[tokio::test]
async fn a_blank_parameter_stops_start_up_naming_it() {
    let bot = Bot::prepare(false).await;
    bot.aws.put_parameter("slack/bot_token", " ").await;
    let (status, _, stderr) =
        run(&mut chatops(&["run", "--config", arg(&bot.write_config())])).await;
    assert_eq!(status.code(), Some(1));
    let name = format!("{}/slack/bot_token", bot.aws.parameter_path);
    assert!(
        stderr.contains(&format!("parameter {name} is empty")),
        "{stderr}"
    );
}

#[tokio::test]
async fn check_prints_a_line_per_dependency_and_fails_on_any_cross() {
    let mut bot = Bot::prepare(false).await;
    bot.codepipeline.require_github_token("ghp_check");
    bot.aws.put_parameter("github/token", "ghp_check").await;
    bot.config_toml.push_str(&format!(
        "\n[approvals.revision_authors]\ngithub_api_url = \"{}\"\nusers = {{}}\n",
        bot.codepipeline.endpoint_url()
    ));
    let path = bot.write_config();

    let (status, stdout, _) = run(&mut chatops(&["check", "--config", arg(&path)])).await;
    assert!(status.success(), "{stdout}");
    for line in [
        "✓ configuration",
        "✓ Slack tokens",
        "✓ Slack auth.test",
        "✓ SQS queue",
        "✓ GitHub API http://127.0.0.1:",
        "5000 of 5000 requests left this hour",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }

    let missing_queue = format!("{}/000000000000/no-such-queue", bot.aws.endpoint);
    let (status, stdout, _) = run(chatops(&["check", "--config", arg(&path)])
        .env("CHATOPS__APPROVALS__QUEUE_URL", missing_queue))
    .await;
    assert_eq!(status.code(), Some(1));
    assert!(stdout.contains("✓ Slack auth.test"), "{stdout}");
    assert!(stdout.contains("✗ SQS queue"), "{stdout}");

    bot.slack.set_bot_token("xoxb-someone-else");
    let (status, stdout, _) = run(&mut chatops(&["check", "--config", arg(&path)])).await;
    assert_eq!(status.code(), Some(1));
    assert!(stdout.contains("✗ Slack auth.test"), "{stdout}");

    bot.slack.set_bot_token(&bot.aws.bot_token);
    bot.aws.put_parameter("github/token", "ghp_revoked").await;
    let (status, stdout, _) = run(&mut chatops(&["check", "--config", arg(&path)])).await;
    assert_eq!(status.code(), Some(1));
    assert!(stdout.contains("✓ Slack auth.test"), "{stdout}");
    assert!(
        stdout.contains("✗ GitHub API") && stdout.contains("401: Bad credentials"),
        "{stdout}"
    );
    assert!(!stdout.contains("ghp_"), "no token in the output: {stdout}");

    // A taken health port is reported as what it is, not as a token problem.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let (status, stdout, _) =
        run(chatops(&["check", "--config", arg(&path)]).env("CHATOPS__HEALTH__LISTEN", &addr))
            .await;
    assert_eq!(status.code(), Some(1));
    assert!(
        stdout.contains(&format!(
            "✗ health listener: binding the health listener on {addr}"
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("Slack tokens"), "{stdout}");
}

#[tokio::test]
async fn the_daemon_approves_logs_json_without_secrets_and_exits_0_on_sigterm() {
    let mut bot = Bot::prepare(false).await;
    // A GitHub token in use too: the revision author is looked up (public repository, so the
    // author stays unmatched and Alice may approve).
    let github_token = "ghp_daemontoken00000000000000000000000000";
    bot.aws.put_parameter("github/token", github_token).await;
    bot.config_toml.push_str(&format!(
        "\n[approvals.revision_authors]\ngithub_api_url = \"{}\"\nusers = {{}}\n",
        bot.codepipeline.endpoint_url()
    ));
    let path = bot.write_config();
    let running = start(
        chatops(&["run", "--config", arg(&path), "--log-format", "json"]).env("RUST_LOG", "trace"),
    );
    assert!(
        bot.slack.wait_for_connections(2, DEADLINE).await,
        "connected"
    );

    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    bot.click(&prompt.ts, "approval:approve", ALICE).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved*").await;
    assert_eq!(
        bot.codepipeline
            .requests(emulators::codepipeline::GITHUB_GET_COMMIT),
        1
    );

    running.signal("TERM").await;
    let (status, _, stderr) = finish(running).await;

    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("shutdown complete"), "{stderr}");
    for secret in [bot.aws.bot_token.as_str(), &bot.aws.app_token, github_token] {
        assert!(!stderr.contains(secret), "a token leaked into the logs");
    }
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 10);
    for line in lines {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "not a JSON log line: {line}");
    }
    assert!(
        stderr.contains("\"token_hash\""),
        "spans carry the token hash"
    );
}
