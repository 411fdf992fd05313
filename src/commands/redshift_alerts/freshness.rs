//! How fresh the export behind an answer is (pure): from the freshness check's rows (per
//! cluster, the newest timestamp of the question's main table in the window), the lines under
//! every answer: up to when each cluster has data, a warning for clusters whose newest data is
//! older than the threshold (the AWS sample exports every 10 minutes and its crawler adds
//! partitions hourly, so a silent exporter or crawler shows here first), and the asked-for
//! clusters with no data in the window at all.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use std::collections::BTreeMap;

use super::parse::Cluster;
use super::render::Columns;
use crate::outbound::athena::QueryOutput;

/// The freshness lines for `clusters` at `now`; `stale_after` is the threshold.
pub fn notes(
    output: &QueryOutput,
    clusters: &[Cluster],
    now: DateTime<Utc>,
    stale_after: TimeDelta,
) -> Vec<String> {
    let col = Columns::new(output);
    let newest: BTreeMap<&str, DateTime<Utc>> = output
        .rows
        .iter()
        .filter_map(|r| {
            let text: String = col.get(r, "newest").chars().take(19).collect();
            let at = NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S").ok()?;
            Some((col.get(r, "cluster"), at.and_utc()))
        })
        .collect();
    let mut up_to = Vec::new();
    let mut stale = Vec::new();
    let mut empty = Vec::new();
    for cluster in clusters {
        match newest.get(cluster.as_str()) {
            Some(at) => {
                up_to.push(format!("{cluster} {}", at.format("%Y-%m-%d %H:%M")));
                let age = now - *at;
                if age > stale_after {
                    stale.push(format!("{cluster} ({} old)", duration(age)));
                }
            }
            None => empty.push(cluster.as_str()),
        }
    }
    let mut lines = Vec::new();
    if !up_to.is_empty() {
        lines.push(format!("Data up to (UTC): {}.", up_to.join(", ")));
    }
    if !stale.is_empty() {
        lines.push(format!(
            ":warning: Export older than {}: {}. Check the cluster's export job and crawler.",
            duration(stale_after),
            stale.join(", ")
        ));
    }
    if !empty.is_empty() {
        lines.push(format!(
            ":warning: No data in this window for: {}.",
            empty.join(", ")
        ));
    }
    lines
}

/// `2 h`, `6 h 45 min`, `3 d 2 h`, `40 min`.
fn duration(d: TimeDelta) -> String {
    let minutes = d.num_minutes().max(0);
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let parts: Vec<String> = [(days, "d"), (hours, "h"), (minutes, "min")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .take(2)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    if parts.is_empty() {
        "0 min".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn output(rows: &[(&str, &str)]) -> QueryOutput {
        QueryOutput {
            columns: vec!["cluster".into(), "newest".into()],
            rows: rows
                .iter()
                .map(|(c, n)| vec![Some((*c).to_owned()), Some((*n).to_owned())])
                .collect(),
            ..QueryOutput::default()
        }
    }

    fn names(list: &[&str]) -> Vec<Cluster> {
        list.iter().filter_map(|n| Cluster::parse(n)).collect()
    }

    #[test]
    fn each_cluster_says_up_to_when_stale_ones_warn_and_empty_ones_are_named() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 3, 23, 30, 0)
            .single()
            .expect("a time");
        let lines = notes(
            &output(&[
                ("etl-prod", "2026-11-03 22:59:00.000"),
                ("analytics-prod", "2026-11-03 16:45:00"),
            ]),
            &names(&["analytics-prod", "etl-prod", "ghost"]),
            now,
            TimeDelta::hours(2),
        );
        assert_eq!(
            lines,
            [
                "Data up to (UTC): analytics-prod 2026-11-03 16:45, etl-prod 2026-11-03 22:59.",
                ":warning: Export older than 2 h: analytics-prod (6 h 45 min old). Check the cluster's export job and crawler.",
                ":warning: No data in this window for: ghost.",
            ]
        );
    }

    #[test]
    fn durations_read_in_their_two_largest_units() {
        assert_eq!(duration(TimeDelta::minutes(40)), "40 min");
        assert_eq!(duration(TimeDelta::minutes(3 * 1440 + 125)), "3 d 2 h");
        assert_eq!(duration(TimeDelta::zero()), "0 min");
    }
}
