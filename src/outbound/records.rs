//! The shared state store: versioned JSON records under a (partition, sort) key, written with
//! compare-and-set, with an expiry. Two backends behind one type:
//!
//! - **DynamoDB** (`[state] table`): one table, keys `pk`/`sk` (strings), attributes `body`
//!   (the record's JSON), `version` (a number, 1 on the first write, +1 on each) and `expires_at`
//!   (epoch seconds, the table's TTL attribute). Every write is conditional
//!   (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html>),
//!   so two processes racing on a record cannot both win; reads are strongly consistent.
//!   DynamoDB deletes expired items lazily, within days
//!   (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html>),
//!   so an expired record is treated as absent here, on every read and every condition.
//! - **Memory**: the same semantics in this process only; the default without `[state]`, for a
//!   single local run and tests. It does not survive a restart.
//!
//! The store knows nothing of approvals: the domain serialises its records and picks the keys.

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::metrics::METRICS;
use crate::sync::lock;

/// A record as stored: its JSON body and its version (random on the first write, +1 on each
/// next: a process holding a version from before a record expired can never match the
/// record written after).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub body: String,
    pub version: u64,
}

/// What a conditional write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No record, or an expired one.
    Absent,
    /// The record at this version.
    Version(u64),
}

/// The store could not be read or written: nothing may be assumed about the record.
#[derive(Debug, thiserror::Error)]
#[error("the state store failed: {0}")]
pub struct StoreError(String);

impl StoreError {
    /// A record that is not the JSON its owner writes (a bug, or someone else's item).
    pub fn corrupt(e: &dyn std::fmt::Display) -> Self {
        Self(format!("a record is not valid JSON for its type: {e}"))
    }

    /// A record that kept changing under concurrent writers.
    pub fn contended() -> Self {
        Self("the record kept changing under concurrent writers".into())
    }
}

/// The shared state store; cheap to clone.
#[derive(Clone)]
pub enum Records {
    Memory(Arc<Mutex<HashMap<(String, String), Item>>>),
    DynamoDb {
        client: aws_sdk_dynamodb::Client,
        table: String,
    },
}

/// A record in the memory backend.
#[derive(Debug, Clone)]
pub struct Item {
    stored: Stored,
    expires_at: i64,
}

/// Read-then-write attempts of [`Records::replace`] before it gives up.
const REPLACE_ATTEMPTS: usize = 4;

