//! Slack tokens and the button-signing keys from SSM Parameter Store: `GetParametersByPath`
//! (recursive, decrypted, every page) under one hierarchical path, held in memory, refreshed on
//! an interval and at once when Slack rejects the token. Also [`StringList`]: one plain list
//! parameter (the Redshift cluster list), read by name and refreshed on the same interval.

use aws_sdk_ssm::error::DisplayErrorContext;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Mutex};
use tokio_util::sync::CancellationToken;

use crate::metrics::Mark;
use crate::secret::Secret;

/// Name of the bot token under the configured path.
pub const BOT_TOKEN: &str = "slack/bot_token";
/// Name of the app-level token under the configured path.
pub const APP_TOKEN: &str = "slack/app_token";
/// Name of the optional GitHub token (revision authors of private repositories).
pub const GITHUB_TOKEN: &str = "github/token";
/// Name of the key that signs button values and modal metadata ([`crate::signing`]).
pub const BUTTON_KEY: &str = "buttons/signing_key";
/// Name of the optional key signed with before the last rotation: still verified.
pub const PREVIOUS_BUTTON_KEY: &str = "buttons/previous_signing_key";
/// The shortest signing key accepted: 32 characters (`openssl rand -base64 32` gives 44).
const MIN_BUTTON_KEY: usize = 32;
/// Keys replaced while this process ran, still verified (beside the parameters'): enough for
/// a rotation or two between restarts.
const REMEMBERED_KEYS: usize = 2;
/// A forced refresh is skipped when the last forced one is younger than this (no stampede on a
/// burst of `invalid_auth`).
const MIN_FORCED_REFRESH: Duration = Duration::from_secs(5);

/// The two Slack tokens, GitHub's when there is one, and the button-signing keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// `xoxb-…`: Web API calls.
    pub bot: Secret,
    /// `xapp-…`: Socket Mode (`apps.connections.open`).
    pub app: Secret,
    /// Reads commit authors of private GitHub repositories; optional.
    pub github: Option<Secret>,
    /// Sign and verify button values ([`crate::signing`]).
    pub buttons: ButtonKeys,
}

/// The keys of [`crate::signing`]: the current one signs; it and the previous ones verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonKeys {
    pub current: Secret,
    /// Keys signed with before a rotation ([`PREVIOUS_BUTTON_KEY`]).
    pub previous: Vec<Secret>,
    /// Keys this process saw replaced at a refresh (so a prompt posted just before a rotation
    /// that left no previous key still works), newest first; forgotten at a restart.
    remembered: Vec<Secret>,
}

impl ButtonKeys {
    /// `current` signs; `current` and `previous` verify.
    pub fn new(current: Secret, previous: Vec<Secret>) -> Self {
        Self {
            current,
            previous,
            remembered: Vec::new(),
        }
    }

    /// A random key for this process only: local development, where a restart may break the
    /// buttons posted before it.
    pub fn ephemeral() -> Self {
        let random = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        Self::new(Secret::new(random), Vec::new())
    }

    /// Every key a signature is checked against, the current one first.
    pub fn verifying(&self) -> impl Iterator<Item = &Secret> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .chain(&self.remembered)
    }

    /// These keys as read from Parameter Store, remembering `before`'s current key if it was
    /// replaced, and what `before` remembered (at most [`REMEMBERED_KEYS`], newest first). A
    /// previous-key parameter that is deleted stops verifying at the next refresh.
    fn remembering(mut self, before: &Self) -> Self {
        let replaced = std::iter::once(&before.current).chain(&before.remembered);
        for key in replaced {
            if *key != self.current && !self.remembered.contains(key) {
                self.remembered.push(key.clone());
            }
        }
        self.remembered.truncate(REMEMBERED_KEYS);
        self
    }
}

/// Why the tokens could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("parameter {0} is missing")]
    Missing(String),
    #[error("parameter {0} is empty")]
    Empty(String),
    #[error("parameter {name} is shorter than {min} characters")]
    TooShort { name: String, min: usize },
    #[error("parameter {name} does not hold a {expected} token")]
    WrongKind {
        name: String,
        expected: &'static str,
    },
    #[error("GetParametersByPath on {path} failed: {cause}")]
    Aws { path: String, cause: String },
}

/// Where the tokens come from.
#[derive(Clone)]
enum Source {
    ParameterStore {
        ssm: aws_sdk_ssm::Client,
        path: String,
    },
    /// `SLACK_BOT_TOKEN` / `SLACK_APP_TOKEN`: local development only, never refreshed.
    Environment,
}

/// The current tokens, shared by every Slack caller; cheap to clone.
#[derive(Clone)]
pub struct TokenStore {
    source: Source,
    current: watch::Sender<Arc<Tokens>>,
    /// When the last forced refresh ran; the lock also serialises refreshes.
    last_forced: Arc<Mutex<Option<Instant>>>,
    /// When the tokens were last read (fixed tokens count as read whenever asked).
    read: Arc<Mark>,
}

