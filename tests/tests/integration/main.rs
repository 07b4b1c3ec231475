//! End-to-end tests against the local AWS (started by `./scripts/test`).
//!
//! One test binary, a module per area. Each test makes its own uniquely named
//! resources, so the tests run concurrently against one local AWS.

mod accounts;
mod cargo_lambda;
mod codedeploy_hook;
mod ecs_deployment_hook;
mod ecs_lifecycle;
mod faults;
mod freeze;
mod iam;
mod local_aws;
mod redeploy;
mod runtime;
mod scheduled_scaling;
mod secrets;
