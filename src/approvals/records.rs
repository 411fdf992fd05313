//! The approval records every process of the bot shares, kept in the state store
//! ([`Records`]: DynamoDB, or memory for a single process). One consistency policy for all of
//! them: every change is a compare-and-set on the record's version, retried on a lost race, so
//! that any number of processes agree.
//!
//! | key (`pk` / `sk`) | record | expires |
//! |---|---|---|
//! | `approval#<token>` / `prompt` | the prompt: claimed by a process (before the post) or posted | claim: `claim_secs`; posted: the approval's expiry + 1 day |
//! | `approval#<token>` / `state` | the quorum's votes, the decision in flight, or the outcome | 8 days after the last change |
//! | `open` / `<token>` | a posted prompt not closed yet, for the reconcile loop | as the prompt |
//! | `execution#<id>` / `starter` | who started the execution from `/deploy` | 8 days |
//! | `execution#<id>` / `thread` | the thread that follows the execution | 8 days |

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::announce::{ExecutionThread, Prompt};
use super::quorum::TokenState;
use crate::ids::{ApprovalToken, UserId};
use crate::outbound::records::{Expect, Records, StoreError};

/// How long records without an approval expiry are kept: CodePipeline approvals wait at most
/// 7 days (<https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals.html>).
const KEEP: Duration = Duration::from_secs(8 * 24 * 3600);
/// How long a record outlives the approval's own expiry (for late clicks and restamps).
const AFTER_EXPIRY: Duration = Duration::from_secs(24 * 3600);
/// Compare-and-set attempts before giving up on a record many processes are writing.
const ATTEMPTS: usize = 8;

/// The prompt record of a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum PromptRecord {
    /// A process is posting it.
    Claimed,
    /// It is in the channel.
    Posted(Box<Prompt>),
}

/// What a process may do about a token's prompt.
#[derive(Debug)]
pub enum PromptClaim {
    /// Post it, then call [`ApprovalRecords::posted`] with this claim's version.
    Mine(u64),
    /// Posted already.
    Posted(Box<Prompt>),
    /// Another process is posting it now (if it dies, its claim expires).
    Elsewhere,
}

/// The approval records.
#[derive(Clone)]
pub struct ApprovalRecords {
    records: Records,
    claim: Duration,
}

fn prompt_key(token: &ApprovalToken) -> String {
    format!("approval#{token}")
}

fn execution_key(execution_id: &str) -> String {
    format!("execution#{execution_id}")
}

fn epoch(at: DateTime<Utc>, plus: Duration) -> i64 {
    at.timestamp()
        .saturating_add(i64::try_from(plus.as_secs()).unwrap_or(i64::MAX))
}

fn decode<T: DeserializeOwned>(body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::corrupt(&e))
}

fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::corrupt(&e))
}

impl ApprovalRecords {
    /// The records in `records`; a claim held longer than `claim` is taken over.
    pub fn new(records: Records, claim: Duration) -> Self {
        Self { records, claim }
    }

    /// How long a process may hold a prompt or a decision.
    pub fn claim(&self) -> Duration {
        self.claim
    }

    /// Claims `token`'s prompt for this process, unless it was posted or another process is
    /// posting it.
    ///
    /// # Errors
    /// The store cannot be reached: post nothing, try later.
    pub async fn claim_prompt(&self, token: &ApprovalToken) -> Result<PromptClaim, StoreError> {
        let pk = prompt_key(token);
        for _ in 0..ATTEMPTS {
            match self.records.get(&pk, "prompt").await? {
                Some(stored) => {
                    return Ok(match decode(&stored.body)? {
                        PromptRecord::Posted(p) => PromptClaim::Posted(p),
                        PromptRecord::Claimed => PromptClaim::Elsewhere,
                    })
                }
                None => {
                    let body = encode(&PromptRecord::Claimed)?;
                    let until = epoch(Utc::now(), self.claim);
                    if let Some(v) = self
                        .records
                        .put(&pk, "prompt", Expect::Absent, &body, until)
                        .await?
                    {
                        return Ok(PromptClaim::Mine(v));
                    }
                }
            }
        }
        Ok(PromptClaim::Elsewhere)
    }

