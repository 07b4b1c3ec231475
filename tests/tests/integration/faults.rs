//! The promises that hold when AWS misbehaves, end to end: the real binaries
//! against the local AWS, with faults injected per function process
//! (throttling, 5xx, latency, reset and hung connections; see
//! `tests/localaws/faults.py`), crashes, redelivered and concurrent events.
//! Each test asserts the AWS state afterwards, and that the fault really
//! happened.
//!
//! The functions run with their own retry and timeout policy
//! (`CALL_POLICY`), never `AWS_MAX_ATTEMPTS=1`: these tests are what
//! exercises it.

use std::time::{Duration, Instant};

use autopilot_shared::capacity::{Suspended, TargetCapacity};
use autopilot_tests::harness::localaws::{Fault, REGION};
use autopilot_tests::harness::provision::Controller;
use autopilot_tests::stories::codedeploy::BlueGreen;
use autopilot_tests::stories::ecs_native::NativeBlueGreen;
use autopilot_tests::stories::scaling::{
    AwsCapacity, SCHEDULE_TAG, aws_capacity, create_cluster, create_service, register_target,
};
use autopilot_tests::{LambdaProcess, LocalAws, Outcome, start_function, unique};
use serde_json::{Value, json};

use crate::redeploy::Fixture;

/// redeploy-on-push's Lambda timeout in `template.yaml`: its time budget.
const REDEPLOY_TIMEOUT: Duration = Duration::from_secs(120);

/// The function under the test's faults: its own retry policy, this test's cluster only.
async fn redeploy_function(f: &Fixture) -> LambdaProcess {
    start_function(
        &f.local,
        "redeploy-on-push",
        REGION,
        &[("CLUSTERS", f.env.names.cluster.as_str())],
    )
    .await
}

/// How many rollouts (ECS service deployments) a service has had.
async fn rollouts(local: &LocalAws, service_arn: &str) -> usize {
    local.service_deployments(service_arn).await.len()
}

/// Faults injected into `process`'s calls so far, over all its rules.
async fn injected(local: &LocalAws, process: &LambdaProcess) -> u64 {
    local
        .faults_of(process)
        .await
        .iter()
        .map(|rule| rule.injected)
        .sum()
}

