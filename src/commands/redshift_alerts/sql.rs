//! The questions as SQL, as templates under `sql/`: one per question (`alerts.sql`, …: the
//! aggregation) and one per question and source layout (`provisioned/…`, `serverless/…`: the
//! rows, read from that layout's tables). A question over clusters of both layouts joins the
//! row templates with `UNION ALL`. Adding a question or a layout is adding templates and rows
//! in [`QUESTIONS`] / [`SOURCES`].
//!
//! Templates are filled only with checked values: [`Cluster`] names, dates and timestamps
//! formatted here, a number, and the export's names from [`ExportLayout`] (checked at boot).
//! Placeholders: `{{table stl_query}}` (the table with the layout's prefix), `{{cluster}}` /
//! `{{cluster q}}` (the cluster partition column, optionally of alias `q`),
//! `{{partitions}}` / `{{partitions q}}` (pruning by cluster and day: the Hive folders of the
//! export), `{{since}}` and `{{until}}` (the window), `{{query}}` (the query id of `query`),
//! and in aggregations `{{rows}}`, `{{top}}` and `{{statement_text}}` ([`STATEMENT_TEXT`]).
//! The SQL sticks to what Athena (Trino) and DuckDB both run: no `approx_percentile`, aliased
//! columns, no `WITH`.

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::parse::{Cluster, Question};
use crate::config::{ExportLayout, SourceLayout};

/// `{{statement_text}}` in an aggregation: a statement's text from its rows' `sequence` and
/// `text` (200-character chunks), the first five joined in order and trimmed (more than a
/// Slack cell shows). Conditional aggregation, because Trino's `array_join` and DuckDB's
/// `string_agg` have no form both run.
const STATEMENT_TEXT: &str = "trim(coalesce(MAX(CASE WHEN sequence = 0 THEN text END), '')
           || coalesce(MAX(CASE WHEN sequence = 1 THEN text END), '')
           || coalesce(MAX(CASE WHEN sequence = 2 THEN text END), '')
           || coalesce(MAX(CASE WHEN sequence = 3 THEN text END), '')
           || coalesce(MAX(CASE WHEN sequence = 4 THEN text END), ''))";

/// The aggregation of each question, over `{{rows}}`.
const QUESTIONS: &[(Question, &str)] = &[
    (Question::Alerts, include_str!("sql/alerts.sql")),
    (Question::Hourly, include_str!("sql/hourly.sql")),
    (Question::Queues, include_str!("sql/queues.sql")),
    (Question::Statements, include_str!("sql/statements.sql")),
    (Question::Waits, include_str!("sql/waits.sql")),
    (Question::NestLoops, include_str!("sql/nestloops.sql")),
    (Question::Tables, include_str!("sql/tables.sql")),
    (Question::Slow, include_str!("sql/slow.sql")),
    (Question::Aborted, include_str!("sql/aborted.sql")),
    (Question::Scans, include_str!("sql/scans.sql")),
    (Question::Stats, include_str!("sql/stats.sql")),
    (Question::Ddl, include_str!("sql/changes.sql")),
    (Question::Utility, include_str!("sql/changes.sql")),
    (Question::Query, include_str!("sql/query.sql")),
];

