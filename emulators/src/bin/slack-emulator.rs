//! Runs the Slack emulator for the local sandbox until Ctrl-C and prints its Web API URL.
//!
//! Tokens come from `SLACK_EMULATOR_BOT_TOKEN` / `SLACK_EMULATOR_APP_TOKEN` (or `--bot-token` /
//! `--app-token`; defaults otherwise); `--channel C123:deploys`, `--usergroup S1:U1,U2` and
//! `--user U1:alice` seed the workspace. All behaviour lives in `emulators::slack`.

use std::process::ExitCode;

use clap::Parser;
use emulators::slack::{SlackConfig, SlackEmulator};
use tokio_util::sync::CancellationToken;

/// Serve an emulated Slack workspace (Web API and Socket Mode) on localhost.
#[derive(Parser)]
struct Args {
    /// The bot token (`xoxb-…`); `xoxb-test-bot` when unset.
    #[arg(long, env = "SLACK_EMULATOR_BOT_TOKEN", hide_env_values = true)]
    bot_token: Option<String>,
    /// The app-level token (`xapp-…`); `xapp-test-app` when unset.
    #[arg(long, env = "SLACK_EMULATOR_APP_TOKEN", hide_env_values = true)]
    app_token: Option<String>,
    /// A channel, as `ID:NAME`; repeatable.
    #[arg(long = "channel", value_name = "ID:NAME", value_parser = id_and)]
    channels: Vec<(String, String)>,
    /// A user, as `ID:NAME`; repeatable.
    #[arg(long = "user", value_name = "ID:NAME", value_parser = id_and)]
    users: Vec<(String, String)>,
    /// A user group and its members, as `ID:U1,U2`; repeatable.
    #[arg(long = "usergroup", value_name = "ID:U1,U2", value_parser = id_and)]
    usergroups: Vec<(String, String)>,
}

/// Splits `ID:REST` at the first colon.
fn id_and(value: &str) -> Result<(String, String), String> {
    value
        .split_once(':')
        .map(|(id, rest)| (id.to_owned(), rest.to_owned()))
        .ok_or_else(|| format!("expected ID:…, got {value:?}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut config = SlackConfig::default();
    if let Some(token) = args.bot_token {
        config.bot_token = token;
    }
    if let Some(token) = args.app_token {
        config.app_token = token;
    }
    let shutdown = CancellationToken::new();
    let emulator = match SlackEmulator::start(config, shutdown.clone()).await {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("slack-emulator: cannot listen: {error}");
            return ExitCode::FAILURE;
        }
    };
    for (id, name) in &args.channels {
        emulator.add_channel(id, name);
    }
    for (id, name) in &args.users {
        emulator.add_user(id, name);
    }
    for (id, members) in &args.usergroups {
        emulator.add_usergroup(id, &members.split(',').collect::<Vec<_>>());
    }
    println!("{}", emulator.api_url());
    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("slack-emulator: cannot wait for Ctrl-C: {error}");
    }
    shutdown.cancel();
    ExitCode::SUCCESS
}
