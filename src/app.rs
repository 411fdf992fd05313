//! The composition root: builds every client once from [`Settings`], reads the secrets, runs the
//! loops, and owns shutdown.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::timeout::TimeoutConfig;
use aws_sdk_sqs::error::DisplayErrorContext;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::approvals::Approvals;
use crate::commands::redshift_alerts::Clock;
use crate::commands::{self, Registry};
use crate::config::{self, AwsSettings, Settings, TimeoutSettings};
use crate::inbound::approval_queue::ApprovalQueue;
use crate::inbound::health;
use crate::inbound::pipeline_events::PipelineEvents;
use crate::inbound::socket_mode::{self, Handlers};
use crate::metrics::Health;
use crate::outbound::athena::Athena;
use crate::outbound::codepipeline::{Answering, CodePipeline};
use crate::outbound::github::GitHub;
use crate::outbound::parameter_store::{StringList, TokenStore, Tokens};
use crate::outbound::records::Records;
use crate::outbound::slack::{self, SlackWeb};
use crate::outbound::Clients;
use crate::signing::Signer;

/// One DynamoDB attempt (a single-item read or write answers in milliseconds).
const STATE_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the app could not be built, named by what failed (`chatops check` prints it as that
/// dependency's line).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Slack tokens could not be read from Parameter Store.
    #[error(transparent)]
    Tokens(#[from] crate::outbound::parameter_store::SecretsError),
    /// The system's TLS root certificates could not be loaded for the bot's HTTP clients.
    #[error("loading the TLS root certificates: {0}")]
    TlsRoots(std::io::Error),
    /// The `/healthz` port could not be bound.
    #[error("binding the health listener on {addr}: {source}")]
    HealthListener {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

impl BuildError {
    /// The dependency that failed, as `chatops check` names it.
    pub fn what(&self) -> &'static str {
        match self {
            Self::Tokens(_) => "Slack tokens from Parameter Store",
            Self::TlsRoots(_) => "TLS root certificates",
            Self::HealthListener { .. } => "health listener",
        }
    }
}

/// The running daemon's parts.
pub struct App {
    settings: Arc<Settings>,
    clients: Clients,
    tokens: TokenStore,
    slack_client: Arc<slack::Client>,
    /// The Redshift cluster list (when `/redshift-alerts` is configured).
    clusters: Option<StringList>,
    clock: Clock,
    /// The `/healthz` and `/metrics` listener, bound at build time so a taken port fails fast.
    health: Option<tokio::net::TcpListener>,
    /// What `/healthz` reads; the clients that observe themselves mark it from build on.
    marks: Arc<Health>,
}

impl App {
    /// Builds every client and reads the Slack tokens from Parameter Store, or takes
    /// `dev_tokens` (the `SLACK_BOT_TOKEN`/`SLACK_APP_TOKEN` stand-ins for local development).
    ///
    /// # Errors
    /// See [`BuildError`]: the tokens cannot be read (the error names the parameter), the TLS
    /// roots cannot be loaded, or the health port is taken.
    pub async fn build(settings: Settings, dev_tokens: Option<Tokens>) -> Result<Self, BuildError> {
        // aws-lc-rs, the one rustls back-end linked (deny.toml bans ring), as the process
        // default: tokio-tungstenite's Socket Mode TLS config takes it from there. Explicit, so a
        // second back-end pulled in by a dependency cannot leave rustls unable to choose. An
        // error only means it was installed already.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let aws = aws_config(&settings.aws, &settings.timeouts).await;
        let ssm = aws_sdk_ssm::Client::new(&aws);
        let tokens = match dev_tokens {
            Some(t) => {
                tracing::warn!("using SLACK_BOT_TOKEN / SLACK_APP_TOKEN from the environment: local development only");
                TokenStore::fixed(t)
            }
            None => {
                TokenStore::from_parameter_store(ssm.clone(), &settings.parameter_store.path)
                    .await?
            }
        };
        let marks = Arc::new(Health::default());
        let slack_client =
            slack::build_client(settings.slack.api_url.as_deref()).map_err(BuildError::TlsRoots)?;
        let clients = Clients {
            slack: SlackWeb::new(
                slack_client.clone(),
                tokens.clone(),
                settings.timeouts.slack(),
            )
            .observed_by(marks.clone()),
            codepipeline: CodePipeline::new(codepipeline_client(
                &aws,
                &settings.aws,
                marks.clone(),
            )),
            sqs: sqs_client(&aws, &settings.timeouts, settings.approvals.wait_time_secs),
            athena: Athena::new(aws_sdk_athena::Client::new(&aws)),
            records: match &settings.state {
                Some(state) => {
                    Records::dynamodb(dynamodb_client(&aws, &settings.timeouts), &state.table)
                }
                None => Records::memory(),
            },
            signer: Signer::new(tokens.clone()),
            github: match &settings.approvals.revision_authors {
                Some(a) => Some(
                    GitHub::new(
                        &a.github_api_url,
                        tokens.clone(),
                        settings.timeouts.github(),
                    )
                    .map_err(BuildError::TlsRoots)?,
                ),
                None => None,
            },
        };
        let clusters = match &settings.redshift_alerts {
            Some(r) => Some(StringList::load(ssm, &r.cluster_list_parameter).await),
            None => None,
        };
        let health = match settings.health.listen {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| BuildError::HealthListener { addr, source })?,
            ),
            None => None,
        };
        Ok(Self {
            settings: Arc::new(settings),
            clients,
            tokens,
            slack_client,
            clusters,
            clock: chrono::Utc::now,
            health,
            marks,
        })
    }

    /// Where `/healthz` and `/metrics` are served, when `[health] listen` is set.
    pub fn health_addr(&self) -> Option<std::net::SocketAddr> {
        self.health.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Replaces the wall clock (tests pin "now" to their fixtures' dates).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Runs until `shutdown` resolves, then stops taking work and waits for work in flight up
    /// to the configured deadline.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let marks = self.marks.clone();
        if let Some(listener) = self.health {
            let freshness =
                health::Freshness::new(&self.settings, self.tokens.clone(), &self.clients.records);
            tracker.spawn(health::serve(
                listener,
                marks.clone(),
                freshness,
                cancel.clone(),
            ));
        }
        let approvals = Arc::new(Approvals::new(self.clients.clone(), self.settings.clone()));
        let refresh = Duration::from_secs(self.settings.parameter_store.refresh_interval_secs);
        tracker.spawn(
            self.tokens
                .clone()
                .refresh_periodically(refresh, cancel.clone()),
        );
        if let Some(clusters) = &self.clusters {
            tracker.spawn(
                clusters
                    .clone()
                    .refresh_periodically(refresh, cancel.clone()),
            );
        }
        let registry = Arc::new(Registry::build(&commands::Context {
            settings: self.settings.clone(),
            clients: self.clients.clone(),
            approvals: approvals.clone(),
            clusters: self.clusters.clone(),
            clock: self.clock,
            cancel: cancel.clone(),
        }));
        for work in registry.background() {
            tracker.spawn(work);
        }
        let handlers = Arc::new(Handlers {
            registry: registry.clone(),
            health: marks.clone(),
            tracker: tracker.clone(),
            room: Arc::new(tokio::sync::Semaphore::new(
                self.settings.slack.max_in_flight,
            )),
        });
        tracker.spawn(socket_mode::supervise(
            self.slack_client.clone(),
            handlers,
            self.tokens.clone(),
            self.settings.slack.clone(),
            cancel.clone(),
        ));
        let queue = ApprovalQueue::new(
            self.clients.sqs.clone(),
            self.settings.approvals.clone(),
            approvals.clone(),
            marks.clone(),
        );
        tracker.spawn(queue.run(cancel.clone()));
        tracker.spawn(approvals.clone().restamp_periodically(cancel.clone()));
        let approval_settings = &self.settings.approvals;
        match &self.settings.events {
            Some(events) => {
                let intake = PipelineEvents {
                    sqs: self.clients.sqs.clone(),
                    queue_url: events.queue_url.clone(),
                    wait_time_secs: events.wait_time_secs,
                    hide_secs: approval_settings.retry_max_secs,
                    approvals,
                    registry,
                    health: marks.clone(),
                };
                tracker.spawn(intake.run(cancel.clone()));
            }
            None => {
                let every = Duration::from_secs(approval_settings.reconcile_secs);
                tracker.spawn(approvals.reconcile_periodically(every, cancel.clone()));
            }
        }

        shutdown.await;
        tracing::info!("shutting down: no new work; finishing work in flight");
        cancel.cancel();
        tracker.close();
        let grace = self.settings.shutdown_grace();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::error!(
                grace_secs = grace.as_secs(),
                "work still in flight at the shutdown deadline; abandoning it"
            );
        } else {
            tracing::info!("shutdown complete");
        }
    }
}

