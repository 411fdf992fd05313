//! The health and metrics listener (off unless `[health] listen` is set; loopback unless
//! configured otherwise): `GET /healthz` answers 200 when Socket Mode is connected, the approval
//! queue answers and the Slack tokens are fresh, else 503, with one line per check;
//! `GET /metrics` is the Prometheus text exposition of [`METRICS`].

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
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

/// Serves `/healthz` and `/metrics` on `listener` until `cancel` fires.
pub async fn serve(
    listener: TcpListener,
    health: Arc<Health>,
    freshness: Freshness,
    cancel: CancellationToken,
) {
    let state = Arc::new((health, freshness));
    loop {
        let stream = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "health listener: accept failed");
                    continue;
                }
            },
        };
        let state = state.clone();
        let service = hyper::service::service_fn(move |req| answer(req, state.clone()));
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                () = cancel.cancelled() => {}
                result = connection => if let Err(error) = result {
                    tracing::debug!(%error, "health connection ended");
                },
            }
        });
    }
}

async fn answer(
    req: Request<Incoming>,
    state: Arc<(Arc<Health>, Freshness)>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => {
            let checks = checks(&state.0, &state.1);
            let healthy = checks.iter().all(|(_, ok)| *ok);
            let body: String = checks
                .iter()
                .map(|(name, ok)| format!("{name} {}\n", if *ok { "ok" } else { "failing" }))
                .collect();
            let status = if healthy {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, "text/plain; charset=utf-8", body)
        }
        (&Method::GET, "/metrics") => (
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            METRICS.render(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    Ok(response)
}
