//! Block Kit validation with Slack's limits, reported the way Slack reports them:
//! `invalid_blocks` plus messages such as
//! `must be less than 3001 characters [json-pointer:/blocks/0/text/text]`. Pure: no I/O.

use std::collections::HashSet;

use serde_json::Value;

const MAX_BLOCKS: usize = 50;

/// Checks a message's blocks; `Err` carries one message per broken rule.
pub(super) fn validate(blocks: &[Value]) -> Result<(), Vec<String>> {
    let mut checker = Checker::default();
    checker.max_items("/blocks", blocks.len(), MAX_BLOCKS);
    for (index, block) in blocks.iter().enumerate() {
        checker.block(&format!("/blocks/{index}"), block);
    }
    if checker.errors.is_empty() {
        Ok(())
    } else {
        Err(checker.errors)
    }
}

#[derive(Default)]
struct Checker {
    errors: Vec<String>,
    block_ids: HashSet<String>,
    action_ids: HashSet<String>,
}

impl Checker {
    fn fail(&mut self, pointer: &str, message: &str) {
        self.errors
            .push(format!("{message} [json-pointer:{pointer}]"));
    }

    fn max_items(&mut self, pointer: &str, count: usize, max: usize) {
        if count > max {
            self.fail(pointer, &format!("no more than {max} items allowed"));
        }
    }

    /// A string field of at most `max` characters; `required` also rejects absence.
    fn string(&mut self, pointer: &str, value: Option<&Value>, max: usize, required: bool) {
        match value {
            None if required => self.fail(pointer, "must provide a string"),
            None => {}
            Some(Value::String(text)) if text.chars().count() > max => {
                self.fail(
                    pointer,
                    &format!("must be less than {} characters", max + 1),
                );
            }
            Some(Value::String(_)) => {}
            Some(_) => self.fail(pointer, "must be a string"),
        }
    }

    fn one_of(&mut self, pointer: &str, value: Option<&Value>, allowed: &[&str]) {
        if let Some(value) = value {
            if !value.as_str().is_some_and(|v| allowed.contains(&v)) {
                self.fail(pointer, "must be a valid enum value");
            }
        }
    }

    /// A text object: `{"type": plain_text|mrkdwn, "text": 1..=max chars}`.
    fn text(&mut self, pointer: &str, value: Option<&Value>, max: usize, plain_only: bool) {
        let Some(object) = value.and_then(Value::as_object) else {
            self.fail(pointer, "must provide an object");
            return;
        };
        let types: &[&str] = if plain_only {
            &["plain_text"]
        } else {
            &["plain_text", "mrkdwn"]
        };
        let kind = object.get("type");
        if kind.is_none() {
            self.fail(&format!("{pointer}/type"), "must provide a string");
        }
        self.one_of(&format!("{pointer}/type"), kind, types);
        let text_pointer = format!("{pointer}/text");
        if object.get("text").and_then(Value::as_str) == Some("") {
            self.fail(&text_pointer, "must be more than 0 characters");
        }
        self.string(&text_pointer, object.get("text"), max, true);
    }

    fn block(&mut self, pointer: &str, block: &Value) {
        let Some(object) = block.as_object() else {
            self.fail(pointer, "must provide an object");
            return;
        };
        if let Some(id) = object.get("block_id") {
            let id_pointer = format!("{pointer}/block_id");
            self.string(&id_pointer, Some(id), 255, true);
            if let Some(id) = id.as_str() {
                if !self.block_ids.insert(id.to_owned()) {
                    self.fail(&id_pointer, "must be unique within the message");
                }
            }
        }
        let field = |name: &str| (format!("{pointer}/{name}"), object.get(name));
        match object.get("type").and_then(Value::as_str) {
            Some("section") => {
                let (text_pointer, text) = field("text");
                let (fields_pointer, fields) = field("fields");
                if text.is_none() && fields.is_none() {
                    self.fail(pointer, "must provide either text or fields");
                }
                if text.is_some() {
                    self.text(&text_pointer, text, 3000, false);
                }
                if let Some(fields) = fields {
                    self.list(&fields_pointer, Some(fields), 10, |c, p, f| {
                        c.text(p, Some(f), 2000, false);
                    });
                }
                if let (accessory_pointer, Some(accessory)) = field("accessory") {
                    self.element(&accessory_pointer, accessory);
                }
            }
            Some("header") => {
                let (text_pointer, text) = field("text");
                self.text(&text_pointer, text, 150, true);
            }
            Some("context") => {
                let (elements_pointer, elements) = field("elements");
                self.list(&elements_pointer, elements, 10, |c, p, e| {
                    if e.get("type").and_then(Value::as_str) != Some("image") {
                        c.text(p, Some(e), 3000, false);
                    }
                });
            }
            Some("actions") => {
                let (elements_pointer, elements) = field("elements");
                self.list(&elements_pointer, elements, 25, Self::element);
            }
            Some("divider" | "image" | "rich_text" | "input" | "file" | "video" | "markdown") => {}
            Some(_) => self.fail(&format!("{pointer}/type"), "must be a valid enum value"),
            None => self.fail(&format!("{pointer}/type"), "must provide a string"),
        }
    }

