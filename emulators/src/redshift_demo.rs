//! Redshift system-table exports for `/redshift-alerts`, on ministack (any AWS endpoint,
//! really), shared by the integration tests and the sandbox: the fixtures in
//! `tests/fixtures/redshift/` (one TSV per table; the header names `column:type`, the first two
//! columns are the `clusterid` and `startdate` partitions) written to S3 in a [`Layout`]: by
//! default the AWS sample's export (Parquet written by `scripts/redshift_parquet.py`, Hive-style
//! `clusterid=…/startdate=…/` folders, tables `ext_<table>` as its crawler names them), or text
//! files under other names. Then a Glue table per file with its partitions, the cluster list as a
//! StringList parameter, and an Athena workgroup. Every date can be moved so that the data's last
//! day is a chosen one: the tests keep [`FIXTURE_LAST_DAY`], the sandbox asks for today.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use aws_config::SdkConfig;
use aws_sdk_athena::types::{ResultConfiguration, WorkGroupConfiguration};
use aws_sdk_glue::types::{
    Column, DatabaseInput, PartitionInput, SerDeInfo, StorageDescriptor, TableInput,
};
use aws_sdk_ssm::types::ParameterType;
use chrono::{NaiveDate, NaiveDateTime, TimeDelta};

/// The fixtures: table name and contents.
const TABLES: &[(&str, &str)] = &[
    (
        "sys_query_explain",
        include_str!("../../tests/fixtures/redshift/sys_query_explain.tsv"),
    ),
    (
        "stl_utilitytext",
        include_str!("../../tests/fixtures/redshift/stl_utilitytext.tsv"),
    ),
    (
        "stl_explain",
        include_str!("../../tests/fixtures/redshift/stl_explain.tsv"),
    ),
    (
        "stl_ddltext",
        include_str!("../../tests/fixtures/redshift/stl_ddltext.tsv"),
    ),
    (
        "stl_alert_event_log",
        include_str!("../../tests/fixtures/redshift/stl_alert_event_log.tsv"),
    ),
    (
        "stl_query",
        include_str!("../../tests/fixtures/redshift/stl_query.tsv"),
    ),
    (
        "stl_querytext",
        include_str!("../../tests/fixtures/redshift/stl_querytext.tsv"),
    ),
    (
        "stl_scan",
        include_str!("../../tests/fixtures/redshift/stl_scan.tsv"),
    ),
    (
        "stl_wlm_query",
        include_str!("../../tests/fixtures/redshift/stl_wlm_query.tsv"),
    ),
    (
        "sys_query_history",
        include_str!("../../tests/fixtures/redshift/sys_query_history.tsv"),
    ),
    (
        "sys_query_detail",
        include_str!("../../tests/fixtures/redshift/sys_query_detail.tsv"),
    ),
];

/// The clusters in the fixtures; `adhoc-serverless` is a Serverless workgroup.
pub const CLUSTERS: [&str; 4] = [
    "adhoc-serverless",
    "analytics-prod",
    "etl-prod",
    "reporting-dev",
];

/// The last day of the fixtures as written: they cover 2026-11-02 and 2026-11-03, plus a few
/// rows of 2026-10-20 that every recent window leaves out.
pub const FIXTURE_LAST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2026, 11, 3).expect("a date");

/// Athena's per-query scan cutoff in the workgroup [`Exports::seed`] creates (its minimum).
const SCAN_CUTOFF_BYTES: i64 = 10 * 1024 * 1024;

/// How the files are written: the sample's Parquet, or tab-separated text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Text,
}

/// How an export names and writes its tables: what `[redshift_alerts.layout]` describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Prepended to each table's name in Glue (the sample's crawler: `ext_`).
    pub table_prefix: String,
    /// The partition column (and folder) of the cluster.
    pub cluster_column: String,
    /// The partition column (and folder) of the day.
    pub date_column: String,
    pub format: Format,
}

