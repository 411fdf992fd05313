//! What keeps `/redshift-alerts` cheap: at most K queries in flight per user and in total
//! ([`InFlight`], a slot released when its work ends), and recent answers kept for a short
//! window ([`Cache`], a moka cache that drops them when it passes, bounded by their rows, swept
//! in the background so an idle bot does not keep them). Both are in-memory, for one replica.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What an answer costs in the cache besides its rows, in rows: 256 empty answers fill it.
const ANSWER_WEIGHT: u32 = 200;

/// The cache's size in rows (each answer weighs [`ANSWER_WEIGHT`] plus its rows): 256 small
/// answers, or 5 of the largest (10,000 rows each), not 256 of those.
const CACHE_WEIGHT: u64 = 256 * ANSWER_WEIGHT as u64;

#[derive(Default)]
struct Counts {
    per_user: HashMap<String, usize>,
    total: usize,
}

/// Counts queries in flight against the two limits.
#[derive(Clone)]
pub struct InFlight {
    per_user: usize,
    total: usize,
    counts: Arc<Mutex<Counts>>,
}

/// A place among the queries in flight; given back when dropped.
pub struct Slot {
    user: String,
    counts: Arc<Mutex<Counts>>,
}

impl InFlight {
    pub fn new(per_user: usize, total: usize) -> Self {
        Self {
            per_user,
            total,
            counts: Arc::default(),
        }
    }

    /// A slot for `user`, or `None` when either limit is reached.
    pub fn try_acquire(&self, user: &str) -> Option<Slot> {
        let mut counts = crate::sync::lock(&self.counts);
        let mine = counts.per_user.get(user).copied().unwrap_or(0);
        if mine >= self.per_user || counts.total >= self.total {
            return None;
        }
        counts.per_user.insert(user.to_owned(), mine + 1);
        counts.total += 1;
        Some(Slot {
            user: user.to_owned(),
            counts: self.counts.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = crate::sync::lock(&self.counts);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_user.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                counts.per_user.remove(&self.user);
            }
        }
    }
}

/// Answers by question, kept for `window` (at most [`CACHE_WEIGHT`] rows' worth of them), each
/// with the time it was computed.
pub struct Cache<K, V> {
    window: Duration,
    entries: moka::sync::Cache<K, (Instant, Arc<V>)>,
}

impl<K: Eq + Hash + Send + Sync + 'static, V: Send + Sync + 'static> Cache<K, V> {
    /// A cache keeping answers for `window`; `rows` counts an answer's rows.
    pub fn new(window: Duration, rows: fn(&V) -> usize) -> Self {
        Self {
            window,
            entries: moka::sync::Cache::builder()
                .max_capacity(CACHE_WEIGHT)
                .weigher(move |_, (_, value): &(Instant, Arc<V>)| {
                    let rows = u32::try_from(rows(value)).unwrap_or(u32::MAX);
                    ANSWER_WEIGHT.saturating_add(rows)
                })
                .time_to_live(window)
                .build(),
        }
    }

    /// Drops the expired answers once per window until `cancel` fires: moka evicts only while
    /// the cache is used, and an idle bot would otherwise keep its last answers.
    pub async fn sweep_until(&self, cancel: &CancellationToken) {
        if self.window.is_zero() {
            return;
        }
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(self.window) => {}
            }
            self.entries.run_pending_tasks();
        }
    }

    /// The answer to `key` and its age, if younger than the window.
    pub fn get(&self, key: &K) -> Option<(Duration, Arc<V>)> {
        let (at, value) = self.entries.get(key)?;
        Some((at.elapsed(), value))
    }

    /// Remembers `value` as the answer to `key` (nothing when the window is zero).
    pub fn put(&self, key: K, value: Arc<V>) {
        if self.window.is_zero() {
            return;
        }
        self.entries.insert(key, (Instant::now(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_limited_per_user_and_in_total_and_come_back_when_dropped() {
        let limits = InFlight::new(1, 2);
        let a = limits.try_acquire("U1").expect("first for U1");
        assert!(limits.try_acquire("U1").is_none(), "per-user limit");
        let b = limits.try_acquire("U2").expect("first for U2");
        assert!(limits.try_acquire("U3").is_none(), "total limit");
        drop(a);
        assert!(limits.try_acquire("U1").is_some(), "U1's slot came back");
        drop(b);
    }

    #[test]
    fn answers_are_kept_for_the_window_at_most_256_of_them_and_not_at_all_with_no_window() {
        let cache = Cache::new(Duration::from_secs(60), |_: &i32| 0);
        let policy = cache.entries.policy();
        assert_eq!(policy.max_capacity(), Some(256 * 200));
        assert_eq!(policy.time_to_live(), Some(Duration::from_secs(60)));
        cache.put("q", Arc::new(1));
        let (age, v) = cache.get(&"q").expect("fresh");
        assert!(age < Duration::from_secs(60));
        assert_eq!(*v, 1);
        let off = Cache::new(Duration::ZERO, |_: &i32| 0);
        off.put("q", Arc::new(1));
        assert!(off.get(&"q").is_none());
    }

    #[test]
    fn an_answer_is_forgotten_and_dropped_once_its_window_has_passed() {
        let cache = Cache::new(Duration::from_millis(20), |_: &i32| 0);
        cache.put("q", Arc::new(1));
        let deadline = Instant::now() + Duration::from_secs(10);
        while cache.get(&"q").is_some() {
            assert!(Instant::now() < deadline, "the answer outlived its window");
            std::thread::yield_now();
        }
        cache.entries.run_pending_tasks();
        assert_eq!(cache.entries.entry_count(), 0);
    }

    #[test]
    fn the_cache_is_bounded_by_rows_so_it_keeps_a_few_large_answers_not_256() {
        let cache = Cache::new(Duration::from_secs(60), |rows: &Vec<u8>| rows.len());
        for n in 0..50 {
            cache.put(n, Arc::new(vec![0u8; 10_000]));
            cache.entries.run_pending_tasks();
        }
        assert!(
            cache.entries.weighted_size() <= CACHE_WEIGHT,
            "{} rows' worth kept",
            cache.entries.weighted_size()
        );
        assert!(
            cache.entries.entry_count() <= 5,
            "{} large answers kept",
            cache.entries.entry_count()
        );
    }

    #[tokio::test]
    async fn an_idle_cache_is_swept_of_its_expired_answers() {
        let cache = Arc::new(Cache::new(Duration::from_millis(50), |_: &i32| 0));
        cache.put("q", Arc::new(1));
        cache.entries.run_pending_tasks();
        assert_eq!(cache.entries.entry_count(), 1);
        let cancel = CancellationToken::new();
        let sweeper = tokio::spawn({
            let (cache, cancel) = (cache.clone(), cancel.clone());
            async move { cache.sweep_until(&cancel).await }
        });
        // Nothing reads or writes the cache here: only the sweeper can drop the answer.
        let deadline = Instant::now() + Duration::from_secs(10);
        while cache.entries.entry_count() > 0 {
            assert!(Instant::now() < deadline, "the expired answer was kept");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.cancel();
        sweeper.await.expect("the sweeper ends when cancelled");
    }
}