    /// A required, non-empty array of at most `max` items, each checked by `item`.
    fn list(
        &mut self,
        pointer: &str,
        value: Option<&Value>,
        max: usize,
        mut item: impl FnMut(&mut Self, &str, &Value),
    ) {
        let Some(items) = value.and_then(Value::as_array) else {
            self.fail(pointer, "must provide an array");
            return;
        };
        if items.is_empty() {
            self.fail(pointer, "must provide at least 1 item");
        }
        self.max_items(pointer, items.len(), max);
        for (index, value) in items.iter().enumerate() {
            item(self, &format!("{pointer}/{index}"), value);
        }
    }

    /// An interactive element: buttons fully, anything else only for its `action_id`.
    fn element(&mut self, pointer: &str, element: &Value) {
        let field = |name: &str| (format!("{pointer}/{name}"), element.get(name));
        let (action_pointer, action_id) = field("action_id");
        self.string(&action_pointer, action_id, 255, false);
        if let Some(id) = action_id.and_then(Value::as_str) {
            if !self.action_ids.insert(id.to_owned()) {
                self.fail(&action_pointer, "must be unique within the message");
            }
        }
        if element.get("type").and_then(Value::as_str) != Some("button") {
            return;
        }
        let (text_pointer, text) = field("text");
        self.text(&text_pointer, text, 75, true);
        let (value_pointer, value) = field("value");
        self.string(&value_pointer, value, 2000, false);
        let (url_pointer, url) = field("url");
        self.string(&url_pointer, url, 3000, false);
        let (label_pointer, label) = field("accessibility_label");
        self.string(&label_pointer, label, 75, false);
        let (style_pointer, style) = field("style");
        self.one_of(&style_pointer, style, &["primary", "danger"]);
        if let (confirm_pointer, Some(confirm)) = field("confirm") {
            self.confirm(&confirm_pointer, confirm);
        }
    }

    fn confirm(&mut self, pointer: &str, confirm: &Value) {
        let field = |name: &str| (format!("{pointer}/{name}"), confirm.get(name));
        for (name, max, plain_only) in [
            ("title", 100, true),
            ("text", 300, false),
            ("confirm", 30, true),
            ("deny", 30, true),
        ] {
            let (field_pointer, value) = field(name);
            self.text(&field_pointer, value, max, plain_only);
        }
        let (style_pointer, style) = field("style");
        self.one_of(&style_pointer, style, &["primary", "danger"]);
    }
}

#[cfg(test)]
mod tests {
    use super::validate;
    use serde_json::{json, Value};

    fn section(text: &str) -> Value {
        json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    }

    fn button(text: &str, action_id: &str) -> Value {
        json!({"type": "button", "text": {"type": "plain_text", "text": text},
               "action_id": action_id, "value": "v", "style": "primary"})
    }

    #[test]
    fn an_approval_message_is_valid() {
        let blocks = [
            json!({"type": "header", "text": {"type": "plain_text", "text": "Approve?"}}),
            section("*pipeline* waits"),
            json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "by ops"}]}),
            json!({"type": "actions", "block_id": "decide",
                   "elements": [button("Approve", "approve"), button("Reject", "reject")]}),
        ];
        assert_eq!(validate(&blocks), Ok(()));
    }

    #[test]
    fn section_text_over_3000_characters_is_reported_with_its_pointer() {
        let errors = validate(&[section(&"x".repeat(3001))]).unwrap_err();
        assert_eq!(
            errors,
            ["must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
        );
    }

    #[test]
    fn more_than_50_blocks_are_rejected() {
        let blocks = vec![json!({"type": "divider"}); 51];
        let errors = validate(&blocks).unwrap_err();
        assert_eq!(
            errors,
            ["no more than 50 items allowed [json-pointer:/blocks]"]
        );
    }

    #[test]
    fn button_text_over_75_characters_is_rejected() {
        let blocks = [json!({"type": "actions", "elements": [button(&"b".repeat(76), "a")]})];
        let errors = validate(&blocks).unwrap_err();
        assert_eq!(
            errors,
            ["must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]"]
        );
    }

    #[test]
    fn duplicate_ids_empty_text_and_unknown_styles_are_rejected() {
        let mut bad_button = button("Go", "same");
        bad_button["style"] = json!("green");
        let blocks = [
            json!({"type": "actions", "block_id": "b", "elements": [button("Go", "same"), bad_button]}),
            json!({"type": "section", "block_id": "b", "text": {"type": "mrkdwn", "text": ""}}),
        ];
        let errors = validate(&blocks).unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
    }
}
