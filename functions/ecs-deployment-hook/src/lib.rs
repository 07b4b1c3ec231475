//! `ecs-deployment-hook`: validates an ECS native blue/green, linear or
//! canary deployment at its lifecycle stages, and always answers with a
//! valid `hookStatus`.
//!
//! An adapter from ECS's lifecycle hook contract to the check engine
//! ([`autopilot_shared::checks`]), the same checks as `codedeploy-hook`:
//! 1. gather: the stage, the settings (`hookDetails` from the service's hook
//!    configuration over the function's environment over the stage's
//!    defaults, see [`settings`](autopilot_shared::hooks::ecs_native::settings)), the progress of this hook execution from
//!    an earlier `IN_PROGRESS` answer ([`progress`](autopilot_shared::hooks::ecs_native::progress)); the deployment's
//!    listeners, target groups and new task definition are resolved lazily,
//!    from the service revisions ECS names
//!    ([`autopilot_shared::hooks::ecs_native::deployment`]);
//! 2. decide: at `TEST_TRAFFIC_SHIFT` and `PRODUCTION_TRAFFIC_SHIFT`, the two
//!    stages ECS invokes again when it rolls back, a rollback passes at once
//!    and is never checked (the hook never blocks a rollback, nor judges the
//!    revision traffic leaves): known by the weights first (reversed: none
//!    to the target revision), by the deployment's `ROLLBACK_*` status or
//!    `rollback` second ([`traffic`](autopilot_shared::hooks::ecs_native::traffic)); otherwise one look at the checks,
//!    concurrently, within the invocation deadline, then the pure
//!    [`progress::decide`]: `SUCCEEDED`, `FAILED`, or `IN_PROGRESS` with a
//!    `callBackDelay` while a wait or a bake goes on. Linear and canary
//!    deployments invoke `PRE_PRODUCTION_TRAFFIC_SHIFT` and
//!    `PRODUCTION_TRAFFIC_SHIFT` at every traffic step: each step is judged
//!    on its own (its progress keyed by its weights), and its weights are in
//!    the verdict;
//! 3. answer: `{"hookStatus", "callBackDelay", "hookDetails"}`, the
//!    `hookDetails` carrying the configuration back, the `progress`, and the
//!    `verdict` with its evidence.
//!
//! Whatever happens (a malformed event, a bad configuration, an AWS error, a
//! panic, the deadline) the answer is a valid `hookStatus` (`FAILED`, the
//! reason in `hookDetails.verdict.reason`), never a function error: ECS
//! rolls back on either, but an answer says why.
//!
//! Logs: one line per check with its evidence, and the verdict; the
//! `EcsHookVerdicts` EMF metric (`[Function, Verdict]`).
//!
//! # Environment
//! `CHECKS`, `MAX_WAIT_SECONDS`, `CALLBACK_DELAY_SECONDS`, `HEALTH_PATH`,
//! `ALARM_NAMES`, `ALARM_PREFIX` (see [`settings`](autopilot_shared::hooks::ecs_native::settings); `hookDetails` overrides
//! each per service), `RESOLVE` (host pins for http checks, see
//! [`autopilot_shared::checks::resolve`]), `METRICS_NAMESPACE` (default
//! `EcsAutopilot`), `DRY_RUN`, and the overrides of [`CALL_POLICY`]:
//! `AWS_RETRY_MODE`, `AWS_MAX_ATTEMPTS`, `AWS_OPERATION_TIMEOUT_SECS`,
//! `AWS_ATTEMPT_TIMEOUT_SECS`, `AWS_CONNECT_TIMEOUT_SECS`.
//!
//! `DRY_RUN=true` looks at the checks once and logs the answer the hook
//! would give, but answers `SUCCEEDED`, whatever gave that answer (the
//! checks, a malformed event, a panic, the deadline): a dry run never holds
//! up or rolls back a deployment.
//!
//! Debug builds only: `AUTOPILOT_FAULT_PANIC_CHECK=<check name>` makes that
//! check panic, and `AUTOPILOT_FAULT_PANIC_STAGE=<stage>` makes the hook
//! itself panic at that stage, for the end-to-end tests.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use autopilot_shared::HandlerError;
use autopilot_shared::aws::{CallPolicy, sdk_config};
use autopilot_shared::checks::common::one_line;
use autopilot_shared::checks::engine::{self, CheckResult, Deadlines, Interrupted, Report};
use autopilot_shared::checks::prober::HttpProber;
use autopilot_shared::checks::resolve::Pins;
use autopilot_shared::checks::{CheckContext, Clients};
use autopilot_shared::config::{CommonConfig, ConfigError, Env};
use autopilot_shared::events::{EcsLifecycleHookEvent, parse_event};
use autopilot_shared::hooks::ecs_native::deployment::EcsServiceDeployment;
use autopilot_shared::hooks::ecs_native::progress::{
    self, Decision, Progress, ProgressKey, Status, Timing,
};
use autopilot_shared::hooks::ecs_native::settings::{
    self, EnvSettings, HookDetails, PROGRESS_KEY, Settings, VERDICT_KEY,
};
use autopilot_shared::hooks::ecs_native::stage::Stage;
use autopilot_shared::hooks::ecs_native::traffic::{
    Rollback, Traffic, rollback_by_status, rollback_by_weights,
};
use autopilot_shared::hooks::runner::{self, Evaluated, HookInvocation, VerdictMetric};
use autopilot_shared::metrics::DEFAULT_NAMESPACE;
use aws_config::SdkConfig;
use futures::future::BoxFuture;
use lambda_runtime::LambdaEvent;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

