//! The `ecs-deployment-hook` story: an ECS native blue/green deployment whose
//! lifecycle stages invoke the real binary the way ECS does (again after
//! `callBackDelay` while it answers `IN_PROGRESS`, handing back its
//! `hookDetails`), with a local app standing in for the green revision's
//! tasks; once healthy, once broken and rolled back.
//!
//! Also the helpers the hook's integration tests share: [`NativeBlueGreen`],
//! a provisioned service with a native blue/green deployment in progress,
//! and [`NativeBlueGreen::run_stage`], which plays ECS's side of the hook
//! contract.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use serde_json::{Value, json};

use crate::app::{LocalApp, Mode};
use crate::localaws::{LocalAws, REGION};
use crate::provision::{self, Controller, Environment, Names};
use crate::timeline::Timeline;
use crate::{LambdaProcess, Outcome, start_function};

/// The lifecycle stages in the order ECS runs them.
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

/// A service deployed by ECS native blue/green, with a deployment of a new
/// revision in progress: the provisioned backend (listener rules, the green
/// target group as the alternate), the harness's record of the deployment
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
    /// The service deployment, as `DescribeServiceDeployments` shows it.
    pub deployment: Value,
}

/// One invocation of the hook.
#[derive(Debug)]
pub struct StageRun {
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
            } => panic!("the hook must answer, not fail: {error_type}: {error_message}"),
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
        let sdk = local.sdk_config(region).await;
        let env =
            provision::provision(&sdk, Names::unique(label), Controller::EcsBlueGreen, None).await;
        let (_, new_task_definition_arn) = env.new_release(&sdk, "v1.5.0").await;
        let mut blue_green = NativeBlueGreen {
            local: local.clone(),
            sdk,
            region: region.to_owned(),
            env,
            app: LocalApp::start().await,
            new_task_definition_arn: new_task_definition_arn.clone(),
            deployment: Value::Null,
        };
        blue_green.deployment = blue_green.deploy(&new_task_definition_arn).await;
        blue_green
    }

    /// Updates the service to `task_definition_arn`, which makes ECS start
    /// a service deployment; returns it.
    pub async fn deploy(&self, task_definition_arn: &str) -> Value {
        aws_sdk_ecs::Client::new(&self.sdk)
            .update_service()
            .cluster(&self.env.names.cluster)
            .service(&self.env.names.service)
            .task_definition(task_definition_arn)
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

    /// The event ECS sends at `stage` for `execution_id`, with the traffic
    /// weights of that moment of a blue/green deployment (reversed at the
    /// traffic-shift stages when `rollback`).
    pub fn event(
        &self,
        stage: &str,
        execution_id: &str,
        hook_details: Value,
        rollback: bool,
    ) -> Value {
        let (target, source) = (self.target_revision(), self.source_revision());
        let split = |green: u32| json!({ target.clone(): green, source.clone(): 100 - green });
        let (test, production) = match stage {
            "TEST_TRAFFIC_SHIFT" if rollback => (0, 0),
            "PRODUCTION_TRAFFIC_SHIFT" if rollback => (100, 0),
            "RECONCILE_SERVICE" | "PRE_SCALE_UP" | "POST_SCALE_UP" => (0, 0),
            "TEST_TRAFFIC_SHIFT" | "POST_TEST_TRAFFIC_SHIFT" | "PRE_PRODUCTION_TRAFFIC_SHIFT" => {
                (100, 0)
            }
            _ => (100, 100),
        };
        json!({
            "executionId": execution_id,
            "lifecycleStage": stage,
            "resourceArn": self.deployment_arn(),
            "executionDetails": {
                "serviceArn": self.env.service_arn,
                "targetServiceRevisionArn": target,
                "testTrafficWeights": split(test),
                "productionTrafficWeights": split(production),
            },
            "hookDetails": hook_details,
        })
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
        let outcome = process.invoke_with_deadline(event, deadline).await;
        StageRun {
            outcome,
            elapsed: started.elapsed(),
        }
    }

    /// Plays ECS's side of one hook execution at `stage`: invokes the hook,
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
            let event = self.event(stage, &execution_id, details, false);
            let run = self.invoke(process, event, Duration::from_secs(30)).await;
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

/// The story: every stage of a healthy native blue/green deployment (the
/// green tasks registering while `POST_SCALE_UP` waits), then a broken
/// release failing at `POST_TEST_TRAFFIC_SHIFT`, and ECS's rollback passing
/// through the hook.
///
/// Panics when an answer is not the expected one.
pub async fn run(local: &LocalAws, timeline: &Timeline) {
    timeline.chapter(
        "ecs-deployment-hook: every lifecycle stage of an ECS native blue/green deployment checked",
    );
    let mut bg = NativeBlueGreen::without_targets(local, "native").await;
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
    // The service's hook configuration: a quicker look while waiting, and
    // the test-traffic check also at TEST_TRAFFIC_SHIFT (where ECS comes back
    // on rollback).
    let hook_details = json!({
        "callBackDelaySeconds": 1,
        "checks": {
            "TEST_TRAFFIC_SHIFT": [{"kind": "http", "listener": "test", "path": "/health"}],
        },
    });
    timeline.detail(format!("hookDetails: {hook_details}"));
    let mut process = bg.function(&[]).await;
    for stage in STAGES {
        let runs = bg
            .run_stage(
                &mut process,
                stage,
                hook_details.clone(),
                async |_: &StageRun| {
                    bg.register_green_targets().await;
                },
            )
            .await;
        show(timeline, stage, &runs);
        let last = runs.last().expect("one run at least");
        assert_eq!(last.status(), "SUCCEEDED", "{stage}: {}", last.reason());
    }
    bg.local
        .update_service_deployment(&bg.deployment_arn(), json!({"status": "SUCCESSFUL"}))
        .await;

    timeline.step(
        "CI",
        "a second release; its green tasks answer 500 on /health",
    );
    bg.app.set_mode(Mode::Broken);
    // A new revision: ECS starts no deployment for the one the service runs.
    let (_, second_release) = bg.env.new_release(&bg.sdk, "v1.6.0").await;
    bg.new_task_definition_arn = second_release;
    bg.deployment = bg.deploy(&bg.new_task_definition_arn).await;
    for stage in [
        "PRE_SCALE_UP",
        "POST_SCALE_UP",
        "TEST_TRAFFIC_SHIFT",
        "POST_TEST_TRAFFIC_SHIFT",
    ] {
        let runs = bg
            .run_stage(
                &mut process,
                stage,
                hook_details.clone(),
                async |_: &StageRun| {
                    bg.register_green_targets().await;
                },
            )
            .await;
        show(timeline, stage, &runs);
        let expected = if stage.contains("TEST_TRAFFIC") {
            "FAILED"
        } else {
            "SUCCEEDED"
        };
        let last = runs.last().expect("one run at least");
        assert_eq!(last.status(), expected, "{stage}: {}", last.reason());
        if expected == "FAILED" {
            break;
        }
    }
    timeline.step(
        "ECS",
        "TEST_TRAFFIC_SHIFT FAILED: ECS rolls back, shifting test traffic back to the running revision",
    );
    bg.local
        .update_service_deployment(
            &bg.deployment_arn(),
            json!({
                "status": "ROLLBACK_IN_PROGRESS",
                "rollback": {"reason": "lifecycle hook failed at TEST_TRAFFIC_SHIFT",
                             "serviceRevisionArn": bg.source_revision()},
            }),
        )
        .await;
    let event = bg.event(
        "TEST_TRAFFIC_SHIFT",
        &uuid::Uuid::new_v4().to_string(),
        hook_details.clone(),
        true,
    );
    let run = bg
        .invoke(&mut process, event, Duration::from_secs(30))
        .await;
    show(
        timeline,
        "TEST_TRAFFIC_SHIFT (rollback)",
        std::slice::from_ref(&run),
    );
    assert_eq!(run.status(), "SUCCEEDED", "{}", run.reason());
    timeline.step(
        "ECS",
        "the rollback goes through: production traffic never reached the broken revision",
    );
}

fn show(timeline: &Timeline, stage: &str, runs: &[StageRun]) {
    let statuses: Vec<String> = runs
        .iter()
        .map(|run| match run.answer().get("callBackDelay") {
            Some(delay) => format!("{} ({delay} s)", run.status()),
            None => run.status().to_owned(),
        })
        .collect();
    let millis: u128 = runs.iter().map(|r| r.elapsed.as_millis()).sum();
    timeline.step(
        "ecs-deployment-hook",
        format!("{stage}: {} in {millis} ms", statuses.join(" → ")),
    );
    let Some(last) = runs.last() else { return };
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
