//! One Socket Mode text frame in, at most one ack frame out: `hello` and `disconnect` are
//! handed back to the connection; an envelope is checked (it is for this app and team), parsed
//! with slack-morphism's payload models, routed through the [`Registry`](crate::commands::Registry),
//! and acked. No network call happens here: the work after the ack goes to a bounded, tracked
//! task, so an ack never waits on Slack or AWS.
//!
//! Frames are untrusted: every refusal is a log line with the envelope id and never a panic.
//! Nothing of a payload's content (tokens, response URLs, command text) is logged.

use serde_json::Value;
use slack_morphism::prelude::*;
use std::sync::Arc;

use super::Handlers;
use crate::commands::Invocation;
use crate::ids::{ChannelId, TeamId, UserId};
use crate::interaction::{ButtonClick, ViewSubmission};

/// What the bot knows of itself, to refuse envelopes meant for another app or workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppIdentity {
    /// From the socket's `hello` (`connection_info.app_id`).
    pub app_id: String,
    /// From `auth.test` with the bot token.
    pub team_id: String,
}

/// What a frame asks of the connection.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// `hello`: the socket is ready; envelopes for `app_id` will come.
    Hello {
        app_id: String,
        num_connections: u32,
    },
    /// `disconnect` with its reason (`warning`, `refresh_requested`, `link_disabled`, ...).
    Disconnect(String),
    /// An envelope: send this ack.
    Ack(String),
    /// Nothing to send (a frame that is not JSON or has no envelope id: logged).
    Nothing,
}

/// One frame parsed and checked, nothing acted on yet: pure, so the fuzz targets and property
/// tests drive it directly.
#[derive(Debug)]
pub enum Parsed {
    Hello {
        app_id: String,
        num_connections: u32,
    },
    Disconnect(String),
    /// An envelope of this app and team, its payload typed: route it, then ack `ack_id`.
    Envelope {
        ack_id: String,
        accepts_payload: bool,
        payload: Payload,
    },
    /// An envelope to ack and do nothing with (logged with its id and why).
    Refused {
        ack_id: String,
    },
    /// Nothing to ack (logged).
    Nothing,
}

/// The payloads the bot acts on.
#[derive(Debug)]
pub enum Payload {
    Command(Box<SlackCommandEvent>),
    Interaction(Box<SlackInteractionEvent>),
    /// A type the bot does not use (`events_api`): acked, ignored.
    Other,
}

/// Reads one text frame: see [`Frame`]. `app` is `None` before `hello`.
pub fn read(handlers: &Arc<Handlers>, app: Option<&AppIdentity>, text: &str) -> Frame {
    match parse(app, text) {
        Parsed::Hello {
            app_id,
            num_connections,
        } => Frame::Hello {
            app_id,
            num_connections,
        },
        Parsed::Disconnect(reason) => Frame::Disconnect(reason),
        Parsed::Nothing => Frame::Nothing,
        Parsed::Refused { ack_id } => Frame::Ack(ack(&ack_id, None)),
        Parsed::Envelope {
            ack_id,
            accepts_payload,
            payload,
        } => {
            let response = match payload {
                Payload::Command(event) => serde_json::to_value(command(handlers, *event)).ok(),
                Payload::Interaction(event) => interaction(handlers, *event)
                    .and_then(|response| serde_json::to_value(response).ok()),
                Payload::Other => None,
            };
            Frame::Ack(ack(&ack_id, response.filter(|_| accepts_payload)))
        }
    }
}

/// `{"envelope_id":…,"payload"?:…}`.
fn ack(ack_id: &str, payload: Option<Value>) -> String {
    let mut ack = serde_json::json!({ "envelope_id": ack_id });
    if let Some(payload) = payload {
        ack["payload"] = payload;
    }
    ack.to_string()
}

