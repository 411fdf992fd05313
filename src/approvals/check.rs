//! The checks before an attempt reaches CodePipeline: a served pipeline, a readable user, the
//! policy's channel, one-click permission and approvers, and no self-approval.

use super::decide::Attempt;
use super::policy::Policy;
use super::Outcome;
use super::{Approvals, Decision};
use crate::outbound::records::StoreError;
use crate::outbound::slack::mrkdwn::mentions;

/// Why an attempt was refused before reaching CodePipeline.
pub(super) struct Refusal {
    /// The audit outcome.
    pub(super) outcome: &'static str,
    /// What the person is told.
    pub(super) text: String,
}

impl Refusal {
    pub(super) fn new(outcome: &'static str, text: String) -> Self {
        Self { outcome, text }
    }
}

/// What a person is told when the shared records cannot be reached (the cause is logged).
pub(super) fn store_refusal(e: &StoreError) -> Refusal {
    tracing::error!(error = %e, "the shared records cannot be reached; refusing the attempt");
    Refusal::new(
        "store_unavailable",
        "The bot cannot record decisions right now; nothing was sent to CodePipeline. Try again in a minute.".into(),
    )
}

/// What a later attempt on a closed prompt is told.
pub(super) fn closed_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Decided {
            decision, users, ..
        } => format!(
            "This approval was already {} by {}; your click changed nothing.",
            decision.past_tense().to_lowercase(),
            mentions(users, &[], "nobody")
        ),
        Outcome::AlreadyDecided { .. } | Outcome::DecidedElsewhere { .. } => {
            "This approval was already decided; your click changed nothing.".into()
        }
        Outcome::NoLongerValid { .. }
        | Outcome::Expired { .. }
        | Outcome::Superseded { .. }
        | Outcome::Stopped { .. } => {
            "This approval expired or was superseded; your click changed nothing.".into()
        }
    }
}

impl Approvals {
    /// Checks the pipeline, the channel and the policy for the person; returns the quorum.
    ///
    /// # Errors
    /// The refusal to show (nothing reaches CodePipeline).
    pub(super) async fn check(&self, a: &Attempt) -> Result<u8, Refusal> {
        let approval = &a.approval;
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
        let policy = Policy::of(pipeline, approval);
        let user = &a.user;
        // Fail closed: without the shared records, the channel, the starter and the quorum
        // cannot be checked.
        let prompt = self
            .records
            .prompt(&approval.token)
            .await
            .map_err(|e| store_refusal(&e))?;
        // Fail closed: a prompt the records do not know (not posted by this bot, or its record
        // lost) counts as posted in the pipeline's own channel, not "anywhere".
        let posted_in = Some(
            prompt
                .as_ref()
                .map_or(&pipeline.channel, |p| &p.posted.channel),
        );
        if !policy.allows_channel(&a.target.channel, posted_in) {
            return Err(Refusal::new(
                "wrong_channel",
                format!(
                    "This approval can only be decided in {}; nothing was sent to CodePipeline.",
                    policy.channels_mention(posted_in)
                ),
            ));
        }
        if a.one_click && !policy.one_click_approve {
            return Err(Refusal::new(
                "one_click_not_allowed",
                "One-click approval is turned off for this action; use \"Approve…\".".into(),
            ));
        }
        match self.access.may_approve(&policy, user).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(Refusal::new(
                    "not_an_approver",
                    format!(
                        "You are not an approver of `{}` / `{}`; nothing was sent to CodePipeline. Approvers: {}.",
                        approval.pipeline,
                        approval.stage,
                        policy.approvers_mention()
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
        let noted = match &approval.execution {
            Some(e) => self
                .records
                .starter(e.as_str())
                .await
                .map_err(|e| store_refusal(&e))?,
            None => None,
        };
        if a.decision == Decision::Approve {
            let starter = match (noted, &prompt) {
                (Some(noted), _) => Some(noted),
                (None, Some(p)) if p.starter_known => p.starter.clone(),
                // Fail closed: not knowing who started it is not "nobody started it".
                _ => self.starter_now(approval).await.map_err(|reason| {
                    tracing::warn!(%reason, "who started the execution is unknown; refusing the approval");
                    Refusal::new(
                        "starter_unknown",
                        "CodePipeline cannot say right now who started this execution, so an approval cannot be checked against self-approval; nothing was sent to CodePipeline. Try again in a minute.".into(),
                    )
                })?,
            };
            let why = if starter.as_ref() == Some(user) {
                Some("started this execution")
            } else if match &prompt {
                Some(p) => p.authors.contains(user),
                None => self.authors_of(approval).await.contains(user),
            } {
                Some("wrote a revision this execution promotes")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(Refusal::new(
                    "self_approval",
                    format!(
                        "You {why}, so you cannot approve it (no self-approval); nothing was sent to CodePipeline. Ask another approver: {}.",
                        policy.approvers_mention()
                    ),
                ));
            }
        }
        Ok(policy.quorum)
    }
}
