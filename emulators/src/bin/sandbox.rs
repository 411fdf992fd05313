//! `sandbox`: the local demo. Seeds ministack, starts the Slack emulator (with its browser UI)
//! and the CodePipeline simulator, runs the chatops binary against them, prints the URL to open,
//! and on Ctrl-C or SIGTERM stops the bot gracefully and everything else with it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use emulators::sandbox::Sandbox;
use tokio::process::Command;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// How long the bot may take to connect, and to stop.
const BOT_DEADLINE: Duration = Duration::from_secs(30);

/// Run chatops against local emulators.
#[derive(Parser)]
struct Args {
    /// ministack's URL (scripts/sandbox starts it).
    #[arg(long)]
    ministack: String,
    /// The chatops binary.
    #[arg(long)]
    bot: PathBuf,
    /// The bot's configuration (endpoints are overridden to point here).
    #[arg(long, default_value = "config/sandbox.toml")]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let shutdown = CancellationToken::new();
    let sandbox = Sandbox::start(&args.ministack, shutdown.clone()).await?;
    let mut bot = Command::new(&args.bot)
        .arg("run")
        .arg("--config")
        .arg(&args.config)
        .envs(sandbox.bot_environment())
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("SLACK_APP_TOKEN")
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", args.bot.display()))?;
    if !sandbox.slack.wait_for_connections(2, BOT_DEADLINE).await {
        anyhow::bail!("the bot did not connect to the Slack emulator within {BOT_DEADLINE:?}");
    }
    println!("Sandbox ready: open {}", sandbox.slack.ui_url());
    println!(
        "CodePipeline simulator: {}",
        sandbox.codepipeline.endpoint_url()
    );
    println!("Press Ctrl-C to stop.");

    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        status = bot.wait() => anyhow::bail!("the bot exited unexpectedly: {status:?}"),
    }
    if let Some(pid) = bot.id() {
        // SIGTERM, as Docker would: the bot finishes its work in flight and exits 0.
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    let status = tokio::time::timeout(BOT_DEADLINE, bot.wait())
        .await
        .context("the bot did not stop in time")??;
    shutdown.cancel();
    println!("Sandbox stopped (bot exit status {status}).");
    Ok(())
}
