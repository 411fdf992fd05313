//! One way to treat a poisoned lock: a task panicked while holding it. The maps behind these
//! locks stay consistent between statements (every update is one insert or remove), so the
//! data is used as it is, the poison cleared, and the event logged, instead of each call site
//! skipping its work silently.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, recovering it when a panicking task poisoned it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| {
        tracing::error!("a lock was poisoned by a panicking task; going on with its data");
        mutex.clear_poison();
        poisoned.into_inner()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_is_recovered_with_its_data() {
        let mutex = std::sync::Arc::new(Mutex::new(vec![1]));
        let poisoner = mutex.clone();
        let panicked = std::thread::spawn(move || {
            let _guard = poisoner.lock().expect("first lock");
            panic!("poison it");
        })
        .join();
        assert!(panicked.is_err());
        assert!(mutex.is_poisoned());
        lock(&mutex).push(2);
        assert_eq!(*lock(&mutex), vec![1, 2]);
        assert!(!mutex.is_poisoned());
    }
}
