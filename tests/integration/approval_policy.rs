//! Issue 3, policy, reason and audit end to end: per-action approvers and channels, no
//! self-approval, quorum, the reason modal (`views.open` → `view_submission`), and the audit
//! record under the prompt.

use emulators::codepipeline::{ActionKind, GITHUB_GET_COMMIT};
use emulators::slack::Message;
use emulators::testing::eventually;
use serde_json::json;

use crate::support::approvals::{authored_by_carol_as, APPROVE, APPROVE_WITH_REASON, REJECT};
use crate::support::{has_buttons, Bot, Options, ALICE, BOB, CAROL, CHANNEL, DEADLINE, MALLORY};

/// The simulator's starter of every execution started through its handle.
const SIM_STARTER: &str = "arn:aws:iam::000000000000:user/codepipeline-sim";

/// A policy for the approval action (`extra` TOML keys), the simulator's starter mapped to
/// Alice.
fn policy(extra: &str) -> Options {
    Options {
        config_tail: format!(
            r#"
            [[pipelines.actions]]
            stage = "Approve"
            action = "ManualApproval"
            {extra}
            [approvals.principals]
            "{SIM_STARTER}" = "{ALICE}"
            "#
        ),
        ..Options::default()
    }
}

/// Quorum 2; Alice (the starter), Carol and the group (Bob) approve.
fn quorum_of_two() -> Options {
    policy(&format!(
        r#"approver_users = ["{ALICE}", "{CAROL}"]
            quorum = 2"#
    ))
}

fn text(m: &Message) -> String {
    m.blocks.to_string()
}

#[tokio::test]
async fn quorum_with_two_approvers_where_one_is_also_the_starter() {
    let bot = Bot::spawn(quorum_of_two()).await;
    let (execution, prompt) = bot.start_and_wait_for_prompt().await;
    assert!(
        text(&prompt).contains("*Started by* <@U0ALICE>"),
        "{}",
        text(&prompt)
    );

    bot.click(&prompt.ts, APPROVE, ALICE).await;
    bot.wait_for_ephemeral(ALICE, "You started this execution")
        .await;
    bot.audit_record(&prompt.ts, "self_approval").await;

    bot.click(&prompt.ts, APPROVE, BOB).await;
    let counted = eventually(DEADLINE, "the prompt to show 1 of 2", || async {
        let m = bot.message(&prompt.ts);
        text(&m).contains("1 of 2 approvals: <@U0BOB>").then_some(m)
    })
    .await;
    assert!(has_buttons(&counted), "still open for the second approver");
    bot.wait_for_ephemeral(BOB, "Your approval is counted")
        .await;
    bot.click(&prompt.ts, APPROVE, BOB).await;
    bot.wait_for_ephemeral(BOB, "You approved this already")
        .await;
    assert_eq!(bot.codepipeline.put_approval_calls(), 0);

    let modal = bot.open_modal(&prompt.ts, APPROVE_WITH_REASON, CAROL).await;
    assert_eq!(modal["blocks"][1]["optional"], true);
    let ack = bot.submit(&modal, CAROL, Some("canary is green")).await;
    assert_eq!(ack.payload, None);

    let done = bot
        .wait_for_restamp(&prompt.ts, "*Approved* by <@U0BOB>, <@U0CAROL>")
        .await;
    assert!(text(&done).contains("canary is green"), "{}", text(&done));
    let results = bot.codepipeline.approval_results();
    assert_eq!(results.len(), 1);
    let summary = &results[0].summary;
    for needle in [BOB, CAROL, "canary is green"] {
        assert!(summary.contains(needle), "{summary}");
    }
    assert!(!summary.contains(ALICE), "{summary}");
    assert!(summary.chars().count() <= 512);
    bot.wait_for_execution(&execution, "Succeeded").await;
}

