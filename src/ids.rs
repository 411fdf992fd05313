//! Identifiers that cross a boundary (config file, button values, AWS, Slack), each checked once
//! by `parse` so the rest of the code can trust them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Text that is not the identifier it should be: safe to show (the value is cut).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not {expected}")]
pub struct InvalidId {
    value: String,
    expected: &'static str,
}

/// Defines a string newtype whose only constructor is a validating `parse`.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Accepts `raw` when it has the documented shape.
            ///
            /// # Errors
            /// [`InvalidId`], saying what was expected.
            pub fn parse(raw: &str) -> Result<Self, InvalidId> {
                let check: fn(&str) -> bool = $check;
                if check(raw) {
                    Ok(Self(raw.to_owned()))
                } else {
                    Err(InvalidId {
                        value: crate::ids::shown(raw),
                        expected: $what,
                    })
                }
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(raw: String) -> Result<Self, InvalidId> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A CodePipeline pipeline, stage or action name: 1–100 of `[A-Za-z0-9.@_-]`.
    PipelineName,
    "a valid CodePipeline name (1-100 of A-Z a-z 0-9 . @ _ -)",
    is_codepipeline_name
);
id_type!(
    /// A CodePipeline stage name (same rule as pipeline names).
    StageName,
    "a valid CodePipeline stage name",
    is_codepipeline_name
);
id_type!(
    /// A CodePipeline action name (same rule as pipeline names).
    ActionName,
    "a valid CodePipeline action name",
    is_codepipeline_name
);
id_type!(
    /// A manual-approval token: a lowercase UUID, as the API requires.
    ApprovalToken,
    "an approval token (a lowercase UUID)",
    is_lowercase_uuid
);
id_type!(
    /// A CodePipeline execution id (`pipelineExecutionId`): a lowercase UUID.
    ExecutionId,
    "a pipeline execution id (a lowercase UUID)",
    is_lowercase_uuid
);
id_type!(
    /// A Slack channel ID (`C…`, `G…` or `D…`).
    ChannelId,
    "a Slack channel ID such as C0123456789",
    |s| slack_id(s, &['C', 'G', 'D'])
);
id_type!(
    /// A Slack user ID (`U…` or `W…`).
    UserId,
    "a Slack user ID such as U0123456789",
    |s| slack_id(s, &['U', 'W'])
);
id_type!(
    /// A Slack user-group ID (`S…`).
    UserGroupId,
    "a Slack user-group ID such as S0123456789",
    |s| slack_id(s, &['S'])
);

id_type!(
    /// A Slack workspace (team) ID (`T…`; `E…` for an Enterprise Grid organisation).
    TeamId,
    "a Slack team ID such as T0123456789",
    |s| slack_id(s, &['T', 'E'])
);

impl ApprovalToken {
    /// A short, stable, non-reversible tag for logs: the first 12 hex digits of SHA-256.
    pub fn hash(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(self.0.as_bytes());
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
    }
}

fn is_codepipeline_name(s: &str) -> bool {
    (1..=100).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'@' | b'-' | b'_'))
}

fn is_lowercase_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

fn slack_id(s: &str, prefixes: &[char]) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| prefixes.contains(&c))
        && (3..=32).contains(&s.len())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// `raw` cut, with Slack's three mrkdwn control characters escaped: an invalid id is quoted
/// back to the person who typed it, and `<!channel>` or `<@U…>` must not come back as a
/// mention (<https://docs.slack.dev/messaging/formatting-message-text#escaping>).
pub(crate) fn shown(raw: &str) -> String {
    shorten(raw)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Cuts untrusted text for error messages.
pub(crate) fn shorten(raw: &str) -> String {
    const MAX: usize = 64;
    if raw.chars().count() <= MAX {
        raw.to_owned()
    } else {
        raw.chars().take(MAX).chain(['…']).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codepipeline_names_follow_the_api_pattern() {
        assert!(PipelineName::parse("web-app_v2.1@prod").is_ok());
        assert!(PipelineName::parse("").is_err());
        assert!(PipelineName::parse("has space").is_err());
        assert!(PipelineName::parse(&"a".repeat(101)).is_err());
    }

    #[test]
    fn tokens_must_be_lowercase_uuids() {
        assert!(ApprovalToken::parse("1a2b3c4d-573f-4ea7-a67e-0123456789ab").is_ok());
        assert!(ApprovalToken::parse("1a2b3c4d-573f-4ea7-a67E-XAMPLETOKEN").is_err());
        assert!(ApprovalToken::parse("not-a-token").is_err());
    }

    #[test]
    fn the_token_hash_is_short_and_does_not_contain_the_token() {
        let token = ApprovalToken::parse("1a2b3c4d-573f-4ea7-a67e-0123456789ab").expect("uuid");
        let hash = token.hash();
        assert_eq!(hash.len(), 12);
        assert!(!token.as_str().contains(&hash));
    }

    #[test]
    fn slack_ids_have_their_prefix() {
        assert!(ChannelId::parse("C0123ABC").is_ok());
        assert!(ChannelId::parse("U0123ABC").is_err());
        assert!(UserId::parse("W0123ABC").is_ok());
        assert!(UserGroupId::parse("S0123ABC").is_ok());
        assert!(UserGroupId::parse("s0123abc").is_err());
    }

    #[test]
    fn errors_shorten_long_input() {
        let err = UserId::parse(&"x".repeat(5000)).expect_err("long");
        assert!(err.to_string().len() < 200);
    }
}
