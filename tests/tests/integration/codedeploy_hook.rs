//! codedeploy-hook, end to end: the real binary against the local AWS, each
//! test asserting the status CodeDeploy recorded
//! (`PutLifecycleEventHookExecutionStatus`), exactly once.

use std::time::Duration;

use autopilot_shared::checks::context::target_group_dimension;
use autopilot_tests::harness::app::Mode;
use autopilot_tests::harness::localaws::{ACCOUNT_ID, REGION};
use autopilot_tests::stories::codedeploy::{BlueGreen, HOOKS, HookRun, target_group_name};
use autopilot_tests::{LocalAws, sample_event, start_function, unique};
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StateValue};
use serde_json::{Value, json};

/// The hook the check tests run: `HOOK` is unset, so the function asks
/// CodeDeploy which lifecycle event is in progress.
const HOOK: &str = "AfterAllowTestTraffic";

/// A deployment where every kind of check has something to look at, all of
/// it healthy: an alarm in `OK`, a low 5XX count on the replacement target
/// group, an image scan with MEDIUM findings only.
struct Healthy {
    bg: BlueGreen,
    alarm: String,
    load_balancer_dimension: String,
    green_dimension: String,
}

impl Healthy {
    async fn new(label: &str) -> Healthy {
        Healthy::with_scan(label, json!({"MEDIUM": 2, "LOW": 1, "UNDEFINED": 4})).await
    }

    /// A healthy deployment whose image scan found `counts`.
    async fn with_scan(label: &str, counts: Value) -> Healthy {
        let local = LocalAws::connect().await;
        let bg = BlueGreen::new(&local, label).await;
        let alarm = format!("{}-5xx", bg.env.names.prefix);
        autopilot_tests::harness::provision::put_5xx_alarm(&bg.sdk, &alarm).await;
        let listener = aws_sdk_elasticloadbalancingv2::Client::new(&bg.sdk)
            .describe_listeners()
            .listener_arns(&bg.env.production_listener_arn)
            .send()
            .await
            .unwrap();
        let load_balancer_arn = listener.listeners()[0].load_balancer_arn().unwrap();
        let load_balancer_dimension = load_balancer_arn
            .split_once(":loadbalancer/")
            .unwrap()
            .1
            .to_owned();
        let green_dimension = target_group_dimension(&bg.env.green_target_group_arn)
            .unwrap()
            .to_owned();
        let healthy = Healthy {
            bg,
            alarm,
            load_balancer_dimension,
            green_dimension,
        };
        healthy.put_5xx(1.0).await;
        healthy.put_latencies(&[0.05, 0.08, 0.12, 0.2]).await;
        healthy.scan_result(counts).await;
        healthy
    }

    /// Publishes a 5XX count for the replacement target group.
    async fn put_5xx(&self, value: f64) {
        let dimension =
            |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
        aws_sdk_cloudwatch::Client::new(&self.bg.sdk)
            .put_metric_data()
            .namespace("AWS/ApplicationELB")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("HTTPCode_Target_5XX_Count")
                    .dimensions(dimension("TargetGroup", &self.green_dimension))
                    .dimensions(dimension("LoadBalancer", &self.load_balancer_dimension))
                    .value(value)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }

    /// Publishes target response times (seconds) for the replacement target group.
    async fn put_latencies(&self, values: &[f64]) {
        let mut request = aws_sdk_cloudwatch::Client::new(&self.bg.sdk)
            .put_metric_data()
            .namespace("AWS/ApplicationELB");
        for value in values {
            request = request.metric_data(
                MetricDatum::builder()
                    .metric_name("TargetResponseTime")
                    .dimensions(
                        Dimension::builder()
                            .name("TargetGroup")
                            .value(&self.green_dimension)
                            .build(),
                    )
                    .dimensions(
                        Dimension::builder()
                            .name("LoadBalancer")
                            .value(&self.load_balancer_dimension)
                            .build(),
                    )
                    .value(*value)
                    .build(),
            );
        }
        request.send().await.unwrap();
    }

