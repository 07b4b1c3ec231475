//! Debug builds only: faults injected into a run of checks, so that the
//! end-to-end tests can show that a panic inside a check is reported as a
//! failure. Release builds do not contain this module.
//!
//! `AUTOPILOT_FAULT_PANIC_CHECK=<check name>` makes that check panic when it
//! runs (both hook functions read it at cold start).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::engine::{Check, Outcome};

/// The variable naming the check that panics.
pub const PANIC_CHECK: &str = "AUTOPILOT_FAULT_PANIC_CHECK";

struct Panicking(Arc<dyn Check>);

impl Check for Panicking {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn timeout(&self) -> Duration {
        self.0.timeout()
    }
    fn run(&self, _deadline: Instant) -> BoxFuture<'_, Outcome> {
        Box::pin(async move {
            panic!(
                "fault injected into check {} ({PANIC_CHECK})",
                self.0.name()
            )
        })
    }
}

/// The checks, the one named `name` (if any) replaced by one that panics.
pub fn panic_in(checks: Vec<Arc<dyn Check>>, name: Option<&str>) -> Vec<Arc<dyn Check>> {
    let Some(name) = name else {
        return checks;
    };
    checks
        .into_iter()
        .map(|check| -> Arc<dyn Check> {
            if check.name() == name {
                Arc::new(Panicking(check))
            } else {
                check
            }
        })
        .collect()
}