/// One line of `chatops check`.
pub struct CheckLine {
    pub what: String,
    pub result: Result<String, String>,
}

/// Checks what `run` needs: the tokens, `auth.test`, the queue. Never panics; every failure is
/// a line.
pub async fn check(settings: Settings, dev_tokens: Option<Tokens>) -> Vec<CheckLine> {
    let mut lines = Vec::new();
    let queue_url = settings.approvals.queue_url.clone();
    let app = match App::build(settings, dev_tokens).await {
        Ok(app) => {
            lines.push(CheckLine {
                what: "Slack tokens from Parameter Store".into(),
                result: Ok("read".into()),
            });
            app
        }
        Err(e) => {
            lines.push(CheckLine {
                what: e.what().into(),
                result: Err(e.to_string()),
            });
            return lines;
        }
    };
    lines.push(CheckLine {
        what: "Slack auth.test".into(),
        result: app
            .clients
            .slack
            .auth_test()
            .await
            .map(|id| format!("bot {} in {}", id.user_id, id.team))
            .map_err(|e| e.to_string()),
    });
    lines.push(CheckLine {
        what: format!("SQS queue {queue_url}"),
        result: app
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map(|out| {
                let waiting = out
                    .attributes
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                            .cloned()
                    })
                    .unwrap_or_else(|| "?".into());
                format!("reachable, {waiting} message(s) waiting")
            })
            .map_err(|e| DisplayErrorContext(&e).to_string()),
    });
    if let (Some(github), Some(authors)) = (
        &app.clients.github,
        &app.settings.approvals.revision_authors,
    ) {
        lines.push(CheckLine {
            what: format!("GitHub API {}", authors.github_api_url),
            result: github.rate_limit().await.map_err(|e| e.to_string()),
        });
    }
    lines
}