/// Parses and checks one text frame; see [`Parsed`]. `app` is `None` before `hello`.
pub fn parse(app: Option<&AppIdentity>, text: &str) -> Parsed {
    let Ok(mut frame) = serde_json::from_str::<Value>(text) else {
        tracing::warn!(
            bytes = text.len(),
            "ignored a Socket Mode frame that is not JSON"
        );
        return Parsed::Nothing;
    };
    let kind = frame
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match kind.as_str() {
        "hello" => return hello(&frame),
        "disconnect" => {
            let reason = frame.get("reason").and_then(Value::as_str).unwrap_or("");
            return Parsed::Disconnect(crate::ids::shorten(reason));
        }
        _ => {}
    }
    let Some(id) = frame.get("envelope_id").and_then(Value::as_str) else {
        tracing::warn!(
            kind = %crate::ids::shorten(&kind),
            "ignored a Socket Mode frame without an envelope_id"
        );
        return Parsed::Nothing;
    };
    // The ack echoes the id as sent; logs get it cut to a readable length.
    let ack_id = id.to_owned();
    let envelope_id = crate::ids::shorten(id);
    crate::metrics::METRICS.envelopes.inc();
    let accepts_payload = frame
        .get("accepts_response_payload")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(app) = app else {
        tracing::warn!(%envelope_id, "refused a Socket Mode envelope sent before hello");
        return Parsed::Refused { ack_id };
    };
    if let Err(why) = ours(&frame, app) {
        tracing::warn!(
            %envelope_id,
            kind = %crate::ids::shorten(&kind),
            why,
            "refused a Socket Mode envelope that is not for this app"
        );
        return Parsed::Refused { ack_id };
    }
    let payload = frame
        .get_mut("payload")
        .map(Value::take)
        .unwrap_or_default();
    let typed = match kind.as_str() {
        "interactive" => serde_json::from_value(payload).map(|e| Payload::Interaction(Box::new(e))),
        "slash_commands" => serde_json::from_value(payload).map(|e| Payload::Command(Box::new(e))),
        _ => {
            tracing::debug!(%envelope_id, kind = %crate::ids::shorten(&kind), "ignored an envelope of a type the bot does not use");
            Ok(Payload::Other)
        }
    };
    match typed {
        Ok(payload) => Parsed::Envelope {
            ack_id,
            accepts_payload,
            payload,
        },
        Err(error) => {
            // The error's category and position only: its message may quote payload values.
            tracing::warn!(
                %envelope_id,
                category = ?error.classify(),
                line = error.line(),
                column = error.column(),
                "refused a Socket Mode envelope whose payload Slack would not send"
            );
            Parsed::Refused { ack_id }
        }
    }
}

/// A `hello` frame's app id and connection count.
fn hello(frame: &Value) -> Parsed {
    let app_id = frame
        .get("connection_info")
        .and_then(|info| info.get("app_id"))
        .and_then(Value::as_str);
    let num_connections = frame
        .get("num_connections")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0);
    match app_id {
        Some(app_id) => Parsed::Hello {
            app_id: crate::ids::shorten(app_id),
            num_connections,
        },
        None => {
            tracing::warn!("ignored a Socket Mode hello without connection_info.app_id");
            Parsed::Nothing
        }
    }
}

/// Checks that the envelope's payload names this app and this workspace (Slack sends
/// `api_app_id` and the team in every payload: <https://docs.slack.dev/interactivity/handling-user-interaction>,
/// <https://docs.slack.dev/interactivity/implementing-slash-commands>).
fn ours(frame: &Value, app: &AppIdentity) -> Result<(), &'static str> {
    let payload = frame.get("payload").ok_or("no payload")?;
    let app_id = payload.get("api_app_id").and_then(Value::as_str);
    if app_id != Some(app.app_id.as_str()) {
        return Err("api_app_id is not this app's");
    }
    let team = payload
        .get("team_id")
        .or_else(|| payload.get("team").and_then(|t| t.get("id")))
        .and_then(Value::as_str);
    if team != Some(app.team_id.as_str()) {
        return Err("the team is not this bot's workspace");
    }
    Ok(())
}

