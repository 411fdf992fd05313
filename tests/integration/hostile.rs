//! Hostile input through the real bot, one test per family of `tests/hostile/` (see its
//! README): SQS bodies, Socket Mode envelopes, tampered button values, forged modal metadata,
//! odd slash-command text. Every case is named in the assertion that fails for it. Each family
//! ends by showing the bot still works (a real approval gets its prompt, the real button or
//! form still decides).
//!
//! Logs are not captured in process (the subscriber is global to the test binary): the effects
//! are asserted instead, on the emulators' and ministack's records; the SQS family also runs
//! against the real binary, whose log lines are read.

#[path = "../hostile/corpus.rs"]
mod corpus;

use emulators::slack::{Ack, Envelope, Message};
use emulators::testing::eventually;
use serde_json::{json, Value};

use chatops::outbound::parameter_store::{ButtonKeys, TokenStore, Tokens};
use chatops::secret::Secret;
use chatops::signing::Signer;

use crate::support::approvals::APPROVE;
use crate::support::process::finish;
use crate::support::redshift::{Exports, CLOCK};
use crate::support::{has_buttons, Bot, Options, ALICE, BOB, CHANNEL, DEADLINE};

/// The CodePipeline operations that change something or start something.
const MUTATIONS: &[&str] = &[
    "PutApprovalResult",
    "StartPipelineExecution",
    "StopPipelineExecution",
    "RetryStageExecution",
];

fn assert_no_mutation(bot: &Bot, family: &str) {
    for operation in MUTATIONS {
        assert_eq!(
            bot.codepipeline.requests(operation),
            0,
            "{family}: {operation} was called"
        );
    }
}

