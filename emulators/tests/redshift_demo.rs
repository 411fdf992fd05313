//! The `/redshift-alerts` demo data, read back through Athena on ministack (env
//! `MINISTACK_URL`): in the AWS sample's layout (Parquet, `ext_` tables, `clusterid` and
//! `startdate` partitions catalogued in Glue), re-dated as asked, and replaced when the same
//! names are seeded again (the sandbox seeds fixed names at every start).

use std::time::Duration;

use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState};
use chrono::NaiveDate;
use emulators::ministack::{sdk_config, url_from_env};
use emulators::redshift_demo::{Exports, Layout, CLUSTERS};
use emulators::testing::eventually;

const DEADLINE: Duration = Duration::from_secs(30);

fn day(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("a date")
}

#[tokio::test]
async fn seeding_again_on_another_day_replaces_the_data() {
    let config = sdk_config(&url_from_env(), "us-east-1").await;
    let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let exports = Exports {
        database: format!("demo_logs_{id}"),
        workgroup: format!("demo-{id}"),
        bucket: format!("demo-exports-{id}"),
        cluster_list_parameter: format!("demo.{id}.enabled_cluster_list"),
        layout: Layout::sample(),
    };
    exports
        .seed(&config, day(2030, 1, 15))
        .await
        .expect("the first seeding");
    exports
        .seed(&config, day(2030, 1, 16))
        .await
        .expect("the second seeding");

    // The fixtures' days 2026-10-20, 11-02 and 11-03, moved to end on 2030-01-16; nothing of
    // the first seeding (01-01, 01-14, and 01-15 with 10 rows) is left.
    let rows = query(
        &config,
        &exports,
        "SELECT startdate, count(*) FROM ext_stl_alert_event_log GROUP BY startdate ORDER BY 1",
    )
    .await;
    assert_eq!(
        rows,
        [
            ["2030-01-02", "3"],
            ["2030-01-15", "6"],
            ["2030-01-16", "10"]
        ]
    );
    let latest = query(
        &config,
        &exports,
        "SELECT max(event_time) FROM ext_stl_alert_event_log",
    )
    .await;
    assert!(
        latest[0][0].starts_with("2030-01-16 22:15:00"),
        "{latest:?}"
    );

    // Catalogued as the sample's crawler does: Parquet, partition keys, one partition per folder.
    let glue = aws_sdk_glue::Client::new(&config);
    let table = glue
        .get_table()
        .database_name(&exports.database)
        .name("ext_stl_alert_event_log")
        .send()
        .await
        .expect("GetTable")
        .table
        .expect("the table");
    let keys: Vec<&str> = table.partition_keys().iter().map(|k| k.name()).collect();
    assert_eq!(keys, ["clusterid", "startdate"]);
    let storage = table.storage_descriptor().expect("a storage descriptor");
    assert!(
        storage
            .input_format()
            .is_some_and(|f| f.ends_with("MapredParquetInputFormat")),
        "{storage:?}"
    );
    let partitions = glue
        .get_partitions()
        .database_name(&exports.database)
        .table_name("ext_stl_alert_event_log")
        .send()
        .await
        .expect("GetPartitions")
        .partitions
        .unwrap_or_default();
    let mut values: Vec<String> = partitions.iter().map(|p| p.values().join("/")).collect();
    values.sort();
    assert_eq!(
        values,
        [
            "analytics-prod/2030-01-15",
            "analytics-prod/2030-01-16",
            "etl-prod/2030-01-15",
            "etl-prod/2030-01-16",
            "reporting-dev/2030-01-02",
            "reporting-dev/2030-01-16"
        ]
    );

    let clusters = aws_sdk_ssm::Client::new(&config)
        .get_parameter()
        .name(&exports.cluster_list_parameter)
        .send()
        .await
        .expect("the cluster list")
        .parameter
        .and_then(|p| p.value)
        .unwrap_or_default();
    assert_eq!(clusters, CLUSTERS.join(","));
}

/// Runs `sql` in the exports' workgroup and database; the rows after the header.
async fn query(config: &aws_config::SdkConfig, exports: &Exports, sql: &str) -> Vec<Vec<String>> {
    let athena = aws_sdk_athena::Client::new(config);
    let id = athena
        .start_query_execution()
        .query_string(sql)
        .work_group(&exports.workgroup)
        .query_execution_context(
            QueryExecutionContext::builder()
                .database(&exports.database)
                .build(),
        )
        .send()
        .await
        .expect("StartQueryExecution")
        .query_execution_id
        .expect("an execution id");
    eventually(DEADLINE, &format!("{sql} to finish"), || async {
        let status = athena
            .get_query_execution()
            .query_execution_id(&id)
            .send()
            .await
            .expect("GetQueryExecution")
            .query_execution
            .and_then(|e| e.status)
            .expect("a status");
        match status.state {
            Some(QueryExecutionState::Succeeded) => Some(()),
            Some(QueryExecutionState::Failed | QueryExecutionState::Cancelled) => {
                panic!("{sql}: {:?}", status.state_change_reason)
            }
            _ => None,
        }
    })
    .await;
    let rows = athena
        .get_query_results()
        .query_execution_id(&id)
        .send()
        .await
        .expect("GetQueryResults")
        .result_set
        .and_then(|r| r.rows)
        .unwrap_or_default();
    rows.into_iter()
        .skip(1)
        .map(|row| {
            row.data
                .unwrap_or_default()
                .into_iter()
                .map(|d| d.var_char_value.unwrap_or_default())
                .collect()
        })
        .collect()
}