/// Interactive envelopes: each button click is converted and its work, routed by the registry,
/// handed to a bounded task; a modal's submission is validated here (pure) so its errors go back
/// in the ack.
fn interaction(
    handlers: &Arc<Handlers>,
    event: SlackInteractionEvent,
) -> Option<SlackInteractionResponse> {
    match event {
        SlackInteractionEvent::BlockActions(ev) => {
            for click in clicks(ev) {
                let span = click_span(&click.action_id, &click.user);
                let (user, action) = (click.user.clone(), click.action_id.clone());
                if let Some(work) = handlers.registry.click(click) {
                    if !handlers.spawn(work, span) {
                        tracing::warn!(
                            %user,
                            action = %crate::ids::shorten(&action),
                            "refused a click: too much work in flight; the button stays as it was"
                        );
                    }
                }
            }
            None
        }
        SlackInteractionEvent::ViewSubmission(ev) => {
            let submission = submission(ev)?;
            let span = click_span("view_submission", &submission.user);
            let busy_block = submission
                .values
                .keys()
                .next()
                .map(|(block, _)| block.clone());
            match handlers.registry.submit(submission) {
                Ok(Some(work)) => {
                    if handlers.spawn(work, span) {
                        return None;
                    }
                    let errors = busy_block
                        .map(|block| (block, BUSY.to_owned()))
                        .into_iter()
                        .collect();
                    Some(errors_response(errors))
                }
                Ok(None) => None,
                Err(errors) => Some(errors_response(errors)),
            }
        }
        other => {
            tracing::debug!(kind = ?std::mem::discriminant(&other), "ignored interaction");
            None
        }
    }
}

/// What someone whose work was refused for lack of room is told.
const BUSY: &str = "The bot is busy right now and did nothing; please try again in a minute.";

fn errors_response(errors: std::collections::HashMap<String, String>) -> SlackInteractionResponse {
    SlackViewSubmissionResponse::Errors(SlackViewSubmissionErrorsResponse::new(errors)).into()
}

/// The span of one click's work; the domain records the pipeline and token hash once it
/// trusts them.
fn click_span(action: &str, user: &UserId) -> tracing::Span {
    tracing::info_span!(
        "click",
        action = %crate::ids::shorten(action),
        user = %user,
        pipeline = tracing::field::Empty,
        token_hash = tracing::field::Empty,
    )
}

/// The Slack ids of a payload, parsed at the edge: `None` (logged) when Slack sent ids of a
/// shape it never issues.
fn ids(
    user: &str,
    team: &str,
    channel: Option<&str>,
) -> Option<(UserId, TeamId, Option<ChannelId>)> {
    let parsed = (|| {
        Ok::<_, crate::ids::InvalidId>((
            UserId::parse(user)?,
            TeamId::parse(team)?,
            channel.map(ChannelId::parse).transpose()?,
        ))
    })();
    parsed
        .inspect_err(
            |reason| tracing::warn!(%reason, "ignored an envelope with malformed Slack ids"),
        )
        .ok()
}

