//! The `ecs-deployment-hook` story: ECS native blue/green deployments whose
//! lifecycle hooks invoke the real binary the way ECS does, ECS's side
//! played by the local AWS's deployment driver (`tests/localaws/ecs_deployments.py`:
//! the stages, their payloads and weights, the re-invocations after
//! `callBackDelay` while the hook answers `IN_PROGRESS`, the rollback), with
//! a local app standing in for the green revision's tasks; once healthy,
//! once broken and rolled back.
//!
//! Also the helpers the hook's integration tests share: [`NativeBlueGreen`],
//! a provisioned service with a native blue/green, linear or canary
//! deployment in progress ([`Rollout`]), [`NativeBlueGreen::play`], which
//! drives the real binary through the whole deployment as the local AWS
//! plans it, and [`NativeBlueGreen::run_stage`], which plays one stage.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_ecs::types as ecs;
use aws_smithy_types::{Document, Number};
use serde_json::{Map, Value, json};

use crate::harness::app::{LocalApp, Mode};
use crate::harness::localaws::{ACCOUNT_ID, LocalAws, REGION};
use crate::harness::provision::{self, Controller, Environment, Names};
use crate::harness::timeline::Timeline;
use crate::{LambdaProcess, Outcome, start_function};

/// The lifecycle stages that take hooks, in the order ECS runs them
/// (`DeploymentLifecycleHookStage`; the Lambda hooks page of the ECS
/// developer guide, "Supported lifecycle stages").
pub const STAGES: [&str; 8] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
];

/// The most invocations [`NativeBlueGreen::run_stage`] makes of one stage.
pub const MAX_INVOCATIONS: usize = 30;

/// How ECS shifts production traffic (`deploymentConfiguration.strategy`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// `BLUE_GREEN`: all at once.
    BlueGreen,
    /// `LINEAR` with `linearConfiguration {stepPercent,
    /// stepBakeTimeInMinutes: 0}`.
    Linear {
        /// A multiple of 0.1 from 3.0 to 100.0.
        step_percent: f64,
    },
    /// `CANARY` with `canaryConfiguration {canaryPercent,
    /// canaryBakeTimeInMinutes: 0}`.
    Canary {
        /// A multiple of 0.1 from 0.1 to 100.0.
        canary_percent: f64,
    },
}

/// One entry of the service's `deploymentConfiguration.lifecycleHooks`: the
/// `ecs-deployment-hook` function at `stages`, with `hookDetails`.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleHook {
    /// `lifecycleStages`.
    pub stages: Vec<String>,
    /// `hookDetails` (`Value::Null`: none).
    pub hook_details: Value,
    /// `timeoutConfiguration {timeoutInMinutes, action}`.
    pub timeout: Option<(i32, String)>,
}

impl LifecycleHook {
    /// The hook at `stages` with `hook_details`.
    pub fn at(stages: &[&str], hook_details: Value) -> LifecycleHook {
        LifecycleHook {
            stages: stages.iter().map(|s| (*s).to_owned()).collect(),
            hook_details,
            timeout: None,
        }
    }

    /// With `timeoutConfiguration` (`action` `ROLLBACK` or `CONTINUE`).
    pub fn timeout(mut self, minutes: i32, action: &str) -> LifecycleHook {
        self.timeout = Some((minutes, action.to_owned()));
        self
    }
}

/// The deployment a [`NativeBlueGreen`] starts: a strategy and the hooks,
/// set with the `UpdateService` that deploys the new revision.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    /// The strategy.
    pub strategy: Strategy,
    /// The lifecycle hooks.
    pub hooks: Vec<LifecycleHook>,
    /// Whether an earlier deployment of another revision is still in
    /// progress when this one starts (two revisions active: ECS runs
    /// `RECONCILE_SERVICE`).
    pub superseding: bool,
}

impl Rollout {
    /// `BLUE_GREEN`, no hooks yet.
    pub fn blue_green() -> Rollout {
        Rollout::new(Strategy::BlueGreen)
    }

    /// `LINEAR` in steps of `step_percent`.
    pub fn linear(step_percent: f64) -> Rollout {
        Rollout::new(Strategy::Linear { step_percent })
    }

