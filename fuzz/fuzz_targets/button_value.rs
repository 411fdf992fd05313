//! A clicked button's value: verified as `Registry::click` does, then read as the approval
//! handler does; never a panic, and never accepted without the key. Seeds: `tests/hostile/buttons`.
#![no_main]

use chatops::approvals::ApprovalRef;
use chatops::outbound::parameter_store::{ButtonKeys, TokenStore, Tokens};
use chatops::secret::Secret;
use chatops::signing::Signer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|value: &str| {
    let signer = Signer::new(TokenStore::fixed(Tokens {
        bot: Secret::new("xoxb-fuzz"),
        app: Secret::new("xapp-fuzz"),
        github: None,
        buttons: ButtonKeys::new(Secret::new("a-fuzzing-key-0123456789abcdef"), Vec::new()),
    }));
    // The fuzzer cannot find a 128-bit tag: a value that verifies is a bug.
    assert!(signer.verify_button("approval:approve", value).is_err());
    let _ = ApprovalRef::decode(value);
});
