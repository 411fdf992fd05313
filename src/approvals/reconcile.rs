//! Prompts that stay true: when an approval is decided elsewhere (console, CLI, another
//! channel), expires, or its execution is superseded or stopped, its prompt is restamped and
//! loses its buttons. Triggered by CodePipeline's state-change events when an events queue is
//! configured, otherwise by a bounded loop over `GetPipelineState`. Either way the truth comes
//! from CodePipeline (events can be duplicated, reordered or lost).

use chrono::Utc;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use super::announce::Prompt;
use super::quorum::TokenState;
use super::stamp::Target;
use super::Outcome;
use super::{Approvals, Decision};
use crate::events::{EventLevel, PipelineEvent};
use crate::outbound::codepipeline::ApprovalState;
use crate::outbound::lease::Lease;

impl Approvals {
    /// Checks the open prompts every `every` until `cancel` fires, at most
    /// `approvals.reconcile_batch` of them per round, round robin. Of all the processes, the
    /// holder of the reconcile lease does the round, so each prompt is checked once per round;
    /// renewed every round, the lease passes to another process `[state] lease_secs` after
    /// its holder's last round when it dies, at once when it stops.
    pub async fn reconcile_periodically(
        self: Arc<Self>,
        every: Duration,
        cancel: CancellationToken,
    ) {
        // The token of the last prompt checked: the next round goes on after it.
        let mut cursor: Option<String> = None;
        let lease = Lease::new(
            &self.clients.records,
            "lease",
            "reconcile",
            every + self.settings.lease(),
        );
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(every) => {}
            }
            match lease.hold().await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "reconcile: cannot take the lease; skipping this round");
                    continue;
                }
            }
            let chosen = self.next_batch(cursor.as_deref()).await;
            cursor = chosen.last().map(|p| p.approval.token.as_str().to_owned());
            if !chosen.is_empty() {
                self.reconcile(chosen).await;
            }
        }
        lease.release().await;
    }

    /// One round: one `GetPipelineState` per pipeline; prompts not visibly waiting there are
    /// looked at closely and restamped if they are closed.
    async fn reconcile(&self, prompts: Vec<Prompt>) {
        let mut by_pipeline: BTreeMap<String, Vec<Prompt>> = BTreeMap::new();
        for p in prompts {
            by_pipeline
                .entry(p.approval.pipeline.to_string())
                .or_default()
                .push(p);
        }
        for prompts in by_pipeline.into_values() {
            let Some(pipeline) = prompts.first().map(|p| p.approval.pipeline.clone()) else {
                continue;
            };
            let state = match self.clients.codepipeline.pipeline_state(&pipeline).await {
                Ok(s) => s,
                Err(reason) => {
                    tracing::warn!(%pipeline, %reason, "reconcile: GetPipelineState failed");
                    continue;
                }
            };
            for prompt in prompts {
                if !state.still_waiting(prompt.approval.at()) {
                    self.refresh(prompt).await;
                }
            }
        }
    }

    /// Restamps the open prompts `event` may have closed.
    pub async fn on_pipeline_event(&self, event: &PipelineEvent) {
        if !event.may_close_approvals() {
            return;
        }
        let matching = self.open_prompts().await.into_iter().filter(|p| {
            let a = &p.approval;
            let same_action =
                event.stage.as_ref() == Some(&a.stage) && event.action.as_ref() == Some(&a.action);
            a.pipeline == event.pipeline
                && match &a.execution {
                    Some(e) => *e == event.execution_id,
                    None => event.level == EventLevel::Action && same_action,
                }
                && (event.level != EventLevel::Action || same_action)
        });
        for prompt in matching.collect::<Vec<_>>() {
            self.refresh(prompt).await;
        }
    }

    /// Asks CodePipeline where the prompt's approval stands; restamps it if it is closed.
    async fn refresh(&self, prompt: Prompt) {
        let state = match self
            .clients
            .codepipeline
            .approval_state(prompt.approval.at())
            .await
        {
            Ok(s) => s,
            Err(reason) => {
                tracing::warn!(%reason, token_hash = %prompt.approval.token.hash(), "cannot read the approval's state");
                return;
            }
        };
        let Some(outcome) = outcome_of(state) else {
            return;
        };
        // A decision in flight through a click (in any process, unless its hold expired)
        // restamps the prompt itself; otherwise the one process whose write closes it does.
        let token = &prompt.approval.token;
        let now = Utc::now().timestamp();
        let claimed = self
            .records
            .update_state(token, |state| {
                let free = match state {
                    None | Some(TokenState::Voting(_)) => true,
                    Some(TokenState::InFlight { until, .. }) => *until <= now,
                    Some(TokenState::Closed(_)) => false,
                };
                (free, free.then(|| TokenState::Closed(outcome.clone())))
            })
            .await;
        match claimed {
            Ok(true) => {
                tracing::info!(token_hash = %token.hash(), ?outcome, "approval closed outside this prompt");
                self.close_prompt(token, &Target::of(&prompt), &outcome)
                    .await;
                if let Err(e) = self.records.close(token).await {
                    tracing::warn!(error = %e, "cannot mark the prompt closed");
                }
            }
            // Closed already (by a click or another process): only its open mark may be left.
            Ok(false) => {
                if let Err(e) = self.records.close(token).await {
                    tracing::warn!(error = %e, "cannot mark the prompt closed");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reconcile: cannot record the outcome; trying next round")
            }
        }
    }

    /// The prompts not closed yet, in every process; empty (logged) when the records cannot
    /// be read.
    async fn open_prompts(&self) -> Vec<Prompt> {
        self.open_prompts_after(None, usize::MAX).await
    }

    /// The next round's prompts: up to `approvals.reconcile_batch` open prompts by token after
    /// `cursor`, then from the first again (round robin), never one twice in a round. Only
    /// those are read and decoded, however many prompts are open.
    async fn next_batch(&self, cursor: Option<&str>) -> Vec<Prompt> {
        let batch = self.settings.approvals.reconcile_batch;
        let mut chosen = self.open_prompts_after(cursor, batch).await;
        if let Some(cursor) = cursor.filter(|_| chosen.len() < batch) {
            let wrapped = self.open_prompts_after(None, batch - chosen.len()).await;
            chosen.extend(
                wrapped
                    .into_iter()
                    .take_while(|p| p.approval.token.as_str() <= cursor),
            );
        }
        chosen
    }

    /// At most `limit` open prompts by token after `after`; empty (logged) when the records
    /// cannot be read.
    async fn open_prompts_after(&self, after: Option<&str>, limit: usize) -> Vec<Prompt> {
        self.records
            .open_prompts_after(after, limit)
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "reconcile: cannot list the open prompts"))
            .unwrap_or_default()
    }
}

/// The prompt's outcome for a closed approval; `None` while it is open.
fn outcome_of(state: ApprovalState) -> Option<Outcome> {
    let at = Utc::now();
    Some(match state {
        ApprovalState::Open => return None,
        ApprovalState::Approved { by, summary } => Outcome::DecidedElsewhere {
            decision: Decision::Approve,
            by,
            summary,
            at,
        },
        ApprovalState::Rejected { by, summary } => Outcome::DecidedElsewhere {
            decision: Decision::Reject,
            by,
            summary,
            at,
        },
        ApprovalState::Expired => Outcome::Expired { at },
        ApprovalState::Superseded => Outcome::Superseded { at },
        ApprovalState::Stopped => Outcome::Stopped { at },
        ApprovalState::Gone => Outcome::NoLongerValid { at },
    })
}
