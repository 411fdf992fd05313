//! Signed button values and modal metadata: what the bot writes into a button's `value` (or a
//! modal's `private_metadata`) carries an HMAC-SHA256 tag over the `action_id` (or
//! `callback_id`) and the value, keyed by a secret from Parameter Store
//! ([`crate::outbound::parameter_store::ButtonKeys`]). Every click is checked here first, in
//! [`crate::commands::Registry`], before its owner reads the value: a value the bot did not
//! issue is refused even when it parses (another pipeline's JSON typed into a forged payload).
//!
//! Format: `<tag>.<value>`, the tag being the first 16 bytes of the HMAC in 32 lowercase hex
//! digits; the MAC input is a domain label, the length of the `action_id`, the `action_id` and
//! the value, so that no (`action_id`, value) pair can be shifted into another. The tag is
//! compared in constant time (`Mac::verify_truncated_left`). Signing keeps the value within
//! Slack's limits (a button's `value`: 2,000 characters,
//! <https://docs.slack.dev/reference/block-kit/block-elements/button-element>; a modal's
//! `private_metadata`: 3,000, <https://docs.slack.dev/reference/views>).
//!
//! Rotation: the current key signs; the current key and the previous ones
//! ([`ButtonKeys::previous`]) verify, so prompts posted before a rotation keep working.

use hmac::{KeyInit, Mac};
use serde_json::Value;
use slack_morphism::prelude::SlackMessageContent;

use crate::interaction::{ValueError, MAX_BUTTON_VALUE};
use crate::outbound::parameter_store::{ButtonKeys, TokenStore};
use crate::secret::Secret;

/// The largest `private_metadata` a view takes (<https://docs.slack.dev/reference/views>).
pub const MAX_PRIVATE_METADATA: usize = 3000;

/// Bytes of the HMAC kept in the tag: 128 bits, beyond guessing.
const TAG_BYTES: usize = 16;
/// Characters the tag and its separator add to a value.
pub const OVERHEAD: usize = TAG_BYTES * 2 + 1;
/// Separates the tag from the value.
const SEPARATOR: char = '.';
/// Ties a tag to this use of the key.
const DOMAIN: &[u8] = b"chatops button value v1\0";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Why a value was not issued by this bot. The text names no secret and no part of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Forged {
    #[error("the value carries no signature")]
    Unsigned,
    #[error("the value is longer than the bot writes")]
    TooLong,
    #[error("the signature does not match the value and action")]
    Mismatch,
}

/// Signs and verifies values with the keys of the [`TokenStore`] (re-read with the tokens);
/// cheap to clone.
#[derive(Clone)]
pub struct Signer {
    tokens: TokenStore,
}

impl Signer {
    /// A signer over the keys `tokens` holds now and after every refresh.
    pub fn new(tokens: TokenStore) -> Self {
        Self { tokens }
    }

    /// `value` signed for the button `action_id`.
    ///
    /// # Errors
    /// The signed value would not fit a button.
    pub fn sign_button(&self, action_id: &str, value: &str) -> Result<String, ValueError> {
        sign(
            &self.tokens.current().buttons,
            action_id,
            value,
            MAX_BUTTON_VALUE,
        )
    }

    /// `content` with the value of every button in its `actions` blocks signed for that
    /// button's `action_id` (a button without a value gets the signed empty value): for
    /// renderers that write plain values, signed where the message is sent.
    ///
    /// # Errors
    /// A signed value would not fit its button, or the content is not Block Kit.
    pub fn sign_buttons(
        &self,
        content: SlackMessageContent,
    ) -> Result<SlackMessageContent, ValueError> {
        let unreadable = |e: serde_json::Error| ValueError::Unreadable(e.to_string());
        let mut json = serde_json::to_value(content).map_err(unreadable)?;
        let blocks = json.get_mut("blocks").and_then(Value::as_array_mut);
        for block in blocks.into_iter().flatten() {
            if block.get("type").and_then(Value::as_str) != Some("actions") {
                continue;
            }
            let elements = block.get_mut("elements").and_then(Value::as_array_mut);
            for element in elements.into_iter().flatten() {
                if element.get("type").and_then(Value::as_str) != Some("button") {
                    continue;
                }
                let Some(action_id) = element.get("action_id").and_then(Value::as_str) else {
                    continue;
                };
                let value = element.get("value").and_then(Value::as_str).unwrap_or("");
                let signed = self.sign_button(action_id, value)?;
                element["value"] = Value::String(signed);
            }
        }
        serde_json::from_value(json).map_err(unreadable)
    }

