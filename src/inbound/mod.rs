//! Inbound adapters: Slack Socket Mode, the SQS approval queue and the SQS pipeline-events
//! queue. They convert what arrives and call the domain; only `app.rs` knows them.

pub mod approval_queue;
pub mod health;
pub mod pipeline_events;
pub mod socket_mode;
mod sqs;