    /// `CANARY` at `canary_percent`.
    pub fn canary(canary_percent: f64) -> Rollout {
        Rollout::new(Strategy::Canary { canary_percent })
    }

    fn new(strategy: Strategy) -> Rollout {
        Rollout {
            strategy,
            hooks: Vec::new(),
            superseding: false,
        }
    }

    /// Adds a lifecycle hook.
    pub fn hook(mut self, hook: LifecycleHook) -> Rollout {
        self.hooks.push(hook);
        self
    }

    /// Starts the deployment while an earlier one is still in progress.
    pub fn superseding(mut self) -> Rollout {
        self.superseding = true;
        self
    }
}

/// A service deployed by ECS native blue/green, with a deployment of a new
/// revision in progress: the provisioned backend (listener rules, the green
/// target group as the alternate), the local AWS's record of the deployment
/// and its revisions, and a [`LocalApp`] the http checks reach through the
/// load balancer's DNS name.
pub struct NativeBlueGreen {
    /// The local AWS.
    pub local: LocalAws,
    /// The SDK configuration of the test's own calls.
    pub sdk: SdkConfig,
    /// The Region it lives in.
    pub region: String,
    /// What was provisioned.
    pub env: Environment,
    /// The green revision's stand-in.
    pub app: LocalApp,
    /// The task definition being deployed.
    pub new_task_definition_arn: String,
    /// The service deployment, as `DescribeServiceDeployments` showed it
    /// when it started.
    pub deployment: Value,
}

/// One invocation of the hook.
#[derive(Debug)]
pub struct StageRun {
    /// The event's `lifecycleStage`.
    pub stage: String,
    /// The event the function was invoked with.
    pub event: Value,
    /// Whether ECS was rolling the deployment back (as the local AWS's
    /// driver says; `false` for [`NativeBlueGreen::invoke`]).
    pub rollback: bool,
    /// The invocation's number in its hook execution (1 for the first).
    pub attempt: u32,
    /// What the function answered.
    pub outcome: Outcome,
    /// How long the invocation took.
    pub elapsed: Duration,
}

impl StageRun {
    /// The answer; panics on a function error (the hook must never give one).
    #[track_caller]
    pub fn answer(&self) -> &Value {
        match &self.outcome {
            Outcome::Response(value) => value,
            Outcome::Error {
                error_type,
                error_message,
            } => panic!(
                "the hook must answer, not fail, at {}: {error_type}: {error_message}",
                self.stage
            ),
        }
    }

    /// `hookStatus`.
    #[track_caller]
    pub fn status(&self) -> &str {
        self.answer()["hookStatus"]
            .as_str()
            .unwrap_or_else(|| panic!("no hookStatus in {}", self.answer()))
    }

    /// `hookDetails.verdict.reason`.
    #[track_caller]
    pub fn reason(&self) -> &str {
        self.answer()["hookDetails"]["verdict"]["reason"]
            .as_str()
            .unwrap_or_else(|| panic!("no reason in {}", self.answer()))
    }

    /// The names of the checks that ran.
    pub fn checks(&self) -> Vec<String> {
        self.answer()["hookDetails"]["verdict"]["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// The event's `executionId`.
    pub fn execution_id(&self) -> &str {
        self.event["executionId"].as_str().unwrap_or_default()
    }

    /// The event's `executionDetails.testTrafficWeights`.
    pub fn test_weights(&self) -> Map<String, Value> {
        self.weights("testTrafficWeights")
    }

    /// The event's `executionDetails.productionTrafficWeights`.
    pub fn production_weights(&self) -> Map<String, Value> {
        self.weights("productionTrafficWeights")
    }

    fn weights(&self, member: &str) -> Map<String, Value> {
        self.event["executionDetails"][member]
            .as_object()
            .cloned()
            .unwrap_or_default()
    }
}

/// `value` as a Smithy document (`hookDetails`).
pub fn document(value: &Value) -> Document {
    match value {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            Number::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            Number::NegInt(i)
        } else {
            Number::Float(n.as_f64().unwrap_or_default())
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(items) => Document::Array(items.iter().map(document).collect()),
        Value::Object(members) => Document::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), document(v)))
                .collect(),
        ),
    }
}

