//! `codedeploy-hook`: validates a CodeDeploy ECS blue/green deployment at a
//! lifecycle hook, and always reports the verdict.
//!
//! An adapter from the CodeDeploy hook event (`{DeploymentId,
//! LifecycleEventHookExecutionId}`) to the check engine
//! ([`autopilot_shared::checks`]):
//! 1. gather: which hook this is (`HOOK`, else the lifecycle event in
//!    progress in `GetDeploymentTarget`), and the checks (`CHECKS`, else the
//!    hook's defaults); the deployment's listeners, target groups and new
//!    revision are resolved lazily by the checks that need them;
//! 2. decide: run the checks concurrently, each within its `timeoutSeconds`,
//!    all within the invocation deadline minus a margin (a tenth of the time
//!    left, 3 to 30 s), optionally over a bake window; every check passes or
//!    the verdict is `Failed`;
//! 3. act: `PutLifecycleEventHookExecutionStatus` exactly once with
//!    `Succeeded` or `Failed`, whatever happened: a failing check, an AWS
//!    error, a bad configuration, a panic, the deadline. Only when that call
//!    fails does the invocation return an error (`Retryable`), so that Lambda
//!    retries it (CodeDeploy would otherwise wait an hour). A redelivered
//!    event whose lifecycle event already completed
//!    (`LifecycleEventAlreadyCompletedException`) has nothing left to report:
//!    the invocation succeeds, with `alreadyReported: true`.
//!
//! Logs: one line per check with its evidence, and the verdict; the
//! `HookVerdicts` EMF metric (`[Function, Hook, Verdict]`). The response is
//! the verdict with the evidence.
//!
//! # Environment
//! - `HOOK`: `BeforeInstall`, `AfterInstall`, `AfterAllowTestTraffic`,
//!   `BeforeAllowTraffic` or `AfterAllowTraffic`; unset, the function asks
//!   CodeDeploy which lifecycle event is in progress.
//! - `CHECKS`: the checks as JSON (see [`autopilot_shared::checks`]); unset
//!   or blank, the hook's defaults ([`autopilot_shared::hooks::codedeploy::defaults`]);
//!   `[]` runs no check and succeeds.
//! - `BAKE_SECONDS`: re-evaluate the checks over this many seconds, failing
//!   on the first bad sample (0, the default: once). `bakeSeconds` in an
//!   object-form `CHECKS` takes precedence.
//! - `RESOLVE`: host pins for the http checks, `host:port:address[:port]`,
//!   comma-separated (see [`autopilot_shared::checks::resolve`]).
//! - `HEALTH_PATH` (default `/health`), `ALARM_NAMES` (comma-separated),
//!   `ALARM_PREFIX`: used by the default checks only.
//! - `METRICS_NAMESPACE` (default `EcsAutopilot`), `DRY_RUN`, and the
//!   overrides of [`CALL_POLICY`]: `AWS_RETRY_MODE`, `AWS_MAX_ATTEMPTS`,
//!   `AWS_OPERATION_TIMEOUT_SECS`, `AWS_ATTEMPT_TIMEOUT_SECS`,
//!   `AWS_CONNECT_TIMEOUT_SECS`.
//!
//! A bad variable is reported as `Failed`, with a reason naming it
//! (`CHECKS[2].threshold: ...`); when the event is malformed too, the
//! invocation fails with `InvalidInput` naming the variable.
//!
//! `DRY_RUN=true` runs the checks and logs the verdict they reach, but
//! reports `Succeeded`: a dry run must not stop or roll back the
//! deployment, and not reporting would block it for an hour. The metric
//! counts what was reported.
//!
//! Debug builds only: `AUTOPILOT_FAULT_PANIC_CHECK=<check name>` makes that
//! check panic when it runs, so that the end-to-end tests can show a panic
//! inside a check reported as `Failed`. Release builds do not contain it.

use std::sync::Arc;
use std::time::Duration;

