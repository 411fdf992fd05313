//! SQS plumbing shared by the queue loops: one long-poll receive that yields to cancellation,
//! delete a handled message (one at a time, or in batches of up to ten through [`Deleter`]),
//! hide one for a while (a retry later, or the redrive policy), or keep one hidden while it is
//! worked on (a visibility heartbeat).

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::metrics::{Mark, METRICS};

/// Pause after a failed `ReceiveMessage` before polling again.
const RECEIVE_ERROR_PAUSE: Duration = Duration::from_secs(2);

/// One long poll of up to `max` messages (SQS hands out 1 to 10; with their receive counts). `None` once `cancel` fires:
/// a receive in flight is abandoned (what SQS handed out reappears after its visibility
/// timeout). A failed receive is logged and paused on, and yields no messages; a successful
/// one marks `polled` (the health check's "queue reachable").
pub async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    wait_time_secs: i32,
    max: usize,
    cancel: &CancellationToken,
    polled: &Mark,
) -> Option<Vec<Message>> {
    let max = i32::try_from(max.clamp(1, 10)).unwrap_or(10);
    let received = tokio::select! {
        () = cancel.cancelled() => return None,
        r = sqs
            .receive_message()
            .queue_url(queue_url)
            .wait_time_seconds(wait_time_secs)
            .max_number_of_messages(max)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send() => r,
    };
    match received {
        Ok(out) => {
            polled.now();
            let messages = out.messages.unwrap_or_default();
            METRICS.sqs_received.add(messages.len() as u64);
            Some(messages)
        }
        Err(e) => {
            tracing::error!(error = %DisplayErrorContext(&e), queue = queue_url, "ReceiveMessage failed");
            tokio::select! {
                () = cancel.cancelled() => None,
                () = tokio::time::sleep(RECEIVE_ERROR_PAUSE) => Some(Vec::new()),
            }
        }
    }
}

/// Deletes `message` from `queue_url`. A failed delete only means a redelivery, which the
/// consumers absorb (posted-token record, state re-read).
pub async fn delete(sqs: &aws_sdk_sqs::Client, queue_url: &str, message: &Message) {
    let Some(handle) = message.receipt_handle.as_deref() else {
        return;
    };
    METRICS.sqs_deleted.inc();
    if let Err(e) = sqs
        .delete_message()
        .queue_url(queue_url)
        .receipt_handle(handle)
        .send()
        .await
    {
        tracing::warn!(error = %DisplayErrorContext(&e), "DeleteMessage failed; expect a redelivery");
    }
}

/// Makes `message` invisible for `secs` seconds: it failed, and comes back for another try
/// (counted as failed).
pub async fn hide(sqs: &aws_sdk_sqs::Client, queue_url: &str, message: &Message, secs: u64) {
    METRICS.sqs_failed.inc();
    set_visibility(sqs, queue_url, message, secs).await;
}

/// Keeps `message` invisible for `secs` more seconds while it is still being worked on.
pub async fn extend(sqs: &aws_sdk_sqs::Client, queue_url: &str, message: &Message, secs: u64) {
    set_visibility(sqs, queue_url, message, secs).await;
}

async fn set_visibility(sqs: &aws_sdk_sqs::Client, queue_url: &str, message: &Message, secs: u64) {
    let Some(handle) = message.receipt_handle.as_deref() else {
        return;
    };
    let secs = i32::try_from(secs).unwrap_or(i32::MAX);
    if let Err(e) = sqs
        .change_message_visibility()
        .queue_url(queue_url)
        .receipt_handle(handle)
        .visibility_timeout(secs)
        .send()
        .await
    {
        tracing::warn!(error = %DisplayErrorContext(&e), "ChangeMessageVisibility failed");
    }
}

/// Deletes handled messages in batches: what finished while a `DeleteMessageBatch` was in
/// flight goes in the next one (up to SQS's ten per call:
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessageBatch.html>).
/// A message is handed over only once it is done, so batching never deletes early.
#[derive(Clone)]
pub struct Deleter(mpsc::UnboundedSender<String>);

impl Deleter {
    /// The deleter, and its task: it ends, having deleted everything handed to it, once every
    /// clone of the deleter is dropped.
    pub fn spawn(sqs: aws_sdk_sqs::Client, queue_url: String) -> (Self, JoinHandle<()>) {
        let (sender, mut handles) = mpsc::unbounded_channel::<String>();
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(10);
            while handles.recv_many(&mut batch, 10).await > 0 {
                delete_batch(&sqs, &queue_url, std::mem::take(&mut batch)).await;
            }
        });
        (Self(sender), task)
    }

    /// Queues `message` for deletion.
    pub fn delete(&self, message: &Message) {
        if let Some(handle) = &message.receipt_handle {
            // The task outlives every sender; a send fails only if it panicked (logged there).
            let _ = self.0.send(handle.clone());
        }
    }
}

async fn delete_batch(sqs: &aws_sdk_sqs::Client, queue_url: &str, handles: Vec<String>) {
    let entries: Vec<_> = handles
        .into_iter()
        .enumerate()
        .filter_map(|(index, handle)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .receipt_handle(handle)
                .build()
                .ok()
        })
        .collect();
    let count = entries.len() as u64;
    match sqs
        .delete_message_batch()
        .queue_url(queue_url)
        .set_entries(Some(entries))
        .send()
        .await
    {
        Ok(out) => {
            for failed in &out.failed {
                tracing::warn!(
                    code = %failed.code,
                    sender_fault = failed.sender_fault,
                    "DeleteMessageBatch entry failed; expect a redelivery"
                );
            }
            METRICS.sqs_deleted.add(count - out.failed.len() as u64);
        }
        Err(e) => {
            tracing::warn!(error = %DisplayErrorContext(&e), count, "DeleteMessageBatch failed; expect redeliveries");
        }
    }
}
