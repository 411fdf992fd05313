//! Bounded property tests of the parsers of untrusted input (the functions the `fuzz/` targets
//! drive): SQS bodies, Socket Mode frames, signed button values and slash-command text never
//! panic, whatever arrives; a signed value round-trips and any change to it is refused; an
//! approval reference written by the bot reads back the same. The hostile corpus
//! (`tests/hostile/`) runs first as fixed cases. No network, no ministack: part of the normal
//! `cargo test`, a few seconds in all (`PROPTEST_CASES` raises the case count locally).

#[path = "hostile/corpus.rs"]
mod corpus;

use proptest::prelude::*;
use serde_json::Value;

use chatops::approvals::{notification, ApprovalRef};
use chatops::commands::{deploy, redshift_alerts};
use chatops::inbound::socket_mode::envelope::{self, AppIdentity};
use chatops::outbound::parameter_store::{ButtonKeys, TokenStore, Tokens};
use chatops::secret::Secret;
use chatops::signing::Signer;

/// Enough cases to explore, few enough that the run stays well under 30 s on 2 cores.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const PIPELINES: &[&str] = &["web-prod", "api.staging"];

fn signer(key: &str) -> Signer {
    Signer::new(TokenStore::fixed(Tokens {
        bot: Secret::new("xoxb-properties"),
        app: Secret::new("xapp-properties"),
        github: None,
        buttons: ButtonKeys::new(Secret::new(key), Vec::new()),
    }))
}

fn app() -> AppIdentity {
    AppIdentity {
        app_id: "A0TEST".into(),
        team_id: "T0TEST".into(),
    }
}

/// An SQS body through both of its parsers (approvals and pipeline events).
fn sqs_body(body: &str) {
    let _ = notification::parse(body);
    let _ = chatops::events::parse(body);
}

/// A Socket Mode frame, before and after `hello`.
fn socket_frame(text: &str) {
    let _ = envelope::parse(None, text);
    let _ = envelope::parse(Some(&app()), text);
}

/// A clicked value, as `Registry::click` then the approval handler read it.
fn button_value(signer: &Signer, value: &str) {
    for action in ["approval:approve", "approval:reject", "deploy:start"] {
        if let Ok(inner) = signer.verify_button(action, value) {
            let _ = ApprovalRef::decode(inner);
        }
    }
    let _ = ApprovalRef::decode(value);
}

/// Command text through both parsers; a refusal never hands the input's markup back.
fn command_text(text: &str) {
    for reply in [
        deploy::parse::parse(text, PIPELINES).err(),
        redshift_alerts::parse(text).err(),
    ]
    .into_iter()
    .flatten()
    {
        let reply = reply.0;
        for markup in ["<!channel>", "<!here>", "<@U0ALICE>", "<https://"] {
            assert!(
                !(text.contains(markup) && reply.contains(markup)),
                "{text:?} came back as markup: {reply}"
            );
        }
    }
}

/// What the corpus placeholders stand for here.
const VARS: &[(&str, &str)] = &[
    ("PIPELINE", "web-prod"),
    ("APP_ID", "A0TEST"),
    ("TEAM_ID", "T0TEST"),
    ("CHANNEL", "C0DEPLOYS"),
    ("USER", "U0ALICE"),
];

/// The corpus files as text (the bytes read lossily: what a parser of `&str` could get).
fn corpus_texts(family: &str) -> Vec<(String, String)> {
    corpus::family(family)
        .into_iter()
        .map(|case| {
            let text = case
                .text(VARS)
                .unwrap_or_else(|| String::from_utf8_lossy(case.bytes()).into_owned());
            (case.name, text)
        })
        .collect()
}

#[test]
fn every_hostile_corpus_case_is_refused_by_its_parser_without_a_panic() {
    for (name, body) in corpus_texts("sqs") {
        // Refused, or (unknown pipelines) read but for no pipeline the bot serves.
        if let Ok(request) = notification::parse(&body) {
            assert_ne!(request.approval.pipeline.as_str(), PIPELINES[0], "{name}");
        }
        let _ = chatops::events::parse(&body);
    }
    for (name, frame) in corpus_texts("envelopes") {
        // The emulator adds the envelope id; so does this test.
        let mut frame: Value = serde_json::from_str(&frame).expect("an envelope case is JSON");
        frame["envelope_id"] = "e1".into();
        let parsed = envelope::parse(Some(&app()), &frame.to_string());
        assert!(
            matches!(
                parsed,
                envelope::Parsed::Refused { .. } | envelope::Parsed::Envelope { .. }
            ),
            "{name} would not be acked: {parsed:?}"
        );
    }
    // The button cases built on a real signed reference, as the integration test builds them.
    let signer = signer("a-properties-key-0123456789abcdef");
    let token = "5f2b6a1e-0c3d-4e8f-9a7b-1c2d3e4f5a6b";
    let reference =
        format!(r#"{{"p":"web-prod","s":"Approve","a":"ManualApproval","t":"{token}"}}"#);
    let signed = signer
        .sign_button("approval:approve", &reference)
        .expect("fits");
    let vars = [
        ("PIPELINE", "web-prod"),
        ("STAGE", "Approve"),
        ("ACTION", "ManualApproval"),
        ("TOKEN", token),
    ];
    for case in corpus::family("buttons") {
        let text = case.forged(&signed, &vars);
        let value = match case.header("sign") {
            None => text,
            Some("other-key") => signer_of_another_key()
                .sign_button("approval:approve", &text)
                .expect("fits"),
            Some(action) => signer.sign_button(action, &text).expect("fits"),
        };
        assert!(
            signer.verify_button("approval:approve", &value).is_err(),
            "{} verified",
            case.name
        );
        button_value(&signer, &value);
    }
    for (_, text) in corpus_texts("commands") {
        command_text(&text);
    }
}

/// Names as CodePipeline allows them (`[A-Za-z0-9.@_-]{1,100}`).
fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.@_-]{1,100}"
}

