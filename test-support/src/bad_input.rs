//! The bad-input properties every function shares, driven once: a
//! function built against a request-counting `SdkConfig` is fed arbitrary
//! and mutated events; a rejected event must be rejected with a message
//! naming the bad field, after zero AWS requests. Each function's
//! `tests/bad_input.rs` gives only its events, its fields and how to read
//! its handler's answer.

use std::cell::Cell;
use std::future::Future;

use autopilot_shared::HandlerError;
use aws_config::SdkConfig;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

use crate::counting::{Requests, check, paused_runtime};
use crate::json::{Field, Mutant, mutant};

pub use crate::counting::context;

/// What an invocation did with an event.
#[derive(Debug)]
pub enum Outcome {
    /// Refused as bad input, with the message (or reason) that says why.
    Rejected(String),
    /// Read, and found to need nothing done: it must make no AWS call.
    Ignored,
    /// Read, and acted on (here, failed on the first AWS call, or not).
    Accepted,
}

impl Outcome {
    /// `Rejected` for an `InvalidInput` error, else `Accepted`.
    pub fn of(result: &Result<Value, HandlerError>) -> Self {
        match result {
            Err(error) if error.error_type() == "InvalidInput" => {
                Outcome::Rejected(error.message().to_owned())
            }
            _ => Outcome::Accepted,
        }
    }
}

/// The counted requests of a function under test, and a paused runtime
/// to invoke it on.
pub struct Harness {
    requests: Requests,
    runtime: tokio::runtime::Runtime,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// A harness with no request counted yet.
    pub fn new() -> Self {
        Harness {
            requests: Requests::default(),
            runtime: paused_runtime(),
        }
    }

    /// The `SdkConfig` (in `region`) to build the function under test from.
    pub fn sdk_config(&self, region: &str) -> SdkConfig {
        self.requests.sdk_config(region)
    }

    /// Runs `invocation` to its end: its output, and the AWS requests it sent.
    pub fn run<T>(&self, invocation: impl Future<Output = T>) -> (T, usize) {
        self.requests.take();
        let output = self.runtime.block_on(invocation);
        (output, self.requests.take())
    }
}

/// Feeds `cases` of `events` to `invoke` (an outcome and its AWS request
/// count): nothing panics, a rejection makes no AWS call and its message
/// passes `well_named`, an ignored event makes no AWS call; some event
/// must be rejected and some must reach AWS.
#[track_caller]
pub fn rejects_arbitrary_events(
    cases: u32,
    events: impl Strategy<Value = Value>,
    invoke: impl Fn(Value) -> Result<(Outcome, usize), TestCaseError>,
    well_named: impl Fn(&str) -> bool,
) {
    let (rejected, accepted_with_calls) = (Cell::new(0), Cell::new(0));
    check(cases, events, |payload| {
        let (outcome, requests) = invoke(payload.clone())?;
        match outcome {
            Outcome::Rejected(message) => {
                rejected.set(rejected.get() + 1);
                prop_assert_eq!(requests, 0, "{} rejected after AWS calls", payload);
                prop_assert!(well_named(&message), "{}", message);
            }
            Outcome::Ignored => prop_assert_eq!(requests, 0, "{} ignored after AWS calls", payload),
            Outcome::Accepted => {
                accepted_with_calls.set(accepted_with_calls.get() + u32::from(requests > 0))
            }
        }
        Ok(())
    });
    assert!(rejected.get() > 0, "no event was rejected");
    assert!(accepted_with_calls.get() > 0, "no event reached AWS");
}

/// Whether an `InvalidInput` message reads `<prefix><path>: <reason>`
/// with a path, or names an empty key in its reason.
pub fn names_a_path(message: &str, prefix: &str) -> bool {
    message
        .strip_prefix(prefix)
        .and_then(|rest| rest.split_once(": "))
        .is_some_and(|(path, reason)| !path.is_empty() || reason.contains("``"))
}

/// Feeds `cases` valid events of `valid` with one field removed, retyped
/// or out of range to `invoke`: a rejection makes no AWS call and names
/// the field; a change that must be rejected is. With `some_rejected`,
/// some event must be rejected.
#[track_caller]
pub fn names_bad_fields(
    cases: u32,
    valid: impl Strategy<Value = (Value, Vec<Field>)>,
    invoke: impl Fn(Value) -> Result<(Outcome, usize), TestCaseError>,
    some_rejected: bool,
) {
    let mutants = valid.prop_flat_map(|(doc, fields)| mutant(doc, fields));
    let rejected = Cell::new(0);
    check(cases, mutants, |mutant| {
        let Mutant {
            doc,
            name,
            change,
            must_reject,
        } = mutant;
        let (outcome, requests) = invoke(doc.clone())?;
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
    if some_rejected {
        assert!(rejected.get() > 0, "no event was rejected");
    }
}
