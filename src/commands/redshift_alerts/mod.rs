//! `/redshift-alerts`: cross-cluster Redshift diagnostics from the system-table exports in S3,
//! catalogued in Glue and queried through Athena, answered in the channel.
//!
//! Before the ack (no I/O): [`parse`] checks the text, the channel must have an access grant
//! (`[[redshift_alerts.access]]`, [`super::access`]) that admits the user (when that takes a user
//! group's members, this and the rest happen after the ack, answered through `response_url`),
//! the cluster names are checked against the cluster list (Parameter Store, cached; the
//! configured fallback until it is read) and the clusters the grants give, then the cache and the
//! in-flight limits are consulted. After the ack: the SQL template of the question
//! ([`sql`]) runs on Athena ([`crate::outbound::athena`]), the rows become a table ([`tables`],
//! [`render`]) posted with `chat.postMessage`, and for `hourly` and `queues` a PNG chart
//! ([`chart`]) is uploaded to the channel. With `[redshift_alerts.digest]`, a daily digest is
//! posted in the background ([`digest`]).

pub mod chart;
pub mod digest;
pub mod freshness;
pub mod guard;
pub mod parse;
pub mod render;
pub mod sql;
pub mod tables;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use std::collections::HashSet;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use self::guard::{Cache, InFlight};
use self::parse::{Ask, Cluster, Question, Request, Selection};
use self::render::{Framing, Table};
use self::sql::Window;
use super::access::{self, Clusters};
use super::{Accepted, AckReply, Context, Invocation, SlashCommand, Spec};
use crate::approvals::Approvals;
use crate::config::{AccessGrant, RedshiftAlertsSettings, SourceLayout};
use crate::error::{Failure, UserError};
use crate::ids::ChannelId;
use crate::outbound::athena::{Athena, AthenaError, QueryOutput, QuerySpec};
use crate::outbound::parameter_store::StringList;
use crate::outbound::records::Records;
use crate::outbound::slack::{FileUpload, SlackWeb};

pub use self::parse::parse;

/// `/redshift-alerts` in the registry (and in the Slack app manifest).
pub const SPEC: Spec = Spec {
    name: "/redshift-alerts",
    description: "Cross-cluster Redshift diagnostics through Athena.",
    usage_hint: "[alerts|hourly|queues|statements|waits|nestloops|tables|stats|slow|aborted|scans|ddl|utility] [cluster…|all] [since 24h] [top N] | query CLUSTER QUERY_ID | help",
    action_prefix: None,
};

/// The command, built once by the registry.
pub fn build(context: &Context) -> Arc<dyn SlashCommand> {
    Arc::new(RedshiftAlerts::new(
        context.settings.redshift_alerts.clone(),
        context.clients.athena.clone(),
        context.clients.slack.clone(),
        context.clusters.clone(),
        context.clock,
        context.clients.records.clone(),
        context.approvals.clone(),
        context.cancel.clone(),
    ))
}

impl SlashCommand for RedshiftAlerts {
    fn accept(&self, inv: Invocation) -> Accepted {
        match parse(&inv.text) {
            Ok(request) => self.answer(&inv, request),
            Err(e) => Accepted::reply_only(e.0),
        }
    }

    /// The answer cache's sweep, and the daily digest when `[redshift_alerts.digest]` is set.
    fn background(&self) -> Option<futures_util::future::BoxFuture<'static, ()>> {
        let inner = self.inner.clone()?;
        let digest = inner.settings.digest.as_ref().and_then(|digest| {
            let channel = ChannelId::parse(&digest.channel).ok()?;
            Some(inner.clone().digest_daily(channel, digest.time_of_day()))
        });
        Some(
            async move {
                let sweep = inner.cache.sweep_until(&inner.cancel);
                match digest {
                    Some(digest) => {
                        tokio::join!(sweep, digest);
                    }
                    None => sweep.await,
                }
            }
            .boxed(),
        )
    }
}

/// The wall clock; tests pass a fixed one.
pub type Clock = fn() -> DateTime<Utc>;

/// What a question is remembered by: the question and the clusters it resolved to.
type Key = (Question, Vec<Cluster>, u32, u32, Option<u64>);

/// A computed answer, kept in the cache.
struct Answer {
    output: QueryOutput,
    window: Window,
    /// The freshness check's rows; `None` when it failed (logged).
    freshness: Option<QueryOutput>,
}

