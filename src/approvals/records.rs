//! The approval records every process of the bot shares, kept in the state store
//! ([`Records`]: DynamoDB, or memory for a single process). One consistency policy for all of
//! them: every change is a compare-and-set on the record's version, retried on a lost race, so
//! that any number of processes agree.
//!
//! | key (`pk` / `sk`) | record | expires |
//! |---|---|---|
//! | `approval#<token>` / `prompt` | the prompt: claimed by a process (before the post; held `claim_secs`, then taken over by a process that first looks for the post in Slack) or posted | the approval's expiry + 1 day |
//! | `approval#<token>` / `state` | the quorum's votes, the decision in flight, or the outcome | 8 days after the last change |
//! | `open` / `<token>` | a posted prompt not closed yet, for the reconcile loop | as the prompt |
//! | `execution#<id>` / `starter` | who started the execution from `/deploy` | 8 days |
//! | `execution#<id>` / `thread` | the thread that follows the execution | 8 days |
//! | `refused#<token>` / `thread#user#<id>` | the person's refusal went into the prompt's thread | the burst window |
//! | `refused#<token>` / `thread#<n>` | the prompt's thread took its `n`th refusal line | the burst window |
//! | `refused#<token>` / `user#<id>#<outcome>` | the person was told of this refusal | the burst window |

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::announce::{ExecutionThread, Prompt};
use super::quorum::TokenState;
use super::stamp::PendingRestamp;
use crate::ids::{ApprovalToken, UserId};
use crate::outbound::records::{Expect, Records, StoreError};

/// How long records without an approval expiry are kept: CodePipeline approvals wait at most
/// 7 days (<https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals.html>).
const KEEP: Duration = Duration::from_secs(8 * 24 * 3600);
/// The partition of restamps Slack did not take yet.
const RESTAMPS: &str = "restamp";
/// How long a record outlives the approval's own expiry (for late clicks and restamps).
const AFTER_EXPIRY: Duration = Duration::from_secs(24 * 3600);
/// Compare-and-set attempts before giving up on a record many processes are writing.
const ATTEMPTS: usize = 8;

/// The prompt record of a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum PromptRecord {
    /// A process is posting it until `until` (epoch seconds). Past that the claimer is taken
    /// for dead, and its post may be in Slack without being recorded: the record stays (it is
    /// kept as long as a posted one) so that the next claimer knows to look first. `since` is
    /// when the first of the claims that may have posted began.
    Claimed { since: i64, until: i64 },
    /// It is in the channel.
    Posted(Box<Prompt>),
}

/// A token's prompt, claimed by this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// The record's version: [`ApprovalRecords::posted`] and
    /// [`ApprovalRecords::release_prompt`] write only over it.
    pub version: u64,
    /// When the first claim that may have posted began (epoch seconds).
    pub since: i64,
    /// Whether an earlier claim lapsed before its post was recorded: a prompt posted since
    /// `since` may be in Slack already, and must be looked for before posting.
    pub taken_over: bool,
    /// When the record expires (epoch seconds), whatever it becomes.
    keep_until: i64,
}

/// What a process may do about a token's prompt.
#[derive(Debug)]
pub enum PromptClaim {
    /// Post it (when [`Claim::taken_over`], unless it is found in Slack), then call
    /// [`ApprovalRecords::posted`] with this claim.
    Mine(Claim),
    /// Posted already.
    Posted(Box<Prompt>),
    /// Another process is posting it now (if it dies, its claim lapses and is taken over).
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

