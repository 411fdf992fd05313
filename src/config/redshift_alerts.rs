//! `[redshift_alerts]`: where `/redshift-alerts` runs its Athena queries, what they may cost,
//! which clusters exist (a Parameter Store list, with a fallback here), and who may ask about
//! which, where (`[[redshift_alerts.access]]`). Optional: without it the command answers that
//! it is not configured.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

use super::ConfigError;
use crate::ids::{ChannelId, UserGroupId, UserId};

/// `/redshift-alerts`: where the Athena queries run, what they may cost, and which clusters exist.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedshiftAlertsSettings {
    /// Athena workgroup; its per-query scan cutoff applies to every question.
    pub workgroup: String,
    /// Glue database holding the exported system tables.
    #[serde(default = "default_redshift_database")]
    pub database: String,
    /// `s3://…/` prefix for Athena's result files.
    pub output_location: String,
    /// A query still running after this long is stopped (seconds, fractions allowed).
    #[serde(default = "default_query_timeout_secs")]
    pub query_timeout_secs: f64,
    /// The same question within this window is answered from memory (0 turns the cache off).
    #[serde(default = "default_cache_secs")]
    pub cache_secs: u64,
    /// Queries one user may have running at once.
    #[serde(default = "default_in_flight_per_user")]
    pub max_in_flight_per_user: usize,
    /// Queries the bot may have running at once.
    #[serde(default = "default_in_flight_total")]
    pub max_in_flight_total: usize,
    /// StringList parameter (by name) that the export solution keeps the cluster list in.
    #[serde(default = "default_cluster_list_parameter")]
    pub cluster_list_parameter: String,
    /// Clusters to use while the parameter cannot be read.
    #[serde(default)]
    pub fallback_clusters: Vec<String>,
    /// Source layout per cluster; clusters not listed are `provisioned`.
    #[serde(default)]
    pub layouts: BTreeMap<String, SourceLayout>,
    /// How the export names its tables and partitions (the AWS sample's by default).
    #[serde(default)]
    pub layout: ExportLayout,
    /// An answer warns about a cluster whose newest exported row is older than this (seconds).
    #[serde(default = "default_stale_after_secs")]
    pub stale_after_secs: u64,
    /// Athena's price per TB scanned, in USD.
    #[serde(default = "default_price_per_tb")]
    pub price_per_tb_usd: f64,
    /// `[redshift_alerts.digest]`: the daily digest, off without it.
    #[serde(default)]
    pub digest: Option<DigestSettings>,
    /// `[[redshift_alerts.access]]`: who may ask, where, about which clusters; none: nobody,
    /// anywhere (every question costs Athena money).
    #[serde(default)]
    pub access: Vec<AccessGrant>,
}

/// One `[[redshift_alerts.access]]` entry: `users` and members of `groups` (everyone, when
/// both are empty) may ask about `clusters` (every cluster, when empty) in `channels` (and in
/// a direct message with the bot, with `allow_dm`). A question is allowed when the grants
/// that match its channel and its asker together cover its clusters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessGrant {
    pub channels: Vec<ChannelId>,
    pub allow_dm: bool,
    pub users: Vec<UserId>,
    pub groups: Vec<UserGroupId>,
    pub clusters: Vec<String>,
}

/// `[redshift_alerts.digest]`: once a day, the top alert events of the last 24 hours, the
/// stale exports and what changed since the day before, posted to one channel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestSettings {
    /// The channel id (`C…`) the digest is posted to.
    pub channel: String,
    /// The time of day it is posted, `HH:MM` in UTC.
    pub at: String,
}

impl DigestSettings {
    /// [`DigestSettings::at`] as a time (checked at boot; midnight if it somehow is not one).
    pub fn time_of_day(&self) -> chrono::NaiveTime {
        parse_time_of_day(&self.at).unwrap_or(chrono::NaiveTime::MIN)
    }
}

/// `HH:MM`, two digits each, 00:00 to 23:59.
fn parse_time_of_day(at: &str) -> Option<chrono::NaiveTime> {
    (at.len() == 5)
        .then(|| chrono::NaiveTime::parse_from_str(at, "%H:%M").ok())
        .flatten()
}

/// Where a cluster's exports come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceLayout {
    /// A provisioned cluster: the `stl_*` tables.
    Provisioned,
    /// A Redshift Serverless workgroup: the `sys_*` views (Serverless has no STL tables).
    Serverless,
}