use autopilot_shared::HandlerError;
use autopilot_shared::aws::{CallPolicy, OnFirstUse, sdk_config};
use autopilot_shared::checks::common::one_line;
use autopilot_shared::checks::engine::{self, Bake, CheckResult, Deadlines, Interrupted};
use autopilot_shared::checks::prober::HttpProber;
use autopilot_shared::checks::resolve::Pins;
use autopilot_shared::checks::{CheckContext, CheckPlan, Clients};
use autopilot_shared::config::{CommonConfig, ConfigError, Env};
use autopilot_shared::error::{Classify, ErrorKind};
use autopilot_shared::events::{CodeDeployLifecycleEvent, EventError, parse_event};
use autopilot_shared::hooks::codedeploy::Hook;
use autopilot_shared::hooks::codedeploy::defaults::{self, DefaultOptions};
use autopilot_shared::hooks::codedeploy::deployment::{
    CodeDeployDeployment, Reported, report_hook_status,
};
use autopilot_shared::hooks::runner::{self, Evaluated, HookInvocation, VerdictMetric};
use autopilot_shared::metrics::DEFAULT_NAMESPACE;
use aws_config::SdkConfig;
use futures::future::BoxFuture;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use tokio::time::Instant;

/// How the function's AWS calls retry and time out (`AWS_RETRY_MODE`,
/// `AWS_MAX_ATTEMPTS` and `AWS_*_TIMEOUT_SECS` override it).
///
/// A hook must report before its deadline whatever AWS does: a check's reads
/// retry quickly (3 attempts, 0.2 s to 2 s backoff, 5 s an attempt) and are
/// cut off by the check's own deadline anyway; the status report is given the
/// time left before the invocation deadline ([`CallPolicy::within`]), each
/// attempt a third of it, so a hung attempt still leaves time for a retry.
pub const CALL_POLICY: CallPolicy = CallPolicy::HOOK;

/// Time kept after the status report to hand Lambda the answer before the
/// invocation deadline.
const ANSWER_MARGIN: Duration = Duration::from_millis(250);

/// Every IAM action the function calls: reporting, resolving the
/// deployment, and the probes of each check kind. `template.yaml` grants
/// exactly these; a test compares the two, and another the calls made.
pub const IAM_ACTIONS: &[&str] = &[
    "codedeploy:PutLifecycleEventHookExecutionStatus",
    "codedeploy:GetDeployment",
    "codedeploy:GetDeploymentGroup",
    "codedeploy:GetDeploymentTarget",
    "ecs:DescribeTaskDefinition",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetMetricData",
    "ecr:DescribeImageScanFindings",
    "ssm:GetCalendarState",
];

/// The function's name, as the `Function` metric dimension.
const FUNCTION: &str = "codedeploy-hook";

/// The most `BAKE_SECONDS` may ask (a Lambda function runs at most 900 s).
const MAX_BAKE_SECONDS: f64 = 900.0;

/// The function's configuration, from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `DRY_RUN` and the SDK timeouts.
    pub common: CommonConfig,
    /// `HOOK`, when set.
    pub hook: Option<Hook>,
    /// `CHECKS`, when set.
    pub checks: Option<CheckPlan>,
    /// The bake: `CHECKS`' own, else `BAKE_SECONDS`.
    pub bake: Option<Bake>,
    /// `RESOLVE`.
    pub pins: Pins,
    /// `HEALTH_PATH`, `ALARM_NAMES`, `ALARM_PREFIX`, for the default checks.
    pub defaults: DefaultOptions,
    /// `METRICS_NAMESPACE`.
    pub metrics_namespace: String,
}

