//! Lookups shared between the prompts of a burst: a release train or a backlog brings many
//! approvals of one pipeline at once, and each prompt reads the same pipeline state, the same
//! execution for approvals of one execution, the same commit's author. [`Shared`] keeps one
//! answer per key for a while; those who ask while it is being fetched wait for that one fetch.

use moka::sync::Cache;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// One answer per key for `ttl` from the first ask: the first caller fetches, callers that
/// come meanwhile wait for its answer, callers within `ttl` take it. A failed fetch is not
/// kept: the next caller fetches again.
pub(crate) struct Shared<V> {
    cache: Cache<String, Arc<OnceCell<V>>>,
}

impl<V: Clone + Send + Sync + 'static> Shared<V> {
    /// At most `capacity` keys, each for `ttl`.
    pub(crate) fn new(ttl: Duration, capacity: u64) -> Self {
        Self {
            cache: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(capacity)
                .build(),
        }
    }

    /// The answer for `key`: shared, or fetched now by `fetch`.
    ///
    /// # Errors
    /// `fetch`'s error, when this caller's fetch failed.
    pub(crate) async fn get<E, Fut>(&self, key: &str, fetch: impl FnOnce() -> Fut) -> Result<V, E>
    where
        Fut: Future<Output = Result<V, E>>,
    {
        let cell = self
            .cache
            .get_with(key.to_owned(), || Arc::new(OnceCell::new()));
        cell.get_or_try_init(fetch).await.cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn callers_at_once_share_one_fetch_and_a_failure_is_not_kept() {
        let shared: Arc<Shared<u32>> = Arc::new(Shared::new(Duration::from_secs(60), 16));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (release, held) = tokio::sync::watch::channel(false);
        let callers: Vec<_> = (0..5)
            .map(|_| {
                let (shared, fetches, mut held) = (shared.clone(), fetches.clone(), held.clone());
                tokio::spawn(async move {
                    shared
                        .get("p", || async move {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            let _ = held.wait_for(|go| *go).await;
                            Ok::<_, ()>(7)
                        })
                        .await
                })
            })
            .collect();
        release.send(true).expect("callers wait");
        for caller in callers {
            assert_eq!(caller.await.expect("joined"), Ok(7));
        }
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            1,
            "one fetch for five callers"
        );

        assert_eq!(
            shared
                .get("q", || async { Err::<u32, _>("throttled") })
                .await,
            Err("throttled")
        );
        assert_eq!(shared.get("q", || async { Ok::<_, &str>(8) }).await, Ok(8));
    }

    #[tokio::test]
    async fn an_answer_is_fetched_again_once_its_time_has_passed() {
        let shared: Shared<u32> = Shared::new(Duration::ZERO, 16);
        assert_eq!(shared.get("p", || async { Ok::<_, ()>(1) }).await, Ok(1));
        assert_eq!(shared.get("p", || async { Ok::<_, ()>(2) }).await, Ok(2));
    }
}