/// How the function's AWS calls retry and time out (`AWS_RETRY_MODE`,
/// `AWS_MAX_ATTEMPTS` and `AWS_*_TIMEOUT_SECS` override it).
///
/// The hook must answer before its deadline whatever AWS does: its reads
/// retry quickly (3 attempts, 0.2 s to 2 s backoff, 5 s an attempt) and are
/// cut off by the run deadline anyway; a failing look is answered
/// `IN_PROGRESS` and looked at again after `callBackDelay`.
pub const CALL_POLICY: CallPolicy = CallPolicy::HOOK;

/// Every IAM action the function calls: reading the service deployment and
/// its revisions, and the probes of each check kind. `template.yaml` grants
/// exactly these; a test compares the two, and another the calls made.
pub const IAM_ACTIONS: &[&str] = &[
    "ecs:DescribeServiceDeployments",
    "ecs:DescribeServiceRevisions",
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
const FUNCTION: &str = "ecs-deployment-hook";

/// Debug builds: the hook panics at the stage named here.
#[cfg(debug_assertions)]
pub const FAULT_PANIC_STAGE: &str = "AUTOPILOT_FAULT_PANIC_STAGE";

/// The function's configuration, from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `DRY_RUN` and the SDK timeouts.
    pub common: CommonConfig,
    /// The settings `hookDetails` may override.
    pub settings: EnvSettings,
    /// `RESOLVE`.
    pub pins: Pins,
    /// `METRICS_NAMESPACE`.
    pub metrics_namespace: String,
}