impl Config {
    /// Parses the environment; errors name the variable (and the field
    /// inside `CHECKS`).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let hook = env
            .optional("HOOK")
            .map(|name| {
                Hook::parse(name).ok_or_else(|| {
                    ConfigError::invalid(
                        "HOOK",
                        format!(
                            "{name:?} is not an ECS lifecycle hook; expected one of {}",
                            Hook::ALL.map(Hook::as_str).join(", ")
                        ),
                    )
                })
            })
            .transpose()?;
        let checks = env
            .optional("CHECKS")
            .map(|text| CheckPlan::parse("CHECKS", text))
            .transpose()?;
        let bake_seconds = env
            .ranged_seconds("BAKE_SECONDS", 0.0, MAX_BAKE_SECONDS)?
            .unwrap_or_default();
        let bake = checks
            .as_ref()
            .and_then(|plan| plan.bake)
            .or_else(|| Bake::new(bake_seconds, None));
        let pins = Pins::parse(env.optional("RESOLVE").unwrap_or_default())
            .map_err(|e| ConfigError::invalid(format!("RESOLVE[{}]", e.index), e))?;
        let health_path = env.optional("HEALTH_PATH").unwrap_or("/health").to_owned();
        if !health_path.starts_with('/') {
            return Err(ConfigError::invalid("HEALTH_PATH", "must start with /"));
        }
        Ok(Config {
            common: CommonConfig::from_env(env, CALL_POLICY)?,
            hook,
            checks,
            bake,
            pins,
            defaults: DefaultOptions {
                health_path,
                alarm_names: env.list("ALARM_NAMES"),
                alarm_prefix: env.optional("ALARM_PREFIX").map(str::to_owned),
            },
            metrics_namespace: env
                .optional("METRICS_NAMESPACE")
                .unwrap_or(DEFAULT_NAMESPACE)
                .to_owned(),
        })
    }
}

/// The function's state, built once at cold start.
pub struct Function {
    config: Result<Config, ConfigError>,
    hook_hint: Option<Hook>,
    codedeploy: aws_sdk_codedeploy::Client,
    ecs: OnFirstUse<aws_sdk_ecs::Client>,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    clients: Arc<Clients>,
    #[cfg(debug_assertions)]
    panic_check: Option<String>,
}

impl Function {
    /// Reads the configuration and builds the clients from one `SdkConfig`.
    /// A bad configuration is kept and reported by every invocation.
    pub fn from_env(env: &Env) -> Self {
        let config = Config::from_env(env);
        let policy = config.as_ref().map_or(CALL_POLICY, |c| c.common.calls);
        let sdk = sdk_config(env, &policy);
        let mut function = Function::new(sdk, config);
        function.hook_hint = env.optional("HOOK").and_then(Hook::parse);
        #[cfg(debug_assertions)]
        {
            function.panic_check = env
                .optional(autopilot_shared::checks::fault::PANIC_CHECK)
                .map(str::to_owned);
        }
        function
    }

    /// Builds the function from an `SdkConfig` and a parsed configuration:
    /// the AWS clients and the one HTTP client of the http checks.
    pub fn new(sdk: SdkConfig, config: Result<Config, ConfigError>) -> Self {
        let pins = config.as_ref().map(|c| c.pins.clone()).unwrap_or_default();
        let clients = Arc::new(Clients::new(&sdk, HttpProber::new(pins)));
        Function {
            hook_hint: config.as_ref().ok().and_then(|c| c.hook),
            config,
            codedeploy: aws_sdk_codedeploy::Client::new(&sdk),
            ecs: OnFirstUse::new(&sdk, aws_sdk_ecs::Client::new),
            elbv2: clients.elbv2.clone(),
            clients,
            #[cfg(debug_assertions)]
            panic_check: None,
        }
    }

