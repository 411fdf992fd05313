//! A Socket Mode text frame, before and after `hello`: parsed and checked, never a panic.
//! Seeds: `tests/hostile/envelopes`.
#![no_main]

use chatops::inbound::socket_mode::envelope::{parse, AppIdentity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let app = AppIdentity {
        app_id: "A0TEST".into(),
        team_id: "T0TEST".into(),
    };
    let _ = parse(None, text);
    let _ = parse(Some(&app), text);
});
