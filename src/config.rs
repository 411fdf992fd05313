//! Typed settings: one TOML file, overridden by `CHATOPS__SECTION__KEY` environment variables.
//!
//! Everything that is not secret lives here; secrets come from Parameter Store
//! (`outbound::parameter_store`). Unknown keys and bad values are rejected before anything
//! connects, with an error naming the key (the binary exits with code 2).

use serde::Deserialize;
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use crate::ids::{ChannelId, PipelineName, UserGroupId, UserId};

mod approval_policy;
pub use approval_policy::{ActionPolicySettings, EventsSettings, MAX_QUORUM};
mod deploy;
pub use deploy::DeploySettings;
mod redshift_alerts;
pub use redshift_alerts::{
    is_cluster_name, AccessGrant, DigestSettings, ExportLayout, RedshiftAlertsSettings,
    SourceLayout,
};

/// Prefix of the environment variables that override file values.
pub const ENV_PREFIX: &str = "CHATOPS__";

/// The whole configuration of the daemon.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub aws: AwsSettings,
    #[serde(default)]
    pub slack: SlackSettings,
    pub parameter_store: ParameterStoreSettings,
    pub approvals: ApprovalSettings,
    #[serde(default)]
    pub shutdown: ShutdownSettings,
    /// One entry per pipeline the bot serves.
    #[serde(default, rename = "pipelines")]
    pub pipelines: Vec<PipelineSettings>,
    /// CodePipeline state-change events; unset: open prompts are reconciled by polling.
    #[serde(default)]
    pub events: Option<EventsSettings>,
    /// `/deploy`: how started executions are followed.
    #[serde(default)]
    pub deploy: DeploySettings,
    /// `/redshift-alerts`; without this section the command answers that it is not configured.
    #[serde(default)]
    pub redshift_alerts: Option<RedshiftAlertsSettings>,
    /// The `/healthz` and `/metrics` listener; off unless `listen` is set.
    #[serde(default)]
    pub health: HealthSettings,
    /// The shared state store; unset: records live in this process's memory only.
    #[serde(default)]
    pub state: Option<StateSettings>,
    /// How long each outbound call may take.
    #[serde(default)]
    pub timeouts: TimeoutSettings,
}

/// How long an outbound call may take before it counts as failed, so that no hung Slack,
/// GitHub or AWS endpoint holds the work behind it: a timed-out call is an error like any
/// other (an approval's message stays in the queue and comes back).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeoutSettings {
    /// One Slack Web API call (each try), or one `response_url` post.
    pub slack_secs: u64,
    /// One GitHub API request, its answer read.
    pub github_secs: u64,
    /// Opening a connection to AWS.
    pub aws_connect_secs: u64,
    /// One AWS request attempt (DynamoDB's are cut at 2 s; SQS long polls get their wait on
    /// top).
    pub aws_attempt_secs: u64,
    /// One AWS operation, its retried attempts included (SQS long polls get their wait on top).
    pub aws_operation_secs: u64,
}

impl Default for TimeoutSettings {
    fn default() -> Self {
        Self {
            slack_secs: 10,
            github_secs: 10,
            aws_connect_secs: 3,
            aws_attempt_secs: 10,
            aws_operation_secs: 30,
        }
    }
}

impl TimeoutSettings {
    /// [`TimeoutSettings::slack_secs`].
    pub fn slack(&self) -> Duration {
        Duration::from_secs(self.slack_secs)
    }

    /// [`TimeoutSettings::github_secs`].
    pub fn github(&self) -> Duration {
        Duration::from_secs(self.github_secs)
    }

    /// [`TimeoutSettings::aws_connect_secs`].
    pub fn aws_connect(&self) -> Duration {
        Duration::from_secs(self.aws_connect_secs)
    }

    /// [`TimeoutSettings::aws_attempt_secs`].
    pub fn aws_attempt(&self) -> Duration {
        Duration::from_secs(self.aws_attempt_secs)
    }

    /// [`TimeoutSettings::aws_operation_secs`].
    pub fn aws_operation(&self) -> Duration {
        Duration::from_secs(self.aws_operation_secs)
    }

