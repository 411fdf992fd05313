//! Slack Socket Mode, owned end to end on tokio-tungstenite (slack-morphism stays for the Web
//! API and the payload models): `slack.socket_connections` slots, each holding one connection
//! and redialling it when it ends, with exponential backoff and jitter after failures.
//!
//! - `connection`: one socket: dial, `hello`, serve, ping, replace.
//! - `envelope`: one frame: check, route, ack (pure apart from spawning the work).
//!
//! Every envelope is acked as soon as it is read; its work runs in a task bounded by
//! `slack.max_in_flight` (beyond it the envelope is acked and refused, with a reply where Slack
//! shows one). `/healthz` counts the sockets that said `hello` and were heard from recently; after
//! Slack's `link_disabled` no slot redials and the check fails until the process restarts.

mod connection;
pub mod envelope;

use futures_util::future::BoxFuture;
use slack_morphism::prelude::*;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::commands::Registry;
use crate::config::SlackSettings;
use crate::metrics::{Health, METRICS};
use crate::outbound::parameter_store::TokenStore;
use crate::outbound::slack::Client;
use connection::{Dialer, Ended};

/// What the frames are handed to.
pub struct Handlers {
    /// Routes commands, clicks and submissions to the capabilities.
    pub registry: Arc<Registry>,
    /// Socket Mode's health: the live sockets.
    pub health: Arc<Health>,
    /// Tracks every task an envelope spawns, so shutdown can wait for them.
    pub tracker: TaskTracker,
    /// Room for envelopes' work (`slack.max_in_flight` permits).
    pub room: Arc<Semaphore>,
}

impl Handlers {
    /// Runs `work` in a tracked task if there is room; `false` (counted) when there is none.
    pub fn spawn(&self, work: BoxFuture<'static, ()>, span: tracing::Span) -> bool {
        let Ok(permit) = self.room.clone().try_acquire_owned() else {
            METRICS.work_refused.inc();
            return false;
        };
        self.tracker.spawn(
            async move {
                work.await;
                drop(permit);
            }
            .instrument(span),
        );
        true
    }
}

/// Holds `slack.socket_connections` connections open until `cancel` fires (or Slack disables
/// Socket Mode for the app); a new app token in `tokens` replaces each connection once the new
/// one said `hello`.
pub async fn supervise(
    client: Arc<Client>,
    handlers: Arc<Handlers>,
    tokens: TokenStore,
    settings: SlackSettings,
    cancel: CancellationToken,
) {
    let Some(team_id) = team_id(&client, &tokens, &settings, &cancel).await else {
        return;
    };
    let dialer = Dialer {
        client,
        settings: settings.clone(),
        team_id,
    };
    let disabled = Arc::new(AtomicBool::new(false));
    let slots = (0..settings.socket_connections).map(|slot| {
        let (dialer, handlers, tokens, cancel, disabled) = (
            dialer.clone(),
            handlers.clone(),
            tokens.clone(),
            cancel.clone(),
            disabled.clone(),
        );
        tokio::spawn(hold(slot, dialer, handlers, tokens, cancel, disabled))
    });
    for held in futures_util::future::join_all(slots).await {
        if let Err(error) = held {
            tracing::error!(%error, "a Socket Mode slot ended abnormally");
        }
    }
    tracing::info!("Socket Mode closed");
}

