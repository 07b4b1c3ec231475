//! The ECS native (blue/green, linear, canary) controller's hook model.
//!
//! - [`stage`]: the lifecycle stages ECS invokes a hook at, and what each
//!   checks by default;
//! - [`settings`]: what an invocation runs with: `hookDetails` over the
//!   function's environment over the stage's defaults;
//! - [`progress`]: the state carried between invocations in
//!   `hookDetails.progress`, and the pure wait/bake decision
//!   ([`progress::decide`]);
//! - [`traffic`]: the event's traffic weights, and whether ECS is rolling
//!   the deployment back;
//! - [`deployment`]: the deployment under test, resolved from the service
//!   deployment and revisions ECS names.

pub mod deployment;
pub mod progress;
pub mod settings;
pub mod stage;
pub mod traffic;