#[tokio::test]
async fn a_rejection_during_a_half_met_quorum_rejects_at_once_and_needs_a_reason() {
    let bot = Bot::spawn(quorum_of_two()).await;
    let (execution, prompt) = bot.start_and_wait_for_prompt().await;
    bot.click(&prompt.ts, APPROVE, BOB).await;
    eventually(DEADLINE, "1 of 2", || async {
        text(&bot.message(&prompt.ts))
            .contains("1 of 2 approvals")
            .then_some(())
    })
    .await;

    let modal = bot.open_modal(&prompt.ts, REJECT, CAROL).await;
    assert_eq!(modal["blocks"][1]["optional"], false);
    let ack = bot.submit(&modal, CAROL, Some("  ")).await;
    assert_eq!(
        ack.payload,
        Some(json!({"response_action": "errors",
            "errors": {"reason": "A rejection needs a reason."}}))
    );
    assert_eq!(bot.codepipeline.put_approval_calls(), 0);
    let ack = bot.submit(&modal, CAROL, Some("error rate doubled")).await;
    assert_eq!(ack.payload, None);

    let done = bot
        .wait_for_restamp(&prompt.ts, "*Rejected* by <@U0CAROL>")
        .await;
    assert!(
        text(&done).contains("> error rate doubled"),
        "{}",
        text(&done)
    );
    let results = bot.codepipeline.approval_results();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].status, "Rejected");
    assert!(
        results[0].summary.contains("error rate doubled")
            && results[0].summary.contains("Approvals before: bob (U0BOB)"),
        "{}",
        results[0].summary
    );
    bot.wait_for_execution(&execution, "Failed").await;
}

#[tokio::test]
async fn an_action_policy_names_its_approvers_and_channels_and_can_forbid_one_click() {
    let bot = Bot::spawn(policy(&format!(
        r#"approver_users = ["{CAROL}"]
            approver_groups = []
            act_in_channels = ["{CHANNEL}"]
            one_click_approve = false"#
    )))
    .await;
    bot.slack.add_channel("C0ELSEWHERE", "elsewhere");
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    let buttons = text(&prompt);
    assert!(!buttons.contains(&format!("\"{APPROVE}\"")), "{buttons}");

    let modal = bot.open_modal(&prompt.ts, APPROVE_WITH_REASON, ALICE).await;
    bot.submit(&modal, ALICE, None).await;
    let refusal = bot.wait_for_ephemeral(ALICE, "not an approver").await;
    assert!(
        refusal
            .text
            .as_deref()
            .is_some_and(|t| t.contains("<@U0CAROL>")),
        "{refusal:?}"
    );

    // The same prompt, posted by the bot in another channel, cannot be acted on there.
    let copy = bot.post_copy(&prompt, "C0ELSEWHERE").await;
    let envelope = bot
        .slack
        .click("C0ELSEWHERE", &copy, APPROVE_WITH_REASON, CAROL)
        .await
        .expect("click");
    envelope.acked(crate::support::DEADLINE).await.expect("ack");
    let modal = eventually(DEADLINE, "the modal", || async {
        bot.slack.views_opened().into_iter().nth(1)
    })
    .await;
    bot.submit(&modal, CAROL, None).await;
    bot.wait_for_ephemeral_in("C0ELSEWHERE", CAROL, "<#C0DEPLOYS>")
        .await;
    assert_eq!(bot.codepipeline.put_approval_calls(), 0);

    let modal = bot.open_modal(&prompt.ts, APPROVE_WITH_REASON, CAROL).await;
    bot.submit(&modal, CAROL, None).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved* by <@U0CAROL>")
        .await;
}