/// Size of the memory store at which its expired records are dropped.
const PURGE_AT: usize = 4096;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Records {
    /// An empty memory store.
    pub fn memory() -> Self {
        Self::Memory(Arc::default())
    }

    /// The DynamoDB table `table`.
    pub fn dynamodb(client: aws_sdk_dynamodb::Client, table: &str) -> Self {
        Self::DynamoDb {
            client,
            table: table.to_owned(),
        }
    }

    /// The record at (`pk`, `sk`), unless absent or expired.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn get(&self, pk: &str, sk: &str) -> Result<Option<Stored>, StoreError> {
        METRICS.state_reads.inc();
        match self {
            Self::Memory(items) => Ok(lock(items)
                .get(&(pk.to_owned(), sk.to_owned()))
                .filter(|i| i.expires_at > now())
                .map(|i| i.stored.clone())),
            Self::DynamoDb { client, table } => {
                let out = client
                    .get_item()
                    .table_name(table)
                    .key("pk", s(pk))
                    .key("sk", s(sk))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| StoreError(DisplayErrorContext(&e).to_string()))?;
                Ok(out.item.as_ref().and_then(live))
            }
        }
    }

    /// Writes `body` at (`pk`, `sk`), expiring at `expires_at` (epoch seconds), if the record
    /// is as `expect`ed; the new version, or `None` when another writer got there first.
    ///
    /// # Errors
    /// The store cannot be written (then the write may or may not have happened).
    pub async fn put(
        &self,
        pk: &str,
        sk: &str,
        expect: Expect,
        body: &str,
        expires_at: i64,
    ) -> Result<Option<u64>, StoreError> {
        let version = match expect {
            // Below 2^53: DynamoDB numbers and JSON readers keep it exact.
            Expect::Absent => uuid::Uuid::new_v4().as_u64_pair().0 >> 11,
            Expect::Version(v) => v.wrapping_add(1),
        };
        METRICS.state_writes.inc();
        let stored = Stored {
            body: body.to_owned(),
            version,
        };
        match self {
            Self::Memory(items) => {
                let mut items = lock(items);
                let key = (pk.to_owned(), sk.to_owned());
                let current = items
                    .get(&key)
                    .filter(|i| i.expires_at > now())
                    .map(|i| i.stored.version);
                let matches = match expect {
                    Expect::Absent => current.is_none(),
                    Expect::Version(v) => current == Some(v),
                };
                if !matches {
                    return Ok(None);
                }
                if items.len() >= PURGE_AT {
                    // Expired records are dead weight here (DynamoDB's TTL does this there).
                    let now = now();
                    items.retain(|_, i| i.expires_at > now);
                }
                items.insert(key, Item { stored, expires_at });
                Ok(Some(version))
            }
            Self::DynamoDb { client, table } => {
                let request = client
                    .put_item()
                    .table_name(table)
                    .item("pk", s(pk))
                    .item("sk", s(sk))
                    .item("body", s(body))
                    .item("version", n(version))
                    .item("expires_at", n(expires_at))
                    .expression_attribute_values(":now", n(now()));
                let request = match expect {
                    Expect::Absent => request
                        .condition_expression("attribute_not_exists(pk) OR expires_at <= :now"),
                    Expect::Version(v) => request
                        .condition_expression("version = :v AND expires_at > :now")
                        .expression_attribute_values(":v", n(v)),
                };
                match request.send().await {
                    Ok(_) => Ok(Some(version)),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(StoreError(DisplayErrorContext(&e).to_string())),
                }
            }
        }
    }

    /// Writes `body` at (`pk`, `sk`) whatever is there: for records only one process writes
    /// (the holder of a lease, the process that started an execution); the new version.
    ///
    /// # Errors
    /// The store cannot be reached, or another writer kept getting in between.
    pub async fn replace(
        &self,
        pk: &str,
        sk: &str,
        body: &str,
        expires_at: i64,
    ) -> Result<u64, StoreError> {
        for _ in 0..REPLACE_ATTEMPTS {
            let expect = match self.get(pk, sk).await? {
                Some(s) => Expect::Version(s.version),
                None => Expect::Absent,
            };
            if let Some(v) = self.put(pk, sk, expect, body, expires_at).await? {
                return Ok(v);
            }
        }
        Err(StoreError::contended())
    }

    /// Removes the record at (`pk`, `sk`), whatever its version.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn delete(&self, pk: &str, sk: &str) -> Result<(), StoreError> {
        METRICS.state_writes.inc();
        match self {
            Self::Memory(items) => {
                lock(items).remove(&(pk.to_owned(), sk.to_owned()));
                Ok(())
            }
            Self::DynamoDb { client, table } => client
                .delete_item()
                .table_name(table)
                .key("pk", s(pk))
                .key("sk", s(sk))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| StoreError(DisplayErrorContext(&e).to_string())),
        }
    }

    /// Every live record of partition `pk`, by sort key.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn list(&self, pk: &str) -> Result<Vec<(String, Stored)>, StoreError> {
        self.query(pk, true, None, usize::MAX).await
    }

    /// At most `limit` live records of partition `pk` whose sort keys come after `after` (all
    /// of them with `None`), by sort key: a page of a partition too large to read at once, the
    /// next page starting after the last key of this one.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn page(
        &self,
        pk: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Stored)>, StoreError> {
        self.query(pk, true, after, limit).await
    }

    /// The `limit` live records of partition `pk` with the greatest sort keys, greatest first
    /// (a DynamoDB `Query` with `ScanIndexForward=false`: the newest, for time-ordered keys).
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn latest(
        &self,
        pk: &str,
        limit: usize,
    ) -> Result<Vec<(String, Stored)>, StoreError> {
        self.query(pk, false, None, limit).await
    }

    /// At most `limit` live records of partition `pk`, by sort key (`forward`) or against it,
    /// those past `after` in that order only.
    async fn query(
        &self,
        pk: &str,
        forward: bool,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Stored)>, StoreError> {
        let past = |sk: &str| after.is_none_or(|a| if forward { sk > a } else { sk < a });
        match self {
            Self::Memory(items) => {
                METRICS.state_reads.inc();
                let now = now();
                let items = lock(items);
                // Sorted and cut by reference: only the records returned are copied.
                let mut found: Vec<(&String, &Item)> = items
                    .iter()
                    .filter(|((p, sk), i)| p == pk && i.expires_at > now && past(sk))
                    .map(|((_, sk), i)| (sk, i))
                    .collect();
                found.sort_by(|a, b| if forward { a.0.cmp(b.0) } else { b.0.cmp(a.0) });
                found.truncate(limit);
                Ok(found
                    .into_iter()
                    .map(|(sk, i)| (sk.clone(), i.stored.clone()))
                    .collect())
            }
            Self::DynamoDb { client, table } => {
                let mut found = Vec::new();
                let mut start = None;
                let (condition, values) = match after {
                    None => ("pk = :pk", vec![(":pk", s(pk))]),
                    Some(a) if forward => (
                        "pk = :pk AND sk > :after",
                        vec![(":pk", s(pk)), (":after", s(a))],
                    ),
                    Some(a) => (
                        "pk = :pk AND sk < :after",
                        vec![(":pk", s(pk)), (":after", s(a))],
                    ),
                };
                while found.len() < limit {
                    METRICS.state_reads.inc();
                    // `Limit` counts the items read, expired ones too: read on until `limit`
                    // live ones or the partition's end.
                    let page = i32::try_from(limit - found.len()).ok();
                    let out = client
                        .query()
                        .table_name(table)
                        .key_condition_expression(condition)
                        .set_expression_attribute_values(Some(
                            values
                                .iter()
                                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                                .collect(),
                        ))
                        .scan_index_forward(forward)
                        .set_limit(page)
                        .consistent_read(true)
                        .set_exclusive_start_key(start.take())
                        .send()
                        .await
                        .map_err(|e| StoreError(DisplayErrorContext(&e).to_string()))?;
                    for item in out.items() {
                        if let (Some(sk), Some(stored)) =
                            (item.get("sk").and_then(|v| v.as_s().ok()), live(item))
                        {
                            found.push((sk.clone(), stored));
                        }
                    }
                    match out.last_evaluated_key {
                        Some(key) if !key.is_empty() => start = Some(key),
                        _ => break,
                    }
                }
                Ok(found)
            }
        }
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A DynamoDB item as a record, unless it is expired or not one of ours.
fn live(item: &HashMap<String, AttributeValue>) -> Option<Stored> {
    let number = |k: &str| item.get(k)?.as_n().ok()?.parse::<i64>().ok();
    if number("expires_at")? <= now() {
        return None;
    }
    Some(Stored {
        body: item.get("body")?.as_s().ok()?.clone(),
        version: u64::try_from(number("version")?).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later() -> i64 {
        now() + 60
    }

    #[tokio::test]
    async fn a_record_is_written_once_then_only_at_its_version() {
        let r = Records::memory();
        let first = r.put("p", "s", Expect::Absent, "a", later()).await;
        let first = first.ok().flatten().expect("written");
        let again = r.put("p", "s", Expect::Absent, "b", later()).await;
        assert_eq!(again.ok(), Some(None));
        let stale = Expect::Version(first.wrapping_add(7));
        assert_eq!(r.put("p", "s", stale, "b", later()).await.ok(), Some(None));
        let second = r.put("p", "s", Expect::Version(first), "b", later()).await;
        assert_eq!(second.ok(), Some(Some(first + 1)));
        let stored = r.get("p", "s").await.ok().flatten();
        let expected = Stored {
            body: "b".into(),
            version: first + 1,
        };
        assert_eq!(stored, Some(expected));
    }

    #[tokio::test]
    async fn an_expired_record_is_absent_and_a_version_from_before_never_matches_again() {
        let r = Records::memory();
        let old = r.put("p", "s", Expect::Absent, "old", now() - 1).await;
        let old = old.ok().flatten().expect("written");
        assert_eq!(r.get("p", "s").await.ok(), Some(None));
        let stale = Expect::Version(old);
        assert_eq!(r.put("p", "s", stale, "x", later()).await.ok(), Some(None));
        let new = r.put("p", "s", Expect::Absent, "new", later()).await;
        let new = new.ok().flatten().expect("claimed again");
        assert_ne!(new, old, "a new claim starts at a fresh version");
        assert_eq!(r.put("p", "s", stale, "x", later()).await.ok(), Some(None));
        assert!(r.list("p").await.is_ok_and(|l| l.len() == 1));
        assert!(r.delete("p", "s").await.is_ok());
        assert!(r.list("p").await.is_ok_and(|l| l.is_empty()));
    }

    #[tokio::test]
    async fn latest_gives_the_greatest_sort_keys_first_without_the_expired_ones() {
        let r = Records::memory();
        for (sk, expires_at) in [
            ("a", later()),
            ("b", later()),
            ("c", later()),
            ("d", now() - 1),
        ] {
            assert!(r.put("p", sk, Expect::Absent, sk, expires_at).await.is_ok());
        }
        assert!(r
            .put("other", "z", Expect::Absent, "z", later())
            .await
            .is_ok());
        let keys = |found: Vec<(String, Stored)>| -> Vec<String> {
            found.into_iter().map(|(sk, _)| sk).collect()
        };
        let two = r.latest("p", 2).await.map(keys).ok();
        assert_eq!(two, Some(vec!["c".to_owned(), "b".to_owned()]));
        let all = r.latest("p", 10).await.map(keys).ok();
        assert_eq!(
            all,
            Some(vec!["c".to_owned(), "b".to_owned(), "a".to_owned()])
        );
        assert!(r.latest("p", 0).await.is_ok_and(|l| l.is_empty()));
        assert!(r.latest("none", 5).await.is_ok_and(|l| l.is_empty()));
    }

    #[tokio::test]
    async fn a_page_gives_the_live_records_after_a_key_in_key_order() {
        let r = Records::memory();
        for (sk, expires_at) in [
            ("a", later()),
            ("b", now() - 1),
            ("c", later()),
            ("d", later()),
        ] {
            assert!(r.put("p", sk, Expect::Absent, sk, expires_at).await.is_ok());
        }
        let keys = |found: Vec<(String, Stored)>| -> Vec<String> {
            found.into_iter().map(|(sk, _)| sk).collect()
        };
        let first = r.page("p", None, 2).await.map(keys).ok();
        assert_eq!(first, Some(vec!["a".to_owned(), "c".to_owned()]));
        let next = r.page("p", Some("c"), 2).await.map(keys).ok();
        assert_eq!(next, Some(vec!["d".to_owned()]));
        assert!(r.page("p", Some("d"), 2).await.is_ok_and(|l| l.is_empty()));
    }
}
