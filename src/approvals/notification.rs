//! SQS message body → [`ApprovalRequest`]. Pure: no I/O.
//!
//! CodePipeline publishes its approval JSON to SNS; SQS receives it either inside the SNS
//! envelope (`Message` is the approval JSON as a *string*) or, with raw message delivery, as the
//! body itself. Traps handled here: `expires` has minute precision (`2016-07-07T20:22Z`), an
//! unset `externalEntityLink` arrives as `null`, an unset `customData` is absent.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use super::{ApprovalRef, ApprovalRequest};
use crate::events::sns::{self, SnsError};
use crate::ids::{ActionName, ApprovalToken, InvalidId, PipelineName, StageName};

/// Why a message body is not an approval we can act on. Such messages are never deleted: they
/// stay for the queue's redrive policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error("SNS envelope's Message is not JSON: {0}")]
    EnvelopeMessageNotJson(String),
    #[error("not a CodePipeline approval notification: {0}")]
    NotAnApproval(String),
    #[error("approval field {field}: {reason}")]
    BadField { field: &'static str, reason: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    region: String,
    console_link: Option<String>,
    approval: Approval,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Approval {
    pipeline_name: String,
    stage_name: String,
    action_name: String,
    token: String,
    expires: Option<String>,
    external_entity_link: Option<String>,
    approval_review_link: Option<String>,
    custom_data: Option<String>,
}

/// Parses an SQS message body (SNS-wrapped or raw) into an approval request.
///
/// # Errors
/// The body is not an approval notification, or one of its fields is invalid.
pub fn parse(body: &str) -> Result<ApprovalRequest, NotificationError> {
    let approval_json = sns::unwrap(body).map_err(|e| match e {
        SnsError::Body(e) => NotificationError::NotJson(e),
        SnsError::Message(e) => NotificationError::EnvelopeMessageNotJson(e),
    })?;
    let n: Notification = serde_json::from_value(approval_json)
        .map_err(|e| NotificationError::NotAnApproval(e.to_string()))?;
    let a = n.approval;
    let field = |field: &'static str| {
        move |e: InvalidId| NotificationError::BadField {
            field,
            reason: e.to_string(),
        }
    };
    let approval = ApprovalRef {
        pipeline: PipelineName::parse(&a.pipeline_name).map_err(field("pipelineName"))?,
        stage: StageName::parse(&a.stage_name).map_err(field("stageName"))?,
        action: ActionName::parse(&a.action_name).map_err(field("actionName"))?,
        token: ApprovalToken::parse(&a.token).map_err(field("token"))?,
        execution: None,
    };
    let expires = a
        .expires
        .as_deref()
        .map(parse_expires)
        .transpose()
        .map_err(|reason| NotificationError::BadField {
            field: "expires",
            reason,
        })?;
    Ok(ApprovalRequest {
        approval,
        region: n.region,
        console_link: n.console_link,
        review_link: a.approval_review_link,
        external_entity_link: a.external_entity_link,
        custom_data: a.custom_data,
        expires,
    })
}

/// `2016-07-07T20:22Z` (the documented minute precision), also accepting full RFC 3339.
fn parse_expires(raw: &str) -> Result<DateTime<Utc>, String> {
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%MZ")
        .map(|t| t.and_utc())
        .or_else(|_| DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&Utc)))
        .map_err(|_| format!("`{}` is not a time", crate::ids::shorten(raw)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = include_str!("../../tests/fixtures/approval-raw.json");
    const SNS: &str = include_str!("../../tests/fixtures/approval-sns.json");

    #[test]
    fn a_raw_delivery_is_parsed_with_every_field() {
        let r = parse(RAW).expect("approval");
        assert_eq!(r.approval.pipeline.as_str(), "MyFirstPipeline");
        assert_eq!(r.approval.stage.as_str(), "MyApprovalStage");
        assert_eq!(r.approval.action.as_str(), "MyApprovalAction");
        assert_eq!(r.region, "us-east-2");
        assert_eq!(
            r.external_entity_link.as_deref(),
            Some("http://example.com")
        );
        assert!(r
            .custom_data
            .as_deref()
            .is_some_and(|c| c.starts_with("Review")));
        assert_eq!(
            r.expires.map(|e| e.to_rfc3339()),
            Some("2016-07-07T20:22:00+00:00".into())
        );
    }

    #[test]
    fn an_sns_envelope_is_unwrapped_with_null_link_and_absent_custom_data() {
        let r = parse(SNS).expect("approval");
        assert_eq!(
            r.approval.token.as_str(),
            "1a2b3c4d-573f-4ea7-a67e-0123456789ab"
        );
        assert_eq!(r.external_entity_link, None);
        assert_eq!(r.custom_data, None);
        assert!(r
            .review_link
            .is_some_and(|l| l.ends_with("/approve/1a2b3c4d-573f-4ea7-a67e-0123456789ab")));
    }

    #[test]
    fn malformed_bodies_are_refused_with_a_reason() {
        assert!(matches!(
            parse("<xml/>"),
            Err(NotificationError::NotJson(_))
        ));
        assert!(matches!(
            parse("{\"hello\":1}"),
            Err(NotificationError::NotAnApproval(_))
        ));
        let bad_inner = r#"{"Type":"Notification","Message":"not json"}"#;
        assert!(matches!(
            parse(bad_inner),
            Err(NotificationError::EnvelopeMessageNotJson(_))
        ));
        let other_event = r#"{"Type":"Notification","Message":"{\"detail-type\":\"x\"}"}"#;
        assert!(matches!(
            parse(other_event),
            Err(NotificationError::NotAnApproval(_))
        ));
    }

    #[test]
    fn invalid_fields_are_named() {
        let bad_token = RAW.replace("1a2b3c4d-573f-4ea7-a67e-0123456789ab", "XAMPLETOKEN");
        assert!(matches!(
            parse(&bad_token),
            Err(NotificationError::BadField { field: "token", .. })
        ));
        let bad_name = RAW.replace("\"MyFirstPipeline\"", "\"my pipeline\"");
        assert!(matches!(
            parse(&bad_name),
            Err(NotificationError::BadField {
                field: "pipelineName",
                ..
            })
        ));
        let bad_time = RAW.replace("2016-07-07T20:22Z", "next tuesday");
        assert!(matches!(
            parse(&bad_time),
            Err(NotificationError::BadField {
                field: "expires",
                ..
            })
        ));
    }
}