    fn validate(&self, state: Option<&StateSettings>) -> Result<(), ConfigError> {
        for (key, secs, max) in [
            ("timeouts.slack_secs", self.slack_secs, 120),
            ("timeouts.github_secs", self.github_secs, 120),
            ("timeouts.aws_connect_secs", self.aws_connect_secs, 60),
            ("timeouts.aws_attempt_secs", self.aws_attempt_secs, 300),
            ("timeouts.aws_operation_secs", self.aws_operation_secs, 900),
        ] {
            if !(1..=max).contains(&secs) {
                return Err(ConfigError::key(
                    key,
                    format!("must be between 1 and {max}"),
                ));
            }
        }
        if self.aws_operation_secs < self.aws_attempt_secs {
            return Err(ConfigError::key(
                "timeouts.aws_operation_secs",
                "must be at least timeouts.aws_attempt_secs",
            ));
        }
        // A claim is held across one PutApprovalResult (all its attempts) and a Slack post: it
        // must not lapse while both may still be running, or another process takes it over.
        if let Some(state) = state {
            if state.claim_secs <= self.aws_operation_secs + self.slack_secs {
                return Err(ConfigError::key(
                    "state.claim_secs",
                    "must be longer than timeouts.aws_operation_secs + timeouts.slack_secs",
                ));
            }
        }
        Ok(())
    }
}

/// The shared state store (DynamoDB): what several processes of the bot must agree on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSettings {
    /// The DynamoDB table (keys `pk`, `sk`; TTL attribute `expires_at`).
    pub table: String,
    /// How long a process may hold an approval's prompt or decision before another takes over
    /// (it died, or it hangs).
    #[serde(default = "default_claim_secs")]
    pub claim_secs: u64,
    /// How long the audit trail (`audit#<pipeline>` records, `/deploy history`) is kept, in
    /// days (the table's TTL deletes it after).
    #[serde(default = "default_audit_days")]
    pub audit_days: u64,
    /// How long a lease on shared work (following an execution, the reconcile round) lasts
    /// after its holder's last renewal: how soon another process takes over from one that died.
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
}

fn default_claim_secs() -> u64 {
    60
}

fn default_audit_days() -> u64 {
    400
}

fn default_lease_secs() -> u64 {
    30
}

/// The health and metrics listener.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthSettings {
    /// Address to serve on, e.g. `127.0.0.1:9464` (use `0.0.0.0:9464` only behind a network
    /// policy: the metrics are not secret, but there is no authentication).
    pub listen: Option<std::net::SocketAddr>,
}

/// Region and optional endpoint overrides (unset in production).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSettings {
    pub region: String,
    /// Endpoint for every AWS client (a local emulator such as ministack). `http://` only to a
    /// loopback host, which also gets static test credentials.
    pub endpoint_url: Option<String>,
    /// Endpoint for CodePipeline only; wins over `endpoint_url`.
    pub codepipeline_endpoint_url: Option<String>,
}

/// Slack connection settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackSettings {
    /// Web API base URL without trailing slash; unset means `https://slack.com/api`. `http://`
    /// only to a loopback host (an emulator).
    pub api_url: Option<String>,
    /// Socket Mode connections held at once (Slack allows 10; two survive a refresh).
    pub socket_connections: u32,
    /// The first wait after a failed Socket Mode connection attempt; each failure in a row
    /// doubles it (with jitter) up to `reconnect_max_secs`.
    pub reconnect_secs: u64,
    pub reconnect_max_secs: u64,
    /// How often the bot pings each socket; a socket heard from (any frame, a pong included)
    /// for no longer than `silence_secs` is replaced: a half-open TCP connection is dead.
    pub ping_secs: u64,
    pub silence_secs: u64,
    /// How long `apps.connections.open`, the WebSocket handshake and Slack's `hello` may take.
    pub hello_timeout_secs: u64,
    /// Envelopes whose work may run at once; beyond it an envelope is acked and refused.
    pub max_in_flight: usize,
    /// How long a user group's member list is trusted before it is fetched again.
    pub usergroup_cache_secs: u64,
}

