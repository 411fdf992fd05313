//! `/deploy`: help, list, status, history, start and stop CodePipeline executions from Slack,
//! and follow a started execution to its end in one thread.
//!
//! `parse` reads the text before the ack (pure); `accept` answers in the ack and hands the rest
//! to a task that replies through the command's `response_url` or `chat.postMessage`. Starts
//! and stops go through a confirmation (an ephemeral message with buttons, `action_id` prefix
//! `deploy:`) handled by `confirm`; `follow` watches a started execution, fed by the EventBridge
//! events queue (when configured; parsed by `crate::events`) and polls; `history` reads and
//! writes the pipeline's audit trail (`crate::audit`). Who may do what, where (`super::access`):
//! a pipeline is named in its own channel (and its `command_channels`; a DM only with
//! `command_in_dm`), checked in the ack; its approvers, deployers and viewers read it (status,
//! history, list) and its deployers start and stop it, checked after the ack; unconfigured
//! pipelines are refused in `parse`.

mod confirm;
mod follow;
mod history;
pub mod parse;
mod progress;
mod records;
pub mod render;

use chrono::Utc;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

use super::{access, Accepted, AckReply, Context, Invocation, SlashCommand, Spec};
use crate::approvals::Approvals;
use crate::config::{PipelineSettings, Settings};
use crate::error::Failure;
use crate::ids::{PipelineName, UserId};
use crate::outbound::codepipeline::DeployError;
use crate::outbound::slack::mrkdwn::mentions;
use crate::outbound::slack::Response;
use crate::outbound::Clients;
use crate::sync::lock;
use parse::Args;
use progress::Change;

use crate::interaction::ButtonClick;

/// `/deploy` in the registry (and in the Slack app manifest).
pub const SPEC: Spec = Spec {
    name: "/deploy",
    description: "Start, watch and stop pipelines; act on pending approvals.",
    usage_hint: "help | list | status <pipeline> | history <pipeline> [N] | <pipeline> [revision] [VAR=value …] | stop <pipeline> [reason]",
    action_prefix: Some(render::PREFIX),
};

/// The command, built once by the registry.
pub fn build(context: &Context) -> Arc<dyn SlashCommand> {
    Arc::new(DeployCommand(Arc::new(Deploy::new(
        context.settings.clone(),
        context.clients.clone(),
        context.approvals.clone(),
        context.cancel.clone(),
    ))))
}

/// [`Deploy`] as the registry sees it.
struct DeployCommand(Arc<Deploy>);

impl SlashCommand for DeployCommand {
    fn accept(&self, inv: Invocation) -> Accepted {
        let args = match Deploy::parse(&inv.text, &self.0.settings) {
            Ok(args) => args,
            Err(e) => return Accepted::reply_only(e.0),
        };
        match self.0.scope(&inv, &args) {
            Ok(()) => self.0.accept(inv, args),
            Err(reason) => {
                super::access::refused(&inv.command, &inv.user, &inv.channel, &reason);
                Accepted::reply_only(reason)
            }
        }
    }

    fn click(&self, click: ButtonClick) -> Option<futures_util::future::BoxFuture<'static, ()>> {
        let deploy = self.0.clone();
        Some(Box::pin(async move { deploy.click(click).await }))
    }

    fn on_event(&self, event: &crate::events::PipelineEvent) {
        self.0.on_event(event);
    }

    fn background(&self) -> Option<futures_util::future::BoxFuture<'static, ()>> {
        Some(Box::pin(self.0.clone().adopt_periodically()))
    }
}

