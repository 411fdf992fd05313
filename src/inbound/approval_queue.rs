//! The SQS long-poll loop: approval notifications → [`Approvals::announce`].
//!
//! Up to `approvals.concurrency` messages are worked on at once, and the loop receives only as
//! many as it has room for, so a message never waits hidden behind a slow prompt. A message is
//! kept hidden while it is worked on (a visibility heartbeat every `approvals.heartbeat_secs`),
//! and two copies of one approval (a redelivery, a second subscription) are never worked on at
//! once in this process: the second comes back later (across processes, the prompt claim in the
//! store does the same).
//!
//! A message is deleted (in batches) only after Slack accepted its prompt (or it was a
//! redelivery of one already posted). On a Slack failure its visibility is set to a growing delay
//! so it comes back for another try. A message that can never be handled is logged with its id
//! and left to the queue's redrive policy, hidden for the longest delay so it does not spin.

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::sqs;
use crate::approvals::announce::Announced;
use crate::approvals::{notification, Approvals};
use crate::config::ApprovalSettings;
use crate::metrics::Health;

/// The intake loop; `run` until cancelled.
pub struct ApprovalQueue {
    sqs: aws_sdk_sqs::Client,
    settings: ApprovalSettings,
    approvals: Arc<Approvals>,
    health: Arc<Health>,
    /// The hashes of the approval tokens being worked on now.
    in_hand: Mutex<HashSet<String>>,
}

impl ApprovalQueue {
    /// A loop over `settings.queue_url`.
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        settings: ApprovalSettings,
        approvals: Arc<Approvals>,
        health: Arc<Health>,
    ) -> Self {
        Self {
            sqs,
            settings,
            approvals,
            health,
            in_hand: Mutex::new(HashSet::new()),
        }
    }

    /// Long-polls until `cancel` fires. A receive in flight is abandoned at cancellation (what SQS
    /// handed out reappears after its visibility timeout); messages in hand are finished.
    pub async fn run(self, cancel: CancellationToken) {
        tracing::info!(queue = %self.settings.queue_url, "approval intake started");
        let this = Arc::new(self);
        let room = Arc::new(Semaphore::new(this.settings.concurrency));
        let (deleter, deletions) =
            sqs::Deleter::spawn(this.sqs.clone(), this.settings.queue_url.clone());
        let mut working = JoinSet::new();
        loop {
            // Room for one at least before polling: what is received is worked on at once.
            let first = tokio::select! {
                () = cancel.cancelled() => break,
                permit = room.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            let Some(messages) = sqs::receive(
                &this.sqs,
                &this.settings.queue_url,
                this.settings.wait_time_secs,
                room.available_permits() + 1,
                &cancel,
                &this.health.queue_polled,
            )
            .await
            else {
                break;
            };
            let mut permits = std::iter::once(first)
                .chain(std::iter::from_fn(|| room.clone().try_acquire_owned().ok()));
            for message in messages {
                // No more messages were asked for than there was room for.
                let permit = permits.next();
                let (this, deleter) = (this.clone(), deleter.clone());
                let span = tracing::info_span!(
                    "sqs_message",
                    message_id = message.message_id.as_deref().unwrap_or("-"),
                    pipeline = tracing::field::Empty,
                    token_hash = tracing::field::Empty,
                );
                working.spawn(
                    async move {
                        this.heartbeat(&message, this.handle(&message, &deleter))
                            .await;
                        drop(permit);
                    }
                    .instrument(span),
                );
            }
            while working.try_join_next().is_some() {}
        }
        while working.join_next().await.is_some() {}
        drop(deleter);
        if deletions.await.is_err() {
            tracing::error!("the SQS deleter ended abnormally; expect redeliveries");
        }
        tracing::info!("approval intake stopped");
    }

    /// Runs `work` on `message`, keeping the message hidden from other consumers meanwhile.
    async fn heartbeat(&self, message: &Message, work: impl std::future::Future<Output = ()>) {
        let beat = Duration::from_secs(self.settings.heartbeat_secs);
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + beat, beat);
        tokio::pin!(work);
        loop {
            tokio::select! {
                () = &mut work => return,
                _ = ticks.tick() => {
                    tracing::info!(
                        "prompt still in the works; keeping the message hidden"
                    );
                    sqs::extend(&self.sqs, &self.settings.queue_url, message, 2 * beat.as_secs()).await;
                }
            }
        }
    }

    async fn handle(&self, message: &Message, deleter: &sqs::Deleter) {
        let receive_count: u32 = message
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        let request = match notification::parse(message.body.as_deref().unwrap_or_default()) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, receive_count, "message is not an approval notification; left for the redrive policy");
                self.hide(message, self.settings.retry_max_secs).await;
                return;
            }
        };
        let span = tracing::Span::current();
        span.record("pipeline", request.approval.pipeline.as_str());
        let token_hash = request.approval.token.hash();
        span.record("token_hash", &token_hash);
        if !self.lock().insert(token_hash.clone()) {
            let delay = self.retry_delay(receive_count);
            tracing::info!(
                receive_count,
                retry_in_secs = delay,
                "this approval is already in hand here; checking again later"
            );
            self.hide(message, delay).await;
            return;
        }
        let announced = self.approvals.announce(&request).await;
        self.lock().remove(&token_hash);
        match announced {
            Ok(Announced::Posted(p)) => {
                tracing::info!(channel = %p.channel, ts = %p.ts, "approval prompt posted");
                deleter.delete(message);
            }
            Ok(Announced::AlreadyPosted(p)) => {
                tracing::info!(channel = %p.channel, ts = %p.ts, "redelivered notification; prompt already posted");
                deleter.delete(message);
            }
            Ok(Announced::Found(p)) => {
                tracing::info!(channel = %p.channel, ts = %p.ts, "redelivered notification; the prompt a process posted before it died is recorded");
                deleter.delete(message);
            }
            Ok(Announced::PostingElsewhere) => {
                // Kept until the other process's prompt is recorded: if it dies, this copy
                // takes its claim over once it lapses (and looks for its post first).
                let delay = self.retry_delay(receive_count);
                tracing::info!(
                    receive_count,
                    retry_in_secs = delay,
                    "another process is posting this prompt; checking again later"
                );
                self.hide(message, delay).await;
            }
            Err(e) if e.is_transient() => {
                let delay = self.retry_delay(receive_count);
                tracing::warn!(error = %e, receive_count, retry_in_secs = delay, "prompt not posted; the message will come back");
                self.hide(message, delay).await;
            }
            Err(e) => {
                tracing::error!(error = %e, receive_count, "approval cannot be handled; left for the redrive policy");
                self.hide(message, self.settings.retry_max_secs).await;
            }
        }
    }

    /// `retry_base_secs` doubled per earlier receive, capped at `retry_max_secs`.
    fn retry_delay(&self, receive_count: u32) -> u64 {
        let doublings = receive_count.saturating_sub(1).min(16);
        self.settings
            .retry_base_secs
            .saturating_mul(1 << doublings)
            .min(self.settings.retry_max_secs)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // Nothing panics while holding the lock: a poisoned set is still a valid set.
        self.in_hand
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn hide(&self, message: &Message, secs: u64) {
        sqs::hide(&self.sqs, &self.settings.queue_url, message, secs).await;
    }
}
