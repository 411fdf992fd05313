//! An Approve/Reject click: re-validate the button, check the clicker, record the decision in
//! CodePipeline once, restamp the prompt, reply to the clicker, and write the audit line.

use chrono::Utc;
use slack_morphism::prelude::SlackBlock;
use std::time::{Duration, Instant};

use super::access::approvers_mention;
use super::{ApprovalRef, Approvals, Decision};
use crate::ids::{ApprovalToken, UserId};
use crate::outbound::blocks::{self, Outcome};
use crate::outbound::codepipeline::DecisionError;

/// Attempts at restamping a prompt after the decision is recorded.
const RESTAMP_ATTEMPTS: u32 = 3;

/// A button click, as the Socket Mode adapter hands it over (nothing trusted yet).
#[derive(Debug, Clone)]
pub struct Click {
    pub decision: Decision,
    /// The button's value: an encoded [`ApprovalRef`], to be re-validated.
    pub value: String,
    pub user_id: String,
    pub user_name: Option<String>,
    pub team_id: String,
    pub channel_id: String,
    pub message_ts: String,
    /// The prompt's fallback text and blocks as Slack shows them now.
    pub message_text: Option<String>,
    pub message_blocks: Vec<SlackBlock>,
}

/// Why a click was refused before reaching CodePipeline.
struct Refusal {
    /// The audit outcome.
    outcome: &'static str,
    /// What the clicker is told.
    text: String,
}

impl Refusal {
    fn new(outcome: &'static str, text: String) -> Self {
        Self { outcome, text }
    }
}

/// What a later click on a closed prompt is told.
fn closed_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Decided {
            decision, user_id, ..
        } => format!(
            "This approval was already {} by <@{user_id}>; your click changed nothing.",
            decision.past_tense().to_lowercase()
        ),
        Outcome::AlreadyDecided { .. } => {
            "This approval was already decided; your click changed nothing.".into()
        }
        Outcome::NoLongerValid { .. } => {
            "This approval expired or was superseded; your click changed nothing.".into()
        }
    }
}

/// Where a token stands in this process.
#[derive(Debug, Clone)]
pub enum TokenState {
    /// A decision by `user` is being recorded.
    InFlight { user: UserId },
    /// The prompt was closed with this outcome.
    Closed(Outcome),
}

impl Approvals {
    /// Handles one click to the end; every outcome is answered in Slack and audited.
    pub async fn decide(&self, click: Click) {
        let started = Instant::now();
        let approval = match ApprovalRef::decode(&click.value) {
            Ok(a) => a,
            Err(reason) => {
                tracing::warn!(%reason, "refused a click with an invalid button value");
                self.tell(
                    &click,
                    "This button is not a valid approval prompt; nothing was done.",
                )
                .await;
                return;
            }
        };
        let span = tracing::Span::current();
        span.record("pipeline", approval.pipeline.as_str());
        span.record("token_hash", approval.token.hash());
        let audit = |outcome: &str, reason: &str| {
            tracing::info!(
                target: "chatops::audit",
                user = %click.user_id,
                team = %click.team_id,
                pipeline = %approval.pipeline,
                stage = %approval.stage,
                action = %approval.action,
                token_hash = %approval.token.hash(),
                decision = click.decision.past_tense(),
                outcome,
                reason,
                latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "approval decision"
            );
        };
        let user = match self.check(&click, &approval).await {
            Ok(user) => user,
            Err(refusal) => {
                audit(refusal.outcome, &refusal.text);
                self.tell(&click, &refusal.text).await;
                return;
            }
        };
        let summary = format!(
            "{} in Slack by {} ({})",
            click.decision.past_tense(),
            click.user_name.as_deref().unwrap_or("unknown user"),
            user
        );
        let result = self
            .clients
            .codepipeline
            .put_approval_result(&approval, click.decision, &summary)
            .await;
        let at = Utc::now();
        let (outcome, text) = match result {
            Ok(()) => {
                audit("recorded", "");
                let outcome = Outcome::Decided {
                    decision: click.decision,
                    user_id: user.to_string(),
                    at,
                };
                (Some(outcome), None)
            }
            Err(DecisionError::AlreadyCompleted) => {
                audit("already_decided", "ApprovalAlreadyCompletedException");
                (
                    Some(Outcome::AlreadyDecided { at }),
                    Some("This approval was already decided in CodePipeline; your click changed nothing.".to_owned()),
                )
            }
            Err(DecisionError::NoLongerValid) => {
                audit("no_longer_valid", "InvalidApprovalTokenException");
                (
                    Some(Outcome::NoLongerValid { at }),
                    Some("This approval expired or was superseded by a newer execution; your click changed nothing.".to_owned()),
                )
            }
            Err(e) => {
                tracing::error!(error = %e, "PutApprovalResult failed");
                audit("failed", &e.to_string());
                (
                    None,
                    Some(format!(
                        "Could not record your decision in CodePipeline: {e}. The prompt is still open; try again."
                    )),
                )
            }
        };
        self.settle(&approval.token, outcome.clone());
        if let Some(outcome) = outcome {
            self.restamp(&click, &outcome).await;
        }
        if let Some(text) = text {
            self.tell(&click, &text).await;
        }
    }

