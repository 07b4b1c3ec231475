//! `scheduled-scaling`: sets the capacity of ECS services on a schedule.
//!
//! An adapter from the payload EventBridge Scheduler delivers (the
//! schedule's constant `Input`) to [`autopilot_shared::capacity`]: it parses
//! the payload, runs the schedule, logs and returns the summary, and
//! publishes the `ScalingActions` metric.
//!
//! Environment: `DRY_RUN` (change nothing, report `planned`),
//! `MAX_CONCURRENCY` (services handled at once, 1 to 32, default 8),
//! `ECS_READ_RATE` / `ECS_READ_BURST` (pacing of ECS reads, default 20 a
//! second after 50), `DISCOVERY` (how a selector's services are found: `tags`,
//! the default, or `ecs`), `METRICS_NAMESPACE` (default `EcsAutopilot`), and the
//! overrides of [`CALL_POLICY`] (`AWS_RETRY_MODE`, `AWS_MAX_ATTEMPTS`,
//! `AWS_OPERATION_TIMEOUT_SECS`, `AWS_ATTEMPT_TIMEOUT_SECS`,
//! `AWS_CONNECT_TIMEOUT_SECS`).
//!
//! IAM: [`IAM_ACTIONS`].

use autopilot_shared::HandlerError;
use autopilot_shared::accounts::{Targets, workloads};
use autopilot_shared::aws::{CallPolicy, sdk_config};
use autopilot_shared::capacity::{
    Account, Clients, RunOptions, ScalingRequest, Summary, accounts_of, apply_in_accounts,
};
use autopilot_shared::config::{CommonConfig, ConfigError, Env};
use autopilot_shared::discovery::{Pacing, Source};
use autopilot_shared::metrics::{DEFAULT_NAMESPACE, MetricSet};
use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use serde_json::Value;

/// The function's name, as the `Function` metric dimension.
const FUNCTION: &str = "scheduled-scaling";

/// How the function's AWS calls retry and time out (`AWS_RETRY_MODE`,
/// `AWS_MAX_ATTEMPTS` and `AWS_*_TIMEOUT_SECS` override it).
///
/// A schedule changes many services at once, against ECS's service-update
/// limit (5 a second after 50) and Application Auto Scaling's: six attempts
/// with full-jitter backoff from 0.5 s to 10 s ride out about 20 s of
/// throttling; one call gives up after 40 s, so a service that cannot be
/// changed is reported failed well inside the 300 s function timeout.
pub const CALL_POLICY: CallPolicy = CallPolicy::WRITER;

/// Every IAM action the function's calls need: reads to select services
/// and their scalable targets, writes to change capacity and to remember it
/// in a service tag. `template.yaml` grants exactly these.
pub const IAM_ACTIONS: &[&str] = &[
    "tag:GetResources",
    "ecs:ListClusters",
    "ecs:ListServices",
    "ecs:DescribeServices",
    "ecs:UpdateService",
    "ecs:TagResource",
    "ecs:UntagResource",
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:RegisterScalableTarget",
    "ssm:GetCalendarState",
    "sts:AssumeRole",
];

/// The IAM actions the function needs in a workload account, through the
/// role it assumes there (`TARGET_ROLE_ARNS`): [`IAM_ACTIONS`] but for
/// Systems Manager and STS, which stay in the function's own account.
/// `workload-account.yaml` grants them (with redeploy-on-push's); a test
/// checks.
pub const WORKLOAD_IAM_ACTIONS: &[&str] = &[
    "tag:GetResources",
    "ecs:ListClusters",
    "ecs:ListServices",
    "ecs:DescribeServices",
    "ecs:UpdateService",
    "ecs:TagResource",
    "ecs:UntagResource",
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:RegisterScalableTarget",
];

