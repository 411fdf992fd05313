//! Pipeline definitions the simulator runs: what a test, or the sandbox's JSON file, declares;
//! the [`SimConfig`] it runs them under; and how a source action looks through its CodeStar
//! connection to GitHub (repository, `revisionSummary`, console `revisionUrl`).
//!
//! Pure data and pure functions, at the bottom: it imports no other module of the simulator.
//! `serde` gives the JSON file format of the `codepipeline-sim` binary: a list of
//! [`PipelineDef`]s, actions tagged by `"type"` (`source`, `build`, `manual_approval`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Where the simulated service claims to live and where it publishes notifications.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Region shown in notifications, ARNs and console links (e.g. `us-east-1`).
    pub region: String,
    /// Account id shown in ARNs.
    pub account_id: String,
    /// SNS endpoint for `sns:Publish`, e.g. ministack's `http://127.0.0.1:4566`.
    pub sns_endpoint_url: String,
}

/// A pipeline: stages run in order, each stage's actions side by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineDef {
    /// Pipeline name, as used in every API call (`[A-Za-z0-9.@\-_]{1,100}`).
    pub name: String,
    /// Stages in execution order.
    pub stages: Vec<StageDef>,
    /// How concurrent executions interact; SUPERSEDED when omitted, as on AWS.
    #[serde(default)]
    pub execution_mode: ExecutionMode,
}

/// One stage: a transition boundary; only one SUPERSEDED execution may occupy it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageDef {
    /// Stage name (`stageName` in the API and the notification).
    pub name: String,
    /// Actions started together when an execution enters the stage.
    pub actions: Vec<ActionDef>,
}

/// One action of a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionDef {
    /// Action name (`actionName` in the API and the notification).
    pub name: String,
    /// What the action does when an execution reaches it.
    pub kind: ActionKind,
}

/// The action kinds the simulator knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionKind {
    /// Succeeds at once and records this revision on the execution.
    Source {
        /// Commit id shown as `revisionId` of the execution's artifacts.
        revision_id: String,
        /// Commit message; `revisionSummary` carries it as a CodeStar connection does:
        /// `{"ProviderType":"GitHub","CommitMessage":…}`.
        revision_summary: String,
        /// The GitHub repository (`FullRepositoryId`, `owner/repo`); `example/<pipeline>` when
        /// unset.
        #[serde(default)]
        repository: Option<String>,
        /// Who wrote the commit, as Git records it (served by the GitHub API emulation);
        /// [`CommitAuthor::default`] when unset.
        #[serde(default)]
        author: Option<CommitAuthor>,
    },
    /// Succeeds at once.
    Build,
    /// Waits for `PutApprovalResult`; publishes the approval notification when reached.
    ManualApproval {
        /// SNS topic of the notification (`NotificationArn`); none → nothing is published.
        #[serde(default)]
        notification_arn: Option<String>,
        /// Reviewer comments (`CustomData`); absent from the notification when unset.
        #[serde(default)]
        custom_data: Option<String>,
        /// "URL for review" (`ExternalEntityLink`); `null` in the notification when unset.
        #[serde(default)]
        external_entity_link: Option<String>,
    },
}

/// A commit's author, as `GET /repos/{owner}/{repo}/git/commits/{sha}` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitAuthor {
    pub name: String,
    pub email: String,
}

impl Default for CommitAuthor {
    fn default() -> Self {
        Self {
            name: "Sandbox Developer".to_owned(),
            email: "developer@example.com".to_owned(),
        }
    }
}

/// How executions of one pipeline share its stages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionMode {
    /// A newer execution entering a stage supersedes the older one waiting there.
    #[default]
    Superseded,
    /// Executions run independently; `GetPipelineState` shows no approval token.
    Parallel,
}

impl ExecutionMode {
    /// The API spelling (`executionMode`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ExecutionMode::Superseded => "SUPERSEDED",
            ExecutionMode::Parallel => "PARALLEL",
        }
    }
}

impl ActionKind {
    /// The `actionTypeId` AWS would show for this kind of action.
    pub(crate) fn type_id(&self) -> Value {
        let (category, provider) = match self {
            ActionKind::Source { .. } => ("Source", "CodeStarSourceConnection"),
            ActionKind::Build => ("Build", "CodeBuild"),
            ActionKind::ManualApproval { .. } => ("Approval", "Manual"),
        };
        json!({"category": category, "owner": "AWS", "provider": provider, "version": "1"})
    }