    /// Checks the pipeline, the clicker and the token's state; claims the token for this click.
    ///
    /// # Errors
    /// The refusal to show the clicker (nothing reaches CodePipeline).
    async fn check(&self, click: &Click, approval: &ApprovalRef) -> Result<UserId, Refusal> {
        let pipeline = self
            .settings
            .pipeline(approval.pipeline.as_str())
            .ok_or_else(|| {
                Refusal::new(
                    "unknown_pipeline",
                    format!(
                        "Pipeline `{}` is not served by this bot; nothing was done.",
                        approval.pipeline
                    ),
                )
            })?;
        let user = UserId::parse(&click.user_id).map_err(|e| {
            Refusal::new(
                "invalid_user",
                format!("Your Slack user could not be read ({e}); nothing was done."),
            )
        })?;
        match self.access.may_approve(pipeline, &user).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(Refusal::new(
                    "not_an_approver",
                    format!(
                        "You are not an approver of `{}`; nothing was sent to CodePipeline. Approvers: {}.",
                        approval.pipeline,
                        approvers_mention(pipeline)
                    ),
                ))
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read user-group members");
                return Err(Refusal::new(
                    "approvers_unknown",
                    format!("Could not check whether you may approve ({e}); nothing was sent to CodePipeline. Try again."),
                ));
            }
        }
        let previous = self
            .decisions
            .lock()
            .map_err(|_| {
                Refusal::new(
                    "internal",
                    "Internal error; nothing was done. Try again.".into(),
                )
            })
            .map(|mut d| {
                let previous = d.get(&approval.token).cloned();
                if previous.is_none() {
                    d.insert(
                        approval.token.clone(),
                        TokenState::InFlight { user: user.clone() },
                    );
                }
                previous
            })?;
        match previous {
            None => Ok(user),
            Some(TokenState::InFlight { user: other }) => Err(Refusal::new(
                "in_flight",
                format!(
                    "<@{other}> is deciding this approval right now; your click changed nothing."
                ),
            )),
            Some(TokenState::Closed(outcome)) => Err(Refusal::new("closed", closed_text(&outcome))),
        }
    }

    /// Records the token's final state, or releases it so the prompt can be clicked again.
    fn settle(&self, token: &ApprovalToken, outcome: Option<Outcome>) {
        if let Ok(mut d) = self.decisions.lock() {
            match outcome {
                Some(o) => d.insert(token.clone(), TokenState::Closed(o)),
                None => d.remove(token),
            }
        }
    }

    /// Replaces the prompt's buttons with `outcome`, retrying a few times (rate limits).
    async fn restamp(&self, click: &Click, outcome: &Outcome) {
        let fallback = click.message_text.as_deref().unwrap_or("Approval");
        let content = match blocks::restamp(&click.message_blocks, fallback, outcome) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot render the restamped prompt");
                return;
            }
        };
        for attempt in 1..=RESTAMP_ATTEMPTS {
            match self
                .clients
                .slack
                .update(&click.channel_id, &click.message_ts, content.clone())
                .await
            {
                Ok(()) => return,
                Err(e) if attempt < RESTAMP_ATTEMPTS => {
                    let wait = e
                        .retry_after()
                        .unwrap_or(Duration::from_secs(u64::from(attempt)))
                        .min(Duration::from_secs(10));
                    tracing::warn!(error = %e, attempt, "chat.update failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, ts = %click.message_ts, "cannot restamp the prompt")
                }
            }
        }
    }

    /// An ephemeral reply to the clicker.
    async fn tell(&self, click: &Click, text: &str) {
        if let Err(e) = self
            .clients
            .slack
            .ephemeral(&click.channel_id, &click.user_id, text)
            .await
        {
            tracing::warn!(error = %e, "cannot send an ephemeral reply");
        }
    }
}
