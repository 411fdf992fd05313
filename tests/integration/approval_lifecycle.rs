//! Issue 3, context and prompts that stay true end to end: what is promoted, prompts restamped
//! when an approval closes elsewhere (reconcile loop, or EventBridge events direct and
//! SNS-wrapped), and PARALLEL-mode executions each with their own prompt and token.

use emulators::codepipeline::{ExecutionMode, PipelineDef};
use emulators::testing::eventually;

use crate::support::approvals::{publish_events, with_events, APPROVE};
use crate::support::{has_buttons, Bot, Options, ALICE, BOB, DEADLINE};

/// Reconcile every second (no events queue).
fn reconcile_fast() -> Options {
    Options {
        env: vec![("CHATOPS__APPROVALS__RECONCILE_SECS".into(), "1".into())],
        ..Options::default()
    }
}

#[tokio::test]
async fn the_prompt_shows_what_is_promoted_who_started_it_links_and_expiry() {
    let bot = Bot::spawn(Options::default()).await;
    let (execution, prompt) = bot.start_and_wait_for_prompt().await;
    let blocks = prompt.blocks.to_string();
    for needle in [
        format!("*Execution* `{execution}`"),
        "*Started by* arn:aws:iam::000000000000:user/codepipeline-sim".to_owned(),
        "`3f7c1e2a9b8d`".to_owned(),
        "Merge pull request #42 from feature/approvals".to_owned(),
        "FullRepositoryId=example%2F".to_owned(),
        "Commit=3f7c1e2a9b8d4c6e5f0a1b2c3d4e5f6a7b8c9d0e|".to_owned(),
        "|Review in CodePipeline>".to_owned(),
        "|Pipeline console>".to_owned(),
        "Expires <!date^".to_owned(),
    ] {
        assert!(blocks.contains(&needle), "{needle} in {blocks}");
    }
}