/// `[redshift_alerts.layout]`: the names an export gives its tables and partition columns. The
/// default is the AWS sample's export (aws-samples/aws-big-data-blog,
/// `aws-blog-retain-redshift-stl`): Spark's writer partitions by `clusterid` and `startdate`,
/// and its Glue crawler prefixes every table with `ext_` (`ext_stl_query`, …). Which timestamp a
/// table's date comes from is the sample's and is in each SQL template (`event_time` for
/// `stl_alert_event_log`, `queue_start_time` for `stl_wlm_query`, the query's `starttime` for
/// `stl_querytext` and `stl_explain`, `starttime` otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportLayout {
    /// Prepended to each system table's name (`ext_` + `stl_query`).
    pub table_prefix: String,
    /// The partition column holding the cluster (or workgroup) name.
    pub cluster_column: String,
    /// The partition column holding the day, `yyyy-mm-dd` as a string.
    pub date_column: String,
}

impl Default for ExportLayout {
    fn default() -> Self {
        Self {
            table_prefix: "ext_".into(),
            cluster_column: "clusterid".into(),
            date_column: "startdate".into(),
        }
    }
}

/// A lowercase SQL name of 1-64 of a-z 0-9 _ starting with a letter or `_` (a prefix may be
/// empty): safe to put in SQL as it is.
fn is_sql_name(s: &str, may_be_empty: bool) -> bool {
    (s.is_empty() && may_be_empty)
        || ((1..=64).contains(&s.len())
            && !s.starts_with(|c: char| c.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
}

fn default_redshift_database() -> String {
    "redshift_query_logs_db".into()
}
fn default_query_timeout_secs() -> f64 {
    60.0
}
fn default_cache_secs() -> u64 {
    300
}
fn default_in_flight_per_user() -> usize {
    1
}
fn default_in_flight_total() -> usize {
    4
}
fn default_cluster_list_parameter() -> String {
    "redshift_query_logs.global.enabled_cluster_list".into()
}
fn default_stale_after_secs() -> u64 {
    2 * 3600
}
fn default_price_per_tb() -> f64 {
    5.0
}

impl RedshiftAlertsSettings {
    /// The layout of `cluster`.
    pub fn layout(&self, cluster: &str) -> SourceLayout {
        self.layouts
            .get(cluster)
            .copied()
            .unwrap_or(SourceLayout::Provisioned)
    }

    /// The freshness threshold.
    pub fn stale_after(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::seconds(i64::try_from(self.stale_after_secs).unwrap_or(i64::MAX))
    }

    /// The query deadline.
    pub fn query_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.query_timeout_secs)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let key = |k: &str| format!("redshift_alerts.{k}");
        let named = |s: &str, extra: &[u8]| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
        };
        if !named(&self.workgroup, b"._-") || self.workgroup.len() > 128 {
            return Err(ConfigError::key(
                key("workgroup"),
                "must be 1-128 of A-Z a-z 0-9 . _ -",
            ));
        }
        if !named(&self.database, b"_-") || self.database.len() > 255 {
            return Err(ConfigError::key(
                key("database"),
                "must be 1-255 of A-Z a-z 0-9 _ -",
            ));
        }
        if !self.output_location.starts_with("s3://") || !self.output_location.ends_with('/') {
            return Err(ConfigError::key(
                key("output_location"),
                "must be an s3:// prefix ending with `/`",
            ));
        }
        if !(self.query_timeout_secs > 0.0 && self.query_timeout_secs <= 3600.0) {
            return Err(ConfigError::key(
                key("query_timeout_secs"),
                "must be above 0 and at most 3600",
            ));
        }
        if !(60..=2_592_000).contains(&self.stale_after_secs) {
            return Err(ConfigError::key(
                key("stale_after_secs"),
                "must be from 60 to 2592000 (30 days)",
            ));
        }
        if self.cache_secs > 86_400 {
            return Err(ConfigError::key(key("cache_secs"), "must be at most 86400"));
        }
        if self.max_in_flight_per_user == 0
            || self.max_in_flight_total < self.max_in_flight_per_user
            || self.max_in_flight_total > 100
        {
            return Err(ConfigError::key(
                key("max_in_flight_total"),
                "need 0 < max_in_flight_per_user <= max_in_flight_total <= 100",
            ));
        }
        if !named(&self.cluster_list_parameter, b"._-/") || self.cluster_list_parameter.len() > 2048
        {
            return Err(ConfigError::key(
                key("cluster_list_parameter"),
                "must be a Parameter Store name (A-Z a-z 0-9 . _ - /)",
            ));
        }
        for (i, c) in self.fallback_clusters.iter().enumerate() {
            if !is_cluster_name(c) {
                return Err(ConfigError::key(
                    format!("redshift_alerts.fallback_clusters[{i}]"),
                    CLUSTER_NAME_RULE,
                ));
            }
        }
        if let Some(c) = self.layouts.keys().find(|c| !is_cluster_name(c)) {
            return Err(ConfigError::key(
                format!("redshift_alerts.layouts.{c}"),
                CLUSTER_NAME_RULE,
            ));
        }
        for (name, value, may_be_empty) in [
            ("table_prefix", &self.layout.table_prefix, true),
            ("cluster_column", &self.layout.cluster_column, false),
            ("date_column", &self.layout.date_column, false),
        ] {
            if !is_sql_name(value, may_be_empty) {
                return Err(ConfigError::key(
                    key(&format!("layout.{name}")),
                    "must be at most 64 of a-z 0-9 _, not starting with a digit",
                ));
            }
        }
        if !(self.price_per_tb_usd >= 0.0 && self.price_per_tb_usd.is_finite()) {
            return Err(ConfigError::key(
                key("price_per_tb_usd"),
                "must be a non-negative number",
            ));
        }
        for (i, grant) in self.access.iter().enumerate() {
            if grant.channels.is_empty() && !grant.allow_dm {
                return Err(ConfigError::key(
                    format!("redshift_alerts.access[{i}].channels"),
                    "grants nothing: name channels, or set allow_dm",
                ));
            }
            if let Some(j) = grant.clusters.iter().position(|c| !is_cluster_name(c)) {
                return Err(ConfigError::key(
                    format!("redshift_alerts.access[{i}].clusters[{j}]"),
                    CLUSTER_NAME_RULE,
                ));
            }
        }
        if let Some(digest) = &self.digest {
            if crate::ids::ChannelId::parse(&digest.channel).is_err() {
                return Err(ConfigError::key(
                    key("digest.channel"),
                    "must be a channel id (C…)",
                ));
            }
            if parse_time_of_day(&digest.at).is_none() {
                return Err(ConfigError::key(
                    key("digest.at"),
                    "must be a time of day in UTC, HH:MM (00:00 to 23:59)",
                ));
            }
        }
        Ok(())
    }
}

