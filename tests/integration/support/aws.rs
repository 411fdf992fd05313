//! Per-test AWS resources on ministack: an SNS topic, an SQS queue subscribed to it with a
//! dead-letter queue as `config/chatops.cfn.yaml` gives it, and the Slack tokens and the
//! button-signing key as SecureString parameters, all under unique names.

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_ssm::types::ParameterType;
use emulators::ministack::{create_topic_queue, TopicQueue};

pub const REGION: &str = "us-east-1";

/// Receives after which SQS moves a message to the dead-letter queue, as in
/// `config/chatops.cfn.yaml`.
pub const MAX_RECEIVE_COUNT: u32 = 10;

/// An SDK configuration pointed at ministack.
pub async fn sdk_config() -> SdkConfig {
    emulators::ministack::sdk_config(&emulators::ministack::url_from_env(), REGION).await
}

/// What one test owns on ministack.
pub struct Resources {
    pub id: String,
    pub endpoint: String,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub topic_arn: String,
    pub queue_url: String,
    /// The approval queue's dead-letter queue.
    pub dead_letter_url: String,
    pub parameter_path: String,
    pub bot_token: String,
    pub app_token: String,
    /// The key the bot signs its buttons with (`buttons/signing_key`).
    pub button_key: String,
}

impl Resources {
    /// Creates the topic, queue, subscription and token parameters on the ministack at
    /// `endpoint`.
    pub async fn create_at(endpoint: &str, raw_delivery: bool) -> Resources {
        let config = emulators::ministack::sdk_config(endpoint, REGION).await;
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let sqs = aws_sdk_sqs::Client::new(&config);
        let sns = aws_sdk_sns::Client::new(&config);
        let ssm = aws_sdk_ssm::Client::new(&config);
        let TopicQueue {
            topic_arn,
            queue_url,
        } = create_topic_queue(&config, &format!("approvals-{id}"), raw_delivery)
            .await
            .expect("topic and queue on ministack");
        let dead_letter_url = redrive(&sqs, &queue_url, &id, MAX_RECEIVE_COUNT).await;
        let parameter_path = format!("/test/{id}/chatops");
        let resources = Resources {
            bot_token: format!("xoxb-test-{id}"),
            app_token: format!("xapp-test-{id}"),
            button_key: format!(
                "button-signing-key-for-test-{id}-{}",
                uuid::Uuid::new_v4().simple()
            ),
            endpoint: endpoint.to_owned(),
            id,
            sqs,
            sns,
            ssm,
            topic_arn,
            queue_url,
            dead_letter_url,
            parameter_path,
        };
        resources.put_tokens().await;
        resources
    }

    /// Creates again, under the same names, what a restarted ministack forgot (it keeps its
    /// state in memory): the topic, queue, subscription and token parameters.
    pub async fn recreate(&self, raw_delivery: bool) {
        let config = emulators::ministack::sdk_config(&self.endpoint, REGION).await;
        let again = create_topic_queue(&config, &format!("approvals-{}", self.id), raw_delivery)
            .await
            .expect("topic and queue on ministack");
        assert_eq!(again.queue_url, self.queue_url, "the same queue");
        assert_eq!(again.topic_arn, self.topic_arn, "the same topic");
        let sqs = aws_sdk_sqs::Client::new(&config);
        let dead_letter_url = redrive(&sqs, &self.queue_url, &self.id, MAX_RECEIVE_COUNT).await;
        assert_eq!(
            dead_letter_url, self.dead_letter_url,
            "the same dead-letter queue"
        );
        self.put_tokens().await;
    }

    /// The Slack tokens and the button-signing key, as SecureStrings.
    async fn put_tokens(&self) {
        self.put_parameter("slack/bot_token", &self.bot_token).await;
        self.put_parameter("slack/app_token", &self.app_token).await;
        self.put_parameter(
            chatops::outbound::parameter_store::BUTTON_KEY,
            &self.button_key,
        )
        .await;
    }

    /// Writes (or overwrites) a SecureString under the test's path.
    pub async fn put_parameter(&self, name: &str, value: &str) {
        self.ssm
            .put_parameter()
            .name(format!("{}/{name}", self.parameter_path))
            .value(value)
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .expect("put parameter");
    }

    /// Messages in the approval queue, visible or in flight.
    pub async fn queue_depth(&self) -> usize {
        self.depth_of(&self.queue_url).await
    }

    /// Messages in the approval queue's dead-letter queue.
    pub async fn dead_letter_depth(&self) -> usize {
        self.depth_of(&self.dead_letter_url).await
    }

    /// Sets the approval queue's redrive policy: a message received more than
    /// `max_receive_count` times moves to the dead-letter queue.
    pub async fn set_max_receive_count(&self, max_receive_count: u32) {
        redrive(&self.sqs, &self.queue_url, &self.id, max_receive_count).await;
    }

    /// Messages in the queue at `queue_url`, visible or in flight.
    pub async fn depth_of(&self, queue_url: &str) -> usize {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .filter_map(|k| attributes.get(k).and_then(|v| v.parse::<usize>().ok()))
        .sum()
    }
}

/// Creates the dead-letter queue `approvals-<id>-dlq` and makes it `queue_url`'s, after
/// `max_receive_count` receives; its URL.
async fn redrive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    id: &str,
    max_receive_count: u32,
) -> String {
    let dead_letter_url = sqs
        .create_queue()
        .queue_name(format!("approvals-{id}-dlq"))
        .send()
        .await
        .expect("CreateQueue (dead letters)")
        .queue_url
        .expect("a queue URL");
    let arn = emulators::ministack::queue_arn(sqs, &dead_letter_url)
        .await
        .expect("the dead-letter queue's ARN");
    let policy = serde_json::json!({
        "deadLetterTargetArn": arn,
        "maxReceiveCount": max_receive_count.to_string(),
    });
    sqs.set_queue_attributes()
        .queue_url(queue_url)
        .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
        .send()
        .await
        .expect("SetQueueAttributes (RedrivePolicy)");
    dead_letter_url
}
