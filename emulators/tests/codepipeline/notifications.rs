//! The approval notification as it reaches SQS through ministack's SNS: envelope, body,
//! formats, and the null/absent rules of the documented body
//! (<https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals-json-format.html>).

use std::collections::BTreeSet;

use chrono::{NaiveDateTime, TimeDelta, Utc};
use emulators::codepipeline::{ActionKind, PipelineDef};
use emulators::testing::eventually;
use serde_json::Value;

use super::support::{harness, harness_with, DEADLINE};

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn the_notification_carries_the_documented_approval_json() {
    let h = harness().await;
    let started = Utc::now();
    let pending = h.start_and_wait().await;

    let envelope: Value = serde_json::from_str(&h.receive_one().await).expect("SNS envelope");
    assert_eq!(envelope["Type"], "Notification");
    assert_eq!(envelope["TopicArn"], h.topic_arn.as_str());
    assert_eq!(
        envelope["Subject"],
        format!(
            "APPROVAL NEEDED: AWS CodePipeline {} for action ManualApproval",
            h.pipeline
        )
    );
    let message = envelope["Message"].as_str().expect("Message is a string");
    let body: Value = serde_json::from_str(message).expect("approval JSON");

    assert_eq!(
        keys(&body),
        BTreeSet::from(["region", "consoleLink", "approval"])
    );
    assert_eq!(body["region"], "us-east-1");
    let console_link = format!(
        "https://console.aws.amazon.com/codepipeline/home?region=us-east-1#/view/{}",
        h.pipeline
    );
    assert_eq!(body["consoleLink"], console_link.as_str());

    let approval = &body["approval"];
    let expected_keys = [
        "pipelineName",
        "stageName",
        "actionName",
        "token",
        "expires",
        "externalEntityLink",
        "approvalReviewLink",
    ];
    assert_eq!(
        keys(approval),
        BTreeSet::from(expected_keys),
        "customData absent when unset"
    );
    assert_eq!(approval["pipelineName"], h.pipeline.as_str());
    assert_eq!(approval["stageName"], "Approve");
    assert_eq!(approval["actionName"], "ManualApproval");
    assert_eq!(approval["externalEntityLink"], Value::Null);

    let token = approval["token"].as_str().expect("token string");
    let parsed = uuid::Uuid::parse_str(token).expect("token is a UUID");
    assert_eq!(
        parsed.hyphenated().to_string(),
        token,
        "lowercase hyphenated UUID"
    );
    assert_eq!(token, pending.token);
    assert_eq!(
        approval["approvalReviewLink"],
        format!("{console_link}/Approve/ManualApproval/approve/{token}")
    );

    let expires = approval["expires"].as_str().expect("expires string");
    let expires = NaiveDateTime::parse_from_str(expires, "%Y-%m-%dT%H:%MZ")
        .expect("expires is YYYY-MM-DDTHH:MMZ")
        .and_utc();
    let seven_days = TimeDelta::days(7);
    assert!(expires > started + seven_days - TimeDelta::minutes(2));
    assert!(expires <= Utc::now() + seven_days);

    let published = h.sim.notifications();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].message, message);
    assert!(published[0].outcome.is_ok());
}

#[tokio::test]
async fn custom_data_and_the_external_link_appear_when_configured() {
    let h = harness_with(|name, topic| {
        let mut def = PipelineDef::with_approval(name, topic);
        def.stages[2].actions[0].kind = ActionKind::ManualApproval {
            notification_arn: Some(topic.to_owned()),
            custom_data: Some("Release 42: <b>check</b> the canary".to_owned()),
            external_entity_link: Some("https://example.com/change/42".to_owned()),
        };
        def
    })
    .await;
    h.start_and_wait().await;

    let envelope: Value = serde_json::from_str(&h.receive_one().await).expect("SNS envelope");
    let body: Value =
        serde_json::from_str(envelope["Message"].as_str().expect("Message")).expect("JSON");
    assert_eq!(
        body["approval"]["customData"],
        "Release 42: <b>check</b> the canary"
    );
    assert_eq!(
        body["approval"]["externalEntityLink"],
        "https://example.com/change/42"
    );
}

#[tokio::test]
async fn a_failed_publish_is_recorded_and_the_approval_still_waits() {
    let h = harness_with(|name, topic| {
        PipelineDef::with_approval(name, &format!("{topic}-does-not-exist"))
    })
    .await;
    let pending = h.start_and_wait().await;

    let failure = eventually(DEADLINE, "a recorded publish failure", || async {
        h.sim
            .notifications()
            .into_iter()
            .find(|n| n.outcome.is_err())
    })
    .await;
    assert!(failure.topic_arn.ends_with("-does-not-exist"));
    assert_eq!(
        h.sim.pending_approval(&h.pipeline).map(|p| p.token),
        Some(pending.token)
    );
}