    /// Handles one hook invocation: runs the checks and reports the verdict
    /// to CodeDeploy, exactly once (through the shared
    /// [`runner`](autopilot_shared::hooks::runner)).
    ///
    /// Returns the verdict and the evidence. Errors: `InvalidInput` for a
    /// malformed event (nothing can be reported without its IDs), and
    /// `Retryable` when the report itself failed.
    ///
    /// IAM: as [`IAM_ACTIONS`] lists.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        let deadline = event.context.deadline();
        let event = self.parse(event.payload)?;
        runner::run(
            &Run {
                function: self,
                event,
            },
            deadline,
        )
        .await
    }

    /// The event's IDs; a malformed event is `InvalidInput`, or the
    /// configuration error when there is one (it is the first thing to fix).
    fn parse(&self, payload: Value) -> Result<CodeDeployLifecycleEvent, HandlerError> {
        parse_hook_event(payload).map_err(|error| match &self.config {
            Err(config) => HandlerError::from_error(config),
            Ok(_) => HandlerError::from_error(&error),
        })
    }

    /// Gather and decide: the hook, its checks, and their verdict.
    async fn evaluate(&self, deployment_id: &str, run_deadline: Instant) -> Decision {
        let failed = |hook, reason| Decision::failed(deployment_id, hook, reason);
        let config = match &self.config {
            Ok(config) => config,
            Err(error) => return failed(self.hook_hint, format!("bad configuration: {error}")),
        };
        let clients = self.clients.clone();
        let deployment = Arc::new(CodeDeployDeployment::new(
            deployment_id,
            self.codedeploy.clone(),
            self.elbv2.clone(),
            self.ecs.clone(),
        ));
        let hook = match config.hook {
            Some(hook) => hook,
            None => match deployment.hook_in_progress().await {
                Ok(hook) => hook,
                Err(error) => {
                    return failed(
                        None,
                        format!("cannot tell which hook this is (HOOK is unset): {error}"),
                    );
                }
            },
        };
        let specs = match &config.checks {
            Some(plan) => plan.checks.clone(),
            None => defaults::for_hook(hook, &config.defaults),
        };
        let context = Arc::new(CheckContext {
            clients,
            deployment,
        });
        let checks = autopilot_shared::checks::build(&specs, &context);
        #[cfg(debug_assertions)]
        let checks = autopilot_shared::checks::fault::panic_in(checks, self.panic_check.as_deref());
        let report = engine::evaluate(&checks, config.bake, run_deadline).await;
        Decision {
            deployment_id: deployment_id.to_owned(),
            hook: Some(hook),
            passed: report.passed,
            reason: report.summary(),
            samples: report.samples,
            results: report.results,
        }
    }
}

/// One invocation, as the shared runner drives it: evaluate, then report.
struct Run<'a> {
    function: &'a Function,
    event: CodeDeployLifecycleEvent,
}

impl HookInvocation for Run<'_> {
    type Outcome = Decision;
    type Answer = Value;

    fn evaluate(&self, run_deadline: Instant) -> BoxFuture<'_, Decision> {
        Box::pin(
            self.function
                .evaluate(&self.event.deployment_id, run_deadline),
        )
    }

    fn interrupted(&self, why: Interrupted) -> Decision {
        Decision::failed(
            &self.event.deployment_id,
            self.function.hook_hint,
            why.to_string(),
        )
    }

    fn answer(
        &self,
        decision: Decision,
        deadlines: Deadlines,
    ) -> BoxFuture<'_, Result<(Value, Vec<String>), HandlerError>> {
        Box::pin(self.report(decision, deadlines.invocation))
    }

    fn metric(&self) -> VerdictMetric<'_> {
        VerdictMetric {
            namespace: self
                .function
                .config
                .as_ref()
                .map_or(DEFAULT_NAMESPACE, |c| c.metrics_namespace.as_str()),
            name: "HookVerdicts",
            dimensions: &["Function", "Hook", "Verdict"],
            function: FUNCTION,
        }
    }
}

