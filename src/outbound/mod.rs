//! Outbound clients: everything the bot calls. Built once by `app.rs` and handed down in
//! [`Clients`].

pub mod athena;
pub mod codepipeline;
pub mod github;
pub mod lease;
pub mod parameter_store;
pub mod records;
mod shared;
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

/// The HTTPS connector of the bot's own HTTP clients (Slack, GitHub) for the API at `endpoint`
/// (`None`: the public one): rustls with the system's roots, HTTP/1.1 and HTTP/2; plain HTTP
/// only when `endpoint` is an `http://` URL to a loopback host (an emulator), the one plain
/// URL the configuration accepts. Its sockets have `TCP_NODELAY` on: a request written in
/// small pieces must not wait for the server's delayed ACK (Nagle's algorithm,
/// <https://www.rfc-editor.org/rfc/rfc896>). The AWS SDK's own HTTPS client does the same by
/// default (aws-smithy-http-client's `ConnectorBuilder`).
///
/// # Errors
/// The system's root certificates cannot be loaded.
pub fn https_connector(
    endpoint: Option<&str>,
) -> std::io::Result<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>>
{
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())?;
    let builder = if endpoint.is_some_and(crate::config::is_loopback_http) {
        builder.https_or_http()
    } else {
        builder.https_only()
    };
    let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
    tcp.set_nodelay(true);
    // The scheme is the TLS layer's to enforce (above), not the TCP connector's.
    tcp.enforce_http(false);
    Ok(builder.enable_http1().enable_http2().wrap_connector(tcp))
}

#[cfg(test)]
pub(crate) mod testing {
    use super::parameter_store::{TokenStore, Tokens};
    use crate::secret::Secret;

    /// A server on 127.0.0.1 that accepts connections and never answers (a hung API); its
    /// `http://` base URL. It lives as long as the test's runtime.
    pub async fn silent_server() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port on 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        url
    }

    /// Fixed tokens, as from the environment.
    pub fn tokens() -> TokenStore {
        TokenStore::fixed(Tokens {
            bot: Secret::new("xoxb-test"),
            app: Secret::new("xapp-test"),
            github: Some(Secret::new("ghp-test")),
            buttons: crate::outbound::parameter_store::ButtonKeys::ephemeral(),
        })
    }
}
