//! The Slack Web API client: post, update, ephemeral replies, file uploads, user-group members,
//! finding a message by its metadata, `auth.test`; and (`mrkdwn`) the Slack-generic pieces
//! every message is built from.
//!
//! Every call takes the current bot token from the [`TokenStore`]; when Slack answers
//! `invalid_auth` or `token_revoked` the store re-reads Parameter Store and the call is tried once
//! more with the new token. Every call is cut off after `[timeouts] slack_secs` (the HTTP client
//! has no deadline of its own): a Slack that does not answer is a [`SlackError::Transport`]
//! saying so, never a caller waiting forever.

pub mod mrkdwn;
mod pace;

use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::sync::Arc;
use std::time::Duration;

use crate::ids::{ChannelId, UserGroupId, UserId};
use crate::metrics::Health;
use crate::outbound::parameter_store::{TokenStore, Tokens};

/// The hyper connector type, http-capable when an emulator URL is configured.
pub type Connector = SlackClientHyperHttpsConnector;
/// The slack-morphism client over [`Connector`].
pub type Client = SlackClient<Connector>;

/// A failed Slack call, as the callers branch on it.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    /// Slack answered `ok: false`.
    #[error("Slack answered `{code}`{}", details(.errors))]
    Api {
        code: String,
        errors: Option<Vec<String>>,
    },
    /// HTTP 429: wait before calling again.
    #[error("Slack rate limit (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// Network, HTTP status or decoding failure, or no answer in time: the call may have taken
    /// effect.
    #[error("Slack call failed: {0}")]
    Transport(String),
}

fn details(errors: &Option<Vec<String>>) -> String {
    errors
        .as_ref()
        .map(|e| format!(": {}", e.join("; ")))
        .unwrap_or_default()
}

impl SlackError {
    fn is_auth(&self) -> bool {
        matches!(self, Self::Api { code, .. } if code == "invalid_auth" || code == "token_revoked")
    }

    /// How long Slack asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

impl From<SlackClientError> for SlackError {
    fn from(e: SlackClientError) -> Self {
        match e {
            SlackClientError::ApiError(e) => Self::Api {
                code: e.code,
                errors: e.errors,
            },
            SlackClientError::RateLimitError(e) => Self::RateLimited {
                retry_after: e.retry_after,
            },
            other => Self::Transport(other.to_string()),
        }
    }
}

/// Builds the slack-morphism client: `https` against slack.com; `http` allowed too when the
/// API is an emulator's on a loopback `http://` URL (slack-morphism's own connector is
/// HTTPS-only).
///
/// # Errors
/// The system's root certificates cannot be loaded.
pub fn build_client(api_url: Option<&str>) -> std::io::Result<Arc<Client>> {
    let https = super::https_connector(api_url)?;
    let mut connector = SlackClientHyperConnector::with_connector(https);
    if let Some(url) = api_url {
        connector = connector.with_slack_api_url(url);
    }
    Ok(Arc::new(SlackClient::new(connector)))
}

/// Runs `$call` (using the session `$s`) with the current bot token, within the call timeout;
/// after an auth error that a Parameter Store refresh cures, runs it once more with the new
/// token. (A macro, not a closure taking the session: the session borrows the token, which a
/// closure's future cannot express while staying `Send`.)
macro_rules! with_bot_token {
    ($self:ident, |$s:ident| $call:expr) => {{
        let tokens = $self.tokens.current();
        let token = SlackApiToken::new(tokens.bot.expose().to_owned().into());
        let $s = $self.client.open_session(&token);
        match $self.bounded($call).await {
            Err(e) if $self.refreshed_after(&e, &tokens).await => {
                let tokens = $self.tokens.current();
                let token = SlackApiToken::new(tokens.bot.expose().to_owned().into());
                let $s = $self.client.open_session(&token);
                $self.bounded($call).await
            }
            other => other,
        }
    }};
}

/// The Web API with the bot token; cheap to clone.
#[derive(Clone)]
pub struct SlackWeb {
    client: Arc<Client>,
    tokens: TokenStore,
    /// The longest one call may take.
    timeout: Duration,
    /// Methods (and channels) Slack told us to leave alone for a while.
    pauses: pace::Pauses,
    /// Where each call's outcome is marked for `/healthz` ([`Health::slack_api`]).
    health: Arc<Health>,
}

/// A file to share with [`SlackWeb::upload_file`].
pub struct FileUpload<'a> {
    pub filename: &'a str,
    pub title: &'a str,
    /// Screen-reader description (at most 1,000 characters).
    pub alt_text: &'a str,
    /// The message text shown with the file.
    pub comment: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// A reply through an interaction's `response_url` (5 uses within 30 minutes).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Response {
    /// `in_channel` or `ephemeral` (slack-morphism's webhook request has no such field).
    pub response_type: &'static str,
    /// Replace the message whose button was clicked (ephemeral ones too).
    pub replace_original: bool,
    #[serde(flatten)]
    pub content: SlackMessageContent,
}