#[tokio::test]
async fn every_decision_and_refusal_is_audited_under_the_prompt() {
    let bot = Bot::spawn(Options::default()).await;
    let (execution, prompt) = bot.start_and_wait_for_prompt().await;

    bot.click(&prompt.ts, APPROVE, MALLORY).await;
    let refused = bot.audit_record(&prompt.ts, "not_an_approver").await;
    assert_eq!(refused["user"], MALLORY);
    bot.click(&prompt.ts, APPROVE, ALICE).await;
    let recorded = bot.audit_record(&prompt.ts, "recorded").await;

    let token = bot.codepipeline.approval_results()[0].token.clone();
    let token_hash = chatops::ids::ApprovalToken::parse(&token)
        .expect("token")
        .hash();
    assert_eq!(recorded["token_hash"], token_hash.as_str());
    assert_eq!(recorded["execution_id"], execution.as_str());
    assert_eq!(recorded["pipeline"], bot.pipeline.as_str());
    assert_eq!(
        (&recorded["stage"], &recorded["action"]),
        (&json!("Approve"), &json!("ManualApproval"))
    );
    assert_eq!(recorded["user"], ALICE);
    assert_eq!(recorded["team"], "T0TEST");
    assert_eq!(recorded["decision"], "Approved");
    assert!(recorded["latency_ms"].is_u64());
    assert!(recorded["summary"]
        .as_str()
        .is_some_and(|s| s.contains(ALICE)));
    assert!(!bot
        .replies(&prompt.ts)
        .iter()
        .any(|m| text(m).contains(&token)));
    assert_eq!(bot.prompts().len(), 1, "replies stay in the thread");
}

/// The GitHub token the simulator's private repository requires.
const GITHUB_TOKEN: &str = "ghp_testtoken0000000000000000000000000000";