impl TokenStore {
    /// Reads the tokens once under `path` (fails fast at start-up).
    ///
    /// # Errors
    /// A missing, empty or wrong-kind parameter (named in full), or the AWS call failing.
    pub async fn from_parameter_store(
        ssm: aws_sdk_ssm::Client,
        path: &str,
    ) -> Result<Self, SecretsError> {
        let tokens = read(&ssm, path).await?;
        let source = Source::ParameterStore {
            ssm,
            path: path.to_owned(),
        };
        Ok(Self::with(source, tokens))
    }

    /// Tokens given directly (the development stand-ins); refreshing keeps them.
    pub fn fixed(tokens: Tokens) -> Self {
        Self::with(Source::Environment, tokens)
    }

    fn with(source: Source, tokens: Tokens) -> Self {
        let read = Arc::new(Mark::default());
        read.now();
        Self {
            source,
            current: watch::Sender::new(Arc::new(tokens)),
            last_forced: Arc::new(Mutex::new(None)),
            read,
        }
    }

    /// When the tokens were last read successfully (the health check's "parameters fresh").
    pub fn last_read(&self) -> &Mark {
        &self.read
    }

    /// The tokens now.
    pub fn current(&self) -> Arc<Tokens> {
        self.current.borrow().clone()
    }

    /// Notified whenever the tokens change (the Socket Mode supervisor reconnects on a new app
    /// token).
    pub fn subscribe(&self) -> watch::Receiver<Arc<Tokens>> {
        self.current.subscribe()
    }

    /// Re-reads the tokens now, unless another forced refresh ran a few seconds ago; called
    /// when Slack answers `invalid_auth` or `token_revoked`, or GitHub `Bad credentials`.
    /// Returns the tokens after the attempt.
    pub async fn refresh_now(&self) -> Arc<Tokens> {
        let mut last_forced = self.last_forced.lock().await;
        if last_forced.is_none_or(|at| at.elapsed() >= MIN_FORCED_REFRESH) {
            *last_forced = Some(Instant::now());
            self.reload().await;
        }
        self.current()
    }

    /// Reads the tokens and publishes them if they changed; on failure keeps the current ones.
    async fn reload(&self) {
        let (ssm, path) = match &self.source {
            Source::ParameterStore { ssm, path } => (ssm, path),
            Source::Environment => {
                self.read.now();
                return;
            }
        };
        match read(ssm, path).await {
            Ok(mut tokens) => {
                self.read.now();
                self.current.send_if_modified(|current| {
                    tokens.buttons = tokens.buttons.clone().remembering(&current.buttons);
                    let changed = **current != tokens;
                    if changed {
                        tracing::info!("tokens changed in Parameter Store");
                        *current = Arc::new(tokens);
                    }
                    changed
                });
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot refresh the tokens; keeping the current ones");
            }
        }
    }

    /// Re-reads the tokens every `interval` until `cancel` fires.
    pub async fn refresh_periodically(self, interval: Duration, cancel: CancellationToken) {
        every(interval, &cancel, || self.reload()).await;
    }
}

async fn read(ssm: &aws_sdk_ssm::Client, path: &str) -> Result<Tokens, SecretsError> {
    let mut values = HashMap::new();
    let mut pages = ssm
        .get_parameters_by_path()
        .path(path)
        .recursive(true)
        .with_decryption(true)
        .max_results(10)
        .into_paginator()
        .send();
    // A page may be empty and still carry a NextToken: the paginator follows it to the end.
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| SecretsError::Aws {
            path: path.to_owned(),
            cause: DisplayErrorContext(e).to_string(),
        })?;
        for p in page.parameters.unwrap_or_default() {
            if let (Some(name), Some(value)) = (p.name, p.value) {
                values.insert(name, Secret::new(value));
            }
        }
    }
    let take = |suffix: &str, prefix: &'static str| {
        let name = format!("{path}/{suffix}");
        match values.get(&name) {
            None => Err(SecretsError::Missing(name)),
            Some(v) if v.expose().trim().is_empty() => Err(SecretsError::Empty(name)),
            Some(v) if !v.expose().starts_with(prefix) => Err(SecretsError::WrongKind {
                name,
                expected: prefix,
            }),
            Some(v) => Ok(v.clone()),
        }
    };
    let github = format!("{path}/{GITHUB_TOKEN}");
    let key = |suffix: &str| {
        let name = format!("{path}/{suffix}");
        match values.get(&name) {
            None => Ok(None),
            Some(v) if v.expose().trim().chars().count() < MIN_BUTTON_KEY => {
                Err(SecretsError::TooShort {
                    name,
                    min: MIN_BUTTON_KEY,
                })
            }
            Some(v) => Ok(Some(v.clone())),
        }
    };
    // Fail closed, like a missing bot token: without the key no click could be trusted.
    let current =
        key(BUTTON_KEY)?.ok_or_else(|| SecretsError::Missing(format!("{path}/{BUTTON_KEY}")))?;
    let previous = key(PREVIOUS_BUTTON_KEY)?.into_iter().collect();
    Ok(Tokens {
        bot: take(BOT_TOKEN, "xoxb-")?,
        app: take(APP_TOKEN, "xapp-")?,
        github: match values.get(&github).cloned() {
            Some(v) if v.expose().trim().is_empty() => return Err(SecretsError::Empty(github)),
            v => v,
        },
        buttons: ButtonKeys::new(current, previous),
    })
}

