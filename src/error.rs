//! The user-facing error lane: [`UserError`] text is safe and actionable, shown to the Slack user
//! as is. Everything else is internal: logged where it is handled, never shown raw.

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