impl SlackSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        let ranges = [
            ("slack.reconnect_secs", self.reconnect_secs, 1, 60),
            (
                "slack.reconnect_max_secs",
                self.reconnect_max_secs,
                self.reconnect_secs,
                3600,
            ),
            ("slack.ping_secs", self.ping_secs, 1, 60),
            // Silence must outlast at least two pings, or a healthy socket is dropped.
            (
                "slack.silence_secs",
                self.silence_secs,
                2 * self.ping_secs,
                600,
            ),
            ("slack.hello_timeout_secs", self.hello_timeout_secs, 1, 60),
        ];
        for (key, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::key(
                    key,
                    format!("must be between {min} and {max}"),
                ));
            }
        }
        if !(1..=100_000).contains(&self.max_in_flight) {
            return Err(ConfigError::key(
                "slack.max_in_flight",
                "must be between 1 and 100000",
            ));
        }
        Ok(())
    }

    /// The first wait after a failed connection attempt, and the longest.
    pub fn reconnect(&self) -> (Duration, Duration) {
        (
            Duration::from_secs(self.reconnect_secs),
            Duration::from_secs(self.reconnect_max_secs),
        )
    }

    /// How long a socket may stay silent before it is replaced.
    pub fn silence(&self) -> Duration {
        Duration::from_secs(self.silence_secs)
    }
}

impl Default for SlackSettings {
    fn default() -> Self {
        Self {
            api_url: None,
            socket_connections: 2,
            reconnect_secs: 1,
            reconnect_max_secs: 60,
            ping_secs: 10,
            silence_secs: 30,
            hello_timeout_secs: 10,
            max_in_flight: 512,
            usergroup_cache_secs: 300,
        }
    }
}

/// Where the Slack tokens live in Parameter Store and how often they are re-read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterStoreSettings {
    /// Hierarchical path, e.g. `/prod/chatops`; the tokens are `<path>/slack/bot_token` and
    /// `<path>/slack/app_token`.
    pub path: String,
    #[serde(default = "default_refresh_secs")]
    pub refresh_interval_secs: u64,
}

fn default_refresh_secs() -> u64 {
    300
}

/// The approval intake queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSettings {
    /// SQS queue subscribed to the approval SNS topic(s).
    pub queue_url: String,
    /// Long-poll wait, 0–20 seconds.
    #[serde(default = "default_wait_secs")]
    pub wait_time_secs: i32,
    /// First delay before a message whose prompt could not be posted is received again.
    #[serde(default = "default_retry_base_secs")]
    pub retry_base_secs: u64,
    /// Longest such delay; also used for messages that can never be handled.
    #[serde(default = "default_retry_max_secs")]
    pub retry_max_secs: u64,
    /// Messages worked on at once (each a prompt: context lookups and a `chat.postMessage`).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// While a message is worked on, its visibility is extended this often (to twice this).
    #[serde(default = "default_heartbeat_secs")]
    pub heartbeat_secs: u64,
    /// AWS principal (an execution's `trigger.triggerDetail`, e.g. an IAM ARN) → the Slack user
    /// it is: that user started the execution and may not approve it.
    #[serde(default)]
    pub principals: std::collections::HashMap<String, UserId>,
    /// Without an events queue: how often open prompts are checked against CodePipeline (the
    /// bound on how long a prompt decided elsewhere stays stale).
    #[serde(default = "approval_policy::default_reconcile_secs")]
    pub reconcile_secs: u64,
    /// At most this many open prompts are checked per round.
    #[serde(default = "approval_policy::default_reconcile_batch")]
    pub reconcile_batch: usize,
    /// Matching revision authors to Slack users, so they cannot approve their own change.
    pub revision_authors: Option<approval_policy::RevisionAuthorSettings>,
}

fn default_wait_secs() -> i32 {
    20
}
fn default_retry_base_secs() -> u64 {
    5
}
fn default_retry_max_secs() -> u64 {
    300
}
fn default_concurrency() -> usize {
    8
}
fn default_heartbeat_secs() -> u64 {
    30
}

/// Graceful shutdown.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownSettings {
    /// Deadline for in-flight work after SIGINT/SIGTERM.
    pub grace_secs: u64,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        Self { grace_secs: 10 }
    }
}

