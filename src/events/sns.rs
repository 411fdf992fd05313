//! SQS bodies that may come inside an SNS envelope: CodePipeline's approval notifications
//! (published to SNS, then delivered to SQS) and its EventBridge events (targeting SQS directly
//! or through SNS). Pure: no I/O.
//!
//! SNS wraps the payload as a JSON *string* in `Message`
//! (<https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html>); with raw
//! message delivery the body is the payload itself
//! (<https://docs.aws.amazon.com/sns/latest/dg/sns-large-payload-raw-message-delivery.html>).

use serde::Deserialize;

#[derive(Deserialize)]
struct SnsEnvelope {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Message")]
    message: String,
}

/// Why an SQS body could not be read as JSON.
pub enum SnsError {
    /// The body itself.
    Body(String),
    /// The `Message` inside an SNS envelope.
    Message(String),
}

/// An SQS body as JSON: the SNS envelope's `Message` when it is one (`Type` `Notification`
/// with a string `Message`), else the body itself (raw delivery, or EventBridge → SQS).
pub fn unwrap(body: &str) -> Result<serde_json::Value, SnsError> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| SnsError::Body(e.to_string()))?;
    match serde_json::from_value::<SnsEnvelope>(value.clone()) {
        Ok(envelope) if envelope.kind == "Notification" => {
            serde_json::from_str(&envelope.message).map_err(|e| SnsError::Message(e.to_string()))
        }
        _ => Ok(value),
    }
}
