//! What a click or a modal submission in Slack hands to the domain: the button's ids and value
//! or the modal's inputs (untrusted), who acted, where, and the message it sat on. Built by the
//! Socket Mode adapter, which parses the Slack ids once, at the edge; routed by `action_id` or
//! `callback_id` prefix through [`crate::commands::Registry`].

use serde::de::DeserializeOwned;
use serde::Serialize;
use slack_morphism::prelude::SlackBlock;
use std::collections::HashMap;

use crate::ids::{ChannelId, TeamId, UserId};

/// A click on a button of a message the bot posted.
#[derive(Debug, Clone)]
pub struct ButtonClick {
    /// Which button: its prefix says whose it is (`approval:`, `deploy:`).
    pub action_id: String,
    /// The button's value, as Slack returned it: to be re-validated by its owner.
    pub value: String,
    pub user: UserId,
    /// The clicker's Slack handle, when Slack sent it (for summaries; never trusted).
    pub user_name: Option<String>,
    pub team: TeamId,
    pub channel: ChannelId,
    /// The message the button sits on.
    pub message_ts: String,
    /// That message's fallback text and blocks as Slack shows them now.
    pub message_text: Option<String>,
    pub message_blocks: Vec<SlackBlock>,
    /// Opens a modal, within 3 seconds of the click.
    pub trigger_id: String,
    /// Answers or replaces an ephemeral message the button sat on.
    pub response_url: Option<String>,
}

/// A modal's `view_submission`.
#[derive(Debug, Clone)]
pub struct ViewSubmission {
    /// Which modal: its prefix says whose it is.
    pub callback_id: Option<String>,
    /// What the modal carried when it was opened, as Slack returned it: to be re-validated.
    pub private_metadata: Option<String>,
    /// The inputs' values by (`block_id`, `action_id`).
    pub values: HashMap<(String, String), String>,
    pub user: UserId,
    /// The submitter's Slack handle, when Slack sent it (for summaries; never trusted).
    pub user_name: Option<String>,
    pub team: TeamId,
}

/// The largest button `value` Block Kit accepts
/// (<https://docs.slack.dev/reference/block-kit/block-elements/button-element>).
pub const MAX_BUTTON_VALUE: usize = 2000;

/// Why a value cannot go into a button, or a button's value is not what the bot wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("the value is longer than a button takes ({0} bytes)")]
    TooLong(usize),
    #[error("the value is not one the bot wrote: {0}")]
    Unreadable(String),
}

/// The one codec of button values: compact JSON, at most [`MAX_BUTTON_VALUE`] bytes.
///
/// # Errors
/// The value does not fit a button.
pub fn encode_value<T: Serialize>(value: &T) -> Result<String, ValueError> {
    let text = serde_json::to_string(value).map_err(|e| ValueError::Unreadable(e.to_string()))?;
    if text.len() > MAX_BUTTON_VALUE {
        return Err(ValueError::TooLong(text.len()));
    }
    Ok(text)
}

/// Reads a button value back, as hostile input: the length first, then the type's own checks
/// (`deny_unknown_fields` and validated ids in the types the bot writes).
///
/// # Errors
/// See [`ValueError`].
pub fn decode_value<T: DeserializeOwned>(value: &str) -> Result<T, ValueError> {
    if value.len() > MAX_BUTTON_VALUE {
        return Err(ValueError::TooLong(value.len()));
    }
    serde_json::from_str(value).map_err(|e| ValueError::Unreadable(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_oversized_ones_are_refused_both_ways() {
        let value = vec!["a".to_owned(); 3];
        let text = encode_value(&value).expect("fits");
        assert_eq!(decode_value::<Vec<String>>(&text), Ok(value));
        let long = "x".repeat(MAX_BUTTON_VALUE);
        assert!(matches!(encode_value(&long), Err(ValueError::TooLong(_))));
        assert!(matches!(
            decode_value::<String>(&format!("\"{long}\"")),
            Err(ValueError::TooLong(_))
        ));
        assert!(matches!(
            decode_value::<Vec<String>>("{"),
            Err(ValueError::Unreadable(_))
        ));
    }
}
