//! Malformed events never make `codedeploy-hook` panic; each is rejected
//! as `InvalidInput` with a message naming the bad field, before any AWS
//! call (every request the function's clients send is counted, none sent).
//! A well-formed event goes on to ask CodeDeploy which hook this is and to
//! report the verdict: those calls are counted too.

#[path = "../../../shared/tests/support/counting.rs"]
mod counting;
#[path = "../../../shared/tests/support/events.rs"]
mod events;
#[path = "../../../shared/tests/support/json.rs"]
mod json;

use std::cell::Cell;

use autopilot_shared::config::Env;
use codedeploy_hook::{Config, Function};
use counting::{Requests, check, context, paused_runtime};
use events::{CODEDEPLOY_KEYS, codedeploy_event};
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

    /// Invokes the function: the `InvalidInput` message if it rejected the
    /// event, and the requests it sent.
    fn invoke(&self, payload: Value) -> (Option<String>, usize) {
        self.requests.take();
        let result = self
            .runtime
            .block_on(self.function.handle(LambdaEvent::new(payload, context())));
        let rejected = match result {
            Err(error) if error.error_type() == "InvalidInput" => Some(error.message().to_owned()),
            _ => None,
        };
        (rejected, self.requests.take())
    }
}

#[test]
fn arbitrary_events_never_panic_and_rejections_make_no_call() {
    let harness = Harness::new();
    let sample = sample_event("codedeploy-hook/after-allow-test-traffic.json");
    let events = prop_oneof![
        any_json(CODEDEPLOY_KEYS),
        graft(sample.clone(), any_json(CODEDEPLOY_KEYS)),
        graft(sample, any_scalar()),
        codedeploy_event().prop_map(|(doc, _)| doc),
    ];
    let (rejected, accepted_with_calls) = (Cell::new(0), Cell::new(0));
    check(256, events, |payload| {
        let (rejection, requests) = harness.invoke(payload.clone());
        match rejection {
            Some(message) => {
                rejected.set(rejected.get() + 1);
                prop_assert_eq!(requests, 0, "{} rejected after AWS calls", payload);
                // `path: reason`; a key that is empty is named by the reason.
                let named = message
                    .strip_prefix("malformed CodeDeploy lifecycle hook event: ")
                    .and_then(|rest| rest.split_once(": "))
                    .is_some_and(|(path, reason)| !path.is_empty() || reason.contains("``"));
                prop_assert!(named, "{}", message);
            }
            None => accepted_with_calls.set(accepted_with_calls.get() + (requests > 0) as u32),
        }
        Ok(())
    });
    assert!(rejected.get() > 0, "no event was rejected");
    assert!(accepted_with_calls.get() > 0, "no event reached AWS");
}

#[test]
fn a_bad_field_is_named_and_rejected_before_any_call() {
    let harness = Harness::new();
    let mutants = codedeploy_event().prop_flat_map(|(doc, fields)| mutant(doc, fields));
    check(256, mutants, |mutant| {
        let Mutant {
            doc,
            name,
            change,
            must_reject,
        } = mutant;
        let (rejection, requests) = harness.invoke(doc.clone());
        match rejection {
            Some(message) => {
                prop_assert_eq!(requests, 0, "{} rejected after AWS calls", doc);
                prop_assert!(
                    message.contains(&name),
                    "{doc}: {change:?} of {name}: {message}"
                );
            }
            None => prop_assert!(!must_reject, "{doc}: {change:?} of {name} not rejected"),
        }
        Ok(())
    });
}
