//! The GitHub side of the simulated pipelines' sources (repositories reached through a CodeStar
//! connection, provider `CodeStarSourceConnection`; how CodePipeline shows them is in `model`):
//! the one call of GitHub's REST API a bot makes about such a revision, `GET
//! /repos/{owner}/{repo}/git/commits/{sha}`, and `GET /rate_limit`, served on the simulator's
//! port (the API base of a GitHub Enterprise Server stand-in).
//!
//! Without a required token every repository is public; with one
//! ([`CodePipelineSim::require_github_token`]), a request without `Authorization` gets GitHub's
//! 404 for a private repository and a wrong token its 401 `Bad credentials`.

use axum::extract::{Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::model::{repository, ActionKind, CommitAuthor};
use super::sim::CodePipelineSim;

/// What [`CodePipelineSim::requests`] counts this call as.
pub const GET_COMMIT: &str = "GitHub:GetCommit";
/// What [`CodePipelineSim::requests`] counts `GET /rate_limit` as.
pub const RATE_LIMIT: &str = "GitHub:RateLimit";
const DOCS: &str = "https://docs.github.com/rest/git/commits#get-a-commit-object";

/// `GET /repos/{owner}/{repo}/git/commits/{sha}`.
pub(crate) async fn get_commit(
    State(sim): State<CodePipelineSim>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let full = format!("{owner}/{repo}");
    let mut state = sim.lock();
    state.runtime.count(GET_COMMIT);
    match authorization(state.github_token.as_deref(), &headers) {
        None => return bad_credentials(),
        Some(Access::Anonymous) if state.github_token.is_some() => return not_found(),
        Some(_) => {}
    }
    let found = state.pipelines.values().find_map(|p| {
        p.def
            .stages
            .iter()
            .flat_map(|s| &s.actions)
            .find_map(|a| match &a.kind {
                ActionKind::Source {
                    revision_id,
                    revision_summary,
                    author,
                    ..
                } if *revision_id == sha
                    && repository(&a.kind, &p.def.name).as_deref() == Some(&full) =>
                {
                    Some((revision_summary.clone(), author.clone().unwrap_or_default()))
                }
                _ => None,
            })
    });
    let Some((message, author)) = found else {
        return not_found();
    };
    Json(commit(&sim, &full, &sha, &message, &author)).into_response()
}

/// `GET /rate_limit`: the core limit, 60 an hour anonymously and 5,000 with a token; a wrong
/// token is refused.
pub(crate) async fn rate_limit(State(sim): State<CodePipelineSim>, headers: HeaderMap) -> Response {
    let mut state = sim.lock();
    state.runtime.count(RATE_LIMIT);
    let limit = match authorization(state.github_token.as_deref(), &headers) {
        None => return bad_credentials(),
        Some(Access::Anonymous) => 60,
        Some(Access::Token) => 5000,
    };
    let reset = chrono::Utc::now().timestamp() + 3600;
    let core =
        json!({"limit": limit, "used": 0, "remaining": limit, "reset": reset, "resource": "core"});
    Json(json!({"resources": {"core": core}, "rate": core})).into_response()
}

/// How a request identified itself.
enum Access {
    Anonymous,
    Token,
}

/// The request's access; `None` for a token other than the required one.
fn authorization(required: Option<&str>, headers: &HeaderMap) -> Option<Access> {
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("token "))
                .unwrap_or(v)
        });
    match (given, required) {
        (None, _) => Some(Access::Anonymous),
        (Some(t), Some(r)) if t != r => None,
        (Some(_), _) => Some(Access::Token),
    }
}

fn bad_credentials() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "Bad credentials",
        "https://docs.github.com/rest",
    )
}

/// A commit object as GitHub's Git database API returns it.
fn commit(
    sim: &CodePipelineSim,
    repo: &str,
    sha: &str,
    message: &str,
    author: &CommitAuthor,
) -> Value {
    let api = sim.endpoint_url();
    let person =
        json!({"name": author.name, "email": author.email, "date": "2026-11-02T09:30:00Z"});
    json!({
        "sha": sha,
        "node_id": format!("C_{sha}"),
        "url": format!("{api}/repos/{repo}/git/commits/{sha}"),
        "html_url": format!("https://github.com/{repo}/commit/{sha}"),
        "author": person,
        "committer": person,
        "tree": {"sha": "9c1b7e0d3f2a4b5c6d7e8f9a0b1c2d3e4f5a6b7c",
                 "url": format!("{api}/repos/{repo}/git/trees/9c1b7e0d3f2a4b5c6d7e8f9a0b1c2d3e4f5a6b7c")},
        "message": message,
        "parents": [],
        "verification": {"verified": false, "reason": "unsigned", "signature": null,
                         "payload": null, "verified_at": null},
    })
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found", DOCS)
}

fn error(status: StatusCode, message: &str, docs: &str) -> Response {
    let body = json!({"message": message, "documentation_url": docs, "status": status.as_u16().to_string()});
    (status, Json(body)).into_response()
}

impl CodePipelineSim {
    /// Makes every repository private to `token` (sent as `Authorization: Bearer …`).
    pub fn require_github_token(&self, token: &str) {
        self.lock().github_token = Some(token.to_owned());
    }
}
