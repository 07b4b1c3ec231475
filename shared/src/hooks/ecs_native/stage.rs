//! The lifecycle stages of an ECS service deployment, and what each one
//! checks by default.

use std::fmt;
use std::time::Duration;

use crate::checks::CheckSpec;
use crate::checks::context::TrafficRole;
use crate::hooks::codedeploy::Hook;
use crate::hooks::codedeploy::defaults::{self, DefaultOptions};

/// A stage at which ECS invokes a lifecycle hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// A new deployment starts while more than one revision is active.
    ReconcileService,
    /// The green revision has not started.
    PreScaleUp,
    /// The green revision has started; it serves no traffic yet.
    PostScaleUp,
    /// Test traffic moves to the green revision (again, reversed, on rollback).
    TestTrafficShift,
    /// The green revision takes all test traffic.
    PostTestTrafficShift,
    /// Production traffic is about to move: before every traffic step of a
    /// linear or canary deployment.
    PreProductionTrafficShift,
    /// Production traffic moves: at every traffic step of a linear or
    /// canary deployment (again, reversed, on rollback).
    ProductionTrafficShift,
    /// All production traffic has moved: once, when the shift is complete.
    PostProductionTrafficShift,
}

impl Stage {
    /// Every stage, in deployment order.
    pub const ALL: [Stage; 8] = [
        Stage::ReconcileService,
        Stage::PreScaleUp,
        Stage::PostScaleUp,
        Stage::TestTrafficShift,
        Stage::PostTestTrafficShift,
        Stage::PreProductionTrafficShift,
        Stage::ProductionTrafficShift,
        Stage::PostProductionTrafficShift,
    ];