    /// The value of a click on `action_id`, if the bot signed it (with any key it verifies
    /// with).
    ///
    /// # Errors
    /// See [`Forged`].
    pub fn verify_button<'v>(&self, action_id: &str, signed: &'v str) -> Result<&'v str, Forged> {
        verify(
            &self.tokens.current().buttons,
            action_id,
            signed,
            MAX_BUTTON_VALUE,
        )
    }

    /// `metadata` signed for the modal `callback_id`.
    ///
    /// # Errors
    /// The signed metadata would not fit a view.
    pub fn sign_metadata(&self, callback_id: &str, metadata: &str) -> Result<String, ValueError> {
        sign(
            &self.tokens.current().buttons,
            callback_id,
            metadata,
            MAX_PRIVATE_METADATA,
        )
    }

    /// A submission's metadata, if the bot signed it for `callback_id`.
    ///
    /// # Errors
    /// See [`Forged`].
    pub fn verify_metadata<'v>(
        &self,
        callback_id: &str,
        signed: &'v str,
    ) -> Result<&'v str, Forged> {
        verify(
            &self.tokens.current().buttons,
            callback_id,
            signed,
            MAX_PRIVATE_METADATA,
        )
    }
}

/// The MAC of (`action_id`, `value`) under `key`, before truncation.
fn mac(key: &Secret, action_id: &str, value: &str) -> HmacSha256 {
    // HMAC takes a key of any length (it hashes a long one), so this cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(DOMAIN);
    mac.update(&(action_id.len() as u64).to_be_bytes());
    mac.update(action_id.as_bytes());
    mac.update(value.as_bytes());
    mac
}

fn sign(keys: &ButtonKeys, action_id: &str, value: &str, max: usize) -> Result<String, ValueError> {
    let len = value.len() + OVERHEAD;
    if len > max {
        return Err(ValueError::TooLong(len));
    }
    let tag = mac(&keys.current, action_id, value).finalize().into_bytes();
    let hex: String = tag
        .iter()
        .take(TAG_BYTES)
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(format!("{hex}{SEPARATOR}{value}"))
}

fn verify<'v>(
    keys: &ButtonKeys,
    action_id: &str,
    signed: &'v str,
    max: usize,
) -> Result<&'v str, Forged> {
    if signed.len() > max {
        return Err(Forged::TooLong);
    }
    let (hex, value) = signed.split_once(SEPARATOR).ok_or(Forged::Unsigned)?;
    let tag = unhex(hex).ok_or(Forged::Unsigned)?;
    let matches = |key: &Secret| {
        mac(key, action_id, value)
            .verify_truncated_left(&tag)
            .is_ok()
    };
    if keys.verifying().any(matches) {
        Ok(value)
    } else {
        Err(Forged::Mismatch)
    }
}

