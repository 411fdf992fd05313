//! Following a started execution to its end in one thread: stage outcomes as replies, the top
//! message updated in place, the result last. Fed by EventBridge state changes (when an
//! `[events]` queue is configured) and by polls of `GetPipelineExecution` +
//! `GetPipelineState` whose interval doubles up to a bound; with events, polls only fill gaps.

use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::sync::mpsc;

use super::progress::{from_poll, Change, Progress};
use super::render::{self, Followed};
use super::Deploy;
use crate::ids::{ChannelId, PipelineName, UserId};
use crate::sync::lock;

/// One followed execution and its thread.
pub(super) struct Follower {
    pipeline: PipelineName,
    execution_id: String,
    user: UserId,
    channel: ChannelId,
    ts: String,
    console_url: String,
    progress: Progress,
    changes: mpsc::UnboundedReceiver<Change>,
}

impl Deploy {
    /// Registers the follower of `execution_id` (events go to it from now on).
    pub(super) fn thread(
        &self,
        pipeline: PipelineName,
        execution_id: String,
        user: UserId,
        channel: ChannelId,
        ts: String,
        started_at: DateTime<Utc>,
    ) -> Follower {
        let (tx, changes) = mpsc::unbounded_channel();
        lock(&self.followers).insert(execution_id.clone(), tx);
        Follower {
            console_url: render::console_url(&self.settings.aws.region, &pipeline, &execution_id),
            pipeline,
            execution_id,
            user,
            channel,
            ts,
            progress: Progress::new(started_at),
            changes,
        }
    }

    /// Follows until the execution ends, the follow limit passes, or shutdown.
    pub(super) async fn follow(&self, mut t: Follower) {
        let settings = &self.settings.deploy;
        let max_interval = Duration::from_secs(settings.poll_max_secs);
        let mut interval = if self.settings.events.is_some() {
            max_interval
        } else {
            Duration::from_millis(settings.poll_initial_ms)
        };
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(settings.follow_max_minutes * 60);
        self.update_top(&t).await;
        while !t.progress.is_done() {
            let changes = tokio::select! {
                () = self.cancel.cancelled() => break,
                () = tokio::time::sleep_until(deadline) => {
                    self.reply(&t, ":hourglass: Stopped following this execution (time limit); see the console for the rest.").await;
                    break;
                }
                Some(change) = t.changes.recv() => {
                    let mut changes = vec![change];
                    while let Ok(more) = t.changes.try_recv() {
                        changes.push(more);
                    }
                    changes
                }
                () = tokio::time::sleep(interval) => {
                    interval = (interval * 2).min(max_interval);
                    self.poll(&t).await
                }
            };
            let mut changes = changes;
            if changes.iter().any(|c| t.progress.lacks_failure_details(c)) {
                let mut polled = self.poll(&t).await;
                polled.retain(|c| matches!(c, Change::ActionFailed { .. }));
                changes.splice(0..0, polled);
            }
            let mut top_changed = false;
            for change in changes {
                let effects = t.progress.apply(change, Utc::now());
                top_changed |= effects.top_changed;
                for reply in &effects.replies {
                    self.reply(&t, &render::reply(reply, &t.progress)).await;
                }
            }
            if top_changed {
                self.update_top(&t).await;
            }
        }
        lock(&self.followers).remove(&t.execution_id);
    }

    /// What CodePipeline says now; a failed poll yields nothing (the next one may work).
    async fn poll(&self, t: &Follower) -> Vec<Change> {
        let cp = &self.clients.codepipeline;
        let status = match cp.execution_status(&t.pipeline, &t.execution_id).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "GetPipelineExecution failed while following");
                return Vec::new();
            }
        };
        let stages = cp.stages(&t.pipeline).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "GetPipelineState failed while following");
            Vec::new()
        });
        from_poll(&t.execution_id, status.as_deref(), &stages)
    }

    async fn update_top(&self, t: &Follower) {
        let followed = Followed {
            pipeline: &t.pipeline,
            execution_id: &t.execution_id,
            user: &t.user,
            console_url: &t.console_url,
        };
        let content = match render::top(&followed, &t.progress) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot render the thread's top message");
                return;
            }
        };
        if let Err(e) = self.clients.slack.update(&t.channel, &t.ts, content).await {
            tracing::warn!(error = %e, "cannot update the thread's top message");
        }
    }

    async fn reply(&self, t: &Follower, text: &str) {
        let content =
            slack_morphism::prelude::SlackMessageContent::new().with_text(text.to_owned());
        if let Err(e) = self
            .clients
            .slack
            .post(&t.channel, content, Some(&t.ts))
            .await
        {
            tracing::warn!(error = %e, "cannot post a thread reply");
        }
    }
}
