//! SQS plumbing shared by the queue loops: one long-poll receive that yields to cancellation,
//! delete a handled message, hide one for a while (a retry later, or the redrive policy).

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::metrics::{Mark, METRICS};

/// Pause after a failed `ReceiveMessage` before polling again.
const RECEIVE_ERROR_PAUSE: Duration = Duration::from_secs(2);

/// One long poll of up to 10 messages (with their receive counts). `None` once `cancel` fires:
/// a receive in flight is abandoned (what SQS handed out reappears after its visibility
/// timeout). A failed receive is logged and paused on, and yields no messages; a successful
/// one marks `polled` (the health check's "queue reachable").
pub async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    wait_time_secs: i32,
    cancel: &CancellationToken,
    polled: &Mark,
) -> Option<Vec<Message>> {
    let received = tokio::select! {
        () = cancel.cancelled() => return None,
        r = sqs
            .receive_message()
            .queue_url(queue_url)
            .wait_time_seconds(wait_time_secs)
            .max_number_of_messages(10)
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

/// Makes `message` invisible for `secs` seconds.
pub async fn hide(sqs: &aws_sdk_sqs::Client, queue_url: &str, message: &Message, secs: u64) {
    let Some(handle) = message.receipt_handle.as_deref() else {
        return;
    };
    METRICS.sqs_failed.inc();
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
