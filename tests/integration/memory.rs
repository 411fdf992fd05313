//! Memory stays flat over a long run (issue 12, point 10): the real binary, its state in
//! DynamoDB as in production, takes [`APPROVALS`] approvals (each prompted, clicked, decided
//! and restamped) and as many `/deploy` commands, in waves; its resident memory at the end is
//! within [`GROWTH`] of what it was after the first [`SETTLED`] of each. A process that kept
//! something per approval or per command (a closed prompt, an answered trigger, a refusal
//! window) would grow by about as much again nine times over.
//!
//! Prints `MEMORY | …` with the figures.

use emulators::codepipeline::{ExecutionMode, PipelineDef};
use emulators::slack::{Envelope, Message};
use emulators::testing::eventually;
use futures_util::future::join_all;
use std::time::Instant;

use crate::processes::ONE_FLEET;
use crate::support::approvals::APPROVE;
use crate::support::process::finish;
use crate::support::{has_buttons, response_url, Bot, ALICE, CHANNEL, DEADLINE};

/// Approvals in all, and commands in all.
const APPROVALS: usize = 10_000;
/// Approvals (and commands) per wave: each wave is prompted, clicked and restamped before the
/// next, so ministack's DynamoDB (one Python process) answers within the bot's timeouts.
const WAVE: usize = 50;
/// Where the baseline is taken: the caches and pools are warm, the allocator has its arenas.
const SETTLED: usize = 1_000;
/// How much the resident memory may grow from the baseline to the end: an eighth, and at
/// least 4 MiB (the allocator's arenas and the SDK's connection pools move by a few MiB).
const GROWTH: fn(u64) -> u64 = |baseline| (baseline / 8).max(4 * 1024 * 1024);

/// The process's resident set size in bytes (`VmRSS` of `/proc/<pid>/status`).
fn resident(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

/// A `/deploy status` answer (it carries the buttons of an approval waiting then).
fn is_status(m: &Message) -> bool {
    m.text
        .as_deref()
        .is_some_and(|t| t.starts_with("Status of"))
}

/// How often a wave's end is looked for.
const POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// How far back a wave's messages are looked for: a wave adds its prompts, a thread reply to
/// each and its status answers, fewer than this.
const RECENT: usize = 4 * WAVE;

/// One wave: [`WAVE`] executions prompted, each clicked and restamped; [`WAVE`] commands
/// (half `/deploy status`, answered in the channel, half `/deploy list`, answered through the
/// command's `response_url`), each answered.
async fn wave(bot: &Bot) {
    for _ in 0..WAVE {
        bot.codepipeline.start_execution(&bot.pipeline).await;
    }
    let prompts: Vec<String> = eventually(DEADLINE, "the wave's prompts", || async {
        let open: Vec<String> = bot
            .slack
            .recent_messages(CHANNEL, RECENT)
            .into_iter()
            .filter(|m| m.thread_ts.is_none() && !is_status(m) && has_buttons(m))
            .map(|m| m.ts)
            .collect();
        (open.len() == WAVE).then_some(open)
    })
    .await;
    let mut envelopes: Vec<Envelope> = Vec::new();
    for ts in &prompts {
        let click = bot.slack.click(CHANNEL, ts, APPROVE, ALICE).await;
        envelopes.push(click.expect("click delivered"));
    }
    let status = format!("status {}", bot.pipeline);
    for n in 0..WAVE {
        let text = if n % 2 == 0 { status.as_str() } else { "list" };
        let command = bot
            .slack
            .slash_command(CHANNEL, ALICE, "/deploy", text)
            .await;
        envelopes.push(command.expect("command delivered"));
    }
    let acks = join_all(envelopes.iter().map(|e| e.acked(DEADLINE))).await;
    assert!(acks.iter().all(Option::is_some), "every envelope acked");
    let listings: Vec<String> = envelopes[WAVE..]
        .iter()
        .skip(1)
        .step_by(2)
        .map(response_url)
        .collect();
    let mut poll = tokio::time::interval(POLL);
    let started = Instant::now();
    loop {
        poll.tick().await;
        let recent = bot.slack.recent_messages(CHANNEL, RECENT);
        let unstamped = prompts
            .iter()
            .filter(|ts| !recent.iter().any(|m| &m.ts == *ts && !has_buttons(m)))
            .count();
        let first = recent.iter().position(|m| m.ts == prompts[0]);
        let statuses = first.map_or(0, |i| recent[i..].iter().filter(|m| is_status(m)).count());
        let unanswered = listings
            .iter()
            .filter(|url| bot.slack.responses(url).is_empty())
            .count();
        if unstamped == 0 && statuses == WAVE / 2 && unanswered == 0 {
            return;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "a wave not done: {unstamped} prompts not restamped, {statuses} status answers of {}, {unanswered} list answers missing",
            WAVE / 2
        );
    }
}

#[tokio::test]
async fn memory_after_ten_thousand_approvals_and_commands_is_where_it_was_after_a_thousand() {
    let _turn = ONE_FLEET.lock().await;
    let bot = Bot::prepare(false).await.with_shared_state().await;
    bot.codepipeline.create_pipeline(PipelineDef {
        execution_mode: ExecutionMode::Parallel,
        ..PipelineDef::with_approval(&bot.pipeline, &bot.aws.topic_arn)
    });
    let running = bot.start_process(2, &[]).await;
    let pid = running.child.id().expect("the bot's pid");
    let started = Instant::now();
    let mut baseline = None;
    let mut peak = 0;
    for n in 0..APPROVALS / WAVE {
        wave(&bot).await;
        let now = resident(pid);
        peak = peak.max(now);
        if (n + 1) * WAVE == SETTLED {
            baseline = Some((now, started.elapsed()));
        }
        if (n + 1) * WAVE % SETTLED == 0 {
            eprintln!(
                "MEMORY | after {} approvals and commands: resident {now} B, {:?}",
                (n + 1) * WAVE,
                started.elapsed()
            );
        }
    }
    let end = resident(pid);
    let (baseline, settled_after) = baseline.expect("the baseline was taken");

    assert_eq!(bot.codepipeline.approval_results().len(), APPROVALS);
    for read in [
        "GetPipelineState",
        "GetPipelineExecution",
        "ListActionExecutions",
    ] {
        eprintln!(
            "MEMORY | {read}: {} requests for {APPROVALS} approvals",
            bot.codepipeline.requests(read)
        );
    }
    eprintln!(
        "MEMORY | {APPROVALS} approvals and {APPROVALS} commands in {:?} ({SETTLED} of each in {settled_after:?}) | resident after {SETTLED}: {baseline} B | at the end: {end} B | peak {peak} B",
        started.elapsed()
    );
    assert!(
        end <= baseline + GROWTH(baseline),
        "resident memory grew from {baseline} B to {end} B"
    );
    running.signal("TERM").await;
    let (status, _, stderr) = finish(running).await;
    assert_eq!(status.code(), Some(0), "{stderr}");
}