/// Waits until `process` has sent `call` (`service.Operation`), whether or
/// not it was answered.
async fn sent(local: &LocalAws, access_key: &str, call: &str) {
    let give_up = Instant::now() + Duration::from_secs(30);
    while Instant::now() < give_up {
        if local.calls_of_key(access_key).await.contains_key(call) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{call} was never sent");
}

#[tokio::test]
async fn redeploy_rides_out_30_percent_ecs_throttling_and_deploys_each_service_once() {
    let f = Fixture::new("throttled", Controller::Ecs, "tag:latest").await;
    let mut arns = vec![f.env.service_arn.clone()];
    for name in ["worker", "canary"] {
        arns.push(f.add_service(name, "tag:latest").await);
    }
    let digest = f.push("latest", "build-2").await;
    let revisions = f.revisions().await;
    let mut before = Vec::new();
    for arn in &arns {
        before.push(rollouts(&f.local, arn).await);
    }
    let mut function = redeploy_function(&f).await;
    f.local
        .inject_faults(&function, &[Fault::throttle().service("ecs").fraction(0.3)])
        .await;

    let started = Instant::now();
    let summary = function
        .invoke_with_deadline(f.event(Some("latest"), &digest), REDEPLOY_TIMEOUT)
        .await
        .response();
    let elapsed = started.elapsed();

    let services = summary["services"].as_array().unwrap();
    assert_eq!(services.len(), 3, "{summary:#}");
    assert!(
        services.iter().all(|s| s["outcome"] == "deployed"),
        "{summary:#}"
    );
    let new_arn = services[0]["taskDefinitionArn"].as_str().unwrap();
    assert_eq!(f.revisions().await, revisions + 1, "one new revision");
    for (arn, before) in arns.iter().zip(before) {
        assert_eq!(
            rollouts(&f.local, arn).await,
            before + 1,
            "{arn}: one rollout"
        );
    }
    for name in [f.env.names.service.as_str(), "worker", "canary"] {
        assert_eq!(f.service_task_definition(name).await, new_arn, "{name}");
    }
    let throttled = injected(&f.local, &function).await;
    let ecs_calls: u64 = f
        .local
        .calls_of(&function)
        .await
        .iter()
        .filter(|(call, _)| call.starts_with("ecs:"))
        .map(|(_, n)| n)
        .sum();
    assert!(
        throttled * 10 >= ecs_calls * 2 && throttled > 0,
        "{throttled} of {ecs_calls} ECS calls throttled"
    );
    assert!(
        elapsed < REDEPLOY_TIMEOUT,
        "{elapsed:?} is over the function's budget"
    );
    println!(
        "redeploy of 3 services under 30% ECS throttling: {throttled} of {ecs_calls} ECS calls throttled, {elapsed:.1?}"
    );
}

#[tokio::test]
async fn a_crash_between_register_and_update_then_the_retried_event_converges() {
    let f = Fixture::new("crash", Controller::Ecs, "tag:latest").await;
    let digest = f.push("latest", "build-2").await;
    let revisions = f.revisions().await;
    let rollouts_before = rollouts(&f.local, &f.env.service_arn).await;
    let event = f.event(Some("latest"), &digest);

    // The first delivery: UpdateService never answers, and the process is
    // killed while it waits, as Lambda kills a function at its timeout.
    let mut first = redeploy_function(&f).await;
    f.local
        .inject_faults(
            &first,
            &[Fault::hang(600).service("ecs").operation("UpdateService")],
        )
        .await;
    let key = first.access_key().to_owned();
    tokio::select! {
        outcome = first.invoke_with_deadline(event.clone(), REDEPLOY_TIMEOUT) => {
            panic!("answered although UpdateService hangs: {outcome:?}")
        }
        () = sent(&f.local, &key, "ecs.UpdateService") => {}
    }
    f.local.clear_faults(&first).await;
    first.kill().await;
    assert_eq!(
        f.revisions().await,
        revisions + 1,
        "registered before the crash"
    );
    assert_eq!(
        f.service_task_definition(&f.env.names.service).await,
        f.env.task_definition_arn,
        "never updated"
    );

    // Lambda's retry of the same event, in a new process.
    let mut retry = redeploy_function(&f).await;
    let summary = retry.invoke(event).await.response();
    let entry = &summary["services"][0];
    assert_eq!(entry["outcome"], "deployed", "{summary:#}");
    assert_eq!(
        f.revisions().await,
        revisions + 1,
        "the revision of the first delivery is reused"
    );
    let deployed = entry["taskDefinitionArn"].as_str().unwrap();
    assert_eq!(
        f.service_task_definition(&f.env.names.service).await,
        deployed
    );
    assert_eq!(
        rollouts(&f.local, &f.env.service_arn).await,
        rollouts_before + 1,
        "one rollout"
    );
    assert!(
        !f.local
            .calls_of(&retry)
            .await
            .contains_key("ecs:RegisterTaskDefinition"),
        "the retry registered nothing"
    );
}

#[tokio::test]
async fn two_concurrent_invocations_of_one_push_roll_out_once() {
    let f = Fixture::new("twice", Controller::Ecs, "tag:latest").await;
    let digest = f.push("latest", "build-2").await;
    let rollouts_before = rollouts(&f.local, &f.env.service_arn).await;
    let event = f.event(Some("latest"), &digest);
    let (mut a, mut b) = (redeploy_function(&f).await, redeploy_function(&f).await);
    // Registration takes a while, so both invocations find nothing to reuse
    // and both register: the race the function must settle.
    let slow_register = [Fault::latency(1_500)
        .service("ecs")
        .operation("RegisterTaskDefinition")];
    f.local.inject_faults(&a, &slow_register).await;
    f.local.inject_faults(&b, &slow_register).await;

    let (first, second) = tokio::join!(a.invoke(event.clone()), b.invoke(event.clone()));
    let (first, second) = (first.response(), second.response());

    for summary in [&first, &second] {
        assert_eq!(summary["services"][0]["outcome"], "deployed", "{summary:#}");
    }
    let chosen = first["services"][0]["taskDefinitionArn"].as_str().unwrap();
    assert_eq!(
        second["services"][0]["taskDefinitionArn"], chosen,
        "both settle on one revision"
    );
    assert_eq!(
        f.service_task_definition(&f.env.names.service).await,
        chosen
    );
    assert_eq!(
        rollouts(&f.local, &f.env.service_arn).await,
        rollouts_before + 1,
        "one rollout"
    );
    for process in [&a, &b] {
        assert_eq!(
            f.local
                .calls_of(process)
                .await
                .get("ecs:RegisterTaskDefinition"),
            Some(&1),
            "both raced to register"
        );
    }
}

#[tokio::test]
async fn two_concurrent_invocations_start_one_codedeploy_deployment() {
    let f = Fixture::new("twice-cd", Controller::CodeDeploy, "tag:latest").await;
    let digest = f.push("latest", "build-2").await;
    let event = f.event(Some("latest"), &digest);
    let (mut a, mut b) = (redeploy_function(&f).await, redeploy_function(&f).await);
    let slow_create = [Fault::latency(1_000)
        .service("codedeploy")
        .operation("CreateDeployment")];
    f.local.inject_faults(&a, &slow_create).await;
    f.local.inject_faults(&b, &slow_create).await;

    let (first, second) = tokio::join!(a.invoke(event.clone()), b.invoke(event.clone()));
    let mut outcomes: Vec<(String, String)> = [first, second]
        .into_iter()
        .map(|outcome| {
            let summary = outcome.response();
            let entry = &summary["services"][0];
            (
                entry["outcome"].as_str().unwrap_or_default().to_owned(),
                entry["deploymentId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    outcomes.sort();
    assert_eq!(outcomes[0].0, "deployed", "{outcomes:?}");
    assert_eq!(
        outcomes[1].0, "skipped",
        "the other finds the deployment rolling out its revision: {outcomes:?}"
    );
    assert_eq!(outcomes[0].1, outcomes[1].1, "the same deployment");
    let (application, group) = f.env.codedeploy.clone().unwrap();
    let deployments = aws_sdk_codedeploy::Client::new(&f.sdk)
        .list_deployments()
        .application_name(application)
        .deployment_group_name(group)
        .send()
        .await
        .unwrap();
    assert_eq!(
        deployments.deployments(),
        [outcomes[0].1.clone()],
        "one deployment"
    );
}

/// One codedeploy-hook run under a fault.
struct HookCase {
    name: &'static str,
    faults: Vec<Fault>,
    /// The status CodeDeploy must record, or `None` when nothing can be
    /// reported (every call hangs): then the function must fail in time.
    expected: Option<&'static str>,
}

/// The checks of the hook runs: one reading each of ELB, CloudWatch (its
/// CBOR protocol) and ECS, besides the CodeDeploy context and report.
fn hook_checks(alarm: &str) -> String {
    json!([
        {"kind": "target-health", "name": "targets", "minHealthy": 2},
        {"kind": "alarms", "name": "alarms", "names": [alarm]},
        {"kind": "task-definition", "name": "policy", "requiredSecrets": ["DATABASE_URL"]},
    ])
    .to_string()
}

/// Every ELB, ECS and CloudWatch call, and CodeDeploy's reads: everything
/// but the status report.
fn everything_but_the_report(fault: impl Fn() -> Fault) -> Vec<Fault> {
    let mut faults: Vec<Fault> = ["elasticloadbalancing", "ecs", "monitoring"]
        .into_iter()
        .map(|service| fault().service(service))
        .collect();
    faults.extend(
        [
            "GetDeployment",
            "GetDeploymentGroup",
            "GetDeploymentTarget",
            "ListDeploymentTargets",
        ]
        .into_iter()
        .map(|operation| fault().service("codedeploy").operation(operation)),
    );
    faults
}

#[tokio::test]
async fn a_codedeploy_hook_under_every_fault_reports_exactly_once_before_its_deadline() {
    let local = LocalAws::connect().await;
    let bg = BlueGreen::new(&local, "hook-faults").await;
    let alarm = format!("{}-5xx", bg.env.names.prefix);
    aws_sdk_cloudwatch::Client::new(&bg.sdk)
        .put_metric_alarm()
        .alarm_name(&alarm)
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(5.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    let checks = hook_checks(&alarm);
    let report = || {
        Fault::throttle()
            .service("codedeploy")
            .operation("PutLifecycleEventHookExecutionStatus")
    };
    let cases = vec![
        HookCase {
            name: "no fault",
            faults: vec![],
            expected: Some("Succeeded"),
        },
        HookCase {
            name: "ELB throttled twice (400 ThrottlingException/Throttling), then answering",
            faults: vec![Fault::throttle().service("elasticloadbalancing").count(2)],
            expected: Some("Succeeded"),
        },
        HookCase {
            name: "ECS throttled with 429 TooManyRequestsException, once",
            faults: vec![
                Fault::throttle()
                    .status(429)
                    .code("TooManyRequestsException")
                    .service("ecs")
                    .count(1),
            ],
            expected: Some("Succeeded"),
        },
        HookCase {
            name: "CloudWatch (CBOR) throttled, every call",
            faults: vec![Fault::throttle().service("monitoring")],
            expected: Some("Failed"),
        },
        HookCase {
            name: "CodeDeploy reads 500 once",
            faults: vec![Fault::error(500).service("codedeploy").count(1)],
            expected: Some("Succeeded"),
        },
        HookCase {
            name: "ECS 503 on every call",
            faults: vec![Fault::error(503).service("ecs")],
            expected: Some("Failed"),
        },
        HookCase {
            name: "ELB connection reset once",
            faults: vec![Fault::reset().service("elasticloadbalancing").count(1)],
            expected: Some("Succeeded"),
        },
        HookCase {
            name: "300 ms added to every call",
            faults: vec![Fault::latency(300)],
            expected: Some("Succeeded"),
        },
        HookCase {
            name: "every read hangs past the deadline",
            faults: everything_but_the_report(|| Fault::hang(600)),
            expected: Some("Failed"),
        },
        HookCase {
            name: "the report throttled twice",
            faults: vec![report().count(2)],
            expected: Some("Succeeded"),
        },
        HookCase {
            name: "the report's first attempt hangs",
            faults: vec![
                Fault::hang(600)
                    .service("codedeploy")
                    .operation("PutLifecycleEventHookExecutionStatus")
                    .count(1),
            ],
            expected: Some("Succeeded"),
        },
        HookCase {
            name: "every read hangs past the deadline, then the report's first attempt hangs too",
            faults: {
                let mut faults = everything_but_the_report(|| Fault::hang(600));
                faults.push(
                    Fault::hang(600)
                        .service("codedeploy")
                        .operation("PutLifecycleEventHookExecutionStatus")
                        .count(1),
                );
                faults
            },
            expected: Some("Failed"),
        },
        HookCase {
            name: "every call hangs, the report too",
            faults: vec![Fault::hang(600)],
            expected: None,
        },
    ];
    // Short enough to keep the hung cases quick: the checks get 5 s, the
    // report the 3 s left.
    let deadline = Duration::from_secs(8);
    for case in cases {
        let mut process = bg
            .function(&[("HOOK", "AfterAllowTestTraffic"), ("CHECKS", &checks)])
            .await;
        local.inject_faults(&process, &case.faults).await;
        let run = bg
            .run_hook_of(
                &mut process,
                &bg.deployment_id,
                "AfterAllowTestTraffic",
                deadline,
            )
            .await;
        let name = case.name;
        assert!(
            run.elapsed < deadline,
            "{name}: answered after {:?}",
            run.elapsed
        );
        if !case.faults.is_empty() {
            assert!(
                injected(&local, &process).await > 0,
                "{name}: no fault was injected"
            );
        }
        local.clear_faults(&process).await;
        match case.expected {
            Some(status) => {
                let recorded: Vec<&str> = run.statuses.iter().map(|s| s.status.as_str()).collect();
                assert_eq!(recorded, [status], "{name}: {:?}", run.outcome);
            }
            None => {
                assert!(run.statuses.is_empty(), "{name}: {:?}", run.statuses);
                match &run.outcome {
                    Outcome::Error { error_type, .. } => {
                        assert_eq!(error_type, "Retryable", "{name}");
                    }
                    other => panic!("{name}: expected a Retryable error, got {other:?}"),
                }
            }
        }
    }
}

#[tokio::test]
async fn an_ecs_hook_under_every_fault_answers_a_valid_status_before_its_deadline() {
    let local = LocalAws::connect().await;
    let bg = NativeBlueGreen::new(&local, "ecs-hook-faults").await;
    let deadline = Duration::from_secs(8);
    // PRE_PRODUCTION_TRAFFIC_SHIFT: the replacement's targets, through the
    // service revision, DescribeTargetGroups and DescribeTargetHealth.
    let stage = "PRE_PRODUCTION_TRAFFIC_SHIFT";
    let cases: Vec<(&str, Vec<Fault>, &str)> = vec![
        ("no fault", vec![], "SUCCEEDED"),
        (
            "ECS throttled twice",
            vec![Fault::throttle().service("ecs").count(2)],
            "SUCCEEDED",
        ),
        (
            "ELB 503 once, then a reset",
            vec![
                Fault::error(503).service("elasticloadbalancing").count(1),
                Fault::reset().service("elasticloadbalancing").count(1),
            ],
            "SUCCEEDED",
        ),
        (
            "ELB throttled with 429 on every call",
            vec![
                Fault::throttle()
                    .status(429)
                    .service("elasticloadbalancing"),
            ],
            "FAILED",
        ),
        ("every call hangs", vec![Fault::hang(600)], "FAILED"),
    ];
    for (name, faults, expected) in cases {
        let mut process = bg.function(&[]).await;
        local.inject_faults(&process, &faults).await;
        let event = bg.event(stage, &unique("exec"), Value::Null, false).await;
        let run = bg.invoke(&mut process, event, deadline).await;
        assert!(run.elapsed < deadline, "{name}: after {:?}", run.elapsed);
        assert_eq!(run.status(), expected, "{name}: {}", run.reason());
        if !faults.is_empty() {
            assert!(injected(&local, &process).await > 0, "{name}: no fault");
        }
        local.clear_faults(&process).await;
    }
}

/// Every service of a scaling test is either changed as asked or reported
/// failed, and one that was not restored keeps its remembered capacity.
#[tokio::test]
async fn scaling_under_faults_never_loses_the_remembered_capacity() {
    const SCALING_REGION: &str = "ap-southeast-2";
    let local = LocalAws::connect().await;
    let sdk = local.sdk_config(SCALING_REGION).await;
    let schedule = unique("faults");
    let cluster = unique("sf");
    create_cluster(&sdk, &cluster).await;
    let range = TargetCapacity {
        min: 2,
        max: 6,
        suspended: Suspended::default(),
    };
    for service in ["web", "api", "worker"] {
        create_service(&sdk, &cluster, service, 3, &[(SCHEDULE_TAG, &schedule)]).await;
    }
    for service in ["web", "api"] {
        register_target(&sdk, &cluster, service, range).await;
    }
    let capacity = async |service: &str| aws_capacity(&sdk, &cluster, service).await;
    let mut before = Vec::new();
    for service in ["web", "api", "worker"] {
        before.push(capacity(service).await);
    }
    let zero = json!({"action": "scale-to-zero", "selector": {"tags": {SCHEDULE_TAG: schedule}}});
    let restore = json!({"action": "restore", "selector": {"tags": {SCHEDULE_TAG: schedule}}});
    // Its own retry policy under throttling and resets; two attempts where
    // a call fails for good, which only makes the test quicker.
    let function = async || start_function(&local, "scheduled-scaling", SCALING_REGION, &[]).await;
    let failing_function = async || {
        start_function(
            &local,
            "scheduled-scaling",
            SCALING_REGION,
            &[("AWS_MAX_ATTEMPTS", "2")],
        )
        .await
    };
    let outcome_of = |summary: &Value, service: &str| -> String {
        summary["services"]
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|s| s["service"] == format!("{cluster}/{service}"))
            })
            .and_then(|s| s["outcome"].as_str())
            .unwrap_or_else(|| panic!("{service} not in {summary:#}"))
            .to_owned()
    };

    // Scale to zero with the memory unwritable (TagResource throttled for
    // good): nothing may change, or what was there would be lost.
    let mut process = failing_function().await;
    local
        .inject_faults(
            &process,
            &[Fault::throttle().service("ecs").operation("TagResource")],
        )
        .await;
    let (_, message) = process.invoke(zero.clone()).await.error();
    assert!(message.contains("failed for 3 of 3 services"), "{message}");
    for (service, before) in ["web", "api", "worker"].into_iter().zip(&before) {
        assert_eq!(&capacity(service).await, before, "{service} changed");
    }

    // Scale to zero with Application Auto Scaling failing (503) for good:
    // the services with a scalable target fail, with their capacity
    // remembered; the one without is changed.
    let mut process = failing_function().await;
    local
        .inject_faults(
            &process,
            &[Fault::error(503)
                .service("application-autoscaling")
                .operation("RegisterScalableTarget")],
        )
        .await;
    let (error_type, message) = process.invoke(zero.clone()).await.error();
    assert_eq!(error_type, "Retryable", "{message}");
    assert!(message.contains("failed for 2 of 3 services"), "{message}");
    assert!(injected(&local, &process).await > 0);
    for service in ["web", "api"] {
        assert!(
            message.contains(&format!("{cluster}/{service}: ")),
            "{message}"
        );
        let now = capacity(service).await;
        assert_eq!(
            now.remembered.as_deref(),
            Some("v1 min=2 max=6 desired=3 suspend=none"),
            "{service}: {now}"
        );
    }
    assert_eq!(capacity("worker").await.desired, 0, "changed");

    // Retried under 30% throttling of every call: everything ends at zero.
    let mut process = function().await;
    local
        .inject_faults(&process, &[Fault::throttle().fraction(0.3)])
        .await;
    let summary = process.invoke(zero).await.response();
    assert!(injected(&local, &process).await > 0);
    for service in ["web", "api"] {
        assert_eq!(outcome_of(&summary, service), "changed", "{summary:#}");
    }
    for service in ["web", "api", "worker"] {
        let now = capacity(service).await;
        assert_eq!(now.desired, 0, "{service}: {now}");
        assert!(now.remembered.is_some(), "{service}: {now}");
    }

    // Restore with UpdateService failing for good: every service fails
    // and keeps what it remembers, to restore on the next try.
    let mut process = failing_function().await;
    local
        .inject_faults(
            &process,
            &[Fault::error(500).service("ecs").operation("UpdateService")],
        )
        .await;
    let (_, message) = process.invoke(restore.clone()).await.error();
    assert!(message.contains("failed for 3 of 3 services"), "{message}");
    for service in ["web", "api", "worker"] {
        let now = capacity(service).await;
        assert!(now.remembered.is_some(), "{service} lost its memory: {now}");
    }

    // The next try, with connections reset now and then, restores exactly.
    let mut process = function().await;
    local
        .inject_faults(&process, &[Fault::reset().fraction(0.25)])
        .await;
    let summary = process.invoke(restore).await.response();
    assert!(injected(&local, &process).await > 0);
    for service in ["web", "api", "worker"] {
        assert_eq!(outcome_of(&summary, service), "changed", "{summary:#}");
    }
    let mut after: Vec<AwsCapacity> = Vec::new();
    for service in ["web", "api", "worker"] {
        after.push(capacity(service).await);
    }
    assert_eq!(after, before, "restored exactly");
}