/// A `StringList` parameter read by name (the Redshift cluster list), held in memory and
/// re-read on the tokens' interval. Not a secret: read without decryption. Until a first read
/// succeeds, [`StringList::current`] is `None` and the caller uses its fallback.
#[derive(Clone)]
pub struct StringList {
    ssm: aws_sdk_ssm::Client,
    name: String,
    current: watch::Sender<Option<Arc<Vec<String>>>>,
}

impl StringList {
    /// Reads `name` once; a failure is logged and leaves the list unknown.
    pub async fn load(ssm: aws_sdk_ssm::Client, name: &str) -> Self {
        let list = Self {
            ssm,
            name: name.to_owned(),
            current: watch::Sender::new(None),
        };
        list.reload().await;
        list
    }

    /// The values as last read, if a read ever succeeded.
    pub fn current(&self) -> Option<Arc<Vec<String>>> {
        self.current.borrow().clone()
    }

    async fn reload(&self) {
        match self
            .ssm
            .get_parameter()
            .name(&self.name)
            .with_decryption(false)
            .send()
            .await
        {
            Ok(out) => {
                let values: Vec<String> = out
                    .parameter
                    .and_then(|p| p.value)
                    .unwrap_or_default()
                    .split(',')
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect();
                self.current.send_if_modified(|current| {
                    let changed = current.as_deref() != Some(&values);
                    if changed {
                        tracing::info!(parameter = %self.name, count = values.len(), "list parameter read");
                        *current = Some(Arc::new(values));
                    }
                    changed
                });
            }
            Err(error) => {
                tracing::warn!(parameter = %self.name, error = %DisplayErrorContext(error), "cannot read the list parameter; keeping what was known");
            }
        }
    }

    /// Re-reads the parameter every `interval` until `cancel` fires.
    pub async fn refresh_periodically(self, interval: Duration, cancel: CancellationToken) {
        every(interval, &cancel, || self.reload()).await;
    }
}

/// Runs `tick` every `interval` until `cancel` fires.
async fn every<F: std::future::Future<Output = ()>>(
    interval: Duration,
    cancel: &CancellationToken,
    mut tick: impl FnMut() -> F,
) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        tick().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(current: &str, previous: &[&str]) -> ButtonKeys {
        ButtonKeys::new(
            Secret::new(current),
            previous.iter().map(|k| Secret::new(*k)).collect(),
        )
    }

    fn verifying(keys: &ButtonKeys) -> Vec<&str> {
        keys.verifying().map(Secret::expose).collect()
    }

    #[test]
    fn a_key_replaced_at_a_refresh_is_still_verified_until_two_more_replace_it() {
        let after = keys("b", &[]).remembering(&keys("a", &[]));
        assert_eq!(verifying(&after), ["b", "a"]);
        let after = keys("c", &[]).remembering(&after);
        assert_eq!(verifying(&after), ["c", "b", "a"]);
        let after = keys("c", &[]).remembering(&after);
        assert_eq!(
            verifying(&after),
            ["c", "b", "a"],
            "an unchanged read keeps them"
        );
        let after = keys("d", &[]).remembering(&after);
        assert_eq!(verifying(&after), ["d", "c", "b"], "at most two remembered");
    }

    #[test]
    fn a_deleted_previous_key_parameter_stops_verifying_at_the_next_refresh() {
        let before = keys("b", &["a"]).remembering(&keys("b", &["a"]));
        assert_eq!(verifying(&before), ["b", "a"]);
        let after = keys("b", &[]).remembering(&before);
        assert_eq!(verifying(&after), ["b"]);
    }

    #[test]
    fn an_ephemeral_key_is_long_random_and_never_shown() {
        let (a, b) = (ButtonKeys::ephemeral(), ButtonKeys::ephemeral());
        assert!(a.current.expose().len() >= MIN_BUTTON_KEY);
        assert_ne!(a, b);
        assert!(!format!("{a:?}").contains(a.current.expose()));
    }
}
