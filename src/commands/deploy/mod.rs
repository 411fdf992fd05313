//! `/deploy`: help, list, status, start and stop CodePipeline executions from Slack, and follow
//! a started execution to its end in one thread.
//!
//! `parse` reads the text before the ack (pure); `accept` answers in the ack and hands the rest
//! to a task that replies through the command's `response_url` or `chat.postMessage`. Starts
//! and stops go through a confirmation (an ephemeral message with buttons, `action_id` prefix
//! `deploy:`) handled by `confirm`; `follow` watches a started execution, fed by the EventBridge
//! events queue (when configured; parsed by `approvals::events`) and polls. Who may do what: deployers per pipeline
//! (start, stop), apart from approvers; unconfigured pipelines are refused in `parse`.

mod confirm;
mod follow;
pub mod parse;
mod progress;
pub mod render;

use chrono::Utc;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

use super::{Accepted, Invocation, Reply};
use crate::approvals::Approvals;
use crate::config::{PipelineSettings, Settings};
use crate::ids::{PipelineName, UserId};
use crate::outbound::codepipeline::DeployError;
use crate::outbound::slack::Response;
use crate::outbound::Clients;
use parse::Args;
use progress::Change;

pub use confirm::Click;

/// Confirmations remembered (one start or stop per confirmation).
const REMEMBERED: u64 = 10_000;

/// The `/deploy` capability; one per process.
pub struct Deploy {
    settings: Arc<Settings>,
    clients: Clients,
    approvals: Arc<Approvals>,
    /// Followed executions → where their state changes go.
    followers: Mutex<HashMap<String, tokio::sync::mpsc::UnboundedSender<Change>>>,
    /// Confirmation token → what its first click did (the least recently used forgotten first;
    /// a new one is always taken).
    confirmed: Cache<String, confirm::Claim>,
    /// Fires at shutdown: followers stop watching.
    cancel: CancellationToken,
}

