//! The audit trail every process shares: one entry per approval decision or refused attempt
//! (`approvals`) and per `/deploy` start or stop (`commands::deploy`), kept in the state store
//! ([`Records`]: DynamoDB, or memory for one process) for `[state] audit_days`, and read back
//! newest first by `/deploy history`.
//!
//! | key (`pk` / `sk`) | record | expires |
//! |---|---|---|
//! | `audit#<pipeline>` / `<RFC 3339 UTC, millis>#<8 hex>` | an [`AuditEntry`] | `audit_days` after it was written |
//!
//! The sort key starts with the time, so a reverse query gives the latest entries; the random
//! suffix keeps two entries of the same millisecond apart. An entry is written once and never
//! changed. The token of an approval is never stored, only its hash.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::ids::{ChannelId, PipelineName};
use crate::outbound::records::{Expect, Records, StoreError};

/// Tries at finding a free sort key (two writers in the same millisecond with the same random
/// suffix).
const ATTEMPTS: usize = 3;

/// What was done or attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum What {
    Approved,
    Rejected,
    Start,
    Stop,
}

impl What {
    /// The word shown in `/deploy history`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Start => "start",
            Self::Stop => "stop",
        }
    }
}

/// Where it happened: the message it is about (a prompt, a started-by message), or only the
/// channel when nothing was posted yet. Slack's permalink needs the workspace's domain, which
/// the bot does not know without a call; channel and `ts` identify the message all the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageLink {
    pub channel: ChannelId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
}

/// One audit entry, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When the outcome was known.
    pub at: DateTime<Utc>,
    pub pipeline: PipelineName,
    /// The Slack user.
    pub user: String,
    pub what: What,
    /// `recorded`, `vote_counted`, `started`, `stop_requested`, or why nothing was done
    /// (`not_an_approver`, `failed`, …).
    pub outcome: String,
    /// The refusal, error, comment or stop reason.
    #[serde(default)]
    pub reason: String,
    /// The `PutApprovalResult` summary, when one was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// The approval token's hash (never the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_hash: Option<String>,
    pub link: MessageLink,
}

/// The audit trail; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    records: Records,
    keep: Duration,
}

fn partition(pipeline: &PipelineName) -> String {
    format!("audit#{pipeline}")
}

/// The entry's sort key: its time (fixed width, so keys sort by time), then a random suffix.
fn sort_key(at: DateTime<Utc>) -> String {
    let suffix = uuid::Uuid::new_v4().as_u64_pair().0 as u32;
    format!(
        "{}#{suffix:08x}",
        at.to_rfc3339_opts(SecondsFormat::Millis, true)
    )
}

impl AuditLog {
    /// The trail in `records`, each entry kept for `keep`.
    pub fn new(records: Records, keep: Duration) -> Self {
        Self { records, keep }
    }

    /// Appends `entry` to its pipeline's trail.
    ///
    /// # Errors
    /// The store cannot be written (then the entry may or may not be there).
    pub async fn write(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let body = serde_json::to_string(entry).map_err(|e| StoreError::corrupt(&e))?;
        let keep = i64::try_from(self.keep.as_secs()).unwrap_or(i64::MAX);
        let expires_at = Utc::now().timestamp().saturating_add(keep);
        let pk = partition(&entry.pipeline);
        for _ in 0..ATTEMPTS {
            let sk = sort_key(entry.at);
            let written = self
                .records
                .put(&pk, &sk, Expect::Absent, &body, expires_at);
            if written.await?.is_some() {
                return Ok(());
            }
        }
        Err(StoreError::contended())
    }

    /// Appends `entry`, logging a failure instead of returning it: an entry follows something
    /// already done (a decision recorded in CodePipeline, an execution started), which a lost
    /// entry cannot undo. The log line (target `chatops::audit`) keeps the token hash and the
    /// execution id for the record.
    pub async fn append(&self, entry: &AuditEntry) {
        if let Err(e) = self.write(entry).await {
            tracing::error!(
                target: "chatops::audit",
                error = %e,
                pipeline = %entry.pipeline,
                what = entry.what.as_str(),
                outcome = %entry.outcome,
                token_hash = entry.token_hash.as_deref().unwrap_or("-"),
                execution_id = entry.execution_id.as_deref().unwrap_or("-"),
                "cannot write the audit entry; what it records stands"
            );
        }
    }

    /// The latest `n` entries of `pipeline`, newest first.
    ///
    /// # Errors
    /// The store cannot be read, or holds an entry that is not one.
    pub async fn latest(
        &self,
        pipeline: &PipelineName,
        n: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let found = self.records.latest(&partition(pipeline), n).await?;
        found
            .into_iter()
            .map(|(_, stored)| {
                serde_json::from_str(&stored.body).map_err(|e| StoreError::corrupt(&e))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pipeline: &str, at_millis: i64, what: What) -> AuditEntry {
        AuditEntry {
            at: DateTime::from_timestamp_millis(at_millis).expect("time"),
            pipeline: PipelineName::parse(pipeline).expect("pipeline"),
            user: "U0ALICE".into(),
            what,
            outcome: "recorded".into(),
            reason: String::new(),
            summary: None,
            execution_id: Some("e-1".into()),
            token_hash: Some("abc".into()),
            link: MessageLink {
                channel: ChannelId::parse("C0DEPLOYS").expect("channel"),
                ts: Some("1700000000.000100".into()),
            },
        }
    }

    #[tokio::test]
    async fn the_latest_entries_of_a_pipeline_come_newest_first() {
        let log = AuditLog::new(Records::memory(), Duration::from_secs(3600));
        let base = 1_700_000_000_000;
        let written = [
            entry("web", base, What::Start),
            entry("web", base + 1, What::Approved),
            entry("web", base + 1, What::Rejected),
            entry("web", base + 2_000, What::Stop),
            entry("other", base + 9_000, What::Start),
        ];
        for e in &written {
            assert!(log.write(e).await.is_ok());
        }
        let web = PipelineName::parse("web").expect("pipeline");
        let latest = log.latest(&web, 3).await.expect("read");
        let whats: Vec<What> = latest.iter().map(|e| e.what).collect();
        assert_eq!(whats[0], What::Stop);
        assert_eq!(latest.len(), 3, "two in the same millisecond both kept");
        assert!(whats.contains(&What::Approved) && whats.contains(&What::Rejected));
        assert_eq!(latest[0], written[3], "read back as written");
        assert_eq!(log.latest(&web, 50).await.map(|l| l.len()).ok(), Some(4));
    }

    #[tokio::test]
    async fn an_entry_past_its_retention_is_gone() {
        let log = AuditLog::new(Records::memory(), Duration::ZERO);
        assert!(log.write(&entry("web", 0, What::Start)).await.is_ok());
        let web = PipelineName::parse("web").expect("pipeline");
        assert_eq!(log.latest(&web, 10).await.map(|l| l.len()).ok(), Some(0));
    }
}
