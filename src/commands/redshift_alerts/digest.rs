//! The daily digest (`[redshift_alerts.digest]`): once a day at a time of day (UTC), the top
//! alert events of the 24 hours before it across the enabled clusters, the clusters whose
//! export is stale, and what changed since the day before, posted as one message.
//!
//! The loop runs for the life of the process and reads "now" from the injected
//! [`super::Clock`] only to compute the next due time ([`next_due`]): after a run, the next is
//! the first one after the last due time, so a fixed test clock just before `at` gives exactly
//! one run. The window ends at the due time, not at "now".
//!
//! Once per day across processes: before anything is queried, a process claims the day in the
//! state store ([`Records::put`] with [`Expect::Absent`] on `digest#<channel>` / `<yyyy-mm-dd>`);
//! only the winner queries and posts, and then stores the day's counts on the same record, where
//! the next day's digest reads them back. Without `[state]` the store is this process's memory:
//! each process posts its own digest.

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::parse::{Cluster, Question};
use super::render::{self, Columns, Framing};
use super::sql::{self, Window};
use super::{freshness, tables, Inner};
use crate::config::SourceLayout;
use crate::ids::ChannelId;
use crate::outbound::athena::QueryOutput;
use crate::outbound::records::Expect;
use crate::outbound::slack::mrkdwn::{cut, escape};

/// Alert events per cluster in the digest.
const TOP: u32 = 5;
/// How long a day's record is kept: long enough for the next day to compare with it.
const KEEP_SECS: i64 = 2 * 86_400;
/// The changes line is cut to fit one section.
const CHANGES_BUDGET: usize = 2_900;

/// The first instant at `at` (UTC time of day) that is not before `from`.
pub fn next_due(from: DateTime<Utc>, at: NaiveTime) -> DateTime<Utc> {
    let today = from.date_naive().and_time(at).and_utc();
    if today >= from {
        today
    } else {
        today + TimeDelta::days(1)
    }
}

/// Occurrences per `cluster: event` in the top alert events (the alerts question's rows).
pub type Counts = BTreeMap<String, u64>;

/// The day's record in the state store: `counts` is `None` from the claim until the digest
/// was posted.
#[derive(Debug, Default, Serialize, Deserialize)]
struct DayRecord {
    counts: Option<Counts>,
}

