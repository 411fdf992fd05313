//! Rendering tests: Block Kit limits, escaping, Unicode, restamping.

use super::*;
use crate::approvals::{notification, Decision, Outcome};
use crate::ids::UserId;
use chrono::DateTime;

/// The default offer: one-click approve allowed, starter unknown.
const OPTIONS: PromptOptions<'static> = PromptOptions {
    one_click: true,
    starter: None,
    authors: &[],
};

fn signer() -> crate::signing::Signer {
    crate::signing::tests::signer("a-render-test-key-that-is-long-enough-0123456789")
}

fn request(custom_data: Option<&str>) -> ApprovalRequest {
    let mut r = notification::parse(include_str!("../../../tests/fixtures/approval-raw.json"))
        .expect("fixture");
    r.custom_data = custom_data.map(str::to_owned);
    r
}

fn json_blocks(c: &SlackMessageContent) -> Vec<Value> {
    serde_json::to_value(c.blocks.as_ref().expect("blocks"))
        .expect("json")
        .as_array()
        .cloned()
        .expect("array")
}

fn section_texts(c: &SlackMessageContent) -> Vec<String> {
    json_blocks(c)
        .iter()
        .filter_map(|b| {
            b.pointer("/text/text")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn the_prompt_has_header_fields_links_expiry_and_three_buttons_the_one_click_confirmed() {
    let c = approval_prompt(&request(Some("ship it")), None, OPTIONS, &signer()).expect("render");
    let blocks = json_blocks(&c);
    assert_eq!(blocks[0]["type"], "header");
    let fields = blocks[1]["fields"].as_array().expect("fields");
    assert_eq!(fields.len(), 4);
    assert!(fields[0]["text"]
        .as_str()
        .is_some_and(|t| t.contains("MyFirstPipeline")));
    let context = blocks
        .iter()
        .find(|b| b["type"] == "context")
        .expect("links");
    let links = context["elements"][0]["text"].as_str().expect("text");
    assert!(links.contains("|Review in CodePipeline>"));
    assert!(links.contains("<http://example.com|External link>"));
    assert!(links.contains("<!date^1467922920^"), "{links}");
    let actions = blocks.last().expect("actions");
    assert_eq!(actions["block_id"], ACTIONS_BLOCK);
    let buttons = actions["elements"].as_array().expect("buttons");
    let ids: Vec<&str> = buttons
        .iter()
        .filter_map(|b| b["action_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "approval:approve",
            "approval:approve_reason",
            "approval:reject"
        ]
    );
    assert_eq!(buttons[0]["style"], "primary");
    assert_eq!(buttons[2]["style"], "danger");
    assert_eq!(buttons[1]["text"]["text"], "Approve…");
    assert_eq!(buttons[2]["text"]["text"], "Reject…");
    assert!(buttons[0]["confirm"]["title"]["text"].as_str().is_some());
    for b in buttons {
        let signed = b["value"].as_str().expect("value");
        let action_id = b["action_id"].as_str().expect("action_id");
        let value = signer().verify_button(action_id, signed).expect("signed");
        let back = crate::approvals::ApprovalRef::decode(value).expect("round trip");
        assert_eq!(back, request(None).approval);
    }
    assert!(c
        .text
        .is_some_and(|t| t.contains("MyFirstPipeline / MyApprovalStage")));
}

#[test]
fn custom_data_is_escaped_so_it_cannot_mention_or_link() {
    let c = approval_prompt(
        &request(Some("<!channel> & <https://evil|Approve> *x*")),
        None,
        OPTIONS,
        &signer(),
    )
    .expect("render");
    let texts = section_texts(&c);
    let data = texts
        .iter()
        .find(|t| t.contains("channel"))
        .expect("custom data");
    assert_eq!(
        data,
        "&lt;!channel&gt; &amp; &lt;https://evil|Approve&gt; *x*"
    );
}

#[test]
fn very_long_custom_data_is_cut_within_the_section_limit_with_an_ellipsis() {
    for unit in ["a", "&", "😀", "é", "<"] {
        let c = approval_prompt(
            &request(Some(&unit.repeat(10_000))),
            None,
            OPTIONS,
            &signer(),
        )
        .expect("render");
        let texts = section_texts(&c);
        let data = texts.iter().find(|t| t.ends_with('…')).expect("cut text");
        assert!(data.encode_utf16().count() <= SECTION_TEXT_MAX, "{unit}");
        assert!(
            !data.trim_end_matches('…').ends_with("&am"),
            "{unit}: entity split"
        );
    }
}

#[test]
fn short_unicode_custom_data_is_kept_whole() {
    let text = "Déploiement 🚀 — 日本語 OK";
    let c = approval_prompt(&request(Some(text)), None, OPTIONS, &signer()).expect("render");
    assert!(section_texts(&c).iter().any(|t| t == text));
}

#[test]
fn links_that_are_not_plain_http_urls_are_left_out() {
    let mut r = request(None);
    r.external_entity_link = Some("javascript:alert(1)".into());
    r.console_link = Some("https://x|<!channel>".into());
    let c = approval_prompt(&r, None, OPTIONS, &signer()).expect("render");
    let context = json_blocks(&c)
        .into_iter()
        .find(|b| b["type"] == "context")
        .expect("context");
    let text = context["elements"][0]["text"]
        .as_str()
        .expect("text")
        .to_owned();
    assert!(!text.contains("javascript"));
    assert!(!text.contains("!channel"));
}

#[test]
fn restamping_replaces_the_buttons_with_the_outcome() {
    let prompt =
        approval_prompt(&request(Some("notes")), None, OPTIONS, &signer()).expect("render");
    let blocks = prompt.blocks.clone().expect("blocks");
    let at = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
    let outcome = Outcome::Decided {
        decision: Decision::Reject,
        users: vec![UserId::parse("U0ALICE").expect("user")],
        comment: Some("broken <!here>".into()),
        at,
    };
    let stamped = restamp(&blocks, "Approval needed", &outcome).expect("render");
    let out = json_blocks(&stamped);
    assert!(out.iter().all(|b| b["block_id"] != ACTIONS_BLOCK));
    let last = out.last().expect("outcome");
    let line = last["text"]["text"].as_str().expect("text");
    assert!(line.contains("*Rejected* by <@U0ALICE>"), "{line}");
    assert!(line.contains("\n> broken &lt;!here&gt;"), "{line}");
    assert!(line.contains("<!date^1700000000^"));
    assert_eq!(out.len(), json_blocks(&prompt).len());
    // Restamping twice keeps one outcome line.
    let again = restamp(
        &stamped.blocks.expect("blocks"),
        "x",
        &Outcome::NoLongerValid { at },
    )
    .expect("render");
    let again = json_blocks(&again);
    assert_eq!(again.len(), out.len());
    assert!(again.last().expect("line")["text"]["text"]
        .as_str()
        .is_some_and(|t| t.contains("expired or was superseded")));
}

#[test]
fn the_execution_context_shows_id_starter_and_escaped_revisions() {
    let context = crate::outbound::codepipeline::ExecutionContext {
        execution_id: "0f6b2a4c-1111-2222-3333-444455556666".into(),
        started_by: Some("arn:aws:iam::123:user/<alice>".into()),
        revisions: (0..7)
            .map(|i| crate::outbound::codepipeline::Revision {
                artifact: "SourceArtifact".into(),
                revision_id: Some(format!("{i}abcdef0123456789")),
                summary: Some(format!("Fix <!here> & more\nsecond line {i}")),
                url: Some(format!("https://github.com/o/r/commit/{i}abcdef")),
                source: None,
            })
            .collect(),
    };
    let c = approval_prompt(&request(None), Some(&context), OPTIONS, &signer()).expect("render");
    let text = section_texts(&c)
        .into_iter()
        .find(|t| t.contains("*Execution*"))
        .expect("execution section");
    assert!(text.contains("`0f6b2a4c-1111-2222-3333-444455556666`"));
    assert!(text.contains("&lt;alice&gt;"));
    assert!(
        text.contains("<https://github.com/o/r/commit/0abcdef|`0abcdef01234`>"),
        "{text}"
    );
    assert!(text.contains("Fix &lt;!here&gt; &amp; more"));
    assert!(!text.contains("second line"));
    assert!(text.contains("…and 2 more revisions"));
}

#[test]
fn without_one_click_the_prompt_offers_the_modal_buttons_only() {
    let starter = crate::ids::UserId::parse("U0ALICE").expect("id");
    let options = PromptOptions {
        one_click: false,
        starter: Some(&starter),
        authors: &[],
    };
    let context = crate::outbound::codepipeline::ExecutionContext {
        execution_id: "0f6b2a4c-1111-2222-3333-444455556666".into(),
        started_by: Some("arn:aws:iam::123:user/alice".into()),
        revisions: Vec::new(),
    };
    let c = approval_prompt(&request(None), Some(&context), options, &signer()).expect("render");
    let blocks = json_blocks(&c);
    let buttons = blocks.last().expect("actions")["elements"]
        .as_array()
        .cloned()
        .expect("buttons");
    assert_eq!(buttons.len(), 2);
    assert_eq!(buttons[0]["action_id"], "approval:approve_reason");
    assert_eq!(buttons[0]["style"], "primary");
    assert!(buttons.iter().all(|b| b.get("confirm").is_none()));
    assert!(section_texts(&c)
        .iter()
        .any(|t| t.contains("*Started by* <@U0ALICE> (arn:aws:iam::123:user/alice)")));
}

#[test]
fn progress_sits_above_the_buttons_and_is_replaced_not_repeated() {
    let prompt = approval_prompt(&request(None), None, OPTIONS, &signer()).expect("render");
    let blocks = prompt.blocks.clone().expect("blocks");
    let once = progress(&blocks, "Approval", "1 of 2 approvals: <@U0BOB>").expect("render");
    let twice = progress(
        &once.blocks.clone().expect("blocks"),
        "Approval",
        "2 of 3 approvals: <@U0BOB>, <@U0CAROL>",
    )
    .expect("render");
    let out = json_blocks(&twice);
    assert_eq!(out.len(), json_blocks(&prompt).len() + 1);
    let votes = &out[out.len() - 2];
    assert_eq!(votes["block_id"], VOTES_BLOCK);
    assert!(votes["text"]["text"]
        .as_str()
        .is_some_and(|t| t.ends_with("2 of 3 approvals: <@U0BOB>, <@U0CAROL>")));
    assert_eq!(out.last().expect("actions")["block_id"], ACTIONS_BLOCK);
    let closed = restamp(
        &twice.blocks.expect("blocks"),
        "x",
        &Outcome::Superseded {
            at: DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
        },
    )
    .expect("render");
    let closed = json_blocks(&closed);
    assert!(closed.iter().all(|b| b["block_id"] != VOTES_BLOCK));
    assert!(closed.last().expect("line")["text"]["text"]
        .as_str()
        .is_some_and(|t| t.contains("*Superseded*")));
}

#[test]
fn a_decision_seen_elsewhere_names_the_principal_and_escapes_the_summary() {
    let prompt = approval_prompt(&request(None), None, OPTIONS, &signer()).expect("render");
    let outcome = Outcome::DecidedElsewhere {
        decision: Decision::Approve,
        by: Some("arn:aws:iam::1:user/<bob>".into()),
        summary: Some("ok <!channel>".into()),
        at: DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
    };
    let c = restamp(&prompt.blocks.expect("blocks"), "Approval", &outcome).expect("render");
    let line = json_blocks(&c).last().expect("line")["text"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(line.contains("*Approved outside Slack*"), "{line}");
    assert!(line.contains("`arn:aws:iam::1:user/&lt;bob&gt;`"), "{line}");
    assert!(line.contains("> ok &lt;!channel&gt;"), "{line}");
}

#[test]
fn the_reason_modal_requires_a_comment_only_for_rejections() {
    let approval = request(None).approval;
    for (decision, optional) in [(Decision::Approve, true), (Decision::Reject, false)] {
        let view = reason_modal(decision, &approval, "{\"m\":1}").expect("render");
        let v = serde_json::to_value(&view).expect("json");
        assert_eq!(v["type"], "modal");
        assert_eq!(v["callback_id"], REASON_CALLBACK);
        assert_eq!(v["private_metadata"], "{\"m\":1}");
        assert!(v["title"]["text"]
            .as_str()
            .is_some_and(|t| t.chars().count() <= 24));
        let input = &v["blocks"][1];
        assert_eq!(input["block_id"], REASON_BLOCK);
        assert_eq!(input["optional"], optional);
        assert_eq!(input["element"]["action_id"], REASON_INPUT);
        assert_eq!(input["element"]["max_length"], REASON_MAX);
    }
}

#[test]
fn the_audit_reply_shows_the_record_escaped_in_a_code_block() {
    let c = audit_reply(":memo: Audit", "{\"reason\":\"<!here>\"}").expect("render");
    let context = &json_blocks(&c)[1];
    assert_eq!(
        context["elements"][0]["text"],
        "```{\"reason\":\"&lt;!here&gt;\"}```"
    );
}
