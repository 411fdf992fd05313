//! Approval policy settings: per pipeline and per approval action, who may decide, where, how
//! many must agree, and whether a one-click approve is offered; plus the pipeline-event queue
//! and the reconcile loop that keep prompts true. Resolved by `approvals::policy`.

use serde::Deserialize;
use std::collections::{HashMap, HashSet};

use super::{check_url, ConfigError, PipelineSettings};
use crate::ids::{ActionName, ChannelId, StageName, UserGroupId, UserId};

/// The most approvers a quorum may require.
pub const MAX_QUORUM: u8 = 10;

/// Overrides for one approval action (`stage` + `action`) of a pipeline; unset keys keep the
/// pipeline's value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionPolicySettings {
    pub stage: StageName,
    pub action: ActionName,
    pub approver_users: Option<Vec<UserId>>,
    pub approver_groups: Option<Vec<UserGroupId>>,
    /// Channels where the prompt may be acted on.
    pub act_in_channels: Option<Vec<ChannelId>>,
    /// Distinct approvers needed (1–10).
    pub quorum: Option<u8>,
    /// Whether the one-click "Approve" (with a confirm dialog) is offered besides "Approve…".
    pub one_click_approve: Option<bool>,
}

/// The CodePipeline EventBridge events queue (SQS, fed by an EventBridge rule directly or
/// through SNS). Without it, open prompts are reconciled by polling `GetPipelineState`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSettings {
    pub queue_url: String,
    /// Long-poll wait, 0–20 seconds and at most `approvals.wait_time_secs` (the SQS client's
    /// timeout follows that one).
    #[serde(default = "default_events_wait_secs")]
    pub wait_time_secs: i32,
}

/// "No self-approval" by authorship: the author of a revision an execution promotes may not
/// approve it. Authors are read from GitHub (revisions of a CodeStar connection whose provider
/// is `GitHub` or `GitHubEnterpriseServer`) and matched to Slack users by their commit e-mail.
/// The token, for private repositories, is the optional `github/token` parameter under
/// `parameter_store.path`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevisionAuthorSettings {
    /// GitHub's API: `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise
    /// Server.
    #[serde(default = "default_github_api_url")]
    pub github_api_url: String,
    /// Commit author e-mail (as Git records it; compared without regard to case) → the Slack
    /// user who wrote it.
    pub users: HashMap<String, UserId>,
}

fn default_github_api_url() -> String {
    "https://api.github.com".to_owned()
}

impl RevisionAuthorSettings {
    /// The Slack user who wrote commits as `email`, if configured.
    pub fn user_of(&self, email: &str) -> Option<&UserId> {
        self.users
            .iter()
            .find(|(e, _)| e.eq_ignore_ascii_case(email))
            .map(|(_, u)| u)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let key = "approvals.revision_authors.github_api_url";
        check_url(key, &self.github_api_url)?;
        if self.github_api_url.ends_with('/') {
            return Err(ConfigError::key(key, "must not end with `/`"));
        }
        if let Some(bad) = self.users.keys().find(|e| !e.contains('@')) {
            return Err(ConfigError::key(
                "approvals.revision_authors.users",
                format!("`{bad}` is not an e-mail address"),
            ));
        }
        Ok(())
    }
}

fn default_events_wait_secs() -> i32 {
    20
}

pub(super) fn default_quorum() -> u8 {
    1
}
pub(super) fn default_true() -> bool {
    true
}
pub(super) fn default_reconcile_secs() -> u64 {
    30
}
pub(super) fn default_reconcile_batch() -> usize {
    50
}

impl PipelineSettings {
    /// Checks the policy keys of the pipeline at index `i`.
    pub(super) fn validate_policy(&self, i: usize) -> Result<(), ConfigError> {
        let key = |k: &str| format!("pipelines[{i}].{k}");
        check_quorum(&key("quorum"), self.quorum)?;
        let mut seen = HashSet::new();
        for (j, a) in self.actions.iter().enumerate() {
            let key = |k: &str| format!("pipelines[{i}].actions[{j}].{k}");
            if !seen.insert((a.stage.as_str(), a.action.as_str())) {
                return Err(ConfigError::key(
                    key("action"),
                    format!("`{}/{}` is configured twice", a.stage, a.action),
                ));
            }
            if let Some(q) = a.quorum {
                check_quorum(&key("quorum"), q)?;
            }
            let users = a.approver_users.as_ref().unwrap_or(&self.approver_users);
            let groups = a.approver_groups.as_ref().unwrap_or(&self.approver_groups);
            if users.is_empty() && groups.is_empty() {
                return Err(ConfigError::key(
                    key("approver_users"),
                    "an approval action needs at least one approver user or group",
                ));
            }
        }
        Ok(())
    }
}

impl EventsSettings {
    pub(super) fn validate(&self, approvals_wait_secs: i32) -> Result<(), ConfigError> {
        check_url("events.queue_url", &self.queue_url)?;
        if !(0..=approvals_wait_secs).contains(&self.wait_time_secs) {
            return Err(ConfigError::key(
                "events.wait_time_secs",
                "must be between 0 and approvals.wait_time_secs",
            ));
        }
        Ok(())
    }
}

fn check_quorum(key: &str, quorum: u8) -> Result<(), ConfigError> {
    if (1..=MAX_QUORUM).contains(&quorum) {
        Ok(())
    } else {
        Err(ConfigError::key(
            key,
            format!("must be between 1 and {MAX_QUORUM}"),
        ))
    }
}