/// The function's configuration, from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `DRY_RUN` and the SDK timeouts.
    pub common: CommonConfig,
    /// `MAX_CONCURRENCY`: services handled at once, 1 to 32 (default 8).
    pub concurrency: usize,
    /// `ECS_READ_RATE`: ECS reads a second after the burst, 1 to 100 (default 20).
    pub read_rate: f64,
    /// `ECS_READ_BURST`: ECS reads sent before pacing starts, 1 to 100 (default 50).
    pub read_burst: u32,
    /// `DISCOVERY`: how a selector's services are found, `tags` (default) or `ecs`.
    pub discovery: Source,
    /// `METRICS_NAMESPACE`: the CloudWatch namespace of the outcome metrics.
    pub metrics_namespace: String,
    /// `TARGET_ROLE_ARNS` and `TARGET_EXTERNAL_ID`: the workload accounts'
    /// roles a schedule acts through; none: the function's own account.
    pub targets: Targets,
}

impl Config {
    /// Parses the environment; errors name the variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let Pacing {
            concurrency,
            read_rate,
            read_burst,
        } = Pacing::from_env(env)?;
        Ok(Config {
            common: CommonConfig::from_env(env, CALL_POLICY)?,
            concurrency,
            read_rate,
            read_burst,
            discovery: Source::from_env(env)?,
            metrics_namespace: env
                .optional("METRICS_NAMESPACE")
                .unwrap_or(DEFAULT_NAMESPACE)
                .to_owned(),
            targets: Targets::from_env(env)?,
        })
    }
}

/// The function's state, built once at cold start.
pub struct Function {
    config: Result<Config, ConfigError>,
    /// The function's own account.
    home: Account,
    /// The workload accounts of `TARGET_ROLE_ARNS` (no role is assumed
    /// before a schedule needs it).
    workloads: Vec<Account>,
}

impl Function {
    /// Reads the configuration and builds the ECS and Application Auto
    /// Scaling clients from one `SdkConfig`. A bad configuration is kept and
    /// reported by every invocation, naming the variable.
    pub fn from_env(env: &Env) -> Self {
        let config = Config::from_env(env);
        let policy = config.as_ref().map_or(CALL_POLICY, |c| c.common.calls);
        let sdk = sdk_config(env, &policy);
        Function::new(&sdk, config)
    }