impl Config {
    /// Parses the environment; errors name the variable (and the field
    /// inside `CHECKS`).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let pins = Pins::parse(env.optional("RESOLVE").unwrap_or_default())
            .map_err(|e| ConfigError::setting(format!("RESOLVE[{}]", e.index), e))?;
        Ok(Config {
            common: CommonConfig::from_env(env, CALL_POLICY).map_err(ConfigError::into_setting)?,
            settings: EnvSettings::from_env(env)?,
            pins,
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
    ecs: aws_sdk_ecs::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    clients: Arc<Clients>,
    #[cfg(debug_assertions)]
    faults: Faults,
}

/// Debug builds: injected faults.
#[cfg(debug_assertions)]
#[derive(Debug, Clone, Default)]
struct Faults {
    panic_check: Option<String>,
    panic_stage: Option<String>,
}

impl Function {
    /// Reads the configuration and builds the clients from one `SdkConfig`.
    /// A bad configuration is kept and answered `FAILED` by every invocation.
    pub fn from_env(env: &Env) -> Self {
        let config = Config::from_env(env);
        let policy = config.as_ref().map_or(CALL_POLICY, |c| c.common.calls);
        let sdk = sdk_config(env, &policy);
        #[allow(unused_mut)]
        let mut function = Function::new(sdk, config);
        #[cfg(debug_assertions)]
        {
            function.faults = Faults {
                panic_check: env
                    .optional(autopilot_shared::checks::fault::PANIC_CHECK)
                    .map(str::to_owned),
                panic_stage: env.optional(FAULT_PANIC_STAGE).map(str::to_owned),
            };
        }
        function
    }

    /// Builds the function from an `SdkConfig` and a parsed configuration.
    pub fn new(sdk: SdkConfig, config: Result<Config, ConfigError>) -> Self {
        let pins = config.as_ref().map(|c| c.pins.clone()).unwrap_or_default();
        let clients = Arc::new(Clients::new(&sdk, HttpProber::new(pins)));
        Function {
            config,
            ecs: aws_sdk_ecs::Client::new(&sdk),
            elbv2: clients.elbv2.clone(),
            clients,
            #[cfg(debug_assertions)]
            faults: Faults::default(),
        }
    }

    /// Handles one hook invocation: always `Ok`, with a valid `hookStatus`
    /// (through the shared [`runner`](autopilot_shared::hooks::runner)).
    ///
    /// IAM: as [`IAM_ACTIONS`] lists.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        let run = Run {
            function: self,
            echo: config_keys(&event.payload),
            payload: event.payload,
        };
        runner::run(&run, event.context.deadline()).await
    }

