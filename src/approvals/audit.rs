//! The audit trail: one record per decision and per refused attempt, written to the log
//! (target `chatops::audit`, structured fields: one JSON line with the JSON formatter) and to
//! the shared [`crate::audit::AuditLog`] before anything is said in Slack, then posted as a
//! thread reply under the prompt. The token appears only as its hash; the UTC time, pipeline,
//! stage, action and summary correlate with CloudTrail's `PutApprovalResult`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::time::Instant;

use super::render;
use super::{ApprovalRef, Approvals, Decision};
use crate::audit::{AuditEntry, MessageLink, What};
use crate::ids::{ChannelId, TeamId, UserId};
use crate::outbound::slack::mrkdwn::escape;

/// One audited attempt.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// When the outcome was known (UTC, RFC 3339).
    pub at: String,
    #[serde(skip)]
    at_time: DateTime<Utc>,
    #[serde(skip)]
    what: What,
    pub user: String,
    pub team: String,
    pub pipeline: String,
    pub stage: String,
    pub action: String,
    pub execution_id: Option<String>,
    pub token_hash: String,
    pub decision: &'static str,
    /// `recorded`, `vote_counted`, or why nothing was recorded (`not_an_approver`, …).
    pub outcome: &'static str,
    /// The refusal, error or comment.
    pub reason: String,
    /// The `PutApprovalResult` summary, when one was sent.
    pub summary: Option<String>,
    pub latency_ms: u64,
}

impl AuditRecord {
    /// A record of `user`'s attempt at `decision` on `approval`, begun at `started`.
    #[expect(
        clippy::too_many_arguments,
        reason = "one plain record, built in one place"
    )]
    pub fn new(
        approval: &ApprovalRef,
        decision: Decision,
        user: &UserId,
        team: &TeamId,
        outcome: &'static str,
        reason: &str,
        summary: Option<&str>,
        started: Instant,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            at: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            at_time: at,
            what: match decision {
                Decision::Approve => What::Approved,
                Decision::Reject => What::Rejected,
            },
            user: user.to_string(),
            team: team.to_string(),
            pipeline: approval.pipeline.to_string(),
            stage: approval.stage.to_string(),
            action: approval.action.to_string(),
            execution_id: approval.execution.as_ref().map(ToString::to_string),
            token_hash: approval.token.hash(),
            decision: decision.past_tense(),
            outcome,
            reason: reason.to_owned(),
            summary: summary.map(str::to_owned),
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// The entry of the shared audit trail, about the prompt at (`channel`, `ts`).
    pub fn entry(&self, approval: &ApprovalRef, channel: &ChannelId, ts: &str) -> AuditEntry {
        AuditEntry {
            at: self.at_time,
            pipeline: approval.pipeline.clone(),
            user: self.user.clone(),
            what: self.what,
            outcome: self.outcome.to_owned(),
            reason: self.reason.clone(),
            summary: self.summary.clone(),
            execution_id: self.execution_id.clone(),
            token_hash: Some(self.token_hash.clone()),
            link: MessageLink {
                channel: channel.clone(),
                ts: Some(ts.to_owned()),
            },
        }
    }

    /// The readable line of the thread reply (mrkdwn-safe).
    pub fn line(&self) -> String {
        format!(
            ":memo: Audit: {} by <@{}>: *{}*",
            self.decision.to_lowercase(),
            escape(&self.user),
            escape(self.outcome)
        )
    }
}

impl Approvals {
    /// Logs `record` and appends it to the shared audit trail, about the prompt at
    /// (`channel`, `ts`); the thread reply comes after, with [`Self::post_audit`].
    pub(super) async fn audit(
        &self,
        record: &AuditRecord,
        approval: &ApprovalRef,
        channel: &ChannelId,
        ts: &str,
    ) {
        let metrics = &crate::metrics::METRICS;
        match record.outcome {
            "recorded" | "vote_counted" => metrics.approvals_recorded.inc(),
            "failed" => metrics.approvals_failed.inc(),
            _ => metrics.approvals_refused.inc(),
        }
        tracing::info!(
            target: "chatops::audit",
            at = %record.at,
            user = %record.user,
            team = %record.team,
            pipeline = %record.pipeline,
            stage = %record.stage,
            action = %record.action,
            execution_id = record.execution_id.as_deref().unwrap_or("-"),
            token_hash = %record.token_hash,
            decision = record.decision,
            outcome = record.outcome,
            reason = %record.reason,
            summary = record.summary.as_deref().unwrap_or(""),
            latency_ms = record.latency_ms,
            "approval audit"
        );
        self.audit_log
            .append(&record.entry(approval, channel, ts))
            .await;
    }

    /// Posts `record` under the prompt at (`channel`, `ts`).
    pub(super) async fn post_audit(&self, record: &AuditRecord, channel: &ChannelId, ts: &str) {
        let json = serde_json::to_string(record).unwrap_or_default();
        let content = match render::audit_reply(&record.line(), &json) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot render the audit reply");
                return;
            }
        };
        if let Err(e) = self.clients.slack.post(channel, content, Some(ts)).await {
            tracing::warn!(error = %e, "cannot post the audit reply");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_is_json_with_the_token_hashed() {
        let approval = crate::approvals::notification::parse(include_str!(
            "../../tests/fixtures/approval-raw.json"
        ))
        .expect("fixture")
        .approval;
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let record = AuditRecord::new(
            &approval,
            Decision::Reject,
            &UserId::parse("U0ALICE").expect("user"),
            &TeamId::parse("T0TEAM").expect("team"),
            "recorded",
            "broken build",
            Some("Rejected in Slack by alice (U0ALICE): broken build"),
            Instant::now(),
            at,
        );
        let json: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&record).expect("json")).expect("json");
        assert_eq!(json["at"], "2023-11-14T22:13:20.000Z");
        assert_eq!(json["outcome"], "recorded");
        assert_eq!(json["decision"], "Rejected");
        assert_eq!(json["token_hash"], approval.token.hash());
        assert!(!json.to_string().contains(approval.token.as_str()));
        assert_eq!(
            record.line(),
            ":memo: Audit: rejected by <@U0ALICE>: *recorded*"
        );
    }
}
