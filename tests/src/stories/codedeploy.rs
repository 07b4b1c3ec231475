//! The `codedeploy-hook` story: a CodeDeploy blue/green deployment whose
//! lifecycle hooks run the real binary against the local AWS, with a local
//! app standing in for the green task set; once healthy, once broken.
//!
//! Also the helpers the hook's integration tests share: [`BlueGreen`], a
//! provisioned CodeDeploy environment with a deployment in progress, and
//! [`BlueGreen::run_hook`].

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use serde_json::Value;

use crate::harness::app::{LocalApp, Mode};
use crate::harness::localaws::{HookStatusCall, LocalAws, REGION};
use crate::harness::provision::{self, Controller, Environment, Names};
use crate::harness::timeline::Timeline;
use crate::{LambdaProcess, Outcome, start_function};

/// The lifecycle hooks in the order CodeDeploy runs them.
pub const HOOKS: [&str; 5] = [
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
];

/// A CodeDeploy blue/green environment with a deployment in progress: the
/// provisioned backend, a new digest-pinned revision being deployed, two
/// targets registered in the green target group, and a [`LocalApp`] the
/// http checks reach through the load balancer's DNS name.
pub struct BlueGreen {
    /// The local AWS.
    pub local: LocalAws,
    /// The SDK configuration of the test's own calls.
    pub sdk: SdkConfig,
    /// What was provisioned.
    pub env: Environment,
    /// The green task set's stand-in.
    pub app: LocalApp,
    /// The revision being deployed (`repository@digest`).
    pub new_task_definition_arn: String,
    /// The digest of its image.
    pub new_digest: String,
    /// The deployment in progress.
    pub deployment_id: String,
}

/// One hook invocation: what the function answered and what CodeDeploy
/// recorded.
#[derive(Debug)]
pub struct HookRun {
    /// The invocation's answer.
    pub outcome: Outcome,
    /// Every `PutLifecycleEventHookExecutionStatus` for this execution.
    pub statuses: Vec<HookStatusCall>,
    /// How long the invocation took.
    pub elapsed: Duration,
}

impl HookRun {
    /// The one recorded status; panics unless exactly one was recorded.
    #[track_caller]
    pub fn status(&self) -> &str {
        assert_eq!(
            self.statuses.len(),
            1,
            "exactly one PutLifecycleEventHookExecutionStatus: {:?} ({:?})",
            self.statuses,
            self.outcome
        );
        assert_eq!(self.statuses[0].error, None, "{:?}", self.statuses);
        &self.statuses[0].status
    }

    /// The response; panics on an error.
    #[track_caller]
    pub fn response(&self) -> &Value {
        match &self.outcome {
            Outcome::Response(value) => value,
            Outcome::Error {
                error_type,
                error_message,
            } => panic!("expected a response, got {error_type}: {error_message}"),
        }
    }

    /// The evidence of the check named `name`.
    #[track_caller]
    pub fn evidence(&self, name: &str) -> String {
        let response = self.response();
        response["checks"]
            .as_array()
            .and_then(|checks| checks.iter().find(|c| c["name"] == name))
            .and_then(|c| c["evidence"].as_str())
            .unwrap_or_else(|| panic!("no check {name} in {response}"))
            .to_owned()
    }
}

impl BlueGreen {
    /// Provisions a fresh environment named after `label` and starts a
    /// deployment of a new revision.
    pub async fn new(local: &LocalAws, label: &str) -> BlueGreen {
        let sdk = local.sdk_config(REGION).await;
        let env =
            provision::provision(&sdk, Names::unique(label), Controller::CodeDeploy, None).await;
        let (new_digest, new_task_definition_arn) = env.new_release(&sdk, "v1.5.0").await;
        provision::register_targets(&sdk, &env.green_target_group_arn).await;
        let mut blue_green = BlueGreen {
            local: local.clone(),
            sdk,
            env,
            app: LocalApp::start().await,
            new_task_definition_arn,
            new_digest,
            deployment_id: String::new(),
        };
        blue_green.deployment_id = blue_green
            .deploy(&blue_green.new_task_definition_arn.clone())
            .await;
        blue_green
    }

