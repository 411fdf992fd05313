//! Leases in the shared state store: work that one process at a time must do (the reconcile
//! round over open prompts, following one execution) is done by the holder of its lease. A
//! holder renews its lease more often than it lasts; a holder that dies stops renewing, and
//! another process takes the lease over once it has run out. A holder that stops cleanly gives
//! it up at once, so that its successor in a rolling deploy need not wait.
//!
//! The lease is a record whose body is its holder's id (random per [`Lease`], so two leases of
//! one process are two holders) and whose expiry is the end of the hold. Taking a free lease is
//! a write that expects no record; renewing it, a write at the version this holder read. An
//! expired record counts as absent for every read and condition ([`Records`]), so the lease of
//! a dead holder is free without anyone deleting it.

use std::time::Duration;

use super::records::{Expect, Records, StoreError};

/// One lease, as one would-be holder sees it.
pub struct Lease {
    records: Records,
    pk: String,
    sk: String,
    holder: String,
    hold: Duration,
}

impl Lease {
    /// The lease at (`pk`, `sk`) in `records`, held for `hold` from each renewal.
    pub fn new(records: &Records, pk: &str, sk: &str, hold: Duration) -> Self {
        Self {
            records: records.clone(),
            pk: pk.to_owned(),
            sk: sk.to_owned(),
            holder: uuid::Uuid::new_v4().simple().to_string(),
            hold,
        }
    }

    /// Takes the lease if it is free, renews it if this holds it; whether this holds it now.
    ///
    /// # Errors
    /// The store cannot be reached: whether this holds the lease is unknown, so the caller
    /// acts as if it did not.
    pub async fn hold(&self) -> Result<bool, StoreError> {
        let expect = match self.records.get(&self.pk, &self.sk).await? {
            None => Expect::Absent,
            Some(s) if s.body == self.holder => Expect::Version(s.version),
            Some(_) => return Ok(false),
        };
        let until = chrono::Utc::now()
            .timestamp()
            .saturating_add(i64::try_from(self.hold.as_secs()).unwrap_or(i64::MAX));
        let written = self
            .records
            .put(&self.pk, &self.sk, expect, &self.holder, until)
            .await?;
        Ok(written.is_some())
    }

    /// Gives the lease up if this holds it (written as already expired, at this holder's
    /// version only, so a successor's lease is never touched).
    pub async fn release(&self) {
        let result = match self.records.get(&self.pk, &self.sk).await {
            Ok(Some(s)) if s.body == self.holder => self
                .records
                .put(
                    &self.pk,
                    &self.sk,
                    Expect::Version(s.version),
                    &self.holder,
                    chrono::Utc::now().timestamp(),
                )
                .await
                .map(|_| ()),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, lease = %self.pk, "cannot give the lease up; it runs out by itself");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOLD: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn one_holder_at_a_time_and_the_lease_is_free_once_given_up() {
        let records = Records::memory();
        let a = Lease::new(&records, "lease", "reconcile", HOLD);
        let b = Lease::new(&records, "lease", "reconcile", HOLD);
        assert!(a.hold().await.expect("store"), "a free lease is taken");
        assert!(!b.hold().await.expect("store"), "a held lease is not");
        assert!(a.hold().await.expect("store"), "its holder renews it");
        b.release().await;
        assert!(
            !b.hold().await.expect("store"),
            "only its holder gives it up"
        );
        a.release().await;
        assert!(b.hold().await.expect("store"), "given up, it is free");
        assert!(!a.hold().await.expect("store"));
    }

    #[tokio::test]
    async fn a_lease_its_holder_stopped_renewing_is_taken_over_when_it_runs_out() {
        let records = Records::memory();
        let dead = Lease::new(&records, "lease", "reconcile", Duration::ZERO);
        let next = Lease::new(&records, "lease", "reconcile", HOLD);
        assert!(dead.hold().await.expect("store"));
        // Held for zero seconds: run out at once, as a dead holder's lease does after `hold`.
        assert!(next.hold().await.expect("store"), "taken over");
        assert!(!dead.hold().await.expect("store"), "the old holder lost it");
    }
}
