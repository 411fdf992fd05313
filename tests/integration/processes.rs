//! The real binary as several OS processes on one DynamoDB state table (ministack) and one
//! Slack stand-in that spreads envelopes over every open connection, as production runs it:
//! replicas side by side, one killed by SIGKILL and started again, a rolling deploy.
//!
//! Each process opens two Socket Mode connections; the emulator numbers the live ones oldest
//! first, so with three processes started one after the other, sockets 0-1 are the first's,
//! 2-3 the second's, 4-5 the third's. Envelopes sent back to back go to consecutive sockets
//! (round robin), so a pair sent from an odd socket on lands on two different processes.

use emulators::codepipeline::{ExecutionMode, PipelineDef};
use emulators::slack::{Envelope, Message};
use emulators::testing::eventually;
use futures_util::future::join_all;
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

use crate::deploy::{confirmation, replies, reply_texts, START};
use crate::support::approvals::APPROVE;
use crate::support::process::Running;
use crate::support::{has_buttons, Bot, ALICE, APPROVERS_GROUP, BOB, CHANNEL, DEADLINE};

/// Pipelines of the fleet, PARALLEL (any number of approvals wait at once), and approvals
/// waiting at each: 300 in all.
const PIPELINES: usize = 15;
const PER_PIPELINE: usize = 20;
const APPROVALS: usize = PIPELINES * PER_PIPELINE;
/// Every third pipeline needs two approvers.
const QUORUM_EVERY: usize = 3;
/// Prompts clicked at once.
const WAVE: usize = 25;
/// Live sockets of three processes.
const SOCKETS: usize = 6;
/// The deadline of waits over the whole run (300 prompts through three processes and a
/// Python DynamoDB stand-in, or a claim of a killed process running out first).
const RUN_DEADLINE: Duration = Duration::from_secs(240);

/// One fleet at a time: three bot processes and a DynamoDB stand-in per test are what the
/// machine running the suite can take beside the other tests.
static ONE_FLEET: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Overrides of every process: a claim runs out as soon as allowed.
const ENV: &[(&str, &str)] = &[("CHATOPS__STATE__CLAIM_SECS", "45")];

/// The fleet's pipelines: the test's own, then `fleet-<n>-…`; those of quorum 2 apart.
struct Fleet {
    pipelines: Vec<String>,
    quorum: HashSet<String>,
}

/// A bot on a fresh state table with the fleet's pipelines, all PARALLEL.
async fn fleet_bot() -> (Bot, Fleet, tokio::sync::MutexGuard<'static, ()>) {
    let turn = ONE_FLEET.lock().await;
    let mut bot = Bot::prepare(false).await.with_shared_state().await;
    let mut fleet = Fleet {
        pipelines: vec![bot.pipeline.clone()],
        quorum: HashSet::new(),
    };
    for n in 1..PIPELINES {
        let name = format!("fleet-{n}-{}", bot.aws.id);
        let quorum = n % QUORUM_EVERY == QUORUM_EVERY - 1;
        bot.config_toml.push_str(&format!(
            r#"
            [[pipelines]]
            name = "{name}"
            channel = "{CHANNEL}"
            approver_users = ["{ALICE}"]
            approver_groups = ["{APPROVERS_GROUP}"]
            "#
        ));
        if quorum {
            bot.config_toml.push_str(
                r#"
                [[pipelines.actions]]
                stage = "Approve"
                action = "ManualApproval"
                quorum = 2
                "#,
            );
            fleet.quorum.insert(name.clone());
        }
        fleet.pipelines.push(name);
    }
    for name in &fleet.pipelines {
        bot.codepipeline.create_pipeline(PipelineDef {
            execution_mode: ExecutionMode::Parallel,
            ..PipelineDef::with_approval(name, &bot.aws.topic_arn)
        });
    }
    (bot, fleet, turn)
}

/// Starts three processes, one after the other (their sockets numbered in that order).
async fn three_processes(bot: &Bot) -> Vec<Running> {
    let mut processes = Vec::new();
    for n in 1..=3 {
        processes.push(bot.start_process(2 * n, ENV).await);
    }
    processes
}

/// Starts every execution of the fleet, pipeline after pipeline.
async fn start_executions(bot: &Bot, fleet: &Fleet) {
    for pipeline in &fleet.pipelines {
        for _ in 0..PER_PIPELINE {
            bot.codepipeline.start_execution(pipeline).await;
        }
    }
}

/// Waits until `n` prompts are in the channel.
async fn wait_for_prompts(bot: &Bot, n: usize) {
    eventually(RUN_DEADLINE, &format!("{n} prompts"), || async {
        (bot.prompts().len() >= n).then_some(())
    })
    .await;
}