#[tokio::test]
async fn an_approval_decided_in_the_console_while_its_prompt_is_open_is_restamped_without_a_click()
{
    let bot = Bot::spawn(reconcile_fast()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;

    bot.decide_in_console(true, "LGTM from the console");

    let m = bot
        .wait_for_restamp(&prompt.ts, "*Approved outside Slack*")
        .await;
    let blocks = m.blocks.to_string();
    assert!(blocks.contains("user/console-approver"), "{blocks}");
    assert!(blocks.contains("LGTM from the console"), "{blocks}");
    assert_eq!(
        bot.codepipeline.put_approval_calls(),
        0,
        "no click, no call"
    );
}

#[tokio::test]
async fn supersession_expiry_and_a_stop_restamp_prompts_from_direct_events() {
    let (options, topic) = with_events(Options::default(), true).await;
    let bot = Bot::spawn(options).await;
    publish_events(&bot, &topic);

    let (_, first) = bot.start_and_wait_for_prompt().await;
    let (_, second) = bot.start_and_wait_for_prompt().await;
    bot.wait_for_restamp(&first.ts, "*Superseded*").await;
    assert!(has_buttons(&bot.message(&second.ts)));

    bot.codepipeline.expire_approvals(&bot.pipeline);
    bot.wait_for_restamp(&second.ts, "*Expired*").await;

    let (third_execution, third) = bot.start_and_wait_for_prompt().await;
    sdk(&bot)
        .stop_pipeline_execution()
        .pipeline_name(&bot.pipeline)
        .pipeline_execution_id(&third_execution)
        .abandon(true)
        .send()
        .await
        .expect("stop");
    bot.wait_for_restamp(&third.ts, "*Execution stopped*").await;
    assert_eq!(bot.codepipeline.put_approval_calls(), 0);
}

#[tokio::test]
async fn a_console_rejection_arrives_as_an_sns_wrapped_event_and_restamps_the_prompt() {
    let (options, topic) = with_events(Options::default(), false).await;
    let bot = Bot::spawn(options).await;
    publish_events(&bot, &topic);
    let (_, prompt) = bot.start_and_wait_for_prompt().await;

    bot.decide_in_console(false, "not during the freeze");

    let m = bot
        .wait_for_restamp(&prompt.ts, "*Rejected outside Slack*")
        .await;
    assert!(m.blocks.to_string().contains("not during the freeze"));
}

#[tokio::test]
async fn two_executions_pending_in_parallel_mode_are_approved_in_reverse_order() {
    let bot = Bot::spawn(Options::default()).await;
    let topic = bot.aws.topic_arn.clone();
    bot.codepipeline.create_pipeline(PipelineDef {
        execution_mode: ExecutionMode::Parallel,
        ..PipelineDef::with_approval(&bot.pipeline, &topic)
    });
    let (first_execution, first) = bot.start_and_wait_for_prompt().await;
    let (second_execution, second) = bot.start_and_wait_for_prompt().await;
    for (prompt, execution, other) in [
        (&first, &first_execution, &second_execution),
        (&second, &second_execution, &first_execution),
    ] {
        let blocks = prompt.blocks.to_string();
        assert!(
            blocks.contains(&format!("*Execution* `{execution}`")),
            "{blocks}"
        );
        assert!(!blocks.contains(other.as_str()), "{blocks}");
    }

    bot.click(&second.ts, APPROVE, ALICE).await;
    bot.wait_for_restamp(&second.ts, "*Approved* by <@U0ALICE>")
        .await;
    assert!(has_buttons(&bot.message(&first.ts)), "the older one waits");
    bot.click(&first.ts, APPROVE, BOB).await;
    bot.wait_for_restamp(&first.ts, "*Approved* by <@U0BOB>")
        .await;

    for execution in [&first_execution, &second_execution] {
        bot.wait_for_execution(execution, "Succeeded").await;
    }
    let results = bot.codepipeline.approval_results();
    assert_eq!(results.len(), 2);
    assert_ne!(results[0].token, results[1].token);
}

#[tokio::test]
async fn a_backlog_of_parallel_approvals_gets_every_prompt_with_its_execution() {
    /// More waiting runs than the three pages of action runs one lookup of its own reads
    /// (each execution holds four runs, newest first: the oldest waits on the sixth page).
    const BACKLOG: usize = 150;
    let bot = Bot::spawn(Options::default()).await;
    let topic = bot.aws.topic_arn.clone();
    bot.codepipeline.create_pipeline(PipelineDef {
        execution_mode: ExecutionMode::Parallel,
        ..PipelineDef::with_approval(&bot.pipeline, &topic)
    });
    let mut executions = Vec::new();
    for _ in 0..BACKLOG {
        executions.push(bot.codepipeline.start_execution(&bot.pipeline).await);
    }
    let prompts = eventually(DEADLINE, "every prompt", || async {
        let prompts = bot.prompts();
        (prompts.len() == BACKLOG).then_some(prompts)
    })
    .await;
    let blocks: Vec<String> = prompts.iter().map(|p| p.blocks.to_string()).collect();
    for execution in &executions {
        let naming = blocks
            .iter()
            .filter(|b| b.contains(&format!("*Execution* `{execution}`")))
            .count();
        assert_eq!(naming, 1, "one prompt names {execution}");
    }
    // Shared between the prompts: far fewer than the three pages each lookup alone reads.
    let pages = bot.codepipeline.requests("ListActionExecutions");
    eprintln!("{BACKLOG} PARALLEL approvals prompted with {pages} ListActionExecutions requests");
    assert!(pages < BACKLOG, "{pages} ListActionExecutions requests");
}

/// The AWS SDK pointed at the simulator, as an operator's CLI would be.
fn sdk(bot: &Bot) -> aws_sdk_codepipeline::Client {
    let config = aws_sdk_codepipeline::Config::builder()
        .behavior_version(aws_sdk_codepipeline::config::BehaviorVersion::latest())
        .region(aws_sdk_codepipeline::config::Region::new("us-east-1"))
        .endpoint_url(bot.codepipeline.endpoint_url())
        .credentials_provider(aws_sdk_codepipeline::config::Credentials::new(
            "operator", "x", None, None, "test",
        ))
        .build();
    aws_sdk_codepipeline::Client::from_conf(config)
}
