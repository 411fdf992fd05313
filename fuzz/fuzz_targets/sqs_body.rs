//! An SQS body, as the approval queue and the pipeline-events queue read it: never a panic.
//! Seeds: `tests/hostile/sqs` (the `.bin` cases hold bytes SQS itself would refuse).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data);
    let _ = chatops::approvals::notification::parse(&body);
    let _ = chatops::events::parse(&body);
});