impl Response {
    /// A new message only the user sees.
    pub fn ephemeral(content: SlackMessageContent) -> Self {
        Self {
            response_type: "ephemeral",
            replace_original: false,
            content,
        }
    }

    /// The clicked message, replaced.
    pub fn replace(content: SlackMessageContent) -> Self {
        Self {
            response_type: "ephemeral",
            replace_original: true,
            content,
        }
    }
}

/// Where [`SlackWeb::find_by_metadata`] looks: a channel's own timeline (top-level messages
/// and thread broadcasts), or one thread.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    Channel(&'a ChannelId),
    Thread { channel: &'a ChannelId, ts: &'a str },
}

/// The message metadata a message is looked up by (<https://api.slack.com/metadata/using>):
/// its `event_type` and one `event_payload` entry.
#[derive(Debug, Clone, Copy)]
pub struct MetadataMatch<'a> {
    pub event_type: &'a str,
    pub key: &'a str,
    pub value: &'a str,
}

/// Messages asked for per page (Slack recommends at most 200:
/// <https://api.slack.com/methods/conversations.history#arg_limit>).
const PAGE_LIMIT: &str = "200";
/// Pages read before a lookup gives up: 1,000 messages since `oldest`.
const MAX_PAGES: usize = 5;

/// One page of `conversations.history` / `conversations.replies`, reduced to what a lookup
/// reads (slack-morphism's message type would also parse every block of every message in the
/// channel, and its replies request has no `include_all_metadata`).
#[derive(Debug, serde::Deserialize)]
struct MessagesPage {
    messages: Vec<ListedMessage>,
    #[serde(default)]
    has_more: bool,
    response_metadata: Option<PageCursor>,
}

#[derive(Debug, serde::Deserialize)]
struct ListedMessage {
    ts: String,
    bot_id: Option<String>,
    metadata: Option<SlackMessageMetadata>,
}

#[derive(Debug, serde::Deserialize)]
struct PageCursor {
    next_cursor: Option<String>,
}

impl ListedMessage {
    fn matches(&self, wanted: &MetadataMatch<'_>) -> bool {
        self.bot_id.is_some()
            && self.metadata.as_ref().is_some_and(|m| {
                m.event_type == wanted.event_type
                    && m.event_payload
                        .as_ref()
                        .and_then(|p| p.get(wanted.key))
                        .is_some_and(|v| v == wanted.value)
            })
    }
}

/// Tries of one call that Slack answers `429` (each after the pause it asked for).
const RATE_LIMITED_TRIES: u32 = 3;

/// What `auth.test` says about the bot.
pub struct Identity {
    pub team: String,
    pub user_id: String,
}

impl SlackWeb {
    /// Wraps `client`, authenticating with the bot token of `tokens`; a call not answered
    /// within `timeout` fails.
    pub fn new(client: Arc<Client>, tokens: TokenStore, timeout: Duration) -> Self {
        Self {
            client,
            tokens,
            timeout,
            pauses: pace::Pauses::default(),
            health: Arc::default(),
        }
    }

