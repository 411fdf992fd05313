//! Query rows → what is shown (pure): a [`Table`] per question, and for `hourly` and `queues`
//! what their chart draws. The first three questions' rows are sorted here (their SQL has no
//! order); the others come ordered by their SQL.

use chrono::{DateTime, NaiveDateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

use super::chart::{QueueBar, Series};
use super::parse::Question;
use super::render::{short, Columns, Table};
use super::sql::Window;
use crate::outbound::athena::QueryOutput;
use crate::outbound::slack::mrkdwn::cut;

/// The hourly counts: per cluster, per hour index within the window.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hourly {
    pub counts: BTreeMap<String, BTreeMap<u32, u64>>,
}

impl Hourly {
    /// The series to draw, one per cluster in name order, with a point for every hour of the
    /// window (0 where no query started).
    pub fn series(&self, hours: u32) -> Vec<Series<'_>> {
        self.counts
            .iter()
            .map(|(name, counts)| Series {
                name,
                points: (0..hours)
                    .map(|h| (h, counts.get(&h).copied().unwrap_or(0)))
                    .collect(),
            })
            .collect()
    }
}

/// What a question's chart draws.
pub enum Chart {
    Hourly(Hourly),
    Queues(Vec<QueueBar>),
}

/// The table for `question`, and its chart when it has one and there is something to draw.
pub fn build(question: Question, output: &QueryOutput, window: &Window) -> (Table, Option<Chart>) {
    match question {
        Question::Alerts => (alerts(output), None),
        Question::Queues => {
            let bars = queue_bars(output);
            (
                queues(output),
                (!bars.is_empty()).then_some(Chart::Queues(bars)),
            )
        }
        Question::Hourly => {
            let hourly = hourly(output, window);
            let table = hourly_table(&hourly, window);
            (
                table,
                (!hourly.counts.is_empty()).then_some(Chart::Hourly(hourly)),
            )
        }
        Question::Statements
        | Question::Waits
        | Question::NestLoops
        | Question::Tables
        | Question::Slow
        | Question::Aborted
        | Question::Scans
        | Question::Stats
        | Question::Ddl
        | Question::Utility => (as_ordered(output), None),
        Question::Query => (story(output), None),
    }
}

/// The longest text shown for one query.
const STORY_TEXT: usize = 1500;

/// One query's parts in the SQL's order, its text chunks joined into one row.
fn story(output: &QueryOutput) -> Table {
    let col = Columns::new(output);
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut text = String::new();
    for r in &output.rows {
        match col.get(r, "part") {
            // Chunks come in `sequence` order; spaces at a chunk's end are the text's own.
            "text" => text.push_str(col.get(r, "detail")),
            part => {
                if !text.is_empty() {
                    rows.push(vec!["text".into(), cut(text.trim(), STORY_TEXT)]);
                    text.clear();
                }
                rows.push(vec![
                    part.to_owned(),
                    col.get(r, "detail").trim_end().to_owned(),
                ]);
            }
        }
    }
    if !text.is_empty() {
        rows.push(vec!["text".into(), cut(text.trim(), STORY_TEXT)]);
    }
    Table {
        headers: headers(&["part", "detail"]),
        numeric: vec![false, false],
        rows,
    }
}

/// The rows as the SQL ordered them (it sorts after joining the layouts), one column per
/// output column: `snake_case` names read as words, number columns right-aligned, free text cut.
fn as_ordered(output: &QueryOutput) -> Table {
    let is_number = |i: usize| {
        output.rows.iter().all(|r| {
            r.get(i)
                .and_then(Option::as_deref)
                .is_none_or(|v| v.parse::<f64>().is_ok())
        })
    };
    Table {
        headers: output.columns.iter().map(|c| c.replace('_', " ")).collect(),
        numeric: (0..output.columns.len()).map(is_number).collect(),
        rows: output
            .rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| short(v.as_deref().unwrap_or_default()))
                    .collect()
            })
            .collect(),
    }
}

