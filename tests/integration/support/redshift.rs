//! Redshift system-table exports on ministack for `/redshift-alerts`: the fixtures seeded by
//! [`emulators::redshift_demo`] on their own dates, under names unique to the test. Also the
//! test's view of Athena: how many queries its workgroup ran, and their SQL.

use emulators::redshift_demo::{self, Layout, FIXTURE_LAST_DAY};

use super::aws::sdk_config;
use super::CHANNEL;
use chatops::commands::redshift_alerts::Clock;

/// "Now" for the fixtures: late on their second day (2026-11-02, 2026-11-03).
pub fn fixture_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_793_748_600, 0).unwrap_or_default()
}

/// [`fixture_now`] as the bot's clock.
pub const CLOCK: Clock = fixture_now;

/// One test's exports, database, workgroup and cluster-list parameter.
pub struct Exports {
    pub names: redshift_demo::Exports,
    athena: aws_sdk_athena::Client,
}

impl Exports {
    /// Seeds the fixtures as written (last day [`FIXTURE_LAST_DAY`]) in the AWS sample's
    /// layout, with the cluster list naming all of [`redshift_demo::CLUSTERS`].
    pub async fn create() -> Exports {
        Self::create_in(Layout::sample()).await
    }

    /// [`Exports::create`] in another layout.
    pub async fn create_in(layout: Layout) -> Exports {
        Self::seeded(layout, FIXTURE_LAST_DAY).await
    }

    /// The sandbox's demo data: the sample's layout, the last day today (UTC).
    pub async fn ending_today() -> Exports {
        Self::seeded(Layout::sample(), chrono::Utc::now().date_naive()).await
    }

    async fn seeded(layout: Layout, last_day: chrono::NaiveDate) -> Exports {
        let config = sdk_config().await;
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let names = redshift_demo::Exports {
            database: format!("redshift_logs_{id}"),
            workgroup: format!("diagnostics-{id}"),
            bucket: format!("redshift-exports-{id}"),
            cluster_list_parameter: format!("redshift_query_logs.{id}.enabled_cluster_list"),
            layout,
        };
        names
            .seed(&config, last_day)
            .await
            .expect("the Redshift exports on ministack");
        Exports {
            names,
            athena: aws_sdk_athena::Client::new(&config),
        }
    }

    /// The `[redshift_alerts]` settings for this test, as `CHATOPS__…` overrides.
    pub fn env(&self) -> Vec<(String, String)> {
        let layout = &self.names.layout;
        let layout = format!(
            r#"{{ table_prefix = "{}", cluster_column = "{}", date_column = "{}" }}"#,
            layout.table_prefix, layout.cluster_column, layout.date_column
        );
        [
            ("WORKGROUP", self.names.workgroup.clone()),
            ("DATABASE", self.names.database.clone()),
            ("OUTPUT_LOCATION", self.names.output_location()),
            (
                "CLUSTER_LIST_PARAMETER",
                self.names.cluster_list_parameter.clone(),
            ),
            ("FALLBACK_CLUSTERS", r#"["legacy-prod"]"#.to_owned()),
            (
                "LAYOUTS",
                r#"{ adhoc-serverless = "serverless" }"#.to_owned(),
            ),
            ("QUERY_TIMEOUT_SECS", "20".to_owned()),
            // Everyone may ask in the test's channel.
            ("ACCESS", format!(r#"[{{ channels = ["{CHANNEL}"] }}]"#)),
            ("LAYOUT", layout),
        ]
        .into_iter()
        .map(|(k, v)| (format!("CHATOPS__REDSHIFT_ALERTS__{k}"), v))
        .collect()
    }

    /// The SQL of every question started in this test's workgroup (not the freshness checks
    /// that go with them).
    pub async fn queries(&self) -> Vec<String> {
        let mut all = self.all_queries().await;
        all.retain(|sql| !sql.starts_with("-- freshness"));
        all
    }

    /// The SQL of every query started in this test's workgroup.
    pub async fn all_queries(&self) -> Vec<String> {
        let ids = self
            .athena
            .list_query_executions()
            .work_group(&self.names.workgroup)
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