    /// Marks each call's outcome in `health` (the app's `/healthz` marks): an answer, or none
    /// (no answer in time, a network or HTTP failure such as a 5xx). A `429` or an `ok: false`
    /// is an answer.
    #[must_use]
    pub fn observed_by(mut self, health: Arc<Health>) -> Self {
        self.health = health;
        self
    }

    /// Runs `call` once `key` is not paused; after a `429` pauses `key` as long as Slack said
    /// (1 s when it did not say) and tries again, [`RATE_LIMITED_TRIES`] times in all.
    async fn paced<T, F>(&self, key: String, call: impl Fn() -> F) -> Result<T, SlackError>
    where
        F: std::future::Future<Output = Result<T, SlackError>>,
    {
        let mut tries = 1;
        loop {
            self.pauses.wait(&key).await;
            match call().await {
                Err(SlackError::RateLimited { retry_after }) if tries < RATE_LIMITED_TRIES => {
                    let wait = retry_after.unwrap_or(Duration::from_secs(1));
                    tracing::warn!(
                        call = %key,
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "Slack rate limit: pausing this method"
                    );
                    self.pauses.pause(&key, wait);
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    /// `call`'s answer, or a [`SlackError::Transport`] when it has none within the timeout
    /// (dropping `call` closes its connection).
    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, SlackClientError>>,
    ) -> Result<T, SlackError> {
        let answer = match tokio::time::timeout(self.timeout, call).await {
            Ok(answer) => answer.map_err(SlackError::from),
            Err(_) => Err(SlackError::Transport(format!(
                "timed out: no answer within {} s",
                self.timeout.as_secs_f32()
            ))),
        };
        match &answer {
            Err(SlackError::Transport(_)) => self.health.slack_api.failed(),
            _ => self.health.slack_api.answered(),
        }
        answer
    }

    /// Whether a call that failed with `error` under `used` should be tried again: an auth
    /// error, and Parameter Store now has other tokens.
    async fn refreshed_after(&self, error: &SlackError, used: &Arc<Tokens>) -> bool {
        error.is_auth() && !Arc::ptr_eq(&self.tokens.refresh_now().await, used)
    }

    /// `chat.postMessage`; returns the new message's `ts`.
    ///
    /// # Errors
    /// Slack refused the post or could not be reached.
    pub async fn post(
        &self,
        channel: &ChannelId,
        content: SlackMessageContent,
        thread_ts: Option<&str>,
    ) -> Result<String, SlackError> {
        let mut req = SlackApiChatPostMessageRequest::new(channel.as_str().into(), content);
        req.thread_ts = thread_ts.map(|ts| SlackTs::new(ts.to_owned()));
        let req = &req;
        let key = pace::key("chat.postMessage", Some(channel.as_str()));
        let resp = self
            .paced(key, || async move {
                with_bot_token!(self, |s| s.chat_post_message(req))
            })
            .await?;
        Ok(resp.ts.0)
    }

    /// `chat.postMessage` carrying message `metadata` (<https://api.slack.com/metadata/using>),
    /// so the message can be found again with [`SlackWeb::find_by_metadata`]; returns its `ts`.
    ///
    /// # Errors
    /// Slack refused the post or could not be reached.
    pub async fn post_with_metadata(
        &self,
        channel: &ChannelId,
        content: SlackMessageContent,
        thread_ts: Option<&str>,
        metadata: SlackMessageMetadata,
    ) -> Result<String, SlackError> {
        self.post(channel, content.with_metadata(metadata), thread_ts)
            .await
    }

    /// The `ts` of a bot message at `place`, posted at `oldest` (epoch seconds) or later, whose
    /// metadata matches `wanted`: `conversations.history`, or `conversations.replies` for a
    /// thread, with `include_all_metadata` (metadata is returned only when asked for:
    /// <https://api.slack.com/methods/conversations.history#arg_include_all_metadata>),
    /// following the cursor for at most [`MAX_PAGES`] pages; past them it answers `None`.
    ///
    /// # Errors
    /// Slack refused a page (`channel_not_found`, `missing_scope`, `thread_not_found`…) or
    /// could not be reached: nothing is known about the message.
    pub async fn find_by_metadata(
        &self,
        place: Place<'_>,
        oldest: i64,
        wanted: &MetadataMatch<'_>,
    ) -> Result<Option<String>, SlackError> {
        let (method, channel, thread) = match place {
            Place::Channel(c) => ("conversations.history", c, None),
            Place::Thread { channel, ts } => ("conversations.replies", channel, Some(ts)),
        };
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params: Vec<(&str, Option<String>)> = vec![
                ("channel", Some(channel.as_str().to_owned())),
                ("ts", thread.map(str::to_owned)),
                ("oldest", Some(oldest.max(0).to_string())),
                ("inclusive", Some("true".to_owned())),
                ("include_all_metadata", Some("true".to_owned())),
                ("limit", Some(PAGE_LIMIT.to_owned())),
                ("cursor", cursor.take()),
            ];
            let page: MessagesPage =
                with_bot_token!(self, |s| s.http_session_api.http_get(method, &params, None))?;
            if let Some(found) = page.messages.iter().find(|m| m.matches(wanted)) {
                return Ok(Some(found.ts.clone()));
            }
            cursor = page
                .response_metadata
                .and_then(|m| m.next_cursor)
                .filter(|c| page.has_more && !c.is_empty());
            if cursor.is_none() {
                return Ok(None);
            }
        }
        tracing::warn!(
            method,
            pages = MAX_PAGES,
            "stopped looking for the message after the last page read"
        );
        Ok(None)
    }

    /// `chat.update` of the bot's own message.
    ///
    /// # Errors
    /// Slack refused the update or could not be reached.
    pub async fn update(
        &self,
        channel: &ChannelId,
        ts: &str,
        content: SlackMessageContent,
    ) -> Result<(), SlackError> {
        let req = SlackApiChatUpdateRequest::new(
            channel.as_str().into(),
            content,
            SlackTs::new(ts.to_owned()),
        );
        let req = &req;
        self.paced(pace::key("chat.update", None), || async move {
            with_bot_token!(self, |s| s.chat_update(req))
        })
        .await?;
        Ok(())
    }

    /// `chat.postEphemeral`: a message only `user` sees.
    ///
    /// # Errors
    /// Slack refused the message or could not be reached.
    pub async fn ephemeral(
        &self,
        channel: &ChannelId,
        user: &UserId,
        text: &str,
    ) -> Result<(), SlackError> {
        let req = SlackApiChatPostEphemeralRequest::new(
            channel.as_str().into(),
            user.as_str().into(),
            SlackMessageContent::new().with_text(text.to_owned()),
        );
        let req = &req;
        self.paced(pace::key("chat.postEphemeral", None), || async move {
            with_bot_token!(self, |s| s.chat_post_ephemeral(req))
        })
        .await?;
        Ok(())
    }

    /// `views.open`: shows `view` to the person whose interaction gave `trigger_id` (valid for
    /// 3 seconds, once).
    ///
    /// # Errors
    /// Slack refused the view (an expired trigger, an invalid view) or could not be reached.
    pub async fn open_view(&self, trigger_id: &str, view: SlackView) -> Result<(), SlackError> {
        let req = SlackApiViewsOpenRequest::new(trigger_id.into(), view);
        with_bot_token!(self, |s| s.views_open(&req))?;
        Ok(())
    }

    /// Posts `response` to an interaction's `response_url` (no token: the URL is the secret).
    ///
    /// # Errors
    /// The URL is not one, or Slack refused the post (expired, used up) or was unreachable.
    pub async fn respond(&self, response_url: &str, response: &Response) -> Result<(), SlackError> {
        let url = url::Url::parse(response_url)
            .map_err(|e| SlackError::Transport(format!("response_url: {e}")))?;
        let span = tracing::debug_span!("Slack response_url");
        let context = slack_morphism::SlackClientApiCallContext {
            rate_control_params: None,
            token: None,
            tracing_span: &span,
            is_sensitive_url: true,
        };
        self.bounded(
            self.client
                .http_api
                .connector
                .http_post_uri::<_, SlackApiPostWebhookMessageResponse>(url, response, context),
        )
        .await?;
        Ok(())
    }

    /// `usergroups.users.list`: the members of a user group.
    ///
    /// # Errors
    /// Slack refused the call or could not be reached.
    pub async fn usergroup_members(&self, group: &UserGroupId) -> Result<Vec<UserId>, SlackError> {
        let req = SlackApiUserGroupsUsersListRequest::new(group.as_str().into());
        let resp = with_bot_token!(self, |s| s.usergroups_users_list(&req))?;
        Ok(resp
            .users
            .into_iter()
            .filter_map(|u| UserId::parse(&u.0).ok())
            .collect())
    }

    /// Shares a file in `channel`: `files.getUploadURLExternal`, the bytes POSTed to the URL it
    /// gives, then `files.completeUploadExternal`. Returns the file id.
    ///
    /// # Errors
    /// Any of the three steps refused or unreachable.
    pub async fn upload_file(
        &self,
        channel: &ChannelId,
        upload: &FileUpload<'_>,
    ) -> Result<String, SlackError> {
        let url_req = SlackApiFilesGetUploadUrlExternalRequest::new(
            upload.filename.to_owned(),
            upload.bytes.len(),
        )
        .with_alt_txt(upload.alt_text.to_owned());
        let target = with_bot_token!(self, |s| s.get_upload_url_external(&url_req))?;
        let send_req = SlackApiFilesUploadViaUrlRequest::new(
            target.upload_url,
            upload.bytes.to_vec(),
            upload.content_type.to_owned(),
        );
        with_bot_token!(self, |s| s.files_upload_via_url(&send_req))?;
        let complete_req =
            SlackApiFilesCompleteUploadExternalRequest::new(vec![SlackApiFilesComplete::new(
                target.file_id.clone(),
            )
            .with_title(upload.title.to_owned())])
            .with_channel_id(channel.as_str().into())
            .with_initial_comment(upload.comment.to_owned());
        with_bot_token!(self, |s| s.files_complete_upload_external(&complete_req))?;
        Ok(target.file_id.0)
    }

    /// `auth.test`: checks the bot token.
    ///
    /// # Errors
    /// The token is not accepted or Slack cannot be reached.
    pub async fn auth_test(&self) -> Result<Identity, SlackError> {
        let resp = with_bot_token!(self, |s| s.auth_test())?;
        Ok(Identity {
            team: resp.team,
            user_id: resp.user_id.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::testing::{silent_server, tokens};

    #[tokio::test]
    async fn a_call_slack_does_not_answer_fails_saying_it_timed_out() {
        let api = format!("{}/api", silent_server().await);
        let client = build_client(Some(&api)).expect("client");
        let web = SlackWeb::new(client, tokens(), Duration::from_millis(200));

        let health = Arc::new(Health::default());
        let web = web.observed_by(health.clone());

        let err = web.auth_test().await.err().expect("no answer");

        assert!(
            matches!(&err, SlackError::Transport(m) if m.contains("timed out")),
            "{err}"
        );
        let window = Duration::from_secs(60);
        assert!(!health.slack_api.answering(window), "marked for /healthz");
    }

    #[tokio::test]
    async fn a_response_url_post_slack_does_not_answer_fails_saying_it_timed_out() {
        let base = silent_server().await;
        let client = build_client(Some(&base)).expect("client");
        let web = SlackWeb::new(client, tokens(), Duration::from_millis(200));
        let reply = Response::ephemeral(SlackMessageContent::new().with_text("hi".into()));

        let err = web
            .respond(&format!("{base}/actions/T1/1/x"), &reply)
            .await
            .expect_err("no answer");

        assert!(err.to_string().contains("timed out"), "{err}");
    }
}
