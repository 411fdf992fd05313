//! Outbound clients: everything the bot calls. Built once by `app.rs` and handed down in
//! [`Clients`].

pub mod athena;
pub mod codepipeline;
pub mod github;
pub mod lease;
pub mod parameter_store;
pub mod records;
pub mod slack;

/// Every outbound client, cheap to clone.
#[derive(Clone)]
pub struct Clients {
    pub slack: slack::SlackWeb,
    pub codepipeline: codepipeline::CodePipeline,
    pub sqs: aws_sdk_sqs::Client,
    pub athena: athena::Athena,
    /// The shared state store: DynamoDB with `[state]`, else this process's memory.
    pub records: records::Records,
    /// Present when revision authors are matched (`[approvals.revision_authors]`).
    pub github: Option<github::GitHub>,
    /// Signs button values and checks them on every click (keys from the [`parameter_store`]).
    pub signer: crate::signing::Signer,
}

/// The HTTPS connector of the bot's own HTTP clients (Slack, GitHub): rustls with the system's
/// roots, HTTP/1.1 and HTTP/2; plain HTTP only when `allow_http` (an emulator's endpoint).
///
/// # Errors
/// The system's root certificates cannot be loaded.
pub fn https_connector(
    allow_http: bool,
) -> std::io::Result<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>>
{
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())?;
    let builder = if allow_http {
        builder.https_or_http()
    } else {
        builder.https_only()
    };
    Ok(builder.enable_http1().enable_http2().build())
}
