//! The deployment controllers' hook models, and the one hook runner both
//! hooks answer through.
//!
//! - [`codedeploy`]: CodeDeploy ECS blue/green: its lifecycle hooks
//!   ([`codedeploy::Hook`]), their default checks, the deployment as
//!   CodeDeploy describes it, and the hook status report.
//! - [`ecs_native`]: ECS native blue/green, linear and canary deployments:
//!   the lifecycle stages and their default checks, the settings
//!   (`hookDetails` over the environment), the progress carried between
//!   invocations and the wait/bake decision, and the deployment as ECS
//!   describes it.
//! - [`runner`]: what every hook invocation does whichever the controller:
//!   the deadline with its margin, panic isolation and the time limit,
//!   exactly one answer, one log line per check, the verdict metric.
//!
//! The check engine and the check kinds are in [`crate::checks`]; this
//! module depends on it, never the other way round.

pub mod codedeploy;
pub mod ecs_native;
pub mod runner;
