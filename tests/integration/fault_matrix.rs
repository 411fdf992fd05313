//! The fault matrix of issue 12: CodePipeline throttling, CodePipeline hanging, Slack answering
//! 500s, ministack restarted, and a SIGTERM with prompts and clicks in flight, each over
//! [`APPROVALS`] approvals and each held to the same end condition ([`assert_end_condition`]):
//! every notification became exactly one prompt or one dead letter, every click was acked
//! within [`ACK_LIMIT`], every approval was decided at most once, every decided prompt was
//! restamped, and `/healthz`, 503 while the fault kept the bot from its work, is 200 once it is
//! over.
//! Each test prints its figures (`FAULT-MATRIX | …`) for the table.

use emulators::codepipeline::{ExecutionMode, PipelineDef};
use emulators::slack::{Envelope, Failure, Message};
use emulators::testing::eventually;
use futures_util::future::join_all;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use crate::health::{get, once_status, with_health};
use crate::processes::{fleet_bot, wait_for_prompts, wait_until_every_prompt_says, ENV, ONE_FLEET};
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
/// No reconcile round during the test (the default is every 30 s): its reads would be the only
/// CodePipeline calls between a failed decision and the next click, and an answered one clears
/// the `/healthz` check the test looks at.
const NO_RECONCILE: (&str, &str) = ("CHATOPS__APPROVALS__RECONCILE_SECS", "3600");

/// What a fault's run measured.
struct Figures {
    fault: &'static str,
    clicks: usize,
    max_ack: Duration,
    /// From the end of the fault to `/healthz` 200.
    recovered: Option<Duration>,
    /// When the fault ended, if `/healthz` was seen failing because of it.
    fault_over: Option<Instant>,
}

impl Figures {
    fn new(fault: &'static str) -> Figures {
        Figures {
            fault,
            clicks: 0,
            max_ack: Duration::ZERO,
            recovered: None,
            fault_over: None,
        }
    }

    /// `user` clicks Approve on every prompt, back to back; waits for every ack, each within
    /// [`ACK_LIMIT`] of its own click.
    /// Clicks `prompt` as ALICE when CodePipeline will not take the decision: she is told it
    /// was not recorded, the prompt stays live, nothing is decided, and `/healthz` is 503 for
    /// CodePipeline until it answers again. The fault is over from here on.
    async fn click_unrecorded(&mut self, bot: &Bot, prompt: &Message) {
        self.click_all(bot, std::slice::from_ref(prompt), ALICE)
            .await;
        bot.wait_for_ephemeral(ALICE, NOT_RECORDED).await;
        assert!(has_buttons(&bot.message(&prompt.ts)), "the prompt is live");
        assert!(bot.codepipeline.approval_results().is_empty());
        let (status, body) = get(bot, "/healthz").await;
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("codepipeline_answering failing"), "{body}");
        self.fault_over = Some(Instant::now());
    }

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

/// `bot` started with `/healthz`, its pipeline PARALLEL (every execution waits at its
/// approval at once), with the `CHATOPS__…` overrides `env`.
async fn parallel_bot(bot: Bot, env: &[(&str, &str)]) -> Bot {
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
    once_status(bot, 200).await;
}

