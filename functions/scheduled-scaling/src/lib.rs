//! `scheduled-scaling`: sets the capacity of ECS services on a schedule.
//!
//! Not implemented yet: the function parses its configuration and its event,
//! so that malformed input is rejected with an error naming the field, then
//! answers `NotImplemented`. It never reports a fake success.

use autopilot_shared::HandlerError;
use autopilot_shared::config::{CommonConfig, ConfigError, Env};
use autopilot_shared::events::parse_event;
use lambda_runtime::LambdaEvent;

/// The function's state, built once at cold start.
pub struct Function {
    config: Result<CommonConfig, ConfigError>,
}

impl Function {
    /// Reads the configuration. A bad configuration is kept and reported by
    /// every invocation, naming the variable.
    pub async fn from_env(env: &Env) -> Self {
        Function {
            config: CommonConfig::from_env(env),
        }
    }

    /// Handles one invocation.
    pub async fn handle(
        &self,
        event: LambdaEvent<serde_json::Value>,
    ) -> Result<serde_json::Value, HandlerError> {
        let config = self.config.as_ref().map_err(HandlerError::from_error)?;
        let event: serde_json::Value =
            parse_event("schedule", event.payload).map_err(|e| HandlerError::from_error(&e))?;
        tracing::debug!(dry_run = config.dry_run, input = ?event, "received");
        Err(HandlerError::not_implemented("scheduled-scaling"))
    }
}