impl Layout {
    /// The AWS sample's export: Parquet, `clusterid`/`startdate`, tables `ext_*`.
    pub fn sample() -> Self {
        Self {
            table_prefix: "ext_".into(),
            cluster_column: "clusterid".into(),
            date_column: "startdate".into(),
            format: Format::Parquet,
        }
    }

    /// Text files under `cluster=…/date=…/`, unprefixed tables: an export of one's own.
    pub fn text() -> Self {
        Self {
            table_prefix: String::new(),
            cluster_column: "cluster".into(),
            date_column: "date".into(),
            format: Format::Text,
        }
    }
}

/// Where the exports go: every name the bot's `[redshift_alerts]` section refers to.
#[derive(Debug, Clone)]
pub struct Exports {
    /// The Glue database of the tables.
    pub database: String,
    /// The Athena workgroup.
    pub workgroup: String,
    /// The S3 bucket of the exports, and of Athena's results (under `athena-results/`).
    pub bucket: String,
    /// The StringList parameter holding [`CLUSTERS`].
    pub cluster_list_parameter: String,
    /// How the tables are written and named.
    pub layout: Layout,
}

impl Exports {
    /// The `s3://…/` prefix for Athena's result files.
    pub fn output_location(&self) -> String {
        format!("s3://{}/athena-results/", self.bucket)
    }