    /// The action's `configuration` map as `GetPipeline` returns it (set keys only).
    pub(crate) fn configuration(&self, pipeline: &str, sim: &SimConfig) -> Map<String, Value> {
        let mut config = Map::new();
        if let Some(repository) = repository(self, pipeline) {
            config.insert("ConnectionArn".to_owned(), json!(connection_arn(sim)));
            config.insert("FullRepositoryId".to_owned(), json!(repository));
            config.insert("BranchName".to_owned(), json!("main"));
        }
        if let ActionKind::ManualApproval {
            notification_arn,
            custom_data,
            external_entity_link,
        } = self
        {
            let keys = [
                ("NotificationArn", notification_arn),
                ("CustomData", custom_data),
                ("ExternalEntityLink", external_entity_link),
            ];
            for (key, value) in keys {
                if let Some(value) = value {
                    config.insert(key.to_owned(), Value::String(value.clone()));
                }
            }
        }
        config
    }
}

impl PipelineDef {
    /// The usual shape under test: `Source` → `Build` → `Approve` (action `ManualApproval`,
    /// notifying `topic_arn`, no custom data, no external link) → `Deploy`; SUPERSEDED mode.
    pub fn with_approval(name: &str, topic_arn: &str) -> PipelineDef {
        let stage = |stage: &str, action: &str, kind: ActionKind| StageDef {
            name: stage.to_owned(),
            actions: vec![ActionDef {
                name: action.to_owned(),
                kind,
            }],
        };
        PipelineDef {
            name: name.to_owned(),
            stages: vec![
                stage(
                    "Source",
                    "Source",
                    ActionKind::Source {
                        revision_id: "3f7c1e2a9b8d4c6e5f0a1b2c3d4e5f6a7b8c9d0e".to_owned(),
                        revision_summary: "Merge pull request #42 from feature/approvals"
                            .to_owned(),
                        repository: None,
                        author: None,
                    },
                ),
                stage("Build", "Build", ActionKind::Build),
                stage(
                    "Approve",
                    "ManualApproval",
                    ActionKind::ManualApproval {
                        notification_arn: Some(topic_arn.to_owned()),
                        custom_data: None,
                        external_entity_link: None,
                    },
                ),
                stage("Deploy", "Deploy", ActionKind::Build),
            ],
            execution_mode: ExecutionMode::Superseded,
        }
    }
}

/// The GitHub repository of a source action: its own, or `example/<pipeline>`.
pub(crate) fn repository(kind: &ActionKind, pipeline: &str) -> Option<String> {
    match kind {
        ActionKind::Source { repository, .. } => Some(
            repository
                .clone()
                .unwrap_or_else(|| format!("example/{pipeline}")),
        ),
        _ => None,
    }
}

/// The connection every simulated source action uses.
pub(crate) fn connection_arn(config: &SimConfig) -> String {
    format!(
        "arn:aws:codestar-connections:{}:{}:connection/5c3e1d2a-0b9f-4e8d-a7c6-1f2e3d4c5b6a",
        config.region, config.account_id
    )
}

/// `revisionSummary` of a CodeStar connection's GitHub revision.
pub(crate) fn revision_summary(message: &str) -> String {
    json!({"ProviderType": "GitHub", "CommitMessage": message}).to_string()
}

/// `revisionUrl` of a CodeStar connection's revision: the console's redirect to the commit.
pub(crate) fn revision_url(config: &SimConfig, repository: &str, commit: &str) -> String {
    let query = serde_urlencoded::to_string([
        ("connectionArn", connection_arn(config).as_str()),
        ("referenceType", "COMMIT"),
        ("FullRepositoryId", repository),
        ("Commit", commit),
    ])
    .unwrap_or_default();
    format!(
        "https://{}.console.aws.amazon.com/codesuite/settings/connections/redirect?{query}",
        config.region
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipeline_file_reads_into_definitions() {
        let file = r#"[{"name": "web", "stages": [
            {"name": "Source", "actions": [{"name": "Src", "kind":
                {"type": "source", "revision_id": "abc", "revision_summary": "fix"}}]},
            {"name": "Approve", "actions": [{"name": "Gate", "kind":
                {"type": "manual_approval", "notification_arn": "arn:aws:sns:us-east-1:0:t"}}]}]}]"#;
        let defs: Vec<PipelineDef> = serde_json::from_str(file).expect("valid file");
        assert_eq!(defs[0].execution_mode, ExecutionMode::Superseded);
        assert_eq!(
            defs[0].stages[1].actions[0].kind,
            ActionKind::ManualApproval {
                notification_arn: Some("arn:aws:sns:us-east-1:0:t".to_owned()),
                custom_data: None,
                external_entity_link: None,
            }
        );
    }

    #[test]
    fn a_misspelt_action_field_is_refused() {
        let action = r#"{"name": "Gate", "kind": {"type": "manual_approval", "notify": "x"}}"#;
        assert!(serde_json::from_str::<ActionDef>(action).is_err());
    }

    #[test]
    fn the_default_pipeline_roundtrips_through_json() {
        let def = PipelineDef::with_approval("p", "arn:aws:sns:us-east-1:0:t");
        let text = serde_json::to_string(&def).expect("serialisable");
        assert_eq!(
            serde_json::from_str::<PipelineDef>(&text).expect("readable"),
            def
        );
    }
}
