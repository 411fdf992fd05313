//! The harness: an emulator per test with a channel, a user and a user group, an HTTP
//! client for raw Web API calls, and a WebSocket client reading JSON frames.

use std::time::Duration;

use emulators::slack::{SlackConfig, SlackEmulator};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::{CancellationToken, DropGuard};

pub const BOT: &str = "xoxb-test-bot";
pub const APP: &str = "xapp-test-app";
pub const CHANNEL: &str = "C0DEPLOY";
pub const WAIT: Duration = Duration::from_secs(10);

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Slack {
    pub emulator: SlackEmulator,
    pub http: reqwest::Client,
    _stop: DropGuard,
}

pub async fn slack() -> Slack {
    let shutdown = CancellationToken::new();
    let emulator = SlackEmulator::start(SlackConfig::default(), shutdown.clone())
        .await
        .expect("emulator starts");
    emulator.add_channel(CHANNEL, "deploys");
    emulator.add_user("U0ALICE", "alice");
    emulator.add_usergroup("S0OPS", &["U0ALICE", "U0BOB"]);
    Slack {
        emulator,
        http: reqwest::Client::new(),
        _stop: shutdown.drop_guard(),
    }
}

impl Slack {
    /// POSTs a JSON body; answers the HTTP status, `Retry-After` and the JSON body.
    pub async fn raw(
        &self,
        method: &str,
        token: Option<&str>,
        body: Value,
    ) -> (StatusCode, Option<String>, Value) {
        let url = format!("{}/{method}", self.emulator.api_url());
        let mut request = self.http.post(url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("HTTP call");
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().expect("ascii").to_owned())
        };
        let retry_after = header(reqwest::header::RETRY_AFTER);
        if status == StatusCode::OK {
            assert_eq!(
                header(reqwest::header::CONTENT_TYPE).as_deref(),
                Some("application/json; charset=utf-8")
            );
        }
        (
            status,
            retry_after,
            response.json().await.expect("JSON body"),
        )
    }

    pub async fn call(&self, method: &str, token: Option<&str>, body: Value) -> Value {
        let (status, _, body) = self.raw(method, token, body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn error(&self, method: &str, token: Option<&str>, body: Value) -> String {
        let answer = self.call(method, token, body).await;
        assert_eq!(answer["ok"], false, "{answer}");
        answer["error"].as_str().expect("error code").to_owned()
    }

    pub async fn post(&self, body: Value) -> String {
        let answer = self.call("chat.postMessage", Some(BOT), body).await;
        assert_eq!(answer["ok"], true, "{answer}");
        answer["ts"].as_str().expect("ts").to_owned()
    }

    /// Posts `text` with the approval buttons (`approval_blocks`) to `CHANNEL`; answers the ts.
    pub async fn post_approval(&self, text: &str) -> String {
        self.post(json!({"channel": CHANNEL, "text": text, "blocks": approval_blocks()}))
            .await
    }

    /// POSTs a JSON body to an absolute URL (a response URL), no token; answers the response.
    pub async fn post_json_to(&self, url: &str, body: &Value) -> reqwest::Response {
        self.http.post(url).json(body).send().await.expect("sent")
    }

    /// POSTs raw bytes to an absolute URL (an upload URL); `what` names the request.
    pub async fn post_bytes_to(&self, url: &str, bytes: &[u8], what: &str) -> reqwest::Response {
        self.http
            .post(url)
            .body(bytes.to_vec())
            .send()
            .await
            .expect(what)
    }

    /// GETs an absolute URL with the bot token; answers the JSON body.
    pub async fn get_json_as_bot(&self, url: &str) -> Value {
        self.http
            .get(url)
            .bearer_auth(BOT)
            .send()
            .await
            .expect("HTTP call")
            .json()
            .await
            .expect("JSON")
    }

    pub async fn connect(&self) -> (Socket, Value) {
        let opened = self
            .call("apps.connections.open", Some(APP), json!({}))
            .await;
        let url = opened["url"].as_str().expect("url");
        let (mut socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("upgrade");
        let hello = next_json(&mut socket).await;
        (socket, hello)
    }
}

pub fn approval_blocks() -> Value {
    json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": "*deploy* waits"}},
        {"type": "actions", "block_id": "decide", "elements": [
            {"type": "button", "action_id": "approve", "value": "ref-1", "style": "primary",
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": "reject", "value": "ref-1",
             "text": {"type": "plain_text", "text": "Reject"}}]}
    ])
}

pub async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame in time");
        match frame.expect("socket open").expect("frame") {
            Frame::Text(text) => return serde_json::from_str(text.as_str()).expect("JSON frame"),
            Frame::Ping(_) | Frame::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}
