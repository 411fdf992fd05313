//! Slack's rate limits, kept as Slack states them: a `429` with `Retry-After` pauses that
//! method for every caller of this process for as long as told, not only the call that got it
//! (<https://docs.slack.dev/apis/web-api/rate-limits>). `chat.postMessage` is limited per
//! channel ("1 per second per channel, short bursts allowed"), so its pause is the channel's
//! and other channels go on; other methods pause whole.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// The longest pause taken from one `Retry-After` (a garbled header must not stop a method
/// for hours).
const MAX_PAUSE: Duration = Duration::from_secs(120);

/// What a call is paused under: a method, or a method in one channel.
pub fn key(method: &str, channel: Option<&str>) -> String {
    match channel {
        Some(channel) => format!("{method}#{channel}"),
        None => method.to_owned(),
    }
}

/// Paused keys and until when; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Pauses(Arc<Mutex<HashMap<String, Instant>>>);

impl Pauses {
    /// Pauses `key` for `wait` (at most [`MAX_PAUSE`]) from now, unless it is paused longer.
    pub fn pause(&self, key: &str, wait: Duration) {
        let until = Instant::now() + wait.min(MAX_PAUSE);
        let mut paused = self.lock();
        let entry = paused.entry(key.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// Returns once `key` is not paused (at once when it is not).
    pub async fn wait(&self, key: &str) {
        loop {
            let until = {
                let mut paused = self.lock();
                match paused.get(key) {
                    Some(until) if *until > Instant::now() => *until,
                    Some(_) => {
                        // Over: forgotten, so the map holds only live pauses.
                        paused.remove(key);
                        return;
                    }
                    None => return,
                }
            };
            // Another 429 may have pushed the pause further meanwhile: look again.
            tokio::time::sleep_until(until).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        // Nothing panics while holding the lock: a poisoned map is still a valid map.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_paused_key_waits_as_told_and_other_keys_go_on() {
        let pauses = Pauses::default();
        let started = Instant::now();
        pauses.pause(&key("chat.postMessage", Some("C1")), Duration::from_secs(7));

        pauses.wait(&key("chat.postMessage", Some("C2"))).await;
        pauses.wait(&key("chat.update", None)).await;
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "other channels and methods"
        );

        pauses.wait(&key("chat.postMessage", Some("C1"))).await;
        assert_eq!(started.elapsed(), Duration::from_secs(7));
        assert!(pauses.lock().is_empty(), "an expired pause is dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn a_later_429_extends_a_pause_and_an_earlier_one_does_not_shorten_it() {
        let pauses = Pauses::default();
        let started = Instant::now();
        pauses.pause("chat.update", Duration::from_secs(5));
        pauses.pause("chat.update", Duration::from_secs(2));
        pauses.wait("chat.update").await;
        assert_eq!(started.elapsed(), Duration::from_secs(5));

        pauses.pause("chat.update", Duration::from_secs(3600));
        pauses.wait("chat.update").await;
        assert_eq!(started.elapsed(), Duration::from_secs(5) + MAX_PAUSE);
    }
}
