//! The `/deploy` records every process of the bot shares, in the state store ([`Records`]):
//! the executions followed in a thread, with their progress so far, so that when the process
//! following one dies or stops, another follows it on from where it was.
//!
//! | key (`pk` / `sk`) | record | expires |
//! |---|---|---|
//! | `follow` / `<execution id>` | a followed execution: pipeline, starter, thread, progress | the follow limit after its start |
//! | `follow#<execution id>` / `lease` | the process following it now ([`Lease`]) | `lease_secs` after the last renewal |
//!
//! Only the lease's holder writes the `follow` record, so a plain replace is enough there.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::progress::Progress;
use crate::ids::{ChannelId, PipelineName, UserId};
use crate::outbound::lease::Lease;
use crate::outbound::records::{Records, StoreError};

/// A followed execution as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Followed {
    pub pipeline: PipelineName,
    pub execution_id: String,
    /// Who started it from `/deploy`.
    pub user: UserId,
    /// The thread: its top message is at `ts`.
    pub channel: ChannelId,
    pub ts: String,
    pub progress: Progress,
}

/// The followed executions.
pub struct DeployRecords {
    records: Records,
    /// How long a follower's lease lasts after its last renewal.
    lease: Duration,
    /// How long an execution is followed at most.
    follow_max: Duration,
}

impl DeployRecords {
    /// The records in `records`.
    pub fn new(records: Records, lease: Duration, follow_max: Duration) -> Self {
        Self {
            records,
            lease,
            follow_max,
        }
    }

    /// How long a follower's lease lasts after its last renewal.
    pub fn lease_secs(&self) -> Duration {
        self.lease
    }

    /// When the follow limit of an execution started at `started_at` passes.
    pub fn follow_until(&self, started_at: DateTime<Utc>) -> DateTime<Utc> {
        started_at + self.follow_max
    }

    /// The lease on following `execution_id` (this process's own claim on it).
    pub fn lease(&self, execution_id: &str) -> Lease {
        Lease::new(
            &self.records,
            &format!("follow#{execution_id}"),
            "lease",
            self.lease,
        )
    }

    /// Saves `followed` (its progress so far).
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn save(&self, followed: &Followed) -> Result<(), StoreError> {
        let body = serde_json::to_string(followed).map_err(|e| StoreError::corrupt(&e))?;
        let until = self.follow_until(followed.progress.started_at).timestamp();
        self.records
            .replace("follow", &followed.execution_id, &body, until)
            .await
            .map(|_| ())
    }

    /// The followed execution `execution_id`, unless it ended.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn get(&self, execution_id: &str) -> Result<Option<Followed>, StoreError> {
        self.records
            .get("follow", execution_id)
            .await?
            .map(|s| serde_json::from_str(&s.body).map_err(|e| StoreError::corrupt(&e)))
            .transpose()
    }

    /// Every execution still followed, whoever follows it.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn all(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .records
            .list("follow")
            .await?
            .into_iter()
            .map(|(execution_id, _)| execution_id)
            .collect())
    }

    /// Forgets `execution_id`: it ended, or its follow limit passed.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn forget(&self, execution_id: &str) -> Result<(), StoreError> {
        self.records.delete("follow", execution_id).await
    }
}