/// The rows of each question, per source layout: every question has one for each.
const SOURCES: &[(Question, SourceLayout, &str)] = &[
    (
        Question::Alerts,
        SourceLayout::Provisioned,
        include_str!("sql/provisioned/alerts.sql"),
    ),
    (
        Question::Hourly,
        SourceLayout::Provisioned,
        include_str!("sql/provisioned/hourly.sql"),
    ),
    (
        Question::Queues,
        SourceLayout::Provisioned,
        include_str!("sql/provisioned/queues.sql"),
    ),
    (
        Question::Statements,
        SourceLayout::Provisioned,
        include_str!("sql/provisioned/statements.sql"),
    ),
    (
        Question::Waits,
        SourceLayout::Provisioned,
        include_str!("sql/provisioned/waits.sql"),
    ),
    (
        Question::NestLoops,
        SourceLayout::Provisioned,
        include_str!("sql/provisioned/nestloops.sql"),
    ),
    (
        Question::Tables,
        SourceLayout::Provisioned,
        include_str!("sql/provisioned/tables.sql"),
    ),
    (
        Question::Slow,
        SourceLayout::Provisioned,
        include_str!("sql/provisioned/slow.sql"),
    ),
    (
        Question::Aborted,
        SourceLayout::Provisioned,
        include_str!("sql/provisioned/aborted.sql"),
    ),
    (
        Question::Scans,
        SourceLayout::Provisioned,
        include_str!("sql/provisioned/scans.sql"),
    ),
    (
        Question::Stats,
        SourceLayout::Provisioned,
        include_str!("sql/provisioned/stats.sql"),
    ),
    (
        Question::Ddl,
        SourceLayout::Provisioned,
        include_str!("sql/provisioned/ddl.sql"),
    ),
    (
        Question::Utility,
        SourceLayout::Provisioned,
        include_str!("sql/provisioned/utility.sql"),
    ),
    (
        Question::Query,
        SourceLayout::Provisioned,
        include_str!("sql/provisioned/query.sql"),
    ),
    (
        Question::Alerts,
        SourceLayout::Serverless,
        include_str!("sql/serverless/alerts.sql"),
    ),
    (
        Question::Hourly,
        SourceLayout::Serverless,
        include_str!("sql/serverless/hourly.sql"),
    ),
    (
        Question::Queues,
        SourceLayout::Serverless,
        include_str!("sql/serverless/queues.sql"),
    ),
    (
        Question::Statements,
        SourceLayout::Serverless,
        include_str!("sql/serverless/statements.sql"),
    ),
    (
        Question::Waits,
        SourceLayout::Serverless,
        include_str!("sql/serverless/waits.sql"),
    ),
    (
        Question::NestLoops,
        SourceLayout::Serverless,
        include_str!("sql/serverless/nestloops.sql"),
    ),
    (
        Question::Tables,
        SourceLayout::Serverless,
        include_str!("sql/serverless/tables.sql"),
    ),
    (
        Question::Slow,
        SourceLayout::Serverless,
        include_str!("sql/serverless/slow.sql"),
    ),
    (
        Question::Aborted,
        SourceLayout::Serverless,
        include_str!("sql/serverless/aborted.sql"),
    ),
    (
        Question::Scans,
        SourceLayout::Serverless,
        include_str!("sql/serverless/scans.sql"),
    ),
    (
        Question::Stats,
        SourceLayout::Serverless,
        include_str!("sql/serverless/stats.sql"),
    ),
    (
        Question::Ddl,
        SourceLayout::Serverless,
        include_str!("sql/serverless/ddl.sql"),
    ),
    (
        Question::Utility,
        SourceLayout::Serverless,
        include_str!("sql/serverless/utility.sql"),
    ),
    (
        Question::Query,
        SourceLayout::Serverless,
        include_str!("sql/serverless/query.sql"),
    ),
];

/// The table and timestamp each question's freshness is read from, per layout: its main table.
fn freshness_source(question: Question, layout: SourceLayout) -> (&'static str, &'static str) {
    match (layout, question) {
        (SourceLayout::Provisioned, Question::Alerts | Question::NestLoops | Question::Tables) => {
            ("stl_alert_event_log", "event_time")
        }
        (SourceLayout::Provisioned, Question::Queues | Question::Waits) => {
            ("stl_wlm_query", "queue_start_time")
        }
        (SourceLayout::Provisioned, Question::Scans) => ("stl_scan", "starttime"),
        (SourceLayout::Provisioned, Question::Ddl) => ("stl_ddltext", "starttime"),
        (SourceLayout::Provisioned, Question::Utility) => ("stl_utilitytext", "starttime"),
        (
            SourceLayout::Provisioned,
            Question::Hourly
            | Question::Statements
            | Question::Slow
            | Question::Aborted
            | Question::Stats
            | Question::Query,
        ) => ("stl_query", "starttime"),
        (
            SourceLayout::Serverless,
            Question::Alerts | Question::NestLoops | Question::Tables | Question::Scans,
        ) => ("sys_query_detail", "start_time"),
        (SourceLayout::Serverless, _) => ("sys_query_history", "start_time"),
    }
}

/// The freshness check of `question`: per cluster, the newest timestamp of its main table in
/// the window's partitions (`cluster`, `newest`), as one statement over every layout present.
/// It starts with `-- freshness`. `None` when `clusters` is empty.
pub fn freshness(
    question: Question,
    export: &ExportLayout,
    clusters: &[(Cluster, SourceLayout)],
    window: &Window,
) -> Option<String> {
    let parts: Vec<String> = [SourceLayout::Provisioned, SourceLayout::Serverless]
        .into_iter()
        .filter_map(|layout| {
            let names: Vec<&Cluster> = clusters
                .iter()
                .filter(|(_, l)| *l == layout)
                .map(|(c, _)| c)
                .collect();
            let (table, column) = freshness_source(question, layout);
            let template = format!(
                "SELECT {{{{cluster}}}} AS cluster, CAST(MAX({column}) AS VARCHAR) AS newest\n\
                 FROM {{{{table {table}}}}}\nWHERE {{{{partitions}}}}\nGROUP BY {{{{cluster}}}}\n"
            );
            (!names.is_empty()).then(|| fill_rows(&template, export, &names, window, None))
        })
        .collect();
    (!parts.is_empty()).then(|| format!("-- freshness\n{}", parts.join("UNION ALL\n")))
}