impl Run<'_> {
    /// Act: `PutLifecycleEventHookExecutionStatus`, once, within the time
    /// left before `invocation_deadline`; the response and the metric's
    /// `[Hook, Verdict]`.
    async fn report(
        &self,
        decision: Decision,
        invocation_deadline: Instant,
    ) -> Result<(Value, Vec<String>), HandlerError> {
        let config = self.function.config.as_ref();
        let dry_run = config.is_ok_and(|c| c.common.dry_run);
        let report_succeeded = decision.passed || dry_run;
        decision.log(dry_run);
        let deployment_id = decision.deployment_id.as_str();
        // The report gets the time left before the invocation deadline (less
        // the moment it takes to hand Lambda the answer), each attempt a
        // third of it: a hung attempt still leaves room for a retry.
        let report_deadline = invocation_deadline
            .checked_sub(ANSWER_MARGIN)
            .unwrap_or(invocation_deadline);
        let policy = config
            .map_or(CALL_POLICY, |c| c.common.calls)
            .within(report_deadline.saturating_duration_since(Instant::now()));
        let reported = tokio::time::timeout_at(
            report_deadline,
            report_hook_status(
                &self.function.codedeploy,
                deployment_id,
                &self.event.lifecycle_event_hook_execution_id,
                report_succeeded,
                &policy,
            ),
        )
        .await;
        let status = if report_succeeded {
            "Succeeded"
        } else {
            "Failed"
        };
        let hook = decision.hook_name();
        let already_reported = match reported {
            Ok(Ok(Reported::Recorded)) => false,
            Ok(Ok(Reported::AlreadyCompleted)) => {
                tracing::warn!(
                    deployment_id,
                    hook,
                    status,
                    "the lifecycle event had already completed: an earlier delivery reported it"
                );
                true
            }
            Ok(Err(error)) => {
                // CodeDeploy refusing the event's own ids: no retry can
                // report to a hook execution it never issued.
                let kind = if error.code().is_some_and(|c| REFUSED_IDS.contains(&c)) {
                    ErrorKind::InvalidInput
                } else {
                    ErrorKind::Retryable
                };
                return Err(report_failed(
                    deployment_id,
                    hook,
                    status,
                    error.to_string(),
                    kind,
                ));
            }
            Err(_) => {
                let cause = "no answer before the invocation deadline".to_owned();
                return Err(report_failed(
                    deployment_id,
                    hook,
                    status,
                    cause,
                    ErrorKind::Retryable,
                ));
            }
        };
        let mut response = decision.to_json(status, dry_run);
        response["alreadyReported"] = json!(already_reported);
        Ok((response, vec![hook.to_owned(), status.to_owned()]))
    }
}

impl Evaluated for Decision {
    fn deployment_id(&self) -> &str {
        &self.deployment_id
    }

    fn hook(&self) -> &str {
        self.hook_name()
    }

    fn results(&self) -> &[CheckResult] {
        &self.results
    }
}

/// Reads a CodeDeploy lifecycle hook event as [`Function::handle`] does,
/// before any AWS call: both IDs must be present and not blank. Errors name
/// the field (`DeploymentId`, `LifecycleEventHookExecutionId`).
pub fn parse_hook_event(payload: Value) -> Result<CodeDeployLifecycleEvent, EventError> {
    let event: CodeDeployLifecycleEvent = parse_event("CodeDeploy lifecycle hook", payload)?;
    for (field, value) in [
        ("DeploymentId", &event.deployment_id),
        (
            "LifecycleEventHookExecutionId",
            &event.lifecycle_event_hook_execution_id,
        ),
    ] {
        if value.trim().is_empty() {
            return Err(EventError {
                event: "CodeDeploy lifecycle hook",
                path: field.to_owned(),
                reason: "must not be empty".to_owned(),
            });
        }
    }
    Ok(event)
}

/// What the checks decided.
#[derive(Debug, Clone, PartialEq)]
struct Decision {
    deployment_id: String,
    hook: Option<Hook>,
    passed: bool,
    reason: String,
    results: Vec<CheckResult>,
    samples: u32,
}

impl Decision {
    fn failed(deployment_id: &str, hook: Option<Hook>, reason: String) -> Self {
        Decision {
            deployment_id: deployment_id.to_owned(),
            hook,
            passed: false,
            reason: one_line(&reason, 1000),
            results: Vec::new(),
            samples: 0,
        }
    }

    fn hook_name(&self) -> &'static str {
        self.hook.map_or("Unknown", Hook::as_str)
    }

    fn log(&self, dry_run: bool) {
        let deployment_id = self.deployment_id.as_str();
        let hook = self.hook_name();
        let verdict = if self.passed { "Succeeded" } else { "Failed" };
        if self.passed {
            tracing::info!(deployment_id, hook, verdict, dry_run, samples = self.samples, reason = %self.reason, "verdict");
        } else {
            tracing::warn!(deployment_id, hook, verdict, dry_run, samples = self.samples, reason = %self.reason, "verdict");
        }
    }

    fn to_json(&self, status: &str, dry_run: bool) -> Value {
        json!({
            "deploymentId": self.deployment_id,
            "hook": self.hook.map(Hook::as_str),
            "status": status,
            "verdict": if self.passed { "Succeeded" } else { "Failed" },
            "dryRun": dry_run,
            "reason": self.reason,
            "samples": self.samples,
            "checks": self.results.iter().map(CheckResult::to_json).collect::<Vec<_>>(),
        })
    }
}