    /// Gather, decide: the answer to one invocation.
    async fn answer(&self, payload: Value, run_deadline: Instant) -> Answer {
        let echo = config_keys(&payload);
        let config = match &self.config {
            Ok(config) => config,
            Err(error) => return Answer::failed(format!("bad configuration: {error}"), echo),
        };
        let invocation = parse_invocation(payload, &config.settings);
        // The fault strikes once the stage is known, whatever follows.
        #[cfg(debug_assertions)]
        {
            let stage = match &invocation {
                Ok(invocation) => Some(invocation.stage),
                Err(rejected) => rejected.stage,
            };
            if let Some(stage) = stage
                && self.faults.panic_stage.as_deref() == Some(stage.as_str())
            {
                panic!("fault injected at stage {stage} ({FAULT_PANIC_STAGE})");
            }
        }
        let Invocation {
            event,
            stage,
            details,
            settings,
        } = match invocation {
            Ok(invocation) => invocation,
            Err(rejected) => return rejected.answer(echo, config.common.dry_run),
        };
        let mut answer = Answer::failed(String::new(), echo);
        answer.deployment = Some(event.resource_arn.clone());
        answer.execution_id = Some(event.execution_id.clone());
        answer.service_arn = Some(event.execution_details.service_arn.clone());
        answer.dry_run = config.common.dry_run;
        answer.stage = Some(stage);
        answer.config = details.config.clone();
        let traffic = Traffic::of(&event.execution_details);
        answer.traffic = Some(traffic);
        let now = epoch_ms();
        let key = ProgressKey {
            deployment: &event.resource_arn,
            stage: stage.as_str(),
            step: stage.per_step().then(|| traffic.step()).flatten(),
        };
        let progress = Progress::resume(details.progress.clone(), &key, &event.execution_id, now);
        if progress.expired(now, settings.max_wait) {
            return answer.decided(progress::expired(progress, now, settings.max_wait));
        }
        // The weights say it without an AWS call (and before "no checks",
        // so that a rollback is always reported as one).
        if let Some(reason) = rollback_by_weights(stage, &traffic) {
            answer.status = Status::Succeeded;
            answer.rollback = true;
            answer.reason = reason;
            answer.progress = Some(progress);
            return answer;
        }
        if settings.plan.checks.is_empty() {
            answer.status = Status::Succeeded;
            answer.reason = format!("no checks configured for {stage} ({})", settings.source);
            answer.progress = Some(progress);
            return answer;
        }
        let clients = self.clients.clone();
        let deployment = Arc::new(EcsServiceDeployment::new(
            &event.resource_arn,
            &event.execution_details.target_service_revision_arn,
            self.ecs.clone(),
            self.elbv2.clone(),
        ));
        let timing = Timing {
            wait: settings.plan.wait,
            bake: settings.plan.bake,
            max_wait: settings.max_wait,
            callback: settings.callback,
        };
        match rollback_by_status(stage, &deployment).await {
            Rollback::No => {}
            Rollback::Yes(reason) => {
                answer.status = Status::Succeeded;
                answer.rollback = true;
                answer.reason = reason;
                answer.progress = Some(progress);
                return answer;
            }
            Rollback::Unknown(reason) => {
                // Neither checked nor failed: a rollback must never be
                // answered FAILED, and a forward shift never passed
                // unchecked. Look again, within maxWaitSeconds.
                let patient = Timing {
                    wait: settings.max_wait,
                    ..timing
                };
                return answer.decided(progress::decide(
                    progress,
                    epoch_ms(),
                    false,
                    &reason,
                    &patient,
                ));
            }
        }

        let context = Arc::new(CheckContext {
            clients,
            deployment,
        });
        let checks = autopilot_shared::checks::build(&settings.plan.checks, &context);
        #[cfg(debug_assertions)]
        let checks =
            autopilot_shared::checks::fault::panic_in(checks, self.faults.panic_check.as_deref());
        let results = engine::run_round(&checks, run_deadline).await;
        let report = Report {
            passed: engine::hook_verdict(&results),
            results,
            samples: 1,
            bake_note: None,
        };
        let summary = match (stage.per_step(), traffic.production) {
            (true, Some(split)) => format!(
                "at the step of {split} of production traffic: {}",
                report.summary()
            ),
            _ => report.summary(),
        };
        let decision = progress::decide(progress, epoch_ms(), report.passed, &summary, &timing);
        answer.results = report.results;
        answer.decided(decision)
    }
}

/// An invocation read as far as its checks: what [`parse_invocation`] gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The event.
    pub event: EcsLifecycleHookEvent,
    /// Its lifecycle stage.
    pub stage: Stage,
    /// Its `hookDetails`.
    pub details: HookDetails,
    /// What the stage runs: `hookDetails` over the environment over the
    /// stage's defaults.
    pub settings: Settings,
}

/// An invocation [`parse_invocation`] rejects, with what it read before the
/// fault (the answer reports it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The `FAILED` answer's reason, naming the field.
    pub reason: String,
    /// `executionId`, when the event parsed.
    pub execution_id: Option<String>,
    /// `executionDetails.serviceArn`, when the event parsed.
    pub service_arn: Option<String>,
    /// The stage, when it is one.
    pub stage: Option<Stage>,
}

impl Rejected {
    fn answer(self, echo: Map<String, Value>, dry_run: bool) -> Answer {
        let Some(execution_id) = self.execution_id else {
            return Answer::failed(self.reason, echo);
        };
        let mut answer = Answer::failed(String::new(), echo);
        answer.reason = self.reason;
        answer.execution_id = Some(execution_id);
        answer.service_arn = self.service_arn;
        answer.stage = self.stage;
        answer.dry_run = dry_run;
        answer
    }
}

