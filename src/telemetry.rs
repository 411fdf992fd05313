//! The tracing subscriber: human-readable by default, JSON on request; filter from `RUST_LOG`,
//! else [`DEFAULT_FILTER`], and the crates that log secrets capped ([`SECRET_BEARING`]).

use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::{Filter, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// The filter when `RUST_LOG` is unset (or unreadable): the bot at `info`, every dependency at
/// `warn` (below that is request-level detail).
pub const DEFAULT_FILTER: &str = "warn,chatops=info";

/// Crates whose logs carry secrets below a level, capped there whatever `RUST_LOG` says:
/// tungstenite logs the WebSocket handshake request (whose URL holds Socket Mode's one-time
/// ticket) and every frame (envelopes: response URLs, trigger ids, button values) at `trace`;
/// slack-morphism and the HTTP stack log requests and responses (tokens in headers, the
/// ticket URL in `apps.connections.open`'s answer); the AWS SDK logs response bodies at
/// `trace` (SecureString values from Parameter Store, approval tokens from SQS).
/// `RUST_LOG=trace` shows everything else.
pub const SECRET_BEARING: &[(&str, LevelFilter)] = &[
    ("tungstenite", LevelFilter::WARN),
    ("tokio_tungstenite", LevelFilter::WARN),
    ("slack_morphism", LevelFilter::WARN),
    ("hyper", LevelFilter::WARN),
    ("hyper_util", LevelFilter::WARN),
    ("h2", LevelFilter::WARN),
    ("aws_smithy_runtime", LevelFilter::DEBUG),
    ("aws_smithy_http_client", LevelFilter::DEBUG),
    ("aws_smithy_runtime_api", LevelFilter::DEBUG),
];

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// `RUST_LOG` (else [`DEFAULT_FILTER`]), with [`SECRET_BEARING`] capped.
fn filter() -> impl Filter<Registry> {
    capped(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER)))
}

/// `asked`, with [`SECRET_BEARING`] capped.
fn capped(asked: EnvFilter) -> impl Filter<Registry> {
    let caps = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(SECRET_BEARING.iter().copied());
    asked.and(caps)
}

/// Installs the global subscriber (once per process), writing to stderr.
pub fn init(format: LogFormat) {
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Human => tracing_subscriber::registry()
            .with(layer.with_filter(filter()))
            .try_init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(layer.json().flatten_event(true).with_filter(filter()))
            .try_init(),
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

    /// Whether the filter for `RUST_LOG=$rust_log` (`None`: unset) lets an event of `$target`
    /// at `$level` through (a macro: `enabled!` takes both as constants).
    macro_rules! passes {
        ($rust_log:expr, $target:literal, $level:expr) => {{
            let asked = EnvFilter::new($rust_log.unwrap_or(DEFAULT_FILTER));
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(std::io::sink)
                .with_filter(capped(asked));
            tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
                tracing::enabled!(target: $target, $level)
            })
        }};
    }

    #[test]
    fn by_default_the_bot_logs_at_info_and_dependencies_at_warn() {
        assert!(passes!(None::<&str>, "chatops::app", Level::INFO));
        assert!(!passes!(None::<&str>, "chatops::app", Level::DEBUG));
        assert!(passes!(
            None::<&str>,
            "aws_smithy_runtime::client",
            Level::WARN
        ));
        assert!(!passes!(
            None::<&str>,
            "aws_smithy_runtime::client",
            Level::INFO
        ));
        assert!(!passes!(None::<&str>, "hyper_util::client", Level::INFO));
    }

    #[test]
    fn rust_log_trace_shows_everything_but_what_logs_secrets() {
        let trace = Some("trace");
        assert!(passes!(trace, "chatops::app", Level::TRACE));
        assert!(passes!(trace, "aws_smithy_runtime::client", Level::DEBUG));
        // Response bodies: SecureString values, approval tokens.
        assert!(!passes!(trace, "aws_smithy_runtime::client", Level::TRACE));
        // The handshake request carries the ticket URL; frames carry envelopes.
        assert!(!passes!(
            trace,
            "tungstenite::handshake::client",
            Level::TRACE
        ));
        assert!(!passes!(trace, "tokio_tungstenite", Level::DEBUG));
        assert!(!passes!(
            trace,
            "slack_morphism::hyper_tokio::connector",
            Level::DEBUG
        ));
        assert!(passes!(trace, "tungstenite::protocol", Level::WARN));
        let asked = Some("tungstenite=trace,slack_morphism=trace");
        assert!(!passes!(
            asked,
            "tungstenite::handshake::client",
            Level::TRACE
        ));
        assert!(!passes!(
            asked,
            "slack_morphism::hyper_tokio::connector",
            Level::TRACE
        ));
    }
}