impl Answer {
    /// The rows kept: the answer's and the freshness check's.
    fn rows(&self) -> usize {
        self.output.rows.len() + self.freshness.as_ref().map_or(0, |f| f.rows.len())
    }
}

/// The command with its clients and state. Not configured: every use says so.
pub struct RedshiftAlerts {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    settings: RedshiftAlertsSettings,
    athena: Athena,
    slack: SlackWeb,
    clusters: Option<StringList>,
    clock: Clock,
    /// The state store: the digest's once-per-day claim and its daily counts.
    records: Records,
    /// User-group membership for the access grants (the approvals' cache).
    approvals: Arc<Approvals>,
    /// Fires at shutdown: the digest loop ends.
    cancel: CancellationToken,
    in_flight: InFlight,
    cache: Cache<Key, Answer>,
}

impl RedshiftAlerts {
    /// The command over `settings` (`None`: not configured); `clusters` is the cluster-list
    /// parameter, `None` when it was not set up; `records` and `cancel` are the digest's;
    /// `approvals` knows user groups' members.
    #[expect(
        clippy::too_many_arguments,
        reason = "each is one injected client or setting"
    )]
    pub fn new(
        settings: Option<RedshiftAlertsSettings>,
        athena: Athena,
        slack: SlackWeb,
        clusters: Option<StringList>,
        clock: Clock,
        records: Records,
        approvals: Arc<Approvals>,
        cancel: CancellationToken,
    ) -> Self {
        let inner = settings.map(|settings| {
            Arc::new(Inner {
                in_flight: InFlight::new(
                    settings.max_in_flight_per_user,
                    settings.max_in_flight_total,
                ),
                cache: Cache::new(
                    std::time::Duration::from_secs(settings.cache_secs),
                    Answer::rows,
                ),
                settings,
                athena,
                slack,
                clusters,
                clock,
                records,
                approvals,
                cancel,
            })
        });
        Self { inner }
    }

    /// Checks the channel against the access grants (no I/O); then, when the user's groups
    /// need not be read, the rest at once ([`Inner::ask`]), else after the ack.
    fn answer(&self, inv: &Invocation, request: Request) -> Accepted {
        let Some(inner) = &self.inner else {
            return Accepted::reply_only(
                "`/redshift-alerts` is not configured on this bot (no `[redshift_alerts]` section).",
            );
        };
        let grants = access::grants_in(&inner.settings.access, &inv.channel);
        if grants.is_empty() {
            let reason = if access::is_dm(&inv.channel) {
                "`/redshift-alerts` does not answer in direct messages; ask in a channel it is enabled in. Nothing was run."
            } else {
                "`/redshift-alerts` is not enabled in this channel. Nothing was run."
            };
            access::refused(&inv.command, &inv.user, &inv.channel, reason);
            return Accepted::reply_only(reason);
        }
        let groups = access::groups_to_check(&grants, &inv.user);
        if groups.is_empty() {
            let allowed = access::clusters_allowed(&grants, &inv.user, &HashSet::new());
            return inner.ask(inv, request, allowed);
        }
        let grants: Vec<AccessGrant> = grants.into_iter().cloned().collect();
        let (inner, inv) = (inner.clone(), inv.clone());
        let work = async move {
            let mut member_of = HashSet::new();
            for group in groups {
                let users = inner.approvals.access();
                match users
                    .is_member(&[], std::slice::from_ref(&group), &inv.user)
                    .await
                {
                    Ok(true) => {
                        member_of.insert(group);
                    }
                    Ok(false) => {}
                    Err(e) => {
                        let reason = format!("Could not check whether you may ask ({e}); nothing was run. Try again.");
                        access::refused(&inv.command, &inv.user, &inv.channel, &reason);
                        return inner.respond(&inv.response_url, reason).await;
                    }
                }
            }
            let grants: Vec<&AccessGrant> = grants.iter().collect();
            let allowed = access::clusters_allowed(&grants, &inv.user, &member_of);
            let accepted = inner.ask(&inv, request, allowed);
            inner.respond(&inv.response_url, accepted.reply.text).await;
            if let Some(work) = accepted.work {
                work.await;
            }
        };
        Accepted {
            reply: AckReply::ephemeral("Checking that you may ask…"),
            work: Some(work.boxed()),
        }
    }
}

