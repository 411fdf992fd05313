//! The one test harness: emulators in-process on 127.0.0.1:0, ministack from `MINISTACK_URL`,
//! unique AWS resources per test, the real `App` built from a real TOML configuration.

pub mod approvals;
pub mod aws;
pub mod process;
pub mod redshift;

use emulators::codepipeline::{CodePipelineSim, PipelineDef, SimConfig};
use emulators::slack::{Envelope, Message, SlackConfig, SlackEmulator};
use emulators::testing::eventually;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use chatops::app::App;
use chatops::config::Settings;
use chatops::outbound::parameter_store::{ButtonKeys, TokenStore, Tokens};
use chatops::outbound::slack::{self, SlackWeb};
use chatops::secret::Secret;

/// How long any wait in a test may take before it fails (the deadline given to
/// [`eventually`]).
pub const DEADLINE: Duration = Duration::from_secs(30);

pub const CHANNEL: &str = "C0DEPLOYS";
/// A configured approver, by user id.
pub const ALICE: &str = "U0ALICE";
/// An approver through the user group [`APPROVERS_GROUP`].
pub const BOB: &str = "U0BOB";
/// Not an approver.
pub const MALLORY: &str = "U0MALLORY";
/// A third workspace member, for policies that name her.
pub const CAROL: &str = "U0CAROL";
pub const APPROVERS_GROUP: &str = "S0RELEASE";

/// Installs a test subscriber when `TEST_LOG` is set.
pub fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        chatops::telemetry::init(chatops::telemetry::LogFormat::Human);
    }
}

/// Knobs a test may turn before the bot starts.
#[derive(Clone, Default)]
pub struct Options {
    /// SNS → SQS raw message delivery (no SNS envelope).
    pub raw_delivery: bool,
    /// Extra `CHATOPS__…` overrides.
    pub env: Vec<(String, String)>,
    /// TOML appended to the configuration: keys land in the pipeline's `[[pipelines]]` table
    /// until a new table header.
    pub config_tail: String,
    /// A fixed "now" for the bot (`None`: the wall clock).
    pub clock: Option<chatops::commands::redshift_alerts::Clock>,
}

/// One more bot process on the same emulators, AWS resources and configuration (a replica, or
/// the process that replaces one).
pub struct Replica {
    shutdown: Option<oneshot::Sender<()>>,
    run: Option<JoinHandle<()>>,
}

impl Replica {
    /// Triggers shutdown and waits for `App::run` to return.
    pub async fn stop(mut self) {
        stop(&mut self.shutdown, &mut self.run).await;
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Triggers shutdown and waits for the app's task.
async fn stop(shutdown: &mut Option<oneshot::Sender<()>>, run: &mut Option<JoinHandle<()>>) {
    if let Some(tx) = shutdown.take() {
        let _ = tx.send(());
    }
    if let Some(run) = run.take() {
        tokio::time::timeout(DEADLINE, run)
            .await
            .expect("the bot stops within the deadline")
            .expect("the bot's task did not panic");
    }
}

/// A running bot with its emulators and AWS resources.
pub struct Bot {
    pub slack: SlackEmulator,
    pub codepipeline: CodePipelineSim,
    pub aws: aws::Resources,
    pub pipeline: String,
    pub config_toml: String,
    /// Where `/healthz` and `/metrics` are served, when the test enabled them.
    pub health: Option<std::net::SocketAddr>,
    shutdown: Option<oneshot::Sender<()>>,
    run: Option<JoinHandle<()>>,
    emulators: CancellationToken,
}

impl Bot {
    /// Starts emulators, creates the AWS resources, builds and runs the real app in-process, and
    /// waits until its Socket Mode connections are open.
    pub async fn spawn(options: Options) -> Bot {
        Self::prepare(options.raw_delivery)
            .await
            .start(options)
            .await
    }

    /// Builds and runs the app on what [`Bot::prepare`] set up (`options.raw_delivery` was
    /// prepare's to use), and waits until its Socket Mode connections are open.
    pub async fn start(mut self, options: Options) -> Bot {
        self.config_toml.push_str(&options.config_tail);
        let settings =
            Settings::parse(&self.config_toml, "test", options.env).expect("test settings");
        let sockets = usize::try_from(settings.slack.socket_connections).unwrap_or(2);
        let mut app = App::build(settings, None).await.expect("app builds");
        if let Some(clock) = options.clock {
            app = app.with_clock(clock);
        }
        self.health = app.health_addr();
        let (tx, rx) = oneshot::channel();
        self.run = Some(tokio::spawn(app.run(async {
            let _ = rx.await;
        })));
        self.shutdown = Some(tx);
        assert!(
            self.slack.wait_for_connections(sockets, DEADLINE).await,
            "the bot opened its Socket Mode connections"
        );
        self
    }

    /// Everything but the bot: emulators, AWS resources, and the configuration text.
    pub async fn prepare(raw_delivery: bool) -> Bot {
        Self::prepare_at(&emulators::ministack::url_from_env(), raw_delivery).await
    }

    /// [`Bot::prepare`] on the ministack at `endpoint`.
    pub async fn prepare_at(endpoint: &str, raw_delivery: bool) -> Bot {
        init_logs();
        let emulators = CancellationToken::new();
        let aws = aws::Resources::create_at(endpoint, raw_delivery).await;
        let slack = SlackEmulator::start(
            SlackConfig {
                bot_token: aws.bot_token.clone(),
                app_token: aws.app_token.clone(),
                ..SlackConfig::default()
            },
            emulators.clone(),
        )
        .await
        .expect("Slack emulator starts");
        slack.add_channel(CHANNEL, "deploys");
        for (id, name) in [
            (ALICE, "alice"),
            (BOB, "bob"),
            (MALLORY, "mallory"),
            (CAROL, "carol"),
        ] {
            slack.add_user(id, name);
        }
        slack.add_usergroup(APPROVERS_GROUP, &[BOB]);
        let codepipeline = CodePipelineSim::start(
            SimConfig {
                region: aws::REGION.into(),
                account_id: "000000000000".into(),
                sns_endpoint_url: aws.endpoint.clone(),
            },
            emulators.clone(),
        )
        .await
        .expect("CodePipeline simulator starts");
        let pipeline = format!("web-{}", aws.id);
        codepipeline.create_pipeline(PipelineDef::with_approval(&pipeline, &aws.topic_arn));
        let config_toml = format!(
            r#"
            [aws]
            region = "{region}"
            endpoint_url = "{endpoint}"
            codepipeline_endpoint_url = "{codepipeline}"

            [slack]
            api_url = "{slack}"
            reconnect_secs = 1

            [parameter_store]
            path = "{path}"

            [approvals]
            queue_url = "{queue}"
            wait_time_secs = 1
            retry_base_secs = 1
            retry_max_secs = 2

            [shutdown]
            grace_secs = 10

            [[pipelines]]
            name = "{pipeline}"
            channel = "{CHANNEL}"
            approver_users = ["{ALICE}"]
            approver_groups = ["{APPROVERS_GROUP}"]
            deployer_users = ["{ALICE}"]
            "#,
            region = aws::REGION,
            endpoint = aws.endpoint,
            codepipeline = codepipeline.endpoint_url(),
            slack = slack.api_url(),
            path = aws.parameter_path,
            queue = aws.queue_url,
        );
        Bot {
            slack,
            codepipeline,
            aws,
            pipeline,
            config_toml,
            health: None,
            shutdown: None,
            run: None,
            emulators,
        }
    }

    /// Writes the configuration to a fresh file for the `chatops` binary.
    pub fn write_config(&self) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("chatops-{}.toml", self.aws.id));
        std::fs::write(&path, &self.config_toml).expect("write config");
        path
    }