/// A pipeline the bot serves: where its prompts go and who may decide them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSettings {
    pub name: PipelineName,
    pub channel: ChannelId,
    #[serde(default)]
    pub approver_users: Vec<UserId>,
    #[serde(default)]
    pub approver_groups: Vec<UserGroupId>,
    /// Channels where its prompts may be acted on; empty: where the bot posted them.
    #[serde(default)]
    pub act_in_channels: Vec<ChannelId>,
    /// Distinct approvers needed (1–10).
    #[serde(default = "approval_policy::default_quorum")]
    pub quorum: u8,
    /// Whether the one-click "Approve" (with a confirm dialog) is offered besides "Approve…".
    #[serde(default = "approval_policy::default_true")]
    pub one_click_approve: bool,
    /// Per approval action overrides.
    #[serde(default)]
    pub actions: Vec<ActionPolicySettings>,
    /// Who may start and stop it with `/deploy` (apart from approvers); none: nobody.
    #[serde(default)]
    pub deployer_users: Vec<UserId>,
    #[serde(default)]
    pub deployer_groups: Vec<UserGroupId>,
    /// Who may read its state with `/deploy status|list|history` besides its approvers and
    /// deployers.
    #[serde(default)]
    pub viewer_users: Vec<UserId>,
    #[serde(default)]
    pub viewer_groups: Vec<UserGroupId>,
    /// Channels besides `channel` where `/deploy` may name it.
    #[serde(default)]
    pub command_channels: Vec<ChannelId>,
    /// Whether `/deploy` may name it in a direct message with the bot.
    #[serde(default)]
    pub command_in_dm: bool,
}

/// A configuration problem, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML: {message}")]
    Syntax { path: String, message: String },
    #[error("configuration key `{key}`: {message}")]
    Key { key: String, message: String },
}

