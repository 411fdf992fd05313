//! `/deploy` end to end: slash command over Socket Mode → ack → response_url / chat.postMessage
//! in the Slack emulator; confirmations clicked; executions run by the CodePipeline simulator;
//! the follow-up thread checked message by message (polling, and EventBridge events via SNS).

use emulators::codepipeline::EventTarget;
use emulators::ministack::create_topic_queue;
use emulators::slack::{Envelope, Message, ResponsePost};
use emulators::testing::eventually;

use crate::support::{
    aws, has_buttons, response_url, Bot, Options, ALICE, BOB, CHANNEL, DEADLINE, MALLORY,
};

pub(crate) const START: &str = "deploy:start";
pub(crate) const STOP: &str = "deploy:stop";
/// The one-click Approve of an approval prompt.
const APPROVE: &str = "approval:approve";

/// Fast polling for the follower.
pub(crate) fn polling() -> Options {
    Options {
        env: vec![
            ("CHATOPS__DEPLOY__POLL_INITIAL_MS".into(), "200".into()),
            ("CHATOPS__DEPLOY__POLL_MAX_SECS".into(), "1".into()),
        ],
        ..Options::default()
    }
}

/// Runs `/deploy text` as `user`; returns the ack's text and the command's response_url.
pub(crate) async fn deploy(bot: &Bot, user: &str, text: &str) -> (String, String) {
    let (envelope, text) = bot.command(CHANNEL, user, "/deploy", text).await;
    (text, response_url(&envelope))
}

/// Waits for the `n`-th post (from 1) on `url` that satisfies `check`.
pub(crate) async fn response(
    bot: &Bot,
    url: &str,
    what: &str,
    check: impl Fn(&ResponsePost) -> bool,
) -> ResponsePost {
    eventually(DEADLINE, what, || async {
        bot.slack.responses(url).into_iter().find(|p| check(p))
    })
    .await
}

pub(crate) fn text_of(p: &ResponsePost) -> String {
    format!("{} {}", p.text.as_deref().unwrap_or_default(), p.blocks)
}

/// The confirmation shown for `/deploy text` by ALICE: an ephemeral message with buttons.
pub(crate) async fn confirmation(bot: &Bot, text: &str) -> Message {
    let (_, url) = deploy(bot, ALICE, text).await;
    response(bot, &url, "the confirmation", |p| {
        p.blocks.to_string().contains(START) || p.blocks.to_string().contains(STOP)
    })
    .await;
    eventually(
        DEADLINE,
        "the confirmation as an ephemeral message",
        || async {
            bot.slack
                .ephemerals(CHANNEL, ALICE)
                .into_iter()
                .rev()
                .find(has_buttons)
        },
    )
    .await
}

/// Delivers `envelope`'s payload once more (a double submit, or Slack's retry) and waits for
/// its ack.
async fn deliver_again(bot: &Bot, envelope: &Envelope) {
    let again = bot
        .slack
        .send_envelope("interactive", envelope.payload.clone(), false)
        .await
        .expect("the same click delivered again");
    assert!(again.acked(DEADLINE).await.is_some());
}

/// The top-level message that starts a followed thread.
async fn thread_top(bot: &Bot) -> Message {
    eventually(DEADLINE, "the started-by message", || async {
        bot.slack.messages(CHANNEL).into_iter().find(|m| {
            m.thread_ts.is_none() && m.blocks.to_string().contains("started by <@U0ALICE>")
        })
    })
    .await
}

pub(crate) fn replies(bot: &Bot, top: &str) -> Vec<Message> {
    bot.slack
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| m.thread_ts.as_deref() == Some(top))
        .collect()
}

/// Thread replies that are not approval prompts, as text.
pub(crate) fn reply_texts(bot: &Bot, top: &str) -> Vec<String> {
    replies(bot, top)
        .into_iter()
        .filter(|m| !m.blocks.to_string().contains("Approval needed"))
        .map(|m| m.text.unwrap_or_default())
        .collect()
}