impl Inner {
    /// Checks the request against what the user may ask (`allowed`), the cluster list, the
    /// cache and the limits (no I/O) and returns the reply and the work after it.
    fn ask(
        self: &Arc<Self>,
        inv: &Invocation,
        request: Request,
        allowed: Option<Clusters>,
    ) -> Accepted {
        let refuse = |reason: String| {
            access::refused(&inv.command, &inv.user, &inv.channel, &reason);
            Accepted::reply_only(reason)
        };
        let Some(allowed) = allowed else {
            return refuse(
                "You may not use `/redshift-alerts` in this channel. Nothing was run.".into(),
            );
        };
        let (mut known, source) = self.known_clusters();
        let ask = match request {
            Request::Help => {
                known.retain(|c| allowed.allows(c.as_str()));
                return Accepted::reply_only(help(&known, source));
            }
            Request::Ask(ask) => ask,
        };
        let clusters = match resolve(&ask.clusters, &known) {
            Ok(c) => c,
            Err(e) => return Accepted::reply_only(format!("{e}\n{}", parse::USAGE)),
        };
        let clusters = match narrow(&ask.clusters, clusters, &allowed) {
            Ok(c) => c,
            Err(e) => return refuse(e.0),
        };
        let channel = inv.channel.clone();
        let key: Key = (
            ask.question,
            clusters.clone(),
            ask.hours,
            ask.top,
            ask.query,
        );
        if let Some((age, answer)) = self.cache.get(&key) {
            let inner = self.clone();
            let work = async move {
                inner
                    .post(&channel, &ask, &clusters, &answer, Some(age.as_secs()))
                    .await;
            };
            return Accepted {
                reply: AckReply::ephemeral("Answering from the cache…"),
                work: Some(work.boxed()),
            };
        }
        let Some(slot) = self.in_flight.try_acquire(inv.user.as_str()) else {
            return refuse(format!(
                "Busy: too many Redshift questions are running (at most {} per person, {} in all). Please try again in a minute.",
                self.settings.max_in_flight_per_user, self.settings.max_in_flight_total
            ));
        };
        let inner = self.clone();
        let reply = AckReply::ephemeral(format!(
            "Running… {} for {}, last {}. The answer will be posted in this channel.",
            ask.question.title(),
            scope_clusters(&clusters),
            hours_text(ask.hours)
        ));
        let work = async move {
            let _slot = slot;
            inner.answer(channel, ask, clusters, key).await;
        };
        Accepted {
            reply,
            work: Some(work.boxed()),
        }
    }

    /// An ephemeral text through `response_url`; a failure is only logged.
    async fn respond(&self, response_url: &str, text: String) {
        let content = slack_morphism::prelude::SlackMessageContent::new().with_text(text);
        let response = crate::outbound::slack::Response::ephemeral(content);
        if let Err(e) = self.slack.respond(response_url, &response).await {
            tracing::warn!(error = %e, "cannot answer through response_url");
        }
    }

    /// The cluster list and where it came from; names that are not well-formed are dropped.
    fn known_clusters(&self) -> (Vec<Cluster>, &'static str) {
        let (names, source) = match self.clusters.as_ref().and_then(StringList::current) {
            Some(list) => (list.to_vec(), "Parameter Store"),
            None => (self.settings.fallback_clusters.clone(), "configuration"),
        };
        let mut clusters: Vec<Cluster> = names
            .iter()
            .filter_map(|n| {
                let c = Cluster::parse(n);
                if c.is_none() {
                    tracing::warn!(name = %crate::ids::shorten(n), "ignoring a malformed cluster name in the cluster list");
                }
                c
            })
            .collect();
        clusters.sort();
        clusters.dedup();
        (clusters, source)
    }

    async fn answer(&self, channel: ChannelId, ask: Ask, clusters: Vec<Cluster>, key: Key) {
        let window = Window::ending_at((self.clock)(), ask.hours);
        let layouts: Vec<(Cluster, SourceLayout)> = clusters
            .iter()
            .map(|c| (c.clone(), self.settings.layout(c.as_str())))
            .collect();
        let Some(sql) = sql::statement(
            ask.question,
            &self.settings.layout,
            &layouts,
            &window,
            ask.top,
            ask.query,
        ) else {
            return;
        };
        let fresh_sql = sql::freshness(ask.question, &self.settings.layout, &layouts, &window);
        let (result, freshness) = tokio::join!(self.run(&sql), async {
            let sql = fresh_sql?;
            self.run(&sql)
                .await
                .inspect_err(|error| tracing::warn!(%error, "the freshness check failed"))
                .ok()
        });
        match result {
            Ok(output) => {
                let answer = Arc::new(Answer {
                    output,
                    window,
                    freshness,
                });
                self.cache.put(key, answer.clone());
                self.post(&channel, &ask, &clusters, &answer, None).await;
            }
            Err(error) => {
                let text = failure_text(&error, &self.settings);
                self.send(&channel, render::notice(&text)).await;
            }
        }
    }