impl NativeBlueGreen {
    /// Provisions a fresh environment named after `label`, with two targets
    /// registered in the green target group, and starts a deployment.
    pub async fn new(local: &LocalAws, label: &str) -> NativeBlueGreen {
        let blue_green = NativeBlueGreen::without_targets(local, label).await;
        blue_green.register_green_targets().await;
        blue_green
    }

    /// As [`NativeBlueGreen::new`], but the green tasks have not registered
    /// yet (see [`NativeBlueGreen::register_green_targets`]).
    pub async fn without_targets(local: &LocalAws, label: &str) -> NativeBlueGreen {
        NativeBlueGreen::in_region(local, label, REGION).await
    }

    /// As [`NativeBlueGreen::without_targets`], in `region`.
    pub async fn in_region(local: &LocalAws, label: &str, region: &str) -> NativeBlueGreen {
        NativeBlueGreen::start(local, label, region, None).await
    }

    /// Provisions a fresh environment named after `label` and starts the
    /// deployment `rollout` describes, its hooks targeting the
    /// `ecs-deployment-hook` function ([`NativeBlueGreen::hook_function_arn`]).
    /// The green tasks have not registered yet.
    pub async fn rollout(local: &LocalAws, label: &str, rollout: Rollout) -> NativeBlueGreen {
        NativeBlueGreen::start(local, label, REGION, Some(rollout)).await
    }

    async fn start(
        local: &LocalAws,
        label: &str,
        region: &str,
        rollout: Option<Rollout>,
    ) -> NativeBlueGreen {
        let sdk = local.sdk_config(region).await;
        let env =
            provision::provision(&sdk, Names::unique(label), Controller::EcsBlueGreen, None).await;
        let mut blue_green = NativeBlueGreen {
            local: local.clone(),
            sdk,
            region: region.to_owned(),
            env,
            app: LocalApp::start().await,
            new_task_definition_arn: String::new(),
            deployment: Value::Null,
        };
        if rollout.as_ref().is_some_and(|r| r.superseding) {
            // A release whose deployment is still in progress when the next starts.
            let (_, earlier) = blue_green.env.new_release(&blue_green.sdk, "v1.4.9").await;
            blue_green.deploy(&earlier).await;
        }
        let (_, new_task_definition_arn) =
            blue_green.env.new_release(&blue_green.sdk, "v1.5.0").await;
        let configuration = rollout.map(|r| blue_green.deployment_configuration(&r));
        blue_green.deployment = blue_green
            .deploy_with(&new_task_definition_arn, configuration)
            .await;
        blue_green.new_task_definition_arn = new_task_definition_arn;
        blue_green
    }

