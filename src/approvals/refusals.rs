//! Refused clicks are said once per burst, not once per click. Within a [`BURST`], for each
//! prompt: the first refusal goes into the prompt's thread as its one public audit line,
//! whoever clicked; each person hears of a refusal once per reason.
//! Claimed in the shared records, so every process agrees
//! ([`super::records::ApprovalRecords::refusal_in_thread`]).
//! Every attempt is still logged and appended to the audit trail. A click on a button the bot
//! did not sign is answered from this process's memory only (it may not write to the store),
//! at most once per [`BURST`] for each person and message.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Approvals;
use crate::interaction::ButtonClick;
use crate::sync::lock;

/// How long one refusal stands for the ones that follow it.
pub const BURST: Duration = Duration::from_secs(60);

/// Windows this process remembers for unsigned clicks; beyond it, such clicks get no reply
/// until the oldest windows end (a flood is answered with silence, never with memory).
const REMEMBERED: usize = 1024;

/// What a click on a button the bot did not sign is told.
const UNSIGNED_TEXT: &str = "This button was not issued by this bot; nothing was done.";

/// Once-per-window answers in this process's memory, by key.
#[derive(Default)]
pub(super) struct Throttle {
    since: Mutex<HashMap<String, Instant>>,
}

impl Throttle {
    /// Whether `key` may be answered now (and, if so, its window starts).
    fn allow(&self, key: String, window: Duration) -> bool {
        let mut since = lock(&self.since);
        let now = Instant::now();
        if since.len() >= REMEMBERED {
            since.retain(|_, at| now.duration_since(*at) < window);
        }
        match since.get(&key) {
            Some(at) if now.duration_since(*at) < window => false,
            _ if since.len() >= REMEMBERED => false,
            _ => {
                since.insert(key, now);
                true
            }
        }
    }
}

impl Approvals {
    /// Answers a click whose value the bot did not sign (already logged by the registry):
    /// an ephemeral reply at most once per burst, and nothing else: no AWS call, no record.
    pub async fn refuse_unsigned(&self, click: ButtonClick) {
        crate::metrics::METRICS.approvals_refused.inc();
        let key = format!(
            "{}:{}:{}",
            click.user,
            click.channel,
            crate::ids::shorten(&click.message_ts)
        );
        if self.unsigned.allow(key, BURST) {
            self.tell(&click.channel, &click.user, UNSIGNED_TEXT).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_answered_once_per_window() {
        let t = Throttle::default();
        assert!(t.allow("a".into(), BURST));
        assert!(!t.allow("a".into(), BURST));
        assert!(t.allow("b".into(), BURST));
        assert!(t.allow("a".into(), Duration::ZERO));
    }

    #[test]
    fn a_flood_of_keys_is_answered_with_silence_not_memory() {
        let t = Throttle::default();
        for i in 0..REMEMBERED {
            assert!(t.allow(i.to_string(), BURST));
        }
        assert!(!t.allow("one more".into(), BURST));
        assert_eq!(lock(&t.since).len(), REMEMBERED);
        // Once the windows have ended, there is room again.
        assert!(t.allow("one more".into(), Duration::ZERO));
    }
}