/// The end condition every fault is held to; prints the fault's figures.
async fn assert_end_condition(bot: &Bot, executions: &[String], figures: &Figures) {
    // Every decided prompt restamped: all were approved, none keeps its buttons.
    wait_until_every_prompt_says(bot, "*Approved* by").await;
    // Every notification became exactly one prompt or a message in the dead-letter queue
    // (SQS's redrive policy, after `MAX_RECEIVE_COUNT` receives as in the template).
    // A prompt names its execution when the bot could read it from CodePipeline; one posted
    // while those reads failed (a stall, throttles beyond retries) does not, so it is counted
    // apart, and the total must still be one per approval.
    let prompts = bot.prompts();
    let mut duplicates = 0;
    let mut named = 0;
    for execution in executions {
        let posted = prompts
            .iter()
            .filter(|m| m.blocks.to_string().contains(execution.as_str()))
            .count();
        named += posted;
        duplicates += posted.saturating_sub(1);
    }
    assert_eq!(duplicates, 0, "prompts posted twice");
    let unnamed = prompts.len() - named;
    eventually(DEADLINE, "the approval queue to be drained", || async {
        (bot.aws.queue_depth().await == 0).then_some(())
    })
    .await;
    let dead_letters = bot.aws.dead_letter_depth().await;
    assert_eq!(
        prompts.len() + dead_letters,
        executions.len(),
        "one prompt or one dead letter per approval"
    );
    // Every approval decided once.
    let results = bot.codepipeline.approval_results();
    let tokens: HashSet<&str> = results.iter().map(|r| r.token.as_str()).collect();
    assert_eq!(tokens.len(), results.len(), "an approval decided twice");
    assert_eq!(
        results.len(),
        prompts.len(),
        "every prompted approval decided"
    );
    wait_until_healthy(bot).await;
    let recovered = figures
        .recovered
        .or_else(|| figures.fault_over.map(|at| at.elapsed()));
    eprintln!(
        "FAULT-MATRIX | {} | approvals {} | prompts {} | duplicates {duplicates} | dead letters {dead_letters} | without execution id {unnamed} | decisions {} | clicks {} | max ack {:?} | recovered after {}",
        figures.fault,
        executions.len(),
        prompts.len(),
        results.len(),
        figures.clicks,
        figures.max_ack,
        recovered.map_or_else(|| "n/a (stayed 200)".to_owned(), |d| format!("{d:?}")),
    );
}

/// How CodePipeline fails a request in a fault.
#[derive(Clone, Copy)]
enum CodePipelineFault {
    /// Answers `ThrottlingException`.
    Throttles,
    /// Holds the request for [`STALL_SECS`].
    Hangs,
}

impl CodePipelineFault {
    /// Fails the next `times` requests of `operation`.
    fn next(self, bot: &Bot, operation: &str, times: u32) {
        match self {
            Self::Throttles => bot.codepipeline.fail_next(operation, THROTTLED, times),
            Self::Hangs => bot.codepipeline.stall_next(operation, STALL_SECS, times),
        }
    }
}

/// [`APPROVALS`] approvals while CodePipeline fails in the way of `fault` (with `env`): the
/// first `reads` requests of each read behind a prompt; every attempt of the first decision
/// (the user is told it was not recorded and the prompt stays live); then `retried` attempts
/// among the twenty decisions, which the SDK's retries take. Held to the end condition; the
/// bot, for more.
async fn under_codepipeline_fault(
    fault: CodePipelineFault,
    name: &'static str,
    env: &[(&str, &str)],
    reads: u32,
    retried: u32,
) -> Bot {
    let bot = parallel_bot(Bot::prepare(false).await, env).await;
    let mut figures = Figures::new(name);
    for read in READS {
        fault.next(&bot, read, reads);
    }
    let executions = start_executions(&bot).await;
    wait_for_prompts(&bot, APPROVALS).await;
    let prompts = bot.prompts();

    // A decision failed on every attempt (the SDK makes three): the click is answered, the
    // user told, and the prompt stays live for another click.
    fault.next(&bot, "PutApprovalResult", 3);
    figures.click_unrecorded(&bot, &prompts[0]).await;

    fault.next(&bot, "PutApprovalResult", retried);
    figures.click_all(&bot, &prompts, ALICE).await;

    assert_end_condition(&bot, &executions, &figures).await;
    bot
}

#[tokio::test]
async fn codepipeline_throttling_loses_no_notification_and_decides_each_approval_once() {
    // More throttles on each read than the SDK's three attempts absorb; two throttled
    // decisions among twenty.
    let bot = under_codepipeline_fault(
        CodePipelineFault::Throttles,
        "CodePipeline throttles",
        &[NO_RECONCILE],
        4,
        2,
    )
    .await;
    assert_eq!(
        bot.codepipeline.put_approval_calls(),
        APPROVALS + 5,
        "three refused attempts, two retried ones, one call per approval"
    );
    for read in READS {
        eprintln!(
            "FAULT-MATRIX | CodePipeline throttles | {read}: {} requests, the first 4 throttled",
            bot.codepipeline.requests(read)
        );
    }
}

