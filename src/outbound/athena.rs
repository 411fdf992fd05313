//! The Athena runner: `StartQueryExecution`, then `GetQueryExecution` with a growing wait until a
//! terminal state or the deadline (then `StopQueryExecution`), then `GetQueryResults` page by
//! page. Athena repeats the column names as the first row of a SELECT's first page (DDL and
//! utility results have no such row), so that row is skipped once, decided by `StatementType`.

use aws_sdk_athena::error::DisplayErrorContext;
use aws_sdk_athena::types::{
    QueryExecutionContext, QueryExecutionState, ResultConfiguration, StatementType,
};
use std::time::Duration;
use tokio::time::Instant;

use crate::metrics::METRICS;

/// First wait before asking how a query is doing; it grows by half each time.
const FIRST_POLL: Duration = Duration::from_millis(250);
const MAX_POLL: Duration = Duration::from_secs(2);
/// Rows per `GetQueryResults` call: Athena's maximum.
const PAGE_SIZE: i32 = 1000;
/// Rows kept in memory; Slack shows far fewer.
const MAX_ROWS: usize = 10_000;

/// One query to run.
pub struct QuerySpec<'a> {
    pub sql: &'a str,
    pub workgroup: &'a str,
    pub database: &'a str,
    pub output_location: &'a str,
    pub timeout: Duration,
}

/// What Athena reports about a finished query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub scanned_bytes: u64,
    /// Engine time as Athena reports it.
    pub engine_ms: u64,
}

/// A successful query's rows (header removed); `None` is SQL NULL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOutput {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// More rows existed than [`MAX_ROWS`].
    pub truncated: bool,
    pub stats: Stats,
}

/// How a query ended when it did not succeed; the caller tells the user.
#[derive(Debug, thiserror::Error)]
pub enum AthenaError {
    /// Athena ran the query and it failed: the reason is Athena's own text.
    #[error("the query failed: {reason}")]
    Failed { reason: String },
    /// Someone (or a workgroup limit) cancelled it.
    #[error("the query was cancelled: {reason}")]
    Cancelled { reason: String },
    /// Still running at the deadline; it was stopped (`stopped` false: the stop call failed).
    #[error("the query did not finish within {after:?}")]
    TimedOut { after: Duration, stopped: bool },
    /// An API call failed.
    #[error("Athena {call} failed: {cause}")]
    Api { call: &'static str, cause: String },
}

fn api<E: std::error::Error + 'static>(call: &'static str, e: E) -> AthenaError {
    AthenaError::Api {
        call,
        cause: DisplayErrorContext(e).to_string(),
    }
}

/// The Athena client; cheap to clone.
#[derive(Clone)]
pub struct Athena {
    client: aws_sdk_athena::Client,
}

impl Athena {
    /// Wraps an SDK client.
    pub fn new(client: aws_sdk_athena::Client) -> Self {
        Self { client }
    }

    /// Runs `spec` to the end and reads its rows.
    ///
    /// # Errors
    /// See [`AthenaError`]: failed, cancelled, timed out (the query was stopped), or an API call
    /// failing.
    pub async fn run(&self, spec: &QuerySpec<'_>) -> Result<QueryOutput, AthenaError> {
        let deadline = Instant::now() + spec.timeout;
        let id = self
            .client
            .start_query_execution()
            .query_string(spec.sql)
            .work_group(spec.workgroup)
            .query_execution_context(
                QueryExecutionContext::builder()
                    .database(spec.database)
                    .build(),
            )
            .result_configuration(
                ResultConfiguration::builder()
                    .output_location(spec.output_location)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| api("StartQueryExecution", e))?
            .query_execution_id
            .ok_or_else(|| AthenaError::Api {
                call: "StartQueryExecution",
                cause: "no QueryExecutionId in the answer".into(),
            })?;
        tracing::Span::current().record("query_execution_id", id.as_str());
        METRICS.athena_queries.inc();
        let (statement, stats) = self.wait(&id, deadline, spec.timeout).await?;
        METRICS.athena_bytes_scanned.add(stats.scanned_bytes);
        let mut output = self
            .results(&id, statement == Some(StatementType::Dml))
            .await?;
        output.stats = stats;
        Ok(output)
    }

