//! `redeploy-on-push`: an image pushed to ECR rolls out to the ECS services
//! that track it.
//!
//! An adapter from EventBridge to [`autopilot_shared::redeploy`]: an "ECR
//! Image Action" (or replication) event runs the redeploy; a Change Calendar
//! "Calendar State Change" to `OPEN`, or the scheduled sweep, releases the
//! pushes a freeze deferred ([`autopilot_shared::redeploy::freeze`]). It
//! checks the event, logs and returns the summary, and publishes outcome
//! metrics.

use std::collections::BTreeMap;

use autopilot_shared::HandlerError;
use autopilot_shared::accounts::{Targets, workloads};
use autopilot_shared::aws::{AwsError, CallPolicy, sdk_config};
use autopilot_shared::calendar::{CalendarName, State, parse_state_change};
use autopilot_shared::config::{CommonConfig, ConfigError, Env};
use autopilot_shared::discovery::{ClusterScope, Pacing, Source};
use autopilot_shared::error::{Classify, ErrorKind};
use autopilot_shared::metrics::{DEFAULT_NAMESPACE, MetricSet};
use autopilot_shared::redeploy::appspec::ECS_HOOKS;
use autopilot_shared::redeploy::fleet::{Target, redeploy_everywhere, release_everywhere};
use autopilot_shared::redeploy::freeze::Release;
use autopilot_shared::redeploy::{Clients, Outcome, Settings, Summary};
use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

/// The push event read before any AWS call: what [`Function::handle`] runs
/// first (re-exported for the fuzz target and the bad-input tests).
pub use autopilot_shared::redeploy::push::{Push, parse_push};

/// How the function's AWS calls retry and time out (`AWS_RETRY_MODE`,
/// `AWS_MAX_ATTEMPTS` and `AWS_*_TIMEOUT_SECS` override it).
///
/// ECS throttles `RegisterTaskDefinition` at 1 a second after a burst of 20
/// and service updates at 5 a second after 50, per account and Region, shared
/// with every other caller: six attempts with full-jitter backoff from 0.5 s
/// to 10 s ride out about 20 s of throttling. One call gives up after 40 s, so
/// a service that cannot be reached is reported failed (and the event retried
/// by Lambda) well inside the 120 s function timeout.
pub const CALL_POLICY: CallPolicy = CallPolicy::WRITER;

/// Every IAM action the function needs: the API calls it makes, then the
/// actions AWS authorizes inside them (tagging a registered revision, passing
/// its roles, and what `CreateDeployment` checks). `template.yaml` grants
/// exactly these; a test compares the two, and another the calls made.
pub const IAM_ACTIONS: &[&str] = &[
    "tag:GetResources",
    "ecs:ListClusters",
    "ecs:ListServices",
    "ecs:DescribeServices",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTaskDefinitions",
    "ecs:RegisterTaskDefinition",
    "ecs:UpdateService",
    "ecr:DescribeImages",
    "codedeploy:ListApplications",
    "codedeploy:ListDeploymentGroups",
    "codedeploy:GetDeploymentGroup",
    "codedeploy:ListDeployments",
    "codedeploy:GetDeployment",
    "codedeploy:CreateDeployment",
    "ssm:GetCalendarState",
    "ecs:TagResource",
    "ecs:UntagResource",
    "sts:AssumeRole",
    // Authorized within the calls above.
    "iam:PassRole",
    "codedeploy:GetDeploymentConfig",
    "codedeploy:RegisterApplicationRevision",
];

/// The IAM actions the function needs in a workload account, through the
/// role it assumes there (`TARGET_ROLE_ARNS`): [`IAM_ACTIONS`] but for ECR,
/// Systems Manager and STS, which stay in the function's own account.
/// `workload-account.yaml` grants exactly these; a test compares the two.
pub const WORKLOAD_IAM_ACTIONS: &[&str] = &[
    "tag:GetResources",
    "ecs:ListClusters",
    "ecs:ListServices",
    "ecs:DescribeServices",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTaskDefinitions",
    "ecs:RegisterTaskDefinition",
    "ecs:UpdateService",
    "codedeploy:ListApplications",
    "codedeploy:ListDeploymentGroups",
    "codedeploy:GetDeploymentGroup",
    "codedeploy:ListDeployments",
    "codedeploy:GetDeployment",
    "codedeploy:CreateDeployment",
    "ecs:TagResource",
    "ecs:UntagResource",
    // Authorized within the calls above.
    "iam:PassRole",
    "codedeploy:GetDeploymentConfig",
    "codedeploy:RegisterApplicationRevision",
];

