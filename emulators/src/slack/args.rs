//! Web API call arguments, error answers, and the JSON answer every HTTP route sends.
//!
//! Slack accepts the same arguments as query parameters, form fields or a JSON body (the
//! Python SDK uses all three), and a token as `Authorization: Bearer` or a `token` field.

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::blocks;
use super::state::Shared;

/// An `{"ok":false,...}` answer.
#[derive(Debug)]
pub(super) struct ApiError {
    pub(super) error: String,
    /// Details for `invalid_blocks`, answered as the top-level `errors` array.
    pub(super) errors: Vec<String>,
}

impl ApiError {
    pub(super) fn new(error: &str) -> Self {
        Self {
            error: error.to_owned(),
            errors: Vec::new(),
        }
    }

    pub(super) fn body(&self) -> Value {
        let mut body = json!({"ok": false, "error": self.error});
        if !self.errors.is_empty() {
            body["errors"] = json!(self.errors);
        }
        body
    }
}

/// What a Web API method answers: the fields of `{"ok":true,...}`, or the error.
pub(super) type MethodResult = Result<Value, ApiError>;

/// A JSON answer with Slack's content type.
pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    let content_type = HeaderValue::from_static("application/json; charset=utf-8");
    (status, [(CONTENT_TYPE, content_type)], body.to_string()).into_response()
}

/// The merged arguments of one call.
pub(super) struct Args {
    fields: Map<String, Value>,
    token: Option<String>,
}

impl Args {
    /// Merges query parameters and the body (JSON or form-encoded) and finds the token.
    ///
    /// # Errors
    /// `invalid_json` / `invalid_form_data` when the body does not parse.
    pub(super) fn parse(
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Self, ApiError> {
        let mut args = Self {
            fields: Map::new(),
            token: None,
        };
        if let Some(query) = query {
            let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
                .map_err(|_| ApiError::new("invalid_arguments"))?;
            args.add_pairs(pairs);
        }
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if content_type.starts_with("application/json") {
            if !body.is_empty() {
                match serde_json::from_slice(body) {
                    Ok(Value::Object(object)) => args.fields.extend(object),
                    // slack-morphism serialises argument-less requests as `null`.
                    Ok(Value::Null) => {}
                    _ => return Err(ApiError::new("invalid_json")),
                }
            }
        } else if !body.is_empty() {
            let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
                .map_err(|_| ApiError::new("invalid_form_data"))?;
            args.add_pairs(pairs);
        }
        let bearer = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty());
        if let Some(bearer) = bearer {
            args.token = Some(bearer.to_owned());
        }
        Ok(args)
    }

    /// Form and query pairs; a `token` pair is the token (JSON bodies cannot carry one).
    fn add_pairs(&mut self, pairs: Vec<(String, String)>) {
        for (key, value) in pairs {
            if key == "token" {
                self.token = Some(value).filter(|token| !token.is_empty());
            } else {
                self.fields.insert(key, Value::String(value));
            }
        }
    }

    pub(super) fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// A non-empty string argument.
    pub(super) fn str(&self, key: &str) -> Option<&str> {
        self.fields
            .get(key)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
    }

    /// A non-empty string argument, or `error` when it is missing.
    pub(super) fn required(&self, key: &str, error: &str) -> Result<&str, ApiError> {
        self.str(key).ok_or_else(|| ApiError::new(error))
    }

    /// A boolean argument: `true`/`1` as a JSON value or a string (slack-morphism sends
    /// `true`, the Python SDK `1`); anything else, or nothing, is `false`.
    pub(super) fn flag(&self, key: &str) -> bool {
        match self.fields.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_u64() == Some(1),
            Some(Value::String(s)) => s == "true" || s == "1",
            _ => false,
        }
    }

    /// A non-negative integer argument, as a JSON number or a string.
    pub(super) fn count(&self, key: &str) -> Option<usize> {
        match self.fields.get(key)? {
            Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// A JSON argument that may arrive as a value or as a JSON string (form bodies).
    pub(super) fn json(&self, key: &str) -> Option<Result<Value, ()>> {
        match self.fields.get(key)? {
            Value::Null => None,
            Value::String(text) => Some(serde_json::from_str(text).map_err(|_| ())),
            value => Some(Ok(value.clone())),
        }
    }

    /// `blocks`, validated against Block Kit limits.
    ///
    /// # Errors
    /// `invalid_blocks_format` when not an array, `invalid_blocks` (with details) when a
    /// limit is broken.
    pub(super) fn blocks(&self) -> Result<Option<Vec<Value>>, ApiError> {
        let blocks = match self.json("blocks") {
            None => return Ok(None),
            Some(Ok(Value::Array(blocks))) => blocks,
            Some(_) => return Err(ApiError::new("invalid_blocks_format")),
        };
        blocks::validate(&blocks).map_err(|errors| ApiError {
            error: "invalid_blocks".to_owned(),
            errors,
        })?;
        Ok(Some(blocks))
    }

    /// A JSON object argument (`view`), from an object or a JSON string.
    pub(super) fn object(&self, key: &str) -> Option<Map<String, Value>> {
        match self.json(key) {
            Some(Ok(Value::Object(object))) => Some(object),
            _ => None,
        }
    }
}

/// The `channel` argument, when the workspace has that channel.
///
/// # Errors
/// `channel_not_found`.
pub(super) fn known_channel<'a>(shared: &Shared, args: &'a Args) -> Result<&'a str, ApiError> {
    let channel = args.required("channel", "channel_not_found")?;
    if shared.lock().channels.contains_key(channel) {
        Ok(channel)
    } else {
        Err(ApiError::new("channel_not_found"))
    }
}