#[tokio::test]
async fn slack_answering_500s_loses_no_prompt_and_restamps_every_decision_once_it_answers() {
    /// More refused calls than the test makes while Slack is down: it ends when cleared.
    const DOWN: u32 = 100_000;
    let bot = parallel_bot(
        Bot::prepare(false).await,
        &[
            ("CHATOPS__APPROVALS__RETRY_BASE_SECS", "1"),
            ("CHATOPS__APPROVALS__RETRY_MAX_SECS", "2"),
            NO_RECONCILE,
        ],
    )
    .await;
    let mut figures = Figures::new("Slack answers 500s");
    wait_until_healthy(&bot).await;

    // Every prompt's post refused: `/healthz` says so, the messages come back until Slack
    // takes the posts, and each approval is prompted once.
    bot.slack
        .fail_next("chat.postMessage", Failure::ServerError, DOWN);
    let executions = start_executions(&bot).await;
    let body = once_status(&bot, 503).await;
    assert!(body.contains("slack_api_answering failing"), "{body}");
    assert!(bot.prompts().is_empty());
    bot.slack.clear_failures("chat.postMessage");
    let up = Instant::now();
    wait_for_prompts(&bot, APPROVALS).await;

    // Every restamp refused: the decisions stand, each is restamped once Slack takes it.
    bot.slack
        .fail_next("chat.update", Failure::ServerError, DOWN);
    figures.click_all(&bot, &bot.prompts(), ALICE).await;
    eventually(DEADLINE, "every decision recorded", || async {
        (bot.codepipeline.approval_results().len() == APPROVALS).then_some(())
    })
    .await;
    assert!(
        bot.prompts().iter().all(has_buttons),
        "nothing restamped yet"
    );
    bot.slack.clear_failures("chat.update");
    figures.fault_over = Some(up);

    assert_end_condition(&bot, &executions, &figures).await;
}

/// [`APPROVALS`] approvals under a Slack fault that `inject` sets up before the prompts and
/// again before the clicks, with fast SQS retries and `env`; held to the end condition.
async fn under_slack_fault(fault: &'static str, env: &[(&str, &str)], inject: impl Fn(&Bot)) {
    let mut env = env.to_vec();
    env.extend([
        ("CHATOPS__APPROVALS__RETRY_BASE_SECS", "1"),
        ("CHATOPS__APPROVALS__RETRY_MAX_SECS", "2"),
    ]);
    let bot = parallel_bot(Bot::prepare(false).await, &env).await;
    let mut figures = Figures::new(fault);
    inject(&bot);
    let executions = start_executions(&bot).await;
    wait_for_prompts(&bot, APPROVALS).await;
    inject(&bot);
    figures.click_all(&bot, &bot.prompts(), ALICE).await;
    assert_end_condition(&bot, &executions, &figures).await;
}

#[tokio::test]
async fn slack_hanging_costs_a_call_its_timeout_and_loses_no_prompt_or_restamp() {
    under_slack_fault(
        "Slack hangs chat.postMessage and chat.update for 60 s",
        &[("CHATOPS__TIMEOUTS__SLACK_SECS", "2")],
        |bot| {
            for method in ["chat.postMessage", "chat.update"] {
                bot.slack.fail_next(method, Failure::Stall { secs: 60 }, 3);
            }
        },
    )
    .await;
}

#[tokio::test]
async fn slack_rate_limiting_pauses_and_loses_no_prompt_or_restamp() {
    under_slack_fault("Slack answers 429 with Retry-After", &[], |bot| {
        for method in ["chat.postMessage", "chat.update"] {
            let limited = Failure::RateLimited {
                retry_after_secs: 2,
            };
            bot.slack.fail_next(method, limited, 3);
        }
    })
    .await;
}

