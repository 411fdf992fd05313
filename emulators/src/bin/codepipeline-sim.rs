//! `codepipeline-sim`: the CodePipeline simulator as a process, for the local sandbox.
//!
//! Reads a JSON file holding a list of pipeline definitions (the serde form of
//! `emulators::codepipeline::PipelineDef`), serves on `127.0.0.1:<port>`, prints the
//! endpoint URL on stdout, and exits on Ctrl-C or SIGTERM. Example file:
//!
//! ```json
//! [{"name": "web", "stages": [
//!   {"name": "Source", "actions": [{"name": "Source", "kind":
//!     {"type": "source", "revision_id": "3f7c1e2a", "revision_summary": "Fix login"}}]},
//!   {"name": "Approve", "actions": [{"name": "ManualApproval", "kind":
//!     {"type": "manual_approval",
//!      "notification_arn": "arn:aws:sns:us-east-1:000000000000:approvals",
//!      "custom_data": "Ship it?"}}]}]}]
//! ```

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use emulators::codepipeline::{CodePipelineSim, PipelineDef, SimConfig};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// Serve a simulated AWS CodePipeline (manual approvals) on localhost.
#[derive(Parser)]
struct Args {
    /// JSON file: a list of pipeline definitions.
    pipelines: PathBuf,
    /// SNS endpoint the approval notifications are published to.
    #[arg(long, default_value = "http://127.0.0.1:4566")]
    sns_endpoint: String,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Region shown in notifications and ARNs.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Account id shown in ARNs.
    #[arg(long, default_value = "000000000000")]
    account_id: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let file = std::fs::read_to_string(&args.pipelines)
        .with_context(|| format!("reading {}", args.pipelines.display()))?;
    let pipelines: Vec<PipelineDef> = serde_json::from_str(&file).with_context(|| {
        format!(
            "parsing pipeline definitions in {}",
            args.pipelines.display()
        )
    })?;
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
    let config = SimConfig {
        region: args.region,
        account_id: args.account_id,
        sns_endpoint_url: args.sns_endpoint,
    };
    let shutdown = CancellationToken::new();
    let sim = CodePipelineSim::serve(listener, config, shutdown.clone())?;
    for pipeline in pipelines {
        sim.create_pipeline(pipeline);
    }
    // The one line of output scripts read.
    println!("{}", sim.endpoint_url());
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted.context("waiting for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    shutdown.cancel();
    Ok(())
}
