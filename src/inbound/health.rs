//! The health and metrics listener, on axum (off unless `[health] listen` is set; loopback
//! unless configured otherwise): `GET /healthz` answers 200 when Socket Mode is connected, the
//! approval queue answers, the Slack tokens are fresh, the Slack Web API and CodePipeline answer
//! their calls and (with `[state]`) the state table answers a read now, else 503, with one line
//! per check;
//! `GET /metrics` is the Prometheus text exposition of [`METRICS`]; anything else is 404. It
//! stops with the app's cancellation token, letting requests in flight finish. [`probe`] is the
//! client side, for `chatops healthcheck` (a container health check: the image has no curl).

use axum::extract;
use axum::http::header::{HeaderName, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use prometheus_client::encoding::prometheus_text;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::metrics::{Health, METRICS};
use crate::outbound::parameter_store::TokenStore;
use crate::outbound::records::Records;

/// How old each health mark may be before the check fails.
#[derive(Clone)]
pub struct Freshness {
    /// The token store marks its own reads.
    pub tokens: TokenStore,
    /// A socket counts while heard from within this (`slack.silence_secs`).
    pub socket: Duration,
    pub queue: Duration,
    pub parameters: Duration,
    /// Checked only when a pipeline-events queue is configured.
    pub events: Option<Duration>,
    /// A CodePipeline call that failed for want of an answer fails the check until a call is
    /// answered, or for this long when nothing calls again.
    pub codepipeline: Duration,
    /// The same for the Slack Web API.
    pub slack_api: Duration,
    /// The shared state table, read on every `/healthz` when `[state]` is configured: without
    /// it the bot refuses every decision, so it is not healthy.
    pub state: Option<Records>,
}

/// How long the state probe of one `/healthz` may take.
const STATE_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl Freshness {
    /// A few long polls for the queues, a few refresh intervals for the tokens.
    pub fn new(settings: &Settings, tokens: TokenStore, records: &Records) -> Self {
        let polls = |wait: i32| Duration::from_secs(3 * u64::try_from(wait).unwrap_or(20) + 30);
        Self {
            tokens,
            socket: settings.slack.silence(),
            queue: polls(settings.approvals.wait_time_secs),
            parameters: Duration::from_secs(3 * settings.parameter_store.refresh_interval_secs),
            events: settings.events.as_ref().map(|e| polls(e.wait_time_secs)),
            // Two whole operations: a CodePipeline that hangs fails a call per operation timeout.
            codepipeline: 2 * settings.timeouts.aws_operation(),
            slack_api: 2 * settings.timeouts.slack(),
            state: settings.state.as_ref().map(|_| records.clone()),
        }
    }
}

/// The checks `/healthz` reports, in order; all must pass.
pub fn checks(health: &Health, freshness: &Freshness) -> Vec<(&'static str, bool)> {
    let mut checks = vec![
        (
            "socket_mode_connected",
            health.sockets.live(freshness.socket) > 0,
        ),
        (
            "approval_queue_reachable",
            health.queue_polled.within(freshness.queue),
        ),
        (
            "parameters_fresh",
            freshness.tokens.last_read().within(freshness.parameters),
        ),
        (
            "slack_api_answering",
            health.slack_api.answering(freshness.slack_api),
        ),
        (
            "codepipeline_answering",
            health.codepipeline.answering(freshness.codepipeline),
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
    let mut checks = checks(&state.health, &state.freshness);
    if let Some(records) = &state.freshness.state {
        let probe = tokio::time::timeout(STATE_PROBE_TIMEOUT, records.get("health", "probe"));
        checks.push(("state_store_reachable", matches!(probe.await, Ok(Ok(_)))));
    }
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

/// How long [`probe`] waits for the whole answer: under ECS's default health check timeout of
/// 5 s, and over the state probe's 2 s.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(4);

/// The most of a `/healthz` answer read: a few short lines.
const PROBE_BODY_MAX: usize = 16 * 1024;

/// `GET /healthz` on the listener bound at `listen` (an unspecified address, `0.0.0.0` or `::`,
/// is asked on loopback): the body when it answers 200.
///
/// # Errors
/// No connection, no whole answer within [`PROBE_TIMEOUT`], or a status other than 200 (the
/// error carries the body, naming the failing checks).
pub async fn probe(listen: SocketAddr) -> anyhow::Result<String> {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let url = format!("http://{}/healthz", SocketAddr::new(ip, listen.port()));
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let answer = async {
        let response = client.get(url.parse()?).await?;
        let status = response.status();
        let body = Limited::new(response.into_body(), PROBE_BODY_MAX)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!(e))?
            .to_bytes();
        anyhow::Ok((status, String::from_utf8_lossy(&body).into_owned()))
    };
    let (status, body) = tokio::time::timeout(PROBE_TIMEOUT, answer)
        .await
        .map_err(|_| anyhow::anyhow!("GET {url}: no answer within {PROBE_TIMEOUT:?}"))?
        .map_err(|e| e.context(format!("GET {url}")))?;
    if status == StatusCode::OK {
        Ok(body)
    } else {
        anyhow::bail!("GET {url}: {status}\n{body}")
    }
}
