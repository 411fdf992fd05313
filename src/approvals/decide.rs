//! A decision attempt, from a button (one-click "Approve") or a reason modal's submission:
//! re-validate, check the policy (channel, approver, no self-approval), count it toward the
//! quorum, record the decision in CodePipeline once, restamp the prompt, reply to the person,
//! and audit every outcome. "Approve…"/"Reject…" clicks only open the modal.

use chrono::Utc;
use std::time::{Duration, Instant};

use super::audit::AuditRecord;
use super::check::{closed_text, store_refusal, Refusal};
use super::modal::Reason;
use super::quorum::{self, Ballot, Claim, TokenState, Vote};
use super::refusals::BURST;
use super::stamp::Target;
use super::Outcome;
use super::{ApprovalRef, Approvals, Decision, Press};
use crate::ids::{ApprovalToken, ChannelId, TeamId, UserId};
use crate::interaction::ButtonClick;
use crate::outbound::codepipeline::DecisionError;

/// One attempt at a decision, its approval reference validated.
pub(super) struct Attempt {
    pub(super) decision: Decision,
    /// From the one-click "Approve" (not the modal).
    pub(super) one_click: bool,
    pub(super) approval: ApprovalRef,
    pub(super) user: UserId,
    pub(super) user_name: Option<String>,
    pub(super) team: TeamId,
    pub(super) comment: Option<String>,
    pub(super) target: Target,
    pub(super) started: Instant,
}

/// How long before the end of its hold a decision's `PutApprovalResult` must have answered.
const HOLD_MARGIN_SECS: i64 = 5;

