//! Malformed events never make `ecs-deployment-hook` panic (nor fail the
//! invocation); each is answered `FAILED` with a reason naming the bad
//! field, before any AWS call (every request the function's clients send is
//! counted, none sent). A well-formed event goes on to its checks, whose
//! calls are counted too.

use autopilot_shared::config::Env;
use autopilot_test_support::bad_input::{
    Harness, Outcome, context, names_bad_fields, rejects_arbitrary_events,
};
use autopilot_test_support::counting::check;
use autopilot_test_support::events::{ECS_HOOK_KEYS, ecs_hook_event, hook_details};
use autopilot_test_support::json::{any_json, any_scalar, graft, sample_event};
use ecs_deployment_hook::{Config, Function};
use lambda_runtime::LambdaEvent;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

/// The function against counted requests, and how to invoke it: the hook
/// never errors, and answers a refused event (not its checks failing)
/// `FAILED` with the reason.
fn function() -> impl Fn(Value) -> Result<(Outcome, usize), TestCaseError> {
    let harness = Harness::new();
    let config = Config::from_env(&Env::from_pairs([("DRY_RUN", "false")]));
    let function = Function::new(harness.sdk_config("us-east-1"), config);
    move |payload| {
        let (result, requests) = harness.run(function.handle(LambdaEvent::new(payload, context())));
        let answer = result.map_err(|e| TestCaseError::fail(format!("the hook errored: {e}")))?;
        let status = answer["hookStatus"].as_str().unwrap_or_default();
        let reason = answer["hookDetails"]["verdict"]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        prop_assert!(
            ["SUCCEEDED", "FAILED", "IN_PROGRESS"].contains(&status),
            "{answer}"
        );
        // A panic is answered FAILED too: it must not happen all the same.
        prop_assert!(!reason.contains("panicked"), "{}", reason);
        let rejected = status == "FAILED"
            && (reason.starts_with("malformed ECS lifecycle hook event")
                || reason.starts_with("bad configuration: "));
        let outcome = if rejected {
            Outcome::Rejected(reason)
        } else {
            Outcome::Accepted
        };
        Ok((outcome, requests))
    }
}

#[test]
fn arbitrary_events_never_panic_and_rejections_make_no_call() {
    let sample = sample_event("ecs-deployment-hook/post-test-traffic-shift.json");
    let events = prop_oneof![
        any_json(ECS_HOOK_KEYS),
        graft(sample.clone(), any_json(ECS_HOOK_KEYS)),
        graft(sample.clone(), any_scalar()),
        hook_details().prop_map(move |details| {
            let mut event = sample.clone();
            event["hookDetails"] = details;
            event
        }),
        ecs_hook_event().prop_map(|(doc, _)| doc),
    ];
    // `malformed ... event: path: reason` or `bad configuration: invalid name: reason`.
    rejects_arbitrary_events(256, events, function(), |reason| {
        reason.matches(": ").count() >= 2
    });
}

#[test]
fn a_bad_field_is_named_and_rejected_before_any_call() {
    names_bad_fields(256, ecs_hook_event(), function(), false);
}

#[test]
fn valid_events_are_answered_without_panic() {
    let invoke = function();
    check(256, ecs_hook_event(), |(doc, _)| {
        let (outcome, _) = invoke(doc.clone())?;
        prop_assert!(
            !matches!(outcome, Outcome::Rejected(_)),
            "{doc}: {outcome:?}"
        );
        Ok(())
    });
}
