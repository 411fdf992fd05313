//! `/redshift-alerts` arguments: pure parsing, before the ack. Nothing typed by a user survives
//! except as a checked value: a [`Cluster`] (lowercase ASCII, digits, hyphens), a number of hours
//! in `1..=MAX_HOURS`, and `N` in `1..=MAX_TOP`. Anything else is a usage reply.

use std::collections::BTreeSet;
use std::fmt;

use crate::config::is_cluster_name;
use crate::error::UserError;

/// The longest window a question may cover (30 days).
pub const MAX_HOURS: u32 = 720;
/// The most alert events listed per cluster.
pub const MAX_TOP: u32 = 20;
const DEFAULT_HOURS: u32 = 24;
const DEFAULT_TOP: u32 = 5;
/// The most clusters one question may name.
pub const MAX_CLUSTERS: usize = 20;
/// Longer input is refused before it is looked at.
const MAX_TEXT: usize = 300;

/// How to use the command; every refusal carries it.
pub const USAGE: &str = "Usage: `/redshift-alerts [question] [cluster…|all] [since 24h|7d] [top N]`\n\
• (no question) or `alerts`: top alert events per cluster, e.g. `/redshift-alerts etl-prod since 7d top 3`\n\
• `hourly`: queries per hour, as a chart and a table, e.g. `/redshift-alerts hourly all since 2d`\n\
• `queues`: WLM queue wait and run time per service class, e.g. `/redshift-alerts queues etl-prod`\n\
• `statements`: the most time-consuming statements, e.g. `/redshift-alerts statements since 7d`\n\
• `waits`: the queries that queued longest, e.g. `/redshift-alerts waits etl-prod top 10`\n\
• `nestloops`: queries with nested-loop joins, e.g. `/redshift-alerts nestloops since 7d`\n\
• `tables`: query alerts by table, e.g. `/redshift-alerts tables analytics-prod`\n\
• `slow`: the longest queries with their text, e.g. `/redshift-alerts slow etl-prod top 3`\n\
• `aborted`: aborted and cancelled queries per user, e.g. `/redshift-alerts aborted since 7d`\n\
• `scans`: the tables scanned most, e.g. `/redshift-alerts scans all top 10`\n\
• `stats`: tables planned without statistics, e.g. `/redshift-alerts stats since 7d`\n\
• `ddl`: who changed which table (DDL), e.g. `/redshift-alerts ddl etl-prod since 7d`\n\
• `utility`: grants, vacuums, analyzes…, e.g. `/redshift-alerts utility all top 10`\n\
• `query CLUSTER QUERY_ID`: one query's text, run, queue, alerts and plan, e.g. `/redshift-alerts query etl-prod 2002 since 2d`\n\
• `help`\n\
Windows: 1h–720h or 1d–30d (default 24h). N: 1–20 (default 5). Clusters: `all` (default) or names from `/redshift-alerts help`.";

/// A cluster or workgroup name that passed [`is_cluster_name`]: safe inside a SQL literal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cluster(String);

impl Cluster {
    /// Accepts `raw` when it is a well-formed name.
    pub fn parse(raw: &str) -> Option<Self> {
        is_cluster_name(raw).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The questions, each answered per cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Question {
    Alerts,
    Hourly,
    Queues,
    Statements,
    Waits,
    NestLoops,
    Tables,
    Slow,
    Aborted,
    Scans,
    Stats,
    Ddl,
    Utility,
    Query,
}

impl Question {
    /// Every question, its word in the command and whether it takes `top N`.
    const WORDS: [(Self, &'static str, bool); 14] = [
        (Self::Alerts, "alerts", true),
        (Self::Hourly, "hourly", false),
        (Self::Queues, "queues", false),
        (Self::Statements, "statements", true),
        (Self::Waits, "waits", true),
        (Self::NestLoops, "nestloops", true),
        (Self::Tables, "tables", true),
        (Self::Slow, "slow", true),
        (Self::Aborted, "aborted", false),
        (Self::Scans, "scans", true),
        (Self::Stats, "stats", true),
        (Self::Ddl, "ddl", true),
        (Self::Utility, "utility", true),
        (Self::Query, "query", false),
    ];

    fn from_word(word: &str) -> Option<Self> {
        Self::WORDS
            .iter()
            .find(|(_, w, _)| *w == word)
            .map(|(q, _, _)| *q)
    }

    fn takes_top(self) -> bool {
        Self::WORDS.iter().any(|(q, _, top)| *q == self && *top)
    }

    /// The word for it in replies.
    pub fn title(self) -> &'static str {
        match self {
            Self::Alerts => "Top alert events",
            Self::Hourly => "Queries per hour",
            Self::Queues => "WLM queues",
            Self::Statements => "Most time-consuming statements",
            Self::Waits => "Longest queue waits",
            Self::NestLoops => "Nested-loop joins",
            Self::Tables => "Query alerts by table",
            Self::Slow => "Slowest queries",
            Self::Aborted => "Aborted queries",
            Self::Scans => "Most-scanned tables",
            Self::Stats => "Tables missing statistics",
            Self::Ddl => "Schema changes",
            Self::Utility => "Utility statements",
            Self::Query => "One query",
        }
    }
}

/// Which clusters a question covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selection {
    All,
    Named(BTreeSet<Cluster>),
}

/// A parsed question.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ask {
    pub question: Question,
    pub clusters: Selection,
    pub hours: u32,
    /// Rows per cluster (the questions that rank).
    pub top: u32,
    /// The query id (`query` only).
    pub query: Option<u64>,
}

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Help,
    Ask(Ask),
}

