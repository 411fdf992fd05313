//! Outbound clients: everything the bot calls. Built once by `app.rs` and handed down in
//! [`Clients`].

pub mod athena;
pub mod blocks;
pub mod codepipeline;
pub mod parameter_store;
pub mod slack;

/// Every outbound client, cheap to clone.
#[derive(Clone)]
pub struct Clients {
    pub slack: slack::SlackWeb,
    pub codepipeline: codepipeline::CodePipeline,
    pub sqs: aws_sdk_sqs::Client,
    pub athena: athena::Athena,
}