    /// Claims `token`'s prompt (for an approval that `expires` then) for this process, unless
    /// it was posted or another process is posting it. A claim whose `until` has passed is
    /// taken over with a compare-and-set, so that of two processes finding it lapsed one wins;
    /// the winner's [`Claim::taken_over`] says a post may exist.
    ///
    /// # Errors
    /// The store cannot be reached: post nothing, try later.
    pub async fn claim_prompt(
        &self,
        token: &ApprovalToken,
        expires: Option<DateTime<Utc>>,
    ) -> Result<PromptClaim, StoreError> {
        let pk = prompt_key(token);
        let keep_until = self.until(expires);
        for _ in 0..ATTEMPTS {
            let now = Utc::now().timestamp();
            let stored = self.records.get(&pk, "prompt").await?;
            let (expect, since, taken_over) = match &stored {
                None => (Expect::Absent, now, false),
                Some(stored) => match decode(&stored.body)? {
                    PromptRecord::Posted(p) => return Ok(PromptClaim::Posted(p)),
                    PromptRecord::Claimed { until, .. } if until > now => {
                        return Ok(PromptClaim::Elsewhere)
                    }
                    PromptRecord::Claimed { since, .. } => {
                        (Expect::Version(stored.version), since, true)
                    }
                },
            };
            let body = encode(&PromptRecord::Claimed {
                since,
                until: epoch(Utc::now(), self.claim),
            })?;
            if let Some(version) = self
                .records
                .put(&pk, "prompt", expect, &body, keep_until)
                .await?
            {
                return Ok(PromptClaim::Mine(Claim {
                    version,
                    since,
                    taken_over,
                    keep_until,
                }));
            }
        }
        Ok(PromptClaim::Elsewhere)
    }