impl Approvals {
    /// Handles one click on an approval button (`action_id` with [`super::ACTION_PREFIX`]) to
    /// the end: a one-click approval is decided, "Approve…"/"Reject…" open the reason modal.
    pub async fn click(&self, click: ButtonClick) {
        let started = Instant::now();
        let Some(press) = Press::from_action_id(&click.action_id) else {
            tracing::warn!(action_id = %crate::ids::shorten(&click.action_id), "ignored an unknown approval button");
            return;
        };
        let approval = match ApprovalRef::decode(&click.value) {
            Ok(a) => a,
            Err(reason) => {
                tracing::warn!(%reason, "refused a click with an invalid button value");
                self.tell(
                    &click.channel,
                    &click.user,
                    "This button is not a valid approval prompt; nothing was done.",
                )
                .await;
                return;
            }
        };
        record_span(&approval);
        if press != Press::Approve {
            // A decided approval is answered at the click, before anyone types a reason.
            let closed = match self.records.state(&approval.token).await {
                Ok(Some(TokenState::Closed(outcome))) => Some(("closed", closed_text(&outcome))),
                Ok(_) => None,
                Err(e) => Some(("store_unavailable", store_refusal(&e).text)),
            };
            if let Some((outcome, text)) = closed {
                let window = self
                    .records
                    .refusal_to_person(&approval.token, &click.user, outcome, BURST)
                    .await;
                if window {
                    self.tell(&click.channel, &click.user, &text).await;
                }
                return;
            }
            let opened = self
                .open_reason_modal(
                    &click.trigger_id,
                    press.decision(),
                    &approval,
                    &click.channel,
                    &click.message_ts,
                )
                .await;
            if let Err(e) = opened {
                tracing::warn!(error = %e, "cannot open the reason modal");
                let text = format!("Could not open the form ({e}); nothing was done. Try again.");
                self.tell(&click.channel, &click.user, &text).await;
            }
            return;
        }
        let target = self
            .target(
                &approval,
                &click.channel,
                &click.message_ts,
                &click.message_blocks,
                click.message_text.as_deref(),
            )
            .await;
        self.attempt(Attempt {
            decision: Decision::Approve,
            one_click: true,
            approval,
            user: click.user,
            user_name: click.user_name,
            team: click.team,
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
        let target = self.target(&m.approval, &m.channel, &m.ts, &[], None).await;
        self.attempt(Attempt {
            decision: m.decision,
            one_click: false,
            approval: m.approval,
            user: reason.user,
            user_name: reason.user_name,
            team: reason.team,
            comment: reason.comment,
            target,
            started: Instant::now(),
        })
        .await;
    }

    async fn attempt(&self, a: Attempt) {
        let quorum = match self.check(&a).await {
            Ok(quorum) => quorum,
            Err(refusal) => return self.refuse(&a, refusal).await,
        };
        let vote = Vote {
            user: a.user.clone(),
            name: a.user_name.clone(),
            comment: a.comment.clone(),
        };
        let ballot = Ballot {
            decision: a.decision,
            vote: vote.clone(),
            quorum,
        };
        let now = Utc::now().timestamp();
        let hold_until =
            now.saturating_add(i64::try_from(self.records.claim().as_secs()).unwrap_or(60));
        let claim = self
            .records
            .update_state(&a.approval.token, |state| {
                quorum::claim(state, &ballot, now, hold_until)
            })
            .await;
        let claim = match claim {
            Ok(claim) => claim,
            Err(e) => return self.refuse(&a, store_refusal(&e)).await,
        };
        let refusal = match claim {
            Claim::Decide { votes } => return self.record(&a, vote, votes, hold_until).await,
            Claim::Counted { votes } => return self.counted(&a, &votes, quorum).await,
            Claim::AlreadyVoted => Refusal::new(
                "already_voted",
                "You approved this already; another approver must approve too.".into(),
            ),
            Claim::InFlight(other) => Refusal::new(
                "in_flight",
                format!(
                    "<@{other}> is deciding this approval right now; your click changed nothing."
                ),
            ),
            Claim::Closed(outcome) => Refusal::new("closed", closed_text(&outcome)),
        };
        self.refuse(&a, refusal).await;
    }

    /// An approval short of the quorum: shown on the prompt, audited, confirmed to the person.
    async fn counted(&self, a: &Attempt, votes: &[Vote], quorum: u8) {
        let line = quorum::progress_line(votes, quorum);
        let record = self
            .audit_attempt(a, "vote_counted", a.comment.as_deref().unwrap_or(""), None)
            .await;
        self.show_progress(&a.target, &line).await;
        self.post_audit(&record, &a.target.channel, &a.target.ts)
            .await;
        let text = format!(
            "Your approval is counted: {line}. It goes to CodePipeline when {} more approve.",
            usize::from(quorum).saturating_sub(votes.len())
        );
        self.tell(&a.target.channel, &a.user, &text).await;
    }

    /// Sends the decision with everyone's names; restamps, replies and audits its outcome.
    async fn record(&self, a: &Attempt, vote: Vote, votes: Vec<Vote>, hold_until: i64) {
        let rejecter = (a.decision == Decision::Reject).then_some(&vote);
        let summary = quorum::summary(a.decision, &votes, rejecter);
        // The call ends within this process's hold on the decision (with a margin), so no
        // other process can start a second decision while this one may still land.
        let left = hold_until - Utc::now().timestamp() - HOLD_MARGIN_SECS;
        let call = self.clients.codepipeline.put_approval_result(
            a.approval.at(),
            a.decision.status(),
            &summary,
        );
        let result =
            match tokio::time::timeout(Duration::from_secs(u64::try_from(left).unwrap_or(0)), call)
                .await
            {
                Ok(result) => result,
                Err(_) => Err(DecisionError::Other(
                    "CodePipeline did not answer in time".to_owned(),
                )),
            };
        let at = Utc::now();
        let (deciders, comment) = match rejecter {
            Some(r) => (vec![r.clone()], r.comment.clone()),
            None => (votes.clone(), joined_comments(&votes)),
        };
        let (outcome, text, audit) = match result {
            Ok(()) => {
                let outcome = Outcome::Decided {
                    decision: a.decision,
                    users: deciders.iter().map(|v| v.user.clone()).collect(),
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
        // Into the audit trail as soon as CodePipeline answered, before any Slack call or other
        // record: a failure there is logged by the trail and changes nothing here, since the
        // decision already happened at AWS.
        let record = self
            .audit_attempt(a, audit.0, &audit.1, Some(&summary))
            .await;
        let before: Vec<Vote> = votes.into_iter().filter(|v| v.user != vote.user).collect();
        let held = TokenState::InFlight {
            user: a.user.clone(),
            votes: before.clone(),
            until: hold_until,
        };
        self.settle(&a.approval.token, outcome.clone(), held, before)
            .await;
        if let Some(outcome) = &outcome {
            self.close_prompt(&a.approval.token, &a.target, outcome)
                .await;
        }
        self.post_audit(&record, &a.target.channel, &a.target.ts)
            .await;
        if let Some(text) = text {
            self.tell(&a.target.channel, &a.user, &text).await;
        }
    }

    /// Records the token's final state (unless another process closed it first), or, while
    /// this attempt still `held` the decision, puts back the votes counted before so the
    /// prompt can be used again. A failure is logged: the hold then expires by itself, and
    /// CodePipeline refuses a second decision on the token.
    async fn settle(
        &self,
        token: &ApprovalToken,
        outcome: Option<Outcome>,
        held: TokenState,
        before: Vec<Vote>,
    ) {
        let closed = outcome.is_some();
        let next = match outcome {
            Some(o) => TokenState::Closed(o),
            None => TokenState::Voting(before),
        };
        let mut result = self
            .records
            .update_state(token, |state| {
                let write = match state {
                    Some(TokenState::Closed(_)) => false,
                    _ if closed => true,
                    // Putting votes back is only for the hold this attempt took; a later
                    // process may have counted or decided since.
                    current => current == Some(&held),
                };
                ((), write.then(|| next.clone()))
            })
            .await;
        if closed && result.is_ok() {
            result = self.records.close(token).await;
        }
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot record how the approval ended");
        }
    }

    /// Audits a refused attempt; says it in the thread and to the person once per burst
    /// ([`super::refusals`]).
    async fn refuse(&self, a: &Attempt, refusal: Refusal) {
        let record = self
            .audit_attempt(a, refusal.outcome, &refusal.text, None)
            .await;
        let token = &a.approval.token;
        let in_thread = self.records.refusal_in_thread(token, BURST).await;
        if in_thread {
            self.post_audit(&record, &a.target.channel, &a.target.ts)
                .await;
        }
        let tell = self
            .records
            .refusal_to_person(token, &a.user, refusal.outcome, BURST)
            .await;
        if tell {
            self.tell(&a.target.channel, &a.user, &refusal.text).await;
        }
    }

    /// Logs the attempt's audit record and appends it to the trail; the record, for the
    /// thread reply that comes after.
    async fn audit_attempt(
        &self,
        a: &Attempt,
        outcome: &'static str,
        reason: &str,
        summary: Option<&str>,
    ) -> AuditRecord {
        let record = AuditRecord::new(
            &a.approval,
            a.decision,
            &a.user,
            &a.team,
            outcome,
            reason,
            summary,
            a.started,
            Utc::now(),
        );
        self.audit(&record, &a.approval, &a.target.channel, &a.target.ts)
            .await;
        record
    }

    /// An ephemeral reply.
    pub(super) async fn tell(&self, channel: &ChannelId, user: &UserId, text: &str) {
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
