//! What keeps `/redshift-alerts` cheap: at most K queries in flight per user and in total
//! ([`InFlight`], a slot released when its work ends), and recent answers kept for a short
//! window ([`Cache`], a moka cache that drops them when it passes). Both are in-memory, for one
//! replica.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Answers remembered at most.
const CACHE_CAPACITY: u64 = 256;

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

/// Answers by question, kept for `window` (at most [`CACHE_CAPACITY`] of them), each with the
/// time it was computed.
pub struct Cache<K, V> {
    window: Duration,
    entries: moka::sync::Cache<K, (Instant, Arc<V>)>,
}

impl<K: Eq + Hash + Send + Sync + 'static, V: Send + Sync + 'static> Cache<K, V> {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            entries: moka::sync::Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(window)
                .build(),
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
        let cache = Cache::new(Duration::from_secs(60));
        let policy = cache.entries.policy();
        assert_eq!(policy.max_capacity(), Some(256));
        assert_eq!(policy.time_to_live(), Some(Duration::from_secs(60)));
        cache.put("q", Arc::new(1));
        let (age, v) = cache.get(&"q").expect("fresh");
        assert!(age < Duration::from_secs(60));
        assert_eq!(*v, 1);
        let off = Cache::new(Duration::ZERO);
        off.put("q", Arc::new(1));
        assert!(off.get(&"q").is_none());
    }

    #[test]
    fn an_answer_is_forgotten_and_dropped_once_its_window_has_passed() {
        let cache = Cache::new(Duration::from_millis(20));
        cache.put("q", Arc::new(1));
        let deadline = Instant::now() + Duration::from_secs(10);
        while cache.get(&"q").is_some() {
            assert!(Instant::now() < deadline, "the answer outlived its window");
            std::thread::yield_now();
        }
        cache.entries.run_pending_tasks();
        assert_eq!(cache.entries.entry_count(), 0);
    }
}
