//! Malformed events never make `redeploy-on-push` panic; each is rejected
//! as `InvalidInput` with a message naming the bad field, before any AWS
//! call (every request the function's clients send is counted, none sent).

use autopilot_shared::config::Env;
use autopilot_test_support::bad_input::{
    Harness, Outcome, context, names_a_path, names_bad_fields, rejects_arbitrary_events,
};
use autopilot_test_support::events::{ECR_KEYS, ecr_event};
use autopilot_test_support::json::{Field, any_json, any_scalar, graft, sample_event};
use lambda_runtime::LambdaEvent;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use redeploy_on_push::{Config, Function};
use serde_json::{Value, json};

/// The function against counted requests, and how to invoke it: an event
/// that is not a successful push is `Ignored`.
fn function() -> impl Fn(Value) -> Result<(Outcome, usize), TestCaseError> {
    let harness = Harness::new();
    let config = Config::from_env(&Env::from_pairs([("DRY_RUN", "false")]));
    let function = Function::new(harness.sdk_config("us-east-1"), config);
    move |payload| {
        let (result, requests) = harness.run(function.handle(LambdaEvent::new(payload, context())));
        let outcome = match &result {
            Ok(answer) if answer.get("ignored").is_some() => Outcome::Ignored,
            result => Outcome::of(result),
        };
        Ok((outcome, requests))
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
    rejects_arbitrary_events(256, events, function(), |message| {
        names_a_path(message, "malformed ECR image action event: ")
    });
}

#[test]
fn a_bad_field_is_named_and_rejected_before_any_call() {
    names_bad_fields(256, push_event(), function(), true);
}

/// Change Calendar's state-change events: a malformed one is refused naming
/// its field, a `CLOSED` one is ignored, and neither makes an AWS call.
#[test]
fn calendar_events_are_checked_before_any_call() {
    let invoke = function();
    let documented = sample_event("redeploy-on-push/calendar-open.json");
    let with = |path: &[&str], value: Value| {
        let mut event = documented.clone();
        let mut at = &mut event;
        for key in &path[..path.len() - 1] {
            at = &mut at[*key];
        }
        at[path[path.len() - 1]] = value;
        event
    };
    let cases = [
        (
            with(&["detail", "state"], json!("AJAR")),
            Some("detail.state"),
        ),
        (with(&["detail", "state"], json!(1)), Some("detail.state")),
        (with(&["detail"], json!("OPEN")), Some("detail")),
        (with(&["resources"], json!([])), Some("resources")),
        (with(&["resources"], json!("arn")), Some("resources")),
        (with(&["detail", "state"], json!("CLOSED")), None),
    ];
    for (event, field) in cases {
        let (outcome, requests) = invoke(event.clone()).unwrap();
        assert_eq!(requests, 0, "{event}");
        match (outcome, field) {
            (Outcome::Rejected(message), Some(field)) => {
                assert!(message.contains(field), "{field}: {message}")
            }
            (Outcome::Ignored, None) => {}
            (outcome, field) => panic!("{event}: {outcome:?}, expected {field:?}"),
        }
    }
}