    /// Polls until a terminal state; at the deadline stops the query instead. The deadline is
    /// checked before every poll, so a query is never reported later than its timeout.
    async fn wait(
        &self,
        id: &str,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(Option<StatementType>, Stats), AthenaError> {
        let mut pause = FIRST_POLL;
        loop {
            tokio::time::sleep_until(deadline.min(Instant::now() + pause)).await;
            if Instant::now() >= deadline {
                let stopped = self
                    .client
                    .stop_query_execution()
                    .query_execution_id(id)
                    .send()
                    .await
                    .inspect_err(|e| {
                        tracing::warn!(error = %DisplayErrorContext(e), "StopQueryExecution failed");
                    })
                    .is_ok();
                return Err(AthenaError::TimedOut {
                    after: timeout,
                    stopped,
                });
            }
            pause = (pause * 3 / 2).min(MAX_POLL);
            let execution = self
                .client
                .get_query_execution()
                .query_execution_id(id)
                .send()
                .await
                .map_err(|e| api("GetQueryExecution", e))?
                .query_execution;
            let Some(execution) = execution else {
                continue;
            };
            let Some(status) = execution.status.as_ref() else {
                continue;
            };
            // Real Athena adds an `AthenaError` object; emulators may only fill the reason.
            let reason = || {
                status
                    .athena_error
                    .as_ref()
                    .and_then(|e| e.error_message.clone())
                    .or_else(|| status.state_change_reason.clone())
                    .filter(|r| !r.trim().is_empty())
                    .unwrap_or_else(|| "Athena gave no reason".into())
            };
            match &status.state {
                Some(QueryExecutionState::Succeeded) => {
                    let statistics = execution.statistics.as_ref();
                    let number = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok());
                    let stats = Stats {
                        scanned_bytes: number(statistics.and_then(|s| s.data_scanned_in_bytes))
                            .unwrap_or_default(),
                        engine_ms: number(
                            statistics.and_then(|s| s.engine_execution_time_in_millis),
                        )
                        .unwrap_or_default(),
                    };
                    return Ok((execution.statement_type.clone(), stats));
                }
                Some(QueryExecutionState::Failed) => {
                    return Err(AthenaError::Failed { reason: reason() })
                }
                Some(QueryExecutionState::Cancelled) => {
                    return Err(AthenaError::Cancelled { reason: reason() })
                }
                _ => {}
            }
        }
    }

    /// Every page of results, the header row skipped once when `has_header`.
    async fn results(&self, id: &str, has_header: bool) -> Result<QueryOutput, AthenaError> {
        let mut output = QueryOutput::default();
        let mut skip_header = has_header;
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .get_query_results()
                .query_execution_id(id)
                .max_results(PAGE_SIZE)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| api("GetQueryResults", e))?;
            token = page.next_token;
            let Some(set) = page.result_set else {
                return Ok(output);
            };
            if output.columns.is_empty() {
                output.columns = set
                    .result_set_metadata
                    .and_then(|m| m.column_info)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| c.name)
                    .collect();
            }
            let mut rows = set.rows.unwrap_or_default().into_iter();
            if std::mem::take(&mut skip_header) {
                rows.next();
            }
            for row in rows {
                if output.rows.len() == MAX_ROWS {
                    output.truncated = true;
                    return Ok(output);
                }
                let data = row.data.unwrap_or_default();
                output
                    .rows
                    .push(data.into_iter().map(|d| d.var_char_value).collect());
            }
            if token.is_none() {
                return Ok(output);
            }
        }
    }
}