fn usage(problem: &str) -> UserError {
    UserError::new(format!("{problem}\n{USAGE}"))
}

/// Parses the text after `/redshift-alerts`.
///
/// # Errors
/// A usage reply naming the problem; hostile text is never echoed.
pub fn parse(text: &str) -> Result<Request, UserError> {
    if text.len() > MAX_TEXT {
        return Err(usage("That is too long for this command."));
    }
    if !text.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(usage(
            "Only plain ASCII letters, digits and hyphens are understood.",
        ));
    }
    let lower = text.to_ascii_lowercase();
    let mut words = lower.split_ascii_whitespace().peekable();
    let question = match words.peek().copied() {
        Some("help") => {
            words.next();
            return match words.next() {
                None => Ok(Request::Help),
                Some(_) => Err(usage("`help` takes no arguments.")),
            };
        }
        Some("query") => {
            words.next();
            return parse_query(words);
        }
        Some(word) => match Question::from_word(word) {
            Some(question) => question,
            None => return parse_args(Question::Alerts, words),
        },
        None => return parse_args(Question::Alerts, words),
    };
    words.next();
    parse_args(question, words)
}

fn parse_args<'a>(
    question: Question,
    mut words: impl Iterator<Item = &'a str>,
) -> Result<Request, UserError> {
    let (mut hours, mut top, mut all) = (None, None, false);
    let mut named = BTreeSet::new();
    while let Some(word) = words.next() {
        match word {
            "since" => {
                let value = words.next().and_then(parse_hours).ok_or_else(|| {
                    usage("`since` needs a window such as `24h` or `7d` (at most 30 days).")
                })?;
                if hours.replace(value).is_some() {
                    return Err(usage("`since` is given twice."));
                }
            }
            "top" => {
                if !question.takes_top() {
                    return Err(usage("`top` does not apply to this question."));
                }
                let value = words
                    .next()
                    .and_then(parse_top)
                    .ok_or_else(|| usage("`top` needs a number from 1 to 20."))?;
                if top.replace(value).is_some() {
                    return Err(usage("`top` is given twice."));
                }
            }
            "all" => all = true,
            name => {
                let cluster = Cluster::parse(name).ok_or_else(|| {
                    usage("Cluster names are lowercase letters, digits and hyphens.")
                })?;
                named.insert(cluster);
                if named.len() > MAX_CLUSTERS {
                    return Err(usage(
                        "At most 20 clusters at a time: ask for `all` instead.",
                    ));
                }
            }
        }
    }
    let clusters = match (all, named.is_empty()) {
        (true, false) => return Err(usage("Give cluster names or `all`, not both.")),
        (_, true) => Selection::All,
        (false, false) => Selection::Named(named),
    };
    Ok(Request::Ask(Ask {
        question,
        clusters,
        hours: hours.unwrap_or(DEFAULT_HOURS),
        top: top.unwrap_or(DEFAULT_TOP),
        query: None,
    }))
}

/// `query CLUSTER QUERY_ID [since …]`: one cluster, a positive query id, then a window.
fn parse_query<'a>(mut words: impl Iterator<Item = &'a str>) -> Result<Request, UserError> {
    let cluster = words
        .next()
        .and_then(Cluster::parse)
        .ok_or_else(|| usage("`query` needs a cluster name, then a query id."))?;
    let id = words
        .next()
        .and_then(|w| {
            let ok = (1..=12).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_digit());
            ok.then(|| w.parse::<u64>().ok()).flatten()
        })
        .filter(|id| *id > 0)
        .ok_or_else(|| usage("A query id is a positive whole number (at most 12 digits)."))?;
    let Request::Ask(mut ask) = parse_args(Question::Query, words)? else {
        return Err(usage("`query` takes a cluster, a query id and `since`."));
    };
    if ask.clusters != Selection::All {
        return Err(usage("`query` takes one cluster."));
    }
    ask.clusters = Selection::Named(BTreeSet::from([cluster]));
    ask.query = Some(id);
    Ok(Request::Ask(ask))
}

