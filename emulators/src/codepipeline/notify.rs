//! The approval notification: the JSON body CodePipeline publishes to SNS
//! (<https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals-json-format.html>) and
//! the `sns:Publish` call that sends it to the configured endpoint (ministack in tests).

use aws_sdk_sns::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sns::error::DisplayErrorContext;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::model::SimConfig;

/// One notification the simulator tried to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedNotification {
    /// The approval action's `NotificationArn`.
    pub topic_arn: String,
    /// SNS `Subject`: `APPROVAL NEEDED: AWS CodePipeline <pipeline> for action <action>`.
    pub subject: String,
    /// SNS `Message`: the approval JSON, exactly as published.
    pub message: String,
    /// SNS `MessageId` on success; the error, rendered, when the publish failed.
    pub outcome: Result<String, String>,
}

/// A notification waiting to be published (built under the state lock, sent after it).
pub(crate) struct Publication {
    pub(crate) topic_arn: String,
    pub(crate) subject: String,
    pub(crate) message: String,
}

/// What the notification says about one pending approval.
pub(crate) struct ApprovalNotice<'a> {
    pub(crate) topic_arn: &'a str,
    pub(crate) region: &'a str,
    pub(crate) pipeline: &'a str,
    pub(crate) stage: &'a str,
    pub(crate) action: &'a str,
    pub(crate) token: &'a str,
    pub(crate) expires: DateTime<Utc>,
    pub(crate) custom_data: Option<&'a str>,
    pub(crate) external_entity_link: Option<&'a str>,
}

/// Builds the notification for a pending approval.
pub(crate) fn approval_publication(notice: &ApprovalNotice) -> Publication {
    let console_link = format!(
        "https://console.aws.amazon.com/codepipeline/home?region={}#/view/{}",
        notice.region, notice.pipeline
    );
    let mut approval = json!({
        "pipelineName": notice.pipeline,
        "stageName": notice.stage,
        "actionName": notice.action,
        "token": notice.token,
        // Minute precision, no seconds: the documented format, not RFC 3339.
        "expires": notice.expires.format("%Y-%m-%dT%H:%MZ").to_string(),
        // Unset → null, as AWS sends it.
        "externalEntityLink": notice.external_entity_link,
        "approvalReviewLink": format!(
            "{console_link}/{}/{}/approve/{}",
            notice.stage, notice.action, notice.token
        ),
    });
    // Unset → key absent, as AWS sends it.
    if let Some(custom_data) = notice.custom_data {
        approval["customData"] = Value::from(custom_data);
    }
    let body = json!({"region": notice.region, "consoleLink": console_link, "approval": approval});
    Publication {
        topic_arn: notice.topic_arn.to_owned(),
        subject: format!(
            "APPROVAL NEEDED: AWS CodePipeline {} for action {}",
            notice.pipeline, notice.action
        ),
        message: body.to_string(),
    }
}

/// The SNS client the simulator publishes with: static test credentials, the configured
/// region and endpoint.
pub(crate) fn sns_client(config: &SimConfig) -> aws_sdk_sns::Client {
    let sns_config = aws_sdk_sns::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(config.region.clone()))
        .endpoint_url(&config.sns_endpoint_url)
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "codepipeline-sim",
        ))
        .build();
    aws_sdk_sns::Client::from_conf(sns_config)
}

/// Publishes one notification; a failure is logged and returned in the record, never raised.
pub(crate) async fn publish(
    sns: &aws_sdk_sns::Client,
    publication: Publication,
) -> PublishedNotification {
    let sent = sns
        .publish()
        .topic_arn(&publication.topic_arn)
        .subject(&publication.subject)
        .message(&publication.message)
        .send()
        .await;
    let outcome = match sent {
        Ok(output) => Ok(output.message_id.unwrap_or_default()),
        Err(err) => {
            let error = DisplayErrorContext(&err).to_string();
            tracing::warn!(topic_arn = %publication.topic_arn, %error, "approval notification not published");
            Err(error)
        }
    };
    PublishedNotification {
        topic_arn: publication.topic_arn,
        subject: publication.subject,
        message: publication.message,
        outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice<'a>(custom_data: Option<&'a str>, link: Option<&'a str>) -> ApprovalNotice<'a> {
        ApprovalNotice {
            topic_arn: "arn:aws:sns:us-east-1:000000000000:t",
            region: "us-east-1",
            pipeline: "web",
            stage: "Approve",
            action: "Gate",
            token: "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
            expires: DateTime::parse_from_rfc3339("2026-12-01T20:22:59Z")
                .expect("valid date")
                .to_utc(),
            custom_data,
            external_entity_link: link,
        }
    }

    #[test]
    fn unset_link_is_null_and_unset_custom_data_is_absent() {
        let message = approval_publication(&notice(None, None)).message;
        let body: serde_json::Value = serde_json::from_str(&message).expect("json");
        assert_eq!(
            body["approval"]["externalEntityLink"],
            serde_json::Value::Null
        );
        assert!(body["approval"].get("externalEntityLink").is_some());
        assert!(body["approval"].get("customData").is_none());
    }

    #[test]
    fn expiry_has_minute_precision_and_the_review_link_ends_in_the_token() {
        let publication = approval_publication(&notice(Some("look"), Some("https://x")));
        let body: serde_json::Value = serde_json::from_str(&publication.message).expect("json");
        assert_eq!(body["approval"]["expires"], "2026-12-01T20:22Z");
        assert_eq!(body["approval"]["customData"], "look");
        assert_eq!(
            body["approval"]["approvalReviewLink"],
            "https://console.aws.amazon.com/codepipeline/home?region=us-east-1#/view/web/Approve/Gate/approve/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
        );
        assert_eq!(
            publication.subject,
            "APPROVAL NEEDED: AWS CodePipeline web for action Gate"
        );
    }
}
