//! What a person is told when their command or click did not do what they asked: one type,
//! two lanes.
//!
//! - [`UserError`]: safe, actionable text shown as is ("You may not start `web-app`…").
//! - Anything else is internal: [`Failure::reply`] logs it once, with its whole cause chain and a
//!   [`reference`], and the person sees "Something went wrong (ref …)" that an operator can
//!   find in the logs. Nothing internal (an AWS error, a URL, a token hash) reaches Slack.

/// A message for the person who typed a command or clicked a button.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

impl UserError {
    /// A refusal or usage text.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }
}

/// Why a command or a click did not do what was asked.
#[derive(Debug)]
pub enum Failure {
    /// Tell the person this.
    User(UserError),
    /// Log it with a reference; the person gets the reference only.
    Internal(anyhow::Error),
}

impl Failure {
    /// The user lane: `text` is shown as is.
    pub fn user(text: impl Into<String>) -> Self {
        Self::User(UserError::new(text))
    }

    /// The internal lane, for any error (a render bug, an unexpected AWS answer).
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    /// What the person is told. An internal failure is logged here, the one place that does,
    /// with its cause chain and the reference its reply carries.
    pub fn reply(self) -> String {
        match self {
            Self::User(e) => e.0,
            Self::Internal(error) => {
                let reference = reference();
                tracing::error!(error = %format!("{error:#}"), %reference, "internal error");
                format!("Something went wrong (ref {reference}); nothing more was done.")
            }
        }
    }
}

impl From<UserError> for Failure {
    fn from(e: UserError) -> Self {
        Self::User(e)
    }
}

/// A short random reference tying a reply to its log line (8 hex digits).
pub fn reference() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_failure_is_shown_as_is() {
        assert_eq!(Failure::user("No.").reply(), "No.");
        assert_eq!(Failure::from(UserError::new("Usage")).reply(), "Usage");
    }

    #[test]
    fn an_internal_failure_shows_only_a_reference() {
        let error = anyhow::anyhow!("secret detail").context("calling CodePipeline");
        let reply = Failure::internal(error).reply();
        assert!(reply.starts_with("Something went wrong (ref "), "{reply}");
        assert!(!reply.contains("secret detail"), "{reply}");
    }

    #[test]
    fn references_are_eight_hex_digits_and_differ() {
        let (a, b) = (reference(), reference());
        assert_eq!(a.len(), 8);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
