//! The SQS long-poll loop: approval notifications → [`Approvals::announce`].
//!
//! A message is deleted only after Slack accepted its prompt (or it was a redelivery of one
//! already posted). On a Slack failure its visibility is set to a growing delay so it comes back
//! for another try. A message that can never be handled is logged with its id and left to the
//! queue's redrive policy, hidden for the longest delay so it does not spin.

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use std::sync::Arc;
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
        }
    }

    /// Long-polls until `cancel` fires. A receive in flight is abandoned at cancellation (what SQS
    /// handed out reappears after its visibility timeout); messages in hand are finished.
    pub async fn run(self, cancel: CancellationToken) {
        tracing::info!(queue = %self.settings.queue_url, "approval intake started");
        let queue = &self.settings.queue_url;
        while let Some(messages) = sqs::receive(
            &self.sqs,
            queue,
            self.settings.wait_time_secs,
            &cancel,
            &self.health.queue_polled,
        )
        .await
        {
            for message in messages {
                let span = tracing::info_span!(
                    "sqs_message",
                    message_id = message.message_id.as_deref().unwrap_or("-"),
                    pipeline = tracing::field::Empty,
                    token_hash = tracing::field::Empty,
                );
                self.handle(message).instrument(span).await;
            }
        }
        tracing::info!("approval intake stopped");
    }

    async fn handle(&self, message: Message) {
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
                self.hide(&message, self.settings.retry_max_secs).await;
                return;
            }
        };
        let span = tracing::Span::current();
        span.record("pipeline", request.approval.pipeline.as_str());
        span.record("token_hash", request.approval.token.hash());
        match self.approvals.announce(&request).await {
            Ok(Announced::Posted(p)) => {
                tracing::info!(channel = %p.channel, ts = %p.ts, "approval prompt posted");
                self.delete(&message).await;
            }
            Ok(Announced::AlreadyPosted(p)) => {
                tracing::info!(channel = %p.channel, ts = %p.ts, "redelivered notification; prompt already posted");
                self.delete(&message).await;
            }
            Ok(Announced::Found(p)) => {
                tracing::info!(channel = %p.channel, ts = %p.ts, "redelivered notification; the prompt a process posted before it died is recorded");
                self.delete(&message).await;
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
                self.hide(&message, delay).await;
            }
            Err(e) if e.is_transient() => {
                let delay = self.retry_delay(receive_count);
                tracing::warn!(error = %e, receive_count, retry_in_secs = delay, "prompt not posted; the message will come back");
                self.hide(&message, delay).await;
            }
            Err(e) => {
                tracing::error!(error = %e, receive_count, "approval cannot be handled; left for the redrive policy");
                self.hide(&message, self.settings.retry_max_secs).await;
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

    async fn delete(&self, message: &Message) {
        sqs::delete(&self.sqs, &self.settings.queue_url, message).await;
    }

    async fn hide(&self, message: &Message, secs: u64) {
        sqs::hide(&self.sqs, &self.settings.queue_url, message, secs).await;
    }
}
