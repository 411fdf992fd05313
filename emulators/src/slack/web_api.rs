//! The HTTP listener: `{api_url}/{method}` for the Web API, `/response/{id}` for
//! interaction `response_url`s, `/upload/{key}` for file bytes, and the UI's routes. Counts
//! Web API calls, plays injected failures, checks tokens, then hands the call to
//! [`super::methods`].

use std::collections::VecDeque;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{any, post};
use axum::Router;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::args::{json_response, ApiError, Args};
use super::methods::{TokenKind, METHODS};
use super::state::{Failure, Inner, Shared};
use super::{files, response_url, ui};

/// Serves HTTP until `shutdown` is cancelled.
pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    let app = Router::new()
        .route("/api/{method}", any(call_method))
        .route("/response/{id}", post(response_url::respond))
        .route("/upload/{key}", post(files::receive))
        .merge(ui::routes())
        .with_state(shared);
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        tracing::error!(%error, "slack emulator HTTP server stopped");
    }
}

async fn call_method(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let injected = {
        let mut inner = shared.lock();
        *inner.calls.entry(method.clone()).or_default() += 1;
        let now = std::time::Instant::now();
        inner
            .call_times
            .entry(method.clone())
            .or_default()
            .push(now);
        inner
            .failures
            .get_mut(&method)
            .and_then(VecDeque::pop_front)
    };
    if let Some(failure) = injected {
        if let Failure::Stall { secs } = failure {
            tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
        }
        return failure_response(&failure);
    }
    let Some(method) = METHODS.iter().find(|m| m.name == method) else {
        return error_response(&ApiError::new("unknown_method"));
    };
    let answer = Args::parse(query.as_deref(), &headers, &body).and_then(|args| {
        authenticate(&shared.lock(), args.token(), method.token)?;
        (method.run)(&shared, &args)
    });
    match answer {
        Ok(mut fields) => {
            fields["ok"] = json!(true);
            json_response(StatusCode::OK, &fields)
        }
        Err(error) => error_response(&error),
    }
}

fn error_response(error: &ApiError) -> Response {
    json_response(StatusCode::OK, &error.body())
}

fn failure_response(failure: &Failure) -> Response {
    match failure {
        Failure::Error(code) => error_response(&ApiError::new(code)),
        Failure::RateLimited { retry_after_secs } => {
            let mut response = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                &ApiError::new("ratelimited").body(),
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            response
        }
        Failure::ServerError | Failure::Stall { .. } => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &ApiError::new("internal_error").body(),
        ),
    }
}

/// Slack's token checks, in its order: present, known, current, of the right type.
fn authenticate(inner: &Inner, token: Option<&str>, wanted: TokenKind) -> Result<(), ApiError> {
    let kind = match token {
        None => return Err(ApiError::new("not_authed")),
        Some(token) if token == inner.bot_token => TokenKind::Bot,
        Some(token) if token == inner.app_token => TokenKind::App,
        Some(token) if inner.revoked.contains(token) => return Err(ApiError::new("token_revoked")),
        Some(_) => return Err(ApiError::new("invalid_auth")),
    };
    if kind == wanted {
        Ok(())
    } else {
        Err(ApiError::new("not_allowed_token_type"))
    }
}
