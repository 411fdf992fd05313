//! Process metrics and health marks: lock-free counters and one histogram (one process-wide
//! [`METRICS`], as Prometheus clients usually keep one registry), rendered in the Prometheus
//! text format for `/metrics`; and [`Health`], the times one app's dependencies last answered,
//! for `/healthz` (see `inbound::health`). Recording is a relaxed atomic add or store, cheap
//! enough for the ack path.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The process's metrics.
pub static METRICS: Metrics = Metrics::new();

/// Upper bounds (seconds) of the ack-latency histogram buckets: the budget is a few ms.
const ACK_BUCKETS: [f64; 8] = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25];

/// A monotonically increasing count.
#[derive(Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A cumulative histogram over fixed buckets.
#[derive(Debug)]
pub struct Histogram {
    buckets: [AtomicU64; ACK_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    const fn new() -> Self {
        Self {
            buckets: [const { AtomicU64::new(0) }; ACK_BUCKETS.len()],
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (bound, bucket) in ACK_BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
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

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// One labelled series of a counter family.
type Series<'a> = (&'a str, &'a Counter);

/// When one app's dependencies last answered (the Slack tokens' reads are marked by the
/// token store itself).
#[derive(Debug, Default)]
pub struct Health {
    /// A Socket Mode `hello` arrived (a socket is connected).
    pub socket_hello: Mark,
    /// A `ReceiveMessage` on the approval queue succeeded.
    pub queue_polled: Mark,
    /// A `ReceiveMessage` on the pipeline-events queue succeeded.
    pub events_polled: Mark,
}

/// Every metric of the process.
#[derive(Debug)]
pub struct Metrics {
    /// Socket Mode envelopes handed to a callback.
    pub envelopes: Counter,
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
}

impl Metrics {
    const fn new() -> Self {
        Self {
            envelopes: Counter::new(),
            ack_latency: Histogram::new(),
            approvals_recorded: Counter::new(),
            approvals_refused: Counter::new(),
            approvals_failed: Counter::new(),
            sqs_received: Counter::new(),
            sqs_deleted: Counter::new(),
            sqs_failed: Counter::new(),
            athena_queries: Counter::new(),
            athena_bytes_scanned: Counter::new(),
        }
    }

    /// The Prometheus text exposition (version 0.0.4) of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &[Series<'_>]); 5] = [
            (
                "chatops_envelopes_total",
                "Socket Mode envelopes received.",
                &[("", &self.envelopes)],
            ),
            (
                "chatops_approvals_total",
                "Approval clicks by outcome.",
                &[
                    ("outcome=\"recorded\"", &self.approvals_recorded),
                    ("outcome=\"refused\"", &self.approvals_refused),
                    ("outcome=\"failed\"", &self.approvals_failed),
                ],
            ),
            (
                "chatops_sqs_messages_total",
                "Approval queue messages by what became of them.",
                &[
                    ("state=\"received\"", &self.sqs_received),
                    ("state=\"deleted\"", &self.sqs_deleted),
                    ("state=\"failed\"", &self.sqs_failed),
                ],
            ),
            (
                "chatops_athena_queries_total",
                "Athena queries started.",
                &[("", &self.athena_queries)],
            ),
            (
                "chatops_athena_scanned_bytes_total",
                "Bytes scanned by Athena queries.",
                &[("", &self.athena_bytes_scanned)],
            ),
        ];
        for (name, help, series) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, counter) in series {
                let labels = if labels.is_empty() {
                    String::new()
                } else {
                    format!("{{{labels}}}")
                };
                let _ = writeln!(out, "{name}{labels} {}", counter.get());
            }
        }
        let h = &self.ack_latency;
        let name = "chatops_ack_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from receiving an envelope to acking it.\n# TYPE {name} histogram"
        );
        for (bound, bucket) in ACK_BUCKETS.iter().zip(&h.buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = h.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
        out
    }
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
            text.contains("# TYPE chatops_envelopes_total counter\nchatops_envelopes_total 3\n")
        );
        assert!(text.contains("chatops_approvals_total{outcome=\"recorded\"} 1\n"));
        assert!(text.contains("chatops_approvals_total{outcome=\"failed\"} 0\n"));
        assert!(text.contains("chatops_ack_latency_seconds_bucket{le=\"0.0001\"} 0\n"));
        assert!(text.contains("chatops_ack_latency_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(text.contains("chatops_ack_latency_seconds_bucket{le=\"0.05\"} 2\n"));
        assert!(text.contains("chatops_ack_latency_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("chatops_ack_latency_seconds_count 2\n"));
        assert!(text.contains("chatops_ack_latency_seconds_sum 0.0203\n"));
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
}
