//! The tracing subscriber: human-readable by default, JSON on request; filter from `RUST_LOG`,
//! else [`DEFAULT_FILTER`].

use tracing_subscriber::EnvFilter;

/// The filter when `RUST_LOG` is unset (or unreadable): the bot at `info`, every dependency at
/// `warn` (the AWS SDK, hyper, rustls: below that is request-level detail), and slack-morphism
/// not at all. Its Socket Mode client (2.31) logs the WebSocket URL, whose query holds the
/// connection's one-time ticket, at `error` when a connection fails
/// (`hyper_tokio/socket_mode/tungstenite_wss_client.rs`), and a whole envelope (`{:?}` of the
/// event) at `warn` when no callback takes it (`socket_mode/callbacks.rs`): no level of it is
/// safe. The cost: a socket that cannot connect is not logged by it; `/healthz` shows Socket
/// Mode down. Web API failures reach the bot as errors and are logged by it.
pub const DEFAULT_FILTER: &str = "warn,chatops=info,slack_morphism=off";

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// Installs the global subscriber (once per process), writing to stderr.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    if let Err(e) = result {
        eprintln!("logging was already set up: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;
    use tracing_subscriber::layer::SubscriberExt;

    /// Whether the default filter lets an event of `$target` at `$level` through (a macro:
    /// `enabled!` takes both as constants).
    macro_rules! passes {
        ($target:literal, $level:expr) => {
            tracing::subscriber::with_default(
                tracing_subscriber::registry().with(EnvFilter::new(DEFAULT_FILTER)),
                || tracing::enabled!(target: $target, $level),
            )
        };
    }

    #[test]
    fn by_default_the_bot_logs_at_info_dependencies_at_warn_and_slack_morphism_not_at_all() {
        assert!(passes!("chatops::app", Level::INFO));
        assert!(!passes!("chatops::app", Level::DEBUG));
        assert!(passes!("aws_smithy_runtime::client", Level::WARN));
        assert!(!passes!("aws_smithy_runtime::client", Level::INFO));
        assert!(!passes!("hyper_util::client", Level::INFO));
        // The failed connection's log line carries the ticket URL; the unhandled event's, an
        // envelope.
        assert!(!passes!(
            "slack_morphism::hyper_tokio::socket_mode::tungstenite_wss_client",
            Level::ERROR
        ));
        assert!(!passes!(
            "slack_morphism::socket_mode::callbacks",
            Level::WARN
        ));
    }
}