/// `chatops healthcheck`: `GET /healthz` on `[health] listen`; its body when it answers 200.
///
/// # Errors
/// `[health] listen` is not set, or the listener does not answer 200 (see [`health::probe`]).
pub async fn healthcheck(settings: &Settings) -> anyhow::Result<String> {
    let listen = settings
        .health
        .listen
        .ok_or_else(|| anyhow::anyhow!("`[health] listen` is not set: nothing to ask"))?;
    health::probe(listen).await
}

/// One AWS configuration for every client. A loopback endpoint means a local emulator, which
/// gets static test credentials; anything else uses the default credential chain. Every call
/// is bounded by `[timeouts]`: connecting, each attempt, and the whole operation with the SDK's
/// retries (<https://docs.aws.amazon.com/sdk-for-rust/latest/dg/timeouts.html>).
async fn aws_config(aws: &AwsSettings, timeouts: &TimeoutSettings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(aws.region.clone()))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(timeouts.aws_connect())
                .operation_attempt_timeout(timeouts.aws_attempt())
                .operation_timeout(timeouts.aws_operation())
                .build(),
        );
    if let Some(url) = &aws.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let endpoints = [&aws.endpoint_url, &aws.codepipeline_endpoint_url];
    if endpoints
        .iter()
        .any(|u| u.as_deref().is_some_and(is_loopback))
    {
        loader = loader.credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "emulator",
        ));
    }
    loader.load().await
}

