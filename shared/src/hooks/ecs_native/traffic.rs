//! The traffic weights of an invocation, and whether ECS is rolling the
//! deployment back.
//!
//! At `TEST_TRAFFIC_SHIFT` and `PRODUCTION_TRAFFIC_SHIFT`, the two stages ECS
//! invokes again when it rolls back, a rollback passes at once and is never
//! checked (the hook never blocks a rollback, nor judges the revision
//! traffic leaves): known by the weights first, reversed: none to the target
//! revision ([`rollback_by_weights`], no AWS call), by the deployment's
//! `ROLLBACK_*` status or `rollback` second ([`rollback_by_status`]).

use serde_json::{Value, json};

use super::deployment::{EcsServiceDeployment, Split};
use super::stage::Stage;
use crate::checks::context::TrafficRole;
use crate::events::EcsExecutionDetails;

/// The traffic weights of an invocation, as the target revision sees them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traffic {
    /// `testTrafficWeights`, `None` when empty.
    pub test: Option<Split>,
    /// `productionTrafficWeights`, `None` when empty.
    pub production: Option<Split>,
}

impl Traffic {
    /// The weights of an event, as its target revision sees them.
    pub fn of(details: &EcsExecutionDetails) -> Traffic {
        let target = &details.target_service_revision_arn;
        Traffic {
            test: Split::of(target, &details.test_traffic_weights),
            production: Split::of(target, &details.production_traffic_weights),
        }
    }

    /// The split of the test or production traffic.
    pub fn of_role(&self, role: TrafficRole) -> Option<Split> {
        match role {
            TrafficRole::Test => self.test,
            TrafficRole::Production => self.production,
        }
    }

    /// The traffic step these weights are, as a progress key: the target
    /// revision's share of production traffic (and of test traffic).
    pub fn step(&self) -> Option<String> {
        match (self.test, self.production) {
            (None, None) => None,
            (test, production) => Some(format!(
                "production {} test {}",
                production.map_or("-".to_owned(), |s| s.target.to_string()),
                test.map_or("-".to_owned(), |s| s.target.to_string()),
            )),
        }
    }

    /// `{"test": {"target", "others"}, "production": ...}`, `null` where empty.
    pub fn to_json(self) -> Value {
        let split = |s: Option<Split>| {
            s.map_or(
                Value::Null,
                |s| json!({"target": s.target, "others": s.others}),
            )
        };
        json!({"test": split(self.test), "production": split(self.production)})
    }
}

/// At `TEST_TRAFFIC_SHIFT` and `PRODUCTION_TRAFFIC_SHIFT`, a rollback as the
/// weights show it (that stage's traffic reversed: none to the target
/// revision, the rest elsewhere), and why.
pub fn rollback_by_weights(stage: Stage, traffic: &Traffic) -> Option<String> {
    let role = stage.shifts()?;
    let split = traffic.of_role(role).filter(Split::is_reversed)?;
    Some(format!(
        "ECS is rolling the deployment back (the {} traffic weights are reversed: {split}): the hook does not block a rollback",
        role.as_str()
    ))
}

/// Whether ECS is rolling the deployment back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollback {
    /// No (or not a stage ECS invokes on rollback).
    No,
    /// Yes, and how that is known.
    Yes(String),
    /// Cannot tell: the weights do not say and the deployment cannot be read.
    Unknown(String),
}

/// At `TEST_TRAFFIC_SHIFT` and `PRODUCTION_TRAFFIC_SHIFT`, whether ECS is
/// rolling the deployment back, as the guide's second sign shows it:
/// `DescribeServiceDeployments` gives a `ROLLBACK_*` status or a `rollback`.
/// The first sign, the weights ([`rollback_by_weights`]), is read before,
/// without an AWS call; this runs only when the weights did not say.
pub async fn rollback_by_status(stage: Stage, deployment: &EcsServiceDeployment) -> Rollback {
    let Some(role) = stage.shifts() else {
        return Rollback::No;
    };
    match deployment.state().await {
        Ok(state) if state.is_rollback() => Rollback::Yes(format!(
            "ECS is rolling the deployment back (status {}{}): the hook does not block a rollback",
            state.status,
            state
                .rollback_reason
                .as_deref()
                .map(|r| format!(", reason: {r}"))
                .unwrap_or_default()
        )),
        Ok(_) => Rollback::No,
        Err(error) => Rollback::Unknown(format!(
            "cannot tell whether ECS is rolling the deployment back: the {} traffic weights do not say and the service deployment cannot be read: {error}",
            role.as_str()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(target: f64, others: f64) -> Option<Split> {
        Some(Split { target, others })
    }

    #[test]
    fn reversed_weights_are_a_rollback_only_at_the_two_shift_stages() {
        let reversed = Traffic {
            test: split(0.0, 100.0),
            production: split(0.0, 100.0),
        };
        let forward = Traffic {
            test: split(100.0, 0.0),
            production: split(25.0, 75.0),
        };
        for stage in Stage::ALL {
            let rollback = rollback_by_weights(stage, &reversed).is_some();
            assert_eq!(rollback, stage.shifts().is_some(), "{stage}");
            assert_eq!(rollback_by_weights(stage, &forward), None, "{stage}");
        }
        let empty = Traffic {
            test: None,
            production: None,
        };
        assert_eq!(rollback_by_weights(Stage::TestTrafficShift, &empty), None);
    }

    #[test]
    fn steps_are_keyed_by_the_target_revision_weights() {
        let traffic = Traffic {
            test: split(100.0, 0.0),
            production: split(2.5, 97.5),
        };
        assert_eq!(traffic.step().as_deref(), Some("production 2.5 test 100"));
        let production_only = Traffic {
            test: None,
            production: split(10.0, 90.0),
        };
        assert_eq!(
            production_only.step().as_deref(),
            Some("production 10 test -")
        );
        let none = Traffic {
            test: None,
            production: None,
        };
        assert_eq!(none.step(), None);
        assert_eq!(
            traffic.to_json(),
            json!({"test": {"target": 100.0, "others": 0.0}, "production": {"target": 2.5, "others": 97.5}})
        );
    }
}
