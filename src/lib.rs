//! chatops: run AWS CodePipeline approvals from Slack over Socket Mode, with no public endpoint.
//!
//! Data flows one way:
//!
//! ```text
//! inbound/ (Socket Mode, SQS long-poll)  →  approvals/, commands/ (domain)  →  outbound/ (Slack, AWS)
//! ```
//!
//! - [`config`]: typed settings from one TOML file plus `CHATOPS__…` overrides.
//! - [`app`]: the composition root; builds every client once, runs the loops, owns shutdown.
//! - [`inbound`]: adapters that convert what arrives and hand it to the domain.
//! - [`approvals`]: parse notifications, post prompts, apply decisions.
//! - [`commands`]: the slash-command registry (`/deploy`, `/redshift-alerts`).
//! - [`audit`]: the shared audit trail both write (decisions, starts, stops) and `/deploy
//!   history` reads.
//! - [`signing`]: button values and modal metadata signed with a key from Parameter Store, and
//!   checked before any click is routed.
//! - [`outbound`]: the Slack Web API, CodePipeline, Parameter Store, Block Kit rendering.

pub mod app;
pub mod approvals;
pub mod audit;
pub mod commands;
pub mod config;
pub mod error;
pub mod events;
pub mod ids;
pub mod inbound;
pub mod interaction;
pub mod metrics;
pub mod outbound;
pub mod secret;
pub mod signing;
pub mod sync;
pub mod telemetry;
