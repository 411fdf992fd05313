//! Input constraints of the CodePipeline service model (the members' patterns, lengths and
//! ranges, <https://docs.aws.amazon.com/codepipeline/latest/APIReference/>), answered as AWS
//! words them.
//!
//! Pure functions; each returns the checked value or a `ValidationException`.

use super::error::ApiError;

/// A required member, or "Member must not be null".
pub(crate) fn required<'a, T>(field: &str, value: &'a Option<T>) -> Result<&'a T, ApiError> {
    value.as_ref().ok_or_else(|| {
        ApiError::Validation(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// Pipeline, stage and action names: 1–100 characters of `[A-Za-z0-9.@\-_]`.
pub(crate) fn name<'a>(field: &str, value: &'a Option<String>) -> Result<&'a str, ApiError> {
    let value = required(field, value)?;
    length(field, value, 1, 100)?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".@-_".contains(c);
    if !value.chars().all(allowed) {
        return Err(violation(
            field,
            value,
            "Member must satisfy regular expression pattern: [A-Za-z0-9.@\\-_]+",
        ));
    }
    Ok(value)
}

/// Approval tokens and execution ids: a lowercase UUID.
pub(crate) fn uuid<'a>(field: &str, value: &'a Option<String>) -> Result<&'a str, ApiError> {
    let value = required(field, value)?;
    if !is_lowercase_uuid(value) {
        return Err(violation(
            field,
            value,
            "Member must satisfy regular expression pattern: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        ));
    }
    Ok(value)
}

/// Length in characters between `min` and `max`, inclusive.
pub(crate) fn length(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let count = value.chars().count();
    if count < min {
        return Err(violation(
            field,
            value,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if count > max {
        return Err(violation(
            field,
            value,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// A `maxResults`: between 1 and `max`, inclusive; `max` when absent.
pub(crate) fn page_size(field: &str, value: Option<i64>, max: usize) -> Result<usize, ApiError> {
    let Some(value) = value else {
        return Ok(max);
    };
    match usize::try_from(value) {
        Ok(size) if (1..=max).contains(&size) => Ok(size),
        _ => Err(violation(
            field,
            &value.to_string(),
            &format!("Member must have value between 1 and {max}"),
        )),
    }
}

/// One of a fixed set of values (an enum member).
pub(crate) fn one_of<'a>(
    field: &str,
    value: &'a Option<String>,
    allowed: &[&str],
) -> Result<&'a str, ApiError> {
    let value = required(field, value)?;
    if !allowed.contains(&value.as_str()) {
        let set = allowed.join(", ");
        return Err(violation(
            field,
            value,
            &format!("Member must satisfy enum value set: [{set}]"),
        ));
    }
    Ok(value)
}

fn violation(field: &str, value: &str, constraint: &str) -> ApiError {
    ApiError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
    ))
}

fn is_lowercase_uuid(value: &str) -> bool {
    value.len() == 36
        && value.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(value: &str) -> Option<String> {
        Some(value.to_owned())
    }

    #[test]
    fn names_accept_the_model_alphabet() {
        assert!(name("pipelineName", &some("my.pipe@1-a_b")).is_ok());
        assert!(name("pipelineName", &some("has space")).is_err());
        assert!(name("pipelineName", &some("")).is_err());
        assert!(name("pipelineName", &some(&"a".repeat(101))).is_err());
        assert!(name("pipelineName", &None).is_err());
    }

    #[test]
    fn tokens_must_be_lowercase_uuids() {
        assert!(uuid("token", &some("1a2b3c4d-573f-4ea7-a67e-0123456789ab")).is_ok());
        assert!(uuid("token", &some("1A2B3C4D-573F-4EA7-A67E-0123456789AB")).is_err());
        assert!(uuid("token", &some("1a2b3c4d-573f-4ea7-a67E-XAMPLETOKEN")).is_err());
        assert!(uuid("token", &some("1a2b3c4d0573f04ea70a67e00123456789ab")).is_err());
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert!(length("summary", &"é".repeat(512), 0, 512).is_ok());
        assert!(length("summary", &"é".repeat(513), 0, 512).is_err());
    }

    #[test]
    fn page_sizes_default_to_the_maximum() {
        assert_eq!(page_size("maxResults", None, 100).ok(), Some(100));
        assert_eq!(page_size("maxResults", Some(7), 100).ok(), Some(7));
        assert!(page_size("maxResults", Some(0), 100).is_err());
        assert!(page_size("maxResults", Some(101), 100).is_err());
    }
}