/// The function's configuration, from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `DRY_RUN` and the SDK timeouts.
    pub common: CommonConfig,
    /// `CLUSTERS`: comma-separated cluster names or ARNs; every cluster when unset.
    pub scope: ClusterScope,
    /// `DISCOVERY`: how tracking services are found, `tags` (default: the
    /// Tagging API) or `ecs` (every cluster listed).
    pub discovery: Source,
    /// `MAX_CONCURRENCY`: AWS reads in flight at once, 1 to 32 (default 8).
    pub concurrency: usize,
    /// `ECS_READ_RATE`: ECS reads a second after the burst, 1 to 100 (default 20).
    pub read_rate: f64,
    /// `ECS_READ_BURST`: ECS reads sent before pacing starts, 1 to 100 (default 50).
    pub read_burst: u32,
    /// `CODEDEPLOY_HOOKS`: a JSON object from AppSpec hook name to Lambda
    /// function name or ARN, put in the AppSpec of blue/green deployments.
    pub hooks: Vec<(String, String)>,
    /// `METRICS_NAMESPACE`: the CloudWatch namespace of the outcome metrics.
    pub metrics_namespace: String,
    /// `FREEZE_CALENDARS`: change calendars (names or document ARNs,
    /// separated by commas or spaces) that freeze every service.
    pub freeze_calendars: Vec<CalendarName>,
    /// `TARGET_ROLE_ARNS` and `TARGET_EXTERNAL_ID`: the workload accounts'
    /// roles to roll out through; none: the function's own account.
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
        let hooks: BTreeMap<String, String> = env.json("CODEDEPLOY_HOOKS")?.unwrap_or_default();
        for (hook, function) in &hooks {
            if !ECS_HOOKS.contains(&hook.as_str()) {
                return Err(ConfigError::invalid(
                    format!("CODEDEPLOY_HOOKS.{hook}"),
                    format!(
                        "not an ECS lifecycle hook; expected one of {}",
                        ECS_HOOKS.join(", ")
                    ),
                ));
            }
            if function.trim().is_empty() {
                return Err(ConfigError::invalid(
                    format!("CODEDEPLOY_HOOKS.{hook}"),
                    "empty function name",
                ));
            }
        }
        Ok(Config {
            common: CommonConfig::from_env(env, CALL_POLICY)?,
            scope: ClusterScope::from_list(env.list("CLUSTERS")),
            discovery: Source::from_env(env)?,
            concurrency,
            read_rate,
            read_burst,
            hooks: hooks.into_iter().collect(),
            metrics_namespace: env
                .optional("METRICS_NAMESPACE")
                .unwrap_or(DEFAULT_NAMESPACE)
                .to_owned(),
            freeze_calendars: CalendarName::parse_list(
                env.optional("FREEZE_CALENDARS").unwrap_or_default(),
            )
            .map_err(|e| ConfigError::invalid("FREEZE_CALENDARS", e))?,
            targets: Targets::from_env(env)?,
        })
    }

    fn settings(&self) -> Settings {
        Settings {
            scope: self.scope.clone(),
            discovery: self.discovery,
            concurrency: self.concurrency,
            read_rate: self.read_rate,
            read_burst: self.read_burst,
            hooks: self.hooks.clone(),
            dry_run: self.common.dry_run,
            freeze_calendars: self.freeze_calendars.clone(),
        }
    }
}

/// The function's name, as the `Function` metric dimension and in the
/// session name of the roles it assumes.
const FUNCTION: &str = "redeploy-on-push";

/// The function's state, built once at cold start.
pub struct Function {
    config: Result<Config, ConfigError>,
    /// The accounts it acts in: its own, or each workload account.
    targets: Vec<Target>,
}

impl Function {
    /// Reads the configuration and builds the clients from one `SdkConfig`.
    /// A bad configuration is kept and reported by every invocation.
    pub fn from_env(env: &Env) -> Self {
        let config = Config::from_env(env);
        let policy = config.as_ref().map_or(CALL_POLICY, |c| c.common.calls);
        let sdk = sdk_config(env, &policy);
        Function::new(sdk, config)
    }

    /// Builds the function from an `SdkConfig` and a parsed configuration:
    /// the clients of its own account, or of each workload account (no
    /// role is assumed before the first event).
    pub fn new(sdk: SdkConfig, config: Result<Config, ConfigError>) -> Self {
        let home = Clients::new(&sdk);
        let targets = match &config {
            Ok(config) if !config.targets.is_empty() => workloads(&sdk, &config.targets, FUNCTION)
                .into_iter()
                .map(|workload| Target::workload(&home, workload))
                .collect(),
            _ => vec![Target::home(home)],
        };
        Function { config, targets }
    }

