//! The SQS long-poll loop over CodePipeline's EventBridge state-change events (`[events]`):
//! each event may close open approval prompts ([`Approvals::on_pipeline_event`]) and goes to
//! every command ([`Registry::on_event`]: `/deploy`'s follower of its execution, if one
//! watches it).
//!
//! Events are hints (prompts and followers re-read CodePipeline), so a handled message is
//! deleted at once; one that is not an event is logged with its id and hidden for `hide_secs`,
//! left to the queue's redrive policy.

use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use super::sqs;
use crate::approvals::Approvals;
use crate::commands::Registry;
use crate::events;
use crate::metrics::Health;

/// The events intake; `run` until cancelled.
pub struct PipelineEvents {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    /// Long-poll wait, 0–20 seconds.
    pub wait_time_secs: i32,
    /// How long an unreadable message is hidden before it comes back (or moves to the DLQ).
    pub hide_secs: u64,
    pub approvals: Arc<Approvals>,
    pub registry: Arc<Registry>,
    /// Marked on every successful poll.
    pub health: Arc<Health>,
}

impl PipelineEvents {
    /// Long-polls until `cancel` fires; messages in hand are finished.
    pub async fn run(self, cancel: CancellationToken) {
        tracing::info!(queue = %self.queue_url, "pipeline events intake started");
        while let Some(messages) = sqs::receive(
            &self.sqs,
            &self.queue_url,
            self.wait_time_secs,
            10,
            &cancel,
            &self.health.events_polled,
        )
        .await
        {
            for message in messages {
                let id = message.message_id.as_deref().unwrap_or("-");
                match events::parse(message.body.as_deref().unwrap_or_default()) {
                    Ok(event) => {
                        self.registry.on_event(&event);
                        self.approvals.on_pipeline_event(&event).await;
                        sqs::delete(&self.sqs, &self.queue_url, &message).await;
                    }
                    Err(e) => {
                        tracing::error!(message_id = id, error = %e, "not a pipeline event; left for the redrive policy");
                        sqs::hide(&self.sqs, &self.queue_url, &message, self.hide_secs).await;
                    }
                }
            }
        }
        tracing::info!("pipeline events intake stopped");
    }
}
