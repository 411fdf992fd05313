//! The local sandbox: a demo workspace to try chatops without Slack or AWS. Starts the Slack
//! emulator (with its browser UI) and the CodePipeline simulator with two demo pipelines,
//! creates the approval topic and queue, the Slack token parameters and the `/redshift-alerts`
//! demo data (re-dated to end today) on ministack, and says which `CHATOPS__…` overrides point
//! the bot at all of it.

use std::sync::Arc;

use anyhow::Context;
use aws_sdk_ssm::types::ParameterType;
use tokio_util::sync::CancellationToken;

use crate::codepipeline::{
    ActionDef, ActionKind, CodePipelineSim, ExecutionMode, PipelineDef, SimConfig, StageDef,
};
use crate::ministack::{create_state_table, create_topic_queue, sdk_config};
use crate::redshift_demo;
use crate::slack::{SlackConfig, SlackEmulator};

/// Region of every sandbox resource.
pub const REGION: &str = "us-east-1";
/// The Parameter Store path `config/sandbox.toml` names.
pub const PARAMETER_PATH: &str = "/sandbox/chatops";
/// The channel of both demo pipelines.
pub const CHANNEL: &str = "C0SANDBOX";
/// The bot's DynamoDB state table `config/sandbox.toml` names.
pub const STATE_TABLE: &str = "sandbox-chatops-state";
const BOT_TOKEN: &str = "xoxb-sandbox-demo-token";
const APP_TOKEN: &str = "xapp-sandbox-demo-token";

/// The `/redshift-alerts` demo data, under the names `config/sandbox.toml` names.
fn redshift_exports() -> redshift_demo::Exports {
    redshift_demo::Exports {
        database: "sandbox_redshift_logs".into(),
        workgroup: "sandbox-diagnostics".into(),
        bucket: "sandbox-redshift-exports".into(),
        cluster_list_parameter: "redshift_query_logs.sandbox.enabled_cluster_list".into(),
        layout: redshift_demo::Layout::sample(),
    }
}

/// A running sandbox (everything but the bot and ministack).
pub struct Sandbox {
    pub slack: SlackEmulator,
    pub codepipeline: CodePipelineSim,
    pub queue_url: String,
    ministack_url: String,
}

impl Sandbox {
    /// Seeds ministack at `ministack_url` and starts the emulators until `shutdown`.
    ///
    /// # Errors
    /// ministack refused a set-up call or a listener could not bind.
    pub async fn start(ministack_url: &str, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let config = sdk_config(ministack_url, REGION).await;
        let topic = create_topic_queue(&config, "sandbox-approvals", false)
            .await
            .context("creating the approval topic and queue on ministack")?;
        // A sandbox starts empty: notifications left by an earlier run name tokens of a
        // simulator that is gone.
        aws_sdk_sqs::Client::new(&config)
            .purge_queue()
            .queue_url(&topic.queue_url)
            .send()
            .await
            .context("purging the approval queue")?;
        // The bot keeps its records in DynamoDB, as in production (config/sandbox.toml
        // `[state]`).
        create_state_table(&config, STATE_TABLE)
            .await
            .context("creating the state table on ministack")?;
        let ssm = aws_sdk_ssm::Client::new(&config);
        for (name, value) in [
            ("slack/bot_token", BOT_TOKEN),
            ("slack/app_token", APP_TOKEN),
            // Signs the bot's button values (the sandbox's own, not a secret anywhere else).
            (
                "buttons/signing_key",
                "sandbox-button-signing-key-0123456789abcdef",
            ),
        ] {
            ssm.put_parameter()
                .name(format!("{PARAMETER_PATH}/{name}"))
                .value(value)
                .r#type(ParameterType::SecureString)
                .overwrite(true)
                .send()
                .await
                .context("seeding the Slack tokens and the signing key in Parameter Store")?;
        }
        // The fixtures end today (UTC), so the default window of the last 24 hours shows data.
        redshift_exports()
            .seed(&config, chrono::Utc::now().date_naive())
            .await
            .context("seeding the /redshift-alerts demo data")?;
        let slack = SlackEmulator::start(
            SlackConfig {
                bot_token: BOT_TOKEN.into(),
                app_token: APP_TOKEN.into(),
                ..SlackConfig::default()
            },
            shutdown.clone(),
        )
        .await
        .context("starting the Slack emulator")?;
        slack.add_channel(CHANNEL, "deploys");
        for (id, name) in [
            ("U0ALICE", "alice"),
            ("U0BOB", "bob"),
            ("U0MALLORY", "mallory"),
        ] {
            slack.add_user(id, name);
        }
        slack.add_usergroup("S0RELEASE", &["U0BOB"]);
        let codepipeline = CodePipelineSim::start(
            SimConfig {
                region: REGION.into(),
                account_id: "000000000000".into(),
                sns_endpoint_url: ministack_url.into(),
            },
            shutdown,
        )
        .await
        .context("starting the CodePipeline simulator")?;
        for def in demo_pipelines(&topic.topic_arn) {
            let name = def.name.clone();
            codepipeline.create_pipeline(def);
            let sim = codepipeline.clone();
            slack.add_control(
                &format!("Run {name} to its approval"),
                Arc::new(move || {
                    let (sim, name) = (sim.clone(), name.clone());
                    Box::pin(async move {
                        let id = sim.start_execution(&name).await;
                        Ok(format!("{name}: execution {id} started"))
                    })
                }),
            );
        }
        Ok(Self {
            slack,
            codepipeline,
            queue_url: topic.queue_url,
            ministack_url: ministack_url.to_owned(),
        })
    }

