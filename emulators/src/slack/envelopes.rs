//! Socket Mode envelopes the tests send to the bot: button clicks (`interactive`
//! block_actions built from a stored message), slash commands, and raw frames; plus the
//! acks the bot sends back.
//!
//! Payloads carry every field slack-morphism's serde models require, or it would not even
//! reach the bot (its Socket Mode and event models:
//! <https://docs.rs/crate/slack-morphism/2.31.1/source/src/models/socket_mode/mod.rs>,
//! <https://docs.rs/crate/slack-morphism/2.31.1/source/src/models/events/>).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use uuid::Uuid;

use super::response_url;
use super::state::{Ack, Inner, Message, Shared, SlackEmulator};

/// How long an envelope waits for a live socket, like Slack queuing during a reconnect.
const ROUTE_DEADLINE: Duration = Duration::from_secs(10);

/// The deprecated verification token Slack still puts in payloads.
const VERIFICATION_TOKEN: &str = "emulated-verification-token";

/// Why an envelope could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// No stored message has this channel and ts.
    #[error("no message {ts} in channel {channel}")]
    NoSuchMessage {
        /// The channel searched.
        channel: String,
        /// The ts searched.
        ts: String,
    },
    /// The message has no button with this `action_id`.
    #[error("message {ts} has no button with action_id {action_id}")]
    NoSuchButton {
        /// The message searched.
        ts: String,
        /// The action id searched.
        action_id: String,
    },
    /// The channel was never added with `add_channel`.
    #[error("unknown channel {0}")]
    UnknownChannel(String),
    /// No socket was live within 10 s.
    #[error("no live Socket Mode connection within {0:?}")]
    NoConnection(Duration),
}

/// An envelope that was written to a socket.
pub struct Envelope {
    /// The id the ack must echo.
    pub envelope_id: String,
    /// The payload as sent (holds `response_url` and `trigger_id` where the kind has them).
    pub payload: Value,
    shared: Arc<Shared>,
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("envelope_id", &self.envelope_id)
            .field("payload", &self.payload)
            .finish_non_exhaustive()
    }
}

impl Envelope {
    /// The first ack for this envelope, waiting up to `deadline` for it.
    pub async fn acked(&self, deadline: Duration) -> Option<Ack> {
        let id = self.envelope_id.as_str();
        let first = |inner: &mut Inner| inner.acks.get(id).and_then(|acks| acks.first().cloned());
        self.shared.wait_for(deadline, first).await
    }
}

