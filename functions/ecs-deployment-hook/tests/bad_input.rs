//! Malformed events never make `ecs-deployment-hook` panic (nor fail the
//! invocation); each is answered `FAILED` with a reason naming the bad
//! field, before any AWS call (every request the function's clients send is
//! counted, none sent). A well-formed event goes on to its checks, whose
//! calls are counted too.

#[path = "../../../shared/tests/support/counting.rs"]
mod counting;
#[path = "../../../shared/tests/support/events.rs"]
mod events;
#[path = "../../../shared/tests/support/json.rs"]
mod json;

use std::cell::Cell;

use autopilot_shared::config::Env;
use counting::{Requests, check, context, paused_runtime};
use ecs_deployment_hook::{Config, Function};
use events::{ECS_HOOK_KEYS, ecs_hook_event, hook_details};
use json::{Mutant, any_json, any_scalar, graft, mutant, sample_event};
use lambda_runtime::LambdaEvent;
use proptest::prelude::*;
use serde_json::Value;

/// The function, its counted requests, and a runtime to invoke it on.
struct Harness {
    function: Function,
    requests: Requests,
    runtime: tokio::runtime::Runtime,
}

/// What the hook answered.
#[derive(Debug)]
struct Answer {
    /// `hookStatus`.
    status: String,
    /// `hookDetails.verdict.reason`.
    reason: String,
}

impl Answer {
    /// Whether the event itself was refused (not the checks failing).
    fn rejected(&self) -> bool {
        self.status == "FAILED"
            && (self
                .reason
                .starts_with("malformed ECS lifecycle hook event")
                || self.reason.starts_with("bad configuration: "))
    }
}

impl Harness {
    fn new() -> Self {
        let requests = Requests::default();
        let config = Config::from_env(&Env::from_pairs([("DRY_RUN", "false")]));
        Harness {
            function: Function::new(requests.sdk_config("us-east-1"), config),
            requests,
            runtime: paused_runtime(),
        }
    }

    /// Invokes the function: its answer, and the requests it sent.
    fn invoke(&self, payload: Value) -> Result<(Answer, usize), TestCaseError> {
        self.requests.take();
        let result = self
            .runtime
            .block_on(self.function.handle(LambdaEvent::new(payload, context())));
        let requests = self.requests.take();
        let answer = result.map_err(|e| TestCaseError::fail(format!("the hook errored: {e}")))?;
        let status = answer["hookStatus"].as_str().unwrap_or_default().to_owned();
        let reason = answer["hookDetails"]["verdict"]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        prop_assert!(
            ["SUCCEEDED", "FAILED", "IN_PROGRESS"].contains(&status.as_str()),
            "{answer}"
        );
        // A panic is answered FAILED too: it must not happen all the same.
        prop_assert!(!reason.contains("panicked"), "{}", reason);
        Ok((Answer { status, reason }, requests))
    }
}

#[test]
fn arbitrary_events_never_panic_and_rejections_make_no_call() {
    let harness = Harness::new();
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
    let (rejected, accepted_with_calls) = (Cell::new(0), Cell::new(0));
    check(256, events, |payload| {
        let (answer, requests) = harness.invoke(payload.clone())?;
        if answer.rejected() {
            rejected.set(rejected.get() + 1);
            prop_assert_eq!(requests, 0, "{} rejected after AWS calls", payload);
            // `malformed ... event: path: reason` or `bad configuration: invalid name: reason`.
            prop_assert!(
                answer.reason.matches(": ").count() >= 2,
                "{}",
                answer.reason
            );
        } else if requests > 0 {
            accepted_with_calls.set(accepted_with_calls.get() + 1);
        }
        Ok(())
    });
    assert!(rejected.get() > 0, "no event was rejected");
    assert!(accepted_with_calls.get() > 0, "no event reached AWS");
}

#[test]
fn a_bad_field_is_named_and_rejected_before_any_call() {
    let harness = Harness::new();
    let mutants = ecs_hook_event().prop_flat_map(|(doc, fields)| mutant(doc, fields));
    check(256, mutants, |mutant| {
        let Mutant {
            doc,
            name,
            change,
            must_reject,
        } = mutant;
        let (answer, requests) = harness.invoke(doc.clone())?;
        if answer.rejected() {
            prop_assert_eq!(requests, 0, "{} rejected after AWS calls", doc);
            prop_assert!(
                answer.reason.contains(&name),
                "{doc}: {change:?} of {name}: {answer:?}"
            );
        } else {
            prop_assert!(
                !must_reject,
                "{doc}: {change:?} of {name} not rejected: {answer:?}"
            );
        }
        Ok(())
    });
}

#[test]
fn valid_events_are_answered_without_panic() {
    let harness = Harness::new();
    check(256, ecs_hook_event(), |(doc, _)| {
        let (answer, _) = harness.invoke(doc.clone())?;
        prop_assert!(!answer.rejected(), "{doc}: {answer:?}");
        Ok(())
    });
}