    /// The environment overrides that point the bot (with `config/sandbox.toml`) at the sandbox.
    pub fn bot_environment(&self) -> Vec<(String, String)> {
        [
            ("CHATOPS__AWS__ENDPOINT_URL", self.ministack_url.clone()),
            (
                "CHATOPS__AWS__CODEPIPELINE_ENDPOINT_URL",
                self.codepipeline.endpoint_url(),
            ),
            ("CHATOPS__SLACK__API_URL", self.slack.api_url()),
            ("CHATOPS__APPROVALS__QUEUE_URL", self.queue_url.clone()),
            // The simulator serves GitHub's commit API for the demo revisions.
            (
                "CHATOPS__APPROVALS__REVISION_AUTHORS__GITHUB_API_URL",
                self.codepipeline.endpoint_url(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// `web-app` (source, build, approval with custom data and a change link, deploy) and
/// `billing-service` (source, approval, deploy).
fn demo_pipelines(topic_arn: &str) -> Vec<PipelineDef> {
    let action = |name: &str, kind: ActionKind| ActionDef {
        name: name.into(),
        kind,
    };
    let stage = |name: &str, actions: Vec<ActionDef>| StageDef {
        name: name.into(),
        actions,
    };
    let source = |revision_id: &str, summary: &str| {
        action(
            "Source",
            ActionKind::Source {
                revision_id: revision_id.into(),
                revision_summary: summary.into(),
                repository: None,
                author: None,
            },
        )
    };
    let approval = |custom_data: &str, link: Option<&str>| {
        action(
            "ManualApproval",
            ActionKind::ManualApproval {
                notification_arn: Some(topic_arn.into()),
                custom_data: Some(custom_data.into()),
                external_entity_link: link.map(str::to_owned),
            },
        )
    };
    vec![
        PipelineDef {
            name: "web-app".into(),
            stages: vec![
                stage(
                    "Source",
                    vec![source(
                        "9fceb02d0ae598e95dc970b74767f19372d61af8",
                        "Add the checkout page (#128)",
                    )],
                ),
                stage("Build", vec![action("Build", ActionKind::Build)]),
                stage(
                    "Approve",
                    vec![approval(
                        "Release 2026.11.28 to production: checkout page, 3 bug fixes.",
                        Some("https://example.com/changes/128"),
                    )],
                ),
                stage("Deploy", vec![action("Deploy", ActionKind::Build)]),
            ],
            execution_mode: ExecutionMode::Superseded,
        },
        PipelineDef {
            name: "billing-service".into(),
            stages: vec![
                stage(
                    "Source",
                    vec![source(
                        "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
                        "Bump invoice schema to v3",
                    )],
                ),
                stage(
                    "Approve",
                    vec![approval("Schema migration: needs a DBA's eye.", None)],
                ),
                stage("Deploy", vec![action("Deploy", ActionKind::Build)]),
            ],
            execution_mode: ExecutionMode::Superseded,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bot_configuration_names_what_the_sandbox_creates() {
        let toml = include_str!("../../config/sandbox.toml");
        let exports = redshift_exports();
        for value in [
            PARAMETER_PATH,
            CHANNEL,
            STATE_TABLE,
            &exports.workgroup,
            &exports.database,
            &exports.output_location(),
            &exports.cluster_list_parameter,
        ] {
            assert!(toml.contains(&format!("\"{value}\"")), "{value}");
        }
    }
}