/// A bot whose pipeline's source revision Carol wrote, in a private GitHub repository that
/// [`GITHUB_TOKEN`] opens; Parameter Store holds `token`; the approval notifies the bot when
/// `notify`. Alice (the starter) and Carol approve, Bob through the group.
async fn authored_by_carol(token: Option<&str>, notify: bool) -> Bot {
    let bot = Bot::prepare(false).await;
    if let Some(token) = token {
        bot.aws.put_parameter("github/token", token).await;
    }
    bot.codepipeline.require_github_token(GITHUB_TOKEN);
    let mut def = authored_by_carol_as(&bot, "Carol@Example.com");
    if !notify {
        if let ActionKind::ManualApproval {
            notification_arn, ..
        } = &mut def.stages[2].actions[0].kind
        {
            *notification_arn = None;
        }
    }
    bot.codepipeline.create_pipeline(def);
    let mut options = policy(&format!(r#"approver_users = ["{ALICE}", "{CAROL}"]"#));
    options.config_tail.push_str(&format!(
        r#"
        [approvals.revision_authors]
        github_api_url = "{api}"
        users = {{ "carol@example.com" = "{CAROL}" }}
        "#,
        api = bot.codepipeline.endpoint_url()
    ));
    bot.start(options).await
}

#[tokio::test]
async fn the_author_of_the_promoted_revision_may_not_approve_it() {
    let bot = authored_by_carol(Some(GITHUB_TOKEN), true).await;
    let (execution, prompt) = bot.start_and_wait_for_prompt().await;
    for needle in [
        "*Written by* <@U0CAROL>",
        "*Started by* <@U0ALICE>",
        "Merge pull request #42 from feature/approvals",
    ] {
        assert!(
            text(&prompt).contains(needle),
            "{needle} in {}",
            text(&prompt)
        );
    }
    assert_eq!(bot.codepipeline.requests(GITHUB_GET_COMMIT), 1);

    bot.click(&prompt.ts, APPROVE, CAROL).await;
    bot.wait_for_ephemeral(CAROL, "You wrote a revision this execution promotes")
        .await;
    bot.audit_record(&prompt.ts, "self_approval").await;
    assert_eq!(bot.codepipeline.put_approval_calls(), 0);

    bot.click(&prompt.ts, APPROVE, BOB).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved* by <@U0BOB>")
        .await;
    bot.wait_for_execution(&execution, "Succeeded").await;
}

#[tokio::test]
async fn an_author_lookup_github_refuses_leaves_the_prompt_and_the_author_free() {
    let bot = authored_by_carol(None, true).await;
    let (execution, prompt) = bot.start_and_wait_for_prompt().await;
    assert_eq!(bot.codepipeline.requests(GITHUB_GET_COMMIT), 1);
    assert!(!text(&prompt).contains("Written by"), "{}", text(&prompt));

    bot.click(&prompt.ts, APPROVE, CAROL).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved* by <@U0CAROL>")
        .await;
    bot.wait_for_execution(&execution, "Succeeded").await;
}

#[tokio::test]
async fn an_author_clicking_a_prompt_this_process_never_posted_is_checked_afresh() {
    let bot = authored_by_carol(Some(GITHUB_TOKEN), false).await;
    let execution = bot.codepipeline.start_execution(&bot.pipeline).await;
    eventually(DEADLINE, "the approval to wait", || async {
        bot.codepipeline.pending_approval(&bot.pipeline)
    })
    .await;
    bot.slack
        .slash_command(
            CHANNEL,
            CAROL,
            "/deploy",
            &format!("status {}", bot.pipeline),
        )
        .await
        .expect("delivered");
    let status = eventually(DEADLINE, "the status message with its buttons", || async {
        bot.slack.messages(CHANNEL).into_iter().find(has_buttons)
    })
    .await;
    assert_eq!(
        bot.codepipeline.requests(GITHUB_GET_COMMIT),
        0,
        "no prompt, no lookup yet"
    );

    bot.click(&status.ts, APPROVE, CAROL).await;
    bot.wait_for_ephemeral(CAROL, "You wrote a revision this execution promotes")
        .await;
    assert_eq!(bot.codepipeline.requests(GITHUB_GET_COMMIT), 1);
    assert_eq!(bot.codepipeline.put_approval_calls(), 0);

    bot.click(&status.ts, APPROVE, BOB).await;
    bot.wait_for_execution(&execution, "Succeeded").await;
}

#[tokio::test]
async fn a_rotated_github_token_is_reread_when_github_refuses_the_old_one() {
    let bot = authored_by_carol(Some("ghp_revoked"), true).await;
    bot.aws.put_parameter("github/token", GITHUB_TOKEN).await;

    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    assert!(
        text(&prompt).contains("*Written by* <@U0CAROL>"),
        "{}",
        text(&prompt)
    );
    assert_eq!(
        bot.codepipeline.requests(GITHUB_GET_COMMIT),
        2,
        "refused once, then accepted with the token read again"
    );
}

#[tokio::test]
async fn a_starter_unknown_at_the_prompt_is_read_at_the_click_and_an_approval_waits_for_it() {
    let bot = Bot::spawn(policy("")).await;
    // The context lookup fails when the prompt is posted: who started it is unknown then.
    bot.codepipeline
        .fail_next("GetPipelineState", "ValidationException", 1);
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    assert!(!text(&prompt).contains("*Started by*"), "{}", text(&prompt));

    // CodePipeline cannot say at the click either: refused, not waved through.
    bot.codepipeline
        .fail_next("GetPipelineState", "ValidationException", 1);
    bot.click(&prompt.ts, APPROVE, BOB).await;
    bot.wait_for_ephemeral(BOB, "cannot say right now who started this execution")
        .await;
    bot.audit_record(&prompt.ts, "starter_unknown").await;
    // Read again at the next click: Alice started it.
    bot.click(&prompt.ts, APPROVE, ALICE).await;
    bot.wait_for_ephemeral(ALICE, "You started this execution")
        .await;
    assert_eq!(bot.codepipeline.put_approval_calls(), 0);

    bot.click(&prompt.ts, APPROVE, BOB).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved* by <@U0BOB>")
        .await;
}

/// `user`'s entries in the shared audit trail of the test's pipeline (`[state]` on DynamoDB).
async fn audited(bot: &Bot, user: &str) -> Vec<chatops::audit::AuditEntry> {
    let dynamodb = aws_sdk_dynamodb::Client::new(&crate::support::aws::sdk_config().await);
    let records = chatops::outbound::records::Records::dynamodb(dynamodb, &bot.state_table());
    let trail = chatops::audit::AuditLog::new(records, std::time::Duration::from_secs(3600));
    let pipeline = chatops::ids::PipelineName::parse(&bot.pipeline).expect("name");
    let entries = trail.latest(&pipeline, 100).await.expect("the audit trail");
    entries.into_iter().filter(|e| e.user == user).collect()
}

/// Thread replies under `ts` that audit `user`'s attempts.
fn audit_lines_of(bot: &Bot, ts: &str, user: &str) -> usize {
    let by = format!("by <@{user}>");
    bot.replies(ts)
        .iter()
        .filter(|m| m.text.as_deref().is_some_and(|t| t.contains(&by)))
        .count()
}

/// Ephemeral replies to `user` containing `needle`.
fn told(bot: &Bot, user: &str, needle: &str) -> usize {
    bot.slack
        .ephemerals(CHANNEL, user)
        .iter()
        .filter(|m| m.text.as_deref().is_some_and(|t| t.contains(needle)))
        .count()
}

#[tokio::test]
async fn a_burst_of_refused_clicks_is_said_once_in_the_thread_and_once_to_each_person() {
    let bot = Bot::spawn_shared().await;
    // Two processes: the clicks go round robin over both processes' connections.
    let replica = bot.start_replica(4, Vec::new()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;

    for _ in 0..10 {
        bot.click(&prompt.ts, APPROVE, MALLORY).await;
    }
    eventually(DEADLINE, "ten refusals in the audit trail", || async {
        (audited(&bot, MALLORY).await.len() == 10).then_some(())
    })
    .await;
    bot.wait_for_ephemeral(MALLORY, "not an approver").await;
    bot.audit_record(&prompt.ts, "not_an_approver").await;

    // Another person refused within the burst hears of it and is in the audit trail; the
    // thread keeps its one line for the burst.
    bot.click(&prompt.ts, APPROVE, CAROL).await;
    bot.wait_for_ephemeral(CAROL, "not an approver").await;
    eventually(DEADLINE, "Carol's refusal in the audit trail", || async {
        (audited(&bot, CAROL).await.len() == 1).then_some(())
    })
    .await;

    assert_eq!(told(&bot, MALLORY, "not an approver"), 1, "one ephemeral");
    assert_eq!(
        audit_lines_of(&bot, &prompt.ts, MALLORY),
        1,
        "one thread line"
    );
    assert_eq!(audit_lines_of(&bot, &prompt.ts, CAROL), 0);
    assert_eq!(
        bot.replies(&prompt.ts).len(),
        1,
        "one public line per burst"
    );
    assert_eq!(bot.codepipeline.put_approval_calls(), 0);
    replica.stop().await;
}

#[tokio::test]
async fn a_reason_form_whose_metadata_the_bot_did_not_sign_is_refused_in_the_form() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    let (mut modal, signed) = bot.signed_reason_form(&prompt.ts, BOB).await;
    let (_, metadata) = signed.split_once('.').expect("signed metadata");
    modal["private_metadata"] = json!(metadata);

    let ack = bot.submit(&modal, BOB, Some("broken build")).await;

    assert_eq!(
        ack.payload,
        Some(json!({"response_action": "errors", "errors": {"reason":
            "This form is no longer valid; close it and press the button again."}}))
    );
    assert_eq!(bot.codepipeline.put_approval_calls(), 0);
    modal["private_metadata"] = json!(signed);
    let ack = bot.submit(&modal, BOB, Some("broken build")).await;
    assert_eq!(ack.payload, None);
    bot.wait_for_restamp(&prompt.ts, "*Rejected* by <@U0BOB>")
        .await;
}
