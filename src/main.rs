//! `chatops`: thin entry point. Parses the command line, sets up logging and settings, and hands
//! over to [`chatops::app`].

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use chatops::app::{self, App};
use chatops::config::Settings;
use chatops::outbound::parameter_store::{ButtonKeys, Tokens};
use chatops::secret::Secret;
use chatops::telemetry::{self, LogFormat};

/// Run AWS CodePipeline approvals from Slack over Socket Mode.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon until SIGINT or SIGTERM.
    Run {
        /// The TOML configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Log line format.
        #[arg(long, value_enum, default_value = "human", env = "CHATOPS_LOG_FORMAT")]
        log_format: LogFormat,
    },
    /// Check the configuration, the Parameter Store tokens, Slack and the queue; exit non-zero
    /// on any failure.
    Check {
        /// The TOML configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// GET `/healthz` on `[health] listen`; exit 0 when it answers 200, else 1 (a container
    /// health check: the image has no curl).
    Healthcheck {
        /// The TOML configuration file.
        #[arg(long)]
        config: PathBuf,
    },
}

/// Exit code for a configuration error.
const CONFIG_ERROR: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let (config, log_format) = match &cli.command {
        Command::Run { config, log_format } => (config, *log_format),
        Command::Check { config } | Command::Healthcheck { config } => (config, LogFormat::Human),
    };
    let settings = match Settings::load(config, std::env::vars()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(CONFIG_ERROR);
        }
    };
    match cli.command {
        Command::Run { .. } => {
            telemetry::init(log_format);
            match App::build(settings, dev_tokens()).await {
                Ok(app) => {
                    app.run(shutdown_signal()).await;
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "cannot start");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check { .. } => {
            println!("✓ configuration {}", config.display());
            let lines = app::check(settings, dev_tokens()).await;
            let mut ok = true;
            for line in lines {
                match line.result {
                    Ok(detail) => println!("✓ {}: {detail}", line.what),
                    Err(cause) => {
                        ok = false;
                        println!("✗ {}: {cause}", line.what);
                    }
                }
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Healthcheck { .. } => match app::healthcheck(&settings).await {
            Ok(body) => {
                print!("{body}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                println!("✗ {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// `SLACK_BOT_TOKEN` and `SLACK_APP_TOKEN`, when both are set: local development only.
fn dev_tokens() -> Option<Tokens> {
    let bot = std::env::var("SLACK_BOT_TOKEN").ok()?;
    let app = std::env::var("SLACK_APP_TOKEN").ok()?;
    Some(Tokens {
        bot: Secret::new(bot),
        app: Secret::new(app),
        github: None,
        // Local development: a key for this process only.
        buttons: ButtonKeys::ephemeral(),
    })
}

/// Resolves on Ctrl-C or SIGTERM (what `docker stop` sends).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