/// Reads an invocation's payload as [`Function::handle`] does, before any
/// AWS call: the event, its required fields, its stage, its `hookDetails`,
/// and the settings they resolve to over `env`. The reason of a rejection
/// names the field (`malformed ECS lifecycle hook event: lifecycleStage:
/// ...`, `bad configuration: invalid hookDetails.maxWaitSeconds: ...`).
pub fn parse_invocation(payload: Value, env: &EnvSettings) -> Result<Invocation, Rejected> {
    let event: EcsLifecycleHookEvent =
        parse_event("ECS lifecycle hook", payload).map_err(|error| Rejected {
            reason: error.to_string(),
            execution_id: None,
            service_arn: None,
            stage: None,
        })?;
    let rejected = |reason: String, stage: Option<Stage>| Rejected {
        reason,
        execution_id: Some(event.execution_id.clone()),
        service_arn: Some(event.execution_details.service_arn.clone()),
        stage,
    };
    required_fields(&event).map_err(|reason| rejected(reason, None))?;
    let Some(stage) = Stage::parse(&event.lifecycle_stage) else {
        return Err(rejected(
            format!(
                "malformed ECS lifecycle hook event: lifecycleStage: {:?} is not a lifecycle stage; expected one of {}",
                event.lifecycle_stage,
                Stage::names()
            ),
            None,
        ));
    };
    let details = HookDetails::parse(&event.hook_details)
        .map_err(|error| rejected(format!("bad configuration: {error}"), Some(stage)))?;
    let settings = settings::resolve(stage, env, &details)
        .map_err(|error| rejected(format!("bad configuration: {error}"), Some(stage)))?;
    Ok(Invocation {
        event,
        stage,
        details,
        settings,
    })
}

/// The fields ECS always sets, which the hook needs.
fn required_fields(event: &EcsLifecycleHookEvent) -> Result<(), String> {
    for (field, value) in [
        ("executionId", &event.execution_id),
        ("resourceArn", &event.resource_arn),
        (
            "executionDetails.targetServiceRevisionArn",
            &event.execution_details.target_service_revision_arn,
        ),
    ] {
        if value.trim().is_empty() {
            return Err(format!(
                "malformed ECS lifecycle hook event: {field}: must not be empty"
            ));
        }
    }
    Ok(())
}

/// The configuration keys of the event's `hookDetails`, whatever else is
/// wrong with it, so that even a `FAILED` answer hands them back.
fn config_keys(payload: &Value) -> Map<String, Value> {
    payload
        .get("hookDetails")
        .and_then(Value::as_object)
        .map(|details| {
            details
                .iter()
                .filter(|(key, _)| settings::CONFIG_KEYS.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// What the hook answers, with what it knows for the logs.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    status: Status,
    deployment: Option<String>,
    reason: String,
    stage: Option<Stage>,
    execution_id: Option<String>,
    service_arn: Option<String>,
    results: Vec<CheckResult>,
    config: Map<String, Value>,
    progress: Option<Progress>,
    traffic: Option<Traffic>,
    dry_run: bool,
    rollback: bool,
}

impl Answer {
    fn failed(reason: String, config: Map<String, Value>) -> Self {
        Answer {
            status: Status::Failed,
            deployment: None,
            reason: one_line(&reason, 1000),
            stage: None,
            execution_id: None,
            service_arn: None,
            results: Vec::new(),
            config,
            progress: None,
            traffic: None,
            dry_run: false,
            rollback: false,
        }
    }

    /// Under `DRY_RUN`, `SUCCEEDED`, saying what the answer would have been.
    fn in_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        if dry_run && self.status != Status::Succeeded {
            self.reason = one_line(
                &format!(
                    "dry run, answering SUCCEEDED; the hook would answer {}: {}",
                    self.status.as_str(),
                    self.reason
                ),
                1000,
            );
            self.status = Status::Succeeded;
        }
        self
    }

    fn decided(mut self, decision: Decision) -> Self {
        self.status = decision.status;
        self.reason = one_line(&decision.reason, 1000);
        self.progress = Some(decision.progress);
        self
    }

    fn stage_name(&self) -> &'static str {
        self.stage.map_or("Unknown", Stage::as_str)
    }

    fn log(&self) {
        let stage = self.stage_name();
        let execution_id = self.execution_id.as_deref().unwrap_or_default();
        let hook_status = self.status.as_str();
        let service_arn = self.service_arn.as_deref().unwrap_or_default();
        let invocations = self.progress.as_ref().map_or(0, |p| p.invocations);
        if self.status == Status::Failed {
            tracing::warn!(execution_id, stage, service_arn, hook_status, invocations, dry_run = self.dry_run, rollback = self.rollback, reason = %self.reason, "verdict");
        } else {
            tracing::info!(execution_id, stage, service_arn, hook_status, invocations, dry_run = self.dry_run, rollback = self.rollback, reason = %self.reason, "verdict");
        }
    }

    fn to_json(&self) -> Value {
        let mut details = self.config.clone();
        if let Some(progress) = &self.progress {
            details.insert(PROGRESS_KEY.to_owned(), json!(progress));
        }
        details.insert(
            VERDICT_KEY.to_owned(),
            json!({
                "status": self.status.as_str(),
                "stage": self.stage.map(Stage::as_str),
                "reason": self.reason,
                "dryRun": self.dry_run,
                "rollback": self.rollback,
                "traffic": self.traffic.map_or(Value::Null, Traffic::to_json),
                "checks": self.results.iter().map(CheckResult::to_json).collect::<Vec<_>>(),
            }),
        );
        let mut answer = json!({
            "hookStatus": self.status.as_str(),
            "hookDetails": details,
        });
        if let Status::InProgress(delay) = self.status {
            answer["callBackDelay"] = json!(delay);
        }
        answer
    }
}

impl Evaluated for Answer {
    fn deployment_id(&self) -> &str {
        self.deployment.as_deref().unwrap_or_default()
    }

    fn hook(&self) -> &str {
        self.stage_name()
    }

    fn results(&self) -> &[CheckResult] {
        &self.results
    }
}

/// One invocation, as the shared runner drives it: the answer is the
/// return value.
struct Run<'a> {
    function: &'a Function,
    payload: Value,
    /// The configuration keys of `hookDetails`, handed back by any answer.
    echo: Map<String, Value>,
}