    /// The ARN of the `ecs-deployment-hook` function the hooks target.
    pub fn hook_function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{ACCOUNT_ID}:function:{}-ecs-deployment-hook",
            self.region, self.env.names.prefix
        )
    }

    /// The service's `deploymentConfiguration` for `rollout`.
    pub fn deployment_configuration(&self, rollout: &Rollout) -> ecs::DeploymentConfiguration {
        let mut configuration = ecs::DeploymentConfiguration::builder();
        configuration = match rollout.strategy {
            Strategy::BlueGreen => configuration.strategy(ecs::DeploymentStrategy::BlueGreen),
            Strategy::Linear { step_percent } => configuration
                .strategy(ecs::DeploymentStrategy::Linear)
                .linear_configuration(
                    ecs::LinearConfiguration::builder()
                        .step_percent(step_percent)
                        .step_bake_time_in_minutes(0)
                        .build(),
                ),
            Strategy::Canary { canary_percent } => configuration
                .strategy(ecs::DeploymentStrategy::Canary)
                .canary_configuration(
                    ecs::CanaryConfiguration::builder()
                        .canary_percent(canary_percent)
                        .canary_bake_time_in_minutes(0)
                        .build(),
                ),
        };
        for hook in &rollout.hooks {
            let mut entry = ecs::DeploymentLifecycleHook::builder()
                .target_type(ecs::DeploymentLifecycleHookTargetType::AwsLambda)
                .hook_target_arn(self.hook_function_arn())
                .role_arn(format!(
                    "arn:aws:iam::{ACCOUNT_ID}:role/{}-ecs-hooks",
                    self.env.names.prefix
                ))
                .set_lifecycle_stages(Some(
                    hook.stages
                        .iter()
                        .map(|s| ecs::DeploymentLifecycleHookStage::from(s.as_str()))
                        .collect(),
                ));
            if !hook.hook_details.is_null() {
                entry = entry.hook_details(document(&hook.hook_details));
            }
            if let Some((minutes, action)) = &hook.timeout {
                entry = entry.timeout_configuration(
                    ecs::DeploymentLifecycleHookTimeoutConfiguration::builder()
                        .timeout_in_minutes(*minutes)
                        .action(ecs::DeploymentLifecycleHookAction::from(action.as_str()))
                        .build(),
                );
            }
            configuration = configuration.lifecycle_hooks(entry.build());
        }
        configuration.build()
    }

    /// Updates the service to `task_definition_arn`, which makes ECS start
    /// a service deployment; returns it.
    pub async fn deploy(&self, task_definition_arn: &str) -> Value {
        self.deploy_with(task_definition_arn, None).await
    }

    /// As [`NativeBlueGreen::deploy`], setting `configuration` (the strategy
    /// and the lifecycle hooks) in the same `UpdateService`.
    pub async fn deploy_with(
        &self,
        task_definition_arn: &str,
        configuration: Option<ecs::DeploymentConfiguration>,
    ) -> Value {
        aws_sdk_ecs::Client::new(&self.sdk)
            .update_service()
            .cluster(&self.env.names.cluster)
            .service(&self.env.names.service)
            .task_definition(task_definition_arn)
            .set_deployment_configuration(configuration)
            .send()
            .await
            .unwrap_or_else(|e| panic!("update service {}: {e:?}", self.env.names.service));
        let deployments = self.local.service_deployments(&self.env.service_arn).await;
        let newest = deployments
            .into_iter()
            .next()
            .expect("the update started a service deployment");
        assert_eq!(
            newest["status"], "IN_PROGRESS",
            "a new deployment is in progress: {newest}"
        );
        newest
    }

    /// The service deployment as the local AWS has it now.
    pub async fn current_deployment(&self) -> Value {
        let arn = self.deployment_arn();
        self.local
            .service_deployments(&self.env.service_arn)
            .await
            .into_iter()
            .find(|d| d["serviceDeploymentArn"] == arn.as_str())
            .unwrap_or_else(|| panic!("deployment {arn} is recorded"))
    }

    /// The target group the deployment's target revision serves (ECS
    /// alternates the pair: the second revision serves the green one, the
    /// third the blue one again, ...).
    pub async fn replacement_target_group(&self) -> String {
        let answer = aws_sdk_ecs::Client::new(&self.sdk)
            .describe_service_revisions()
            .service_revision_arns(self.target_revision())
            .send()
            .await
            .unwrap_or_else(|e| panic!("describe service revision: {e:?}"));
        answer.service_revisions()[0]
            .resolved_configuration()
            .and_then(|r| r.load_balancers().first())
            .and_then(|lb| lb.target_group_arn())
            .expect("the revision serves a target group")
            .to_owned()
    }

    /// The new revision's tasks register with the target group it serves.
    pub async fn register_green_targets(&self) {
        let target_group = self.replacement_target_group().await;
        provision::register_targets(&self.sdk, &target_group).await;
    }

    /// The service deployment's ARN (the event's `resourceArn`).
    pub fn deployment_arn(&self) -> String {
        self.deployment["serviceDeploymentArn"]
            .as_str()
            .expect("serviceDeploymentArn")
            .to_owned()
    }

    /// The target (green) service revision's ARN.
    pub fn target_revision(&self) -> String {
        self.deployment["targetServiceRevision"]["arn"]
            .as_str()
            .expect("targetServiceRevision.arn")
            .to_owned()
    }

    /// The source (blue) service revision's ARN.
    pub fn source_revision(&self) -> String {
        self.deployment["sourceServiceRevisions"][0]["arn"]
            .as_str()
            .expect("sourceServiceRevisions[0].arn")
            .to_owned()
    }

    /// The event ECS sends at `stage` of this deployment, as the local AWS
    /// models it (the weights of that stage, reversed at the traffic-shift
    /// stages when `rollback`), with `execution_id` and `hook_details`
    /// (`Value::Null`: none, as when the hook configuration has none).
    pub async fn event(
        &self,
        stage: &str,
        execution_id: &str,
        hook_details: Value,
        rollback: bool,
    ) -> Value {
        let mut event = self
            .local
            .hook_payload(&self.deployment_arn(), stage, None, rollback)
            .await;
        event["executionId"] = json!(execution_id);
        if !hook_details.is_null() {
            event["hookDetails"] = hook_details;
        }
        event
    }

    /// `RESOLVE` pinning the load balancer's DNS name to the local app.
    pub fn resolve(&self) -> String {
        self.app.resolve(&self.env.load_balancer_dns, 8080)
    }

    /// The hook function with `RESOLVE` set, plus `vars`.
    pub async fn function(&self, vars: &[(&str, &str)]) -> LambdaProcess {
        let resolve = self.resolve();
        let mut all = vec![("RESOLVE", resolve.as_str())];
        all.extend_from_slice(vars);
        start_function(&self.local, "ecs-deployment-hook", &self.region, &all).await
    }

    /// Invokes `process` once with `event` and a `deadline`.
    pub async fn invoke(
        &self,
        process: &mut LambdaProcess,
        event: Value,
        deadline: Duration,
    ) -> StageRun {
        let started = Instant::now();
        let outcome = process.invoke_with_deadline(event.clone(), deadline).await;
        StageRun {
            stage: event["lifecycleStage"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            event,
            rollback: false,
            attempt: 1,
            outcome,
            elapsed: started.elapsed(),
        }
    }

    /// Drives `process` through the whole deployment the way ECS would, as
    /// the local AWS models it: asks the local AWS for the next hook
    /// invocation, waits its `callBackDelay`, invokes the binary with its
    /// payload, reports the answer (or the function error) back, until no
    /// invocation remains. Returns every run; panics after `max_invocations`.
    pub async fn play(&self, process: &mut LambdaProcess, max_invocations: usize) -> Vec<StageRun> {
        self.play_with(process, max_invocations, async |_: &StageRun| {})
            .await
    }

    /// As [`NativeBlueGreen::play`]; `between` runs after each answer is
    /// reported (say, to let the green tasks register while a hook waits).
    pub async fn play_with(
        &self,
        process: &mut LambdaProcess,
        max_invocations: usize,
        mut between: impl AsyncFnMut(&StageRun),
    ) -> Vec<StageRun> {
        let arn = self.deployment_arn();
        let mut runs: Vec<StageRun> = Vec::new();
        while let Some(invocation) = self.local.next_hook_invocation(&arn).await {
            assert!(
                runs.len() < max_invocations,
                "still invoking after {max_invocations} invocations; the last: {:?}",
                runs.last().map(|r| (&r.stage, &r.outcome))
            );
            assert_eq!(
                invocation.hook_target_arn,
                self.hook_function_arn(),
                "ECS invokes the hook's function"
            );
            tokio::time::sleep(invocation.call_back_delay).await;
            let mut run = self
                .invoke(process, invocation.payload.clone(), Duration::from_secs(30))
                .await;
            run.rollback = invocation.rollback;
            run.attempt = invocation.attempt;
            match &run.outcome {
                Outcome::Response(answer) => {
                    self.local
                        .hook_answer(&arn, invocation.execution_id(), Some(answer), None)
                        .await
                }
                Outcome::Error {
                    error_type,
                    error_message,
                } => {
                    self.local
                        .hook_answer(
                            &arn,
                            invocation.execution_id(),
                            None,
                            Some(&format!("{error_type}: {error_message}")),
                        )
                        .await
                }
            };
            between(&run).await;
            runs.push(run);
        }
        runs
    }

    /// Plays ECS's side of one hook execution at `stage` by hand (the
    /// event from the local AWS's model of that stage): invokes the hook,
    /// and while it answers `IN_PROGRESS`, waits `callBackDelay` seconds and
    /// invokes it again with the `hookDetails` it returned. `between` runs
    /// after each `IN_PROGRESS` answer (say, to let the green tasks register).
    /// Returns every invocation's run; the last one is the verdict.
    pub async fn run_stage(
        &self,
        process: &mut LambdaProcess,
        stage: &str,
        hook_details: Value,
        mut between: impl AsyncFnMut(&StageRun),
    ) -> Vec<StageRun> {
        let execution_id = uuid::Uuid::new_v4().to_string();
        let mut details = hook_details;
        let mut runs: Vec<StageRun> = Vec::new();
        loop {
            let event = self.event(stage, &execution_id, details, false).await;
            let mut run = self.invoke(process, event, Duration::from_secs(30)).await;
            run.attempt = runs.len() as u32 + 1;
            let status = run.status().to_owned();
            assert!(
                ["SUCCEEDED", "FAILED", "IN_PROGRESS"].contains(&status.as_str()),
                "invalid hookStatus {status}"
            );
            if status != "IN_PROGRESS" {
                runs.push(run);
                return runs;
            }
            let delay = run.answer()["callBackDelay"]
                .as_u64()
                .unwrap_or_else(|| panic!("IN_PROGRESS without callBackDelay: {}", run.answer()));
            assert!(delay >= 1, "callBackDelay {delay}");
            details = run.answer()["hookDetails"].clone();
            between(&run).await;
            assert!(
                runs.len() + 1 < MAX_INVOCATIONS,
                "{stage}: still IN_PROGRESS after {MAX_INVOCATIONS} invocations: {}",
                run.reason()
            );
            runs.push(run);
            tokio::time::sleep(Duration::from_secs(delay)).await;
        }
    }
}