impl ConfigError {
    fn key(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Key {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl Settings {
    /// Reads `path`, applies `CHATOPS__…` overrides from `env`, and validates the result.
    ///
    /// # Errors
    /// Any unreadable file, unknown key or bad value, named in the error.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string(), env)
    }

    /// As [`Settings::load`], from text (`origin` names it in errors).
    ///
    /// # Errors
    /// As [`Settings::load`].
    pub fn parse(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    path: origin.to_owned(),
                    message: e.message().to_owned(),
                })?;
        for (name, raw) in env {
            if let Some(key) = name.strip_prefix(ENV_PREFIX) {
                apply_override(&mut table, key, &raw)?;
            }
        }
        let settings: Settings = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| ConfigError::key(e.path().to_string(), e.inner().message()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// The settings of `pipeline`, if the bot serves it.
    pub fn pipeline(&self, pipeline: &str) -> Option<&PipelineSettings> {
        self.pipelines.iter().find(|p| p.name.as_str() == pipeline)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (key, url) in [
            ("aws.endpoint_url", &self.aws.endpoint_url),
            (
                "aws.codepipeline_endpoint_url",
                &self.aws.codepipeline_endpoint_url,
            ),
            ("slack.api_url", &self.slack.api_url),
        ] {
            if let Some(url) = url {
                check_url(key, url)?;
                if url.ends_with('/') {
                    return Err(ConfigError::key(key, "must not end with `/`"));
                }
            }
        }
        check_url("approvals.queue_url", &self.approvals.queue_url)?;
        if let Some(state) = &self.state {
            // DynamoDB's table-name rule: 3–255 of `[A-Za-z0-9_.-]`.
            let ok = (3..=255).contains(&state.table.len())
                && state
                    .table
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !ok {
                return Err(ConfigError::key(
                    "state.table",
                    "must be a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)",
                ));
            }
            // A claim must outlast one PutApprovalResult with the SDK's retries (three attempts
            // of at most 10 s) and a Slack post.
            if !(45..=3600).contains(&state.claim_secs) {
                return Err(ConfigError::key(
                    "state.claim_secs",
                    "must be between 45 and 3600",
                ));
            }
            if !(1..=3650).contains(&state.audit_days) {
                return Err(ConfigError::key(
                    "state.audit_days",
                    "must be between 1 and 3650",
                ));
            }
            // Renewed three times per hold: a shorter lease would be a store write a second.
            if !(3..=3600).contains(&state.lease_secs) {
                return Err(ConfigError::key(
                    "state.lease_secs",
                    "must be between 3 and 3600",
                ));
            }
        }
        if self.aws.region.is_empty() {
            return Err(ConfigError::key("aws.region", "must not be empty"));
        }
        if !(0..=20).contains(&self.approvals.wait_time_secs) {
            return Err(ConfigError::key(
                "approvals.wait_time_secs",
                "must be between 0 and 20 (SQS long-poll limit)",
            ));
        }
        if self.approvals.retry_base_secs == 0
            || self.approvals.retry_max_secs < self.approvals.retry_base_secs
            || self.approvals.retry_max_secs > 43_200
        {
            return Err(ConfigError::key(
                "approvals.retry_max_secs",
                "need 0 < retry_base_secs <= retry_max_secs <= 43200 (SQS visibility limit)",
            ));
        }
        let path = &self.parameter_store.path;
        if !path.starts_with('/') || path.len() > 2048 || path.ends_with('/') && path.len() > 1 {
            return Err(ConfigError::key(
                "parameter_store.path",
                "must start with `/`, not end with `/`, and be at most 2048 characters",
            ));
        }
        if self.parameter_store.refresh_interval_secs < 10 {
            return Err(ConfigError::key(
                "parameter_store.refresh_interval_secs",
                "must be at least 10",
            ));
        }
        if !(1..=10).contains(&self.slack.socket_connections) {
            return Err(ConfigError::key(
                "slack.socket_connections",
                "must be between 1 and 10 (Slack's limit per app)",
            ));
        }
        self.slack.validate()?;
        let mut seen = HashSet::new();
        for (i, p) in self.pipelines.iter().enumerate() {
            if !seen.insert(p.name.as_str()) {
                return Err(ConfigError::key(
                    format!("pipelines[{i}].name"),
                    format!("pipeline `{}` is configured twice", p.name),
                ));
            }
            if p.approver_users.is_empty() && p.approver_groups.is_empty() {
                return Err(ConfigError::key(
                    format!("pipelines[{i}].approver_users"),
                    "a pipeline needs at least one approver user or group",
                ));
            }
            p.validate_policy(i)?;
        }
        if let Some(events) = &self.events {
            events.validate(self.approvals.wait_time_secs)?;
        }
        if !(1..=100).contains(&self.approvals.concurrency) {
            return Err(ConfigError::key(
                "approvals.concurrency",
                "must be between 1 and 100",
            ));
        }
        if !(1..=3600).contains(&self.approvals.heartbeat_secs) {
            return Err(ConfigError::key(
                "approvals.heartbeat_secs",
                "must be between 1 and 3600",
            ));
        }
        if self.approvals.reconcile_secs == 0 || self.approvals.reconcile_batch == 0 {
            return Err(ConfigError::key(
                "approvals.reconcile_secs",
                "reconcile_secs and reconcile_batch must be at least 1",
            ));
        }
        if let Some(authors) = &self.approvals.revision_authors {
            authors.validate()?;
        }
        if let Some(redshift) = &self.redshift_alerts {
            redshift.validate()?;
        }
        self.deploy.validate()?;
        self.timeouts.validate(self.state.as_ref())?;
        Ok(())
    }

    /// How long a lease on shared work lasts after its last renewal (`[state] lease_secs`; the
    /// default without `[state]`, where the one process always holds it).
    pub fn lease(&self) -> Duration {
        Duration::from_secs(
            self.state
                .as_ref()
                .map_or_else(default_lease_secs, |s| s.lease_secs),
        )
    }

    /// How long to wait for in-flight work at shutdown.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown.grace_secs)
    }

    /// How long the audit trail is kept: `[state] audit_days`, also in memory without `[state]`.
    pub fn audit_keep(&self) -> Duration {
        let days = self
            .state
            .as_ref()
            .map_or_else(default_audit_days, |s| s.audit_days);
        Duration::from_secs(days.saturating_mul(24 * 3600))
    }
}

/// Checks a URL setting: `https://` to any host, `http://` only to a loopback host (a local
/// emulator: nothing else may receive a token or a request in clear text), no user name or
/// password in it.
fn check_url(key: &str, raw: &str) -> Result<(), ConfigError> {
    let url = url::Url::parse(raw).map_err(|e| ConfigError::key(key, format!("not a URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::key(
            key,
            "must not carry a user name or password",
        ));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(ConfigError::key(
            key,
            "http:// is allowed only to a loopback host (127.0.0.0/8, ::1, localhost); \
             any other host needs https://",
        )),
        _ => Err(ConfigError::key(
            key,
            "must be an https:// URL (or http:// to a loopback host)",
        )),
    }
}

/// Whether `url`'s host is this machine: an IPv4 address in 127.0.0.0/8, `::1`, or
/// `localhost`. The host as the URL parser reads it, so `http://127.0.0.1.example.com` and
/// `http://127.0.0.1@example.com` are not.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Whether plain `http://` may be used for `url`: a loopback `http://` URL (what
/// [`Settings`] accepts besides `https://`).
pub fn is_loopback_http(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| u.scheme() == "http" && is_loopback(&u))
}

