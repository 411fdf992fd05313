//! Resources on ministack (any AWS endpoint, really) for the tests and, later, the sandbox:
//! one SDK configuration with emulator credentials, and the SNS topic → SQS queue pair that
//! carries approval notifications.

use anyhow::Context;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::types::QueueAttributeName;

/// ministack's URL from `MINISTACK_URL`, which the test script sets when it starts ministack.
///
/// # Panics
/// The variable is unset: the tests that need ministack never skip.
pub fn url_from_env() -> String {
    std::env::var("MINISTACK_URL").expect(
        "MINISTACK_URL is not set: run the tests with scripts/test, which starts ministack \
         (or start it and export MINISTACK_URL=http://127.0.0.1:PORT)",
    )
}

/// An SDK configuration for `endpoint` with static test credentials (ministack ignores them).
pub async fn sdk_config(endpoint: &str, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "emulator",
        ))
        .load()
        .await
}

/// A topic whose notifications land in a queue.
#[derive(Debug, Clone)]
pub struct TopicQueue {
    pub topic_arn: String,
    pub queue_url: String,
}

/// Creates topic `name`, queue `name`, and the subscription between them (with SNS raw message
/// delivery when `raw_delivery`).
///
/// # Errors
/// Any of the AWS calls failing.
pub async fn create_topic_queue(
    config: &SdkConfig,
    name: &str,
    raw_delivery: bool,
) -> anyhow::Result<TopicQueue> {
    let sns = aws_sdk_sns::Client::new(config);
    let topic_arn = sns
        .create_topic()
        .name(name)
        .send()
        .await
        .context("CreateTopic")?
        .topic_arn
        .context("CreateTopic returned no TopicArn")?;
    let queue_url = subscribe(config, &topic_arn, name, raw_delivery).await?;
    Ok(TopicQueue {
        topic_arn,
        queue_url,
    })
}

/// The ARN of the queue at `queue_url`.
///
/// # Errors
/// `GetQueueAttributes` failing.
pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> anyhow::Result<String> {
    sqs.get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .context("GetQueueAttributes")?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .context("the queue has no QueueArn")
}

/// Creates the queue `name` and subscribes it to `topic_arn`; returns its URL.
///
/// # Errors
/// Any of the AWS calls failing.
pub async fn subscribe_queue(
    config: &SdkConfig,
    topic_arn: &str,
    name: &str,
) -> anyhow::Result<String> {
    subscribe(config, topic_arn, name, false).await
}

async fn subscribe(
    config: &SdkConfig,
    topic_arn: &str,
    name: &str,
    raw_delivery: bool,
) -> anyhow::Result<String> {
    let sns = aws_sdk_sns::Client::new(config);
    let sqs = aws_sdk_sqs::Client::new(config);
    let queue_url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .context("CreateQueue")?
        .queue_url
        .context("CreateQueue returned no QueueUrl")?;
    let queue_arn = queue_arn(&sqs, &queue_url).await?;
    let mut subscribe = sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn);
    if raw_delivery {
        subscribe = subscribe.attributes("RawMessageDelivery", "true");
    }
    subscribe.send().await.context("Subscribe")?;
    Ok(queue_url)
}

/// Creates the bot's state table `name` as `config/chatops.cfn.yaml` declares it: keys `pk` and
/// `sk` (strings), on-demand, TTL on `expires_at`. A table of that name that exists already is
/// kept (a sandbox started again on the same ministack).
///
/// # Errors
/// Any of the AWS calls failing.
pub async fn create_state_table(config: &SdkConfig, name: &str) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    };
    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    let string = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let created = dynamodb
        .create_table()
        .table_name(name)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .attribute_definitions(string("pk")?)
        .attribute_definitions(string("sk")?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match created {
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            return Ok(())
        }
        other => {
            other.context("CreateTable")?;
        }
    }
    dynamodb
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expires_at")
                .build()?,
        )
        .send()
        .await
        .context("UpdateTimeToLive")?;
    Ok(())
}