/// The `/deploy` capability; one per process.
pub struct Deploy {
    settings: Arc<Settings>,
    clients: Clients,
    approvals: Arc<Approvals>,
    /// Executions this process follows → where their state changes go.
    followers: Mutex<HashMap<String, tokio::sync::mpsc::UnboundedSender<Change>>>,
    /// The followed executions of every process, and their leases.
    records: records::DeployRecords,
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
        let records = records::DeployRecords::new(
            clients.records.clone(),
            settings.lease(),
            std::time::Duration::from_secs(settings.deploy.follow_max_minutes * 60),
        );
        Self {
            settings,
            clients,
            approvals,
            followers: Mutex::new(HashMap::new()),
            records,
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

    /// Checks, without I/O, that `args` may be run in `inv`'s channel (who runs it is checked
    /// after the ack: user groups need Slack).
    ///
    /// # Errors
    /// What to tell the user.
    fn scope(&self, inv: &Invocation, args: &Args) -> Result<(), String> {
        let named = match args {
            Args::Help => return Ok(()),
            Args::List => {
                let any = self
                    .settings
                    .pipelines
                    .iter()
                    .any(|p| access::pipeline_in_scope(p, &inv.channel));
                return if any {
                    Ok(())
                } else {
                    Err("No pipeline is served here; use `/deploy list` in a pipeline's channel. Nothing was read.".to_owned())
                };
            }
            Args::Status(p) => p,
            Args::History(h) => &h.pipeline,
            Args::Start(s) => &s.pipeline,
            Args::Stop(s) => &s.pipeline,
        };
        // `parse` accepts configured pipelines only.
        match self.settings.pipeline(named.as_str()) {
            Some(p) if access::pipeline_in_scope(p, &inv.channel) => Ok(()),
            Some(p) => Err(access::out_of_scope(p, &inv.channel)),
            None => Err(format!("`{named}` is not a pipeline this bot serves.")),
        }
    }

    /// The ack's reply and the work after it.
    fn accept(self: &Arc<Self>, inv: Invocation, args: Args) -> Accepted {
        let reply = match &args {
            Args::Help => parse::USAGE.to_owned(),
            Args::List => "Reading the latest executions…".to_owned(),
            Args::Status(p) => format!("Reading the state of `{p}`…"),
            Args::History(h) => format!("Reading the history of `{}`…", h.pipeline),
            Args::Start(s) => format!("Preparing the start of `{}`…", s.pipeline),
            Args::Stop(s) => format!("Looking for the running execution of `{}`…", s.pipeline),
        };
        let this = self.clone();
        Accepted {
            reply: AckReply::ephemeral(reply),
            work: Some(Box::pin(async move { this.run(inv, args).await })),
        }
    }

    async fn run(&self, inv: Invocation, args: Args) {
        let user = inv.user.clone();
        let text = match args {
            Args::Help => Some(self.help(&user).await),
            Args::List => Some(self.list(&inv).await),
            Args::Status(p) => match self.check_viewer(&inv, &p).await {
                Ok(()) => self.status(&inv, &p).await.err().map(Failure::reply),
                Err(e) => Some(e.reply()),
            },
            Args::History(h) => match self.check_viewer(&inv, &h.pipeline).await {
                Ok(()) => self.history(&inv, &h).await.err().map(Failure::reply),
                Err(e) => Some(e.reply()),
            },
            Args::Start(start) => self
                .offer_start(&inv, &user, start)
                .await
                .err()
                .map(Failure::reply),
            Args::Stop(stop) => self
                .offer_stop(&inv, &user, stop)
                .await
                .err()
                .map(Failure::reply),
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

    /// The pipelines served in the invocation's channel that its user may see.
    async fn list(&self, inv: &Invocation) -> String {
        let now = Utc::now();
        let mut lines = Vec::new();
        for p in &self.settings.pipelines {
            if !access::pipeline_in_scope(p, &inv.channel)
                || !self.is_viewer(p, &inv.user).await.unwrap_or(false)
            {
                continue;
            }
            let latest = self
                .clients
                .codepipeline
                .recent_executions(&p.name, 1)
                .await
                .map(|e| e.into_iter().next())
                .map_err(|e| failure(&p.name, e).reply());
            lines.push(render::list_line(&p.name, &latest, now));
        }
        if lines.is_empty() {
            let reason = "You may not see any pipeline served here; nothing was read.";
            access::refused(&inv.command, &inv.user, &inv.channel, reason);
            return reason.to_owned();
        }
        lines.join("\n")
    }

    /// `/deploy status`, posted in the channel so a pending approval's buttons work there.
    async fn status(&self, inv: &Invocation, pipeline: &PipelineName) -> Result<(), Failure> {
        let cp = &self.clients.codepipeline;
        let stages = cp
            .stages(pipeline)
            .await
            .map_err(|e| failure(pipeline, e))?;
        let latest = cp
            .recent_executions(pipeline, 1)
            .await
            .map_err(|e| failure(pipeline, e))?;
        let blocks = render::status(pipeline, &stages, latest.first(), Utc::now());
        let prompt = self.pending_prompt(pipeline, &stages);
        let content =
            render::status_message(pipeline, blocks, prompt).map_err(Failure::internal)?;
        self.clients
            .slack
            .post(&inv.channel, content, None)
            .await
            .map(|_| ())
            .map_err(|e| Failure::user(format!("Could not post the status in this channel ({e}).")))
    }

    /// The approval prompt of an approval waiting in `stages`, if one does.
    fn pending_prompt(
        &self,
        pipeline: &PipelineName,
        stages: &[crate::outbound::codepipeline::StageView],
    ) -> Option<slack_morphism::prelude::SlackMessageContent> {
        use crate::approvals::ApprovalRef;
        use crate::ids::{ActionName, ApprovalToken, ExecutionId, StageName};
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
        self.approvals.status_prompt(&approval)
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

    /// Whether `user` may read `pipeline`'s state: an approver, deployer or viewer.
    async fn is_viewer(
        &self,
        pipeline: &PipelineSettings,
        user: &UserId,
    ) -> Result<bool, crate::outbound::slack::SlackError> {
        let (users, groups) = access::viewers(pipeline);
        self.approvals
            .access()
            .is_member(&users, &groups, user)
            .await
    }

    /// Checks that the invoking user may read `pipeline`'s state (`status`, `history`).
    ///
    /// # Errors
    /// What to tell the user (the refusal is logged).
    async fn check_viewer(&self, inv: &Invocation, pipeline: &PipelineName) -> Result<(), Failure> {
        let settings = self.settings.pipeline(pipeline.as_str()).ok_or_else(|| {
            Failure::user(format!("`{pipeline}` is not a pipeline this bot serves."))
        })?;
        let reason = match self.is_viewer(settings, &inv.user).await {
            Ok(true) => return Ok(()),
            Ok(false) => format!(
                "You may not see `{pipeline}`: only its approvers, deployers and viewers may. Nothing was read."
            ),
            Err(e) => format!(
                "Could not check whether you may see `{pipeline}` ({e}); nothing was read. Try again."
            ),
        };
        access::refused(&inv.command, &inv.user, &inv.channel, &reason);
        Err(Failure::user(reason))
    }

    /// Checks that `user` may start and stop `pipeline`.
    ///
    /// # Errors
    /// What to tell the user.
    async fn check_deployer(
        &self,
        pipeline: &PipelineName,
        user: &UserId,
    ) -> Result<&PipelineSettings, Failure> {
        let settings = self.settings.pipeline(pipeline.as_str()).ok_or_else(|| {
            Failure::user(format!("`{pipeline}` is not a pipeline this bot serves."))
        })?;
        match self.is_deployer(settings, user).await {
            Ok(true) => Ok(settings),
            Ok(false) => {
                tracing::info!(%user, %pipeline, "start or stop refused: not a deployer");
                let who = mentions(
                    &settings.deployer_users,
                    &settings.deployer_groups,
                    "nobody is configured",
                );
                Err(Failure::user(format!(
                    "You may not start or stop `{pipeline}`; nothing was done. Deployers: {who}."
                )))
            }
            Err(e) => Err(Failure::user(format!(
                "Could not check whether you may deploy ({e}); nothing was done. Try again."
            ))),
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
    fn on_event(&self, event: &crate::events::PipelineEvent) {
        let Some(change) = progress::from_event(event) else {
            return;
        };
        if let Some(tx) = lock(&self.followers).get(event.execution_id.as_str()) {
            let _ = tx.send(change);
        }
    }
}

/// What a CodePipeline failure means to the user; anything unexpected is internal.
fn failure(pipeline: &PipelineName, e: DeployError) -> Failure {
    let text = match e {
        DeployError::NotFound => format!("CodePipeline has no pipeline `{pipeline}` (it is configured here, not in AWS)."),
        DeployError::Throttled => "CodePipeline is throttling requests right now; the bot retried with backoff and gave up. Try again in a minute.".to_owned(),
        DeployError::Conflict => format!("CodePipeline says `{pipeline}` is busy with other activities; try again shortly."),
        DeployError::ConcurrencyLimit => format!("`{pipeline}` already runs as many executions as it may at once; wait for one to finish, or stop one."),
        DeployError::NotStoppable => "That execution is not in progress any more; nothing to stop.".to_owned(),
        DeployError::AlreadyStopping => "A stop of that execution is already under way.".to_owned(),
        DeployError::Other(_) => return Failure::internal(e),
    };
    Failure::user(text)
}