/// What SQS takes in a body: at most 256 KiB of the characters it allows (no NUL, no lone
/// surrogate): <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html>.
fn sqs_accepts(body: &str) -> bool {
    body.len() <= 262_144
        && body.chars().all(|c| {
            matches!(c, '\u{9}' | '\u{a}' | '\u{d}' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        })
}

/// Sends `body` (the corpus case `case`) to the approval queue; its message id.
async fn send(bot: &Bot, case: &str, body: String) -> String {
    bot.aws
        .sqs
        .send_message()
        .queue_url(&bot.aws.queue_url)
        .message_body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{case}: SQS refused it: {e:?}"))
        .message_id
        .expect("a message id")
}

#[tokio::test]
async fn hostile_sqs_bodies_post_nothing_call_nothing_and_stay_for_the_redrive_policy() {
    let bot = Bot::spawn(Options::default()).await;
    let vars = [("PIPELINE", bot.pipeline.as_str())];
    let mut sent = Vec::new();
    for case in corpus::family("sqs") {
        match case.text(&vars).filter(|body| sqs_accepts(body)) {
            Some(body) => {
                send(&bot, &case.name, body).await;
                sent.push(case.name);
            }
            // Bytes SQS cannot carry (invalid UTF-8, NUL) never reach the bot: the parser
            // gets them here instead, as the lossy text a `String` body could hold.
            None => {
                let body = String::from_utf8_lossy(case.bytes());
                assert!(
                    chatops::approvals::notification::parse(&body).is_err(),
                    "{}: parsed as an approval",
                    case.name
                );
            }
        }
    }
    assert!(sent.len() > 20, "most cases go through SQS: {sent:?}");

    // A real notification after them still gets its prompt: nothing wedged the loop.
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    eventually(
        DEADLINE,
        "the real notification deleted, the hostile ones kept",
        || async { (bot.aws.queue_depth().await == sent.len()).then_some(()) },
    )
    .await;
    assert_eq!(bot.prompts().len(), 1, "only the real prompt: {sent:?}");
    assert_eq!(bot.slack.messages(CHANNEL)[0].ts, prompt.ts);
    assert_eq!(bot.slack.calls("chat.postMessage"), 1, "{sent:?}");
    assert_no_mutation(&bot, "sqs");
}

#[tokio::test]
async fn hostile_sqs_bodies_are_logged_with_their_message_id_and_end_in_the_dead_letter_queue() {
    let bot = Bot::prepare(false).await;
    // Two receives, then the dead-letter queue; a message that cannot be handled is hidden for
    // `retry_max_secs` (1 s here) between them.
    bot.aws.set_max_receive_count(2).await;
    let running = bot
        .start_process(
            2,
            &[
                ("CHATOPS__APPROVALS__RETRY_BASE_SECS", "1"),
                ("CHATOPS__APPROVALS__RETRY_MAX_SECS", "1"),
            ],
        )
        .await;
    let vars = [("PIPELINE", bot.pipeline.as_str())];
    let mut sent = Vec::new();
    for case in corpus::family("sqs") {
        let Some(body) = case.text(&vars).filter(|body| sqs_accepts(body)) else {
            continue;
        };
        let id = send(&bot, &case.name, body).await;
        sent.push((case.name, id));
    }
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    eventually(
        DEADLINE,
        "every hostile message in the dead-letter queue, the real one deleted",
        || async {
            (bot.aws.dead_letter_depth().await == sent.len() && bot.aws.queue_depth().await == 0)
                .then_some(())
        },
    )
    .await;
    assert_eq!(bot.prompts().len(), 1, "only the real prompt");
    assert_eq!(bot.slack.messages(CHANNEL)[0].ts, prompt.ts);
    assert_no_mutation(&bot, "sqs");

    running.signal("TERM").await;
    let (status, stdout, stderr) = finish(running).await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    let output = format!("{stdout}{stderr}");
    for (case, id) in &sent {
        assert!(
            output
                .lines()
                .any(|l| l.contains(id.as_str()) && l.contains("left for the redrive policy")),
            "{case}: no log line names message {id} and what became of it"
        );
    }
}

/// The test's stand-ins for the corpus placeholders of Slack ids.
fn slack_vars(bot: &Bot) -> Vec<(&'static str, String)> {
    let (app, team) = bot.slack.app_and_team();
    vec![
        ("APP_ID", app),
        ("TEAM_ID", team),
        ("CHANNEL", CHANNEL.to_owned()),
        ("USER", ALICE.to_owned()),
    ]
}

fn borrowed<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn acked(envelope: &Envelope, case: &str) -> Ack {
    envelope
        .acked(DEADLINE)
        .await
        .unwrap_or_else(|| panic!("{case}: not acked"))
}

#[tokio::test]
async fn hostile_envelopes_are_acked_and_do_nothing() {
    let bot = Bot::spawn(Options::default()).await;
    let vars = slack_vars(&bot);
    for case in corpus::family("envelopes") {
        let text = case
            .text(&borrowed(&vars))
            .expect("envelope cases are text");
        let frame: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", case.name));
        let envelope = bot
            .slack
            .send_envelope(
                frame["type"].as_str().unwrap_or_default(),
                frame.get("payload").cloned().unwrap_or(Value::Null),
                frame["accepts_response_payload"].as_bool().unwrap_or(false),
            )
            .await
            .expect("delivered");
        // No reply, or (ids of a shape Slack never sends) one saying nothing was done.
        let ack = acked(&envelope, &case.name).await;
        if let Some(reply) = ack.payload {
            assert!(
                reply["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("nothing was done")),
                "{}: replied {reply}",
                case.name
            );
        }
    }
    // The one that names a button is answered like any unsigned click, and only that.
    for m in bot.slack.ephemerals(CHANNEL, ALICE) {
        let text = m.text.unwrap_or_default();
        assert!(text.contains("not issued by this bot"), "{text}");
    }
    assert!(bot.slack.messages(CHANNEL).is_empty(), "nothing posted");
    assert_eq!(bot.slack.calls("chat.postMessage"), 0);
    assert_eq!(bot.slack.calls("views.open"), 0);
    assert_no_mutation(&bot, "envelopes");

    let envelope = bot
        .slack
        .slash_command(CHANNEL, ALICE, "/deploy", "help")
        .await
        .expect("delivered");
    let ack = acked(&envelope, "/deploy help after the hostile envelopes").await;
    assert!(ack.payload.is_some(), "the bot still answers");
}

/// Posts, as the bot, a copy of `prompt` whose Approve button carries `value`; its `ts` (each
/// case clicks its own copy, so no refusal is held back as a repeat on the same message).
async fn copy_with_value(bot: &Bot, prompt: &Message, value: &str) -> String {
    let mut blocks = prompt.blocks.clone();
    let button = blocks
        .as_array_mut()
        .and_then(|b| b.iter_mut().find(|b| b["type"] == "actions"))
        .and_then(|a| a["elements"].as_array_mut())
        .and_then(|e| e.iter_mut().find(|e| e["action_id"] == APPROVE))
        .expect("the Approve button");
    button["value"] = json!(value);
    bot.post_copy(
        &Message {
            blocks,
            ..prompt.clone()
        },
        CHANNEL,
    )
    .await
}

/// A signer with a key the bot does not have.
fn other_key() -> Signer {
    Signer::new(TokenStore::fixed(Tokens {
        bot: Secret::new("xoxb-other"),
        app: Secret::new("xapp-other"),
        github: None,
        buttons: ButtonKeys::new(Secret::new("not-the-bots-key-0123456789abcdef"), Vec::new()),
    }))
}

/// The names a signed approval reference fills in the button and view cases.
fn reference_vars(reference: &Value) -> Vec<(&'static str, String)> {
    let field = |k: &str| reference[k].as_str().unwrap_or_default().to_owned();
    vec![
        ("PIPELINE", field("p")),
        ("STAGE", field("s")),
        ("ACTION", field("a")),
        ("TOKEN", field("t")),
        ("CHANNEL", CHANNEL.to_owned()),
    ]
}

/// The case built on the real `signed` value, then signed as its `sign=` header says: with a
/// key the bot does not have, or with the bot's key for another button or form.
fn forge(
    case: &corpus::Case,
    signed: &str,
    reference: &Value,
    bot: &Bot,
    for_button: bool,
) -> String {
    let text = case.forged(signed, &borrowed(&reference_vars(reference)));
    let sign = |signer: &Signer, id: &str| {
        if for_button {
            signer.sign_button(id, &text)
        } else {
            signer.sign_metadata(id, &text)
        }
        .expect("fits")
    };
    match case.header("sign") {
        None => text.clone(),
        Some("other-key") => sign(
            &other_key(),
            if for_button {
                APPROVE
            } else {
                "approval:reason"
            },
        ),
        Some(id) => sign(&bot.signer(), id),
    }
}

fn approve_value(prompt_blocks: &Value) -> String {
    prompt_blocks
        .as_array()
        .and_then(|b| b.iter().find(|b| b["type"] == "actions"))
        .and_then(|a| a["elements"].as_array())
        .and_then(|e| e.iter().find(|e| e["action_id"] == APPROVE))
        .and_then(|e| e["value"].as_str())
        .expect("the Approve button's value")
        .to_owned()
}

#[tokio::test]
async fn tampered_button_values_are_refused_without_calling_codepipeline() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    let signed = approve_value(&prompt.blocks);
    let inner: Value =
        serde_json::from_str(signed.split_once('.').expect("signed").1).expect("JSON reference");
    let mut refused = 0;
    for case in corpus::family("buttons") {
        let value = forge(&case, &signed, &inner, &bot, true);
        assert_ne!(value, signed, "{}: the real value", case.name);
        // Slack refuses a button whose value is over 2,000 characters, so no click can carry
        // one: such a case is checked where the bot would read it.
        if value.len() > chatops::interaction::MAX_BUTTON_VALUE {
            assert!(
                bot.signer().verify_button(APPROVE, &value).is_err(),
                "{}: verified",
                case.name
            );
            continue;
        }
        let ts = copy_with_value(&bot, &prompt, &value).await;
        bot.click(&ts, APPROVE, ALICE).await;
        refused += 1;
        eventually(DEADLINE, &format!("{}: a refusal", case.name), || async {
            (bot.slack.ephemerals(CHANNEL, ALICE).len() >= refused).then_some(())
        })
        .await;
        let told = bot.slack.ephemerals(CHANNEL, ALICE)[refused - 1]
            .text
            .clone();
        assert!(
            told.as_deref()
                .is_some_and(|t| t.contains("not issued by this bot")),
            "{}: told {told:?}",
            case.name
        );
        assert_eq!(bot.codepipeline.put_approval_calls(), 0, "{}", case.name);
    }
    let now = bot.message(&prompt.ts);
    assert_eq!(now.blocks, prompt.blocks, "the prompt is unchanged");
    assert!(bot.slack.calls("chat.update") == 0, "nothing was restamped");
    assert_no_mutation(&bot, "buttons");

    bot.click(&prompt.ts, APPROVE, ALICE).await;
    bot.wait_for_restamp(&prompt.ts, "*Approved* by <@U0ALICE>")
        .await;
    assert_eq!(bot.codepipeline.put_approval_calls(), 1);
}

#[tokio::test]
async fn forged_reason_form_metadata_is_refused_in_the_form_without_calling_codepipeline() {
    let bot = Bot::spawn(Options::default()).await;
    let (_, prompt) = bot.start_and_wait_for_prompt().await;
    let (mut modal, signed) = bot.signed_reason_form(&prompt.ts, BOB).await;
    let inner: Value =
        serde_json::from_str(signed.split_once('.').expect("signed").1).expect("JSON metadata");
    for case in corpus::family("views") {
        let metadata = forge(&case, &signed, &inner["r"], &bot, false);
        modal["private_metadata"] = json!(metadata);
        let ack = bot.submit(&modal, BOB, Some("hostile")).await;
        let payload = ack
            .payload
            .unwrap_or_else(|| panic!("{}: accepted", case.name));
        assert_eq!(
            payload["response_action"], "errors",
            "{}: {payload}",
            case.name
        );
        assert_eq!(bot.codepipeline.put_approval_calls(), 0, "{}", case.name);
    }
    assert!(
        has_buttons(&bot.message(&prompt.ts)),
        "the prompt stays open"
    );
    assert_no_mutation(&bot, "views");

    modal["private_metadata"] = json!(signed);
    let ack = bot.submit(&modal, BOB, Some("broken build")).await;
    assert_eq!(ack.payload, None, "the real form is accepted");
    bot.wait_for_restamp(&prompt.ts, "*Rejected* by <@U0BOB>")
        .await;
}

/// The markup spans of `input` that Slack would act on: `<…>` sequences and `*…*` bold.
fn markup(input: &str) -> Vec<&str> {
    let mut spans = Vec::new();
    for (open, close) in [('<', '>'), ('*', '*')] {
        let mut rest = input;
        while let Some(start) = rest.find(open) {
            let after = &rest[start + 1..];
            let Some(len) = after.find(close) else { break };
            if len > 0 {
                spans.push(&rest[start..start + 1 + len + 1]);
            }
            rest = &after[len + 1..];
        }
    }
    spans
}

/// `text` outside its code spans (where mrkdwn is not rendered).
fn outside_code(text: &str) -> String {
    text.split('`').step_by(2).collect::<Vec<_>>().join(" ")
}

/// Slack reads `<…>` sequences everywhere, so none may come back even in code; bold only
/// matters outside code.
fn assert_no_markup_from(input: &str, output: &str, case: &str) {
    let prose = outside_code(output);
    for span in markup(input) {
        let shown = if span.starts_with('<') {
            output
        } else {
            &prose
        };
        assert!(
            !shown.contains(span),
            "{case}: {span:?} from the input came back as markup: {output}"
        );
    }
}

#[tokio::test]
async fn odd_command_text_is_answered_readably_starts_nothing_and_echoes_no_markup() {
    let exports = Exports::create().await;
    let bot = Bot::spawn(Options {
        env: exports.env(),
        clock: Some(CLOCK),
        ..Options::default()
    })
    .await;
    let vars = [("PIPELINE", bot.pipeline.as_str())];
    let mut urls = Vec::new();
    for case in corpus::family("commands") {
        let text = case.text(&vars).expect("command cases are text");
        for command in ["/deploy", "/redshift-alerts"] {
            let name = format!("{command} {}", case.name);
            let envelope = bot
                .slack
                .slash_command(CHANNEL, ALICE, command, &text)
                .await
                .expect("delivered");
            let ack = acked(&envelope, &name).await;
            let reply = ack
                .payload
                .as_ref()
                .and_then(|p| p["text"].as_str())
                .unwrap_or_default()
                .to_owned();
            assert!(
                reply.len() > 10,
                "{name}: no readable reply: {:?}",
                ack.payload
            );
            assert_no_markup_from(&text, &reply, &name);
            let url = envelope.payload["response_url"]
                .as_str()
                .unwrap_or_default();
            urls.push((name, text.clone(), url.to_owned()));
        }
    }
    for (name, text, url) in &urls {
        for post in bot.slack.responses(url) {
            let shown = format!("{} {}", post.text.unwrap_or_default(), post.blocks);
            assert_no_markup_from(text, &shown, name);
        }
    }
    assert!(bot.slack.messages(CHANNEL).is_empty(), "nothing was posted");
    assert!(
        exports.queries().await.is_empty(),
        "no Athena query started"
    );
    assert_no_mutation(&bot, "commands");
}
