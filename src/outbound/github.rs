//! GitHub's REST API, for one question: who wrote a commit. `GET
//! /repos/{owner}/{repo}/git/commits/{sha}` (the Git database API, a small answer whatever
//! the commit's size) on github.com or a GitHub Enterprise Server (`https://HOST/api/v3`).
//! The token, when Parameter Store has one, is sent as `Authorization: Bearer …` and marked
//! sensitive; it never appears in an error. GitHub refusing it re-reads Parameter Store. A
//! request not answered (its body read) within `[timeouts] github_secs` fails.

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, ACCEPT, AUTHORIZATION, USER_AGENT};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;

use super::shared::Shared;
use crate::outbound::parameter_store::TokenStore;
use crate::secret::Secret;

/// The most of an answer read: a commit object is a few hundred bytes.
const BODY_MAX: usize = 256 * 1024;

/// How long a commit's author is kept (a commit never changes: this bounds memory), and for
/// how many commits at most.
const AUTHOR_TTL: Duration = Duration::from_secs(3600);
const AUTHORS_KEPT: u64 = 1024;

/// Why an author could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// Not an `owner/repo` and a hex commit id: nothing was requested.
    #[error("`{repository}` @ `{commit}` is not a GitHub repository and commit")]
    Invalid { repository: String, commit: String },
    /// GitHub answered with an error (404 for an unknown commit or a private repository
    /// without a token, 401 for a bad token, 403 when rate-limited).
    #[error("GitHub answered {status}: {message}")]
    Status { status: u16, message: String },
    /// Network failure, or no answer in time.
    #[error("GitHub could not be reached: {0}")]
    Transport(String),
    #[error("GitHub's answer could not be read: {0}")]
    Decode(String),
}

/// The GitHub client: cheap to clone.
#[derive(Clone)]
pub struct GitHub {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    api_url: String,
    tokens: TokenStore,
    /// The longest one request may take, its answer read.
    timeout: Duration,
    /// Authors by `repository@commit`: the approvals of one execution ask once.
    authors: Arc<Shared<String>>,
}