/// The time a question covers: whole hours up to the end of the current hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl Window {
    /// The `hours` before `now`'s next full hour.
    pub fn ending_at(now: DateTime<Utc>, hours: u32) -> Self {
        let hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
        let until = hour + Duration::hours(1);
        Self {
            since: until - Duration::hours(i64::from(hours)),
            until,
        }
    }
}

/// The statement for `question` over `clusters` (each with its layout): the rows of each layout
/// present, joined with `UNION ALL`, under the question's aggregation. `None` when `clusters`
/// is empty.
pub fn statement(
    question: Question,
    export: &ExportLayout,
    clusters: &[(Cluster, SourceLayout)],
    window: &Window,
    top: u32,
    query: Option<u64>,
) -> Option<String> {
    let rows: Vec<String> = SOURCES
        .iter()
        .filter(|(q, _, _)| *q == question)
        .filter_map(|(_, layout, template)| {
            let names: Vec<&Cluster> = clusters
                .iter()
                .filter(|(_, l)| l == layout)
                .map(|(c, _)| c)
                .collect();
            (!names.is_empty()).then(|| fill_rows(template, export, &names, window, query))
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let (_, aggregation) = QUESTIONS.iter().find(|(q, _)| *q == question)?;
    Some(
        aggregation
            .replace("{{rows}}", rows.join("UNION ALL\n").trim_end())
            .replace("{{top}}", &top.to_string())
            .replace("{{statement_text}}", STATEMENT_TEXT),
    )
}

fn fill_rows(
    template: &str,
    layout: &ExportLayout,
    clusters: &[&Cluster],
    window: &Window,
    query: Option<u64>,
) -> String {
    // Cluster names are [a-z0-9-] only (the type guarantees it), so quoting cannot be broken;
    // the layout's names are checked at boot (a-z 0-9 _).
    let list = clusters
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let timestamp = |t: DateTime<Utc>| format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S"));
    expand(template, |name, argument| {
        let column = |c: &str| match argument {
            Some(a) => format!("{a}.\"{c}\""),
            None => format!("\"{c}\""),
        };
        Some(match name {
            "table" => format!("{}{}", layout.table_prefix, argument?),
            "cluster" => column(&layout.cluster_column),
            "partitions" => format!(
                "{} IN ({list}) AND {} BETWEEN '{}' AND '{}'",
                column(&layout.cluster_column),
                column(&layout.date_column),
                window.since.format("%Y-%m-%d"),
                window.until.format("%Y-%m-%d")
            ),
            "since" => timestamp(window.since),
            "until" => timestamp(window.until),
            "query" => query?.to_string(),
            _ => return None,
        })
    })
}

/// Replaces each `{{name}}` or `{{name argument}}` in `template` by what `value` gives for it;
/// a placeholder it does not know stays (and the template tests catch it).
fn expand(template: &str, value: impl Fn(&str, Option<&str>) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let inner = &rest[start + 2..start + len];
        let (name, argument) = match inner.split_once(' ') {
            Some((name, argument)) => (name, Some(argument)),
            None => (inner, None),
        };
        out.push_str(&rest[..start]);
        match value(name, argument) {
            Some(text) => out.push_str(&text),
            None => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 4, h, m, 0)
            .single()
            .expect("valid")
    }

    fn clusters(list: &[(&str, SourceLayout)]) -> Vec<(Cluster, SourceLayout)> {
        list.iter()
            .map(|(n, l)| (Cluster::parse(n).expect("name"), *l))
            .collect()
    }

    #[test]
    fn the_window_ends_with_the_current_hour() {
        let w = Window::ending_at(at(10, 25), 24);
        assert_eq!(w.until, at(11, 0));
        assert_eq!(w.since, at(11, 0) - Duration::hours(24));
    }

    #[test]
    fn every_question_has_rows_for_each_layout() {
        for (question, _) in QUESTIONS {
            for layout in [SourceLayout::Provisioned, SourceLayout::Serverless] {
                let count = SOURCES
                    .iter()
                    .filter(|(q, l, _)| q == question && *l == layout)
                    .count();
                assert_eq!(count, 1, "{question:?} {layout:?}");
            }
        }
    }

    #[test]
    fn every_template_is_filled_and_prunes_by_cluster_and_date() {
        let w = Window::ending_at(at(0, 0), 48);
        for (question, layout, _) in SOURCES {
            let sql = statement(
                *question,
                &ExportLayout::default(),
                &clusters(&[("etl-prod", *layout)]),
                &w,
                5,
                Some(42),
            )
            .expect("a statement");
            assert!(!sql.contains("{{"), "{question:?} {layout:?}: {sql}");
            assert!(sql.contains("\"clusterid\" IN ('etl-prod')"), "{sql}");
            assert!(
                sql.contains("\"startdate\" BETWEEN '2026-11-02' AND '2026-11-04'"),
                "{sql}"
            );
            assert!(sql.contains("FROM ext_s"), "{sql}");
            assert!(sql.contains("TIMESTAMP '2026-11-02 01:00:00'"), "{sql}");
            assert!(!sql.contains("approx_percentile("), "{sql}");
        }
    }

    #[test]
    fn mixed_layouts_are_joined_and_each_template_gets_its_own_clusters() {
        let w = Window::ending_at(at(0, 0), 24);
        let sql = statement(
            Question::Hourly,
            &ExportLayout::default(),
            &clusters(&[
                ("etl-prod", SourceLayout::Provisioned),
                ("adhoc-wg", SourceLayout::Serverless),
                ("bi-prod", SourceLayout::Provisioned),
            ]),
            &w,
            5,
            None,
        )
        .expect("a statement");
        assert_eq!(sql.matches("UNION ALL").count(), 1);
        assert!(
            sql.contains("\"clusterid\" IN ('etl-prod', 'bi-prod')"),
            "{sql}"
        );
        assert!(sql.contains("FROM ext_stl_query"), "{sql}");
        assert!(sql.contains("\"clusterid\" IN ('adhoc-wg')"), "{sql}");
        assert!(sql.contains("FROM ext_sys_query_history"), "{sql}");
        assert_eq!(
            statement(Question::Hourly, &ExportLayout::default(), &[], &w, 5, None),
            None
        );
    }

    #[test]
    fn another_layout_names_its_own_tables_and_partition_columns() {
        let layout = ExportLayout {
            table_prefix: String::new(),
            cluster_column: "cluster".into(),
            date_column: "date".into(),
        };
        let w = Window::ending_at(at(0, 0), 24);
        let sql = statement(
            Question::Alerts,
            &layout,
            &clusters(&[("etl-prod", SourceLayout::Provisioned)]),
            &w,
            5,
            None,
        )
        .expect("a statement");
        assert!(sql.contains("FROM stl_alert_event_log"), "{sql}");
        assert!(
            sql.contains("\"cluster\" IN ('etl-prod') AND \"date\" BETWEEN"),
            "{sql}"
        );
    }

    #[test]
    fn the_freshness_check_reads_each_layouts_main_table_in_the_window() {
        let w = Window::ending_at(at(0, 0), 24);
        let sql = freshness(
            Question::Queues,
            &ExportLayout::default(),
            &clusters(&[
                ("etl-prod", SourceLayout::Provisioned),
                ("adhoc-wg", SourceLayout::Serverless),
            ]),
            &w,
        )
        .expect("a statement");
        assert!(sql.starts_with("-- freshness\n"), "{sql}");
        assert!(
            sql.contains("CAST(MAX(queue_start_time) AS VARCHAR) AS newest\nFROM ext_stl_wlm_query\nWHERE \"clusterid\" IN ('etl-prod')"),
            "{sql}"
        );
        assert!(sql.contains("UNION ALL\nSELECT \"clusterid\" AS cluster, CAST(MAX(start_time) AS VARCHAR) AS newest\nFROM ext_sys_query_history"), "{sql}");
        assert!(!sql.contains("{{"), "{sql}");
    }

    #[test]
    fn placeholders_with_an_alias_are_expanded_and_unknown_ones_stay() {
        let text = expand("a {{x q}} b {{y}} {{z", |name, alias| {
            (name == "x").then(|| format!("<{}>", alias.unwrap_or_default()))
        });
        assert_eq!(text, "a <q> b {{y}} {{z");
    }
}
