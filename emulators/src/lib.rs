//! Local stand-ins for what chatops talks to, as a library with thin binaries, shared by the
//! integration tests and the sandbox:
//!
//! - [`slack`]: the Slack Web API and Socket Mode (plus a browser UI for the sandbox).
//! - [`codepipeline`]: AWS CodePipeline with manual approvals, over the AWS JSON 1.1 protocol.
//! - [`ministack`]: set-up helpers for resources on the ministack AWS emulator.
//! - [`redshift_demo`]: the Redshift system-table exports `/redshift-alerts` reads, on ministack.
//! - [`sandbox`]: the demo workspace `scripts/sandbox` runs.
//! - [`testing`]: [`testing::eventually`], how every test waits for background work.

pub mod codepipeline;
pub mod ministack;
pub mod redshift_demo;
pub mod sandbox;
pub mod slack;
pub mod testing;
