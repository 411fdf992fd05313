//! Memory over a long run: the real binary as an OS process on a DynamoDB state table
//! (ministack) takes [`APPROVALS`] approvals and [`COMMANDS`] slash commands, in rounds of
//! [`ROUND`]; its resident memory (`VmRSS` in `/proc/<pid>/status`) at the end stays within
//! [`growth_allowed`] of what it was after the first round. Nothing it keeps per approval or
//! per command may stay in the process once the approval is decided or the command answered
//! (the records live in the table, not in the process).

use emulators::codepipeline::{ExecutionMode, PipelineDef};
use emulators::slack::Message;
use emulators::testing::eventually;
use futures_util::future::join_all;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::processes::ONE_FLEET;
use crate::support::approvals::APPROVE;
use crate::support::process::Running;
use crate::support::{has_buttons, Bot, ALICE, CHANNEL, DEADLINE};

/// Approvals and commands of the run, in all.
const APPROVALS: usize = 2_000;
const COMMANDS: usize = APPROVALS;
/// Approvals (and commands) per round; memory is first measured after the first round.
const ROUND: usize = 200;
/// Executions started, clicks sent and commands sent at once.
const WAVE: usize = 50;
/// The deadline of each wait of the run.
const RUN_DEADLINE: Duration = Duration::from_secs(240);

/// The process's resident memory in kB (`VmRSS`, see proc(5)).
fn resident_kb(running: &Running) -> u64 {
    let pid = running.child.id().expect("the process runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in kB")
}

/// What the resident memory may grow by after the first round: 25 % or 8 MB, whichever is
/// larger. The allocator keeps freed pages and arenas it has grown into (glibc malloc, one
/// arena per thread that allocated), so a flat workload still drifts by a few MB; a leak of
/// 2 kB per approval and command would add 7 MB over the nine later rounds.
fn growth_allowed(first_round_kb: u64) -> u64 {
    (first_round_kb / 4).max(8 * 1024)
}

/// The top-level messages of the channel that are still prompts with buttons among `wave`.
fn still_open(bot: &Bot, wave: &HashSet<String>) -> usize {
    bot.slack
        .messages(CHANNEL)
        .iter()
        .filter(|m| wave.contains(&m.ts) && has_buttons(m))
        .count()
}

/// One round: [`ROUND`] approvals and [`ROUND`] `/chatops-version` commands, in waves of
/// [`WAVE`]: a wave's executions are started, their prompts approved and the wave's commands
/// sent, and the next wave starts once every prompt of this one is restamped (so at most a wave
/// of approvals waits at a time: the simulator lists a PARALLEL pipeline's waiting actions for
/// every prompt).
async fn round(bot: &Bot, done: usize) {
    for (wave, start) in (done..done + ROUND).step_by(WAVE).enumerate() {
        join_all((0..WAVE).map(|_| bot.codepipeline.start_execution(&bot.pipeline))).await;
        let prompts: Vec<Message> = eventually(RUN_DEADLINE, "the wave's prompts", || async {
            let prompts = bot.prompts();
            (prompts.len() >= start + WAVE).then(|| prompts[start..].to_vec())
        })
        .await;
        let clicks = join_all(
            prompts
                .iter()
                .map(|p| bot.slack.click(CHANNEL, &p.ts, APPROVE, ALICE)),
        )
        .await;
        let commands = join_all((0..WAVE).map(|_| {
            bot.slack
                .slash_command(CHANNEL, ALICE, "/chatops-version", "")
        }))
        .await;
        let envelopes: Vec<_> = clicks
            .into_iter()
            .chain(commands)
            .map(|e| e.expect("delivered"))
            .collect();
        let acks = join_all(envelopes.iter().map(|e| e.acked(DEADLINE))).await;
        assert!(acks.iter().all(Option::is_some), "every envelope was acked");
        let wave_ts: HashSet<String> = prompts.iter().map(|p| p.ts.clone()).collect();
        eventually(RUN_DEADLINE, &format!("wave {wave} restamped"), || async {
            (still_open(bot, &wave_ts) == 0).then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn resident_memory_stays_flat_over_thousands_of_approvals_and_commands() {
    let _turn = ONE_FLEET.lock().await;
    let bot = Bot::prepare(false).await.with_shared_state().await;
    bot.codepipeline.create_pipeline(PipelineDef {
        execution_mode: ExecutionMode::Parallel,
        ..PipelineDef::with_approval(&bot.pipeline, &bot.aws.topic_arn)
    });
    let process = bot.start_process(2, &[]).await;
    let started = Instant::now();
    let mut first_round_kb = None;
    for n in 0..APPROVALS / ROUND {
        round(&bot, n * ROUND).await;
        let kb = resident_kb(&process);
        eprintln!(
            "memory: after {} approvals and commands, VmRSS {kb} kB ({:?} in)",
            (n + 1) * ROUND,
            started.elapsed()
        );
        first_round_kb.get_or_insert(kb);
    }
    let first = first_round_kb.expect("a round ran");
    let end = resident_kb(&process);
    eprintln!(
        "memory: VmRSS {first} kB after the first {ROUND}, {end} kB after {APPROVALS} approvals \
         and {COMMANDS} commands; allowed growth {} kB",
        growth_allowed(first)
    );
    assert_eq!(bot.codepipeline.put_approval_calls(), APPROVALS);
    assert!(
        end <= first + growth_allowed(first),
        "resident memory grew from {first} kB to {end} kB"
    );
    process.terminate().await;
}