    /// Uploads the fixtures with every date moved so their last day is `last_day`, catalogues
    /// them, writes the cluster list and creates the workgroup. Seeding the same names again
    /// replaces the data seeded before.
    ///
    /// # Errors
    /// An AWS call failing, or a date out of chrono's range.
    pub async fn seed(&self, config: &SdkConfig, last_day: NaiveDate) -> anyhow::Result<()> {
        let shift = last_day - FIXTURE_LAST_DAY;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(config)
                .force_path_style(true)
                .build(),
        );
        let glue = aws_sdk_glue::Client::new(config);
        if let Err(e) = s3.create_bucket().bucket(&self.bucket).send().await {
            if !e
                .as_service_error()
                .is_some_and(|e| e.is_bucket_already_owned_by_you())
            {
                return Err(e).context("CreateBucket");
            }
        }
        let database = DatabaseInput::builder()
            .name(&self.database)
            .build()
            .context("a Glue database input")?;
        if let Err(e) = glue.create_database().database_input(database).send().await {
            if !e
                .as_service_error()
                .is_some_and(|e| e.is_already_exists_exception())
            {
                return Err(e).context("Glue CreateDatabase");
            }
        }
        let mut parquet = match self.layout.format {
            Format::Parquet => parquet_files(shift).await?,
            Format::Text => BTreeMap::new(),
        };
        for (table, text) in TABLES {
            let fixture =
                Fixture::parse(text, shift).with_context(|| format!("the {table} fixture"))?;
            let files = match self.layout.format {
                Format::Parquet => parquet.remove(*table).unwrap_or_default(),
                Format::Text => fixture
                    .partitions
                    .into_iter()
                    .map(|(key, body)| (key, body.into_bytes()))
                    .collect(),
            };
            self.load_table(&s3, &glue, table, &fixture.columns, files)
                .await
                .with_context(|| format!("loading {table}"))?;
        }
        aws_sdk_ssm::Client::new(config)
            .put_parameter()
            .name(&self.cluster_list_parameter)
            .value(CLUSTERS.join(","))
            .r#type(ParameterType::StringList)
            .overwrite(true)
            .send()
            .await
            .context("putting the cluster list")?;
        self.create_workgroup(&aws_sdk_athena::Client::new(config))
            .await
    }

    async fn load_table(
        &self,
        s3: &aws_sdk_s3::Client,
        glue: &aws_sdk_glue::Client,
        table: &str,
        columns: &[(&str, &str)],
        files: Partitions,
    ) -> anyhow::Result<()> {
        // Partitions of an earlier seeding may carry other dates.
        let mut stale = Vec::new();
        let mut pages = s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{table}/"))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.context("ListObjectsV2")?;
            stale.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        for key in stale {
            s3.delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .context("DeleteObject")?;
        }
        let layout = &self.layout;
        // The file name's extension and the table's `classification` (a crawler's word for
        // any delimited text is `csv`).
        let (extension, classification) = match layout.format {
            Format::Parquet => ("parquet", "parquet"),
            Format::Text => ("tsv", "csv"),
        };
        let folder = |cluster: &str, date: &str| {
            format!(
                "{table}/{}={cluster}/{}={date}/",
                layout.cluster_column, layout.date_column
            )
        };
        for ((cluster, date), body) in &files {
            s3.put_object()
                .bucket(&self.bucket)
                .key(format!("{}part-00000.{extension}", folder(cluster, date)))
                .body(body.clone().into())
                .send()
                .await
                .context("PutObject")?;
        }
        let glue_columns = |columns: &[(&str, &str)]| {
            columns
                .iter()
                .map(|(name, kind)| Column::builder().name(*name).r#type(*kind).build())
                .collect::<Result<Vec<_>, _>>()
        };
        let storage = |location: String| {
            let builder = StorageDescriptor::builder()
                .set_columns(glue_columns(&columns[2..]).ok())
                .location(location);
            match layout.format {
                // What a Glue crawler writes for Spark's Parquet output.
                Format::Parquet => builder
                    .input_format("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat")
                    .output_format("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat")
                    .serde_info(
                        SerDeInfo::builder()
                            .serialization_library(
                                "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                            )
                            .parameters("serialization.format", "1")
                            .build(),
                    ),
                Format::Text => builder
                    .input_format("org.apache.hadoop.mapred.TextInputFormat")
                    .output_format("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")
                    .serde_info(
                        SerDeInfo::builder()
                            .serialization_library(
                                "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                            )
                            .parameters("field.delim", "\t")
                            .build(),
                    ),
            }
            .build()
        };
        let partition_keys = [
            (layout.cluster_column.as_str(), "string"),
            (layout.date_column.as_str(), "string"),
        ];
        let input = TableInput::builder()
            .name(format!("{}{table}", layout.table_prefix))
            .table_type("EXTERNAL_TABLE")
            .parameters("classification", classification)
            .storage_descriptor(storage(format!("s3://{}/{table}/", self.bucket)))
            .set_partition_keys(Some(glue_columns(&partition_keys)?))
            .build()?;
        // A new table drops the partitions of an earlier seeding with the old one.
        let _absent = glue
            .delete_table()
            .database_name(&self.database)
            .name(&input.name)
            .send()
            .await;
        glue.create_table()
            .database_name(&self.database)
            .table_input(input.clone())
            .send()
            .await
            .context("Glue CreateTable")?;
        // The partitions, as the sample's crawler adds them.
        let partitions = files
            .keys()
            .map(|(cluster, date)| {
                PartitionInput::builder()
                    .values(cluster)
                    .values(date)
                    .storage_descriptor(storage(format!(
                        "s3://{}/{}",
                        self.bucket,
                        folder(cluster, date)
                    )))
                    .build()
            })
            .collect();
        glue.batch_create_partition()
            .database_name(&self.database)
            .table_name(&input.name)
            .set_partition_input_list(Some(partitions))
            .send()
            .await
            .context("Glue BatchCreatePartition")?;
        Ok(())
    }

    async fn create_workgroup(&self, athena: &aws_sdk_athena::Client) -> anyhow::Result<()> {
        if athena
            .get_work_group()
            .work_group(&self.workgroup)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        athena
            .create_work_group()
            .name(&self.workgroup)
            .description("Redshift diagnostics for /redshift-alerts")
            .configuration(
                WorkGroupConfiguration::builder()
                    .result_configuration(
                        ResultConfiguration::builder()
                            .output_location(self.output_location())
                            .build(),
                    )
                    .bytes_scanned_cutoff_per_query(SCAN_CUTOFF_BYTES)
                    .build(),
            )
            .send()
            .await
            .context("Athena CreateWorkGroup")?;
        Ok(())
    }
}

/// One fixture file, ready to upload.
#[derive(Debug)]
struct Fixture<'a> {
    /// `(name, type)` of every column, the two partition columns first.
    columns: Vec<(&'a str, &'a str)>,
    /// Per `(cluster, date)`: the partition's file, rows without their partition columns.
    partitions: BTreeMap<(String, String), String>,
}

/// Per `(cluster, date)`: the partition's one file.
type Partitions = BTreeMap<(String, String), Vec<u8>>;

/// The fixtures as Parquet, by table, written by `scripts/redshift_parquet.py` with the
/// interpreter `CHATOPS_PYTHON` names (else the workspace's `.venv`, which has DuckDB).
async fn parquet_files(shift: TimeDelta) -> anyhow::Result<BTreeMap<String, Partitions>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var_os("CHATOPS_PYTHON")
        .map_or_else(|| root.join(".venv/bin/python"), PathBuf::from);
    let out = std::env::temp_dir().join(format!("redshift-parquet-{}", uuid::Uuid::new_v4()));
    let run = tokio::process::Command::new(&python)
        .arg(root.join("scripts/redshift_parquet.py"))
        .arg("--fixtures")
        .arg(root.join("tests/fixtures/redshift"))
        .arg("--out")
        .arg(&out)
        .arg("--shift-days")
        .arg(shift.num_days().to_string())
        .output()
        .await
        .with_context(|| format!("running {}", python.display()))?;
    anyhow::ensure!(
        run.status.success(),
        "scripts/redshift_parquet.py failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let read = read_partitions(&out);
    std::fs::remove_dir_all(&out).context("removing the generated Parquet files")?;
    read
}

/// `<table>/clusterid=<c>/startdate=<d>/<file>` under `dir`, by table and partition.
fn read_partitions(dir: &Path) -> anyhow::Result<BTreeMap<String, Partitions>> {
    let entries = |dir: &Path| -> anyhow::Result<Vec<(String, PathBuf)>> {
        std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .map(|e| {
                let e = e?;
                Ok((e.file_name().to_string_lossy().into_owned(), e.path()))
            })
            .collect()
    };
    let value = |name: &str, key: &str| {
        name.strip_prefix(key)
            .and_then(|v| v.strip_prefix('='))
            .map(str::to_owned)
            .with_context(|| format!("{name} is not a {key}= folder"))
    };
    let mut tables = BTreeMap::new();
    for (table, path) in entries(dir)? {
        let mut partitions = Partitions::new();
        for (cluster, path) in entries(&path)? {
            for (date, path) in entries(&path)? {
                let [(_, file)] = entries(&path)?.try_into().map_err(|files: Vec<_>| {
                    anyhow::anyhow!("{} files in {}", files.len(), path.display())
                })?;
                partitions.insert(
                    (value(&cluster, "clusterid")?, value(&date, "startdate")?),
                    std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?,
                );
            }
        }
        tables.insert(table, partitions);
    }
    Ok(tables)
}

impl<'a> Fixture<'a> {
    /// Splits `text` into partitions, moving the `date` partition and every `timestamp` value
    /// by `shift` (whole days).
    fn parse(text: &'a str, shift: TimeDelta) -> anyhow::Result<Self> {
        let mut lines = text.lines();
        let columns = lines
            .next()
            .context("no header")?
            .split('\t')
            .map(|c| c.split_once(':').context("a header cell is not name:type"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(
            columns.len() > 2 && columns[..2] == [("clusterid", "string"), ("startdate", "string")],
            "the partitions are not clusterid, startdate"
        );
        let mut partitions: BTreeMap<(String, String), String> = BTreeMap::new();
        for line in lines {
            let raw: Vec<&str> = line.split('\t').collect();
            anyhow::ensure!(
                raw.len() == columns.len(),
                "a row of the wrong width: {line}"
            );
            let fields = raw
                .into_iter()
                .zip(&columns)
                .map(|(value, (name, kind))| match (*name, *kind) {
                    ("startdate", _) => move_date(value, shift),
                    (_, "timestamp") => move_timestamp(value, shift),
                    _ => Ok(value.to_owned()),
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let file = partitions
                .entry((fields[0].clone(), fields[1].clone()))
                .or_default();
            file.push_str(&fields[2..].join("\t"));
            file.push('\n');
        }
        Ok(Self {
            columns,
            partitions,
        })
    }
}

fn move_date(value: &str, shift: TimeDelta) -> anyhow::Result<String> {
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .with_context(|| format!("{value:?} is not a date"))?;
    let moved = date
        .checked_add_signed(shift)
        .context("a date out of range")?;
    Ok(moved.format("%Y-%m-%d").to_string())
}

fn move_timestamp(value: &str, shift: TimeDelta) -> anyhow::Result<String> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let at = NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S")
        .with_context(|| format!("{value:?} is not a timestamp"))?;
    let moved = at
        .checked_add_signed(shift)
        .context("a timestamp out of range")?;
    Ok(moved.format("%Y-%m-%d %H:%M:%S").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alerts(shift: TimeDelta) -> Fixture<'static> {
        let (_, text) = TABLES
            .iter()
            .find(|(name, _)| *name == "stl_alert_event_log")
            .expect("the alert fixture");
        Fixture::parse(text, shift).expect("the fixture parses")
    }

    #[test]
    fn without_a_shift_the_files_are_the_fixture_rows_minus_the_partitions() {
        let fixture = alerts(TimeDelta::zero());
        assert_eq!(
            fixture.columns[..2],
            [("clusterid", "string"), ("startdate", "string")]
        );
        let keys: Vec<(&str, &str)> = fixture
            .partitions
            .keys()
            .map(|(c, d)| (c.as_str(), d.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("analytics-prod", "2026-11-02"),
                ("analytics-prod", "2026-11-03"),
                ("etl-prod", "2026-11-02"),
                ("etl-prod", "2026-11-03"),
                ("reporting-dev", "2026-10-20"),
                ("reporting-dev", "2026-11-03"),
            ]
        );
        let file = &fixture.partitions[&("reporting-dev".to_owned(), "2026-11-03".to_owned())];
        assert_eq!(file.lines().count(), 1);
        assert!(file.ends_with("\t2026-11-03 22:15:00\n"), "{file}");
        assert!(!file.contains("reporting-dev"), "{file}");
    }

    #[test]
    fn a_shift_moves_partitions_and_timestamps_across_months_and_years() {
        let last_day = NaiveDate::from_ymd_opt(2027, 1, 1).expect("a date");
        let fixture = alerts(last_day - FIXTURE_LAST_DAY);
        let dates: Vec<&str> = fixture.partitions.keys().map(|(_, d)| d.as_str()).collect();
        assert_eq!(
            dates,
            [
                "2026-12-31",
                "2027-01-01",
                "2026-12-31",
                "2027-01-01",
                "2026-12-18",
                "2027-01-01"
            ]
        );
        let file = &fixture.partitions[&("reporting-dev".to_owned(), "2027-01-01".to_owned())];
        assert!(file.ends_with("\t2027-01-01 22:15:00\n"), "{file}");
        for (table, text) in TABLES {
            let moved = Fixture::parse(text, last_day - FIXTURE_LAST_DAY).expect(table);
            let all: String = moved.partitions.into_values().collect();
            assert!(!all.contains("2026-11-0"), "{table}: {all}");
        }
    }
}
