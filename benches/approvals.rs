//! `scripts/bench`: what the shared state store costs one approval. The real app in-process,
//! on the Slack and CodePipeline stand-ins and ministack, once with the records in memory and
//! once in a DynamoDB table; approvals clicked one at a time, each timed from the click's
//! envelope to the prompt restamped without buttons (the ack, the store, `PutApprovalResult`,
//! `chat.update`), woken by the stand-in's own change notice rather than by polling.
//! Prints the median and p99 of each, and the state store requests per approval (intake and
//! decision). Figures, not assertions: the tests assert behaviour, this shows speed.

#[allow(
    dead_code,
    reason = "the integration tests' harness, of which the bench uses a part"
)]
#[path = "../tests/integration/support/mod.rs"]
mod support;

use emulators::codepipeline::{ExecutionMode, PipelineDef};
use std::time::{Duration, Instant};

use chatops::metrics::METRICS;
use support::{has_buttons, Bot, Options, ALICE, CHANNEL, DEADLINE};

/// Approvals per store.
const APPROVALS: usize = 300;
/// Approvals waiting at once (a PARALLEL pipeline; few enough that each prompt finds its
/// execution in the first page of `ListActionExecutions`).
const WAVE: usize = 20;

struct Figures {
    store: &'static str,
    median: Duration,
    p99: Duration,
    reads: f64,
    writes: f64,
}

async fn run(store: &'static str, shared: bool) -> Figures {
    let mut bot = Bot::prepare(false).await;
    if shared {
        bot = bot.with_shared_state().await;
    }
    bot.codepipeline.create_pipeline(PipelineDef {
        execution_mode: ExecutionMode::Parallel,
        ..PipelineDef::with_approval(&bot.pipeline, &bot.aws.topic_arn)
    });
    let bot = bot.start(Options::default()).await;
    let (reads, writes) = (METRICS.state_reads.get(), METRICS.state_writes.get());
    let mut times = Vec::with_capacity(APPROVALS);
    for _ in 0..APPROVALS / WAVE {
        let before = bot.prompts().len();
        for _ in 0..WAVE {
            bot.codepipeline.start_execution(&bot.pipeline).await;
        }
        let prompts = emulators::testing::eventually(DEADLINE, "the wave's prompts", || async {
            let prompts = bot.prompts();
            (prompts.len() >= before + WAVE).then(|| prompts[before..].to_vec())
        })
        .await;
        for prompt in prompts {
            let started = Instant::now();
            bot.slack
                .click(CHANNEL, &prompt.ts, "approval:approve", ALICE)
                .await
                .expect("click delivered");
            bot.slack
                .wait_for_message(CHANNEL, &prompt.ts, DEADLINE, |m| !has_buttons(m))
                .await
                .expect("the prompt restamped");
            times.push(started.elapsed());
        }
    }
    assert_eq!(bot.codepipeline.put_approval_calls(), APPROVALS);
    times.sort();
    let per = |n: u64| n as f64 / APPROVALS as f64;
    Figures {
        store,
        median: times[times.len() / 2],
        p99: times[times.len() * 99 / 100],
        reads: per(METRICS.state_reads.get() - reads),
        writes: per(METRICS.state_writes.get() - writes),
    }
}

#[tokio::main]
async fn main() {
    let memory = run("memory", false).await;
    let dynamodb = run("DynamoDB (ministack)", true).await;
    println!("{APPROVALS} approvals clicked one at a time: click → PutApprovalResult → restamp");
    println!("| store | median | p99 | store reads / approval | store writes / approval |");
    println!("|---|---|---|---|---|");
    for f in [&memory, &dynamodb] {
        println!(
            "| {} | {:.1} ms | {:.1} ms | {:.1} | {:.1} |",
            f.store,
            f.median.as_secs_f64() * 1e3,
            f.p99.as_secs_f64() * 1e3,
            f.reads,
            f.writes
        );
    }
    println!(
        "DynamoDB adds {:.1} ms at the median, {:.1} ms at p99.",
        (dynamodb.median.as_secs_f64() - memory.median.as_secs_f64()) * 1e3,
        (dynamodb.p99.as_secs_f64() - memory.p99.as_secs_f64()) * 1e3
    );
}