    /// Starts a deployment of `task_definition_arn` and returns its ID.
    pub async fn deploy(&self, task_definition_arn: &str) -> String {
        self.env
            .create_deployment(&self.sdk, &self.appspec(task_definition_arn))
            .await
    }

    /// The AppSpec of a deployment of `task_definition_arn`, naming every hook.
    fn appspec(&self, task_definition_arn: &str) -> autopilot_shared::redeploy::appspec::AppSpec {
        autopilot_shared::redeploy::appspec::AppSpec {
            task_definition_arn: task_definition_arn.to_owned(),
            container_name: "backend".into(),
            container_port: 3000,
            hooks: HOOKS
                .iter()
                .map(|h| ((*h).to_owned(), format!("CodeDeployHook_test-{h}")))
                .collect(),
        }
    }

    /// Creates a second deployment group of the application for the same
    /// service and listeners, whose target group pair lists the green target
    /// group first and the blue one, which the service routes to, second;
    /// starts a deployment of the new revision in it and returns its ID.
    /// Which of the pair is the replacement is for CodeDeploy to tell from
    /// the service, not from the order.
    pub async fn deploy_with_swapped_pair(&self) -> String {
        let (application, _) = self
            .env
            .codedeploy
            .clone()
            .expect("a CodeDeploy environment");
        let group = format!("{}-swapped-dg", self.env.names.prefix);
        provision::create_deployment_group(
            &aws_sdk_codedeploy::Client::new(&self.sdk),
            &self.env.names,
            &application,
            &group,
            [
                target_group_name(&self.env.green_target_group_arn),
                target_group_name(&self.env.blue_target_group_arn),
            ],
            [
                &self.env.production_listener_arn,
                &self.env.test_listener_arn,
            ],
        )
        .await;
        let deployment_group = autopilot_shared::redeploy::codedeploy::DeploymentGroup {
            application,
            group: group.clone(),
            services: vec![(
                self.env.names.cluster.clone(),
                self.env.names.service.clone(),
            )],
        };
        autopilot_shared::redeploy::codedeploy::create_deployment(
            &aws_sdk_codedeploy::Client::new(&self.sdk),
            &deployment_group,
            &self.appspec(&self.new_task_definition_arn).to_json(),
            "ecs-autopilot test harness",
        )
        .await
        .unwrap_or_else(|e| panic!("create deployment in {group}: {e}"))
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
        start_function(&self.local, "codedeploy-hook", REGION, &all).await
    }

    /// Starts `hook` of `deployment_id` and invokes `process` with a
    /// `deadline`, as CodeDeploy would.
    pub async fn run_hook_of(
        &self,
        process: &mut LambdaProcess,
        deployment_id: &str,
        hook: &str,
        deadline: Duration,
    ) -> HookRun {
        let execution_id = self.local.start_lifecycle_hook(deployment_id, hook).await;
        let started = Instant::now();
        let outcome = process
            .invoke_with_deadline(
                serde_json::json!({
                    "DeploymentId": deployment_id,
                    "LifecycleEventHookExecutionId": execution_id,
                }),
                deadline,
            )
            .await;
        let elapsed = started.elapsed();
        let statuses = self
            .local
            .hook_statuses(deployment_id)
            .await
            .into_iter()
            .filter(|s| s.lifecycle_event_hook_execution_id == execution_id)
            .collect();
        HookRun {
            outcome,
            statuses,
            elapsed,
        }
    }

