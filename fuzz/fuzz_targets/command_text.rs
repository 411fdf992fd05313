//! Slash-command text for `/deploy` and `/redshift-alerts`: parsed, never a panic, and a
//! refusal never hands a mention from the input back as markup. Seeds: `tests/hostile/commands`.
#![no_main]

use chatops::commands::{deploy, redshift_alerts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let refusals = [
        deploy::parse::parse(text, &["web-prod", "api.staging"]).err(),
        redshift_alerts::parse(text).err(),
    ];
    for refusal in refusals.into_iter().flatten() {
        for markup in ["<!channel>", "<!here>", "<@U"] {
            assert!(
                !(text.contains(markup) && refusal.0.contains(markup)),
                "{text:?}"
            );
        }
    }
});