/// A lowercase UUID, as approval tokens and execution ids are.
fn uuid() -> impl Strategy<Value = String> {
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
}

/// JSON of any shape, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        prop::sample::select(vec!["A0TEST", "T0TEST", "C0DEPLOYS", "U0ALICE", "/deploy"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "type",
                    "api_app_id",
                    "team_id",
                    "team",
                    "id",
                    "user",
                    "user_id",
                    "channel_id",
                    "command",
                    "text",
                    "actions",
                    "action_id",
                    "value",
                    "view",
                    "private_metadata",
                    "container",
                    "Message",
                    "approval",
                ])
                .prop_map(str::to_owned),
                inner,
                0..8
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sqs_bodies_of_any_text_never_panic_the_parsers(body in ".{0,400}") {
        sqs_body(&body);
    }

    #[test]
    fn sqs_bodies_of_any_json_never_panic_the_parsers(body in json()) {
        sqs_body(&body.to_string());
        sqs_body(&serde_json::json!({"Type": "Notification", "Message": body.to_string()}).to_string());
    }

    #[test]
    fn approval_shaped_bodies_with_arbitrary_fields_never_panic(
        pipeline in ".{0,120}", stage in name(), token in ".{0,40}", expires in ".{0,30}"
    ) {
        let body = serde_json::json!({"region": "us-east-1", "approval": {
            "pipelineName": pipeline, "stageName": stage, "actionName": "Approval",
            "token": token, "expires": expires}});
        sqs_body(&body.to_string());
    }

    #[test]
    fn socket_frames_of_any_text_never_panic(text in ".{0,400}") {
        socket_frame(&text);
    }

    #[test]
    fn socket_envelopes_of_any_payload_never_panic(
        kind in prop::sample::select(vec!["slash_commands", "interactive", "events_api", "hello", "disconnect", "other"]),
        payload in json(),
        ours in any::<bool>(),
    ) {
        let mut payload = payload;
        if ours {
            if let Value::Object(fields) = &mut payload {
                fields.insert("api_app_id".into(), "A0TEST".into());
                fields.insert("team_id".into(), "T0TEST".into());
            }
        }
        let frame = serde_json::json!({"type": kind, "envelope_id": "e1", "payload": payload});
        socket_frame(&frame.to_string());
    }

    #[test]
    fn button_values_of_any_text_never_panic(value in ".{0,2100}") {
        button_value(&signer("a-properties-key-0123456789abcdef"), &value);
    }

    #[test]
    fn a_signed_value_verifies_to_itself_and_only_for_its_action(
        action in "[a-z:_]{1,40}", value in ".{0,500}"
    ) {
        let signer = signer("a-properties-key-0123456789abcdef");
        let signed = signer.sign_button(&action, &value).expect("fits");
        prop_assert_eq!(signer.verify_button(&action, &signed), Ok(value.as_str()));
        let other = format!("{action}x");
        prop_assert!(signer.verify_button(&other, &signed).is_err());
        prop_assert!(signer_of_another_key().verify_button(&action, &signed).is_err());
    }

    #[test]
    fn any_change_to_a_signed_value_is_refused(
        value in "[ -~]{1,300}", at in any::<prop::sample::Index>(), with in "[ -~]"
    ) {
        let signer = signer("a-properties-key-0123456789abcdef");
        let signed = signer.sign_button("approval:approve", &value).expect("fits");
        let at = at.index(signed.len());
        let mut changed = signed.clone();
        changed.replace_range(at..=at, &with);
        prop_assume!(changed != signed);
        prop_assert!(signer.verify_button("approval:approve", &changed).is_err(), "{}", changed);
    }

    #[test]
    fn an_approval_reference_reads_back_as_written(
        p in name(), s in name(), a in name(), t in uuid(), e in prop::option::of(uuid())
    ) {
        let approval: ApprovalRef = serde_json::from_value(serde_json::json!({
            "p": p, "s": s, "a": a, "t": t, "e": e
        }))
        .expect("a valid reference");
        let encoded = approval.encode();
        prop_assert_eq!(ApprovalRef::decode(&encoded), Ok(approval));
    }

    #[test]
    fn command_text_of_any_kind_never_panics_or_echoes_markup(text in ".{0,300}") {
        command_text(&text);
    }

    #[test]
    fn command_text_from_command_words_never_panics_or_echoes_markup(
        words in prop::collection::vec(prop::sample::select(vec![
            "help", "list", "status", "stop", "history", "web-prod", "api.staging", "since", "7d",
            "top", "5", "slow", "queues", "etl-prod", "<!channel>", "<@U0ALICE>", "*x*",
            "<https://e.example|x>", "A=b", "--force", "'", ";", "\u{202e}", "\u{0}", "2002",
        ]), 0..8)
    ) {
        command_text(&words.join(" "));
    }
}

fn signer_of_another_key() -> Signer {
    signer("another-properties-key-0123456789abcdef")
}
