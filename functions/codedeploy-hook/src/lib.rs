//! `codedeploy-hook`: validates a CodeDeploy ECS blue/green lifecycle hook and reports its verdict.
//!
//! Not implemented yet: the function parses its configuration and its event,
//! so that malformed input is rejected with an error naming the field, then
//! answers `NotImplemented`. It never reports a fake success.

use autopilot_shared::HandlerError;
use autopilot_shared::config::{CommonConfig, ConfigError, Env};
use autopilot_shared::events::{CodeDeployLifecycleEvent, parse_event};
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
        let event: CodeDeployLifecycleEvent =
            parse_event("CodeDeploy lifecycle hook", event.payload)
                .map_err(|e| HandlerError::from_error(&e))?;
        tracing::debug!(dry_run = config.dry_run, input = ?event.deployment_id, "received");
        Err(HandlerError::not_implemented("codedeploy-hook"))
    }
}