impl SlackEmulator {
    /// Every ack frame received for `envelope_id`, in arrival order (duplicates included).
    pub fn acks(&self, envelope_id: &str) -> Vec<Ack> {
        self.shared
            .lock()
            .acks
            .get(envelope_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Clicks the button `action_id` of the stored message (`channel`, `ts`), or of the
    /// ephemeral message shown to `user_id` there, as `user_id`:
    /// sends a block_actions `interactive` envelope to one live socket (round robin; waits
    /// up to 10 s for one).
    ///
    /// # Errors
    /// No such message or button, or no live socket in time.
    pub async fn click(
        &self,
        channel: &str,
        ts: &str,
        action_id: &str,
        user_id: &str,
    ) -> Result<Envelope, EmulatorError> {
        let payload = {
            let shared = &self.shared;
            let mut inner = shared.lock();
            // An ephemeral message counts too, when it was shown to the clicker.
            let ephemeral = inner
                .ephemerals
                .iter()
                .find(|(to, m)| to == user_id && m.channel == channel && m.ts == ts)
                .map(|(_, m)| m.clone());
            let is_ephemeral = ephemeral.is_some();
            let message = inner
                .messages
                .iter()
                .rev()
                .find(|m| m.channel == channel && m.ts == ts)
                .cloned()
                .or(ephemeral)
                .ok_or_else(|| EmulatorError::NoSuchMessage {
                    channel: channel.to_owned(),
                    ts: ts.to_owned(),
                })?;
            let (block_id, button) =
                find_button(&message, action_id).ok_or_else(|| EmulatorError::NoSuchButton {
                    ts: ts.to_owned(),
                    action_id: action_id.to_owned(),
                })?;
            let mut action = json!({
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "text": button.get("text"),
                "action_ts": inner.next_ts(),
            });
            for key in ["value", "style"] {
                if let Some(value) = button.get(key) {
                    action[key] = value.clone();
                }
            }
            let user_name = inner.user_name(user_id);
            let mut payload = json!({
                "type": "block_actions",
                "token": VERIFICATION_TOKEN,
                "api_app_id": shared.app_id,
                "team": { "id": shared.team_id, "domain": "emulated" },
                "user": {
                    "id": user_id, "username": user_name, "name": user_name,
                    "team_id": shared.team_id,
                },
                "container": {
                    "type": "message", "message_ts": ts, "channel_id": channel,
                    "is_ephemeral": is_ephemeral,
                },
                "trigger_id": issue_trigger(&mut inner),
                "channel": { "id": channel, "name": inner.channels.get(channel) },
                "message": shared.message_json(&message),
                "state": { "values": {} },
                "response_url": response_url::issue(shared, &mut inner, channel, user_id, Some(ts)),
                "actions": [action],
            });
            // Slack sends no `message` for an ephemeral one: only its response_url can change it.
            if is_ephemeral {
                if let Some(fields) = payload.as_object_mut() {
                    fields.remove("message");
                }
            }
            payload
        };
        self.send_envelope("interactive", payload, false).await
    }

    /// Runs slash `command` (like `/deploy`) with `text` as `user_id` in `channel`.
    ///
    /// # Errors
    /// Unknown channel, or no live socket in time.
    pub async fn slash_command(
        &self,
        channel: &str,
        user_id: &str,
        command: &str,
        text: &str,
    ) -> Result<Envelope, EmulatorError> {
        let payload = {
            let shared = &self.shared;
            let mut inner = shared.lock();
            let channel_name = inner
                .channels
                .get(channel)
                .cloned()
                .ok_or_else(|| EmulatorError::UnknownChannel(channel.to_owned()))?;
            json!({
                "token": VERIFICATION_TOKEN,
                "team_id": shared.team_id,
                "team_domain": "emulated",
                "channel_id": channel,
                "channel_name": channel_name,
                "user_id": user_id,
                "user_name": inner.user_name(user_id),
                "command": command,
                "text": text,
                "api_app_id": shared.app_id,
                "is_enterprise_install": "false",
                "response_url": response_url::issue(shared, &mut inner, channel, user_id, None),
                "trigger_id": issue_trigger(&mut inner),
            })
        };
        self.send_envelope("slash_commands", payload, true).await
    }

    /// Sends `payload` as an envelope of type `kind` with a fresh `envelope_id`, with no
    /// checks at all (for hostile-input tests).
    ///
    /// # Errors
    /// No live socket within 10 s.
    pub async fn send_envelope(
        &self,
        kind: &str,
        payload: Value,
        accepts_response_payload: bool,
    ) -> Result<Envelope, EmulatorError> {
        let envelope_id = Uuid::new_v4().to_string();
        let frame = json!({
            "type": kind,
            "envelope_id": envelope_id,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        })
        .to_string();
        self.shared
            .wait_for(ROUTE_DEADLINE, |inner| inner.connections.route(&frame))
            .await
            .ok_or(EmulatorError::NoConnection(ROUTE_DEADLINE))?;
        Ok(Envelope {
            envelope_id,
            payload,
            shared: self.shared.clone(),
        })
    }
}

/// A trigger id `views.open` will accept once.
fn issue_trigger(inner: &mut Inner) -> String {
    let trigger = format!("{}.{}", inner.next_ts(), Uuid::new_v4().simple());
    inner.triggers.insert(trigger.clone(), false);
    trigger
}

/// The button with `action_id` in an actions block or a section accessory, with the
/// block's id (Slack fills in one when the poster gave none).
fn find_button(message: &Message, action_id: &str) -> Option<(String, Value)> {
    let blocks = message.blocks.as_array()?;
    blocks.iter().enumerate().find_map(|(index, block)| {
        let mut candidates: Vec<&Value> = block
            .get("elements")
            .and_then(Value::as_array)
            .map(|elements| elements.iter().collect())
            .unwrap_or_default();
        candidates.extend(block.get("accessory"));
        let button = candidates.into_iter().find(|element| {
            element.get("type").and_then(Value::as_str) == Some("button")
                && element.get("action_id").and_then(Value::as_str) == Some(action_id)
        })?;
        let block_id = block
            .get("block_id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("emulated-block-{index}"), str::to_owned);
        Some((block_id, button.clone()))
    })
}
