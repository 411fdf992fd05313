//! Runs the Slack emulator for the local sandbox until Ctrl-C and prints its Web API URL.
//!
//! Tokens come from `SLACK_EMULATOR_BOT_TOKEN` / `SLACK_EMULATOR_APP_TOKEN` (defaults
//! otherwise); `--channel C123:deploys`, `--usergroup S1:U1,U2` and `--user U1:alice`
//! seed the workspace. All behaviour lives in `emulators::slack`.

use std::process::ExitCode;

use emulators::slack::{SlackConfig, SlackEmulator};
use tokio_util::sync::CancellationToken;

const USAGE: &str =
    "usage: slack-emulator [--channel ID:NAME]... [--user ID:NAME]... [--usergroup ID:U1,U2]...";

#[tokio::main]
async fn main() -> ExitCode {
    let mut config = SlackConfig::default();
    if let Ok(token) = std::env::var("SLACK_EMULATOR_BOT_TOKEN") {
        config.bot_token = token;
    }
    if let Ok(token) = std::env::var("SLACK_EMULATOR_APP_TOKEN") {
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
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some((id, rest)) = args.next().and_then(|v| v.split_once(':').map(owned)) else {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        };
        match flag.as_str() {
            "--channel" => emulator.add_channel(&id, &rest),
            "--user" => emulator.add_user(&id, &rest),
            "--usergroup" => emulator.add_usergroup(&id, &rest.split(',').collect::<Vec<_>>()),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    println!("{}", emulator.api_url());
    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("slack-emulator: cannot wait for Ctrl-C: {error}");
    }
    shutdown.cancel();
    ExitCode::SUCCESS
}

fn owned((id, rest): (&str, &str)) -> (String, String) {
    (id.to_owned(), rest.to_owned())
}