    /// Handles one event: returns the summary, or an error when a service
    /// failed (`Retryable` when a retry can help).
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        let config = self.config.as_ref().map_err(HandlerError::from_error)?;
        if let Some(trigger) = release_trigger(&event.payload)? {
            return match trigger {
                Trigger::Release(trigger) => self.release(config, trigger).await,
                Trigger::Ignored(reason) => Ok(ignored(reason)),
            };
        }
        let pushed = match parse_push(event.payload).map_err(|e| HandlerError::from_error(&e))? {
            Push::Ignored(reason) => return Ok(ignored(reason)),
            Push::Image(pushed) => pushed,
        };
        tracing::info!(
            repository = %pushed.repository,
            tag = pushed.tag.as_deref().unwrap_or("-"),
            digest = %pushed.digest,
            dry_run = config.common.dry_run,
            "image pushed"
        );

        // Images pushed in another Region are described there.
        let summary = redeploy_everywhere(&self.targets, &config.settings(), pushed)
            .await
            .map_err(|e: AwsError| HandlerError::from_error(&e))?;
        publish(&summary, &config.metrics_namespace);
        outcome(summary)
    }

    /// Releases the deferred pushes.
    async fn release(&self, config: &Config, trigger: String) -> Result<Value, HandlerError> {
        tracing::info!(trigger = %trigger, dry_run = config.common.dry_run, "releasing deferred pushes");
        let release = release_everywhere(&self.targets, &config.settings(), trigger)
            .await
            .map_err(|e: AwsError| HandlerError::from_error(&e))?;
        for summary in &release.rollouts {
            publish(summary, &config.metrics_namespace);
        }
        released(release)
    }
}

/// What a calendar or schedule event asks for.
enum Trigger {
    /// Release the deferred pushes; the trigger, in words.
    Release(String),
    /// Nothing to do, and why.
    Ignored(String),
}

/// The Scheduled Event's source and detail-type (EventBridge schedules).
const SCHEDULE: (&str, &str) = ("aws.events", "Scheduled Event");
/// An EventBridge Scheduler schedule's event, as its `detail-type` says.
const SCHEDULER: (&str, &str) = ("aws.scheduler", "Scheduled Event");

/// A Change Calendar state change, or a sweep schedule, as a release
/// trigger; `None` for any other event (read as a push). Errors name the
/// field.
fn release_trigger(payload: &Value) -> Result<Option<Trigger>, HandlerError> {
    if let Some(change) = parse_state_change(payload).map_err(|e| HandlerError::from_error(&e))? {
        let trigger = match change.detail.state {
            State::Open => {
                Trigger::Release(format!("change calendar {} opened", change.calendar_arn))
            }
            State::Closed => Trigger::Ignored(format!(
                "change calendar {} closed: deferred pushes wait for it to open",
                change.calendar_arn
            )),
        };
        return Ok(Some(trigger));
    }
    let source = payload
        .get("source")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let detail_type = payload
        .get("detail-type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if [SCHEDULE, SCHEDULER].contains(&(source, detail_type)) {
        return Ok(Some(Trigger::Release("the scheduled sweep".into())));
    }
    Ok(None)
}

/// The release as the response, or an error naming what failed.
fn released(release: Release) -> Result<Value, HandlerError> {
    let value = serde_json::to_value(&release).unwrap_or(Value::Null);
    tracing::info!(
        images = release.rollouts.len(),
        cleared = release.cleared.len(),
        errors = release.errors.len(),
        release = %value,
        "release finished"
    );
    let Some(kind) = release.error_kind else {
        return Ok(value);
    };
    let failures: Vec<String> = release
        .rollouts
        .iter()
        .flat_map(|s| &s.services)
        .filter(|s| s.outcome == Outcome::Failed)
        .map(|s| format!("{}: {}", label(s), s.reason))
        .chain(release.errors.iter().cloned())
        .collect();
    Err(HandlerError::from_error(&Failures { kind, failures }))
}

/// `cluster/service`, or `account/cluster/service` in a workload account.
fn label(report: &autopilot_shared::redeploy::ServiceReport) -> String {
    match &report.account {
        Some(account) => format!("{account}/{}/{}", report.cluster, report.service),
        None => format!("{}/{}", report.cluster, report.service),
    }
}

fn ignored(reason: String) -> Value {
    tracing::info!(reason = %reason, "event ignored");
    json!({ "ignored": reason })
}