/// Sets `SECTION__KEY` (case-insensitive) in `table`. The value is read as a TOML literal when
/// it is one (`20`, `true`, `["U1"]`), else as a string.
fn apply_override(table: &mut toml::Table, key: &str, raw: &str) -> Result<(), ConfigError> {
    let path: Vec<String> = key.split("__").map(str::to_lowercase).collect();
    let shown = format!("{ENV_PREFIX}{key}");
    let Some((last, parents)) = path.split_last() else {
        return Err(ConfigError::key(shown, "empty key"));
    };
    let mut cursor = table;
    for part in parents {
        let entry = cursor
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cursor = entry
            .as_table_mut()
            .ok_or_else(|| ConfigError::key(&shown, format!("`{part}` is not a section")))?;
    }
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    cursor.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const MINIMAL: &str = r#"
        [aws]
        region = "eu-west-1"
        [parameter_store]
        path = "/prod/chatops"
        [approvals]
        queue_url = "https://sqs.eu-west-1.amazonaws.com/123456789012/approvals"
        [[pipelines]]
        name = "web-app"
        channel = "C0123456789"
        approver_users = ["U0123ABCD"]
        approver_groups = ["S0123ABCD"]
    "#;

    pub(super) fn parse(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::parse(
            text,
            "test.toml",
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn a_minimal_file_gets_production_defaults() {
        let s = parse(MINIMAL, &[]).expect("valid");
        assert_eq!(s.approvals.wait_time_secs, 20);
        assert_eq!(s.slack.socket_connections, 2);
        assert!(s.slack.api_url.is_none());
        assert_eq!(
            s.pipeline("web-app").map(|p| p.channel.as_str()),
            Some("C0123456789")
        );
    }

    #[test]
    fn revision_authors_match_e_mails_without_case_and_bad_keys_are_named() {
        let section = |users: &str, url: &str| {
            format!("{MINIMAL}\n[approvals.revision_authors]\ngithub_api_url = \"{url}\"\nusers = {users}\n")
        };
        let s = parse(
            &section(
                r#"{ "Carol@Example.com" = "U0CAROL" }"#,
                "https://ghe.example.com/api/v3",
            ),
            &[],
        )
        .expect("valid");
        let authors = s.approvals.revision_authors.expect("configured");
        assert_eq!(
            authors.user_of("carol@example.COM").map(|u| u.as_str()),
            Some("U0CAROL")
        );
        assert_eq!(authors.user_of("mallory@example.com"), None);
        let err = parse(
            &section(r#"{ "carol" = "U0CAROL" }"#, "https://api.github.com"),
            &[],
        )
        .expect_err("not an e-mail")
        .to_string();
        assert!(err.contains("approvals.revision_authors.users"), "{err}");
        let err = parse(&section("{}", "https://api.github.com/"), &[])
            .expect_err("trailing slash")
            .to_string();
        assert!(
            err.contains("approvals.revision_authors.github_api_url"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_key_is_named_with_its_section() {
        let text = MINIMAL.replace("region =", "regoin =");
        let err = parse(&text, &[]).expect_err("typo").to_string();
        assert!(err.contains("aws"), "{err}");
        assert!(err.contains("regoin"), "{err}");
    }

    #[test]
    fn a_bad_channel_id_is_named_with_its_index() {
        let text = MINIMAL.replace("C0123456789", "#deploys");
        let err = parse(&text, &[]).expect_err("bad channel").to_string();
        assert!(err.contains("pipelines[0].channel"), "{err}");
    }

    #[test]
    fn environment_variables_override_the_file_with_typed_values() {
        let s = parse(
            MINIMAL,
            &[
                ("CHATOPS__APPROVALS__WAIT_TIME_SECS", "3"),
                ("CHATOPS__SLACK__API_URL", "http://127.0.0.1:9/api"),
                ("UNRELATED", "x"),
            ],
        )
        .expect("valid");
        assert_eq!(s.approvals.wait_time_secs, 3);
        assert_eq!(s.slack.api_url.as_deref(), Some("http://127.0.0.1:9/api"));
    }

    #[test]
    fn an_unknown_environment_key_is_rejected() {
        let err = parse(MINIMAL, &[("CHATOPS__AWS__REGOIN", "x")])
            .expect_err("unknown")
            .to_string();
        assert!(err.contains("aws.regoin"), "{err}");
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        let err = parse(MINIMAL, &[("CHATOPS__APPROVALS__WAIT_TIME_SECS", "21")])
            .expect_err("21 s")
            .to_string();
        assert!(err.contains("approvals.wait_time_secs"), "{err}");
    }

    #[test]
    fn the_audit_trail_is_kept_400_days_unless_configured_within_ten_years() {
        let days = |s: &Settings| s.audit_keep().as_secs() / 86_400;
        assert_eq!(parse(MINIMAL, &[]).map(|s| days(&s)).ok(), Some(400));
        let state = |audit_days: &str| {
            format!("{MINIMAL}\n[state]\ntable = \"chatops-state\"\n{audit_days}\n")
        };
        assert_eq!(parse(&state(""), &[]).map(|s| days(&s)).ok(), Some(400));
        let kept = parse(&state("audit_days = 30"), &[]).map(|s| days(&s));
        assert_eq!(kept.ok(), Some(30));
        for bad in ["audit_days = 0", "audit_days = 3651"] {
            let err = parse(&state(bad), &[]).expect_err(bad).to_string();
            assert!(err.contains("state.audit_days"), "{err}");
        }
    }

    /// The error `CHATOPS__SLACK__API_URL=<url>` gets, if any.
    fn slack_api_url_error(url: &str) -> Option<String> {
        parse(MINIMAL, &[("CHATOPS__SLACK__API_URL", url)])
            .err()
            .map(|e| e.to_string())
    }

    #[test]
    fn plain_http_to_a_loopback_host_is_accepted_ipv4_ipv6_and_localhost() {
        for url in [
            "http://127.0.0.1:3000/api",
            "http://127.1.2.3/api",
            "http://[::1]:3000/api",
            "http://localhost:3000/api",
            "http://LOCALHOST/api",
        ] {
            assert_eq!(slack_api_url_error(url), None, "{url}");
        }
    }

    #[test]
    fn https_to_any_host_is_accepted() {
        for url in ["https://slack.com/api", "https://203.0.113.9:8443/api"] {
            assert_eq!(slack_api_url_error(url), None, "{url}");
        }
    }

    #[test]
    fn an_environment_override_to_plain_http_elsewhere_is_refused_naming_the_key() {
        let err = slack_api_url_error("http://example.com/api").expect("refused");
        assert!(err.contains("slack.api_url"), "{err}");
        assert!(err.contains("needs https://"), "{err}");
    }

    #[test]
    fn a_host_that_only_looks_like_loopback_gets_no_plain_http() {
        for url in [
            // A domain whose first labels read as the address.
            "http://127.0.0.1.evil.com/api",
            "http://localhost.evil.com/api",
            // The address as a user name: the host is evil.com.
            "http://127.0.0.1@evil.com/api",
            "http://localhost:3000@evil.com/api",
            // Neither loopback nor anything like it.
            "http://10.0.0.1/api",
            "http://[::2]/api",
        ] {
            let err = slack_api_url_error(url).unwrap_or_else(|| panic!("{url} accepted"));
            assert!(err.contains("slack.api_url"), "{url}: {err}");
        }
    }

    #[test]
    fn a_url_with_credentials_or_another_scheme_is_refused() {
        for url in [
            "https://user:secret@slack.example.com/api",
            "http://user@127.0.0.1/api",
            "ftp://127.0.0.1/api",
            "127.0.0.1:3000/api",
        ] {
            assert!(slack_api_url_error(url).is_some(), "{url} accepted");
        }
    }

    #[test]
    fn every_url_setting_follows_the_loopback_rule() {
        let text = format!(
            "{MINIMAL}\n[approvals.revision_authors]\nusers = {{}}\n[events]\nqueue_url = \"https://sqs.eu-west-1.amazonaws.com/1/events\"\n"
        );
        assert!(parse(&text, &[]).is_ok());
        for key in [
            "aws.endpoint_url",
            "aws.codepipeline_endpoint_url",
            "slack.api_url",
            "approvals.queue_url",
            "approvals.revision_authors.github_api_url",
            "events.queue_url",
        ] {
            let var = format!("CHATOPS__{}", key.replace('.', "__").to_uppercase());
            let err = parse(&text, &[(var.as_str(), "http://example.com")])
                .expect_err(key)
                .to_string();
            assert!(err.contains(key), "{key}: {err}");
            let local = parse(&text, &[(var.as_str(), "http://127.0.0.1:9")]);
            assert!(local.is_ok(), "{key}: {:?}", local.err());
        }
    }

    #[test]
    fn every_outbound_call_has_a_timeout_by_default_and_zero_is_refused() {
        let s = parse(MINIMAL, &[]).expect("valid");
        assert_eq!(s.timeouts.slack(), Duration::from_secs(10));
        assert_eq!(s.timeouts.github(), Duration::from_secs(10));
        assert_eq!(s.timeouts.aws_connect(), Duration::from_secs(3));
        assert_eq!(s.timeouts.aws_attempt(), Duration::from_secs(10));
        assert_eq!(s.timeouts.aws_operation(), Duration::from_secs(30));
        for key in [
            "SLACK_SECS",
            "GITHUB_SECS",
            "AWS_CONNECT_SECS",
            "AWS_ATTEMPT_SECS",
            "AWS_OPERATION_SECS",
        ] {
            let var = format!("CHATOPS__TIMEOUTS__{key}");
            let err = parse(MINIMAL, &[(var.as_str(), "0")])
                .expect_err(key)
                .to_string();
            assert!(err.contains(&key.to_lowercase()), "{err}");
        }
        let err = parse(
            MINIMAL,
            &[
                ("CHATOPS__TIMEOUTS__AWS_ATTEMPT_SECS", "20"),
                ("CHATOPS__TIMEOUTS__AWS_OPERATION_SECS", "15"),
            ],
        )
        .expect_err("an operation shorter than its attempt")
        .to_string();
        assert!(err.contains("timeouts.aws_operation_secs"), "{err}");
    }

    #[test]
    fn a_claim_shorter_than_an_approval_s_calls_is_refused() {
        let text = format!("{MINIMAL}\n[state]\ntable = \"chatops-state\"\nclaim_secs = 60\n");
        assert!(parse(&text, &[]).is_ok());
        let err = parse(&text, &[("CHATOPS__TIMEOUTS__AWS_OPERATION_SECS", "55")])
            .expect_err("60 s claim, 55 + 10 s of calls")
            .to_string();
        assert!(err.contains("state.claim_secs"), "{err}");
    }

    #[test]
    fn a_pipeline_without_approvers_is_rejected() {
        let text = MINIMAL
            .replace("approver_users = [\"U0123ABCD\"]", "")
            .replace("approver_groups = [\"S0123ABCD\"]", "");
        let err = parse(&text, &[]).expect_err("no approvers").to_string();
        assert!(err.contains("pipelines[0].approver_users"), "{err}");
    }
}