/// The `PutLifecycleEventHookExecutionStatus` errors that refuse the
/// event's own deployment or hook-execution id (CodeDeploy API reference):
/// retrying the same event cannot help.
const REFUSED_IDS: [&str; 4] = [
    "InvalidLifecycleEventHookExecutionIdException",
    "InvalidDeploymentIdException",
    "DeploymentIdRequiredException",
    "DeploymentDoesNotExistException",
];

fn report_failed(
    deployment_id: &str,
    hook: &str,
    status: &'static str,
    cause: String,
    kind: ErrorKind,
) -> HandlerError {
    tracing::error!(deployment_id, hook, status, error = %cause, "reporting the hook status failed");
    HandlerError::from_error(&ReportError {
        deployment_id: deployment_id.to_owned(),
        status,
        cause,
        kind,
    })
}

/// `PutLifecycleEventHookExecutionStatus` failed: the invocation fails,
/// `Retryable` (so that Lambda retries it: only another attempt can still
/// tell CodeDeploy) unless CodeDeploy refused the event's ids.
#[derive(Debug, thiserror::Error)]
#[error("failed to report {status} for deployment {deployment_id}: {cause}")]
struct ReportError {
    deployment_id: String,
    status: &'static str,
    cause: String,
    kind: ErrorKind,
}