    /// Starts `hook` of the deployment and runs a fresh function with
    /// `vars` (and `RESOLVE`) against it, with a 30-second deadline.
    pub async fn run_hook(&self, hook: &str, vars: &[(&str, &str)]) -> (HookRun, LambdaProcess) {
        let mut process = self.function(vars).await;
        let run = self
            .run_hook_of(
                &mut process,
                &self.deployment_id,
                hook,
                Duration::from_secs(30),
            )
            .await;
        (run, process)
    }
}

/// The story: the five hooks of a healthy deployment with the default
/// checks, then a second deployment whose green task set is broken.
///
/// Panics when a verdict is not the expected one, or the broken deployment
/// fails for another check than its /health.
pub async fn run(local: &LocalAws, timeline: &Timeline) {
    timeline.chapter("codedeploy-hook: every lifecycle hook of a blue/green deployment checked");
    let bg = BlueGreen::new(local, "shop").await;
    let alarm_prefix = format!("{}-", bg.env.names.prefix);
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&bg.sdk);
    cloudwatch
        .put_metric_alarm()
        .alarm_name(format!("{alarm_prefix}target-5xx"))
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(5.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create alarm: {e:?}"));
    timeline.step(
        "setup",
        format!(
            "deployment {} of {} with 2 green targets; alarm {alarm_prefix}target-5xx",
            bg.deployment_id,
            bg.new_task_definition_arn
                .rsplit_once('/')
                .map_or("", |(_, r)| r)
        ),
    );
    timeline.detail(format!(
        "a local app at {} stands in for the green task set: RESOLVE={}",
        bg.app.address(),
        bg.resolve()
    ));

    // One function for every hook: HOOK unset, it asks CodeDeploy which
    // lifecycle event is in progress; the default checks of each hook.
    let mut process = bg
        .function(&[("ALARM_PREFIX", alarm_prefix.as_str())])
        .await;
    for hook in HOOKS {
        let run = bg
            .run_hook_of(
                &mut process,
                &bg.deployment_id,
                hook,
                Duration::from_secs(30),
            )
            .await;
        show(timeline, hook, &run);
        assert_eq!(run.status(), "Succeeded", "{hook}: {:?}", run.outcome);
    }

    timeline.step(
        "CI",
        "a second release; its green task set answers 500 on /health",
    );
    bg.app.set_mode(Mode::Broken);
    bg.local
        .set_deployment_status(&bg.deployment_id, "Succeeded")
        .await;
    let second = bg.deploy(&bg.new_task_definition_arn).await;
    for hook in ["BeforeInstall", "AfterInstall", "AfterAllowTestTraffic"] {
        let run = bg
            .run_hook_of(&mut process, &second, hook, Duration::from_secs(30))
            .await;
        show(timeline, hook, &run);
        let expected = if hook == "AfterAllowTestTraffic" {
            "Failed"
        } else {
            "Succeeded"
        };
        assert_eq!(run.status(), expected, "{hook}: {:?}", run.outcome);
        if expected == "Failed" {
            let failed: Vec<&str> = run.response()["checks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["passed"] == false)
                .filter_map(|c| c["name"].as_str())
                .collect();
            assert_eq!(
                failed,
                ["http GET /health via test listener"],
                "{hook}: only the broken /health fails it: {:?}",
                run.outcome
            );
        }
    }
    timeline.step(
        "CodeDeploy",
        "AfterAllowTestTraffic Failed: production traffic never reaches the broken task set; the deployment rolls back",
    );
}

/// A target group's name, from its ARN
/// (`arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>`).
pub fn target_group_name(arn: &str) -> &str {
    arn.split_once(":targetgroup/")
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or_else(|| panic!("not a target group ARN: {arn}"))
}

fn show(timeline: &Timeline, hook: &str, run: &HookRun) {
    let status = run.statuses.first().map_or("(none)", |s| s.status.as_str());
    timeline.step(
        "codedeploy-hook",
        format!("{hook}: {status} in {} ms", run.elapsed.as_millis()),
    );
    if let Outcome::Response(response) = &run.outcome {
        for check in response["checks"].as_array().into_iter().flatten() {
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
}