    /// Starts an execution and waits for its prompt; returns the execution id and the prompt.
    pub async fn start_and_wait_for_prompt(&self) -> (String, Message) {
        let before = self.prompts().len();
        let execution = self.codepipeline.start_execution(&self.pipeline).await;
        let prompt = eventually(DEADLINE, "the approval prompt", || async {
            self.prompts().into_iter().nth(before)
        })
        .await;
        (execution, prompt)
    }

    /// Runs `command text` as `user` in `channel`; the envelope and the ack's (ephemeral) text.
    pub async fn command(
        &self,
        channel: &str,
        user: &str,
        command: &str,
        text: &str,
    ) -> (Envelope, String) {
        let envelope = self
            .slack
            .slash_command(channel, user, command, text)
            .await
            .expect("delivered");
        let ack = envelope.acked(DEADLINE).await.expect("acked");
        let payload = ack.payload.expect("the ack carries a reply");
        assert_eq!(payload["response_type"], "ephemeral", "{payload}");
        let text = payload["text"].as_str().unwrap_or_default().to_owned();
        (envelope, text)
    }

    /// Top-level messages in the pipeline's channel that are approval prompts.
    pub fn prompts(&self) -> Vec<Message> {
        self.slack
            .messages(CHANNEL)
            .into_iter()
            .filter(|m| m.thread_ts.is_none())
            .collect()
    }

    /// The current version of the message posted at `ts`.
    pub fn message(&self, ts: &str) -> Message {
        self.slack
            .messages(CHANNEL)
            .into_iter()
            .find(|m| m.ts == ts)
            .expect("message exists")
    }

    /// Clicks a button of the prompt at `ts` and waits for the ack.
    pub async fn click(&self, ts: &str, action_id: &str, user: &str) -> Envelope {
        let envelope = self
            .slack
            .click(CHANNEL, ts, action_id, user)
            .await
            .expect("click delivered");
        assert!(
            envelope.acked(DEADLINE).await.is_some(),
            "the click was acknowledged"
        );
        envelope
    }

    /// Waits until the prompt at `ts` has no buttons and says `needle`.
    pub async fn wait_for_restamp(&self, ts: &str, needle: &str) -> Message {
        eventually(
            DEADLINE,
            &format!("the prompt to say {needle:?}"),
            || async {
                let m = self.message(ts);
                (!has_buttons(&m) && m.blocks.to_string().contains(needle)).then_some(m)
            },
        )
        .await
    }