impl Classify for ReportError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_runtime::Context;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn config_defaults() {
        let config = Config::from_env(&env(&[])).unwrap();
        assert_eq!(config.hook, None);
        assert_eq!(config.checks, None);
        assert_eq!(config.bake, None);
        assert!(config.pins.is_empty());
        assert_eq!(config.defaults, DefaultOptions::default());
        assert_eq!(config.metrics_namespace, "EcsAutopilot");
        assert!(!config.common.dry_run);
    }

    #[test]
    fn config_reads_every_variable() {
        let config = Config::from_env(&env(&[
            ("HOOK", "AfterAllowTestTraffic"),
            (
                "CHECKS",
                r#"[{"kind": "http", "listener": "test", "path": "/ready"}]"#,
            ),
            ("BAKE_SECONDS", "60"),
            ("RESOLVE", "alb.example:8080:127.0.0.1:41234"),
            ("HEALTH_PATH", "/ready"),
            ("ALARM_NAMES", "a, b"),
            ("ALARM_PREFIX", "api-"),
            ("METRICS_NAMESPACE", "Ops"),
            ("DRY_RUN", "true"),
        ]))
        .unwrap();
        assert_eq!(config.hook, Some(Hook::AfterAllowTestTraffic));
        assert_eq!(config.checks.unwrap().checks.len(), 1);
        assert_eq!(
            config.bake,
            Some(Bake {
                window: Duration::from_secs(60),
                interval: Duration::from_secs(6)
            })
        );
        assert!(config.pins.find("alb.example").is_some());
        assert_eq!(config.defaults.alarm_names, ["a", "b"]);
        assert_eq!(config.defaults.alarm_prefix.as_deref(), Some("api-"));
        assert_eq!(config.defaults.health_path, "/ready");
        assert_eq!(config.metrics_namespace, "Ops");
        assert!(config.common.dry_run);
        let config = Config::from_env(&env(&[
            ("CHECKS", r#"{"checks": [], "bakeSeconds": 10}"#),
            ("BAKE_SECONDS", "60"),
        ]))
        .unwrap();
        assert_eq!(
            config.bake.unwrap().window,
            Duration::from_secs(10),
            "CHECKS wins"
        );
        assert_eq!(
            Config::from_env(&env(&[("BAKE_SECONDS", "0")]))
                .unwrap()
                .bake,
            None
        );
    }

    #[test]
    fn config_errors_name_the_variable_and_field() {
        let cases = [
            (("HOOK", "Install"), "HOOK"),
            (("CHECKS", "{"), "CHECKS"),
            (("CHECKS", r#"[{"kind": "alarms"}]"#), "CHECKS[0].names"),
            (
                (
                    "CHECKS",
                    r#"[{"kind": "metric", "namespace": "N", "metricName": "M", "comparison": "<", "threshold": "x"}]"#,
                ),
                "CHECKS[0].threshold",
            ),
            (("BAKE_SECONDS", "-1"), "BAKE_SECONDS"),
            (("BAKE_SECONDS", "1000"), "BAKE_SECONDS"),
            (("BAKE_SECONDS", "soon"), "BAKE_SECONDS"),
            (("RESOLVE", "a:80:1.2.3.4,b:80"), "RESOLVE[1]"),
            (("HEALTH_PATH", "health"), "HEALTH_PATH"),
            (("DRY_RUN", "perhaps"), "DRY_RUN"),
        ];
        for ((name, value), field) in cases {
            let error = Config::from_env(&env(&[(name, value)])).unwrap_err();
            assert!(
                error.to_string().contains(&format!("variable {field}")),
                "{name}={value}: {error}"
            );
        }
    }

    fn offline_sdk() -> SdkConfig {
        autopilot_shared::aws::offline_sdk_config("us-east-1")
    }

    #[tokio::test]
    async fn malformed_events_are_invalid_input_naming_the_field() {
        let function = Function::new(offline_sdk(), Config::from_env(&env(&[])));
        for (payload, field) in [
            (json!({"DeploymentId": 7}), "DeploymentId"),
            (
                json!({"DeploymentId": "d-1"}),
                "LifecycleEventHookExecutionId",
            ),
            (
                json!({"DeploymentId": " ", "LifecycleEventHookExecutionId": "x"}),
                "DeploymentId",
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
    async fn a_malformed_event_with_a_bad_configuration_names_the_variable() {
        let function = Function::new(
            offline_sdk(),
            Config::from_env(&env(&[("CHECKS", "[{\"kind\": 1}]")])),
        );
        let error = function
            .handle(LambdaEvent::new(json!({}), Context::default()))
            .await
            .unwrap_err();
        assert_eq!(error.error_type(), "InvalidInput");
        assert!(
            error.message().contains("CHECKS[0].kind"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn report_errors_keep_their_kind() {
        for kind in [ErrorKind::Retryable, ErrorKind::InvalidInput] {
            let error = ReportError {
                deployment_id: "d-1".into(),
                status: "Failed",
                cause: "DeploymentDoesNotExistException".into(),
                kind,
            };
            let handler = HandlerError::from_error(&error);
            assert_eq!(handler.error_type(), kind.error_type());
            assert_eq!(
                handler.message(),
                "failed to report Failed for deployment d-1: DeploymentDoesNotExistException"
            );
        }
        assert!(REFUSED_IDS.contains(&"InvalidLifecycleEventHookExecutionIdException"));
    }

    #[test]
    fn decisions_as_json() {
        let decision = Decision {
            deployment_id: "d-1".into(),
            hook: Some(Hook::AfterInstall),
            passed: false,
            reason: "1 of 1 check failed: t: no targets".into(),
            results: vec![CheckResult {
                name: "t".into(),
                passed: false,
                evidence: "no targets".into(),
                elapsed: Duration::from_millis(12),
            }],
            samples: 1,
        };
        assert_eq!(
            decision.to_json("Succeeded", true),
            json!({
                "deploymentId": "d-1", "hook": "AfterInstall", "status": "Succeeded",
                "verdict": "Failed", "dryRun": true, "reason": "1 of 1 check failed: t: no targets",
                "samples": 1,
                "checks": [{"name": "t", "passed": false, "evidence": "no targets", "elapsedMs": 12}],
            })
        );
    }
}
