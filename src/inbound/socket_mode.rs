//! Slack Socket Mode wiring: the listener, its callbacks, and a supervisor that reconnects with a
//! new app token when Parameter Store hands one out.
//!
//! slack-morphism sends an envelope's ack only after the callback returns, and reads one
//! envelope at a time per socket. So callbacks only convert the payload and hand the work to a
//! tracked task: no network call ever happens before the ack.

use slack_morphism::prelude::*;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use std::future::Future;
use std::time::Instant;

use crate::commands::{Invocation, Registry};
use crate::config::SlackSettings;
use crate::ids::{ChannelId, TeamId, UserId};
use crate::interaction::{ButtonClick, ViewSubmission};
use crate::metrics::{Health, METRICS};
use crate::outbound::parameter_store::TokenStore;
use crate::outbound::slack::{Client, Connector};

/// What the callbacks reach through slack-morphism's user state.
pub struct Handlers {
    /// Routes commands, clicks and submissions to the capabilities.
    pub registry: Arc<Registry>,
    /// Socket Mode's health mark.
    pub health: Arc<Health>,
    /// Tracks every task a callback spawns, so shutdown can wait for them.
    pub tracker: TaskTracker,
}

/// Holds Socket Mode connections open until `cancel` fires; when the app token changes, opens
/// the new connections before closing the old ones.
pub async fn supervise(
    client: Arc<Client>,
    handlers: Arc<Handlers>,
    tokens: TokenStore,
    settings: SlackSettings,
    cancel: CancellationToken,
) {
    let mut changes = tokens.subscribe();
    let mut app_token = tokens.current().app.clone();
    let mut listener = listen(&client, &handlers, &settings, &app_token).await;
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            changed = changes.changed() => {
                if changed.is_err() {
                    break;
                }
                let new_token = changes.borrow_and_update().app.clone();
                if new_token != app_token {
                    tracing::info!("app token changed; reconnecting Socket Mode");
                    let replacement = listen(&client, &handlers, &settings, &new_token).await;
                    if let Some(old) = std::mem::replace(&mut listener, replacement) {
                        old.shutdown().await;
                    }
                    app_token = new_token;
                }
            }
        }
    }
    if let Some(listener) = listener {
        listener.shutdown().await;
    }
    tracing::info!("Socket Mode closed");
}

async fn listen(
    client: &Arc<Client>,
    handlers: &Arc<Handlers>,
    settings: &SlackSettings,
    app_token: &crate::secret::Secret,
) -> Option<SlackClientSocketModeListener<Connector>> {
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(client.clone())
            .with_error_handler(on_error)
            .with_user_state(handlers.clone()),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        // A socket connected: what `/healthz` reports as "Socket Mode connected". (A closure:
        // slack-morphism does not export the hello event's type by name.)
        .with_hello_events(|_hello, _client, states| async move {
            if let Some(handlers) = states.read().await.get_user_state::<Arc<Handlers>>() {
                handlers.health.socket_hello.now();
            }
        })
        .with_interaction_events(on_interaction)
        .with_command_events(on_command);
    let config = SlackClientSocketModeConfig::new()
        .with_max_connections_count(settings.socket_connections)
        .with_initial_backoff_in_seconds(0)
        .with_reconnect_timeout_in_seconds(settings.reconnect_secs);
    let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
    let token = SlackApiToken::new(app_token.expose().to_owned().into());
    if let Err(e) = listener.listen_for(&token).await {
        tracing::error!(error = %e, "cannot register the app token for Socket Mode");
        return None;
    }
    listener.start().await;
    Some(listener)
}

/// Counts an envelope and times its callback, which ends when the ack is sent.
async fn counted<T>(callback: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let response = callback.await;
    METRICS.envelopes.inc();
    METRICS.ack_latency.observe(started.elapsed());
    response
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    counted(interaction(event, states)).await
}

/// Interactive envelopes: each button click is converted and its work, routed by the registry,
/// handed to a tracked task; a modal's submission is validated here (pure) so its errors go back
/// in the ack.
async fn interaction(
    event: SlackInteractionEvent,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    let state = states.read().await;
    let Some(handlers) = state.get_user_state::<Arc<Handlers>>() else {
        return Ok(SlackInteractionResponse::Empty);
    };
    match event {
        SlackInteractionEvent::BlockActions(ev) => {
            for click in clicks(ev) {
                let span = click_span(&click.action_id, &click.user);
                if let Some(work) = handlers.registry.click(click) {
                    handlers.tracker.spawn(work.instrument(span));
                }
            }
        }
        SlackInteractionEvent::ViewSubmission(ev) => {
            let Some(submission) = submission(ev) else {
                return Ok(SlackInteractionResponse::Empty);
            };
            let span = click_span("view_submission", &submission.user);
            match handlers.registry.submit(submission) {
                Ok(Some(work)) => {
                    handlers.tracker.spawn(work.instrument(span));
                }
                Ok(None) => {}
                Err(errors) => {
                    return Ok(SlackViewSubmissionResponse::Errors(
                        SlackViewSubmissionErrorsResponse::new(errors),
                    )
                    .into())
                }
            }
        }
        other => tracing::debug!(kind = ?std::mem::discriminant(&other), "ignored interaction"),
    }
    Ok(SlackInteractionResponse::Empty)
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

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    counted(command(event, states)).await
}

/// Slash commands: parsed here (pure, microseconds); the ack carries the immediate reply and the
/// rest runs in a tracked task.
async fn command(
    event: SlackCommandEvent,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let state = states.read().await;
    let Some(handlers) = state.get_user_state::<Arc<Handlers>>() else {
        return Ok(SlackCommandEventResponse::new(SlackMessageContent::new()));
    };
    let Some((user, team, Some(channel))) = ids(
        &event.user_id.0,
        &event.team_id.0,
        Some(&event.channel_id.0),
    ) else {
        return Ok(SlackCommandEventResponse::new(
            SlackMessageContent::new().with_text(
                "Slack sent this command with ids the bot cannot read; nothing was done.".into(),
            ),
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
    if let Some(work) = accepted.work {
        handlers.tracker.spawn(work.instrument(span));
    }
    let response_type = if accepted.reply.in_channel {
        SlackMessageResponseType::InChannel
    } else {
        SlackMessageResponseType::Ephemeral
    };
    Ok(
        SlackCommandEventResponse::new(SlackMessageContent::new().with_text(accepted.reply.text))
            .with_response_type(response_type),
    )
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

/// Errors inside the listener (including frames it cannot parse): logged, and acked with 200
/// so Slack does not redeliver something that will never get better.
fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<Client>,
    _states: SlackClientEventsUserState,
) -> HttpStatusCode {
    tracing::warn!(error = %err, "Socket Mode envelope not handled");
    HttpStatusCode::OK
}