/// The parts of a `view_submission` the modals need (the ids parsed, nothing else trusted).
fn submission(ev: SlackInteractionViewSubmissionEvent) -> Option<ViewSubmission> {
    let SlackView::Modal(view) = ev.view.view else {
        return None;
    };
    let (user, team, _) = ids(&ev.user.id.0, &ev.team.id.0, None)?;
    let values = ev
        .view
        .state_params
        .state
        .map(|s| {
            s.values
                .into_iter()
                .flat_map(|(block, inputs)| {
                    inputs.into_iter().filter_map(move |(action, input)| {
                        Some(((block.0.clone(), action.0), input.value?))
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(ViewSubmission {
        callback_id: view.callback_id.map(|c| c.0),
        private_metadata: view.private_metadata,
        values,
        user,
        user_name: ev.user.username.or(ev.user.name),
        team,
    })
}

/// Slash commands: parsed here (pure, microseconds); the ack carries the immediate reply and the
/// rest runs in a bounded task.
fn command(handlers: &Arc<Handlers>, event: SlackCommandEvent) -> SlackCommandEventResponse {
    let Some((user, team, Some(channel))) = ids(
        &event.user_id.0,
        &event.team_id.0,
        Some(&event.channel_id.0),
    ) else {
        return SlackCommandEventResponse::new(SlackMessageContent::new().with_text(
            "Slack sent this command with ids the bot cannot read; nothing was done.".into(),
        ));
    };
    let invocation = Invocation {
        command: event.command.0,
        text: event.text.unwrap_or_default(),
        user,
        channel,
        team,
        response_url: event.response_url.0.to_string(),
        trigger_id: event.trigger_id.0,
    };
    let span = tracing::info_span!(
        "command",
        command = %crate::ids::shorten(&invocation.command),
        user = %invocation.user,
    );
    let accepted = handlers.registry.accept(invocation);
    let mut reply = accepted.reply;
    if let Some(work) = accepted.work {
        if !handlers.spawn(work, span) {
            reply = crate::commands::AckReply::ephemeral(BUSY);
        }
    }
    let response_type = if reply.in_channel {
        SlackMessageResponseType::InChannel
    } else {
        SlackMessageResponseType::Ephemeral
    };
    SlackCommandEventResponse::new(SlackMessageContent::new().with_text(reply.text))
        .with_response_type(response_type)
}

/// The button clicks in a `block_actions` payload: clicks outside a message (views) or without
/// a user or channel are not ours.
fn clicks(ev: SlackInteractionBlockActionsEvent) -> Vec<ButtonClick> {
    let SlackInteractionActionContainer::Message(container) = &ev.container else {
        return Vec::new();
    };
    let channel = container
        .channel_id
        .clone()
        .or_else(|| ev.channel.as_ref().map(|c| c.id.clone()));
    let (Some(user), Some(channel)) = (&ev.user, channel) else {
        return Vec::new();
    };
    let Some((user_id, team, Some(channel))) = ids(&user.id.0, &ev.team.id.0, Some(&channel.0))
    else {
        return Vec::new();
    };
    let (message_text, message_blocks) = ev
        .message
        .map(|m| (m.content.text, m.content.blocks.unwrap_or_default()))
        .unwrap_or_default();
    let response_url = ev.response_url.as_ref().map(|u| u.0.to_string());
    ev.actions
        .unwrap_or_default()
        .into_iter()
        .map(|action| ButtonClick {
            action_id: action.action_id.0,
            value: action.value.unwrap_or_default(),
            user: user_id.clone(),
            user_name: user.username.clone().or_else(|| user.name.clone()),
            team: team.clone(),
            channel: channel.clone(),
            message_ts: container.message_ts.0.clone(),
            message_text: message_text.clone(),
            message_blocks: message_blocks.clone(),
            trigger_id: ev.trigger_id.0.clone(),
            response_url: response_url.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppIdentity {
        AppIdentity {
            app_id: "A1".into(),
            team_id: "T1".into(),
        }
    }

    #[test]
    fn hello_is_read_only_with_an_app_id() {
        let frame = r#"{"type":"hello","num_connections":2,"connection_info":{"app_id":"A1"},"debug_info":{"host":"h"}}"#;
        assert!(matches!(
            parse(None, frame),
            Parsed::Hello { ref app_id, num_connections: 2 } if app_id == "A1"
        ));
        assert!(matches!(
            parse(None, r#"{"type":"hello"}"#),
            Parsed::Nothing
        ));
        assert!(matches!(parse(None, "{"), Parsed::Nothing));
    }

    #[test]
    fn an_envelope_before_hello_or_of_another_app_or_team_is_refused_but_acked() {
        let envelope = |app_id: &str, team: &str| {
            format!(
                r#"{{"type":"slash_commands","envelope_id":"e1","accepts_response_payload":true,"payload":{{"api_app_id":"{app_id}","team_id":"{team}"}}}}"#
            )
        };
        for (who, frame) in [
            (None, envelope("A1", "T1")),
            (Some(app()), envelope("A2", "T1")),
            (Some(app()), envelope("A1", "T2")),
        ] {
            assert!(
                matches!(parse(who.as_ref(), &frame), Parsed::Refused { ref ack_id } if ack_id == "e1"),
                "{frame}"
            );
        }
    }

    #[test]
    fn a_payload_slack_would_not_send_is_refused_but_acked_and_other_types_ignored() {
        let wrong = r#"{"type":"slash_commands","envelope_id":"e2","payload":{"api_app_id":"A1","team_id":"T1","user_id":7}}"#;
        assert!(matches!(parse(Some(&app()), wrong), Parsed::Refused { .. }));
        let events = r#"{"type":"events_api","envelope_id":"e3","payload":{"api_app_id":"A1","team_id":"T1"}}"#;
        assert!(matches!(
            parse(Some(&app()), events),
            Parsed::Envelope {
                payload: Payload::Other,
                ..
            }
        ));
        assert!(matches!(
            parse(Some(&app()), r#"{"type":"interactive"}"#),
            Parsed::Nothing
        ));
    }
}
