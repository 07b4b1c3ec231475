//! The `scheduled-scaling` payload, as Lambda hands it over: JSON bytes,
//! then `ScalingRequest::parse`, what `Function::handle` runs before any
//! AWS call. What parses must round-trip through `to_json`.
#![no_main]

use autopilot_shared::capacity::ScalingRequest;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(request) = ScalingRequest::parse(payload) {
        assert_eq!(ScalingRequest::parse(request.to_json()), Ok(request));
    }
});
