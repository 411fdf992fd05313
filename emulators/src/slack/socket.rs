//! The Socket Mode WebSocket listener (tokio-tungstenite, its own port).
//!
//! A client dials the URL from `apps.connections.open`; the single-use ticket is checked
//! during the upgrade (HTTP 401 otherwise), then the socket gets `hello` and joins the
//! round robin of live sockets. Each socket task writes what it is told (envelopes,
//! `disconnect`), records acks it reads, and answers pings by reading continuously.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use super::connections::Command;
use super::state::{Ack, Inner, Shared, SlackEmulator};

/// How long a socket told to disconnect stays open waiting for the client to close it.
const DISCONNECT_GRACE: Duration = Duration::from_secs(10);

impl SlackEmulator {
    /// Live sockets: they got `hello` and are not disconnecting.
    pub fn open_connections(&self) -> usize {
        self.shared.lock().connections.live_count()
    }

    /// Waits until at least `n` sockets are live; `false` if `deadline` passed first.
    pub async fn wait_for_connections(&self, n: usize, deadline: Duration) -> bool {
        let ready = |inner: &mut Inner| (inner.connections.live_count() >= n).then_some(());
        self.shared.wait_for(deadline, ready).await.is_some()
    }

    /// Pins the next envelope to the live socket at `index` (oldest first): with several bot
    /// processes connected, a test chooses which process gets a click.
    pub fn route_next_to(&self, index: usize) {
        self.shared.lock().connections.route_next_to(index);
    }

    /// Sends `{"type":"disconnect","reason":reason,...}` on the oldest live socket, routes no
    /// more envelopes to it, and closes it when the client does or after 10 s.
    pub fn disconnect(&self, reason: &str) {
        self.shared
            .lock()
            .connections
            .retire_oldest(Command::Disconnect(reason.to_owned()));
        self.shared.notify();
    }

    /// Drops the oldest live socket's TCP stream without a disconnect or close frame.
    pub fn drop_connection(&self) {
        self.shared.lock().connections.retire_oldest(Command::Drop);
        self.shared.notify();
    }

    /// Silences the oldest live socket: it stops reading (so pings go unanswered) and writing,
    /// with the TCP stream left open, as a half-open connection behaves.
    pub fn freeze_connection(&self) {
        self.shared
            .lock()
            .connections
            .retire_oldest(Command::Freeze);
        self.shared.notify();
    }

    /// While `on`, sockets that connect get no `hello` and no envelopes.
    pub fn withhold_hello(&self, on: bool) {
        self.shared.lock().withhold_hello = on;
    }
}

/// Accepts sockets until `shutdown` is cancelled.
pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(run_socket(stream, shared.clone(), shutdown.clone()));
                }
                Err(error) => tracing::warn!(%error, "slack emulator: accept failed"),
            },
        }
    }
}

/// Checks the `ticket` in the upgrade request's query and uses it up.
fn check_ticket(shared: &Shared, request: &Request) -> bool {
    let uri = request.uri();
    let ticket = serde_urlencoded::from_str::<Vec<(String, String)>>(uri.query().unwrap_or(""))
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(key, _)| key == "ticket"))
        .map(|(_, ticket)| ticket);
    uri.path().trim_end_matches('/') == "/link"
        && ticket.is_some_and(|ticket| shared.lock().tickets.remove(&ticket))
}

async fn run_socket(stream: TcpStream, shared: Arc<Shared>, shutdown: CancellationToken) {
    #[expect(
        clippy::result_large_err,
        reason = "tungstenite's handshake callback fixes the error type"
    )]
    let upgrade = |request: &Request, response: Response| {
        if check_ticket(&shared, request) {
            Ok(response)
        } else {
            let mut refusal = ErrorResponse::new(Some("invalid or used ticket".to_owned()));
            *refusal.status_mut() = StatusCode::UNAUTHORIZED;
            Err(refusal)
        }
    };
    let socket = match tokio_tungstenite::accept_hdr_async(stream, upgrade).await {
        Ok(socket) => socket,
        Err(error) => {
            tracing::debug!(%error, "slack emulator: WebSocket upgrade refused");
            return;
        }
    };
    if shared.lock().withhold_hello {
        // Upgraded, never greeted: read (answering pings) until the client gives up.
        withhold(socket, &shutdown).await;
        return;
    }
    let (sender, commands) = mpsc::unbounded_channel();
    let (id, hello) = {
        let mut inner = shared.lock();
        let id = inner.connections.add(sender);
        (id, hello(&shared, inner.connections.live_count()))
    };
    shared.notify();
    converse(socket, &shared, commands, hello, shutdown).await;
    shared.lock().connections.remove(id);
    shared.notify();
}

/// Keeps a socket that got no `hello` open until the client closes it or shutdown.
async fn withhold(mut socket: WebSocketStream<TcpStream>, shutdown: &CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            frame = socket.next() => if !matches!(frame, Some(Ok(_))) { return },
        }
    }
}

fn hello(shared: &Shared, num_connections: usize) -> String {
    let started = chrono::Utc::now()
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string();
    json!({
        "type": "hello",
        "num_connections": num_connections,
        "connection_info": { "app_id": shared.app_id },
        "debug_info": {
            "host": "applink-emulator",
            "started": started,
            "build_number": 1,
            "approximate_connection_time": 18060,
        },
    })
    .to_string()
}

/// Serves one socket until either side closes it, it is dropped, or shutdown.
async fn converse(
    mut socket: WebSocketStream<TcpStream>,
    shared: &Shared,
    mut commands: mpsc::UnboundedReceiver<Command>,
    hello: String,
    shutdown: CancellationToken,
) {
    if socket.send(Frame::text(hello)).await.is_err() {
        return;
    }
    let mut close_at: Option<Instant> = None;
    loop {
        let grace = async {
            match close_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = grace => break,
            command = commands.recv() => match command {
                Some(Command::Send(text)) => {
                    if socket.send(Frame::text(text)).await.is_err() {
                        return;
                    }
                }
                Some(Command::Disconnect(reason)) => {
                    let frame = json!({
                        "type": "disconnect",
                        "reason": reason,
                        "debug_info": { "host": "wss-emulator.slack.local" },
                    });
                    if socket.send(Frame::text(frame.to_string())).await.is_err() {
                        return;
                    }
                    close_at = Some(Instant::now() + DISCONNECT_GRACE);
                }
                Some(Command::Freeze) => {
                    // Holds the stream, touching it no more, until shutdown.
                    shutdown.cancelled().await;
                    return;
                }
                Some(Command::Drop) | None => return,
            },
            frame = socket.next() => match frame {
                Some(Ok(Frame::Text(text))) => record_ack(shared, text.as_str()),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
        }
    }
    // Closing is best effort: the peer may already be gone.
    let _ = socket.close(None).await;
}

/// Records `{"envelope_id":…,"payload"?:…}` frames and wakes whoever waits for them.
fn record_ack(shared: &Shared, text: &str) {
    let Ok(Value::Object(frame)) = serde_json::from_str::<Value>(text) else {
        tracing::debug!(frame = text, "slack emulator: ignoring a non-JSON frame");
        return;
    };
    let Some(envelope_id) = frame.get("envelope_id").and_then(Value::as_str) else {
        tracing::debug!(
            frame = text,
            "slack emulator: ignoring a frame without envelope_id"
        );
        return;
    };
    let ack = Ack {
        payload: frame.get("payload").cloned(),
    };
    shared
        .lock()
        .acks
        .entry(envelope_id.to_owned())
        .or_default()
        .push(ack);
    shared.notify();
}