async fn wait_for_status(bot: &Bot, execution: &str, status: &str) {
    eventually(DEADLINE, &format!("execution {status}"), || async {
        (bot.codepipeline
            .execution_status(&bot.pipeline, execution)
            .as_deref()
            == Some(status))
        .then_some(())
    })
    .await;
}

fn sdk(bot: &Bot) -> aws_sdk_codepipeline::Client {
    let config = aws_sdk_codepipeline::Config::builder()
        .behavior_version(aws_sdk_codepipeline::config::BehaviorVersion::latest())
        .region(aws_sdk_codepipeline::config::Region::new(aws::REGION))
        .endpoint_url(bot.codepipeline.endpoint_url())
        .credentials_provider(aws_sdk_codepipeline::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    aws_sdk_codepipeline::Client::from_conf(config)
}

pub(crate) async fn executions(bot: &Bot) -> Vec<String> {
    let out = sdk(bot)
        .list_pipeline_executions()
        .pipeline_name(&bot.pipeline)
        .send()
        .await
        .expect("list");
    out.pipeline_execution_summaries()
        .iter()
        .filter_map(|s| s.pipeline_execution_id().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn help_gives_the_usage_and_the_pipelines_this_user_may_act_on() {
    let bot = Bot::spawn(Options::default()).await;
    for text in ["", "help"] {
        let (ack, url) = deploy(&bot, ALICE, text).await;
        assert!(ack.contains("*Usage*"), "{ack}");
        let mine = response(&bot, &url, "ALICE's roles", |p| {
            text_of(p).contains("You may act on")
        })
        .await;
        assert!(
            text_of(&mine).contains(&format!("`{}` (start, stop, approve)", bot.pipeline)),
            "{mine:?}"
        );
    }
    let (_, url) = deploy(&bot, MALLORY, "help").await;
    response(&bot, &url, "MALLORY may do nothing", |p| {
        text_of(p).contains("You may not start, stop or approve any pipeline")
    })
    .await;
}

#[tokio::test]
async fn list_shows_each_pipeline_with_its_latest_execution() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, url) = deploy(&bot, ALICE, "list").await;
    response(&bot, &url, "an empty history", |p| {
        text_of(p).contains(&format!("• `{}`: no executions yet", bot.pipeline))
    })
    .await;

    bot.start_and_wait_for_prompt().await;
    let (ack, url) = deploy(&bot, ALICE, "list").await;
    assert!(ack.contains("Reading"), "{ack}");
    let line = response(&bot, &url, "the list", |p| {
        text_of(p).contains("InProgress")
    })
    .await;
    let text = text_of(&line);
    assert!(
        text.contains(&format!(
            "• `{}`: :arrows_counterclockwise: InProgress · started ",
            bot.pipeline
        )),
        "{text}"
    );
    assert!(text.contains("ago · `3f7c1e2a9b8d`"), "{text}");
}

#[tokio::test]
async fn status_shows_stages_and_its_approval_buttons_work() {
    let bot = Bot::spawn(Options::default()).await;
    let (execution, _) = bot.start_and_wait_for_prompt().await;

    deploy(&bot, ALICE, &format!("status {}", bot.pipeline)).await;
    let status = eventually(DEADLINE, "the status message", || async {
        bot.slack.messages(CHANNEL).into_iter().find(|m| {
            m.text
                .as_deref()
                .is_some_and(|t| t.starts_with("Status of"))
        })
    })
    .await;
    let blocks = status.blocks.to_string();
    assert!(
        blocks.contains(&format!(
            "*Latest execution* `{execution}` :arrows_counterclockwise: InProgress"
        )),
        "{blocks}"
    );
    for line in [
        ":white_check_mark: *Source* Succeeded",
        ":white_check_mark: *Build* Succeeded",
        ":arrows_counterclockwise: *Approve* InProgress",
        ":white_circle: *Deploy* not run",
    ] {
        assert!(blocks.contains(line), "{line} in {blocks}");
    }
    assert!(blocks.contains("`3f7c1e2a9b8d`"), "{blocks}");
    assert!(has_buttons(&status), "the pending approval's buttons");

    bot.click(&status.ts, APPROVE, BOB).await;
    wait_for_status(&bot, &execution, "Succeeded").await;
}

#[tokio::test]
async fn a_confirmed_start_runs_once_with_its_revision_and_variables() {
    let bot = Bot::spawn(polling()).await;
    let confirm = confirmation(
        &bot,
        &format!("{} 0123abcd ENV=prod TAG=v1.2", bot.pipeline),
    )
    .await;
    let shown = confirm.blocks.to_string();
    for what in [
        format!("*Pipeline* `{}`", bot.pipeline),
        "*Source revision* `0123abcd` for action `Source`".into(),
        "• `ENV` = `prod`".into(),
        "• `TAG` = `v1.2`".into(),
    ] {
        assert!(shown.contains(&what), "{what} in {shown}");
    }
    assert!(
        executions(&bot).await.is_empty(),
        "nothing starts before the confirmation"
    );

    // A double submit: the same confirmation clicked twice.
    let first = bot.click(&confirm.ts, START, ALICE).await;
    deliver_again(&bot, &first).await;

    let top = thread_top(&bot).await;
    let ids = eventually(DEADLINE, "one execution", || async {
        Some(executions(&bot).await).filter(|e| !e.is_empty())
    })
    .await;
    assert_eq!(ids.len(), 1, "one execution for one confirmation");
    let id = &ids[0];
    let head = top.blocks.to_string();
    assert!(head.contains(&format!("`{}` started by <@U0ALICE>: execution <https://us-east-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/{}/executions/{id}/timeline?region=us-east-1|`{id}`>", bot.pipeline, bot.pipeline)), "{head}");
    let execution = sdk(&bot)
        .get_pipeline_execution()
        .pipeline_name(&bot.pipeline)
        .pipeline_execution_id(id)
        .send()
        .await
        .expect("execution");
    let execution = execution.pipeline_execution().expect("execution");
    let variables: Vec<(String, String)> = execution
        .variables()
        .iter()
        .map(|v| {
            (
                v.name().unwrap_or_default().to_owned(),
                v.resolved_value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        variables,
        vec![("ENV".into(), "prod".into()), ("TAG".into(), "v1.2".into())]
    );
    assert_eq!(
        execution.artifact_revisions()[0].revision_id(),
        Some("0123abcd")
    );
    let said = eventually(DEADLINE, "the confirmation replaced", || async {
        bot.slack
            .ephemerals(CHANNEL, ALICE)
            .into_iter()
            .find(|m| m.ts == confirm.ts && !has_buttons(m))
    })
    .await;
    assert!(
        said.text
            .as_deref()
            .is_some_and(|t| t.contains("Started execution")
                || t.contains("Already done")
                || t.contains("being carried out")),
        "{said:?}"
    );
}

#[tokio::test]
async fn stop_confirms_then_stops_gracefully_or_by_abandoning() {
    let bot = Bot::spawn(Options::default()).await;
    let (execution, _) = bot.start_and_wait_for_prompt().await;

    let graceful = confirmation(&bot, &format!("stop {}", bot.pipeline)).await;
    let shown = graceful.blocks.to_string();
    assert!(
        shown.contains(&format!("*Execution* `{execution}`")) && shown.contains("graceful"),
        "{shown}"
    );
    bot.click(&graceful.ts, STOP, ALICE).await;
    // The approval is still in progress: a graceful stop waits for it.
    wait_for_status(&bot, &execution, "Stopping").await;

    let abandon = confirmation(
        &bot,
        &format!("stop {} --abandon release pulled", bot.pipeline),
    )
    .await;
    assert!(abandon
        .blocks
        .to_string()
        .contains("*Reason* release pulled"));
    bot.click(&abandon.ts, STOP, ALICE).await;
    wait_for_status(&bot, &execution, "Stopped").await;
    eventually(DEADLINE, "the stop note in the channel", || async {
        bot.slack.messages(CHANNEL).into_iter().find(|m| {
            m.text.as_deref().is_some_and(|t| {
                t.contains(&format!("<@U0ALICE> stopped execution `{execution}`"))
                    && t.contains("abandoning")
                    && t.ends_with(": release pulled")
            })
        })
    })
    .await;

    let (_, url) = deploy(&bot, ALICE, &format!("stop {}", bot.pipeline)).await;
    response(&bot, &url, "nothing to stop", |p| {
        text_of(p).contains("Nothing is running")
    })
    .await;
}

#[tokio::test]
async fn a_started_execution_is_followed_in_one_thread_by_polling() {
    let bot = Bot::spawn(polling()).await;
    let confirm = confirmation(&bot, &bot.pipeline.clone()).await;
    bot.click(&confirm.ts, START, ALICE).await;
    let top = thread_top(&bot).await;

    let prompt = eventually(DEADLINE, "the approval prompt in the thread", || async {
        replies(&bot, &top.ts).into_iter().find(has_buttons)
    })
    .await;
    eventually(
        DEADLINE,
        "the top message showing the approval stage",
        || async {
            bot.message(&top.ts)
                .blocks
                .to_string()
                .contains("In progress: stage *Approve*")
                .then_some(())
        },
    )
    .await;
    bot.click(&prompt.ts, APPROVE, BOB).await;

    eventually(DEADLINE, "the result", || async {
        reply_texts(&bot, &top.ts)
            .last()
            .filter(|t| t.contains("Succeeded"))
            .cloned()
    })
    .await;
    let texts = reply_texts(&bot, &top.ts);
    assert_eq!(texts.len(), 5, "{texts:?}");
    assert_eq!(texts[0], ":white_check_mark: Stage *Source* succeeded");
    assert_eq!(texts[1], ":white_check_mark: Stage *Build* succeeded");
    assert_eq!(texts[2], ":white_check_mark: Stage *Approve* succeeded");
    assert_eq!(texts[3], ":white_check_mark: Stage *Deploy* succeeded");
    assert!(
        texts[4].starts_with(":white_check_mark: *Succeeded* in "),
        "{}",
        texts[4]
    );
    let all = replies(&bot, &top.ts);
    let prompt_at = all
        .iter()
        .position(|m| m.ts == prompt.ts)
        .expect("prompt in the thread");
    let approve_at = all
        .iter()
        .position(|m| m.text.as_deref() == Some(texts[2].as_str()))
        .expect("approve reply");
    assert!(
        prompt_at < approve_at,
        "the prompt comes before its stage's outcome"
    );
    // The top message is updated after the thread's replies are posted.
    eventually(DEADLINE, "the top message to say Succeeded", || async {
        let head = bot.message(&top.ts).blocks.to_string();
        head.contains(":white_check_mark: *Succeeded* in ")
            .then_some(())
    })
    .await;
    assert!(bot.message(&top.ts).edited_count >= 2, "updated in place");
}

#[tokio::test]
async fn a_failed_execution_is_followed_from_eventbridge_events() {
    let config = aws::sdk_config().await;
    let name = format!("events-{}", uuid::Uuid::new_v4().simple());
    let events = create_topic_queue(&config, &name, false)
        .await
        .expect("events topic and queue");
    let mut options = polling();
    options.env.extend([
        (
            "CHATOPS__EVENTS__QUEUE_URL".to_owned(),
            events.queue_url.clone(),
        ),
        ("CHATOPS__EVENTS__WAIT_TIME_SECS".to_owned(), "1".to_owned()),
        // Gap-filling polls far apart: the thread moves on events.
        ("CHATOPS__DEPLOY__POLL_MAX_SECS".to_owned(), "30".to_owned()),
    ]);
    let bot = Bot::spawn(options).await;
    bot.codepipeline
        .publish_events_to(EventTarget::Sns(events.topic_arn.clone()));
    bot.codepipeline.fail_action(
        &bot.pipeline,
        "Build",
        "JobFailed",
        "Build failed: exit status 2",
    );

    let confirm = confirmation(&bot, &bot.pipeline.clone()).await;
    bot.click(&confirm.ts, START, ALICE).await;
    let top = thread_top(&bot).await;

    eventually(DEADLINE, "the result", || async {
        reply_texts(&bot, &top.ts)
            .last()
            .filter(|t| t.contains("Failed"))
            .cloned()
    })
    .await;
    let texts = reply_texts(&bot, &top.ts);
    assert_eq!(
        texts,
        vec![
            ":white_check_mark: Stage *Source* succeeded".to_owned(),
            ":x: Stage *Build* failed: action `Build`: Build failed: exit status 2".to_owned(),
            texts[2].clone(),
        ]
    );
    assert!(texts[2].starts_with(":x: *Failed* after "), "{}", texts[2]);
    assert!(
        texts[2].ends_with(": action `Build` in stage `Build`: Build failed: exit status 2"),
        "{}",
        texts[2]
    );
    // The top message is updated after the thread's replies are posted.
    eventually(DEADLINE, "the top message to say Failed", || async {
        let head = bot.message(&top.ts).blocks.to_string();
        head.contains(":x: *Failed* after ").then_some(())
    })
    .await;
    let published = bot.codepipeline.events();
    assert!(published.iter().all(|e| e.outcome.is_ok()), "{published:?}");
    assert!(published
        .iter()
        .any(|e| e.event["detail"]["state"] == "FAILED"));
    // One poll, for the failed action's error details (the events carry none); no timed polls.
    assert_eq!(bot.codepipeline.requests("GetPipelineExecution"), 1);
}

#[tokio::test]
async fn only_deployers_may_start_and_unknown_pipelines_get_the_closest_names() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, url) = deploy(&bot, MALLORY, &bot.pipeline.clone()).await;
    let refusal = response(&bot, &url, "the refusal", |p| {
        text_of(p).contains("You may not start or stop")
    })
    .await;
    assert!(
        text_of(&refusal).contains("Deployers: <@U0ALICE>"),
        "{refusal:?}"
    );
    let (_, url) = deploy(&bot, MALLORY, &format!("stop {}", bot.pipeline)).await;
    response(&bot, &url, "the stop refusal", |p| {
        text_of(p).contains("You may not start or stop")
    })
    .await;

    let typo: String = bot.pipeline.replacen("web-", "wbe-", 1);
    let (ack, _) = deploy(&bot, ALICE, &format!("status {typo}")).await;
    assert!(
        ack.contains(&format!("Closest configured: `{}`", bot.pipeline)),
        "{ack}"
    );
    let (ack, _) = deploy(&bot, ALICE, "some-other-pipeline").await;
    assert!(ack.contains("is not a pipeline this bot serves"), "{ack}");

    assert_eq!(bot.codepipeline.requests("StartPipelineExecution"), 0);
    assert_eq!(bot.codepipeline.requests("ListPipelineExecutions"), 0);
}

#[tokio::test]
async fn bad_input_gets_the_usage_and_never_reaches_codepipeline() {
    let bot = Bot::spawn(Options::default()).await;
    let p = bot.pipeline.clone();
    let hostile = [
        "bogus-sub-command extra".to_owned(),
        "list everything".to_owned(),
        format!("status {p} extra"),
        format!("{p} rev1 rev2"),
        format!("{p} ENV="),
        format!("{p} =value"),
        format!("{p} BAD!NAME=x"),
        format!("{p} X=\u{202E}gnp.exe"),
        format!("{p}\u{200B}"),
        "p|ipe".to_owned(),
        "<!channel>".to_owned(),
        "💥🚀".to_owned(),
        "x".repeat(4096),
        format!("stop {p} --force"),
    ];
    for text in &hostile {
        let (ack, url) = deploy(&bot, ALICE, text).await;
        assert!(ack.contains("*Usage*"), "{text:?} → {ack}");
        assert!(
            bot.slack.responses(&url).is_empty(),
            "no follow-up for {text:?}"
        );
    }
    let (ack, _) = deploy(&bot, ALICE, "").await;
    assert!(ack.contains("*Usage*"));
    for operation in [
        "StartPipelineExecution",
        "StopPipelineExecution",
        "GetPipelineState",
        "ListPipelineExecutions",
        "GetPipeline",
    ] {
        assert_eq!(bot.codepipeline.requests(operation), 0, "{operation}");
    }
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_then_answered_clearly() {
    let bot = Bot::spawn(Options::default()).await;
    bot.codepipeline
        .fail_next("ListPipelineExecutions", "ThrottlingException", 2);
    let (_, url) = deploy(&bot, ALICE, "list").await;
    response(&bot, &url, "the list after two throttled attempts", |p| {
        text_of(p).contains("no executions yet")
    })
    .await;
    assert_eq!(bot.codepipeline.requests("ListPipelineExecutions"), 3);

    bot.codepipeline
        .fail_next("ListPipelineExecutions", "ThrottlingException", 50);
    let (_, url) = deploy(&bot, ALICE, "list").await;
    response(&bot, &url, "the throttling message", |p| {
        text_of(p).contains("CodePipeline is throttling requests right now")
    })
    .await;
}

#[tokio::test]
async fn a_busy_pipeline_or_the_execution_limit_is_explained() {
    let bot = Bot::spawn(Options::default()).await;
    bot.codepipeline.set_busy(&bot.pipeline, true);
    let confirm = confirmation(&bot, &bot.pipeline.clone()).await;
    bot.click(&confirm.ts, START, ALICE).await;
    eventually(DEADLINE, "the busy answer", || async {
        bot.slack.ephemerals(CHANNEL, ALICE).into_iter().find(|m| {
            m.ts == confirm.ts
                && m.text
                    .as_deref()
                    .is_some_and(|t| t.contains("busy with other activities"))
        })
    })
    .await;
    eventually(DEADLINE, "the start message says why", || async {
        bot.slack.messages(CHANNEL).into_iter().find(|m| {
            m.text
                .as_deref()
                .is_some_and(|t| t.contains("was not started"))
        })
    })
    .await;

    bot.codepipeline.set_busy(&bot.pipeline, false);
    bot.codepipeline
        .limit_concurrent_executions(&bot.pipeline, 1);
    bot.start_and_wait_for_prompt().await;
    let confirm = confirmation(&bot, &bot.pipeline.clone()).await;
    bot.click(&confirm.ts, START, ALICE).await;
    eventually(DEADLINE, "the limit answer", || async {
        bot.slack.ephemerals(CHANNEL, ALICE).into_iter().find(|m| {
            m.ts == confirm.ts
                && m.text
                    .as_deref()
                    .is_some_and(|t| t.contains("as many executions as it may"))
        })
    })
    .await;
}

#[tokio::test]
async fn a_start_confirmed_twice_through_two_processes_starts_one_thread() {
    let bot = Bot::prepare(false)
        .await
        .with_shared_state()
        .await
        .start(polling())
        .await;
    let replica = bot.start_replica(4, Vec::new()).await;
    let confirm = confirmation(&bot, &bot.pipeline).await;
    // The same click, delivered once to each process (sockets 0 and 1 are the first's).
    bot.slack.route_next_to(0);
    let first = bot.click(&confirm.ts, START, ALICE).await;
    bot.slack.route_next_to(2);
    deliver_again(&bot, &first).await;

    thread_top(&bot).await;
    let url = first.payload["response_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    response(&bot, &url, "the second click's answer", |p| {
        let said = text_of(p);
        said.contains("Already done") || said.contains("being carried out")
    })
    .await;
    let tops: Vec<Message> = bot
        .slack
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| {
            m.thread_ts.is_none() && format!("{:?} {}", m.text, m.blocks).contains(":rocket:")
        })
        .collect();
    assert_eq!(tops.len(), 1, "{tops:?}");
    assert_eq!(executions(&bot).await.len(), 1);
    replica.stop().await;
}
