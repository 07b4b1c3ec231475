//! The check configuration (`CHECKS`), from its text, as the hooks read it
//! at cold start. What parses must round-trip through serialisation.
#![no_main]

use autopilot_shared::checks::{CheckPlan, CheckSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(plan) = CheckPlan::parse("CHECKS", text) {
        let value = serde_json::to_value(&plan.checks).expect("checks serialise");
        let again: Vec<CheckSpec> = CheckPlan::from_value("CHECKS", value)
            .expect("serialised checks parse")
            .checks;
        assert_eq!(again, plan.checks);
    }
});
