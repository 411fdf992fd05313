//! Redshift system-table exports on ministack for `/redshift-alerts`: the fixtures in
//! `tests/fixtures/redshift/` (one TSV per table; the header names `column:type`, the first two
//! columns are the `cluster` and `date` partitions) written to S3 as Hive-style
//! `cluster=…/date=…/` folders, a Glue table per file, the cluster list as a StringList
//! parameter; all under names unique to the test. Also the test's view of Athena: how many
//! queries its workgroup ran, and their SQL.

use aws_sdk_glue::types::{Column, DatabaseInput, SerDeInfo, StorageDescriptor, TableInput};
use aws_sdk_ssm::types::ParameterType;
use std::collections::BTreeMap;

use super::aws::sdk_config;
use chatops::commands::redshift_alerts::Clock;

/// The fixtures: table name and contents.
const TABLES: &[(&str, &str)] = &[
    (
        "stl_alert_event_log",
        include_str!("../../fixtures/redshift/stl_alert_event_log.tsv"),
    ),
    (
        "stl_query",
        include_str!("../../fixtures/redshift/stl_query.tsv"),
    ),
    (
        "stl_wlm_query",
        include_str!("../../fixtures/redshift/stl_wlm_query.tsv"),
    ),
    (
        "sys_query_history",
        include_str!("../../fixtures/redshift/sys_query_history.tsv"),
    ),
    (
        "sys_query_detail",
        include_str!("../../fixtures/redshift/sys_query_detail.tsv"),
    ),
];

/// The clusters in the fixtures; `adhoc-serverless` is a Serverless workgroup.
pub const CLUSTERS: [&str; 4] = [
    "adhoc-serverless",
    "analytics-prod",
    "etl-prod",
    "reporting-dev",
];

/// "Now" for the fixtures: late on their second day (2026-11-02, 2026-11-03).
pub fn fixture_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_793_748_600, 0).unwrap_or_default()
}

/// [`fixture_now`] as the bot's clock.
pub const CLOCK: Clock = fixture_now;

/// One test's exports, database, workgroup and cluster-list parameter.
pub struct Exports {
    pub database: String,
    pub workgroup: String,
    pub bucket: String,
    pub parameter: String,
    athena: aws_sdk_athena::Client,
}

impl Exports {
    /// Uploads the fixtures, catalogues them, and writes the cluster list (all of
    /// [`CLUSTERS`]) to Parameter Store.
    pub async fn create() -> Exports {
        let config = sdk_config().await;
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let exports = Exports {
            database: format!("redshift_logs_{id}"),
            workgroup: format!("diagnostics-{id}"),
            bucket: format!("redshift-exports-{id}"),
            parameter: format!("redshift_query_logs.{id}.enabled_cluster_list"),
            athena: aws_sdk_athena::Client::new(&config),
        };
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        );
        let glue = aws_sdk_glue::Client::new(&config);
        s3.create_bucket()
            .bucket(&exports.bucket)
            .send()
            .await
            .expect("create bucket");
        glue.create_database()
            .database_input(
                DatabaseInput::builder()
                    .name(&exports.database)
                    .build()
                    .expect("database input"),
            )
            .send()
            .await
            .expect("create database");
        for (table, text) in TABLES {
            exports.load_table(&s3, &glue, table, text).await;
        }
        aws_sdk_ssm::Client::new(&config)
            .put_parameter()
            .name(&exports.parameter)
            .value(CLUSTERS.join(","))
            .r#type(ParameterType::StringList)
            .send()
            .await
            .expect("put the cluster list");
        exports
    }

    async fn load_table(
        &self,
        s3: &aws_sdk_s3::Client,
        glue: &aws_sdk_glue::Client,
        table: &str,
        text: &str,
    ) {
        let mut lines = text.lines();
        let header: Vec<(&str, &str)> = lines
            .next()
            .expect("a header")
            .split('\t')
            .map(|c| c.split_once(':').expect("name:type"))
            .collect();
        let mut partitions: BTreeMap<(String, String), String> = BTreeMap::new();
        for line in lines {
            let fields: Vec<&str> = line.split('\t').collect();
            let rest = fields[2..].join("\t");
            let file = partitions
                .entry((fields[0].to_owned(), fields[1].to_owned()))
                .or_default();
            file.push_str(&rest);
            file.push('\n');
        }
        for ((cluster, date), body) in partitions {
            s3.put_object()
                .bucket(&self.bucket)
                .key(format!(
                    "{table}/cluster={cluster}/date={date}/part-00000.tsv"
                ))
                .body(body.into_bytes().into())
                .send()
                .await
                .expect("put a partition file");
        }
        let column = |(name, kind): &(&str, &str)| {
            Column::builder()
                .name(*name)
                .r#type(*kind)
                .build()
                .expect("column")
        };
        let storage = StorageDescriptor::builder()
            .set_columns(Some(header[2..].iter().map(column).collect()))
            .location(format!("s3://{}/{table}/", self.bucket))
            .input_format("org.apache.hadoop.mapred.TextInputFormat")
            .output_format("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")
            .serde_info(
                SerDeInfo::builder()
                    .serialization_library("org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe")
                    .parameters("field.delim", "\t")
                    .build(),
            )
            .build();
        glue.create_table()
            .database_name(&self.database)
            .table_input(
                TableInput::builder()
                    .name(table)
                    .table_type("EXTERNAL_TABLE")
                    .storage_descriptor(storage)
                    .set_partition_keys(Some(header[..2].iter().map(column).collect()))
                    .build()
                    .expect("table input"),
            )
            .send()
            .await
            .expect("create table");
    }

    /// The `[redshift_alerts]` settings for this test, as `CHATOPS__…` overrides.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("WORKGROUP", self.workgroup.clone()),
            ("DATABASE", self.database.clone()),
            (
                "OUTPUT_LOCATION",
                format!("s3://{}/athena-results/", self.bucket),
            ),
            ("CLUSTER_LIST_PARAMETER", self.parameter.clone()),
            ("FALLBACK_CLUSTERS", r#"["legacy-prod"]"#.to_owned()),
            (
                "LAYOUTS",
                r#"{ adhoc-serverless = "serverless" }"#.to_owned(),
            ),
            ("QUERY_TIMEOUT_SECS", "20".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("CHATOPS__REDSHIFT_ALERTS__{k}"), v))
        .collect()
    }

    /// The SQL of every query started in this test's workgroup.
    pub async fn queries(&self) -> Vec<String> {
        let ids = self
            .athena
            .list_query_executions()
            .work_group(&self.workgroup)
            .send()
            .await
            .expect("list query executions")
            .query_execution_ids
            .unwrap_or_default();
        let mut sql = Vec::new();
        for id in ids {
            let execution = self
                .athena
                .get_query_execution()
                .query_execution_id(id)
                .send()
                .await
                .expect("get query execution")
                .query_execution
                .expect("an execution");
            sql.push(execution.query.unwrap_or_default());
        }
        sql
    }
}
