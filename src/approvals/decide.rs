//! A decision attempt, from a button (one-click "Approve") or a reason modal's submission:
//! re-validate, check the policy (channel, approver, no self-approval), count it toward the
//! quorum, record the decision in CodePipeline once, restamp the prompt, reply to the person,
//! and audit every outcome. "Approve…"/"Reject…" clicks only open the modal.

use chrono::Utc;
use moka::ops::compute::Op;
use moka::Entry;
use slack_morphism::prelude::SlackBlock;
use std::time::Instant;

use super::audit::AuditRecord;
use super::check::{closed_text, Refusal};
use super::modal::Reason;
use super::quorum::{self, Claim, TokenState, Vote};
use super::stamp::Target;
use super::{ApprovalRef, Approvals, Decision, Press};
use crate::ids::ApprovalToken;
use crate::outbound::blocks::Outcome;
use crate::outbound::codepipeline::DecisionError;

/// A button click, as the Socket Mode adapter hands it over (nothing trusted yet).
#[derive(Debug, Clone)]
pub struct Click {
    pub press: Press,
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
    /// Opens the reason modal, within 3 seconds of the click.
    pub trigger_id: String,
}

/// One attempt at a decision, its approval reference validated.
pub(super) struct Attempt {
    pub(super) decision: Decision,
    /// From the one-click "Approve" (not the modal).
    pub(super) one_click: bool,
    pub(super) approval: ApprovalRef,
    pub(super) user_id: String,
    pub(super) user_name: Option<String>,
    pub(super) team_id: String,
    pub(super) comment: Option<String>,
    pub(super) target: Target,
    pub(super) started: Instant,
}

impl Approvals {
    /// Handles one click to the end: a one-click approval is decided, "Approve…"/"Reject…"
    /// open the reason modal.
    pub async fn click(&self, click: Click) {
        let started = Instant::now();
        let approval = match ApprovalRef::decode(&click.value) {
            Ok(a) => a,
            Err(reason) => {
                tracing::warn!(%reason, "refused a click with an invalid button value");
                self.tell(
                    &click.channel_id,
                    &click.user_id,
                    "This button is not a valid approval prompt; nothing was done.",
                )
                .await;
                return;
            }
        };
        record_span(&approval);
        if click.press != Press::Approve {
            let opened = self
                .open_reason_modal(
                    &click.trigger_id,
                    click.press.decision(),
                    &approval,
                    &click.channel_id,
                    &click.message_ts,
                )
                .await;
            if let Err(e) = opened {
                tracing::warn!(error = %e, "cannot open the reason modal");
                let text = format!("Could not open the form ({e}); nothing was done. Try again.");
                self.tell(&click.channel_id, &click.user_id, &text).await;
            }
            return;
        }
        let target = self.target(
            &approval.token,
            &click.channel_id,
            &click.message_ts,
            &click.message_blocks,
            click.message_text.as_deref(),
        );
        self.attempt(Attempt {
            decision: Decision::Approve,
            one_click: true,
            approval,
            user_id: click.user_id,
            user_name: click.user_name,
            team_id: click.team_id,
            comment: None,
            target,
            started,
        })
        .await;
    }

    /// Handles a validated reason modal submission to the end.
    pub async fn decide_with_reason(&self, reason: Reason) {
        let m = reason.metadata;
        record_span(&m.approval);
        let target = self.target(&m.approval.token, m.channel.as_str(), &m.ts, &[], None);
        self.attempt(Attempt {
            decision: m.decision,
            one_click: false,
            approval: m.approval,
            user_id: reason.user_id,
            user_name: reason.user_name,
            team_id: reason.team_id,
            comment: reason.comment,
            target,
            started: Instant::now(),
        })
        .await;
    }

    async fn attempt(&self, a: Attempt) {
        let (user, quorum) = match self.check(&a).await {
            Ok(checked) => checked,
            Err(refusal) => return self.refuse(&a, refusal).await,
        };
        let vote = Vote {
            user,
            name: a.user_name.clone(),
            comment: a.comment.clone(),
        };
        let mut claim = None;
        self.decisions
            .entry_by_ref(&a.approval.token)
            .and_compute_with(|state| {
                let state = state.as_ref().map(Entry::value);
                let (made, next) = quorum::claim(state, a.decision, vote.clone(), quorum);
                claim = Some(made);
                next.map_or(Op::Nop, Op::Put)
            });
        let refusal = match claim {
            None => Refusal::new(
                "internal",
                "Internal error; nothing was done. Try again.".into(),
            ),
            Some(Claim::Decide { votes }) => return self.record(&a, vote, votes).await,
            Some(Claim::Counted { votes }) => return self.counted(&a, &votes, quorum).await,
            Some(Claim::AlreadyVoted) => Refusal::new(
                "already_voted",
                "You approved this already; another approver must approve too.".into(),
            ),
            Some(Claim::InFlight(other)) => Refusal::new(
                "in_flight",
                format!(
                    "<@{other}> is deciding this approval right now; your click changed nothing."
                ),
            ),
            Some(Claim::Closed(outcome)) => Refusal::new("closed", closed_text(&outcome)),
        };
        self.refuse(&a, refusal).await;
    }

