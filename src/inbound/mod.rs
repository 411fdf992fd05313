//! Inbound adapters: Slack Socket Mode and the SQS approval queue. They convert what arrives
//! and call the domain; only `app.rs` knows them.

pub mod approval_queue;
pub mod socket_mode;
