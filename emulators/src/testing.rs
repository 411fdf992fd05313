//! Waiting in tests, shared by the emulators' own tests and the bot's integration tests.
//!
//! Background work (a spawned task, a queue, the bot) shows its effect a little later; a test
//! waits for that effect by polling a check against a deadline, never by sleeping for a guess.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How often [`eventually`] looks again.
const POLL: Duration = Duration::from_millis(50);

/// Runs `check` at once and then every 50 ms until it yields `Some`, and returns that value.
///
/// # Panics
/// `check` still yields `None` once `deadline` has passed since the call; the message names
/// `what`: "timed out waiting for {what}".
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    let mut poll = tokio::time::interval(POLL);
    loop {
        poll.tick().await;
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
    }
}
