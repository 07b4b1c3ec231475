//! The `codedeploy-hook` event, as Lambda hands it over: JSON bytes, then
//! `codedeploy_hook::parse_hook_event`, what `Function::handle` runs before
//! any AWS call.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    match codedeploy_hook::parse_hook_event(payload) {
        Ok(event) => {
            assert!(!event.deployment_id.trim().is_empty());
            assert!(!event.lifecycle_event_hook_execution_id.trim().is_empty());
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
});
