//! The operations of the simulated API: dispatch on `X-Amz-Target`, shared JSON helpers.
//!
//! Each handler is synchronous: it parses and validates its input, takes the state lock
//! briefly, and hands execution progress to `CodePipelineSim::run` (a spawned task).

mod actions;
mod approvals;
mod executions;
mod pipelines;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;
use super::sim::CodePipelineSim;
use super::state::State;

pub(crate) use approvals::decide_in_console;
pub(crate) use executions::start_execution;

/// Serves one request (counted on arrival by the wire layer): applies an injected fault, or
/// runs the operation.
pub(crate) fn dispatch(
    sim: &CodePipelineSim,
    operation: &str,
    caller: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    if let Some(fault) = take_fault(&mut sim.lock(), operation) {
        return Err(fault);
    }
    let result = match operation {
        "PutApprovalResult" => approvals::put_approval_result(sim, caller, parse(body)?),
        "GetPipelineState" => pipelines::get_pipeline_state(sim, parse(body)?),
        "GetPipeline" => pipelines::get_pipeline(sim, parse(body)?),
        "ListPipelines" => pipelines::list_pipelines(sim, parse(body)?),
        "StartPipelineExecution" => executions::start(sim, caller, parse(body)?),
        "ListPipelineExecutions" => executions::list(sim, parse(body)?),
        "GetPipelineExecution" => executions::get(sim, parse(body)?),
        "StopPipelineExecution" => executions::stop(sim, parse(body)?),
        "ListActionExecutions" => actions::list(sim, parse(body)?),
        other => Err(ApiError::UnknownOperation(other.to_owned())),
    };
    if result.is_ok() {
        sim.emit_events();
    }
    result
}

/// Counts `PutApprovalResult` calls (refused ones included) and consumes one injected fault.
fn take_fault(state: &mut State, operation: &str) -> Option<ApiError> {
    if operation == "PutApprovalResult" {
        state.put_approval_calls += 1;
    }
    let (error_type, times) = state.faults.get_mut(operation)?;
    let fault = ApiError::Injected(error_type.clone());
    *times -= 1;
    if *times == 0 {
        state.faults.remove(operation);
    }
    Some(fault)
}

/// Reads the JSON input; an empty body counts as `{}`.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| ApiError::Serialization(e.to_string()))
}

/// A timestamp as AWS JSON sends it: epoch seconds, millisecond fraction.
fn epoch(time: DateTime<Utc>) -> Value {
    Value::from(time.timestamp_millis() as f64 / 1000.0)
}

/// Drops `null` members everywhere: AWS omits unset members rather than sending null.
fn compact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, compact(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(compact).collect()),
        other => other,
    }
}

/// One page of `items` starting at the item whose key is `next_token`; the next page's
/// token is the key of the first item left out. Unknown token → `InvalidNextTokenException`.
/// Lazy: only the items up to the page's end are looked at, so the first pages of a long
/// history (what clients ask for) cost what they hold, not what the history holds.
fn page<T>(
    items: impl Iterator<Item = T>,
    key: impl Fn(&T) -> &str,
    next_token: Option<&str>,
    max_results: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let mut items = items.peekable();
    if let Some(token) = next_token {
        while items.next_if(|item| key(item) != token).is_some() {}
        if items.peek().is_none() {
            return Err(ApiError::InvalidNextToken);
        }
    }
    let page: Vec<T> = items.by_ref().take(max_results).collect();
    let next = items.peek().map(|item| key(item).to_owned());
    Ok((page, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_chain_through_next_tokens() {
        let items = ["a", "b", "c"];
        fn key<'a>(s: &'a &str) -> &'a str {
            s
        }
        let (first, next) = page(items.into_iter(), key, None, 2).expect("first page");
        assert_eq!((first, next.as_deref()), (vec!["a", "b"], Some("c")));
        let (last, next) = page(items.into_iter(), key, Some("c"), 2).expect("last page");
        assert_eq!((last, next), (vec!["c"], None));
        assert!(page(items.into_iter(), key, Some("z"), 2).is_err());
    }

    #[test]
    fn compact_drops_nulls_at_every_depth() {
        let value = serde_json::json!({"a": null, "b": [{"c": null, "d": 1}]});
        assert_eq!(compact(value), serde_json::json!({"b": [{"d": 1}]}));
    }
}