/// Alice and Bob click Approve on every prompt at about the same time, each click on another
/// process; in waves of [`WAVE`] prompts (ministack's DynamoDB is one Python process: a
/// wave waits for the last to be restamped, so its latency stays under the bot's 2 s
/// per-attempt timeout).
async fn approve_all_through_two_processes(bot: &Bot, prompts: &[Message]) {
    for (wave, prompts) in prompts.chunks(WAVE).enumerate() {
        let mut envelopes: Vec<Envelope> = Vec::new();
        for (i, prompt) in prompts.iter().enumerate() {
            bot.slack.route_next_to((2 * i + 1) % SOCKETS);
            let alice = bot.slack.click(CHANNEL, &prompt.ts, APPROVE, ALICE).await;
            let alice = alice.expect("click delivered");
            // Bob clicks the prompt as it was when Alice did: the same payload, his user.
            let mut payload = alice.payload.clone();
            payload["user"] = json!({"id": BOB, "username": "bob", "name": "bob",
                                     "team_id": payload["user"]["team_id"]});
            let bob = bot.slack.send_envelope("interactive", payload, false).await;
            envelopes.extend([alice, bob.expect("click delivered")]);
        }
        let acks = join_all(envelopes.iter().map(|e| e.acked(DEADLINE))).await;
        assert!(acks.iter().all(Option::is_some), "every click was acked");
        eventually(RUN_DEADLINE, &format!("wave {wave} restamped"), || async {
            prompts
                .iter()
                .all(|p| !has_buttons(&bot.message(&p.ts)))
                .then_some(())
        })
        .await;
    }
}

/// Waits until every prompt in the channel lost its buttons and says `needle`.
async fn wait_until_every_prompt_says(bot: &Bot, needle: &str) {
    eventually(
        RUN_DEADLINE,
        &format!("every prompt to say {needle:?}"),
        || async {
            bot.prompts()
                .iter()
                .all(|m| !has_buttons(m) && m.blocks.to_string().contains(needle))
                .then_some(())
        },
    )
    .await;
}

/// The end condition of a run: every approval decided once and its prompt restamped.
async fn assert_each_decided_once(bot: &Bot, fleet: &Fleet) {
    wait_until_every_prompt_says(bot, "*Approved* by").await;
    let prompts = bot.prompts();
    assert_eq!(prompts.len(), APPROVALS, "one prompt per approval");
    assert_eq!(bot.codepipeline.put_approval_calls(), APPROVALS);
    let results = bot.codepipeline.approval_results();
    let tokens: HashSet<&str> = results.iter().map(|r| r.token.as_str()).collect();
    assert_eq!(tokens.len(), APPROVALS, "one result per token");
    let quorum: Vec<&Message> = prompts
        .iter()
        .filter(|m| {
            let blocks = m.blocks.to_string();
            fleet.quorum.iter().any(|p| blocks.contains(p.as_str()))
        })
        .collect();
    assert_eq!(quorum.len(), fleet.quorum.len() * PER_PIPELINE);
    for m in quorum {
        let blocks = m.blocks.to_string();
        assert!(
            blocks.contains("<@U0ALICE>") && blocks.contains("<@U0BOB>"),
            "both votes count: {blocks}"
        );
    }
}

/// Stops every process as an orchestrator does; each exits 0.
async fn terminate_all(processes: Vec<Running>) {
    for p in processes {
        p.terminate().await;
    }
}

#[tokio::test]
async fn three_processes_post_every_prompt_once_and_decide_every_approval_once() {
    let (bot, fleet, _turn) = fleet_bot().await;
    let processes = three_processes(&bot).await;
    start_executions(&bot, &fleet).await;
    wait_for_prompts(&bot, APPROVALS).await;

    approve_all_through_two_processes(&bot, &bot.prompts()).await;
    assert_each_decided_once(&bot, &fleet).await;
    terminate_all(processes).await;
}

#[tokio::test]
async fn a_process_killed_mid_run_and_started_again_loses_and_doubles_nothing() {
    let (bot, fleet, _turn) = fleet_bot().await;
    let mut processes = three_processes(&bot).await;
    start_executions(&bot, &fleet).await;
    wait_for_prompts(&bot, APPROVALS / 3).await;

    // SIGKILL while prompts are being posted: what it claimed waits for its claim to run out.
    processes.remove(1).crash().await;
    eventually(
        RUN_DEADLINE,
        "the killed process's sockets to close",
        || async { (bot.slack.open_connections() == SOCKETS - 2).then_some(()) },
    )
    .await;
    processes.push(bot.start_process(SOCKETS, ENV).await);
    wait_for_prompts(&bot, APPROVALS).await;

    approve_all_through_two_processes(&bot, &bot.prompts()).await;
    assert_each_decided_once(&bot, &fleet).await;
    terminate_all(processes).await;
}

/// Alice's `/deploy start` of the test's pipeline, confirmed; the top message of its thread
/// (the `n`-th such thread, from 1) and the approval prompt in it.
async fn start_from_slack(bot: &Bot, n: usize) -> (Message, Message) {
    let confirm = confirmation(bot, &bot.pipeline).await;
    bot.click(&confirm.ts, START, ALICE).await;
    let top = eventually(DEADLINE, "the thread of the start", || async {
        bot.prompts()
            .into_iter()
            .filter(|m| m.blocks.to_string().contains("started by <@U0ALICE>"))
            .nth(n - 1)
    })
    .await;
    let prompt = eventually(DEADLINE, "the approval prompt in the thread", || async {
        replies(bot, &top.ts).into_iter().find(has_buttons)
    })
    .await;
    (top, prompt)
}