    /// Builds the function from an `SdkConfig` and a parsed configuration.
    pub fn new(sdk: &SdkConfig, config: Result<Config, ConfigError>) -> Self {
        let clients = Clients::new(sdk);
        let workloads = match &config {
            Ok(config) => workloads(sdk, &config.targets, FUNCTION)
                .into_iter()
                .map(|workload| Account {
                    clients: clients.in_workload_account(&workload.sdk),
                    workload: Some(workload),
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        Function {
            config,
            home: Account {
                clients,
                workload: None,
            },
            workloads,
        }
    }

    /// Handles one schedule payload (see [`ScalingRequest::parse`]).
    ///
    /// Returns the summary; a malformed payload is `InvalidInput` naming the
    /// field, with no AWS call; when a service failed (or a cluster could not
    /// be read) the error names the failures and is `Retryable` when any
    /// failure is ([`ErrorKind::of_batch`](autopilot_shared::error::ErrorKind::of_batch)).
    /// The summary is logged either way.
    ///
    /// IAM: [`IAM_ACTIONS`].
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        let config = self.config.as_ref().map_err(HandlerError::from_error)?;
        let request =
            ScalingRequest::parse(event.payload).map_err(|e| HandlerError::from_error(&e))?;
        tracing::info!(
            action = request.action.name(),
            dry_run = config.common.dry_run,
            request = %request.to_json(),
            "schedule received"
        );
        let accounts = accounts_of(&request, &self.home, &self.workloads)
            .map_err(|e| HandlerError::from_error(&e))?;
        let summary = apply_in_accounts(
            &accounts,
            &request,
            RunOptions {
                dry_run: config.common.dry_run,
                concurrency: config.concurrency,
                read_rate: config.read_rate,
                read_burst: config.read_burst,
                discovery: config.discovery,
            },
        )
        .await;
        publish(&summary, &config.metrics_namespace);
        let value = summary.to_json();
        tracing::info!(summary = %value, "schedule done");
        match summary.failure() {
            Some(failure) => Err(HandlerError::from_error(&failure)),
            None => Ok(value),
        }
    }
}

fn publish(summary: &Summary, namespace: &str) {
    let mut metrics = MetricSet::new(namespace, "ScalingActions", &["Function", "Outcome"]);
    for service in &summary.services {
        metrics.add(&[FUNCTION, service.outcome.as_str()]);
    }
    // A cluster that could not be read hides its services: count it as a failure.
    for _ in &summary.errors {
        metrics.add(&[FUNCTION, "failed"]);
    }
    metrics.emit();
    // A schedule a closed change calendar skipped or replaced.
    if let Some(note) = &summary.calendar {
        let mut gated = MetricSet::new(namespace, "CalendarGated", &["Function", "Result"]);
        match (note.skipped, note.instead_of) {
            (Some(_), _) => gated.add(&[FUNCTION, "skipped"]),
            (_, Some(_)) => gated.add(&[FUNCTION, "replaced"]),
            _ => {}
        }
        gated.emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_runtime::Context;
    use serde_json::json;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn config_defaults_and_errors_name_the_variable() {
        let config = Config::from_env(&env(&[])).unwrap();
        assert_eq!(config.concurrency, 8);
        assert_eq!(config.metrics_namespace, "EcsAutopilot");
        assert!(!config.common.dry_run);
        let config = Config::from_env(&env(&[
            ("MAX_CONCURRENCY", "2"),
            ("METRICS_NAMESPACE", "Ops"),
            ("DRY_RUN", "true"),
        ]))
        .unwrap();
        assert_eq!(
            (config.concurrency, config.metrics_namespace.as_str()),
            (2, "Ops")
        );
        assert!(config.common.dry_run);
        for (name, value) in [
            ("MAX_CONCURRENCY", "0"),
            ("MAX_CONCURRENCY", "33"),
            ("MAX_CONCURRENCY", "many"),
            ("ECS_READ_RATE", "0"),
            ("ECS_READ_BURST", "500"),
            ("DRY_RUN", "perhaps"),
        ] {
            let error = Config::from_env(&env(&[(name, value)])).unwrap_err();
            assert!(error.to_string().contains(name), "{name}={value}: {error}");
        }
    }

    fn offline_sdk() -> SdkConfig {
        autopilot_shared::aws::offline_sdk_config("eu-west-1")
    }

    #[tokio::test]
    async fn malformed_payloads_are_invalid_input_before_any_aws_call() {
        let function = Function::new(&offline_sdk(), Config::from_env(&env(&[])));
        for (payload, field) in [
            (json!({"action": "scale-up", "services": ["a/b"]}), "action"),
            (
                json!({"action": "set-capacity", "services": ["a/b"], "mni": 1, "max": 2}),
                "mni",
            ),
            (
                json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events"}),
                "constant Input",
            ),
        ] {
            let error = function
                .handle(LambdaEvent::new(payload, Context::default()))
                .await
                .unwrap_err();
            assert_eq!(error.error_type(), "InvalidInput");
            assert!(error.message().contains(field), "{}", error.message());
        }
    }

    #[tokio::test]
    async fn a_bad_configuration_is_reported_by_every_invocation() {
        let function = Function::new(
            &offline_sdk(),
            Config::from_env(&env(&[("MAX_CONCURRENCY", "0")])),
        );
        for _ in 0..2 {
            let error = function
                .handle(LambdaEvent::new(json!({}), Context::default()))
                .await
                .unwrap_err();
            assert_eq!(error.error_type(), "InvalidInput");
            assert!(error.message().contains("MAX_CONCURRENCY"));
        }
    }
}