impl GitHub {
    /// A client of the API at `api_url` (no trailing `/`), with the token of `tokens`; a
    /// request not answered within `timeout` fails.
    ///
    /// # Errors
    /// The system's root certificates cannot be loaded.
    pub fn new(api_url: &str, tokens: TokenStore, timeout: Duration) -> std::io::Result<Self> {
        let https = super::https_connector(Some(api_url))?;
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            api_url: api_url.to_owned(),
            tokens,
            timeout,
            authors: Arc::new(Shared::new(AUTHOR_TTL, AUTHORS_KEPT)),
        })
    }

    /// The e-mail address Git records as `commit`'s author in `repository` (`owner/repo`),
    /// asked once per commit (a commit never changes).
    ///
    /// # Errors
    /// See [`GitHubError`].
    pub async fn commit_author_email(
        &self,
        repository: &str,
        commit: &str,
    ) -> Result<String, GitHubError> {
        if !is_repository(repository) || !is_commit(commit) {
            return Err(GitHubError::Invalid {
                repository: repository.to_owned(),
                commit: commit.to_owned(),
            });
        }
        self.authors
            .get(&format!("{repository}@{commit}"), || async {
                let json = self
                    .get(&format!("/repos/{repository}/git/commits/{commit}"))
                    .await?;
                json["author"]["email"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| GitHubError::Decode("the commit has no author e-mail".into()))
            })
            .await
    }

    /// Whether the API answers and accepts the token: "N of M requests left" (`GET
    /// /rate_limit`, which does not count against the limit).
    ///
    /// # Errors
    /// See [`GitHubError`].
    pub async fn rate_limit(&self) -> Result<String, GitHubError> {
        let json = self.get("/rate_limit").await?;
        let core = &json["resources"]["core"];
        match (core["remaining"].as_u64(), core["limit"].as_u64()) {
            (Some(remaining), Some(limit)) => Ok(format!(
                "{remaining} of {limit} requests left this hour{}",
                if self.tokens.current().github.is_some() {
                    ""
                } else {
                    " (no token: public repositories only)"
                }
            )),
            _ => Err(GitHubError::Decode(
                "no core rate limit in the answer".into(),
            )),
        }
    }

    /// `GET {api_url}{path}` as JSON, with the token when there is one. A `401 Bad
    /// credentials` re-reads Parameter Store at once (a rotated token) and, when that brought
    /// another token, tries once more with it.
    async fn get(&self, path: &str) -> Result<serde_json::Value, GitHubError> {
        let used = self.tokens.current().github.clone();
        match self.send(path, used.as_ref()).await {
            Err(GitHubError::Status { status: 401, .. })
                if self.tokens.refresh_now().await.github != used =>
            {
                tracing::info!("GitHub refused its token; retrying with the one just read");
                self.send(path, self.tokens.current().github.as_ref()).await
            }
            answer => answer,
        }
    }

    /// One `GET {api_url}{path}` with `token`, within the timeout.
    async fn send(
        &self,
        path: &str,
        token: Option<&Secret>,
    ) -> Result<serde_json::Value, GitHubError> {
        tokio::time::timeout(self.timeout, self.exchange(path, token))
            .await
            .unwrap_or_else(|_| {
                Err(GitHubError::Transport(format!(
                    "timed out: no answer within {} s",
                    self.timeout.as_secs_f32()
                )))
            })
    }

    /// The request and its answer, unbounded.
    async fn exchange(
        &self,
        path: &str,
        token: Option<&Secret>,
    ) -> Result<serde_json::Value, GitHubError> {
        let mut request = hyper::Request::get(format!("{}{path}", self.api_url))
            .header(ACCEPT, "application/vnd.github+json")
            .header(USER_AGENT, concat!("chatops/", env!("CARGO_PKG_VERSION")))
            .header("X-GitHub-Api-Version", "2022-11-28");
        if let Some(token) = token {
            if let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", token.expose())) {
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| GitHubError::Transport(e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| GitHubError::Transport(e.to_string()))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), BODY_MAX)
            .collect()
            .await
            .map_err(|e| GitHubError::Decode(e.to_string()))?
            .to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| GitHubError::Decode(format!("status {status}: {e}")))?;
        if !status.is_success() {
            let message = json["message"].as_str().unwrap_or("no message");
            return Err(GitHubError::Status {
                status: status.as_u16(),
                message: message.chars().take(200).collect(),
            });
        }
        Ok(json)
    }
}

/// `owner/repo` with GitHub's name characters.
fn is_repository(s: &str) -> bool {
    let name = |p: &str| {
        !p.is_empty()
            && p.len() <= 100
            && p != "."
            && p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    s.split_once('/').is_some_and(|(o, r)| name(o) && name(r))
}

/// A full or abbreviated hex commit id.
fn is_commit(s: &str) -> bool {
    (4..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::testing::{silent_server, tokens};

    #[tokio::test]
    async fn a_request_github_does_not_answer_fails_saying_it_timed_out() {
        let api = silent_server().await;
        let github = GitHub::new(&api, tokens(), Duration::from_millis(200)).expect("client");

        let err = github
            .commit_author_email("acme/web", "3f7c1e2a")
            .await
            .expect_err("no answer");

        assert!(
            matches!(&err, GitHubError::Transport(m) if m.contains("timed out")),
            "{err}"
        );
    }

    #[test]
    fn only_a_repository_and_a_hex_commit_reach_the_url() {
        assert!(is_repository("acme/web-app.v2"));
        for bad in [
            "acme",
            "acme/",
            "/web",
            "acme/web/x",
            "acme/..",
            "a b/c",
            "acme/web?x=1",
        ] {
            assert!(!is_repository(bad), "{bad}");
        }
        assert!(is_commit("3f7c1e2a9b8d4c6e5f0a1b2c3d4e5f6a7b8c9d0e"));
        for bad in ["abc", "3f7c/../x", "refs/heads/main", "zzzz"] {
            assert!(!is_commit(bad), "{bad}");
        }
    }
}