#[tokio::test]
async fn after_a_kill_9_and_a_restart_votes_starters_prompts_and_threads_hold() {
    let (bot, fleet, _turn) = fleet_bot().await;
    let pair = fleet
        .quorum
        .iter()
        .next()
        .expect("a quorum pipeline")
        .clone();
    let env = [
        ENV[0],
        ("CHATOPS__STATE__LEASE_SECS", "3"),
        ("CHATOPS__APPROVALS__RECONCILE_SECS", "1"),
        ("CHATOPS__DEPLOY__POLL_INITIAL_MS", "200"),
        ("CHATOPS__DEPLOY__POLL_MAX_SECS", "1"),
    ];
    let process = bot.start_process(2, &env).await;
    // Before the crash: Bob's vote on a quorum of 2, and two executions Alice started from
    // Slack, each followed in its thread, each waiting for approval.
    bot.codepipeline.start_execution(&pair).await;
    let quorum = eventually(DEADLINE, "the quorum prompt", || async {
        bot.prompts()
            .into_iter()
            .find(|m| m.blocks.to_string().contains(&pair))
    })
    .await;
    bot.click(&quorum.ts, APPROVE, BOB).await;
    eventually(DEADLINE, "the prompt to show 1 of 2", || async {
        bot.message(&quorum.ts)
            .blocks
            .to_string()
            .contains("1 of 2 approvals: <@U0BOB>")
            .then_some(())
    })
    .await;
    let (_, still_waiting) = start_from_slack(&bot, 1).await;
    let (finished_top, finished_prompt) = start_from_slack(&bot, 2).await;

    process.crash().await;
    // While no process runs: the newest execution is approved in the console and finishes.
    let newest = bot
        .codepipeline
        .pending_approval(&bot.pipeline)
        .expect("pending");
    bot.codepipeline
        .decide_in_console(
            &bot.pipeline,
            &newest.token,
            true,
            "approved in the console",
        )
        .expect("console decision");
    eventually(DEADLINE, "the execution to finish", || async {
        (bot.codepipeline
            .execution_status(&bot.pipeline, &newest.execution_id)
            .as_deref()
            == Some("Succeeded"))
        .then_some(())
    })
    .await;

    let process = bot.start_process(2, &env).await;
    // The console's decision restamps the prompt; the thread tells the end.
    bot.wait_for_restamp(&finished_prompt.ts, "*Approved outside Slack*")
        .await;
    eventually(DEADLINE, "the result in the thread", || async {
        reply_texts(&bot, &finished_top.ts)
            .iter()
            .any(|t| t.contains("*Succeeded*"))
            .then_some(())
    })
    .await;
    // The starter is still known: Alice may not approve what she started.
    bot.click(&still_waiting.ts, APPROVE, ALICE).await;
    bot.wait_for_ephemeral(ALICE, "You started this execution")
        .await;
    assert!(has_buttons(&bot.message(&still_waiting.ts)));
    // Bob's vote still counts: Alice's completes the quorum.
    bot.click(&quorum.ts, APPROVE, ALICE).await;
    bot.wait_for_restamp(&quorum.ts, "*Approved* by <@U0BOB>, <@U0ALICE>")
        .await;
    assert_eq!(bot.codepipeline.put_approval_calls(), 1);
    process.terminate().await;
}

#[tokio::test]
async fn a_rolling_deploy_applies_every_click_in_flight_once() {
    const PROMPTS: usize = 20;
    let (bot, _, _turn) = fleet_bot().await;
    let old = bot.start_process(2, ENV).await;
    for _ in 0..PROMPTS {
        bot.codepipeline.start_execution(&bot.pipeline).await;
    }
    wait_for_prompts(&bot, PROMPTS).await;
    let prompts = bot.prompts();

    // The new task starts beside the old one; clicks land on both; the old one is stopped
    // while their decisions are in flight.
    let new = bot.start_process(4, ENV).await;
    let (first, second) = prompts.split_at(PROMPTS / 2);
    let mut envelopes = Vec::new();
    for prompt in first {
        let envelope = bot.slack.click(CHANNEL, &prompt.ts, APPROVE, BOB).await;
        envelopes.push(envelope.expect("click delivered"));
    }
    for envelope in &envelopes {
        assert!(envelope.acked(DEADLINE).await.is_some(), "acked");
    }
    old.terminate().await;
    // After the old task is gone, the rest go to the new one.
    for prompt in second {
        bot.click(&prompt.ts, APPROVE, BOB).await;
    }

    wait_until_every_prompt_says(&bot, "*Approved* by <@U0BOB>").await;
    assert_eq!(bot.codepipeline.put_approval_calls(), PROMPTS);
    new.terminate().await;
}