/// What [`is_cluster_name`] accepts, for error messages.
pub const CLUSTER_NAME_RULE: &str =
    "a cluster or workgroup name is 1-64 of a-z 0-9 - and starts with a letter";

/// A Redshift cluster identifier or Serverless workgroup name: lowercase ASCII letters, digits
/// and hyphens, starting with a letter, at most 64 long. Such a name is safe inside a SQL string
/// literal, which is why nothing else is ever accepted.
pub fn is_cluster_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{parse, MINIMAL};

    const REDSHIFT: &str = r#"
        [redshift_alerts]
        workgroup = "diagnostics"
        output_location = "s3://results/chatops/"
        fallback_clusters = ["etl-prod"]
        layouts = { adhoc-wg = "serverless" }
    "#;

    /// The `[redshift_alerts]` settings of a valid `text`.
    fn configured(text: &str) -> RedshiftAlertsSettings {
        parse(text, &[])
            .expect("valid")
            .redshift_alerts
            .expect("configured")
    }

    #[test]
    fn the_redshift_section_is_optional_and_gets_defaults() {
        assert!(parse(MINIMAL, &[])
            .expect("valid")
            .redshift_alerts
            .is_none());
        let s = parse(&format!("{MINIMAL}{REDSHIFT}"), &[]).expect("valid");
        let r = s.redshift_alerts.expect("configured");
        assert_eq!(r.database, "redshift_query_logs_db");
        assert_eq!(
            r.cluster_list_parameter,
            "redshift_query_logs.global.enabled_cluster_list"
        );
        assert_eq!(r.layout("adhoc-wg"), SourceLayout::Serverless);
        assert_eq!(r.layout("etl-prod"), SourceLayout::Provisioned);
        assert_eq!(r.query_timeout(), Duration::from_secs(60));
        assert_eq!(r.stale_after(), chrono::TimeDelta::hours(2));
        assert_eq!(
            (
                r.layout.table_prefix.as_str(),
                r.layout.cluster_column.as_str(),
                r.layout.date_column.as_str()
            ),
            ("ext_", "clusterid", "startdate")
        );
    }

    #[test]
    fn another_export_layout_is_read_and_its_names_are_checked() {
        let text = format!(
            "{MINIMAL}{REDSHIFT}\n[redshift_alerts.layout]\ntable_prefix = \"\"\ncluster_column = \"cluster\"\ndate_column = \"date\"\n"
        );
        let r = configured(&text);
        assert_eq!(
            r.layout,
            ExportLayout {
                table_prefix: String::new(),
                cluster_column: "cluster".into(),
                date_column: "date".into()
            }
        );
        for bad in ["\"x; --\"", "\"Cluster\"", "\"\"", "\"1st\""] {
            let err = parse(
                &text,
                &[("CHATOPS__REDSHIFT_ALERTS__LAYOUT__CLUSTER_COLUMN", bad)],
            )
            .expect_err(bad)
            .to_string();
            assert!(
                err.contains("redshift_alerts.layout.cluster_column"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn bad_redshift_values_are_named() {
        let text = format!("{MINIMAL}{REDSHIFT}");
        for (env, key) in [
            ("CHATOPS__REDSHIFT_ALERTS__WORKGROUP", "x'; DROP"),
            ("CHATOPS__REDSHIFT_ALERTS__OUTPUT_LOCATION", "/tmp/"),
            ("CHATOPS__REDSHIFT_ALERTS__QUERY_TIMEOUT_SECS", "0"),
            ("CHATOPS__REDSHIFT_ALERTS__STALE_AFTER_SECS", "0"),
            ("CHATOPS__REDSHIFT_ALERTS__MAX_IN_FLIGHT_PER_USER", "9"),
            (
                "CHATOPS__REDSHIFT_ALERTS__FALLBACK_CLUSTERS",
                r#"["Prod'--"]"#,
            ),
            (
                "CHATOPS__REDSHIFT_ALERTS__LAYOUTS",
                r#"{ adhoc-wg = "cloud" }"#,
            ),
        ] {
            let err = parse(&text, &[(env, key)]).expect_err(env).to_string();
            assert!(err.contains("redshift_alerts"), "{env}: {err}");
        }
    }

    #[test]
    fn the_digest_needs_a_channel_id_and_a_time_of_day() {
        let text = format!(
            "{MINIMAL}{REDSHIFT}\n[redshift_alerts.digest]\nchannel = \"C0DIGEST\"\nat = \"07:30\"\n"
        );
        let r = configured(&text);
        let digest = r.digest.expect("a digest");
        assert_eq!(
            digest.time_of_day(),
            chrono::NaiveTime::from_hms_opt(7, 30, 0).expect("a time")
        );
        for (env, value) in [
            ("CHATOPS__REDSHIFT_ALERTS__DIGEST__AT", "7:30"),
            ("CHATOPS__REDSHIFT_ALERTS__DIGEST__AT", "24:00"),
            ("CHATOPS__REDSHIFT_ALERTS__DIGEST__AT", "07:30:00"),
            ("CHATOPS__REDSHIFT_ALERTS__DIGEST__CHANNEL", "#ops"),
        ] {
            let err = parse(&text, &[(env, value)]).expect_err(value).to_string();
            assert!(err.contains("redshift_alerts.digest"), "{value}: {err}");
        }
    }

    #[test]
    fn access_grants_default_to_none_and_are_checked() {
        assert!(configured(&format!("{MINIMAL}{REDSHIFT}"))
            .access
            .is_empty());
        let text = format!(
            "{MINIMAL}{REDSHIFT}\n[[redshift_alerts.access]]\nchannels = [\"C0DBA\"]\ngroups = [\"S0DBA\"]\nclusters = [\"etl-prod\"]\n"
        );
        let grant = configured(&text)
            .access
            .into_iter()
            .next()
            .expect("a grant");
        assert_eq!(grant.clusters, ["etl-prod"]);
        assert!(!grant.allow_dm && grant.users.is_empty());
        for (value, key) in [
            (r#"[{ users = ["U0A"] }]"#, "access[0].channels"),
            (
                r#"[{ allow_dm = true, clusters = ["Prod'--"] }]"#,
                "access[0].clusters[0]",
            ),
            (r##"[{ channels = ["#ops"] }]"##, "access[0].channels"),
        ] {
            let err = parse(&text, &[("CHATOPS__REDSHIFT_ALERTS__ACCESS", value)])
                .expect_err(value)
                .to_string();
            assert!(err.contains(key), "{value}: {err}");
        }
    }

    #[test]
    fn cluster_names_are_lowercase_ascii_with_hyphens() {
        assert!(is_cluster_name("etl-prod-2"));
        for bad in [
            "",
            "2etl",
            "Etl",
            "etl_prod",
            "etl'",
            "etl;",
            "еtl",
            &"a".repeat(65),
        ] {
            assert!(!is_cluster_name(bad), "{bad}");
        }
    }
}
