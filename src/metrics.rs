//! Process metrics and health marks.
//!
//! [`METRICS`]: the process's counters and ack-latency histogram, kept by `prometheus-client` in
//! one registry for the process (as Prometheus clients usually keep one) and rendered in the
//! Prometheus text format (version 0.0.4) for `/metrics`. Every series is registered once, at
//! first use, and the handles are kept: recording is an atomic add (a counter) or a short
//! uncontended lock (the histogram), with no lookup and no allocation, cheap enough for the ack
//! path.
//!
//! [`Health`]: the times one app's dependencies last answered, for `/healthz` (see
//! `inbound::health`). These marks are not metrics (one set per app, read back by the app
//! itself), so they stay a relaxed atomic store and load each.

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter as Series;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram as Buckets;
use prometheus_client::registry::{Metric, Registry};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Upper bounds (seconds) of the ack-latency histogram buckets: the budget is a few ms.
const ACK_BUCKETS: [f64; 8] = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25];

/// A counter family with one label.
type Labelled = Family<[(&'static str, &'static str); 1], Series>;

/// A monotonically increasing count: one registered series.
#[derive(Debug)]
pub struct Counter(Series);

impl Counter {
    /// The count so far.
    pub fn get(&self) -> u64 {
        self.0.get()
    }

    /// Adds one.
    pub fn inc(&self) {
        self.0.inc();
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.inc_by(n);
    }
}

/// A cumulative histogram over [`ACK_BUCKETS`].
#[derive(Debug)]
pub struct Histogram(Buckets);

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        self.0.observe(d.as_secs_f64());
    }
}

/// When a dependency last answered well (seconds since the Unix epoch; 0 = never).
#[derive(Debug, Default)]
pub struct Mark(AtomicU64);

impl Mark {
    /// Records "just now".
    pub fn now(&self) {
        self.0.store(unix_now(), Ordering::Relaxed);
    }

    /// Whether it was marked within `max_age`.
    pub fn within(&self, max_age: Duration) -> bool {
        let at = self.0.load(Ordering::Relaxed);
        at > 0 && unix_now().saturating_sub(at) <= max_age.as_secs()
    }
}

/// The outcomes of the calls to a dependency called on demand (CodePipeline, the Slack Web
/// API): when one last got an answer and when one last failed for want of one (throttled past
/// the SDK's retries, timed out, unreachable, a server error), in milliseconds since the Unix
/// epoch (0 = never).
#[derive(Debug, Default)]
pub struct Calls {
    answered: AtomicU64,
    failed: AtomicU64,
}

impl Calls {
    /// A call got an answer (an error the service chose to give, such as "already decided",
    /// is an answer).
    pub fn answered(&self) {
        self.answered.store(unix_now_ms(), Ordering::Relaxed);
    }

    /// A call got no usable answer.
    pub fn failed(&self) {
        self.failed.store(unix_now_ms(), Ordering::Relaxed);
    }

    /// False while a call failed within `window` and none got an answer since: a failure is
    /// cleared by the next answer, or forgotten after `window` when nothing calls again.
    pub fn answering(&self, window: Duration) -> bool {
        let failed = self.failed.load(Ordering::Relaxed);
        let recent = unix_now_ms().saturating_sub(failed) <= millis(window);
        failed == 0 || !recent || self.answered.load(Ordering::Relaxed) > failed
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(millis)
        .unwrap_or_default()
}

fn unix_now() -> u64 {
    unix_now_ms() / 1000
}

/// The Socket Mode connections that said `hello`, each with when it was last heard from: a
/// socket counts for `/healthz` only while it is registered (between its `hello` and its end)
/// and heard from recently.
#[derive(Debug, Default)]
pub struct Sockets {
    live: Mutex<Vec<(u64, Arc<Mark>)>>,
    next: AtomicU64,
}

impl Sockets {
    /// Registers a socket that just said `hello`; it counts until the returned guard is dropped.
    pub fn register(self: &Arc<Self>) -> SocketMark {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mark = Arc::new(Mark::default());
        mark.now();
        self.lock().push((id, mark.clone()));
        SocketMark {
            sockets: self.clone(),
            id,
            mark,
        }
    }