impl HookInvocation for Run<'_> {
    type Outcome = Answer;
    type Answer = Value;

    fn evaluate(&self, run_deadline: Instant) -> BoxFuture<'_, Answer> {
        Box::pin(self.function.answer(self.payload.clone(), run_deadline))
    }

    fn interrupted(&self, why: Interrupted) -> Answer {
        Answer::failed(why.to_string(), self.echo.clone())
    }

    fn answer(
        &self,
        answer: Answer,
        _deadlines: Deadlines,
    ) -> BoxFuture<'_, Result<(Value, Vec<String>), HandlerError>> {
        // One rule, whatever gave the answer (the checks, a malformed event,
        // a panic, time running out): a dry run never holds up or rolls back
        // a deployment.
        let dry_run = self
            .function
            .config
            .as_ref()
            .is_ok_and(|c| c.common.dry_run);
        let answer = answer.in_dry_run(dry_run);
        answer.log();
        let status = answer.status.as_str().to_owned();
        Box::pin(std::future::ready(Ok((answer.to_json(), vec![status]))))
    }

    fn metric(&self) -> VerdictMetric<'_> {
        VerdictMetric {
            namespace: self
                .function
                .config
                .as_ref()
                .map_or(DEFAULT_NAMESPACE, |c| c.metrics_namespace.as_str()),
            name: "EcsHookVerdicts",
            dimensions: &["Function", "Verdict"],
            function: FUNCTION,
        }
    }
}

