//! The slash-command registry: name → `accept` (pure, before the ack) → work after the ack; and
//! the router of every interactive payload by its `action_id` / `callback_id` prefix, so that
//! Socket Mode knows no command by name.
//!
//! **Adding a command** takes a new module and one line:
//!
//! 1. `commands/<name>.rs` (or a folder): a `pub const SPEC: Spec` (its name, the manifest's
//!    description and usage hint, and the `action_id` prefix of its buttons, if it has any), a
//!    type implementing [`SlashCommand`] whose `accept` parses the text without I/O (bad input is
//!    a usage [`crate::error::UserError`] in the ack), and `pub fn build(&Context) -> Arc<dyn
//!    SlashCommand>`; unit tests for its parser.
//! 2. One line in [`REGISTRY`].
//! 3. Its entry in `config/slack-app-manifest.yaml`: the going-live test fails until the manifest
//!    and [`REGISTRY`] agree.
//!
//! `inbound/` and `app.rs` do not change. Who may run it where is its own to check, with the
//! rules of [`access`]; that its work runs once per `trigger_id` is the registry's ([`once`]).

pub mod access;
pub mod deploy;
mod once;
pub mod redshift_alerts;
pub mod version;

use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use crate::approvals::{modal, Approvals};
use crate::config::Settings;
use crate::error::UserError;
use crate::events::PipelineEvent;
use crate::ids::{ChannelId, TeamId, UserId};
use crate::interaction::{ButtonClick, ViewSubmission};
use crate::outbound::parameter_store::StringList;
use crate::outbound::Clients;
use crate::signing::Signer;

/// The registry: one line per command.
pub const REGISTRY: &[Entry] = &[
    Entry {
        spec: &deploy::SPEC,
        build: deploy::build,
    },
    Entry {
        spec: &redshift_alerts::SPEC,
        build: redshift_alerts::build,
    },
    Entry {
        spec: &version::SPEC,
        build: version::build,
    },
];

/// One registered command: what the manifest declares, and how the app builds it.
pub struct Entry {
    pub spec: &'static Spec,
    pub build: fn(&Context) -> Arc<dyn SlashCommand>,
}

/// What a command declares: the manifest's fields and the prefix of its buttons.
#[derive(Debug)]
pub struct Spec {
    /// The command as typed, e.g. `/deploy`.
    pub name: &'static str,
    /// The manifest's `description`.
    pub description: &'static str,
    /// The manifest's `usage_hint`.
    pub usage_hint: &'static str,
    /// The `action_id` prefix of the command's buttons (`deploy:`), if it has any.
    pub action_prefix: Option<&'static str>,
}

/// Everything a command may be built from: built once by `app.rs`.
pub struct Context {
    pub settings: Arc<Settings>,
    pub clients: Clients,
    /// Who may decide approvals (and the user-group cache `/deploy` shares).
    pub approvals: Arc<Approvals>,
    /// The Redshift cluster list, when `/redshift-alerts` is configured.
    pub clusters: Option<StringList>,
    pub clock: redshift_alerts::Clock,
    /// Fires at shutdown: long-running work (followers) ends.
    pub cancel: CancellationToken,
}

/// A slash command.
pub trait SlashCommand: Send + Sync {
    /// Parses and checks `inv` (no I/O: this runs before the ack) and returns the immediate reply
    /// and the work after the ack.
    fn accept(&self, inv: Invocation) -> Accepted;

    /// Handles a click on one of the command's buttons (`action_id` with its [`Spec`]'s
    /// prefix), after the ack.
    fn click(&self, _click: ButtonClick) -> Option<BoxFuture<'static, ()>> {
        None
    }

    /// Sees CodePipeline's state-change events (from the events queue), without I/O.
    fn on_event(&self, _event: &PipelineEvent) {}

    /// Work the command does for as long as the process runs (started once by the app; it
    /// ends when the context's cancel token fires).
    fn background(&self) -> Option<BoxFuture<'static, ()>> {
        None
    }
}

/// Who ran a command, where, and how to answer after the ack. The ids were parsed at the
/// Socket Mode edge.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The command as typed, e.g. `/deploy`.
    pub command: String,
    /// Everything after the command (may be empty).
    pub text: String,
    pub user: UserId,
    pub channel: ChannelId,
    pub team: TeamId,
    /// Valid for 5 answers within 30 minutes.
    pub response_url: String,
    /// Opens a modal within 3 seconds.
    pub trigger_id: String,
}

/// The answer carried by the ack: short, immediate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckReply {
    pub text: String,
    /// Visible to the channel (`in_channel`) instead of only to the user.
    pub in_channel: bool,
}

impl AckReply {
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
    pub reply: AckReply,
    pub work: Option<BoxFuture<'static, ()>>,
}

impl Accepted {
    /// A reply and nothing more to do.
    pub fn reply_only(text: impl Into<String>) -> Self {
        Self {
            reply: AckReply::ephemeral(text),
            work: None,
        }
    }
}