    /// Runs `sql` on Athena in its own span.
    async fn run(&self, sql: &str) -> Result<QueryOutput, AthenaError> {
        let span = tracing::info_span!("athena", query_execution_id = tracing::field::Empty);
        let spec = QuerySpec {
            sql,
            workgroup: &self.settings.workgroup,
            database: &self.settings.database,
            output_location: &self.settings.output_location,
            timeout: self.settings.query_timeout(),
        };
        tracing::Instrument::instrument(self.athena.run(&spec), span).await
    }

    /// Posts `answer` with its freshness (and the chart of `hourly` and `queues`).
    async fn post(
        &self,
        channel: &ChannelId,
        ask: &Ask,
        clusters: &[Cluster],
        answer: &Answer,
        cached_secs: Option<u64>,
    ) {
        let (table, chart) = tables::build(ask.question, &answer.output, &answer.window);
        let scope = format!(
            "{} · last {}",
            scope_clusters(clusters),
            hours_text(ask.hours)
        );
        let framing = Framing {
            question: ask.question,
            scope: &scope,
            stats: answer.output.stats,
            price_per_tb_usd: self.settings.price_per_tb_usd,
            cached_secs,
            notes: match &answer.freshness {
                Some(rows) => {
                    freshness::notes(rows, clusters, (self.clock)(), self.settings.stale_after())
                }
                None => vec!["Freshness unknown: the check did not answer.".into()],
            },
        };
        if !self.send(channel, render::answer(&table, &framing)).await {
            return;
        }
        if let Some(chart) = chart {
            let title = format!("{} · {scope}", ask.question.title());
            self.upload_chart(channel, &table, &chart, &answer.window, &title)
                .await;
        }
    }

