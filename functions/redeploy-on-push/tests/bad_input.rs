//! Malformed events never make `redeploy-on-push` panic; each is rejected
//! as `InvalidInput` with a message naming the bad field, before any AWS
//! call (every request the function's clients send is counted, none sent).

#[path = "../../../shared/tests/support/counting.rs"]
mod counting;
#[path = "../../../shared/tests/support/events.rs"]
mod events;
#[path = "../../../shared/tests/support/json.rs"]
mod json;

use std::cell::Cell;

use autopilot_shared::HandlerError;
use autopilot_shared::config::Env;
use counting::{Requests, check, context, paused_runtime};
use events::{ECR_KEYS, ecr_event};
use json::{Field, Mutant, any_json, any_scalar, graft, mutant, sample_event};
use lambda_runtime::LambdaEvent;
use proptest::prelude::*;
use redeploy_on_push::{Config, Function};
use serde_json::{Value, json};

/// The function, its counted requests, and a runtime to invoke it on.
struct Harness {
    function: Function,
    requests: Requests,
    runtime: tokio::runtime::Runtime,
}

/// What an invocation did with an event.
#[derive(Debug)]
enum Outcome {
    /// `InvalidInput`, with its message.
    Rejected(String),
    /// Not a successful push: nothing to do.
    Ignored,
    /// Read as a push, and redeployed (here, failed on the first AWS call).
    Accepted,
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

    /// Invokes the function; the outcome and the requests it sent.
    fn invoke(&self, payload: Value) -> (Outcome, usize) {
        self.requests.take();
        let result: Result<Value, HandlerError> = self
            .runtime
            .block_on(self.function.handle(LambdaEvent::new(payload, context())));
        let outcome = match result {
            Err(error) if error.error_type() == "InvalidInput" => {
                Outcome::Rejected(error.message().to_owned())
            }
            Ok(answer) if answer.get("ignored").is_some() => Outcome::Ignored,
            _ => Outcome::Accepted,
        };
        (outcome, self.requests.take())
    }
}

/// A valid event, most often a successful push, with the fields the
/// function checks beyond their types.
fn push_event() -> impl Strategy<Value = (Value, Vec<Field>)> {
    (ecr_event(), 0..4u8).prop_map(|((mut doc, fields), n)| {
        if n > 0 {
            doc["detail"]["action-type"] = json!("PUSH");
            doc["detail"]["result"] = json!("SUCCESS");
        }
        let push = doc["detail"]["action-type"] == "PUSH" && doc["detail"]["result"] == "SUCCESS";
        let checked = |values: Vec<Value>| if push { values } else { Vec::new() };
        let fields = fields
            .into_iter()
            .map(|mut field| {
                match field.name.as_str() {
                    "account" => {
                        field.required = push;
                        field.bad = checked(vec![
                            json!("12345"),
                            json!("1234567890123"),
                            json!("abcdefghijkl"),
                            json!(""),
                            json!("12345678901 "),
                        ]);
                    }
                    "region" => {
                        field.required = push;
                        field.bad = checked(vec![
                            json!(""),
                            json!("Eu West 1"),
                            json!("eu_west_1"),
                            json!("eu-west-1.evil.io"),
                        ]);
                    }
                    "repository-name" => {
                        field.bad = checked(vec![
                            json!(""),
                            json!("Backend"),
                            json!("-x"),
                            json!("a//b"),
                            json!("a:b"),
                            json!(format!("a@sha256:{}", "0".repeat(64))),
                            json!("backend "),
                        ]);
                    }
                    "image-digest" => {
                        field.bad = checked(vec![
                            json!(""),
                            json!("sha256:xyz"),
                            json!(format!("SHA256:{}", "0".repeat(64))),
                        ]);
                    }
                    // An empty tag is a push by digest, as ECR writes it:
                    // acknowledged and ignored, not an error.
                    "image-tag" => {
                        field.bad = checked(vec![
                            json!(".x"),
                            json!("a+b"),
                            json!("é"),
                            json!("a/b"),
                            json!("a:b"),
                            json!(format!("v1@sha256:{}", "0".repeat(64))),
                            json!("latest "),
                        ]);
                    }
                    _ => {}
                }
                field
            })
            .collect();
        (doc, fields)
    })
}

#[test]
fn arbitrary_events_never_panic_and_rejections_make_no_call() {
    let harness = Harness::new();
    let events = prop_oneof![
        any_json(ECR_KEYS),
        graft(
            sample_event("redeploy-on-push/push-latest.json"),
            any_json(ECR_KEYS)
        ),
        graft(
            sample_event("redeploy-on-push/push-semver.json"),
            any_scalar()
        ),
        push_event().prop_map(|(doc, _)| doc),
    ];
    let (rejected, accepted_with_calls) = (Cell::new(0), Cell::new(0));
    check(256, events, |payload| {
        let (outcome, requests) = harness.invoke(payload.clone());
        match outcome {
            Outcome::Rejected(message) => {
                rejected.set(rejected.get() + 1);
                prop_assert_eq!(requests, 0, "{} rejected after AWS calls", payload);
                // `path: reason`; a key that is empty is named by the reason.
                let named = message
                    .strip_prefix("malformed ECR image action event: ")
                    .and_then(|rest| rest.split_once(": "))
                    .is_some_and(|(path, reason)| !path.is_empty() || reason.contains("``"));
                prop_assert!(named, "{}", message);
            }
            Outcome::Ignored => prop_assert_eq!(requests, 0, "{} ignored after AWS calls", payload),
            Outcome::Accepted => {
                accepted_with_calls.set(accepted_with_calls.get() + (requests > 0) as u32)
            }
        }
        Ok(())
    });
    assert!(rejected.get() > 0, "no event was rejected");
    assert!(accepted_with_calls.get() > 0, "no event reached AWS");
}

#[test]
fn a_bad_field_is_named_and_rejected_before_any_call() {
    let harness = Harness::new();
    let mutants = push_event().prop_flat_map(|(doc, fields)| mutant(doc, fields));
    let rejected = Cell::new(0);
    check(256, mutants, |mutant| {
        let Mutant {
            doc,
            name,
            change,
            must_reject,
        } = mutant;
        let (outcome, requests) = harness.invoke(doc.clone());
        match outcome {
            Outcome::Rejected(message) => {
                rejected.set(rejected.get() + 1);
                prop_assert_eq!(requests, 0, "{} rejected after AWS calls", doc);
                prop_assert!(
                    message.contains(&name),
                    "{doc}: {change:?} of {name}: {message}"
                );
            }
            outcome => prop_assert!(
                !must_reject,
                "{doc}: {change:?} of {name} not rejected: {outcome:?}"
            ),
        }
        Ok(())
    });
    assert!(rejected.get() > 0, "no event was rejected");
}
