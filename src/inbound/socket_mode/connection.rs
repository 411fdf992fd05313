//! One Socket Mode connection, on tokio-tungstenite: dial (`apps.connections.open` with the app
//! token, then the WebSocket with `TCP_NODELAY`), wait for `hello`, then serve until the socket
//! ends. A connection counts as live only after its `hello`; a replacement (Slack's `warning`
//! or `refresh_requested`, or a new app token) takes over only once it said `hello` itself.
//!
//! The bot pings every `ping_secs`; a socket from which nothing was heard (no envelope, no
//! ping, no pong) for `silence_secs` is dropped: a half-open TCP connection looks exactly like
//! a quiet one until then. Protocol: <https://docs.slack.dev/apis/events-api/using-socket-mode>.
//!
//! The WebSocket URL carries a one-time ticket: it is never logged, and neither are frames.

use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use slack_morphism::prelude::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use super::envelope::{self, AppIdentity, Frame};
use super::Handlers;
use crate::config::SlackSettings;
use crate::outbound::parameter_store::Tokens;
use crate::secret::Secret;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Slack's envelopes are a few KB (a modal's state at most tens): a larger frame is refused
/// by tungstenite before it is buffered whole.
const MAX_FRAME: usize = 1 << 20;

/// Opens connections: everything a dial needs, cheap to clone into a replacement's future.
#[derive(Clone)]
pub struct Dialer {
    pub client: Arc<crate::outbound::slack::Client>,
    pub settings: SlackSettings,
    /// The bot's workspace, from `auth.test`.
    pub team_id: String,
}

/// A socket that said `hello`.
pub struct Connected {
    socket: Socket,
    pub app: AppIdentity,
    pub num_connections: u32,
}

/// Why a dial failed: safe to log (no URL, no token).
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("apps.connections.open failed: {0}")]
    Open(String),
    #[error("Slack handed out a WebSocket URL that is neither wss:// nor ws:// on loopback")]
    InsecureUrl,
    #[error("the WebSocket handshake failed: {0}")]
    Handshake(String),
    #[error("no hello within {0:?}")]
    NoHello(Duration),
    #[error("the socket closed before hello")]
    Closed,
}

/// How a served connection ended.
pub enum Ended {
    /// Shutdown: the socket was closed.
    Cancelled,
    /// A replacement said `hello` and took over.
    Replaced(Box<Connected>),
    /// Lost (closed, failed, silent, or told to go by Slack without a replacement ready).
    Lost(String),
    /// `disconnect` with `link_disabled`: Socket Mode is off for this app.
    Disabled,
}

impl Dialer {
    /// Opens a socket with `app_token` and waits for its `hello`, all within the hello timeout.
    pub async fn dial(self, app_token: Secret) -> Result<Connected, DialError> {
        let limit = Duration::from_secs(self.settings.hello_timeout_secs);
        tokio::time::timeout(limit, self.dial_unbounded(app_token))
            .await
            .map_err(|_| DialError::NoHello(limit))?
    }

    async fn dial_unbounded(self, app_token: Secret) -> Result<Connected, DialError> {
        let token = SlackApiToken::new(app_token.expose().to_owned().into());
        let url = self
            .client
            .open_session(&token)
            .apps_connections_open(&SlackApiAppsConnectionOpenRequest::new())
            .await
            .map_err(|e| DialError::Open(crate::outbound::slack::SlackError::from(e).to_string()))?
            .url
            .0;
        if !secure(url.as_str()) {
            return Err(DialError::InsecureUrl);
        }
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME))
            .max_frame_size(Some(MAX_FRAME));
        // `true`: TCP_NODELAY, so a small ack is not held back by Nagle's algorithm.
        let (mut socket, _) = tokio_tungstenite::connect_async_tls_with_config(
            url.as_str(),
            Some(config),
            true,
            None,
        )
        .await
        .map_err(|e| DialError::Handshake(handshake_error(&e)))?;
        loop {
            let Some(Ok(message)) = socket.next().await else {
                return Err(DialError::Closed);
            };
            let Message::Text(text) = message else {
                continue;
            };
            // Before hello there are no handlers to route to: anything but hello is dropped.
            if let envelope::Parsed::Hello {
                app_id,
                num_connections,
            } = envelope::parse(None, text.as_str())
            {
                return Ok(Connected {
                    socket,
                    app: AppIdentity {
                        app_id,
                        team_id: self.team_id.clone(),
                    },
                    num_connections,
                });
            }
        }
    }
}

/// tungstenite's error without anything of the URL: the HTTP status of a refused upgrade,
/// else the error's kind.
fn handshake_error(error: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    match error {
        Error::Http(response) => format!("HTTP {}", response.status()),
        Error::Io(e) => format!("I/O: {}", e.kind()),
        Error::Tls(_) => "TLS".to_owned(),
        Error::Url(_) => "bad URL".to_owned(),
        other => format!("{:?}", std::mem::discriminant(other)),
    }
}