/// Milliseconds since the Unix epoch.
fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_runtime::Context;
    use std::time::Duration;

    fn offline_sdk() -> SdkConfig {
        autopilot_shared::aws::offline_sdk_config("us-east-1")
    }

    fn function(pairs: &[(&str, &str)]) -> Function {
        Function::new(
            offline_sdk(),
            Config::from_env(&Env::from_pairs(pairs.iter().copied())),
        )
    }

    fn event(stage: &str, details: Value) -> LambdaEvent<Value> {
        let mut context = Context::default();
        context.deadline = (SystemTime::now() + Duration::from_secs(30))
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let payload = json!({
            "executionId": "e-1",
            "lifecycleStage": stage,
            "resourceArn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/s/abc",
            "executionDetails": {
                "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/c/s",
                "targetServiceRevisionArn": "arn:aws:ecs:us-east-1:123456789012:service-revision/c/s/2",
                "testTrafficWeights": {},
                "productionTrafficWeights": {}
            },
            "hookDetails": details,
        });
        LambdaEvent::new(payload, context)
    }

    const GREEN: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/c/s/2";
    const BLUE: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/c/s/1";

    fn with_weights(
        mut event: LambdaEvent<Value>,
        test: Value,
        production: Value,
    ) -> LambdaEvent<Value> {
        event.payload["executionDetails"]["testTrafficWeights"] = test;
        event.payload["executionDetails"]["productionTrafficWeights"] = production;
        event
    }

    async fn answer(function: &Function, event: LambdaEvent<Value>) -> Value {
        function.handle(event).await.expect("the hook never errors")
    }

    #[tokio::test]
    async fn every_failure_before_aws_is_a_failed_answer_naming_the_field() {
        type Case = (
            &'static [(&'static str, &'static str)],
            LambdaEvent<Value>,
            &'static str,
        );
        let cases: [Case; 5] = [
            (
                &[("CHECKS", "[{\"kind\": \"x\"}]")],
                event("POST_SCALE_UP", Value::Null),
                "bad configuration: invalid CHECKS[0].kind",
            ),
            (
                &[],
                event("SCALE_UP", Value::Null),
                "lifecycleStage: \"SCALE_UP\" is not a lifecycle stage",
            ),
            (
                &[],
                event("POST_SCALE_UP", json!({"exampleKey": 1})),
                "invalid hookDetails.exampleKey: unknown key",
            ),
            (
                &[],
                LambdaEvent::new(json!({"executionId": "e"}), Context::default()),
                "malformed ECS lifecycle hook event",
            ),
            (
                &[],
                LambdaEvent::new(json!("text"), Context::default()),
                "malformed ECS lifecycle hook event",
            ),
        ];
        for (env, event, reason) in cases {
            let answer = answer(&function(env), event).await;
            assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
            let got = answer["hookDetails"]["verdict"]["reason"].as_str().unwrap();
            assert!(got.contains(reason), "{got:?} lacks {reason:?}");
            assert!(answer.get("callBackDelay").is_none());
        }
    }

    #[tokio::test]
    async fn a_stage_without_checks_succeeds_without_calling_aws() {
        let answer = answer(
            &function(&[]),
            event("RECONCILE_SERVICE", json!({"healthPath": "/ready"})),
        )
        .await;
        assert_eq!(answer["hookStatus"], "SUCCEEDED");
        assert_eq!(
            answer["hookDetails"]["healthPath"], "/ready",
            "configuration handed back"
        );
        assert_eq!(
            answer["hookDetails"]["verdict"]["reason"],
            "no checks configured for RECONCILE_SERVICE (defaults)"
        );
        assert_eq!(answer["hookDetails"]["progress"]["invocations"], 1);
    }

    /// ECS models weights as doubles: a canary step of 2.5%, or `5.0`.
    #[tokio::test]
    async fn fractional_weights_are_read_and_carried_into_the_verdict() {
        let event = with_weights(
            event("PRODUCTION_TRAFFIC_SHIFT", Value::Null),
            json!({ GREEN: 100.0, BLUE: 0.0 }),
            json!({ GREEN: 2.5, BLUE: 97.5 }),
        );
        let answer = answer(&function(&[]), event).await;
        assert_eq!(answer["hookStatus"], "SUCCEEDED", "{answer}");
        let verdict = &answer["hookDetails"]["verdict"];
        assert_eq!(
            verdict["traffic"]["production"],
            json!({"target": 2.5, "others": 97.5})
        );
        assert_eq!(
            verdict["traffic"]["test"],
            json!({"target": 100.0, "others": 0.0})
        );
        assert_eq!(
            answer["hookDetails"]["progress"]["step"], "production 2.5 test 100",
            "each step is its own execution"
        );
    }

    /// The guide: a rollback invokes TEST_TRAFFIC_SHIFT and
    /// PRODUCTION_TRAFFIC_SHIFT again with the weights reversed. Recognised
    /// from them without an AWS call (the SDK here reaches nothing), and
    /// never checked nor failed; the POST_* stages are not rollback stages.
    #[tokio::test]
    async fn reversed_weights_are_a_rollback_only_at_the_two_shift_stages() {
        let checks = [("CHECKS", r#"[{"kind": "target-health"}]"#)];
        let reversed = json!({ GREEN: 0.0, BLUE: 100.0 });
        // (stage, hookStatus, rollback)
        let cases = [
            ("TEST_TRAFFIC_SHIFT", "SUCCEEDED", true),
            ("PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED", true),
            ("POST_TEST_TRAFFIC_SHIFT", "FAILED", false),
            ("POST_PRODUCTION_TRAFFIC_SHIFT", "FAILED", false),
        ];
        for (stage, status, rollback) in cases {
            let event = with_weights(
                event(stage, Value::Null),
                reversed.clone(),
                reversed.clone(),
            );
            let answer = answer(&function(&checks), event).await;
            assert_eq!(answer["hookStatus"], status, "{stage}: {answer}");
            let verdict = &answer["hookDetails"]["verdict"];
            assert_eq!(verdict["rollback"], rollback, "{stage}");
            let checked = verdict["checks"].as_array().map_or(0, Vec::len);
            assert_eq!(
                checked,
                usize::from(!rollback),
                "{stage}: checks run only forward"
            );
        }
    }

    /// At a shift stage whose weights do not say (empty) and whose
    /// deployment cannot be read, the hook neither fails a possible
    /// rollback nor passes an unchecked shift: it looks again.
    #[tokio::test]
    async fn an_undecidable_rollback_is_looked_at_again() {
        let checks = [("CHECKS", r#"[{"kind": "target-health"}]"#)];
        let answer = answer(&function(&checks), event("TEST_TRAFFIC_SHIFT", Value::Null)).await;
        assert_eq!(answer["hookStatus"], "IN_PROGRESS", "{answer}");
        let reason = answer["hookDetails"]["verdict"]["reason"].as_str().unwrap();
        assert!(
            reason.contains("cannot tell whether ECS is rolling the deployment back"),
            "{reason}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_aws_fails_the_checks_not_the_function() {
        let answer = answer(&function(&[]), event("PRE_SCALE_UP", Value::Null)).await;
        assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
        let check = &answer["hookDetails"]["verdict"]["checks"][0];
        assert_eq!(check["name"], "task-definition");
        assert_eq!(check["passed"], false);
    }

    #[test]
    fn config_reads_every_variable() {
        let config = Config::from_env(&Env::from_pairs([
            ("CHECKS", r#"[{"kind": "target-health"}]"#),
            ("MAX_WAIT_SECONDS", "600"),
            ("CALLBACK_DELAY_SECONDS", "10"),
            ("RESOLVE", "alb.example:80:127.0.0.1:8080"),
            ("METRICS_NAMESPACE", "Ops"),
            ("DRY_RUN", "true"),
        ]))
        .unwrap();
        assert!(config.settings.checks.is_some());
        assert_eq!(config.settings.max_wait, Duration::from_secs(600));
        assert_eq!(config.settings.callback, Duration::from_secs(10));
        assert!(config.pins.find("alb.example").is_some());
        assert_eq!(config.metrics_namespace, "Ops");
        assert!(config.common.dry_run);
        let error = Config::from_env(&Env::from_pairs([("RESOLVE", "nonsense")])).unwrap_err();
        assert!(error.name().starts_with("RESOLVE[0]"), "{error}");
    }
}