impl DayRecord {
    /// The record as stored (a map of strings to numbers always serialises).
    fn body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The counts of the alerts question's rows.
pub fn counts(output: &QueryOutput) -> Counts {
    let col = Columns::new(output);
    output
        .rows
        .iter()
        .map(|r| {
            (
                format!("{}: {}", col.get(r, "cluster"), col.get(r, "event")),
                col.get(r, "occurrences").trim().parse().unwrap_or(0),
            )
        })
        .collect()
}

/// What changed since yesterday's digest, as one mrkdwn line (event names escaped and cut).
pub fn changes(today: &Counts, yesterday: Option<&Counts>) -> String {
    let Some(yesterday) = yesterday else {
        return "No digest yesterday to compare with.".into();
    };
    let name = |k: &str| escape(&render::short(k));
    let mut new = Vec::new();
    let mut up = Vec::new();
    let mut down = Vec::new();
    for (key, &n) in today {
        match yesterday.get(key) {
            None => new.push(format!("{} ({n})", name(key))),
            Some(&was) if n > was => up.push(format!("{} {was} → {n}", name(key))),
            Some(&was) if n < was => down.push(format!("{} {was} → {n}", name(key))),
            Some(_) => {}
        }
    }
    let gone: Vec<String> = yesterday
        .keys()
        .filter(|k| !today.contains_key(*k))
        .map(|k| name(k))
        .collect();
    let parts: Vec<String> = [
        ("new", new),
        ("up", up),
        ("down", down),
        ("no longer in the top", gone),
    ]
    .into_iter()
    .filter(|(_, items)| !items.is_empty())
    .map(|(label, items)| format!("*{label}:* {}", items.join(", ")))
    .collect();
    if parts.is_empty() {
        "Since yesterday: no change in the top alert events.".into()
    } else {
        cut(
            &format!("Since yesterday: {}.", parts.join("; ")),
            CHANGES_BUDGET,
        )
    }
}

impl Inner {
    /// Posts the digest to `channel` every day at `at` until the cancel token fires.
    pub(super) async fn digest_daily(self: Arc<Self>, channel: ChannelId, at: NaiveTime) {
        let mut from = (self.clock)();
        loop {
            let due = next_due(from, at);
            let wait = (due - (self.clock)()).to_std().unwrap_or_default();
            tokio::select! {
                () = self.cancel.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
            let span = tracing::info_span!("digest", channel = %channel, due = %due);
            tracing::Instrument::instrument(self.digest(&channel, due), span).await;
            from = due + TimeDelta::seconds(1);
        }
    }

    /// The digest due at `due`, if this process wins the day's claim.
    async fn digest(&self, channel: &ChannelId, due: DateTime<Utc>) {
        let pk = format!("digest#{channel}");
        let day = due.date_naive().to_string();
        // The store judges expiry by the wall clock, not the injected one.
        let expires_at = Utc::now().timestamp() + KEEP_SECS;
        let claim = DayRecord::default().body();
        let claimed = self
            .records
            .put(&pk, &day, Expect::Absent, &claim, expires_at)
            .await;
        let version = match claimed {
            Ok(Some(version)) => version,
            Ok(None) => {
                tracing::info!("another process posts today's digest");
                return;
            }
            Err(error) => {
                tracing::error!(%error, "cannot claim today's digest: skipped today");
                return;
            }
        };
        // From here on the day is claimed: if a query or the post fails, today's digest is not
        // posted (logged) and no process retries it. At most once per day is the guarantee.
        let yesterday = (due - TimeDelta::days(1)).date_naive().to_string();
        let yesterday = match self.records.get(&pk, &yesterday).await {
            Ok(stored) => stored
                .and_then(|s| serde_json::from_str::<DayRecord>(&s.body).ok())
                .and_then(|r| r.counts),
            Err(error) => {
                tracing::warn!(%error, "cannot read yesterday's digest");
                None
            }
        };
        let Some(today) = self.post_digest(channel, due, yesterday.as_ref()).await else {
            return;
        };
        let body = DayRecord {
            counts: Some(today),
        }
        .body();
        match self
            .records
            .put(&pk, &day, Expect::Version(version), &body, expires_at)
            .await
        {
            Ok(Some(_)) => {}
            Ok(None) => tracing::warn!("today's digest record changed under us: counts not stored"),
            Err(error) => tracing::warn!(%error, "cannot store today's digest counts"),
        }
    }

    /// Runs the queries and posts the digest; today's counts when it was posted.
    async fn post_digest(
        &self,
        channel: &ChannelId,
        due: DateTime<Utc>,
        yesterday: Option<&Counts>,
    ) -> Option<Counts> {
        let window = Window {
            since: due - TimeDelta::days(1),
            until: due,
        };
        let layouts: Vec<(Cluster, SourceLayout)> = self
            .known_clusters()
            .0
            .into_iter()
            .map(|c| {
                let layout = self.settings.layout(c.as_str());
                (c, layout)
            })
            .collect();
        let export = &self.settings.layout;
        let Some(statement) =
            sql::statement(Question::Alerts, export, &layouts, &window, TOP, None)
        else {
            self.send(
                channel,
                render::notice("Daily Redshift digest: no clusters are known."),
            )
            .await;
            return None;
        };
        // Staleness of the export as a whole: its query log, not the alert log (a quiet cluster
        // has no alerts).
        let fresh_sql = sql::freshness(Question::Hourly, export, &layouts, &window);
        let (result, fresh) = tokio::join!(self.run(&statement), async {
            self.run(&fresh_sql?)
                .await
                .inspect_err(|error| tracing::warn!(%error, "the freshness check failed"))
                .ok()
        });
        let output = match result {
            Ok(output) => output,
            Err(error) => {
                let text = super::failure_text(&error, &self.settings);
                self.send(channel, render::notice(&format!("Daily digest: {text}")))
                    .await;
                return None;
            }
        };
        let clusters: Vec<Cluster> = layouts.into_iter().map(|(c, _)| c).collect();
        let today = counts(&output);
        let mut notes = match &fresh {
            Some(rows) => freshness::notes(rows, &clusters, due, self.settings.stale_after()),
            None => vec!["Freshness unknown: the check did not answer.".into()],
        };
        notes.push(changes(&today, yesterday));
        let scope = format!(
            "Daily digest · {} · 24h to {} UTC",
            super::scope_clusters(&clusters),
            due.format("%Y-%m-%d %H:%M")
        );
        let (table, _) = tables::build(Question::Alerts, &output, &window);
        let framing = Framing {
            question: Question::Alerts,
            scope: &scope,
            stats: output.stats,
            price_per_tb_usd: self.settings.price_per_tb_usd,
            cached_secs: None,
            notes,
        };
        self.send(channel, render::answer(&table, &framing))
            .await
            .then_some(today)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 3, h, m, s)
            .single()
            .expect("a time")
    }

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("a time")
    }

    #[test]
    fn the_next_digest_is_due_today_until_its_time_has_passed_then_tomorrow() {
        assert_eq!(next_due(at(6, 0, 0), time(7, 30)), at(7, 30, 0));
        assert_eq!(next_due(at(7, 30, 0), time(7, 30)), at(7, 30, 0));
        assert_eq!(
            next_due(at(7, 30, 1), time(7, 30)),
            at(7, 30, 0) + TimeDelta::days(1)
        );
        assert_eq!(
            next_due(at(23, 59, 59), time(0, 0)),
            at(0, 0, 0) + TimeDelta::days(1)
        );
    }

    fn counted(pairs: &[(&str, u64)]) -> Counts {
        pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
    }

    #[test]
    fn changes_name_new_events_counts_up_and_down_and_those_gone() {
        let yesterday = counted(&[
            ("etl-prod: Nested Loop Join", 4),
            ("etl-prod: Missing statistics", 2),
            ("bi-prod: Very selective <filter>", 1),
            ("bi-prod: Same", 3),
        ]);
        let today = counted(&[
            ("etl-prod: Nested Loop Join", 1),
            ("etl-prod: Missing statistics", 5),
            ("bi-prod: Deleted rows", 2),
            ("bi-prod: Same", 3),
        ]);
        assert_eq!(
            changes(&today, Some(&yesterday)),
            "Since yesterday: *new:* bi-prod: Deleted rows (2); \
             *up:* etl-prod: Missing statistics 2 → 5; \
             *down:* etl-prod: Nested Loop Join 4 → 1; \
             *no longer in the top:* bi-prod: Very selective &lt;filter&gt;."
        );
        assert_eq!(
            changes(&today, Some(&today)),
            "Since yesterday: no change in the top alert events."
        );
        assert_eq!(
            changes(&today, None),
            "No digest yesterday to compare with."
        );
    }
}