    /// Gives up `claim` so that the next try need not wait for it to lapse. When a post may
    /// exist (`may_have_posted`: the call's outcome is unknown, or the claim was taken over
    /// from one that lapsed), the claim is left lapsed, and the next claimer looks in Slack
    /// first; otherwise the record goes, as if never claimed.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn release_prompt(
        &self,
        token: &ApprovalToken,
        claim: &Claim,
        may_have_posted: bool,
    ) -> Result<(), StoreError> {
        let now = Utc::now().timestamp();
        let lapsed = PromptRecord::Claimed {
            since: claim.since,
            until: now,
        };
        // Written as already expired when nothing was posted: absent for every reader.
        let expires_at = if may_have_posted || claim.taken_over {
            claim.keep_until
        } else {
            now
        };
        self.records
            .put(
                &prompt_key(token),
                "prompt",
                Expect::Version(claim.version),
                &encode(&lapsed)?,
                expires_at,
            )
            .await?;
        Ok(())
    }

    /// Records `prompt` as posted under `claim`, and as open.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn posted(&self, claim: &Claim, prompt: &Prompt) -> Result<(), StoreError> {
        let token = &prompt.approval.token;
        let until = self.until(prompt.expires);
        let body = encode(&PromptRecord::Posted(Box::new(prompt.clone())))?;
        let recorded = self
            .records
            .put(
                &prompt_key(token),
                "prompt",
                Expect::Version(claim.version),
                &body,
                until,
            )
            .await?;
        if recorded.is_none() {
            // This claim lapsed and another process took it over: that one looks in Slack
            // before posting, finds this post unless it looked before the post landed, and
            // records what it finds (as open too).
            tracing::warn!(token_hash = %token.hash(), "the prompt claim lapsed and another process took it over before this post was recorded");
            return Ok(());
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
            PromptRecord::Claimed { .. } => None,
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

    /// Whether a refusal on `token` may go into the prompt's thread: the first of each
    /// `window`, whoever clicked, across processes. Without the store, no (refusals fail quiet;
    /// the audit trail has every attempt).
    pub async fn refusal_in_thread(&self, token: &ApprovalToken, window: Duration) -> bool {
        match self.claim_refusal(token, "thread", window).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim the refusal's thread window; saying nothing in the thread");
                false
            }
        }
    }

    /// Whether `user` may be told of a refusal (`outcome`) on `token`: once per `window`
    /// across processes. Without the store, yes: they must learn that nothing was done.
    pub async fn refusal_to_person(
        &self,
        token: &ApprovalToken,
        user: &UserId,
        outcome: &str,
        window: Duration,
    ) -> bool {
        let sk = format!("user#{user}#{outcome}");
        match self.claim_refusal(token, &sk, window).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim the refusal's window; telling the person anyway");
                true
            }
        }
    }

    async fn claim_refusal(
        &self,
        token: &ApprovalToken,
        sk: &str,
        window: Duration,
    ) -> Result<bool, StoreError> {
        let until = epoch(Utc::now(), window);
        let pk = format!("refused#{token}");
        let put = self.records.put(&pk, sk, Expect::Absent, "{}", until);
        Ok(put.await?.is_some())
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
        self.open_prompts_after(None, usize::MAX).await
    }

    /// At most `limit` of the prompts not closed yet whose tokens come after `after` (from the
    /// first with `None`), by token: only those are read and decoded.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn open_prompts_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Prompt>, StoreError> {
        self.records
            .page("open", after, limit)
            .await?
            .iter()
            .map(|(_, stored)| decode(&stored.body))
            .collect()
    }

    /// Keeps `pending` (a restamp Slack did not take) for [`Self::pending_restamps`], replacing
    /// what was kept for `token`.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn keep_restamp(
        &self,
        token: &ApprovalToken,
        pending: &PendingRestamp,
    ) -> Result<(), StoreError> {
        let body = encode(pending)?;
        let until = epoch(Utc::now(), KEEP);
        self.records
            .replace(RESTAMPS, token.as_str(), &body, until)
            .await?;
        Ok(())
    }

    /// The restamps still to do, by token.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn pending_restamps(&self) -> Result<Vec<(String, PendingRestamp)>, StoreError> {
        self.records
            .list(RESTAMPS)
            .await?
            .into_iter()
            .map(|(token, stored)| Ok((token, decode(&stored.body)?)))
            .collect()
    }

    /// Forgets the restamp kept under `token` (done, or never to be done).
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn drop_restamp(&self, token: &str) -> Result<(), StoreError> {
        self.records.delete(RESTAMPS, token).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approvals::announce::Posted;
    use crate::ids::ChannelId;
    use slack_morphism::prelude::SlackMessageContent;

    const CLAIM: Duration = Duration::from_secs(60);

    fn token() -> ApprovalToken {
        crate::approvals::tests::sample().token
    }

    /// The records as a process holding claims for `claim` sees them.
    fn process(records: &Records, claim: Duration) -> ApprovalRecords {
        ApprovalRecords::new(records.clone(), claim)
    }

    async fn mine(records: &ApprovalRecords) -> Claim {
        match records.claim_prompt(&token(), None).await.expect("store") {
            PromptClaim::Mine(claim) => claim,
            other => panic!("expected the claim, got {other:?}"),
        }
    }

    /// A claim left by a process that died: its `until` has passed already.
    async fn lapsed(records: &Records) -> Claim {
        mine(&process(records, Duration::ZERO)).await
    }

    fn prompt(ts: &str) -> Prompt {
        Prompt {
            posted: Posted {
                channel: ChannelId::parse("C0DEPLOYS").expect("id"),
                ts: ts.to_owned(),
            },
            approval: crate::approvals::tests::sample(),
            content: SlackMessageContent::new(),
            starter: None,
            starter_known: false,
            authors: Vec::new(),
            expires: None,
        }
    }

    #[tokio::test]
    async fn a_first_claim_is_no_takeover() {
        let claim = mine(&process(&Records::memory(), CLAIM)).await;
        assert!(!claim.taken_over);
    }

    #[tokio::test]
    async fn a_claim_past_its_until_is_taken_over_and_says_a_post_may_exist() {
        let records = Records::memory();
        let dead = lapsed(&records).await;
        let taken = mine(&process(&records, CLAIM)).await;
        assert!(taken.taken_over);
        assert_eq!(
            taken.since, dead.since,
            "the lookup starts at the dead claim"
        );
        assert_ne!(taken.version, dead.version);
    }

    #[tokio::test]
    async fn a_live_claim_is_not_taken_over() {
        let records = Records::memory();
        mine(&process(&records, CLAIM)).await;
        let second = process(&records, CLAIM).claim_prompt(&token(), None).await;
        assert!(matches!(second, Ok(PromptClaim::Elsewhere)), "{second:?}");
    }

    #[tokio::test]
    async fn only_one_of_two_racing_takeovers_wins() {
        let records = Records::memory();
        lapsed(&records).await;
        let (a, b) = (process(&records, CLAIM), process(&records, CLAIM));
        let token = token();
        let (a, b) = tokio::join!(a.claim_prompt(&token, None), b.claim_prompt(&token, None));
        let won = [a, b]
            .into_iter()
            .filter(|c| matches!(c, Ok(PromptClaim::Mine(_))))
            .count();
        assert_eq!(won, 1);
    }

    #[tokio::test]
    async fn the_dead_claimers_late_writes_do_not_undo_a_takeover() {
        let records = Records::memory();
        let dead = lapsed(&records).await;
        let live = process(&records, CLAIM);
        let taken = mine(&live).await;
        let stale = process(&records, CLAIM);
        stale
            .release_prompt(&token(), &dead, false)
            .await
            .expect("store");
        stale
            .posted(&dead, &prompt("1.000001"))
            .await
            .expect("store");
        assert!(matches!(
            live.claim_prompt(&token(), None).await,
            Ok(PromptClaim::Elsewhere)
        ));
        live.posted(&taken, &prompt("1.000002"))
            .await
            .expect("store");
        let recorded = live.prompt(&token()).await.expect("store").expect("posted");
        assert_eq!(recorded.posted.ts, "1.000002");
    }

    #[tokio::test]
    async fn a_release_frees_the_token_unless_a_post_may_exist() {
        let records = Records::memory();
        let p = process(&records, CLAIM);
        let claim = mine(&p).await;
        p.release_prompt(&token(), &claim, false)
            .await
            .expect("store");
        let again = mine(&p).await;
        assert!(!again.taken_over, "nothing was posted: a plain claim");

        p.release_prompt(&token(), &again, true)
            .await
            .expect("store");
        let after_unknown = mine(&p).await;
        assert!(after_unknown.taken_over, "the post may exist: look first");

        p.release_prompt(&token(), &after_unknown, false)
            .await
            .expect("store");
        assert!(
            mine(&p).await.taken_over,
            "a takeover's release keeps the earlier post's possibility"
        );
    }

    #[tokio::test]
    async fn a_prompt_takes_one_refusal_line_per_window_and_each_person_one_reply_per_reason() {
        let records = Records::memory();
        let (a, b) = (process(&records, CLAIM), process(&records, CLAIM));
        let user = |id: &str| UserId::parse(id).expect("user");
        let (t, w) = (token(), Duration::from_secs(60));
        // One line in the thread per window, through either process.
        assert!(a.refusal_in_thread(&t, w).await);
        assert!(!b.refusal_in_thread(&t, w).await);
        assert!(!a.refusal_in_thread(&t, w).await);
        // One reply per person and reason.
        assert!(
            a.refusal_to_person(&t, &user("U0ONE"), "not_an_approver", w)
                .await
        );
        assert!(
            !b.refusal_to_person(&t, &user("U0ONE"), "not_an_approver", w)
                .await
        );
        assert!(b.refusal_to_person(&t, &user("U0ONE"), "closed", w).await);
        assert!(
            a.refusal_to_person(&t, &user("U0THREE"), "not_an_approver", w)
                .await
        );
        // Another prompt has its own window; a window that has passed is claimed again.
        let other = ApprovalToken::parse("2a2b3c4d-573f-4ea7-a67e-0123456789ab").expect("uuid");
        for _ in 0..3 {
            assert!(a.refusal_in_thread(&other, Duration::ZERO).await);
        }
    }
}