/// The built commands and the approvals, shared by every Socket Mode connection.
pub struct Registry {
    commands: Vec<(&'static Spec, Arc<dyn SlashCommand>)>,
    approvals: Arc<Approvals>,
    /// Checks every button value and modal metadata before anything reads it.
    signer: Signer,
    /// Runs each command's work once per `trigger_id`, across processes.
    once: once::Once,
}

impl Registry {
    /// Builds every command of [`REGISTRY`] from `context`.
    pub fn build(context: &Context) -> Self {
        Self {
            commands: REGISTRY
                .iter()
                .map(|e| (e.spec, (e.build)(context)))
                .collect(),
            approvals: context.approvals.clone(),
            signer: context.clients.signer.clone(),
            once: once::Once::new(
                context.clients.records.clone(),
                context.clients.slack.clone(),
            ),
        }
    }

    /// The work every command does for as long as the process runs.
    pub fn background(&self) -> Vec<BoxFuture<'static, ()>> {
        self.commands
            .iter()
            .filter_map(|(_, command)| command.background())
            .collect()
    }

    /// The ack's reply and the work after it for `inv`; the work runs only if no other
    /// delivery of the same `trigger_id` ran it (Slack retries envelopes).
    pub fn accept(&self, inv: Invocation) -> Accepted {
        let Some((_, command)) = self.commands.iter().find(|(s, _)| s.name == inv.command) else {
            return Accepted::reply_only(unknown(&inv.command).0);
        };
        let (trigger_id, response_url) = (inv.trigger_id.clone(), inv.response_url.clone());
        let mut accepted = command.accept(inv);
        accepted.work = accepted
            .work
            .map(|work| self.once.guard(&trigger_id, response_url, work));
        accepted
    }

    /// The work a button click leads to, routed by its `action_id` prefix; `None` for buttons
    /// that are not ours. The value's signature is checked first, for every button: a value
    /// the bot did not issue goes no further (no AWS call, no record written), and its owner
    /// reads the value without the signature.
    pub fn click(&self, mut click: ButtonClick) -> Option<BoxFuture<'static, ()>> {
        match self.signer.verify_button(&click.action_id, &click.value) {
            Ok(value) => click.value = value.to_owned(),
            Err(reason) => {
                tracing::warn!(
                    user = %click.user,
                    action_id = %crate::ids::shorten(&click.action_id),
                    %reason,
                    "refused a click on a button this bot did not issue"
                );
                let approvals = self.approvals.clone();
                return Some(Box::pin(
                    async move { approvals.refuse_unsigned(click).await },
                ));
            }
        }
        if click.action_id.starts_with(crate::approvals::ACTION_PREFIX) {
            let approvals = self.approvals.clone();
            return Some(Box::pin(async move { approvals.click(click).await }));
        }
        let (_, command) = self.commands.iter().find(|(s, _)| {
            s.action_prefix
                .is_some_and(|p| click.action_id.starts_with(p))
        })?;
        command.click(click)
    }

    /// A modal's submission, routed by its `callback_id`: checked here (pure) so its errors go
    /// back in the ack, then the work after the ack. `Ok(None)`: not ours. Its metadata's
    /// signature is checked first: metadata the bot did not issue is dropped, and the modal's
    /// owner answers that the form is no longer valid.
    ///
    /// # Errors
    /// The messages to show in the modal, by `block_id`.
    pub fn submit(
        &self,
        mut submission: ViewSubmission,
    ) -> Result<Option<BoxFuture<'static, ()>>, HashMap<String, String>> {
        let callback_id = submission.callback_id.clone().unwrap_or_default();
        submission.private_metadata = match submission.private_metadata.take() {
            Some(signed) => match self.signer.verify_metadata(&callback_id, &signed) {
                Ok(metadata) => Some(metadata.to_owned()),
                Err(reason) => {
                    tracing::warn!(
                        user = %submission.user,
                        callback_id = %crate::ids::shorten(&callback_id),
                        %reason,
                        "refused a modal's metadata this bot did not issue"
                    );
                    None
                }
            },
            None => None,
        };
        let Some(reason) = modal::validate(submission)? else {
            return Ok(None);
        };
        let approvals = self.approvals.clone();
        Ok(Some(Box::pin(async move {
            approvals.decide_with_reason(reason).await
        })))
    }

    /// Hands a CodePipeline event to every command (the approvals get it from the intake).
    pub fn on_event(&self, event: &PipelineEvent) {
        for (_, command) in &self.commands {
            command.on_event(event);
        }
    }
}

/// What an unknown command is told.
fn unknown(name: &str) -> UserError {
    UserError::new(format!(
        "`{}` is not a command this bot knows.",
        crate::ids::shorten(name)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_names_and_button_prefixes_are_unique_and_well_formed() {
        let names: std::collections::BTreeSet<&str> =
            REGISTRY.iter().map(|e| e.spec.name).collect();
        assert_eq!(names.len(), REGISTRY.len());
        for e in REGISTRY {
            assert!(e.spec.name.starts_with('/'), "{}", e.spec.name);
            assert!(!e.spec.description.is_empty());
            if let Some(prefix) = e.spec.action_prefix {
                assert!(prefix.ends_with(':'), "{prefix}");
                assert!(!prefix.starts_with(crate::approvals::ACTION_PREFIX));
            }
        }
    }
}