    async fn upload_chart(
        &self,
        channel: &ChannelId,
        table: &Table,
        chart: &tables::Chart,
        window: &Window,
        title: &str,
    ) {
        let (png, filename, alt) = match chart {
            tables::Chart::Hourly(hourly) => {
                let hours = u32::try_from((window.until - window.since).num_hours()).unwrap_or(0);
                (
                    chart::hourly_png(&hourly.series(hours), window.since, hours, title),
                    "redshift-hourly.png",
                    format!(
                        "Queries per hour, one line per cluster ({}), {} hours with queries",
                        table.headers[1..].join(", "),
                        table.rows.len()
                    ),
                )
            }
            tables::Chart::Queues(bars) => (
                chart::queues_png(bars, title),
                "redshift-queues.png",
                format!(
                    "Median queue wait and execution time per WLM queue: {}",
                    bars.iter()
                        .map(|b| format!("{} {:.2} s / {:.2} s", b.label, b.queue_s, b.exec_s))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        };
        let png = match png {
            Ok(png) => png,
            Err(error) => {
                tracing::error!(%error, "cannot draw the chart");
                return;
            }
        };
        let upload = FileUpload {
            filename,
            title,
            alt_text: &crate::outbound::slack::mrkdwn::cut(&alt, 1000),
            comment: title,
            content_type: "image/png",
            bytes: &png,
        };
        if let Err(error) = self.slack.upload_file(channel, &upload).await {
            tracing::error!(%error, "cannot upload the chart");
        }
    }

    /// Posts rendered content; false when it could not be posted (logged here).
    async fn send(
        &self,
        channel: &ChannelId,
        content: Result<
            slack_morphism::prelude::SlackMessageContent,
            crate::outbound::slack::mrkdwn::RenderError,
        >,
    ) -> bool {
        let result = match content {
            Ok(content) => self
                .slack
                .post(channel, content, None)
                .await
                .map_err(anyhow::Error::from),
            Err(e) => Err(anyhow::Error::from(e)),
        };
        result
            .inspect_err(|error| tracing::error!(error = %format!("{error:#}"), "cannot post the Redshift answer"))
            .is_ok()
    }
}

/// What the user reads when the query did not succeed: Athena's reason, never a stack trace.
fn failure_text(error: &AthenaError, settings: &RedshiftAlertsSettings) -> String {
    use crate::outbound::slack::mrkdwn::{cut, escape};
    match error {
        AthenaError::Failed { reason } => format!(
            ":x: Athena could not answer: ```{}```",
            cut(&escape(&reason.replace('`', "'")), 1500)
        ),
        AthenaError::Cancelled { reason } => format!(
            ":x: The query was cancelled ({}); the workgroup `{}` may have hit its scan limit.",
            cut(&escape(&reason.replace('`', "'")), 500),
            settings.workgroup
        ),
        AthenaError::TimedOut { after, stopped } => format!(
            ":hourglass: The query did not finish within {} s{}. Try a shorter window or fewer clusters.",
            after.as_secs_f64(),
            if *stopped {
                " and was stopped"
            } else {
                "; stopping it failed, so the workgroup's own limit will end it"
            }
        ),
        AthenaError::Api { .. } => Failure::internal(anyhow::anyhow!("Athena call failed: {error}"))
            .reply(),
    }
}

/// Named clusters must all be in the list; `all` is the whole list.
fn resolve(selection: &Selection, known: &[Cluster]) -> Result<Vec<Cluster>, UserError> {
    if known.is_empty() {
        return Err(UserError::new(
            "No Redshift clusters are known yet (the cluster list is empty).",
        ));
    }
    match selection {
        Selection::All => Ok(known.to_vec()),
        Selection::Named(names) => {
            let unknown: Vec<&str> = names
                .iter()
                .filter(|n| !known.contains(n))
                .map(Cluster::as_str)
                .collect();
            if unknown.is_empty() {
                Ok(names.iter().cloned().collect())
            } else {
                Err(UserError::new(format!(
                    "Unknown cluster(s): {}. Known: {}.",
                    unknown.join(", "),
                    list(known)
                )))
            }
        }
    }
}

/// The resolved `clusters` the user may ask about: named ones must all be `allowed`, `all`
/// keeps the allowed ones.
fn narrow(
    selection: &Selection,
    clusters: Vec<Cluster>,
    allowed: &Clusters,
) -> Result<Vec<Cluster>, UserError> {
    let (mine, others): (Vec<Cluster>, Vec<Cluster>) = clusters
        .into_iter()
        .partition(|c| allowed.allows(c.as_str()));
    match selection {
        Selection::Named(_) if !others.is_empty() => Err(UserError::new(format!(
            "You may not ask about {} here; nothing was run.",
            list(&others)
        ))),
        _ if mine.is_empty() => Err(UserError::new(
            "You may ask about none of the known clusters here; nothing was run.",
        )),
        _ => Ok(mine),
    }
}

fn list(clusters: &[Cluster]) -> String {
    clusters
        .iter()
        .map(Cluster::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn help(known: &[Cluster], source: &str) -> String {
    format!(
        "{}\nKnown clusters (from {source}): {}.",
        parse::USAGE,
        if known.is_empty() {
            "none".to_owned()
        } else {
            list(known)
        }
    )
}

fn scope_clusters(clusters: &[Cluster]) -> String {
    match clusters {
        [one] => one.to_string(),
        many => format!("{} clusters", many.len()),
    }
}

fn hours_text(hours: u32) -> String {
    if hours % 24 == 0 {
        format!("{}d", hours / 24)
    } else {
        format!("{hours}h")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clusters(names: &[&str]) -> Vec<Cluster> {
        names.iter().filter_map(|n| Cluster::parse(n)).collect()
    }

    #[test]
    fn named_clusters_must_be_in_the_list() {
        let known = clusters(&["bi-prod", "etl-prod"]);
        let named = |n: &[&str]| Selection::Named(clusters(n).into_iter().collect());
        assert_eq!(resolve(&Selection::All, &known), Ok(known.clone()));
        assert_eq!(
            resolve(&named(&["etl-prod"]), &known),
            Ok(clusters(&["etl-prod"]))
        );
        let err = resolve(&named(&["etl-prod", "ghost"]), &known).expect_err("unknown");
        assert!(err.0.contains("Unknown cluster(s): ghost"), "{err}");
        assert!(resolve(&Selection::All, &[]).is_err());
    }

    #[test]
    fn windows_read_as_days_when_whole() {
        assert_eq!(hours_text(168), "7d");
        assert_eq!(hours_text(36), "36h");
    }
}