    /// ECS's name, such as `POST_TEST_TRAFFIC_SHIFT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::ReconcileService => "RECONCILE_SERVICE",
            Stage::PreScaleUp => "PRE_SCALE_UP",
            Stage::PostScaleUp => "POST_SCALE_UP",
            Stage::TestTrafficShift => "TEST_TRAFFIC_SHIFT",
            Stage::PostTestTrafficShift => "POST_TEST_TRAFFIC_SHIFT",
            Stage::PreProductionTrafficShift => "PRE_PRODUCTION_TRAFFIC_SHIFT",
            Stage::ProductionTrafficShift => "PRODUCTION_TRAFFIC_SHIFT",
            Stage::PostProductionTrafficShift => "POST_PRODUCTION_TRAFFIC_SHIFT",
        }
    }

    /// The stage with this exact name.
    pub fn parse(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// `RECONCILE_SERVICE, PRE_SCALE_UP, ...`, for error messages.
    pub fn names() -> String {
        Stage::ALL.map(Stage::as_str).join(", ")
    }

    /// The CodeDeploy hook at the same moment of a blue/green deployment,
    /// whose default checks this stage shares.
    pub fn codedeploy_equivalent(self) -> Option<Hook> {
        match self {
            Stage::PreScaleUp => Some(Hook::BeforeInstall),
            Stage::PostScaleUp => Some(Hook::AfterInstall),
            Stage::PostTestTrafficShift => Some(Hook::AfterAllowTestTraffic),
            Stage::PreProductionTrafficShift => Some(Hook::BeforeAllowTraffic),
            Stage::PostProductionTrafficShift => Some(Hook::AfterAllowTraffic),
            Stage::ReconcileService | Stage::TestTrafficShift | Stage::ProductionTrafficShift => {
                None
            }
        }
    }

    /// The traffic a stage moves while it runs: `TEST_TRAFFIC_SHIFT` and
    /// `PRODUCTION_TRAFFIC_SHIFT`, the two stages ECS invokes again, with
    /// the weights reversed, when it rolls back (the guide: "When a roll
    /// back happens, Amazon ECS runs the lifecycle hooks for the following
    /// lifecycle stages: PRODUCTION_TRAFFIC_SHIFT, TEST_TRAFFIC_SHIFT").
    /// There is no rollback stage, and the `POST_*` stages are not
    /// invoked on rollback.
    pub fn shifts(self) -> Option<TrafficRole> {
        match self {
            Stage::TestTrafficShift => Some(TrafficRole::Test),
            Stage::ProductionTrafficShift => Some(TrafficRole::Production),
            _ => None,
        }
    }

    /// Whether ECS invokes the stage at every traffic step of a linear or
    /// canary deployment (each step is then a hook execution of its own).
    pub fn per_step(self) -> bool {
        matches!(
            self,
            Stage::PreProductionTrafficShift | Stage::ProductionTrafficShift
        )
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long the default checks of `POST_SCALE_UP` keep waiting for the
/// green tasks' targets to become healthy.
pub const DEFAULT_SCALE_UP_WAIT: Duration = Duration::from_secs(300);

/// The checks a stage runs when none are configured, and how long their
/// failures are waited out.
///
/// The CodeDeploy hook's defaults for the same moment, except that
/// `POST_SCALE_UP` looks at the green target group once per invocation and
/// answers `IN_PROGRESS` until its targets are healthy (up to
/// [`DEFAULT_SCALE_UP_WAIT`]) instead of polling inside one invocation.
pub fn default_checks(stage: Stage, options: &DefaultOptions) -> (Vec<CheckSpec>, Duration) {
    match stage {
        Stage::PostScaleUp => (vec![defaults::replacement_health(1)], DEFAULT_SCALE_UP_WAIT),
        _ => (
            stage
                .codedeploy_equivalent()
                .map(|hook| defaults::for_hook(hook, options))
                .unwrap_or_default(),
            Duration::ZERO,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::spec::unique_names;

    #[test]
    fn stages_round_trip_their_names() {
        for stage in Stage::ALL {
            assert_eq!(Stage::parse(stage.as_str()), Some(stage));
        }
        assert_eq!(Stage::parse("post_scale_up"), None);
        assert_eq!(Stage::parse("SCALE_UP"), None);
    }

    #[test]
    fn defaults_per_stage() {
        let options = DefaultOptions::default();
        let cases: [(Stage, &[&str], u64); 8] = [
            (Stage::ReconcileService, &[], 0),
            (Stage::PreScaleUp, &["task-definition"], 0),
            (Stage::PostScaleUp, &["target-health replacement"], 300),
            (Stage::TestTrafficShift, &[], 0),
            (
                Stage::PostTestTrafficShift,
                &["http GET /health via test listener"],
                0,
            ),
            (
                Stage::PreProductionTrafficShift,
                &["target-health replacement"],
                0,
            ),
            (Stage::ProductionTrafficShift, &[], 0),
            (
                Stage::PostProductionTrafficShift,
                &["http GET /health via production listener"],
                0,
            ),
        ];
        for (stage, names, wait) in cases {
            let (specs, waits) = default_checks(stage, &options);
            assert_eq!(unique_names(&specs), names, "{stage}");
            assert_eq!(waits, Duration::from_secs(wait), "{stage}");
            for spec in &specs {
                spec.validate().unwrap_or_else(|e| panic!("{stage}: {e}"));
            }
        }
    }

    #[test]
    fn only_the_two_shift_stages_are_invoked_on_rollback() {
        let shifts: Vec<_> = Stage::ALL
            .into_iter()
            .filter_map(|s| s.shifts().map(|t| (s, t)))
            .collect();
        assert_eq!(
            shifts,
            [
                (Stage::TestTrafficShift, TrafficRole::Test),
                (Stage::ProductionTrafficShift, TrafficRole::Production),
            ]
        );
        let per_step: Vec<_> = Stage::ALL.into_iter().filter(|s| s.per_step()).collect();
        assert_eq!(
            per_step,
            [
                Stage::PreProductionTrafficShift,
                Stage::ProductionTrafficShift
            ]
        );
    }
}