/// Whether `url` points at this machine, read by the URL parser (so `127.0.0.1.example.com`
/// is not).
fn is_loopback(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| config::is_loopback(&u))
}

/// CodePipeline's client; its calls' outcomes are marked in `marks` for `/healthz`.
fn codepipeline_client(
    aws: &SdkConfig,
    settings: &AwsSettings,
    marks: Arc<Health>,
) -> aws_sdk_codepipeline::Client {
    let mut config =
        aws_sdk_codepipeline::config::Builder::from(aws).interceptor(Answering::new(marks));
    if let Some(url) = &settings.codepipeline_endpoint_url {
        config = config.endpoint_url(url);
    }
    aws_sdk_codepipeline::Client::from_conf(config.build())
}

/// The state table's client: a click waits on it after the ack, so a hung attempt is cut short
/// (at 2 s, or sooner if `[timeouts]` says so) and retried by the SDK rather than holding the
/// decision.
fn dynamodb_client(aws: &SdkConfig, timeouts: &TimeoutSettings) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(aws)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(timeouts.aws_connect())
                .operation_attempt_timeout(STATE_ATTEMPT_TIMEOUT.min(timeouts.aws_attempt()))
                .operation_timeout(timeouts.aws_operation())
                .build(),
        )
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The SQS client: a `ReceiveMessage` long poll answers only after its wait
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html>),
/// so an attempt and the operation get the longest wait (`approvals.wait_time_secs`; the
/// events queue's is at most that) on top of `[timeouts]`: shorter would time out every empty
/// poll.
fn sqs_client(
    aws: &SdkConfig,
    timeouts: &TimeoutSettings,
    wait_time_secs: i32,
) -> aws_sdk_sqs::Client {
    let wait = Duration::from_secs(u64::try_from(wait_time_secs).unwrap_or(20));
    let config = aws_sdk_sqs::config::Builder::from(aws)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(timeouts.aws_connect())
                .operation_attempt_timeout(wait + timeouts.aws_attempt())
                .operation_timeout(wait + timeouts.aws_operation())
                .build(),
        )
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_aws_client_is_bounded_and_an_sqs_long_poll_outlasts_its_wait() {
        let aws = AwsSettings {
            region: "eu-west-1".into(),
            endpoint_url: Some("http://127.0.0.1:4566".into()),
            codepipeline_endpoint_url: None,
        };
        let timeouts = TimeoutSettings::default();
        let sdk = aws_config(&aws, &timeouts).await;
        let secs = |t: Option<&TimeoutConfig>| {
            let t = t.expect("a timeout config");
            (
                t.connect_timeout().map(|d| d.as_secs()),
                t.operation_attempt_timeout().map(|d| d.as_secs()),
                t.operation_timeout().map(|d| d.as_secs()),
            )
        };

        assert_eq!(secs(sdk.timeout_config()), (Some(3), Some(10), Some(30)));
        let codepipeline = codepipeline_client(&sdk, &aws, Arc::default());
        assert_eq!(
            secs(codepipeline.config().timeout_config()),
            (Some(3), Some(10), Some(30))
        );
        let dynamodb = dynamodb_client(&sdk, &timeouts);
        assert_eq!(
            secs(dynamodb.config().timeout_config()),
            (Some(3), Some(2), Some(30))
        );
        // A 20 s ReceiveMessage wait, then the ordinary bounds.
        let sqs = sqs_client(&sdk, &timeouts, 20);
        assert_eq!(
            secs(sqs.config().timeout_config()),
            (Some(3), Some(30), Some(50))
        );
    }

    #[test]
    fn only_a_loopback_endpoint_gets_the_emulator_s_credentials() {
        for url in [
            "http://127.0.0.1:4566",
            "http://localhost:4566",
            "http://[::1]:4566",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "http://127.0.0.1.example.com:4566",
            "http://127.0.0.1@example.com:4566",
            "https://sqs.eu-west-1.amazonaws.com",
            "not a url",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }
}