impl Deploy {
    /// The capability over the injected clients; `cancel` ends the followers.
    pub fn new(
        settings: Arc<Settings>,
        clients: Clients,
        approvals: Arc<Approvals>,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            settings,
            clients,
            approvals,
            followers: Mutex::new(HashMap::new()),
            confirmed: Cache::builder()
                .max_capacity(REMEMBERED)
                .eviction_policy(EvictionPolicy::lru())
                .build(),
            cancel,
        }
    }

    /// Parses the text of `/deploy` against the configured pipelines.
    ///
    /// # Errors
    /// The usage text, with what is wrong.
    pub fn parse(text: &str, settings: &Settings) -> Result<Args, crate::error::UserError> {
        let configured: Vec<&str> = settings.pipelines.iter().map(|p| p.name.as_str()).collect();
        parse::parse(text, &configured)
    }

    /// The ack's reply and the work after it.
    pub fn accept(self: &Arc<Self>, inv: &Invocation, args: Args) -> Accepted {
        let reply = match &args {
            Args::Help => parse::USAGE.to_owned(),
            Args::List => "Reading the latest executions…".to_owned(),
            Args::Status(p) => format!("Reading the state of `{p}`…"),
            Args::Start(s) => format!("Preparing the start of `{}`…", s.pipeline),
            Args::Stop(s) => format!("Looking for the running execution of `{}`…", s.pipeline),
        };
        let this = self.clone();
        let inv = inv.clone();
        Accepted {
            reply: Reply::ephemeral(reply),
            work: Some(Box::pin(async move { this.run(inv, args).await })),
        }
    }

    async fn run(&self, inv: Invocation, args: Args) {
        let user = match UserId::parse(&inv.user_id) {
            Ok(u) => u,
            Err(e) => {
                self.respond_text(
                    &inv.response_url,
                    &format!("Your Slack user could not be read ({e})."),
                )
                .await;
                return;
            }
        };
        let text = match args {
            Args::Help => Some(self.help(&user).await),
            Args::List => Some(self.list().await),
            Args::Status(p) => self.status(&inv, &p).await.err(),
            Args::Start(start) => self.offer_start(&inv, &user, start).await.err(),
            Args::Stop(stop) => self.offer_stop(&inv, &user, stop).await.err(),
        };
        if let Some(text) = text {
            self.respond_text(&inv.response_url, &text).await;
        }
    }

    async fn help(&self, user: &UserId) -> String {
        let mut roles = Vec::new();
        for p in &self.settings.pipelines {
            let mut mine = Vec::new();
            if self.is_deployer(p, user).await.unwrap_or(false) {
                mine.push("start, stop");
            }
            let approvers = self
                .approvals
                .access()
                .is_member(&p.approver_users, &p.approver_groups, user)
                .await;
            if approvers.unwrap_or(false) {
                mine.push("approve");
            }
            roles.push((p.name.to_string(), mine));
        }
        render::help(&roles)
    }

    async fn list(&self) -> String {
        let now = Utc::now();
        let mut lines = Vec::new();
        for p in &self.settings.pipelines {
            let latest = self
                .clients
                .codepipeline
                .recent_executions(&p.name, 1)
                .await
                .map(|e| e.into_iter().next())
                .map_err(|e| user_text(&p.name, &e));
            lines.push(render::list_line(&p.name, &latest, now));
        }
        if lines.is_empty() {
            return "No pipelines are configured.".to_owned();
        }
        lines.join("\n")
    }

    /// `/deploy status`, posted in the channel so a pending approval's buttons work there.
    async fn status(&self, inv: &Invocation, pipeline: &PipelineName) -> Result<(), String> {
        let cp = &self.clients.codepipeline;
        let stages = cp
            .stages(pipeline)
            .await
            .map_err(|e| user_text(pipeline, &e))?;
        let latest = cp
            .recent_executions(pipeline, 1)
            .await
            .map_err(|e| user_text(pipeline, &e))?;
        let blocks = render::status(pipeline, &stages, latest.first(), Utc::now());
        let prompt = self.pending_prompt(pipeline, &stages);
        let content = render::status_message(pipeline, blocks, prompt).map_err(|e| internal(&e))?;
        let channel = crate::ids::ChannelId::parse(&inv.channel_id).map_err(|e| e.to_string())?;
        self.clients
            .slack
            .post(&channel, content, None)
            .await
            .map(|_| ())
            .map_err(|e| format!("Could not post the status in this channel ({e})."))
    }

    /// The approval prompt of an approval waiting in `stages`, if one does.
    fn pending_prompt(
        &self,
        pipeline: &PipelineName,
        stages: &[crate::outbound::codepipeline::StageView],
    ) -> Option<slack_morphism::prelude::SlackMessageContent> {
        use crate::approvals::{policy::Policy, ApprovalRef, ApprovalRequest};
        use crate::ids::{ActionName, ApprovalToken, ExecutionId, StageName};
        let settings = self.settings.pipeline(pipeline.as_str())?;
        let (stage, action, token) = stages.iter().find_map(|s| {
            s.actions.iter().find_map(|a| {
                let token = a
                    .token
                    .as_deref()
                    .filter(|_| a.status.as_deref() == Some("InProgress"))?;
                Some((s, a, token))
            })
        })?;
        let approval = ApprovalRef {
            pipeline: pipeline.clone(),
            stage: StageName::parse(&stage.name).ok()?,
            action: ActionName::parse(&action.name).ok()?,
            token: ApprovalToken::parse(token).ok()?,
            execution: stage
                .execution_id
                .as_deref()
                .and_then(|e| ExecutionId::parse(e).ok()),
        };
        let options = crate::outbound::blocks::PromptOptions {
            one_click: Policy::of(settings, &approval).one_click_approve,
            starter: None,
            authors: &[],
        };
        let req = ApprovalRequest {
            approval,
            region: self.settings.aws.region.clone(),
            console_link: None,
            review_link: None,
            external_entity_link: None,
            custom_data: None,
            expires: None,
        };
        crate::outbound::blocks::approval_prompt(&req, None, options).ok()
    }

    /// Whether `user` may start and stop `pipeline`.
    async fn is_deployer(
        &self,
        pipeline: &PipelineSettings,
        user: &UserId,
    ) -> Result<bool, crate::outbound::slack::SlackError> {
        self.approvals
            .access()
            .is_member(&pipeline.deployer_users, &pipeline.deployer_groups, user)
            .await
    }

    /// Checks that `user` may start and stop `pipeline`.
    ///
    /// # Errors
    /// What to tell the user.
    async fn check_deployer(
        &self,
        pipeline: &PipelineName,
        user: &UserId,
    ) -> Result<&PipelineSettings, String> {
        let settings = self
            .settings
            .pipeline(pipeline.as_str())
            .ok_or_else(|| format!("`{pipeline}` is not a pipeline this bot serves."))?;
        match self.is_deployer(settings, user).await {
            Ok(true) => Ok(settings),
            Ok(false) => {
                let deployers: Vec<String> = settings
                    .deployer_users
                    .iter()
                    .map(|u| format!("<@{u}>"))
                    .chain(
                        settings
                            .deployer_groups
                            .iter()
                            .map(|g| format!("<!subteam^{g}>")),
                    )
                    .collect();
                let who = if deployers.is_empty() {
                    "nobody is configured".to_owned()
                } else {
                    deployers.join(", ")
                };
                Err(format!(
                    "You may not start or stop `{pipeline}`; nothing was done. Deployers: {who}."
                ))
            }
            Err(e) => Err(format!(
                "Could not check whether you may deploy ({e}); nothing was done. Try again."
            )),
        }
    }

    /// An ephemeral text through `response_url`; a failure is only logged.
    async fn respond_text(&self, response_url: &str, text: &str) {
        let content =
            slack_morphism::prelude::SlackMessageContent::new().with_text(text.to_owned());
        self.respond(response_url, &Response::ephemeral(content))
            .await;
    }

    async fn respond(&self, response_url: &str, response: &Response) {
        if let Err(e) = self.clients.slack.respond(response_url, response).await {
            tracing::warn!(error = %e, "cannot answer through response_url");
        }
    }

    /// Hands an EventBridge state change to the follower of its execution, if there is one.
    pub fn on_event(&self, event: &crate::approvals::events::PipelineEvent) {
        let Some(change) = progress::from_event(event) else {
            return;
        };
        if let Ok(followers) = self.followers.lock() {
            if let Some(tx) = followers.get(event.execution_id.as_str()) {
                let _ = tx.send(change);
            }
        }
    }
}

/// What a CodePipeline failure means to the user; internal errors get a reference.
fn user_text(pipeline: &PipelineName, e: &DeployError) -> String {
    match e {
        DeployError::NotFound => format!("CodePipeline has no pipeline `{pipeline}` (it is configured here, not in AWS)."),
        DeployError::Throttled => "CodePipeline is throttling requests right now; the bot retried with backoff and gave up. Try again in a minute.".to_owned(),
        DeployError::Conflict => format!("CodePipeline says `{pipeline}` is busy with other activities; try again shortly."),
        DeployError::ConcurrencyLimit => format!("`{pipeline}` already runs as many executions as it may at once; wait for one to finish, or stop one."),
        DeployError::NotStoppable => "That execution is not in progress any more; nothing to stop.".to_owned(),
        DeployError::AlreadyStopping => "A stop of that execution is already under way.".to_owned(),
        DeployError::Other(_) => internal(e),
    }
}

/// Logs an internal error with a reference and returns what the user sees.
fn internal(e: &dyn std::fmt::Display) -> String {
    let reference = format!("{:x}", Utc::now().timestamp_micros() & 0xff_ffff);
    tracing::error!(error = %e, reference, "/deploy failed");
    format!("Something went wrong (ref {reference}); nothing more was done.")
}