/// The bot's workspace (`auth.test`), tried with backoff until it answers or shutdown: envelopes
/// of any other team are refused.
async fn team_id(
    client: &Arc<Client>,
    tokens: &TokenStore,
    settings: &SlackSettings,
    cancel: &CancellationToken,
) -> Option<String> {
    let mut backoff = Backoff::new(settings.reconnect());
    loop {
        let token = SlackApiToken::new(tokens.current().bot.expose().to_owned().into());
        let session = client.open_session(&token);
        let limit = Duration::from_secs(settings.hello_timeout_secs);
        match tokio::time::timeout(limit, session.auth_test()).await {
            Ok(Ok(identity)) => return Some(identity.team_id.0),
            Ok(Err(error)) => {
                let error = crate::outbound::slack::SlackError::from(error);
                tracing::warn!(%error, "auth.test failed; Socket Mode waits for it");
            }
            Err(_) => tracing::warn!("auth.test timed out; Socket Mode waits for it"),
        }
        let wait = backoff.next();
        tokio::select! {
            () = cancel.cancelled() => return None,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// One slot: dial, serve, and dial again when the connection ends, until shutdown or
/// `link_disabled`.
async fn hold(
    slot: u32,
    dialer: Dialer,
    handlers: Arc<Handlers>,
    tokens: TokenStore,
    cancel: CancellationToken,
    disabled: Arc<AtomicBool>,
) {
    let mut backoff = Backoff::new(dialer.settings.reconnect());
    let mut changes = tokens.subscribe();
    let mut next = None;
    while !cancel.is_cancelled() && !disabled.load(Ordering::Relaxed) {
        let connected = match next.take() {
            Some(connected) => connected,
            None => {
                let token = changes.borrow_and_update().app.clone();
                let dialled = tokio::select! {
                    () = cancel.cancelled() => return,
                    dialled = dialer.clone().dial(token) => dialled,
                };
                match dialled {
                    Ok(connected) => connected,
                    Err(error) => {
                        let wait = backoff.next();
                        tracing::warn!(
                            slot,
                            %error,
                            retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                            "Socket Mode connection failed"
                        );
                        tokio::select! {
                            () = cancel.cancelled() => return,
                            () = tokio::time::sleep(wait) => {}
                        }
                        continue;
                    }
                }
            }
        };
        tracing::info!(
            slot,
            num_connections = connected.num_connections,
            "Socket Mode connected"
        );
        let since = Instant::now();
        match connection::serve(connected, &dialer, &handlers, &mut changes, &cancel).await {
            Ended::Cancelled => return,
            Ended::Replaced(connected) => next = Some(*connected),
            Ended::Disabled => {
                disabled.store(true, Ordering::Relaxed);
                tracing::error!(
                    slot,
                    "Slack disabled Socket Mode for this app (link_disabled): not reconnecting; \
                     turn Socket Mode on in the app's settings and restart the bot"
                );
                return;
            }
            Ended::Lost(why) => {
                // A socket that lived a while is redialled at once, with a fresh backoff; one
                // that keeps dying right after hello backs off like a failed dial.
                let wait = if since.elapsed() > dialer.settings.silence() {
                    backoff = Backoff::new(dialer.settings.reconnect());
                    Duration::ZERO
                } else {
                    backoff.next()
                };
                tracing::warn!(slot, %why, "Socket Mode connection lost; reconnecting");
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Exponential backoff with "equal jitter": the n-th wait in a row is drawn from
/// [d/2, d] with d = first × 2ⁿ capped at `max`, so a fleet of sockets that failed together
/// does not redial in step (<https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>).
struct Backoff {
    first: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    fn new((first, max): (Duration, Duration)) -> Self {
        Self {
            first,
            max,
            failures: 0,
        }
    }

    fn next(&mut self) -> Duration {
        let ceiling = self
            .first
            .saturating_mul(1 << self.failures.min(16))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        let half = ceiling / 2;
        half + half.mul_f64(jitter())
    }
}

/// A number in [0, 1) from the standard library's randomly keyed hasher (no RNG crate for one
/// number per reconnect).
fn jitter() -> f64 {
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    // The top 53 bits make an evenly spread f64 in [0, 1).
    #[expect(clippy::cast_precision_loss, reason = "53 bits fit an f64 exactly")]
    let fraction = (bits >> 11) as f64 / (1_u64 << 53) as f64;
    fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_up_to_the_ceiling() {
        let mut backoff = Backoff::new((Duration::from_secs(1), Duration::from_secs(10)));
        for ceiling in [1, 2, 4, 8, 10, 10, 10] {
            let ceiling = Duration::from_secs(ceiling);
            let wait = backoff.next();
            assert!(
                wait >= ceiling / 2 && wait <= ceiling,
                "{wait:?} not in [{:?}, {ceiling:?}]",
                ceiling / 2
            );
        }
    }

    #[test]
    fn jitter_spreads_waits_instead_of_repeating_one() {
        let waits: std::collections::BTreeSet<Duration> = (0..20)
            .map(|_| Backoff::new((Duration::from_secs(8), Duration::from_secs(8))).next())
            .collect();
        assert!(waits.len() > 10, "{waits:?}");
    }
}