/// The last run of each hook execution (the verdict), in order: a run
/// followed by a re-invocation of the same execution is left out.
pub fn verdicts(runs: &[StageRun]) -> Vec<&StageRun> {
    runs.iter()
        .enumerate()
        .filter(|(i, _)| runs.get(i + 1).is_none_or(|next| next.attempt == 1))
        .map(|(_, run)| run)
        .collect()
}

/// The story: every stage of a healthy native blue/green deployment (the
/// green tasks registering while `POST_SCALE_UP` waits), then a broken
/// release failing at `TEST_TRAFFIC_SHIFT`, and ECS's rollback passing
/// through the hook; ECS's side played by the local AWS.
///
/// Panics when an answer is not the expected one.
pub async fn run(local: &LocalAws, timeline: &Timeline) {
    timeline.chapter(
        "ecs-deployment-hook: every lifecycle stage of an ECS native blue/green deployment checked",
    );
    // The service's hook configuration: a quicker look while waiting, and
    // the test-traffic check also at TEST_TRAFFIC_SHIFT (where ECS comes back
    // on rollback).
    let hook_details = json!({
        "callBackDelaySeconds": 1,
        "checks": {
            "TEST_TRAFFIC_SHIFT": [{"kind": "http", "listener": "test", "path": "/health"}],
        },
    });
    let rollout = Rollout::blue_green().hook(LifecycleHook::at(&STAGES, hook_details.clone()));
    let mut bg = NativeBlueGreen::rollout(local, "native", rollout).await;
    timeline.step(
        "ECS",
        format!(
            "deployment {} of {}: green revision starting, no targets registered yet",
            bg.deployment_arn().rsplit('/').next().unwrap_or_default(),
            bg.new_task_definition_arn
                .rsplit_once('/')
                .map_or("", |(_, r)| r)
        ),
    );
    timeline.detail(format!(
        "a local app at {} stands in for the green tasks: RESOLVE={}",
        bg.app.address(),
        bg.resolve()
    ));
    timeline.detail(format!(
        "lifecycle hooks at every stage, hookDetails: {hook_details}"
    ));
    let mut process = bg.function(&[]).await;
    let runs = bg
        .play_with(&mut process, 60, async |run: &StageRun| {
            // The green tasks register while a hook waits for them.
            if matches!(&run.outcome, Outcome::Response(a) if a["hookStatus"] == "IN_PROGRESS") {
                bg.register_green_targets().await;
            }
        })
        .await;
    show_all(timeline, &runs);
    for run in verdicts(&runs) {
        assert_eq!(run.status(), "SUCCEEDED", "{}: {}", run.stage, run.reason());
    }
    let deployment = bg.current_deployment().await;
    assert_eq!(deployment["status"], "SUCCESSFUL", "{deployment}");
    timeline.step("ECS", "deployment SUCCESSFUL");

    timeline.step(
        "CI",
        "a second release; its green tasks answer 500 on /health",
    );
    bg.app.set_mode(Mode::Broken);
    // A new revision: ECS starts no deployment for the one the service runs.
    let (_, second_release) = bg.env.new_release(&bg.sdk, "v1.6.0").await;
    bg.new_task_definition_arn = second_release;
    bg.deployment = bg.deploy(&bg.new_task_definition_arn).await;
    let runs = bg
        .play_with(&mut process, 60, async |run: &StageRun| {
            // The green tasks register while a hook waits for them.
            if matches!(&run.outcome, Outcome::Response(a) if a["hookStatus"] == "IN_PROGRESS") {
                bg.register_green_targets().await;
            }
        })
        .await;
    show_all(timeline, &runs);
    let verdicts = verdicts(&runs);
    let failed = verdicts
        .iter()
        .position(|run| !run.rollback && run.status() == "FAILED")
        .expect("the broken release fails a stage");
    assert_eq!(verdicts[failed].stage, "TEST_TRAFFIC_SHIFT");
    for run in &verdicts[failed + 1..] {
        assert!(run.rollback, "after the failure, only the rollback's hooks");
        assert_eq!(run.status(), "SUCCEEDED", "{}: {}", run.stage, run.reason());
    }
    let deployment = bg.current_deployment().await;
    assert_eq!(deployment["status"], "ROLLBACK_SUCCESSFUL", "{deployment}");
    timeline.step(
        "ECS",
        "ROLLBACK_SUCCESSFUL: production traffic never reached the broken revision",
    );
}