/// The tag's bytes: exactly [`TAG_BYTES`] of lowercase hex, nothing else.
fn unhex(hex: &str) -> Option<[u8; TAG_BYTES]> {
    let digits = hex.as_bytes();
    if digits.len() != TAG_BYTES * 2 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut tag = [0u8; TAG_BYTES];
    for (byte, pair) in tag.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(tag)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::outbound::parameter_store::Tokens;

    /// A signer with `key` as its only key (the unit tests' stand-in for Parameter Store).
    pub(crate) fn signer(key: &str) -> Signer {
        Signer::new(TokenStore::fixed(Tokens {
            bot: Secret::new("xoxb-test"),
            app: Secret::new("xapp-test"),
            github: None,
            buttons: ButtonKeys::new(Secret::new(key), Vec::new()),
        }))
    }

    const KEY: &str = "a-test-key-that-is-long-enough-to-sign-with-0123456789";
    const ACTION: &str = "approval:approve";

    #[test]
    fn a_signed_value_verifies_and_gives_the_value_back() {
        let s = signer(KEY);
        let signed = s.sign_button(ACTION, r#"{"p":"web"}"#).expect("fits");
        assert_eq!(signed.len(), r#"{"p":"web"}"#.len() + OVERHEAD);
        assert_eq!(s.verify_button(ACTION, &signed), Ok(r#"{"p":"web"}"#));
        assert_eq!(
            s.verify_button(ACTION, &signed.clone()),
            Ok(r#"{"p":"web"}"#)
        );
    }

    #[test]
    fn a_tampered_value_or_action_is_refused() {
        let s = signer(KEY);
        let signed = s.sign_button(ACTION, r#"{"p":"web"}"#).expect("fits");
        let other_value = signed.replace("web", "api");
        assert_eq!(s.verify_button(ACTION, &other_value), Err(Forged::Mismatch));
        assert_eq!(
            s.verify_button("approval:reject", &signed),
            Err(Forged::Mismatch)
        );
        // The action id and the value cannot trade characters.
        let shifted = s
            .sign_button("approval:approv", r#"e{"p":"web"}"#)
            .expect("fits");
        assert_ne!(shifted[..32], signed[..32]);
        let mut flipped = signed.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        assert_eq!(s.verify_button(ACTION, &flipped), Err(Forged::Mismatch));
    }

    #[test]
    fn unsigned_truncated_or_malformed_tags_are_refused() {
        let s = signer(KEY);
        let signed = s.sign_button(ACTION, "v").expect("fits");
        for bad in [
            String::new(),
            "v".to_owned(),
            r#"{"p":"web","s":"a","a":"b","t":"1a2b3c4d-573f-4ea7-a67e-0123456789ab"}"#.to_owned(),
            signed[1..].to_owned(),
            format!("{}.v", &signed[..31]),
            format!("{}.v", signed[..32].to_uppercase()),
            format!("{}.v", "zz".repeat(16)),
            "é".repeat(16) + ".v",
            "\u{0}".repeat(32) + ".v",
        ] {
            assert_eq!(
                s.verify_button(ACTION, &bad),
                Err(Forged::Unsigned),
                "{bad:?}"
            );
        }
        // Cut anywhere in the value: the tag no longer matches.
        assert_eq!(
            s.verify_button(ACTION, &signed[..signed.len() - 1]),
            Err(Forged::Mismatch)
        );
    }

    #[test]
    fn values_beyond_slacks_limits_are_neither_signed_nor_read() {
        let s = signer(KEY);
        let longest = "x".repeat(MAX_BUTTON_VALUE - OVERHEAD);
        let signed = s.sign_button(ACTION, &longest).expect("fits exactly");
        assert_eq!(signed.len(), MAX_BUTTON_VALUE);
        assert!(s.verify_button(ACTION, &signed).is_ok());
        assert!(matches!(
            s.sign_button(ACTION, &format!("{longest}x")),
            Err(ValueError::TooLong(_))
        ));
        assert_eq!(
            s.verify_button(ACTION, &format!("{signed}x")),
            Err(Forged::TooLong)
        );
        let metadata = "m".repeat(MAX_PRIVATE_METADATA - OVERHEAD);
        let signed = s.sign_metadata("approval:reason", &metadata).expect("fits");
        assert_eq!(
            s.verify_metadata("approval:reason", &signed),
            Ok(metadata.as_str())
        );
        // A button's signature is not a modal's, and the other way round.
        assert!(s.verify_button("approval:reason", &signed).is_err());
    }

    #[test]
    fn every_button_of_a_message_is_signed_for_its_own_action() {
        let s = signer(KEY);
        let content: SlackMessageContent = serde_json::from_value(serde_json::json!({
            "text": "t",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": "x"}},
                {"type": "actions", "elements": [
                    {"type": "button", "action_id": "deploy:start", "value": "v1", "text": {"type": "plain_text", "text": "Start"}},
                    {"type": "button", "action_id": "deploy:cancel", "value": "cancel", "text": {"type": "plain_text", "text": "Cancel"}},
                ]},
            ],
        }))
        .expect("content");
        let signed = serde_json::to_value(s.sign_buttons(content).expect("fits")).expect("json");
        let buttons = &signed["blocks"][1]["elements"];
        let value = |i: usize| buttons[i]["value"].as_str().expect("value").to_owned();
        assert_eq!(s.verify_button("deploy:start", &value(0)), Ok("v1"));
        assert_eq!(s.verify_button("deploy:cancel", &value(1)), Ok("cancel"));
        assert!(s.verify_button("deploy:start", &value(1)).is_err());
        assert_eq!(signed["blocks"][0]["text"]["text"], "x");
    }

    #[test]
    fn another_key_is_refused_and_the_previous_key_still_verifies() {
        let old = signer(KEY);
        let signed = old.sign_button(ACTION, "v").expect("fits");
        let other = signer("another-key-another-key-another-key-0123");
        assert_eq!(other.verify_button(ACTION, &signed), Err(Forged::Mismatch));
        let rotated = Signer::new(TokenStore::fixed(Tokens {
            bot: Secret::new("xoxb-test"),
            app: Secret::new("xapp-test"),
            github: None,
            buttons: ButtonKeys::new(
                Secret::new("another-key-another-key-another-key-0123"),
                vec![Secret::new(KEY)],
            ),
        }));
        assert_eq!(rotated.verify_button(ACTION, &signed), Ok("v"));
        let fresh = rotated.sign_button(ACTION, "v").expect("fits");
        assert_eq!(other.verify_button(ACTION, &fresh), Ok("v"));
        assert_eq!(old.verify_button(ACTION, &fresh), Err(Forged::Mismatch));
    }
}
