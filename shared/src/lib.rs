//! The ECS domain shared by every ecs-autopilot function.
//!
//! Functions are thin adapters from a Lambda event to this crate: they parse
//! their configuration once at cold start ([`config`]), build their AWS clients
//! from one [`aws_config::SdkConfig`] ([`aws`]), and report failures through
//! one error vocabulary ([`error`]).

pub mod accounts;
pub mod aws;
pub mod calendar;
pub mod capacity;
pub mod checks;
pub mod config;
pub mod discovery;
pub mod error;
pub mod events;
pub mod hooks;
pub mod image;
pub mod logging;
pub mod metrics;
pub mod redeploy;
pub mod throttle;

pub use error::{ErrorKind, HandlerError};