    /// How many registered sockets were heard from within `max_age`.
    pub fn live(&self, max_age: Duration) -> usize {
        self.lock()
            .iter()
            .filter(|(_, mark)| mark.within(max_age))
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Arc<Mark>)>> {
        // Nothing panics while holding the lock: a poisoned list is still a valid list.
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One registered socket: [`SocketMark::heard`] on every frame; dropping it unregisters.
#[derive(Debug)]
pub struct SocketMark {
    sockets: Arc<Sockets>,
    id: u64,
    mark: Arc<Mark>,
}

impl SocketMark {
    /// The socket just delivered a frame (an envelope, a ping, a pong).
    pub fn heard(&self) {
        self.mark.now();
    }
}

impl Drop for SocketMark {
    fn drop(&mut self) {
        self.sockets.lock().retain(|(id, _)| *id != self.id);
    }
}

/// When one app's dependencies last answered (the Slack tokens' reads are marked by the
/// token store itself).
#[derive(Debug, Default)]
pub struct Health {
    /// The Socket Mode connections that said `hello` and have not ended.
    pub sockets: Arc<Sockets>,
    /// A `ReceiveMessage` on the approval queue succeeded.
    pub queue_polled: Mark,
    /// A `ReceiveMessage` on the pipeline-events queue succeeded.
    pub events_polled: Mark,
    /// CodePipeline's calls, observed by the client itself (`outbound::codepipeline`).
    pub codepipeline: Calls,
    /// The Slack Web API's calls, observed by the client itself (`outbound::slack`).
    pub slack_api: Calls,
}

/// Every metric of the process, and the registry that renders them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Socket Mode envelopes received.
    pub envelopes: Counter,
    /// Envelopes whose work was refused because the in-flight bound was reached.
    pub work_refused: Counter,
    /// Time from a callback's start to its return, i.e. to the ack.
    pub ack_latency: Histogram,
    /// Approval decisions by outcome.
    pub approvals_recorded: Counter,
    pub approvals_refused: Counter,
    pub approvals_failed: Counter,
    /// SQS messages received, deleted after handling, and hidden for another try or the DLQ.
    pub sqs_received: Counter,
    pub sqs_deleted: Counter,
    pub sqs_failed: Counter,
    /// Athena queries started, and bytes they scanned.
    pub athena_queries: Counter,
    pub athena_bytes_scanned: Counter,
    /// Requests to the state store: reads (`GetItem`, a `Query` page) and writes (`PutItem`,
    /// `DeleteItem`), what DynamoDB bills.
    pub state_reads: Counter,
    pub state_writes: Counter,
}

impl Metrics {
    /// Registers every series (each renders, at 0, before it is first counted). Counter names
    /// go without `_total` and help texts without their final period: the encoder adds both.
    fn new() -> Self {
        let mut registry = Registry::default();
        let r = &mut registry;
        let [envelopes, work_refused, athena_queries, athena_bytes_scanned] = [
            ("chatops_envelopes", "Socket Mode envelopes received"),
            (
                "chatops_work_refused",
                "Envelopes refused because too much work was in flight",
            ),
            ("chatops_athena_queries", "Athena queries started"),
            (
                "chatops_athena_scanned_bytes",
                "Bytes scanned by Athena queries",
            ),
        ]
        .map(|(name, help)| Counter(register(r, name, help, Series::default())));
        let [approvals, sqs, state] = [
            ("chatops_approvals", "Approval clicks by outcome"),
            (
                "chatops_sqs_messages",
                "Approval queue messages by what became of them",
            ),
            ("chatops_state_requests", "State store requests by kind"),
        ]
        .map(|(name, help)| register(r, name, help, Labelled::default()));
        let ack_latency = Histogram(register(
            r,
            "chatops_ack_latency_seconds",
            "Time from receiving an envelope to acking it",
            Buckets::new(ACK_BUCKETS),
        ));
        let series = |family: &Labelled, label| Counter(family.get_or_create(&[label]).clone());
        Self {
            envelopes,
            work_refused,
            ack_latency,
            approvals_recorded: series(&approvals, ("outcome", "recorded")),
            approvals_refused: series(&approvals, ("outcome", "refused")),
            approvals_failed: series(&approvals, ("outcome", "failed")),
            sqs_received: series(&sqs, ("state", "received")),
            sqs_deleted: series(&sqs, ("state", "deleted")),
            sqs_failed: series(&sqs, ("state", "failed")),
            athena_queries,
            athena_bytes_scanned,
            state_reads: series(&state, ("kind", "read")),
            state_writes: series(&state, ("kind", "write")),
            registry,
        }
    }