    /// Scans the new image and sets what the scan found (moto's static
    /// scan results, keyed by repository and digest).
    async fn scan_result(&self, counts: Value) {
        let ecr = aws_sdk_ecr::Client::new(&self.bg.sdk);
        ecr.start_image_scan()
            .repository_name(&self.bg.env.names.repository)
            .image_id(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_digest(&self.bg.new_digest)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let body = json!({
            "region": REGION,
            "results": [{
                "registryId": ACCOUNT_ID,
                "repositoryName": self.bg.env.names.repository,
                "imageId": {"imageDigest": self.bg.new_digest},
                "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
                "imageScanFindings": {"findingSeverityCounts": counts, "findings": []},
            }],
        });
        let response = reqwest::Client::new()
            .post(format!(
                "{}/moto-api/static/ecr/scan-finding-results",
                self.bg.local.endpoint()
            ))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{response:?}");
    }

    /// One check of every kind, all passing on this deployment.
    fn every_kind(&self) -> Value {
        json!([
            {"kind": "http", "name": "http", "listener": "test", "path": "/health",
             "jsonPointer": "/status", "equals": "ok", "bodyContains": "database",
             "maxLatencyMs": 5000, "headers": {"Authorization": "Bearer s3cr3t-token"},
             "timeoutSeconds": 10},
            {"kind": "target-health", "name": "targets", "minHealthy": 2},
            {"kind": "alarms", "name": "alarms", "names": [self.alarm]},
            {"kind": "metric", "name": "5xx", "namespace": "AWS/ApplicationELB",
             "metricName": "HTTPCode_Target_5XX_Count", "stat": "Sum",
             "dimensions": {"TargetGroup": "{replacementTargetGroup}",
                            "LoadBalancer": "{loadBalancer}"},
             "comparison": "<", "threshold": 5, "missingData": "fail"},
            {"kind": "metric", "name": "p99", "namespace": "AWS/ApplicationELB",
             "metricName": "TargetResponseTime", "stat": "p99", "windowSeconds": 600,
             "dimensions": {"LoadBalancer": "{loadBalancer}",
                            "TargetGroup": "{replacementTargetGroup}"},
             "comparison": "<=", "threshold": 0.5, "missingData": "fail"},
            {"kind": "image-scan", "name": "scan", "severity": "HIGH"},
            {"kind": "task-definition", "name": "policy",
             "requiredSecrets": ["DATABASE_URL", "STRIPE_API_KEY"],
             "essentialHealthChecks": true},
        ])
    }

    async fn run(&self, vars: &[(&str, &str)]) -> HookRun {
        self.run_checks(&self.every_kind(), vars).await
    }

    async fn run_checks(&self, checks: &Value, vars: &[(&str, &str)]) -> HookRun {
        let checks = checks.to_string();
        let mut all = vec![("CHECKS", checks.as_str()), ("AWS_MAX_ATTEMPTS", "1")];
        all.extend_from_slice(vars);
        self.bg.run_hook(HOOK, &all).await.0
    }
}

/// The checks that failed, by name.
fn failed(run: &HookRun) -> Vec<String> {
    run.response()["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks in {:?}", run.outcome))
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_healthy_deployment_passes_one_check_of_every_kind() {
    let h = Healthy::new("cdh-pass").await;
    let mut process =
        h.bg.function(&[
            ("CHECKS", &h.every_kind().to_string()),
            ("AWS_MAX_ATTEMPTS", "1"),
        ])
        .await;
    let run =
        h.bg.run_hook_of(
            &mut process,
            &h.bg.deployment_id,
            HOOK,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(run.status(), "Succeeded", "{:?}", run.outcome);
    assert_eq!(run.statuses[0].lifecycle_event_name.as_deref(), Some(HOOK));
    let response = run.response();
    assert_eq!(
        response["hook"], HOOK,
        "found from the lifecycle event in progress"
    );
    assert_eq!(response["verdict"], "Succeeded");
    assert!(failed(&run).is_empty(), "{response}");

    let dns = &h.bg.env.load_balancer_dns;
    let evidence = run.evidence("http");
    assert!(
        evidence.starts_with(&format!("GET http://{dns}:8080/health -> 200 in ")),
        "{evidence}"
    );
    assert_eq!(
        h.bg.app.hosts(),
        [format!("{dns}:8080")],
        "RESOLVE keeps the URL's Host"
    );
    assert!(
        run.evidence("targets")
            .ends_with("2/2 targets healthy (minHealthy 2)"),
        "{}",
        run.evidence("targets")
    );
    assert_eq!(run.evidence("alarms"), "1 alarm, none in ALARM");
    assert_eq!(
        run.evidence("5xx"),
        "HTTPCode_Target_5XX_Count Sum per 60 s over 300 s: worst 1 vs < 5 over 1 datapoint"
    );
    let scan = run.evidence("scan");
    assert!(
        scan.contains("1 ECR image, nothing at or above HIGH (")
            && scan.contains("MEDIUM 2, LOW 1)")
            && scan.ends_with("not in ECR, skipped: docker/library/redis:7.4-alpine"),
        "{scan}"
    );
    assert_eq!(
        run.evidence("p99"),
        "TargetResponseTime p99 per 60 s over 600 s: worst 0.2 vs <= 0.5 over 1 datapoint"
    );
    assert!(run.evidence("policy").contains("2 containers comply"));

    let logs = process.finish_logs().await;
    for name in ["http", "targets", "alarms", "5xx", "p99", "scan", "policy"] {
        assert!(
            logs.lines()
                .any(|l| l.contains(" check ") && l.contains(&format!("check={name} "))),
            "a log line for check {name}:\n{logs}"
        );
    }
    assert!(
        logs.contains(r#""HookVerdicts":1"#) && logs.contains(r#""Verdict":"Succeeded""#),
        "the EMF metric:\n{logs}"
    );
    assert!(
        !logs.contains("s3cr3t"),
        "a secret leaked into the logs:\n{logs}"
    );
    assert!(!response.to_string().contains("s3cr3t"));
    crate::iam::assert_calls_declared(&h.bg.local, &process, codedeploy_hook::IAM_ACTIONS).await;
}

#[tokio::test]
async fn every_hook_passes_with_its_default_checks() {
    let h = Healthy::new("cdh-defaults").await;
    let prefix = format!("{}-", h.bg.env.names.prefix);
    let mut process =
        h.bg.function(&[("ALARM_PREFIX", prefix.as_str()), ("AWS_MAX_ATTEMPTS", "1")])
            .await;
    let mut names = Vec::new();
    for hook in HOOKS {
        let run =
            h.bg.run_hook_of(
                &mut process,
                &h.bg.deployment_id,
                hook,
                Duration::from_secs(30),
            )
            .await;
        assert_eq!(run.status(), "Succeeded", "{hook}: {:?}", run.outcome);
        assert_eq!(run.statuses[0].lifecycle_event_name.as_deref(), Some(hook));
        assert_eq!(run.response()["hook"], hook);
        let checks: Vec<String> = run.response()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect();
        names.push((hook, checks));
    }
    let alarms = format!("alarms {prefix}*");
    assert_eq!(
        names,
        [
            ("BeforeInstall", vec!["task-definition".to_owned()]),
            ("AfterInstall", vec!["target-health replacement".to_owned()]),
            (
                "AfterAllowTestTraffic",
                vec!["http GET /health via test listener".to_owned()]
            ),
            ("BeforeAllowTraffic", vec![alarms.clone()]),
            (
                "AfterAllowTraffic",
                vec![
                    alarms,
                    "http GET /health via production listener".to_owned()
                ]
            ),
        ]
    );
    let dns = &h.bg.env.load_balancer_dns;
    assert_eq!(h.bg.app.hosts(), [format!("{dns}:8080"), dns.clone()]);

    // What five hook invocations with the default checks called.
    let calls = h.bg.local.calls_of(&process).await;
    let called: Vec<&str> = calls.keys().map(String::as_str).collect();
    assert_eq!(
        called,
        [
            "cloudwatch:DescribeAlarms",
            "codedeploy:GetDeployment",
            "codedeploy:GetDeploymentGroup",
            "codedeploy:GetDeploymentTarget",
            "codedeploy:PutLifecycleEventHookExecutionStatus",
            "ecs:DescribeTaskDefinition",
            "elasticloadbalancing:DescribeListeners",
            "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DescribeTargetGroups",
            "elasticloadbalancing:DescribeTargetHealth",
        ],
        "{calls:?}"
    );
    assert_eq!(calls["codedeploy:PutLifecycleEventHookExecutionStatus"], 5);
    crate::iam::assert_calls_declared(&h.bg.local, &process, codedeploy_hook::IAM_ACTIONS).await;
}

#[tokio::test]
async fn http_fails_alone_when_the_app_is_broken() {
    let h = Healthy::new("cdh-http").await;
    h.bg.app.set_mode(Mode::Broken);
    let run = h.run(&[]).await;
    assert_eq!(run.status(), "Failed");
    assert_eq!(failed(&run), ["http"]);
    let evidence = run.evidence("http");
    assert!(
        evidence.contains("-> 500 in ") && evidence.contains(": expected status 200; body: {"),
        "{evidence}"
    );
    assert!(
        evidence.contains("database connection refused"),
        "{evidence}"
    );
    assert!(
        run.response()["reason"]
            .as_str()
            .unwrap()
            .starts_with("1 of 7 checks failed: http: GET http://"),
        "{}",
        run.response()
    );
}

#[tokio::test]
async fn http_fails_on_a_slow_response_and_retries_its_attempts() {
    let h = Healthy::new("cdh-slow").await;
    h.bg.app.set_mode(Mode::Slow(Duration::from_millis(400)));
    let checks = json!([{"kind": "http", "name": "http", "listener": "test", "path": "/health",
                         "maxLatencyMs": 100, "attempts": 3, "intervalMs": 100}]);
    let run = h.run_checks(&checks, &[]).await;
    assert_eq!(run.status(), "Failed");
    let evidence = run.evidence("http");
    assert!(
        evidence.contains("slower than maxLatencyMs 100") && evidence.contains("(attempt 3/3)"),
        "{evidence}"
    );
    assert_eq!(h.bg.app.hosts().len(), 3);
}

#[tokio::test]
async fn target_health_fails_alone_without_targets() {
    let h = Healthy::new("cdh-targets").await;
    aws_sdk_elasticloadbalancingv2::Client::new(&h.bg.sdk)
        .deregister_targets()
        .target_group_arn(&h.bg.env.green_target_group_arn)
        .targets(
            aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                .id("10.0.1.10")
                .port(3000)
                .build(),
        )
        .targets(
            aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                .id("10.0.1.11")
                .port(3000)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let run = h.run(&[]).await;
    assert_eq!(run.status(), "Failed");
    assert_eq!(failed(&run), ["targets"]);
    let evidence = run.evidence("targets");
    assert!(
        evidence.ends_with("green: no targets registered (minHealthy 2)"),
        "{evidence}"
    );
}

#[tokio::test]
async fn alarms_fail_alone_when_one_is_in_alarm() {
    let h = Healthy::new("cdh-alarm").await;
    aws_sdk_cloudwatch::Client::new(&h.bg.sdk)
        .set_alarm_state()
        .alarm_name(&h.alarm)
        .state_value(StateValue::Alarm)
        .state_reason("5XX above 5")
        .send()
        .await
        .unwrap();
    let run = h.run(&[]).await;
    assert_eq!(run.status(), "Failed");
    assert_eq!(failed(&run), ["alarms"]);
    assert_eq!(run.evidence("alarms"), format!("in ALARM: {}", h.alarm));
}

#[tokio::test]
async fn metric_fails_alone_above_its_threshold() {
    let h = Healthy::new("cdh-metric").await;
    h.put_5xx(40.0).await;
    let run = h.run(&[]).await;
    assert_eq!(run.status(), "Failed");
    assert_eq!(failed(&run), ["5xx"]);
    // 1 and then 40 errors: one minute's sum of 41, or 40 in the next minute.
    let evidence = run.evidence("5xx");
    assert!(
        evidence.starts_with("HTTPCode_Target_5XX_Count Sum per 60 s over 300 s: worst 4")
            && evidence.ends_with(", 1 breaching"),
        "{evidence}"
    );
}

#[tokio::test]
async fn image_scan_fails_alone_on_a_critical_finding() {
    let h = Healthy::with_scan("cdh-scan", json!({"CRITICAL": 1, "HIGH": 2, "LOW": 7})).await;
    let run = h.run(&[]).await;
    assert_eq!(run.status(), "Failed");
    assert_eq!(failed(&run), ["scan"]);
    let evidence = run.evidence("scan");
    assert!(
        evidence.contains("at or above HIGH or unscanned: ")
            && evidence.contains(&format!(
                "/backend@{}: CRITICAL 1, HIGH 2",
                &h.bg.new_digest[..19]
            )),
        "{evidence}"
    );
}

#[tokio::test]
async fn task_definition_fails_alone_on_a_latest_image() {
    let h = Healthy::new("cdh-latest").await;
    let latest = autopilot_tests::harness::provision::register_backend_task_definition(
        &aws_sdk_ecs::Client::new(&h.bg.sdk),
        &h.bg.env.names,
        REGION,
        &format!("{}:latest", h.bg.env.image_repository()),
        &h.bg.env.secret_arn,
        &h.bg.env.parameter_arn,
    )
    .await;
    h.bg.local
        .set_deployment_status(&h.bg.deployment_id, "Succeeded")
        .await;
    let deployment = h.bg.deploy(&latest).await;
    let checks = json!([
        {"kind": "task-definition", "name": "policy"},
        {"kind": "target-health", "name": "targets"},
    ]);
    let mut process =
        h.bg.function(&[("CHECKS", &checks.to_string()), ("AWS_MAX_ATTEMPTS", "1")])
            .await;
    let run =
        h.bg.run_hook_of(
            &mut process,
            &deployment,
            "BeforeInstall",
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(run.status(), "Failed");
    assert_eq!(failed(&run), ["policy"]);
    let evidence = run.evidence("policy");
    assert!(
        evidence.ends_with(&format!(
            "backend: image {}:latest floats on latest",
            h.bg.env.image_repository()
        )),
        "{evidence}"
    );
}

#[tokio::test]
async fn a_check_that_hangs_is_failed_before_the_deadline() {
    let local = LocalAws::connect().await;
    let bg = BlueGreen::new(&local, "cdh-hang").await;
    bg.app.set_mode(Mode::Hang);
    let checks = json!([
        {"kind": "http", "name": "http", "listener": "test", "path": "/health", "timeoutSeconds": 600},
        {"kind": "target-health", "name": "targets"},
    ]);
    let mut process = bg.function(&[("CHECKS", &checks.to_string())]).await;
    let deadline = Duration::from_secs(6);
    let run = bg
        .run_hook_of(&mut process, &bg.deployment_id, HOOK, deadline)
        .await;
    assert!(run.elapsed < deadline, "answered after {:?}", run.elapsed);
    assert_eq!(run.status(), "Failed");
    assert_eq!(failed(&run), ["http"]);
    let evidence = run.evidence("http");
    assert!(
        (evidence.starts_with("timed out after") && evidence.ends_with("the hook's time ran out"))
            || evidence.contains(": no response within 2"),
        "{evidence}"
    );
}

#[tokio::test]
async fn a_panic_inside_a_check_is_reported_failed() {
    let local = LocalAws::connect().await;
    let bg = BlueGreen::new(&local, "cdh-panic").await;
    let checks = json!([
        {"kind": "task-definition", "name": "policy"},
        {"kind": "target-health", "name": "targets"},
    ]);
    let mut process = bg
        .function(&[
            ("CHECKS", &checks.to_string()),
            (autopilot_shared::checks::fault::PANIC_CHECK, "policy"),
        ])
        .await;
    let run = bg
        .run_hook_of(
            &mut process,
            &bg.deployment_id,
            HOOK,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(run.status(), "Failed");
    assert_eq!(failed(&run), ["policy"]);
    assert_eq!(
        run.evidence("policy"),
        "panicked: fault injected into check policy (AUTOPILOT_FAULT_PANIC_CHECK)"
    );
    // The process survived and serves the next hook.
    let next = bg
        .run_hook_of(
            &mut process,
            &bg.deployment_id,
            "BeforeAllowTraffic",
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(next.status(), "Failed");
    assert_eq!(failed(&next), ["policy"]);
}

#[tokio::test]
async fn an_unreachable_url_fails() {
    let local = LocalAws::connect().await;
    let bg = BlueGreen::new(&local, "cdh-unreach").await;
    // Nothing listens on port 1 of the loopback address.
    let checks = json!([{"kind": "http", "name": "http", "url": "http://127.0.0.1:1/health",
                         "attempts": 2, "intervalMs": 200}]);
    let (run, _process) = bg.run_hook(HOOK, &[("CHECKS", &checks.to_string())]).await;
    assert_eq!(run.status(), "Failed");
    let evidence = run.evidence("http");
    assert!(
        evidence.starts_with("GET http://127.0.0.1:1/health: connection failed")
            && evidence.ends_with("(attempt 2/2)"),
        "{evidence}"
    );
}

#[tokio::test]
async fn a_bad_configuration_is_reported_failed_naming_the_field() {
    let local = LocalAws::connect().await;
    let bg = BlueGreen::new(&local, "cdh-config").await;
    let checks = json!([
        {"kind": "target-health"},
        {"kind": "metric", "namespace": "AWS/ApplicationELB", "metricName": "HTTPCode_Target_5XX_Count",
         "comparison": "<", "threshold": "five"},
    ]);
    let (run, mut process) = bg.run_hook(HOOK, &[("CHECKS", &checks.to_string())]).await;
    assert_eq!(run.status(), "Failed");
    let reason = run.response()["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("bad configuration: invalid environment variable CHECKS[1].threshold: invalid type: string \"five\""),
        "{reason}"
    );
    let logs = process.finish_logs().await;
    assert!(logs.contains("CHECKS[1].threshold"), "{logs}");
}

#[tokio::test]
async fn an_unknown_deployment_is_refused_as_invalid_input() {
    let local = LocalAws::connect().await;
    let deployment_id = format!("d-{}", unique("x").to_uppercase().replace('-', ""));
    let mut process = start_function(
        &local,
        "codedeploy-hook",
        REGION,
        &[("HOOK", "AfterInstall"), ("AWS_MAX_ATTEMPTS", "1")],
    )
    .await;
    // No deployment, so no execution id was ever issued: CodeDeploy refuses
    // the deployment before it looks at the id, and no retry can change it.
    let outcome = process
        .invoke(json!({
            "DeploymentId": deployment_id,
            "LifecycleEventHookExecutionId": "eyJleGFtcGxlIjoxfQ==",
        }))
        .await;
    let (error_type, message) = outcome.error();
    assert_eq!(error_type, "InvalidInput", "{message}");
    assert!(
        message.starts_with(&format!(
            "failed to report Failed for deployment {deployment_id}"
        )),
        "{message}"
    );
    let statuses = local.hook_statuses(&deployment_id).await;
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(statuses[0].status, "Failed");
    assert_eq!(
        statuses[0].error.as_deref(),
        Some("DeploymentDoesNotExistException")
    );
    let logs = process.finish_logs().await;
    assert!(logs.contains("failed to get deployment"), "{logs}");
}

#[tokio::test]
async fn dry_run_reports_succeeded_and_logs_the_failed_verdict() {
    let local = LocalAws::connect().await;
    let bg = BlueGreen::new(&local, "cdh-dry").await;
    bg.app.set_mode(Mode::Broken);
    let (run, mut process) = bg.run_hook(HOOK, &[("DRY_RUN", "true")]).await;
    assert_eq!(
        run.status(),
        "Succeeded",
        "a dry run never blocks a deployment"
    );
    assert_eq!(run.response()["verdict"], "Failed");
    assert_eq!(run.response()["dryRun"], true);
    let logs = process.finish_logs().await;
    assert!(
        logs.lines()
            .any(|l| l.contains("verdict=\"Failed\"") && l.contains("dry_run=true")),
        "{logs}"
    );
}

#[tokio::test]
async fn a_bake_samples_until_the_window_ends_and_fails_fast() {
    let local = LocalAws::connect().await;
    let bg = BlueGreen::new(&local, "cdh-bake").await;
    let plan = json!({
        "checks": [{"kind": "http", "name": "http", "listener": "test", "path": "/health", "timeoutSeconds": 2}],
        "bakeSeconds": 3,
        "bakeIntervalSeconds": 0.5,
    });
    let mut process = bg.function(&[("CHECKS", &plan.to_string())]).await;
    let run = bg
        .run_hook_of(
            &mut process,
            &bg.deployment_id,
            HOOK,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(run.status(), "Succeeded");
    // Samples at 0, 0.5, ... 3 s: 7, fewer only if a sample overran its interval.
    let samples = run.response()["samples"].as_u64().unwrap();
    assert!((5..=7).contains(&samples), "{}", run.response());
    assert!(run.elapsed >= Duration::from_secs(3));
    assert!(
        run.response()["reason"]
            .as_str()
            .unwrap()
            .ends_with(&format!("(baked 3 s, {samples} samples)")),
        "{}",
        run.response()
    );

    // The app breaks a second into the next bake: the hook fails at once.
    let breaker = async {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        bg.app.set_mode(Mode::Broken);
    };
    let (run, ()) = tokio::join!(
        bg.run_hook_of(
            &mut process,
            &bg.deployment_id,
            "AfterAllowTraffic",
            Duration::from_secs(30)
        ),
        breaker
    );
    assert_eq!(run.status(), "Failed");
    // Failing fast shows in the samples taken, not in a time limit (which
    // would measure the machine): fewer than the 7 of a whole bake.
    let samples = run.response()["samples"].as_u64().unwrap();
    assert!(samples < 7, "{}", run.response());
    let reason = run.response()["reason"].as_str().unwrap().to_owned();
    assert!(reason.contains("into the 3 s bake"), "{reason}");
}

#[tokio::test]
async fn a_redelivered_event_reports_again_and_succeeds() {
    let local = LocalAws::connect().await;
    let bg = BlueGreen::new(&local, "cdh-twice").await;
    let mut process = bg.function(&[]).await;
    let execution_id = local
        .start_lifecycle_hook(&bg.deployment_id, "AfterInstall")
        .await;
    let event = json!({
        "DeploymentId": bg.deployment_id,
        "LifecycleEventHookExecutionId": execution_id,
    });
    let first = process.invoke(event.clone()).await.response();
    assert_eq!(first["status"], "Succeeded");
    assert_eq!(first["alreadyReported"], false);
    // Lambda may deliver an asynchronous event twice.
    let second = process.invoke(event).await.response();
    assert_eq!(second["alreadyReported"], true, "{second}");
    let statuses = local.hook_statuses(&bg.deployment_id).await;
    let errors: Vec<Option<&str>> = statuses.iter().map(|s| s.error.as_deref()).collect();
    assert_eq!(
        errors,
        [None, Some("LifecycleEventAlreadyCompletedException")],
        "one report per invocation"
    );
}

#[tokio::test]
async fn malformed_events_are_invalid_input_and_report_nothing() {
    let local = LocalAws::connect().await;
    let mut process = start_function(&local, "codedeploy-hook", REGION, &[]).await;
    let (error_type, message) = process.invoke(json!({"DeploymentId": 7})).await.error();
    assert_eq!(error_type, "InvalidInput");
    assert!(message.contains("DeploymentId"), "{message}");
    let (error_type, message) = process
        .invoke(json!({"DeploymentId": "d-NOPE", "LifecycleEventHookExecutionId": ""}))
        .await
        .error();
    assert_eq!(error_type, "InvalidInput");
    assert!(
        message.contains("LifecycleEventHookExecutionId"),
        "{message}"
    );
    assert!(local.hook_statuses("d-NOPE").await.is_empty());
    let (error_type, message) = process.invoke(json!([])).await.error();
    assert_eq!(error_type, "InvalidInput", "{message}");
    assert!(
        message.starts_with("malformed CodeDeploy lifecycle hook event: .: ")
            && message.contains("expected struct CodeDeployLifecycleEvent"),
        "{message}"
    );
}

#[tokio::test]
async fn the_demo_story_runs_healthy_then_broken() {
    let local = LocalAws::connect().await;
    autopilot_tests::stories::codedeploy::run(
        &local,
        &autopilot_tests::harness::timeline::Timeline::new(),
    )
    .await;
}

/// CodeDeploy accepts a report only for an execution it started: an id
/// never issued (here the sample event's, made up) is refused with
/// `InvalidLifecycleEventHookExecutionIdException`, and the invocation fails
/// as any failed report does.
#[tokio::test]
async fn an_execution_id_codedeploy_never_issued_is_refused() {
    let local = LocalAws::connect().await;
    let bg = BlueGreen::new(&local, "cdh-unissued").await;
    local
        .start_lifecycle_hook(&bg.deployment_id, "AfterInstall")
        .await;
    let mut process = bg
        .function(&[("CHECKS", "[]"), ("AWS_MAX_ATTEMPTS", "1")])
        .await;
    let mut event = sample_event("codedeploy-hook/after-allow-test-traffic.json");
    event["DeploymentId"] = json!(bg.deployment_id);
    let made_up = event["LifecycleEventHookExecutionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (error_type, message) = process.invoke(event).await.error();
    // CodeDeploy refused the event's id: a retry cannot help.
    assert_eq!(error_type, "InvalidInput", "{message}");
    assert!(
        message.starts_with(&format!(
            "failed to report Succeeded for deployment {}",
            bg.deployment_id
        )) && message.contains("InvalidLifecycleEventHookExecutionIdException"),
        "{message}"
    );
    let statuses = local.hook_statuses(&bg.deployment_id).await;
    let recorded: Vec<(&str, &str, Option<&str>)> = statuses
        .iter()
        .map(|s| {
            (
                s.lifecycle_event_hook_execution_id.as_str(),
                s.status.as_str(),
                s.error.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        recorded,
        [(
            made_up.as_str(),
            "Succeeded",
            Some("InvalidLifecycleEventHookExecutionIdException")
        )]
    );
}

/// The replacement target group is the one of the pair the service does not
/// route to, whichever order the deployment group lists them in: with green
/// first and the service's blue second, the checks look at green (which has
/// the targets; blue has none).
#[tokio::test]
async fn a_swapped_target_group_pair_checks_the_first_as_replacement() {
    let local = LocalAws::connect().await;
    let bg = BlueGreen::new(&local, "cdh-swapped").await;
    let deployment = bg.deploy_with_swapped_pair().await;
    let checks = json!([{"kind": "target-health", "name": "targets", "minHealthy": 2}]);
    let mut process = bg
        .function(&[("CHECKS", &checks.to_string()), ("AWS_MAX_ATTEMPTS", "1")])
        .await;
    let run = bg
        .run_hook_of(
            &mut process,
            &deployment,
            "AfterInstall",
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(run.status(), "Succeeded", "{:?}", run.outcome);
    let green = target_group_name(&bg.env.green_target_group_arn);
    assert_eq!(
        run.evidence("targets"),
        format!("{green}: 2/2 targets healthy (minHealthy 2)")
    );
}

/// When the deployment group's ECS service cannot be found, CodeDeploy has
/// no such deployment target (`DeploymentTargetDoesNotExistException`): the
/// hook still reports `Failed`, with a reason naming the target, before its
/// deadline; whether it asked for the hook in progress or ran a check that
/// needed the target.
#[tokio::test]
async fn a_deployment_whose_service_is_gone_is_reported_failed_naming_the_target() {
    let local = LocalAws::connect().await;
    let bg = BlueGreen::new(&local, "cdh-gone").await;
    aws_sdk_ecs::Client::new(&bg.sdk)
        .delete_service()
        .cluster(&bg.env.names.cluster)
        .service(&bg.env.names.service)
        .force(true)
        .send()
        .await
        .unwrap();
    let target = format!("{}:{}", bg.env.names.cluster, bg.env.names.service);
    let deadline = Duration::from_secs(10);
    let checks = json!([{"kind": "target-health", "name": "targets"}]).to_string();
    for vars in [
        vec![("AWS_MAX_ATTEMPTS", "1")],
        vec![
            ("AWS_MAX_ATTEMPTS", "1"),
            ("HOOK", "AfterInstall"),
            ("CHECKS", &checks),
        ],
    ] {
        let mut process = bg.function(&vars).await;
        let run = bg
            .run_hook_of(&mut process, &bg.deployment_id, "AfterInstall", deadline)
            .await;
        assert!(run.elapsed < deadline, "answered after {:?}", run.elapsed);
        assert_eq!(run.status(), "Failed", "{vars:?}: {:?}", run.outcome);
        let reason = run.response()["reason"].as_str().unwrap();
        assert!(
            reason.contains(&format!("deployment target {target} of deployment"))
                && reason.contains("DeploymentTargetDoesNotExistException"),
            "{vars:?}: {reason}"
        );
    }
}

#[tokio::test]
async fn calendar_fails_alone_during_a_freeze() {
    use autopilot_tests::harness::calendar;
    let h = Healthy::new("cdh-calendar").await;
    let frozen = format!("{}-frozen", h.bg.env.names.prefix);
    calendar::create(
        &h.bg.sdk,
        &frozen,
        &calendar::content(calendar::Default::Closed, &[]),
    )
    .await;
    let checks = json!([
        {"kind": "target-health", "name": "targets", "minHealthy": 2},
        {"kind": "calendar", "name": "freeze", "calendars": [frozen]},
    ]);
    let run = h.run_checks(&checks, &[]).await;
    assert_eq!(run.status(), "Failed");
    assert_eq!(failed(&run), ["freeze"]);
    assert_eq!(
        run.evidence("freeze"),
        format!("calendar {frozen} is CLOSED")
    );
}
