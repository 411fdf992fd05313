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
    /// Endpoint for every AWS client (a local emulator such as ministack).
    pub endpoint_url: Option<String>,
    /// Endpoint for CodePipeline only; wins over `endpoint_url`.
    pub codepipeline_endpoint_url: Option<String>,
}

/// Slack connection settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackSettings {
    /// Web API base URL without trailing slash; unset means `https://slack.com/api`.
    pub api_url: Option<String>,
    /// Socket Mode connections held at once (Slack allows 10; two survive a refresh).
    pub socket_connections: u32,
    /// Wait between failed Socket Mode connection attempts.
    pub reconnect_secs: u64,
    /// How long a user group's member list is trusted before it is fetched again.
    pub usergroup_cache_secs: u64,
}

impl Default for SlackSettings {
    fn default() -> Self {
        Self {
            api_url: None,
            socket_connections: 2,
            reconnect_secs: 5,
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

fn check_url(key: &str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(ConfigError::key(key, "must be an http:// or https:// URL"))
    }
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

    #[test]
    fn a_pipeline_without_approvers_is_rejected() {
        let text = MINIMAL
            .replace("approver_users = [\"U0123ABCD\"]", "")
            .replace("approver_groups = [\"S0123ABCD\"]", "");
        let err = parse(&text, &[]).expect_err("no approvers").to_string();
        assert!(err.contains("pipelines[0].approver_users"), "{err}");
    }
}
