//! The health and metrics listener, on axum (off unless `[health] listen` is set; loopback
//! unless configured otherwise): `GET /healthz` answers 200 when Socket Mode is connected, the
//! approval queue answers and the Slack tokens are fresh, else 503, with one line per check;
//! `GET /metrics` is the Prometheus text exposition of [`METRICS`]; anything else is 404. It
//! stops with the app's cancellation token, letting requests in flight finish.

use axum::extract;
use axum::http::header::{HeaderName, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::prometheus_text;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::metrics::{Health, METRICS};
use crate::outbound::parameter_store::TokenStore;

/// How old each health mark may be before the check fails.
#[derive(Clone)]
pub struct Freshness {
    /// The token store marks its own reads.
    pub tokens: TokenStore,
    pub queue: Duration,
    pub parameters: Duration,
    /// Checked only when a pipeline-events queue is configured.
    pub events: Option<Duration>,
}

impl Freshness {
    /// A few long polls for the queues, a few refresh intervals for the tokens.
    pub fn new(settings: &Settings, tokens: TokenStore) -> Self {
        let polls = |wait: i32| Duration::from_secs(3 * u64::try_from(wait).unwrap_or(20) + 30);
        Self {
            tokens,
            queue: polls(settings.approvals.wait_time_secs),
            parameters: Duration::from_secs(3 * settings.parameter_store.refresh_interval_secs),
            events: settings.events.as_ref().map(|e| polls(e.wait_time_secs)),
        }
    }
}

/// The checks `/healthz` reports, in order; all must pass.
pub fn checks(health: &Health, freshness: &Freshness) -> Vec<(&'static str, bool)> {
    let mut checks = vec![
        (
            "socket_mode_connected",
            health.socket_hello.within(Duration::MAX),
        ),
        (
            "approval_queue_reachable",
            health.queue_polled.within(freshness.queue),
        ),
        (
            "parameters_fresh",
            freshness.tokens.last_read().within(freshness.parameters),
        ),
    ];
    if let Some(events) = freshness.events {
        checks.push((
            "events_queue_reachable",
            health.events_polled.within(events),
        ));
    }
    checks
}

/// What the handlers read.
struct State {
    health: Arc<Health>,
    freshness: Freshness,
}

/// Serves `/healthz` and `/metrics` on `listener` until `cancel` fires, then lets the requests
/// in flight finish (graceful shutdown); anything else is 404.
pub async fn serve(
    listener: TcpListener,
    health: Arc<Health>,
    freshness: Freshness,
    cancel: CancellationToken,
) {
    let app = Router::new()
        .route("/healthz", get(healthz).fallback(not_found))
        .route("/metrics", get(metrics).fallback(not_found))
        .fallback(not_found)
        .with_state(Arc::new(State { health, freshness }));
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
    {
        tracing::warn!(%error, "health listener stopped");
    }
}

/// 200 when every check passes, else 503; one `name ok|failing` line per check.
async fn healthz(extract::State(state): extract::State<Arc<State>>) -> (StatusCode, String) {
    let checks = checks(&state.health, &state.freshness);
    let healthy = checks.iter().all(|(_, ok)| *ok);
    let body = checks
        .iter()
        .map(|(name, ok)| format!("{name} {}\n", if *ok { "ok" } else { "failing" }))
        .collect();
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}

async fn metrics() -> ([(HeaderName, &'static str); 1], String) {
    (
        [(CONTENT_TYPE, prometheus_text::CONTENT_TYPE)],
        METRICS.render(),
    )
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "not found\n")
}
