//! Following a started execution to its end in one thread: stage outcomes as replies, the top
//! message updated in place, the result last. Fed by EventBridge state changes (when an
//! `[events]` queue is configured) and by polls of `GetPipelineExecution` +
//! `GetPipelineState` whose interval doubles up to a bound; with events, polls only fill gaps.
//!
//! One process follows an execution at a time: the holder of its lease, renewed three times
//! per `[state] lease_secs`. Its progress is saved after every change, so when the follower
//! dies (the lease runs out) or stops (it gives the lease up), another process adopts the
//! execution and follows it on from there, polling at once: an execution that ended while no
//! process followed it gets its result in the thread as soon as one adopts it.

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use super::progress::{from_poll, Change, Progress};
use super::records::Followed;
use super::render::{self, Followed as Top};
use super::Deploy;
use crate::ids::{ChannelId, PipelineName, UserId};
use crate::outbound::lease::Lease;
use crate::sync::lock;

/// One followed execution and its thread, in the process that holds its lease.
pub(super) struct Follower {
    f: Followed,
    console_url: String,
    lease: Lease,
    /// Adopted from another process: poll at once, the execution may have moved meanwhile.
    adopted: bool,
    changes: mpsc::UnboundedReceiver<Change>,
}

/// How the follow loop ended.
enum End {
    /// The execution ended, or the follow limit passed: nobody follows it any more.
    Done,
    /// This process stops or lost the lease: another follows it on.
    Handed,
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
        let f = Followed {
            pipeline,
            execution_id,
            user,
            channel,
            ts,
            progress: Progress::new(started_at),
        };
        let lease = self.records.lease(&f.execution_id);
        self.follower(f, lease, false)
    }

    fn follower(&self, f: Followed, lease: Lease, adopted: bool) -> Follower {
        let (tx, changes) = mpsc::unbounded_channel();
        lock(&self.followers).insert(f.execution_id.clone(), tx);
        Follower {
            console_url: render::console_url(
                &self.settings.aws.region,
                &f.pipeline,
                &f.execution_id,
            ),
            f,
            lease,
            adopted,
            changes,
        }
    }

    /// Adopts, every `[state] lease_secs` from the start, the followed executions no process
    /// holds the lease of (their follower died or stopped), and follows each to its end;
    /// until `cancel` fires, then waits for the followers it started (they give their leases
    /// up).
    pub(super) async fn adopt_periodically(self: Arc<Self>) {
        let followers = TaskTracker::new();
        loop {
            for t in self.adoptable().await {
                let this = self.clone();
                followers.spawn(async move { this.follow(t).await });
            }
            tokio::select! {
                () = self.cancel.cancelled() => break,
                () = tokio::time::sleep(self.records.lease_secs()) => {}
            }
        }
        followers.close();
        followers.wait().await;
    }

    /// The followed executions this process just took the lease of.
    async fn adoptable(&self) -> Vec<Follower> {
        let ids = match self.records.all().await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the followed executions");
                return Vec::new();
            }
        };
        let mut adopted = Vec::new();
        for id in ids {
            if lock(&self.followers).contains_key(&id) {
                continue;
            }
            let lease = self.records.lease(&id);
            if !lease.hold().await.unwrap_or(false) {
                continue;
            }
            // Read again under the lease: the list may predate the execution's end.
            match self.records.get(&id).await {
                Ok(Some(f)) => {
                    tracing::info!(execution_id = %id, pipeline = %f.pipeline, "following an execution another process followed");
                    adopted.push(self.follower(f, lease, true));
                }
                Ok(None) => lease.release().await,
                Err(e) => {
                    tracing::warn!(error = %e, execution_id = %id, "cannot read a followed execution");
                    lease.release().await;
                }
            }
        }
        adopted
    }

    /// Follows until the execution ends, the follow limit passes, this process stops or
    /// another process takes the lease over.
    pub(super) async fn follow(&self, mut t: Follower) {
        let end = self.follow_until_end(&mut t).await;
        match end {
            End::Done => {
                if let Err(e) = self.records.forget(&t.f.execution_id).await {
                    tracing::warn!(error = %e, execution_id = %t.f.execution_id, "cannot forget a followed execution; another process may post its result again");
                }
                // The lease is left to run out: a process that listed the execution before
                // it was forgotten cannot take it in the meantime.
            }
            End::Handed => t.lease.release().await,
        }
        lock(&self.followers).remove(&t.f.execution_id);
    }

    async fn follow_until_end(&self, t: &mut Follower) -> End {
        match t.lease.hold().await {
            Ok(true) => {}
            Ok(false) => return End::Handed,
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the lease of a followed execution; following it anyway")
            }
        }
        self.save(t).await;
        let settings = &self.settings.deploy;
        let max_interval = Duration::from_secs(settings.poll_max_secs);
        let mut interval = match (t.adopted, self.settings.events.is_some()) {
            (true, _) => Duration::ZERO,
            (false, true) => max_interval,
            (false, false) => Duration::from_millis(settings.poll_initial_ms),
        };
        let left = (self.records.follow_until(t.f.progress.started_at) - Utc::now())
            .to_std()
            .unwrap_or_default();
        let deadline = tokio::time::Instant::now() + left;
        let renew_every = self.records.lease_secs() / 3;
        let mut renewal = tokio::time::Instant::now() + renew_every;
        if !t.adopted {
            self.update_top(t).await;
        }
        while !t.f.progress.is_done() {
            let changes = tokio::select! {
                () = self.cancel.cancelled() => return End::Handed,
                () = tokio::time::sleep_until(deadline) => {
                    self.reply(t, ":hourglass: Stopped following this execution (time limit); see the console for the rest.").await;
                    return End::Done;
                }
                () = tokio::time::sleep_until(renewal) => {
                    renewal = tokio::time::Instant::now() + renew_every;
                    match t.lease.hold().await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(execution_id = %t.f.execution_id, "another process follows this execution now");
                            return End::Handed;
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot renew the lease of a followed execution"),
                    }
                    continue;
                }
                Some(change) = t.changes.recv() => {
                    let mut changes = vec![change];
                    while let Ok(more) = t.changes.try_recv() {
                        changes.push(more);
                    }
                    changes
                }
                () = tokio::time::sleep(interval) => {
                    interval = (interval * 2).max(Duration::from_millis(settings.poll_initial_ms)).min(max_interval);
                    self.poll(t).await
                }
            };
            self.apply(t, changes).await;
        }
        End::Done
    }

    /// Posts what `changes` mean for the thread and saves the progress.
    async fn apply(&self, t: &mut Follower, mut changes: Vec<Change>) {
        if changes
            .iter()
            .any(|c| t.f.progress.lacks_failure_details(c))
        {
            let mut polled = self.poll(t).await;
            polled.retain(|c| matches!(c, Change::ActionFailed { .. }));
            changes.splice(0..0, polled);
        }
        let mut top_changed = false;
        let mut replied = false;
        for change in changes {
            let effects = t.f.progress.apply(change, Utc::now());
            top_changed |= effects.top_changed;
            for reply in &effects.replies {
                self.reply(t, &render::reply(reply, &t.f.progress)).await;
                replied = true;
            }
        }
        if top_changed {
            self.update_top(t).await;
        }
        if top_changed || replied {
            self.save(t).await;
        }
    }

    /// Saves the progress so far for the process that may follow on.
    async fn save(&self, t: &Follower) {
        if let Err(e) = self.records.save(&t.f).await {
            tracing::warn!(error = %e, execution_id = %t.f.execution_id, "cannot save a followed execution's progress");
        }
    }

    /// What CodePipeline says now; a failed poll yields nothing (the next one may work).
    async fn poll(&self, t: &Follower) -> Vec<Change> {
        let cp = &self.clients.codepipeline;
        let status = match cp.execution_status(&t.f.pipeline, &t.f.execution_id).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "GetPipelineExecution failed while following");
                return Vec::new();
            }
        };
        let stages = cp.stages(&t.f.pipeline).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "GetPipelineState failed while following");
            Vec::new()
        });
        from_poll(&t.f.execution_id, status.as_deref(), &stages)
    }

    async fn update_top(&self, t: &Follower) {
        let top = Top {
            pipeline: &t.f.pipeline,
            execution_id: &t.f.execution_id,
            user: &t.f.user,
            console_url: &t.console_url,
        };
        let content = match render::top(&top, &t.f.progress) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot render the thread's top message");
                return;
            }
        };
        if let Err(e) = self
            .clients
            .slack
            .update(&t.f.channel, &t.f.ts, content)
            .await
        {
            tracing::warn!(error = %e, "cannot update the thread's top message");
        }
    }

    async fn reply(&self, t: &Follower, text: &str) {
        let content =
            slack_morphism::prelude::SlackMessageContent::new().with_text(text.to_owned());
        if let Err(e) = self
            .clients
            .slack
            .post(&t.f.channel, content, Some(&t.f.ts))
            .await
        {
            tracing::warn!(error = %e, "cannot post a thread reply");
        }
    }
}