    /// Gives up the claim at `version` (the post failed), so the next try need not wait for it
    /// to expire.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn release_prompt(
        &self,
        token: &ApprovalToken,
        version: u64,
    ) -> Result<(), StoreError> {
        let body = encode(&PromptRecord::Claimed)?;
        // Written as already expired: absent for every reader and every claim.
        let now = Utc::now().timestamp();
        self.records
            .put(
                &prompt_key(token),
                "prompt",
                Expect::Version(version),
                &body,
                now,
            )
            .await?;
        Ok(())
    }

    /// Records `prompt` as posted under the claim at `version`, and as open.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn posted(&self, version: u64, prompt: &Prompt) -> Result<(), StoreError> {
        let token = &prompt.approval.token;
        let until = self.until(prompt.expires);
        let body = encode(&PromptRecord::Posted(Box::new(prompt.clone())))?;
        let pk = prompt_key(token);
        let recorded = match self
            .records
            .put(&pk, "prompt", Expect::Version(version), &body, until)
            .await?
        {
            Some(v) => Some(v),
            // The claim expired first; unless another process claimed it since, record the
            // post anyway.
            None => {
                self.records
                    .put(&pk, "prompt", Expect::Absent, &body, until)
                    .await?
            }
        };
        if recorded.is_none() {
            tracing::warn!(token_hash = %token.hash(), "the prompt claim expired and another process took it before this post was recorded");
        }
        self.records
            .put(
                "open",
                token.as_str(),
                Expect::Absent,
                &encode(prompt)?,
                until,
            )
            .await?;
        Ok(())
    }

    /// The posted prompt of `token`, if any.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn prompt(&self, token: &ApprovalToken) -> Result<Option<Prompt>, StoreError> {
        let Some(stored) = self.records.get(&prompt_key(token), "prompt").await? else {
            return Ok(None);
        };
        Ok(match decode(&stored.body)? {
            PromptRecord::Posted(p) => Some(*p),
            PromptRecord::Claimed => None,
        })
    }

    /// `token`'s state: votes, a decision in flight, or how it ended.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn state(&self, token: &ApprovalToken) -> Result<Option<TokenState>, StoreError> {
        self.records
            .get(&prompt_key(token), "state")
            .await?
            .map(|s| decode(&s.body))
            .transpose()
    }

    /// Applies `change` to `token`'s state atomically across processes: `change` sees the
    /// current state and returns a result and the new state (`None`: leave it); it may run
    /// more than once when another process wrote in between.
    ///
    /// # Errors
    /// The store cannot be reached, or the record stayed contended.
    pub async fn update_state<R>(
        &self,
        token: &ApprovalToken,
        mut change: impl FnMut(Option<&TokenState>) -> (R, Option<TokenState>),
    ) -> Result<R, StoreError> {
        let pk = prompt_key(token);
        for _ in 0..ATTEMPTS {
            let stored = self.records.get(&pk, "state").await?;
            let state: Option<TokenState> = stored.as_ref().map(|s| decode(&s.body)).transpose()?;
            let (result, next) = change(state.as_ref());
            let Some(next) = next else {
                return Ok(result);
            };
            let expect = stored.map_or(Expect::Absent, |s| Expect::Version(s.version));
            let body = encode(&next)?;
            if self
                .records
                .put(&pk, "state", expect, &body, epoch(Utc::now(), KEEP))
                .await?
                .is_some()
            {
                return Ok(result);
            }
        }
        Err(StoreError::contended())
    }

    /// Forgets `token`'s prompt as open (it was closed).
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn close(&self, token: &ApprovalToken) -> Result<(), StoreError> {
        self.records.delete("open", token.as_str()).await
    }

    /// The prompts not closed yet, oldest token first.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn open_prompts(&self) -> Result<Vec<Prompt>, StoreError> {
        self.records
            .list("open")
            .await?
            .iter()
            .map(|(_, stored)| decode(&stored.body))
            .collect()
    }

    /// Records that `user` started `execution_id` from `/deploy`.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn note_starter(&self, execution_id: &str, user: &UserId) -> Result<(), StoreError> {
        self.put_execution(execution_id, "starter", user).await
    }

    /// Who started `execution_id` from `/deploy`, if noted.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn starter(&self, execution_id: &str) -> Result<Option<UserId>, StoreError> {
        self.get_execution(execution_id, "starter").await
    }

    /// Records the thread that follows `execution_id`.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn note_thread(
        &self,
        execution_id: &str,
        thread: &ExecutionThread,
    ) -> Result<(), StoreError> {
        self.put_execution(execution_id, "thread", thread).await
    }

    /// The thread that follows `execution_id`, if any.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn thread(&self, execution_id: &str) -> Result<Option<ExecutionThread>, StoreError> {
        self.get_execution(execution_id, "thread").await
    }

    async fn put_execution<T: Serialize>(
        &self,
        execution_id: &str,
        sk: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let pk = execution_key(execution_id);
        let body = encode(value)?;
        let until = epoch(Utc::now(), KEEP);
        // Written once per execution; a second write (a retry) replaces the first.
        self.records.replace(&pk, sk, &body, until).await?;
        Ok(())
    }

    async fn get_execution<T: DeserializeOwned>(
        &self,
        execution_id: &str,
        sk: &str,
    ) -> Result<Option<T>, StoreError> {
        self.records
            .get(&execution_key(execution_id), sk)
            .await?
            .map(|s| decode(&s.body))
            .transpose()
    }

    /// When a token's records expire.
    fn until(&self, expires: Option<DateTime<Utc>>) -> i64 {
        match expires {
            Some(at) => epoch(at, AFTER_EXPIRY),
            None => epoch(Utc::now(), KEEP),
        }
    }
}