fn headers(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

fn number(text: &str) -> u64 {
    text.trim().parse().unwrap_or(0)
}

/// `2026-11-03 10:15:00[.000]` → `2026-11-03 10:15` (both engines' text forms).
fn minute(text: &str) -> String {
    text.chars().take(16).collect()
}

fn alerts(output: &QueryOutput) -> Table {
    let col = Columns::new(output);
    let mut rows: Vec<(String, u64, Vec<String>)> = output
        .rows
        .iter()
        .map(|r| {
            let count = number(col.get(r, "occurrences"));
            let cells = vec![
                col.get(r, "cluster").to_owned(),
                count.to_string(),
                number(col.get(r, "queries")).to_string(),
                minute(col.get(r, "last_seen")),
                short(col.get(r, "event")),
                short(col.get(r, "solution")),
            ];
            (cells[0].clone(), count, cells)
        })
        .collect();
    rows.sort_by(|a, b| {
        (&a.0, std::cmp::Reverse(a.1), &a.2[4]).cmp(&(&b.0, std::cmp::Reverse(b.1), &b.2[4]))
    });
    Table {
        headers: headers(&[
            "cluster",
            "count",
            "queries",
            "last seen (UTC)",
            "event",
            "solution",
        ]),
        numeric: vec![false, true, true, false, false, false],
        rows: rows.into_iter().map(|(_, _, cells)| cells).collect(),
    }
}

/// Microseconds as seconds with two decimals.
fn seconds(us: &str) -> String {
    #[expect(clippy::cast_precision_loss, reason = "display only")]
    let s = number(us) as f64 / 1e6;
    format!("{s:.2}")
}

fn queues(output: &QueryOutput) -> Table {
    let col = Columns::new(output);
    let mut rows: Vec<(String, u64, Vec<String>)> = output
        .rows
        .iter()
        .map(|r| {
            let class = number(col.get(r, "service_class"));
            let mut cells = vec![
                col.get(r, "cluster").to_owned(),
                class.to_string(),
                number(col.get(r, "queries")).to_string(),
            ];
            cells.extend(
                [
                    "queue_p50_us",
                    "queue_p95_us",
                    "queue_max_us",
                    "exec_p50_us",
                    "exec_p95_us",
                    "exec_max_us",
                ]
                .iter()
                .map(|c| seconds(col.get(r, c))),
            );
            (cells[0].clone(), class, cells)
        })
        .collect();
    rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    Table {
        headers: headers(&[
            "cluster",
            "class",
            "queries",
            "queue p50 s",
            "p95",
            "max",
            "exec p50 s",
            "p95",
            "max",
        ]),
        numeric: vec![false, true, true, true, true, true, true, true, true],
        rows: rows.into_iter().map(|(_, _, cells)| cells).collect(),
    }
}

/// A bar pair per queue: median queue wait and execution time in seconds, in table order.
fn queue_bars(output: &QueryOutput) -> Vec<QueueBar> {
    let col = Columns::new(output);
    let seconds =
        |r: &[Option<String>], c: &str| col.get(r, c).trim().parse::<f64>().unwrap_or(0.0) / 1e6;
    let mut bars: Vec<(String, u64, QueueBar)> = output
        .rows
        .iter()
        .map(|r| {
            let cluster = col.get(r, "cluster").to_owned();
            let class = number(col.get(r, "service_class"));
            let bar = QueueBar {
                label: format!("{cluster}/{class}"),
                queue_s: seconds(r, "queue_p50_us"),
                exec_s: seconds(r, "exec_p50_us"),
            };
            (cluster, class, bar)
        })
        .collect();
    bars.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    bars.into_iter().map(|(_, _, bar)| bar).collect()
}

fn hourly(output: &QueryOutput, window: &Window) -> Hourly {
    let col = Columns::new(output);
    let mut hourly = Hourly::default();
    for r in &output.rows {
        let text = col.get(r, "hour_start");
        let Ok(hour) = NaiveDateTime::parse_from_str(
            &format!("{}:00:00", text.chars().take(13).collect::<String>()),
            "%Y-%m-%d %H:%M:%S",
        ) else {
            continue;
        };
        let offset = (hour.and_utc() - window.since).num_hours();
        let Ok(index) = u32::try_from(offset) else {
            continue;
        };
        *hourly
            .counts
            .entry(col.get(r, "cluster").to_owned())
            .or_default()
            .entry(index)
            .or_default() += number(col.get(r, "queries"));
    }
    hourly
}

/// One row per hour that has queries, one column per cluster.
fn hourly_table(hourly: &Hourly, window: &Window) -> Table {
    let hours: BTreeSet<u32> = hourly
        .counts
        .values()
        .flat_map(|m| m.keys().copied())
        .collect();
    let rows = hours
        .into_iter()
        .map(|h| {
            let at: DateTime<Utc> = window.since + chrono::Duration::hours(i64::from(h));
            std::iter::once(at.format("%m-%d %H:00").to_string())
                .chain(
                    hourly
                        .counts
                        .values()
                        .map(|m| m.get(&h).copied().unwrap_or(0).to_string()),
                )
                .collect()
        })
        .collect();
    Table {
        headers: std::iter::once("hour (UTC)".to_owned())
            .chain(hourly.counts.keys().cloned())
            .collect(),
        numeric: std::iter::once(false)
            .chain(hourly.counts.keys().map(|_| true))
            .collect(),
        rows,
    }
}
