//! The fault matrix of issue 12: CodePipeline throttling, CodePipeline hanging, and a SIGTERM
//! with prompts and clicks in flight, each over [`APPROVALS`] approvals and each held to the
//! same end condition ([`assert_end_condition`]): every notification became exactly one
//! prompt, every click was acked within [`ACK_LIMIT`], every approval was decided at most
//! once, every decided prompt was restamped, and `/healthz` is 200 once the fault is over.
//! Each test prints its figures (`FAULT-MATRIX | …`) for the table.

use emulators::codepipeline::{ExecutionMode, PipelineDef};
use emulators::slack::{Envelope, Message};
use emulators::testing::eventually;
use futures_util::future::join_all;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::health::{get, with_health};
use crate::processes::{fleet_bot, wait_for_prompts, wait_until_every_prompt_says, ENV};
use crate::support::approvals::APPROVE;
use crate::support::{has_buttons, Bot, Options, ALICE, BOB, CHANNEL, DEADLINE};

/// Approvals per fault.
const APPROVALS: usize = 20;
/// Slack's limit for acknowledging an envelope
/// (https://api.slack.com/apis/socket-mode#acknowledge).
const ACK_LIMIT: Duration = Duration::from_secs(3);
/// The error CodePipeline answers when a caller goes too fast
/// (https://docs.aws.amazon.com/codepipeline/latest/APIReference/CommonErrors.html).
const THROTTLED: &str = "ThrottlingException";
/// The reads the bot makes around an approval.
const READS: [&str; 3] = [
    "GetPipelineState",
    "GetPipelineExecution",
    "ListActionExecutions",
];
/// Far longer than [`DEADLINE`]: a bot that waited for a stall would fail every wait.
const STALL_SECS: u64 = 300;
/// What the bot tells a user whose decision CodePipeline did not take (src/approvals/decide.rs).
const NOT_RECORDED: &str = "Could not record your decision in CodePipeline";

/// What a fault's run measured.
struct Figures {
    fault: &'static str,
    clicks: usize,
    max_ack: Duration,
    /// From the end of the fault to `/healthz` 200.
    recovered: Option<Duration>,
}

impl Figures {
    fn new(fault: &'static str) -> Figures {
        Figures {
            fault,
            clicks: 0,
            max_ack: Duration::ZERO,
            recovered: None,
        }
    }

    /// `user` clicks Approve on every prompt, back to back; waits for every ack, each within
    /// [`ACK_LIMIT`] of its own click.
    async fn click_all(&mut self, bot: &Bot, prompts: &[Message], user: &str) {
        let mut sent: Vec<(Instant, Envelope)> = Vec::new();
        for prompt in prompts {
            let at = Instant::now();
            let envelope = bot.slack.click(CHANNEL, &prompt.ts, APPROVE, user).await;
            sent.push((at, envelope.expect("click delivered")));
        }
        let acks = join_all(sent.iter().map(|(at, envelope)| async move {
            envelope.acked(DEADLINE).await.map(|_| at.elapsed())
        }))
        .await;
        for waited in acks {
            let waited = waited.expect("every click was acked");
            assert!(waited <= ACK_LIMIT, "a click was acked after {waited:?}");
            self.max_ack = self.max_ack.max(waited);
            self.clicks += 1;
        }
    }
}

/// A bot with `/healthz` whose pipeline is PARALLEL (every execution waits at its approval
/// at once), with the `CHATOPS__…` overrides `env`.
async fn parallel_bot(env: &[(&str, &str)]) -> Bot {
    let bot = Bot::prepare(false).await;
    bot.codepipeline.create_pipeline(PipelineDef {
        execution_mode: ExecutionMode::Parallel,
        ..PipelineDef::with_approval(&bot.pipeline, &bot.aws.topic_arn)
    });
    let mut options: Options = with_health();
    options
        .env
        .extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    bot.start(options).await
}

/// Starts [`APPROVALS`] executions of the test's pipeline; their ids.
async fn start_executions(bot: &Bot) -> Vec<String> {
    let mut executions = Vec::new();
    for _ in 0..APPROVALS {
        executions.push(bot.codepipeline.start_execution(&bot.pipeline).await);
    }
    executions
}

/// Waits for `/healthz` 200.
async fn wait_until_healthy(bot: &Bot) {
    eventually(DEADLINE, "/healthz 200", || async {
        (get(bot, "/healthz").await.0 == 200).then_some(())
    })
    .await;
}

/// The end condition every fault is held to; prints the fault's figures.
async fn assert_end_condition(bot: &Bot, executions: &[String], figures: &Figures) {
    // Every decided prompt restamped: all were approved, none keeps its buttons.
    wait_until_every_prompt_says(bot, "*Approved* by").await;
    // Every notification became exactly one prompt (the test queue has no dead-letter queue:
    // none may be left over either).
    let prompts = bot.prompts();
    let mut duplicates = 0;
    for execution in executions {
        let posted = prompts
            .iter()
            .filter(|m| m.blocks.to_string().contains(execution.as_str()))
            .count();
        assert!(posted >= 1, "no prompt for execution {execution}");
        duplicates += posted - 1;
    }
    assert_eq!(duplicates, 0, "prompts posted twice");
    assert_eq!(prompts.len(), executions.len(), "one prompt per approval");
    eventually(DEADLINE, "the approval queue to be drained", || async {
        (bot.aws.queue_depth().await == 0).then_some(())
    })
    .await;
    // Every approval decided once.
    let results = bot.codepipeline.approval_results();
    let tokens: HashSet<&str> = results.iter().map(|r| r.token.as_str()).collect();
    assert_eq!(tokens.len(), results.len(), "an approval decided twice");
    assert_eq!(results.len(), executions.len(), "every approval decided");
    wait_until_healthy(bot).await;
    eprintln!(
        "FAULT-MATRIX | {} | approvals {} | prompts {} | duplicates {duplicates} | decisions {} | clicks {} | max ack {:?} | recovered after {}",
        figures.fault,
        executions.len(),
        prompts.len(),
        results.len(),
        figures.clicks,
        figures.max_ack,
        figures
            .recovered
            .map_or_else(|| "n/a (stayed 200)".to_owned(), |d| format!("{d:?}")),
    );
}