#[tokio::test]
async fn a_hanging_codepipeline_costs_a_call_its_timeout_and_decides_each_approval_once() {
    // The operation timeout ends a decision that hangs on every attempt long before the stall
    // would (the waits have DEADLINE, a tenth of it); the attempt timeout cuts the one attempt
    // that hangs among twenty decisions, and the retry lands.
    under_codepipeline_fault(
        CodePipelineFault::Hangs,
        "CodePipeline hangs",
        &[
            ("CHATOPS__TIMEOUTS__AWS_ATTEMPT_SECS", "2"),
            ("CHATOPS__TIMEOUTS__AWS_OPERATION_SECS", "5"),
            NO_RECONCILE,
        ],
        2,
        1,
    )
    .await;
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

/// Long enough for `/healthz` to count a queue that stopped answering as down.
const OUTAGE_SEEN: Duration = Duration::from_secs(90);

/// A ministack of the test's own, to be killed and started again on the same port without
/// touching the one every other test shares.
struct PrivateMinistack {
    child: Child,
    port: u16,
}

impl PrivateMinistack {
    /// Starts the venv's ministack (beside `CHATOPS_PYTHON`) on `port`, as scripts/lib.sh
    /// does, and waits until it says it is healthy.
    async fn start_on(port: u16) -> PrivateMinistack {
        let python = std::env::var("CHATOPS_PYTHON").expect("CHATOPS_PYTHON: the venv's python");
        let data: PathBuf = std::env::temp_dir().join(format!("chatops-ministack-{port}"));
        std::fs::create_dir_all(&data).expect("ministack data directory");
        let child = Command::new(Path::new(&python).with_file_name("ministack"))
            .env("BIND_HOST", "127.0.0.1")
            .env("GATEWAY_PORT", port.to_string())
            .env("S3_DATA_DIR", &data)
            .env("LOG_LEVEL", "WARNING")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn ministack");
        eventually(DEADLINE, "the private ministack to be healthy", || async {
            (http_status(port, "/_ministack/health").await == Some(200)).then_some(())
        })
        .await;
        PrivateMinistack { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL to this ministack's PID; its port, to start it again on.
    async fn kill(mut self) -> u16 {
        self.child.start_kill().expect("kill ministack");
        self.child.wait().await.expect("ministack exits");
        self.port
    }
}

/// A port free a moment ago.
async fn free_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    listener.local_addr().expect("a free port").port()
}

/// The status of a plain GET on 127.0.0.1:`port`; `None` while nothing answers.
async fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: ministack\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test]
async fn a_ministack_restarted_mid_run_costs_health_for_a_while_and_no_approval() {
    const HALF: usize = APPROVALS / 2;
    // A second ministack beside the shared one: one heavy test at a time.
    let _turn = ONE_FLEET.lock().await;
    let ministack = PrivateMinistack::start_on(free_port().await).await;
    let mut bot = parallel_bot(Bot::prepare_at(&ministack.url(), false).await, &[]).await;
    let mut figures = Figures::new("ministack restarted");
    wait_until_healthy(&bot).await;

    let mut executions = Vec::new();
    for _ in 0..HALF {
        executions.push(bot.codepipeline.start_execution(&bot.pipeline).await);
    }
    wait_for_prompts(&bot, HALF).await;
    let before = bot.prompts();
    let (decided, open) = before.split_at(HALF / 2);
    figures.click_all(&bot, decided, ALICE).await;
    for prompt in decided {
        bot.wait_for_restamp(&prompt.ts, "*Approved* by").await;
    }

    let port = ministack.kill().await;
    let down = Instant::now();
    // The bot cannot read its queue: /healthz says so once the last good poll is older than
    // its freshness window (3 long polls + 30 s, src/inbound/health.rs), hence the longer wait.
    eventually(
        OUTAGE_SEEN,
        "/healthz 503 while ministack is down",
        || async { (get(&bot, "/healthz").await.0 == 503).then_some(()) },
    )
    .await;
    let seen = down.elapsed();
    // Clicks still get their ack (decisions go to CodePipeline, not ministack).
    figures.click_all(&bot, open, ALICE).await;

    // In AWS the queue, topic and parameters outlive any outage; ministack keeps them in
    // memory, so the operator's infrastructure is created again under the same names.
    let restarted = Instant::now();
    let ministack = PrivateMinistack::start_on(port).await;
    bot.aws.recreate(false).await;
    wait_until_healthy(&bot).await;
    figures.recovered = Some(restarted.elapsed());

    // Approvals published after the restart are prompted once and can be decided.
    for _ in 0..HALF {
        executions.push(bot.codepipeline.start_execution(&bot.pipeline).await);
    }
    wait_for_prompts(&bot, APPROVALS).await;
    let after: Vec<Message> = bot.prompts().into_iter().skip(HALF).collect();
    figures.click_all(&bot, &after, ALICE).await;

    assert_end_condition(&bot, &executions, &figures).await;
    eprintln!("FAULT-MATRIX | ministack restarted | /healthz 503 after {seen:?} down");
    // Nothing panicked: the bot stops cleanly.
    bot.stop().await;
    drop(ministack);
}
