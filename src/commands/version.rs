//! `/chatops-version`: which build of the bot answers, so an operator can tell during a rolling
//! deploy which version a channel is talking to. Answered in the ack; no I/O.

use std::sync::Arc;

use super::{Accepted, Context, Invocation, SlashCommand, Spec};

/// `/chatops-version` in the registry (and in the Slack app manifest).
pub const SPEC: Spec = Spec {
    name: "/chatops-version",
    description: "Which version of the chatops bot answers.",
    usage_hint: "",
    action_prefix: None,
};

/// The command, built once by the registry.
pub fn build(_context: &Context) -> Arc<dyn SlashCommand> {
    Arc::new(Version)
}

/// The reply is fixed at compile time.
struct Version;

impl SlashCommand for Version {
    fn accept(&self, inv: Invocation) -> Accepted {
        Accepted::reply_only(reply(&inv.text))
    }
}

/// The reply to `/chatops-version TEXT`: the version, or the usage when arguments were given.
fn reply(text: &str) -> String {
    if text.trim().is_empty() {
        format!("chatops {}", env!("CARGO_PKG_VERSION"))
    } else {
        "Usage: `/chatops-version` (no arguments).".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_names_the_crate_version_and_arguments_get_the_usage() {
        assert_eq!(reply(""), format!("chatops {}", env!("CARGO_PKG_VERSION")));
        assert_eq!(reply("  "), reply(""));
        assert!(reply("now").starts_with("Usage:"));
    }
}
