//! Malformed schedule payloads never make `scheduled-scaling` panic; each
//! is rejected as `InvalidInput` with a message naming the bad field,
//! before any AWS call (every request the function's clients send is
//! counted, none sent). A valid payload goes on to select the services:
//! those calls are counted too.

use autopilot_shared::config::Env;
use autopilot_test_support::bad_input::{
    Harness, Outcome, context, names_a_path, names_bad_fields, rejects_arbitrary_events,
};
use autopilot_test_support::events::{SCALING_KEYS, scaling_payload};
use autopilot_test_support::json::{any_json, any_scalar, graft, sample_event};
use lambda_runtime::LambdaEvent;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use scheduled_scaling::{Config, Function};
use serde_json::Value;

/// The function against counted requests, and how to invoke it.
fn function() -> impl Fn(Value) -> Result<(Outcome, usize), TestCaseError> {
    let harness = Harness::new();
    let config = Config::from_env(&Env::from_pairs([("DRY_RUN", "false")]));
    let function = Function::new(&harness.sdk_config("eu-west-1"), config);
    move |payload| {
        let (result, requests) = harness.run(function.handle(LambdaEvent::new(payload, context())));
        Ok((Outcome::of(&result), requests))
    }
}

#[test]
fn arbitrary_payloads_never_panic_and_rejections_make_no_call() {
    let payloads = prop_oneof![
        any_json(SCALING_KEYS),
        graft(
            sample_event("scheduled-scaling/dev-office-hours.json"),
            any_json(SCALING_KEYS)
        ),
        graft(
            sample_event("scheduled-scaling/business-hours.json"),
            any_scalar()
        ),
        graft(sample_event("scheduled-scaling/restore.json"), any_scalar()),
        scaling_payload().prop_map(|(doc, _)| doc),
    ];
    rejects_arbitrary_events(256, payloads, function(), |message| {
        names_a_path(message, "malformed scheduled-scaling event: ")
    });
}

#[test]
fn a_bad_field_is_named_and_rejected_before_any_call() {
    names_bad_fields(256, scaling_payload(), function(), false);
}