#[tokio::test]
async fn codepipeline_throttling_loses_no_notification_and_decides_each_approval_once() {
    let bot = parallel_bot(&[]).await;
    let mut figures = Figures::new("CodePipeline throttles");
    // More throttles on each read than the SDK's three attempts absorb.
    for read in READS {
        bot.codepipeline.fail_next(read, THROTTLED, 4);
    }
    let executions = start_executions(&bot).await;
    wait_for_prompts(&bot, APPROVALS).await;
    let prompts = bot.prompts();

    // A decision throttled on every attempt: the click is answered, the user told, and the
    // prompt stays live for another click.
    bot.codepipeline
        .fail_next("PutApprovalResult", THROTTLED, 3);
    figures.click_all(&bot, &prompts[..1], ALICE).await;
    bot.wait_for_ephemeral(ALICE, NOT_RECORDED).await;
    assert!(
        has_buttons(&bot.message(&prompts[0].ts)),
        "the prompt is live"
    );
    assert!(bot.codepipeline.approval_results().is_empty());

    // Two throttles among twenty decisions: the SDK's retries take them.
    bot.codepipeline
        .fail_next("PutApprovalResult", THROTTLED, 2);
    figures.click_all(&bot, &prompts, ALICE).await;

    assert_end_condition(&bot, &executions, &figures).await;
    assert_eq!(
        bot.codepipeline.put_approval_calls(),
        APPROVALS + 5,
        "three refused attempts, two retried ones, one call per approval"
    );
}

#[tokio::test]
async fn a_hanging_codepipeline_costs_a_call_its_timeout_and_decides_each_approval_once() {
    let bot = parallel_bot(&[
        ("CHATOPS__TIMEOUTS__AWS_ATTEMPT_SECS", "2"),
        ("CHATOPS__TIMEOUTS__AWS_OPERATION_SECS", "5"),
    ])
    .await;
    let mut figures = Figures::new("CodePipeline hangs");
    for read in READS {
        bot.codepipeline.stall_next(read, STALL_SECS, 2);
    }
    let executions = start_executions(&bot).await;
    wait_for_prompts(&bot, APPROVALS).await;
    let prompts = bot.prompts();

    // A decision that hangs on every attempt: the operation timeout ends it long before the
    // stall would (the wait below has DEADLINE, a tenth of it), the user is told, and the
    // prompt stays live.
    bot.codepipeline
        .stall_next("PutApprovalResult", STALL_SECS, 3);
    figures.click_all(&bot, &prompts[..1], ALICE).await;
    bot.wait_for_ephemeral(ALICE, NOT_RECORDED).await;
    assert!(
        has_buttons(&bot.message(&prompts[0].ts)),
        "the prompt is live"
    );
    assert!(bot.codepipeline.approval_results().is_empty());

    // One attempt hangs among twenty decisions: the attempt timeout cuts it, the retry lands.
    bot.codepipeline
        .stall_next("PutApprovalResult", STALL_SECS, 1);
    figures.click_all(&bot, &prompts, ALICE).await;

    assert_end_condition(&bot, &executions, &figures).await;
}

#[tokio::test]
async fn a_sigterm_with_prompts_and_clicks_in_flight_loses_and_doubles_nothing() {
    /// Prompts clicked before the SIGTERM.
    const EARLY: usize = 5;
    let (mut bot, _, _turn) = fleet_bot().await;
    let health = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("a free port");
    bot.health = Some(health);
    let listen = health.to_string();
    let env = [ENV[0], ("CHATOPS__HEALTH__LISTEN", listen.as_str())];
    let mut figures = Figures::new("SIGTERM with prompts and clicks in flight");
    let old = bot.start_process(2, &env).await;
    wait_until_healthy(&bot).await;

    let executions = start_executions(&bot).await;
    wait_for_prompts(&bot, EARLY).await;
    // Clicks acked, their decisions in flight, more prompts being posted: SIGTERM.
    let early: Vec<Message> = bot.prompts().into_iter().take(EARLY).collect();
    figures.click_all(&bot, &early, BOB).await;
    let stopped = Instant::now();
    old.terminate().await;

    let new = bot.start_process(2, &env).await;
    wait_until_healthy(&bot).await;
    figures.recovered = Some(stopped.elapsed());
    wait_for_prompts(&bot, APPROVALS).await;
    // Once every early click is restamped, the rest is clicked on the new process.
    for prompt in &early {
        bot.wait_for_restamp(&prompt.ts, "*Approved* by <@U0BOB>")
            .await;
    }
    let open: Vec<Message> = bot.prompts().into_iter().filter(has_buttons).collect();
    figures.click_all(&bot, &open, BOB).await;

    assert_end_condition(&bot, &executions, &figures).await;
    assert_eq!(bot.codepipeline.put_approval_calls(), APPROVALS);
    new.terminate().await;
}