/// Each hook execution of `runs` on the timeline.
fn show_all(timeline: &Timeline, runs: &[StageRun]) {
    let mut start = 0;
    for (i, run) in runs.iter().enumerate() {
        if runs.get(i + 1).is_none_or(|next| next.attempt == 1) {
            let label = if run.rollback {
                format!("{} (rollback)", run.stage)
            } else {
                run.stage.clone()
            };
            show(timeline, &label, &runs[start..=i]);
            start = i + 1;
        }
    }
}

fn show(timeline: &Timeline, stage: &str, runs: &[StageRun]) {
    let statuses: Vec<String> = runs
        .iter()
        .map(|run| match &run.outcome {
            Outcome::Error { error_type, .. } => format!("function error {error_type}"),
            Outcome::Response(answer) => match answer.get("callBackDelay") {
                Some(delay) => format!("{} ({delay} s)", run.status()),
                None => run.status().to_owned(),
            },
        })
        .collect();
    let millis: u128 = runs.iter().map(|r| r.elapsed.as_millis()).sum();
    timeline.step(
        "ecs-deployment-hook",
        format!("{stage}: {} in {millis} ms", statuses.join(" → ")),
    );
    let Some(last) = runs.last() else { return };
    if let Outcome::Error { error_message, .. } = &last.outcome {
        timeline.detail(error_message.clone());
        return;
    }
    if let [first, _, ..] = runs {
        timeline.detail(format!("first look: {}", first.reason()));
    }
    let checks = last.answer()["hookDetails"]["verdict"]["checks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if checks.is_empty() {
        timeline.detail(last.reason());
    }
    for check in checks {
        timeline.detail(format!(
            "{} {}: {}",
            if check["passed"] == true {
                "✓"
            } else {
                "✗"
            },
            check["name"].as_str().unwrap_or_default(),
            check["evidence"].as_str().unwrap_or_default()
        ));
    }
}
