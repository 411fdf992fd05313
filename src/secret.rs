//! `Secret`: a string that never shows itself in `Debug`, `Display` or serialised output.

use std::fmt;

/// A secret value (a Slack token). Read it with [`Secret::expose`] at the one place it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The plain value, for the call that needs it (an `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("xoxb-fake-test-value");
        assert!(!format!("{s:?}").contains("fake-test-value"));
        assert!(!format!("{s}").contains("fake-test-value"));
        assert!(!format!("{:?}", Some(vec![s.clone()])).contains("fake-test-value"));
        assert_eq!(s.expose(), "xoxb-fake-test-value");
    }
}