    /// An approval short of the quorum: shown on the prompt, audited, confirmed to the person.
    async fn counted(&self, a: &Attempt, votes: &[Vote], quorum: u8) {
        let line = quorum::progress_line(votes, quorum);
        self.show_progress(&a.target, &line).await;
        self.audit_attempt(a, "vote_counted", a.comment.as_deref().unwrap_or(""), None)
            .await;
        let text = format!(
            "Your approval is counted: {line}. It goes to CodePipeline when {} more approve.",
            usize::from(quorum).saturating_sub(votes.len())
        );
        self.tell(&a.target.channel, &a.user_id, &text).await;
    }

    /// Sends the decision with everyone's names; restamps, replies and audits its outcome.
    async fn record(&self, a: &Attempt, vote: Vote, votes: Vec<Vote>) {
        let rejecter = (a.decision == Decision::Reject).then_some(&vote);
        let summary = quorum::summary(a.decision, &votes, rejecter);
        let result = self
            .clients
            .codepipeline
            .put_approval_result(&a.approval, a.decision, &summary)
            .await;
        let at = Utc::now();
        let (deciders, comment) = match rejecter {
            Some(r) => (vec![r.clone()], r.comment.clone()),
            None => (votes.clone(), joined_comments(&votes)),
        };
        let (outcome, text, audit) = match result {
            Ok(()) => {
                let outcome = Outcome::Decided {
                    decision: a.decision,
                    users: deciders.iter().map(|v| v.user.to_string()).collect(),
                    comment,
                    at,
                };
                (Some(outcome), None, ("recorded", String::new()))
            }
            Err(DecisionError::AlreadyCompleted) => (
                Some(Outcome::AlreadyDecided { at }),
                Some("This approval was already decided in CodePipeline; your click changed nothing.".to_owned()),
                ("already_decided", "ApprovalAlreadyCompletedException".to_owned()),
            ),
            Err(DecisionError::NoLongerValid) => (
                Some(Outcome::NoLongerValid { at }),
                Some("This approval expired or was superseded by a newer execution; your click changed nothing.".to_owned()),
                ("no_longer_valid", "InvalidApprovalTokenException".to_owned()),
            ),
            Err(e) => {
                tracing::error!(error = %e, "PutApprovalResult failed");
                (
                    None,
                    Some(format!(
                        "Could not record your decision in CodePipeline: {e}. The prompt is still open; try again."
                    )),
                    ("failed", e.to_string()),
                )
            }
        };
        let before: Vec<Vote> = votes.into_iter().filter(|v| v.user != vote.user).collect();
        self.settle(&a.approval.token, outcome.clone(), before);
        if let Some(outcome) = &outcome {
            self.close_prompt(&a.target, outcome).await;
        }
        self.audit_attempt(a, audit.0, &audit.1, Some(&summary))
            .await;
        if let Some(text) = text {
            self.tell(&a.target.channel, &a.user_id, &text).await;
        }
    }

    /// Records the token's final state, or puts back the votes counted before so the prompt
    /// can be used again.
    fn settle(&self, token: &ApprovalToken, outcome: Option<Outcome>, before: Vec<Vote>) {
        self.decisions
            .entry_by_ref(token)
            .and_compute_with(|_| match outcome {
                Some(o) => Op::Put(TokenState::Closed(o)),
                None if before.is_empty() => Op::Remove,
                None => Op::Put(TokenState::Voting(before)),
            });
    }

    async fn refuse(&self, a: &Attempt, refusal: Refusal) {
        self.audit_attempt(a, refusal.outcome, &refusal.text, None)
            .await;
        self.tell(&a.target.channel, &a.user_id, &refusal.text)
            .await;
    }

    async fn audit_attempt(
        &self,
        a: &Attempt,
        outcome: &'static str,
        reason: &str,
        summary: Option<&str>,
    ) {
        let record = AuditRecord::new(
            &a.approval,
            a.decision,
            &a.user_id,
            &a.team_id,
            outcome,
            reason,
            summary,
            a.started,
            Utc::now(),
        );
        self.audit(&record, &a.target.channel, &a.target.ts).await;
    }

    /// An ephemeral reply.
    async fn tell(&self, channel: &str, user: &str, text: &str) {
        if let Err(e) = self.clients.slack.ephemeral(channel, user, text).await {
            tracing::warn!(error = %e, "cannot send an ephemeral reply");
        }
    }
}

/// `"bob: lgtm; carol: ok"`, or `None` when nobody commented.
fn joined_comments(votes: &[Vote]) -> Option<String> {
    let comments: Vec<String> = votes
        .iter()
        .filter_map(|v| {
            let who = v.name.as_deref().unwrap_or(v.user.as_str());
            v.comment.as_deref().map(|c| format!("{who}: {c}"))
        })
        .collect();
    (!comments.is_empty()).then(|| comments.join("; "))
}

fn record_span(approval: &ApprovalRef) {
    let span = tracing::Span::current();
    span.record("pipeline", approval.pipeline.as_str());
    span.record("token_hash", approval.token.hash());
}