/// `wss://` anywhere, `ws://` only to a loopback host (an emulator).
fn secure(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    match url.scheme() {
        "wss" => true,
        "ws" => crate::config::is_loopback(&url),
        _ => false,
    }
}

/// Serves `connected` until it ends. On Slack's `warning` / `refresh_requested`, or when the app
/// token in `tokens` changes, a replacement is dialled alongside and takes over once it said
/// `hello`; until then this socket keeps serving.
pub async fn serve(
    connected: Connected,
    dialer: &Dialer,
    handlers: &Arc<Handlers>,
    tokens: &mut watch::Receiver<Arc<Tokens>>,
    cancel: &CancellationToken,
) -> Ended {
    let dialled_with = tokens.borrow_and_update().app.clone();
    let Connected {
        mut socket, app, ..
    } = connected;
    let mark = handlers.health.sockets.register();
    let silence = dialer.settings.silence();
    let mut heard = Instant::now();
    let mut ping = tokio::time::interval(Duration::from_secs(dialer.settings.ping_secs));
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut replacement: Option<BoxFuture<'static, Result<Connected, DialError>>> = None;
    let ended = loop {
        tokio::select! {
            () = cancel.cancelled() => break Ended::Cancelled,
            _ = ping.tick() => {
                if heard.elapsed() > silence {
                    break Ended::Lost(format!("nothing heard for {}s", heard.elapsed().as_secs()));
                }
                if socket.send(Message::Ping(b"chatops".to_vec().into())).await.is_err() {
                    break Ended::Lost("the ping could not be sent".into());
                }
            }
            changed = tokens.changed(), if replacement.is_none() => {
                if changed.is_err() {
                    break Ended::Cancelled;
                }
                let token = tokens.borrow_and_update().app.clone();
                if token != dialled_with {
                    tracing::info!("app token changed; opening a Socket Mode connection with it");
                    replacement = Some(Box::pin(dialer.clone().dial(token)));
                }
            }
            dialled = until(&mut replacement) => match dialled {
                Ok(next) => break Ended::Replaced(Box::new(next)),
                Err(error) => {
                    tracing::warn!(%error, "the replacement Socket Mode connection failed; keeping this one while it lasts");
                    replacement = None;
                }
            },
            message = socket.next() => {
                let Some(Ok(message)) = message else {
                    break Ended::Lost("the socket closed".into());
                };
                heard = Instant::now();
                mark.heard();
                let Message::Text(text) = message else {
                    // Pings are answered by tungstenite on the next read; pongs only count as heard.
                    continue;
                };
                let started = Instant::now();
                match envelope::read(handlers, Some(&app), text.as_str()) {
                    Frame::Ack(ack) => {
                        let sent = socket.send(Message::text(ack)).await;
                        crate::metrics::METRICS.ack_latency.observe(started.elapsed());
                        if sent.is_err() {
                            break Ended::Lost("the ack could not be sent".into());
                        }
                    }
                    Frame::Disconnect(reason) => match reason.as_str() {
                        "link_disabled" => break Ended::Disabled,
                        "too_many_websockets" => break Ended::Lost(reason),
                        _ if replacement.is_none() => {
                            tracing::info!(%reason, "Slack asked for a new Socket Mode connection");
                            let token = tokens.borrow().app.clone();
                            replacement = Some(Box::pin(dialer.clone().dial(token)));
                        }
                        _ => {}
                    },
                    Frame::Hello { .. } | Frame::Nothing => {}
                }
            }
        }
    };
    drop(mark);
    // Best effort: the peer may be gone already, and a lost socket is not waited on.
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
    ended
}

/// Resolves with the replacement's dial, or never when there is none.
async fn until(
    replacement: &mut Option<BoxFuture<'static, Result<Connected, DialError>>>,
) -> Result<Connected, DialError> {
    match replacement {
        Some(dial) => dial.await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_wss_or_loopback_ws_urls_are_dialled() {
        assert!(secure(
            "wss://wss-primary.slack.com/link/?ticket=t&app_id=A1"
        ));
        assert!(secure("ws://127.0.0.1:9000/link/?ticket=t"));
        assert!(secure("ws://[::1]:9000/link/?ticket=t"));
        assert!(secure("ws://localhost:9000/link/?ticket=t"));
        assert!(!secure("ws://wss-primary.slack.com/link/?ticket=t"));
        assert!(!secure("ws://127.0.0.1.evil.example/link"));
        assert!(!secure("https://slack.com/link"));
        assert!(!secure("not a url"));
    }
}
