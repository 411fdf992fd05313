//! The AWS JSON 1.1 wire protocol as the Rust SDK speaks it: `POST /` with
//! `X-Amz-Target: CodePipeline_20150709.<Operation>`; answers carry `x-amzn-RequestId`,
//! errors `{"__type", "message"}` plus `x-amzn-ErrorType`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use uuid::Uuid;

use super::error::ApiError;
use super::sim::CodePipelineSim;
use super::{ops, source_host};

const TARGET_PREFIX: &str = "CodePipeline_20150709.";
const CONTENT_TYPE_JSON: &str = "application/x-amz-json-1.1";

/// The simulator's HTTP surface.
pub(crate) fn router(sim: CodePipelineSim) -> Router {
    Router::new()
        .route("/", post(handle))
        .route(
            "/repos/{owner}/{repo}/git/commits/{sha}",
            get(source_host::get_commit),
        )
        .route("/rate_limit", get(source_host::rate_limit))
        .with_state(sim)
}

async fn handle(State(sim): State<CodePipelineSim>, headers: HeaderMap, body: Bytes) -> Response {
    let target = header(&headers, "x-amz-target").unwrap_or_default();
    let operation = target.strip_prefix(TARGET_PREFIX).unwrap_or(target);
    let caller = caller_arn(&headers, &sim.config().account_id);
    // Counted on arrival: a stalled request counts while it hangs.
    sim.lock().runtime.count(operation);
    if let Some(secs) = take_stall(&sim, operation) {
        // Dropped with the connection when the client gives up (hyper drops the handler).
        tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
    }
    let result = ops::dispatch(&sim, operation, &caller, &body);
    if let Err(error) = &result {
        tracing::debug!(operation, error_type = error.type_name(), %error, "request refused");
    }
    respond(result)
}

/// Consumes one injected stall of `operation`: how long its request hangs.
fn take_stall(sim: &CodePipelineSim, operation: &str) -> Option<u64> {
    let mut state = sim.lock();
    let (secs, times) = state.stalls.get_mut(operation)?;
    let secs = *secs;
    *times -= 1;
    if *times == 0 {
        state.stalls.remove(operation);
    }
    Some(secs)
}

fn respond(result: Result<Value, ApiError>) -> Response {
    let (status, error_type, body) = match result {
        Ok(body) => (StatusCode::OK, None, body),
        Err(error) => (
            error.status(),
            Some(error.type_name().to_owned()),
            json!({"__type": error.type_name(), "message": error.to_string()}),
        ),
    };
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_JSON));
    if let Ok(id) = HeaderValue::from_str(&Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-requestid", id);
    }
    if let Some(value) = error_type.and_then(|t| HeaderValue::from_str(&t).ok()) {
        headers.insert("x-amzn-errortype", value);
    }
    response
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Who is calling, as an IAM user ARN named after the SigV4 access key id
/// (`Credential=<key>/<date>/…`); the signature itself is not checked.
fn caller_arn(headers: &HeaderMap, account_id: &str) -> String {
    let access_key = header(headers, AUTHORIZATION.as_str())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|credential| credential.split('/').next())
        .filter(|key| !key.is_empty())
        .unwrap_or("anonymous");
    format!("arn:aws:iam::{account_id}:user/{access_key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_is_named_after_the_sigv4_access_key() {
        let mut headers = HeaderMap::new();
        let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/codepipeline/aws4_request, SignedHeaders=host, Signature=0";
        headers.insert(AUTHORIZATION, HeaderValue::from_static(auth));
        assert_eq!(
            caller_arn(&headers, "123"),
            "arn:aws:iam::123:user/AKIDEXAMPLE"
        );
        assert_eq!(
            caller_arn(&HeaderMap::new(), "123"),
            "arn:aws:iam::123:user/anonymous"
        );
    }
}