    /// The Prometheus text exposition (version 0.0.4) of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_text::encode(&mut text, &self.registry) {
            tracing::warn!(%error, "the metrics could not be rendered in full");
        }
        text
    }
}

/// Registers `metric` as `name` in `registry` and hands it back (the registry keeps a clone
/// sharing its values).
fn register<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_the_histogram_render_in_prometheus_text_format() {
        let m = Metrics::new();
        m.envelopes.add(3);
        m.approvals_recorded.inc();
        m.ack_latency.observe(Duration::from_micros(300));
        m.ack_latency.observe(Duration::from_millis(20));
        let text = m.render();
        assert!(
            text.contains(
                "# HELP chatops_envelopes_total Socket Mode envelopes received.\n\
                 # TYPE chatops_envelopes_total counter\nchatops_envelopes_total 3\n"
            ),
            "{text}"
        );
        assert!(text.contains("chatops_approvals_total{outcome=\"recorded\"} 1\n"));
        assert!(text.contains("chatops_approvals_total{outcome=\"failed\"} 0\n"));
        assert!(text.contains("chatops_sqs_messages_total{state=\"deleted\"} 0\n"));
        assert!(text.contains("chatops_state_requests_total{kind=\"write\"} 0\n"));
        assert!(text.contains("# TYPE chatops_athena_scanned_bytes_total counter\n"));
        assert!(text.contains("# TYPE chatops_ack_latency_seconds histogram\n"));
        assert!(text.contains("chatops_ack_latency_seconds_bucket{le=\"0.0001\"} 0\n"));
        assert!(text.contains("chatops_ack_latency_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(text.contains("chatops_ack_latency_seconds_bucket{le=\"0.05\"} 2\n"));
        assert!(text.contains("chatops_ack_latency_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("chatops_ack_latency_seconds_count 2\n"));
        let sum: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("chatops_ack_latency_seconds_sum "))
            .and_then(|v| v.parse().ok())
            .expect("a sum line");
        assert!((sum - 0.0203).abs() < 1e-9, "{sum}");
    }
}

#[cfg(test)]
mod mark_tests {
    use super::*;

    #[test]
    fn a_mark_is_fresh_only_after_it_was_set_and_within_its_age() {
        let mark = Mark::default();
        assert!(!mark.within(Duration::from_secs(3600)));
        mark.now();
        assert!(mark.within(Duration::from_secs(60)));
        mark.0.store(unix_now() - 120, Ordering::Relaxed);
        assert!(!mark.within(Duration::from_secs(60)));
    }

    #[test]
    fn a_socket_counts_while_registered_and_recently_heard_from() {
        let sockets = Arc::new(Sockets::default());
        assert_eq!(sockets.live(Duration::from_secs(30)), 0);
        let first = sockets.register();
        let second = sockets.register();
        assert_eq!(sockets.live(Duration::from_secs(30)), 2);
        second.mark.0.store(unix_now() - 120, Ordering::Relaxed);
        assert_eq!(sockets.live(Duration::from_secs(30)), 1, "a silent socket");
        second.heard();
        assert_eq!(sockets.live(Duration::from_secs(30)), 2);
        drop(first);
        assert_eq!(sockets.live(Duration::from_secs(30)), 1, "an ended socket");
    }

    #[test]
    fn a_failed_call_fails_the_dependency_until_an_answer_or_the_window_passes() {
        let window = Duration::from_secs(60);
        let calls = Calls::default();
        assert!(calls.answering(window), "never called");
        calls.answered();
        assert!(calls.answering(window));
        calls.failed.store(unix_now_ms() + 1, Ordering::Relaxed);
        assert!(!calls.answering(window), "failed, no answer since");
        calls.answered.store(unix_now_ms() + 2, Ordering::Relaxed);
        assert!(calls.answering(window), "answered since");
        let calls = Calls::default();
        calls
            .failed
            .store(unix_now_ms() - 61_000, Ordering::Relaxed);
        assert!(
            calls.answering(window),
            "failed long ago, nothing called since"
        );
    }
}