fn publish(summary: &Summary, namespace: &str) {
    let mut metrics = MetricSet::new(namespace, "Deployments", &["Function", "Outcome"]);
    for entry in &summary.services {
        tracing::info!(
            account = entry.account.as_deref().unwrap_or("-"),
            cluster = %entry.cluster,
            service = %entry.service,
            outcome = entry.outcome.as_str(),
            reason = %entry.reason,
            task_definition = entry.task_definition_arn.as_deref().unwrap_or("-"),
            deployment_id = entry.deployment_id.as_deref().unwrap_or("-"),
            freeze = entry.freeze.as_deref().unwrap_or("-"),
            freeze_override = entry.freeze_override,
            "service"
        );
        metrics.add(&[FUNCTION, entry.outcome.as_str()]);
    }
    metrics.emit();
    let mut overrides = MetricSet::new(namespace, "FreezeOverrides", &["Function"]);
    for _ in summary.services.iter().filter(|s| s.freeze_override) {
        overrides.add(&[FUNCTION]);
    }
    overrides.emit();
}

/// The summary as the response, or an error naming the failed services.
fn outcome(summary: Summary) -> Result<Value, HandlerError> {
    let value = serde_json::to_value(&summary).unwrap_or(Value::Null);
    tracing::info!(
        matched = summary.services.len(),
        deployed = summary.count(Outcome::Deployed),
        skipped = summary.count(Outcome::Skipped),
        failed = summary.count(Outcome::Failed),
        planned = summary.count(Outcome::Planned),
        deferred = summary.count(Outcome::Deferred),
        summary = %value,
        "redeploy finished"
    );
    let Some(kind) = summary.error_kind else {
        return Ok(value);
    };
    let failures: Vec<String> = summary
        .services
        .iter()
        .filter(|s| s.outcome == Outcome::Failed)
        .map(|s| format!("{}: {}", label(s), s.reason))
        .chain(summary.errors.iter().cloned())
        .collect();
    Err(HandlerError::from_error(&Failures { kind, failures }))
}

#[derive(Debug, thiserror::Error)]
#[error("{} failed: {}", failures.len(), failures.join("; "))]
struct Failures {
    kind: ErrorKind,
    failures: Vec<String>,
}

impl Classify for Failures {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn config_defaults() {
        let config = Config::from_env(&env(&[])).unwrap();
        assert_eq!(config.scope, ClusterScope::All);
        assert_eq!(config.concurrency, 8);
        assert!(config.hooks.is_empty());
        assert_eq!(config.metrics_namespace, "EcsAutopilot");
    }

    #[test]
    fn config_errors_name_the_variable() {
        let cases = [
            (("MAX_CONCURRENCY", "0"), "MAX_CONCURRENCY"),
            (("MAX_CONCURRENCY", "many"), "MAX_CONCURRENCY"),
            (("ECS_READ_RATE", "0"), "ECS_READ_RATE"),
            (("ECS_READ_BURST", "500"), "ECS_READ_BURST"),
            (("CODEDEPLOY_HOOKS", "[1]"), "CODEDEPLOY_HOOKS"),
            (
                ("CODEDEPLOY_HOOKS", r#"{"AfterInstal": "f"}"#),
                "CODEDEPLOY_HOOKS.AfterInstal",
            ),
            (
                ("CODEDEPLOY_HOOKS", r#"{"AfterInstall": " "}"#),
                "CODEDEPLOY_HOOKS.AfterInstall",
            ),
            (("DRY_RUN", "sometimes"), "DRY_RUN"),
            (("DISCOVERY", "list"), "DISCOVERY"),
            (
                ("FREEZE_CALENDARS", "release-freeze, x"),
                "FREEZE_CALENDARS",
            ),
        ];
        for ((name, value), field) in cases {
            let error = Config::from_env(&env(&[(name, value)])).unwrap_err();
            assert!(error.to_string().contains(field), "{name}={value}: {error}");
        }
    }

    #[test]
    fn config_reads_clusters_and_hooks() {
        let config = Config::from_env(&env(&[
            ("CLUSTERS", "prod, staging"),
            ("CODEDEPLOY_HOOKS", r#"{"AfterAllowTestTraffic": "CodeDeployHook_a", "BeforeInstall": "CodeDeployHook_b"}"#),
        ]))
        .unwrap();
        assert_eq!(
            config.scope,
            ClusterScope::Named(vec!["prod".into(), "staging".into()])
        );
        assert_eq!(config.hooks.len(), 2);
    }
}