    /// Waits for an ephemeral message to `user` containing `needle`.
    pub async fn wait_for_ephemeral(&self, user: &str, needle: &str) -> Message {
        self.wait_for_ephemeral_in(CHANNEL, user, needle).await
    }

    /// Waits for an ephemeral message to `user` in `channel` containing `needle`.
    pub async fn wait_for_ephemeral_in(&self, channel: &str, user: &str, needle: &str) -> Message {
        eventually(
            DEADLINE,
            &format!("an ephemeral to {user} saying {needle:?}"),
            || async {
                self.slack
                    .ephemerals(channel, user)
                    .into_iter()
                    .find(|m| m.text.as_deref().is_some_and(|t| t.contains(needle)))
            },
        )
        .await
    }

    /// Posts, as the bot, a copy of `prompt`'s blocks in `channel` (a second place its
    /// buttons can be clicked: a `/deploy status` reply, a stale client); its `ts`.
    pub async fn post_copy(&self, prompt: &Message, channel: &str) -> String {
        let content = serde_json::from_value(serde_json::json!({
            "text": "copy", "blocks": prompt.blocks.clone()
        }))
        .expect("message content");
        let channel = chatops::ids::ChannelId::parse(channel).expect("channel");
        self.web()
            .post(&channel, content, None)
            .await
            .expect("post the copy")
    }

    /// Signs as the bot does with the seeded key (`buttons/signing_key`): for a test that
    /// posts a prompt of its own.
    pub fn signer(&self) -> chatops::signing::Signer {
        chatops::signing::Signer::new(TokenStore::fixed(Tokens {
            bot: Secret::new(self.aws.bot_token.clone()),
            app: Secret::new(self.aws.app_token.clone()),
            github: None,
            buttons: ButtonKeys::new(Secret::new(self.aws.button_key.clone()), Vec::new()),
        }))
    }

    /// A Web API client with the bot's token, for a test posting as the bot.
    pub fn web(&self) -> SlackWeb {
        let client = slack::build_client(Some(&self.slack.api_url())).expect("client");
        SlackWeb::new(
            client,
            TokenStore::fixed(Tokens {
                bot: Secret::new(self.aws.bot_token.clone()),
                app: Secret::new(self.aws.app_token.clone()),
                github: None,
                buttons: ButtonKeys::ephemeral(),
            }),
            Duration::from_secs(10),
        )
    }

    /// Triggers shutdown and waits for `App::run` to return.
    pub async fn stop(&mut self) {
        stop(&mut self.shutdown, &mut self.run).await;
    }

    /// [`Bot::spawn`] with the records in a fresh DynamoDB table ([`Bot::with_shared_state`]).
    pub async fn spawn_shared() -> Bot {
        Self::prepare(false)
            .await
            .with_shared_state()
            .await
            .start(Options::default())
            .await
    }

    /// Keeps the bot's records in a fresh DynamoDB table on ministack (`[state]`), as
    /// production does: what several processes must agree on.
    pub async fn with_shared_state(mut self) -> Bot {
        let table = self.state_table();
        emulators::ministack::create_state_table(&aws::sdk_config().await, &table)
            .await
            .expect("state table on ministack");
        self.config_toml.push_str(&format!(
            "\n[state]\ntable = \"{table}\"\nclaim_secs = 60\n"
        ));
        self
    }

    /// The test's state table ([`Bot::with_shared_state`]).
    pub fn state_table(&self) -> String {
        format!("chatops-state-{}", self.aws.id)
    }

    /// Starts one more process of the bot with the configuration the first one started with
    /// (and the `CHATOPS__…` overrides `env`) and waits until the emulator sees `connections`
    /// live sockets in all.
    pub async fn start_replica(&self, connections: usize, env: Vec<(String, String)>) -> Replica {
        self.start_replica_with_clock(connections, env, None).await
    }

    /// [`Bot::start_replica`] with a fixed "now" (`None`: the wall clock).
    pub async fn start_replica_with_clock(
        &self,
        connections: usize,
        env: Vec<(String, String)>,
        clock: Option<chatops::commands::redshift_alerts::Clock>,
    ) -> Replica {
        let settings = Settings::parse(&self.config_toml, "test", env).expect("settings");
        let mut app = App::build(settings, None).await.expect("app builds");
        if let Some(clock) = clock {
            app = app.with_clock(clock);
        }
        let (tx, rx) = oneshot::channel();
        let run = tokio::spawn(app.run(async {
            let _ = rx.await;
        }));
        assert!(
            self.slack.wait_for_connections(connections, DEADLINE).await,
            "every process opened its Socket Mode connections"
        );
        Replica {
            shutdown: Some(tx),
            run: Some(run),
        }
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.emulators.cancel();
    }
}

/// Whether a message still shows an actions block.
pub fn has_buttons(m: &Message) -> bool {
    m.blocks
        .as_array()
        .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "actions"))
}

/// The `response_url` a command's envelope carried.
pub fn response_url(envelope: &Envelope) -> String {
    envelope.payload["response_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
