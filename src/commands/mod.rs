//! Slash-command registry: name → `parse` (pure, before the ack) → `run` (after the ack).
//!
//! Adding a command is one file `commands/<name>.rs` (an `Args` type, `parse(text)` answering bad
//! input with a usage [`UserError`], `run(...)`) and one variant in [`Command`]; the exhaustive
//! matches below point at the arms to add. `inbound/` and `app.rs` do not change.

pub mod deploy;
pub mod redshift_alerts;

use futures_util::future::BoxFuture;
use std::sync::Arc;

use crate::config::Settings;
use crate::error::UserError;
use deploy::Deploy;
use redshift_alerts::RedshiftAlerts;

/// Who ran a command, where, and how to answer after the ack.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The command as typed, e.g. `/deploy`.
    pub command: String,
    /// Everything after the command (may be empty).
    pub text: String,
    pub user_id: String,
    pub channel_id: String,
    pub team_id: String,
    /// Valid for 5 answers within 30 minutes.
    pub response_url: String,
    /// Opens a modal within 3 seconds.
    pub trigger_id: String,
}

/// A parsed command: one variant per command.
#[derive(Debug)]
pub enum Command {
    /// `/deploy`
    Deploy(deploy::parse::Args),
    /// `/redshift-alerts`
    RedshiftAlerts(redshift_alerts::parse::Request),
}

/// The answer carried by the ack: short, immediate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    /// Visible to the channel (`in_channel`) instead of only to the user.
    pub in_channel: bool,
}

impl Reply {
    /// Only the user sees it.
    pub fn ephemeral(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            in_channel: false,
        }
    }
}

/// What the ack path gets back: the immediate reply, and the work to run after the ack.
pub struct Accepted {
    pub reply: Reply,
    pub work: Option<BoxFuture<'static, ()>>,
}

/// Runs slash commands; shared by every Socket Mode connection.
pub struct Commands {
    settings: Arc<Settings>,
    redshift_alerts: RedshiftAlerts,
    deploy: Arc<Deploy>,
}

impl Commands {
    /// The registry over the configured settings.
    pub fn new(
        settings: Arc<Settings>,
        redshift_alerts: RedshiftAlerts,
        deploy: Arc<Deploy>,
    ) -> Self {
        Self {
            settings,
            redshift_alerts,
            deploy,
        }
    }

    /// `/deploy`, whose confirmation buttons and pipeline events also come here.
    pub fn deploy(&self) -> &Arc<Deploy> {
        &self.deploy
    }

    /// Parses `inv` (no I/O: this runs before the ack) and returns the immediate reply and the
    /// work to do after the ack.
    pub fn accept(self: &Arc<Self>, inv: Invocation) -> Accepted {
        match parse(&inv.command, &inv.text, &self.settings) {
            Err(e) => Accepted {
                reply: Reply::ephemeral(e.0),
                work: None,
            },
            Ok(command) => match command {
                Command::RedshiftAlerts(request) => self.redshift_alerts.accept(&inv, request),
                Command::Deploy(args) => self.deploy.accept(&inv, args),
            },
        }
    }
}

/// The command `name` with its arguments `text`.
///
/// # Errors
/// An unknown command or bad arguments, as a usage text.
pub fn parse(name: &str, text: &str, settings: &Settings) -> Result<Command, UserError> {
    match name {
        "/deploy" => Deploy::parse(text, settings).map(Command::Deploy),
        "/redshift-alerts" => redshift_alerts::parse(text).map(Command::RedshiftAlerts),
        _ => Err(UserError::new(format!(
            "`{}` is not a command this bot knows.",
            crate::ids::shorten(name)
        ))),
    }
}