/// `12h` or `7d` → hours, within `1..=MAX_HOURS`.
fn parse_hours(word: &str) -> Option<u32> {
    let (digits, unit) = word.split_at(word.len().checked_sub(1)?);
    let n = small_number(digits)?;
    let hours = match unit {
        "h" => n,
        "d" => n.checked_mul(24)?,
        _ => return None,
    };
    (1..=MAX_HOURS).contains(&hours).then_some(hours)
}

/// `N` within `1..=MAX_TOP`.
fn parse_top(word: &str) -> Option<u32> {
    small_number(word).filter(|n| (1..=MAX_TOP).contains(n))
}

/// One to four ASCII digits.
fn small_number(digits: &str) -> Option<u32> {
    let ok = (1..=4).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| digits.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(text: &str) -> Ask {
        match parse(text) {
            Ok(Request::Ask(a)) => a,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn names(list: &[&str]) -> Selection {
        Selection::Named(list.iter().filter_map(|n| Cluster::parse(n)).collect())
    }

    #[test]
    fn an_empty_command_asks_for_alerts_on_all_clusters_over_a_day() {
        assert_eq!(
            ask(""),
            Ask {
                question: Question::Alerts,
                clusters: Selection::All,
                hours: 24,
                top: 5,
                query: None
            }
        );
    }

    #[test]
    fn questions_clusters_windows_and_top_are_read() {
        let a = ask("etl-prod Analytics-Prod since 7d top 3");
        assert_eq!(a.clusters, names(&["analytics-prod", "etl-prod"]));
        assert_eq!((a.question, a.hours, a.top), (Question::Alerts, 168, 3));
        let h = ask("hourly all since 12h");
        assert_eq!(
            (h.question, h.clusters, h.hours),
            (Question::Hourly, Selection::All, 12)
        );
        assert_eq!(ask("queues etl-prod").question, Question::Queues);
        let one = ask("query etl-prod 2002 since 2d");
        assert_eq!(
            (one.question, one.clusters, one.query, one.hours),
            (Question::Query, names(&["etl-prod"]), Some(2002), 48)
        );
        for (question, word, _) in Question::WORDS {
            if question == Question::Query {
                continue;
            }
            assert_eq!(ask(&format!("{word} all")).question, question, "{word}");
            assert!(USAGE.contains(&format!("`/redshift-alerts {word} ")) || word == "alerts");
        }
        assert_eq!(ask("slow etl-prod top 3").top, 3);
        assert_eq!(parse("help"), Ok(Request::Help));
    }

    #[test]
    fn windows_and_top_are_bounded() {
        assert_eq!(ask("since 720h").hours, 720);
        assert_eq!(ask("since 30d").hours, 720);
        assert_eq!(ask("top 20").top, 20);
        for bad in [
            "since 31d",
            "since 0h",
            "since 721h",
            "since 99999d",
            "since 7w",
            "since -1d",
            "since",
            "top 0",
            "top 21",
            "top",
            "top 1e3",
            "hourly top 3",
            "aborted top 3",
            "query etl-prod",
            "query etl-prod 0",
            "query etl-prod -5",
            "query etl-prod 12a",
            "query etl-prod 1234567890123",
            "query 2002 etl-prod",
            "query etl-prod 2002 bi-prod",
            "query etl-prod 2002 top 3",
            "since 1d since 2d",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hostile_text_is_refused_without_being_echoed() {
        let long = "a".repeat(4096);
        for hostile in [
            "etl' OR '1'='1",
            "etl; DROP TABLE stl_query",
            "etl -- comment",
            "etl/* x */",
            "etl\\",
            "еtl-prod",
            "etl\u{2011}prod",
            "etl\u{0}",
            "all etl-prod",
            long.as_str(),
            "help me",
            &(0..21)
                .map(|i| format!("c{i}"))
                .collect::<Vec<_>>()
                .join(" "),
        ] {
            let err = parse(hostile).expect_err(hostile).0;
            assert!(err.contains("Usage:"), "{hostile}: {err}");
            assert!(!err.contains("DROP") && !err.contains("'1'"), "{err}");
        }
    }
}
