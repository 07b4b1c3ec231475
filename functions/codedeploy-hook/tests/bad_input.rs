//! Malformed events never make `codedeploy-hook` panic; each is rejected
//! as `InvalidInput` with a message naming the bad field, before any AWS
//! call (every request the function's clients send is counted, none sent).
//! A well-formed event goes on to ask CodeDeploy which hook this is and to
//! report the verdict: those calls are counted too.

use autopilot_shared::config::Env;
use autopilot_test_support::bad_input::{
    Harness, Outcome, context, names_a_path, names_bad_fields, rejects_arbitrary_events,
};
use autopilot_test_support::events::{CODEDEPLOY_KEYS, codedeploy_event};
use autopilot_test_support::json::{any_json, any_scalar, graft, sample_event};
use codedeploy_hook::{Config, Function};
use lambda_runtime::LambdaEvent;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

/// The function against counted requests, and how to invoke it.
fn function() -> impl Fn(Value) -> Result<(Outcome, usize), TestCaseError> {
    let harness = Harness::new();
    let config = Config::from_env(&Env::from_pairs([("DRY_RUN", "false")]));
    let function = Function::new(harness.sdk_config("us-east-1"), config);
    move |payload| {
        let (result, requests) = harness.run(function.handle(LambdaEvent::new(payload, context())));
        Ok((Outcome::of(&result), requests))
    }
}

#[test]
fn arbitrary_events_never_panic_and_rejections_make_no_call() {
    let sample = sample_event("codedeploy-hook/after-allow-test-traffic.json");
    let events = prop_oneof![
        any_json(CODEDEPLOY_KEYS),
        graft(sample.clone(), any_json(CODEDEPLOY_KEYS)),
        graft(sample, any_scalar()),
        codedeploy_event().prop_map(|(doc, _)| doc),
    ];
    rejects_arbitrary_events(256, events, function(), |message| {
        names_a_path(message, "malformed CodeDeploy lifecycle hook event: ")
    });
}

#[test]
fn a_bad_field_is_named_and_rejected_before_any_call() {
    names_bad_fields(256, codedeploy_event(), function(), false);
}
