//! ecs-deployment-hook, end to end: the real binary invoked the way ECS
//! invokes a lifecycle hook, against the local AWS (with the harness's
//! DescribeServiceDeployments and DescribeServiceRevisions), each test
//! asserting the answer: always a valid `hookStatus`, never a function error.

use std::time::Duration;

use autopilot_tests::LocalAws;
use autopilot_tests::harness::app::Mode;
use autopilot_tests::stories::ecs_native::{NativeBlueGreen, STAGES, StageRun};
use serde_json::{Value, json};

use crate::iam::assert_calls_declared;

/// No extra action between invocations.
async fn nothing(_: &StageRun) {}

#[tokio::test]
async fn every_stage_passes_with_the_defaults_through_the_service_revisions() {
    let local = LocalAws::connect().await;
    let bg = NativeBlueGreen::new(&local, "ecs-hook-stages").await;
    let mut process = bg.function(&[]).await;
    let expected: [(&str, &[&str]); 8] = [
        ("RECONCILE_SERVICE", &[]),
        ("PRE_SCALE_UP", &["task-definition"]),
        ("POST_SCALE_UP", &["target-health replacement"]),
        ("TEST_TRAFFIC_SHIFT", &[]),
        (
            "POST_TEST_TRAFFIC_SHIFT",
            &["http GET /health via test listener"],
        ),
        (
            "PRE_PRODUCTION_TRAFFIC_SHIFT",
            &["target-health replacement"],
        ),
        ("PRODUCTION_TRAFFIC_SHIFT", &[]),
        (
            "POST_PRODUCTION_TRAFFIC_SHIFT",
            &["http GET /health via production listener"],
        ),
    ];
    assert_eq!(expected.map(|(s, _)| s), STAGES);
    for (stage, checks) in expected {
        let runs = bg
            .run_stage(&mut process, stage, Value::Null, nothing)
            .await;
        assert_eq!(runs.len(), 1, "{stage}: one invocation");
        let run = &runs[0];
        assert_eq!(run.status(), "SUCCEEDED", "{stage}: {}", run.reason());
        assert_eq!(run.checks(), checks, "{stage}");
        assert!(run.answer().get("callBackDelay").is_none());
        assert_eq!(run.answer()["hookDetails"]["verdict"]["stage"], stage);
    }
    // The green target group is the alternate one the new revision serves,
    // and the http checks went through the load balancer's name.
    let health = runs_evidence(&bg, &mut process, "POST_SCALE_UP").await;
    assert!(health.contains("2/2 targets healthy"), "{health}");
    assert!(
        bg.app
            .hosts()
            .iter()
            .any(|h| h.starts_with(&bg.env.load_balancer_dns)),
        "{:?}",
        bg.app.hosts()
    );
    let calls = local.calls_of(&process).await;
    for call in [
        "ecs:DescribeServiceRevisions",
        "ecs:DescribeTaskDefinition",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:DescribeListeners",
    ] {
        assert!(calls.contains_key(call), "{call} in {calls:?}");
    }
    assert_calls_declared(&local, &process, ecs_deployment_hook::IAM_ACTIONS).await;
}

async fn runs_evidence(
    bg: &NativeBlueGreen,
    process: &mut autopilot_tests::LambdaProcess,
    stage: &str,
) -> String {
    let runs = bg.run_stage(process, stage, Value::Null, nothing).await;
    runs[0].answer()["hookDetails"]["verdict"]["checks"][0]["evidence"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn post_scale_up_answers_in_progress_until_the_green_targets_are_healthy() {
    let local = LocalAws::connect().await;
    let bg = NativeBlueGreen::without_targets(&local, "ecs-hook-wait").await;
    let mut process = bg.function(&[]).await;
    let details = json!({"callBackDelaySeconds": 1, "healthPath": "/health"});
    let mut looks = 0;
    let runs = bg
        .run_stage(
            &mut process,
            "POST_SCALE_UP",
            details,
            async |run: &StageRun| {
                looks += 1;
                let answer = run.answer();
                assert_eq!(answer["callBackDelay"], 1);
                // The configuration survives the round trip, with the progress.
                assert_eq!(answer["hookDetails"]["callBackDelaySeconds"], 1);
                assert_eq!(answer["hookDetails"]["healthPath"], "/health");
                assert_eq!(answer["hookDetails"]["progress"]["invocations"], looks);
                assert!(run.reason().starts_with("waiting, "), "{}", run.reason());
                if looks == 2 {
                    bg.register_green_targets().await;
                }
            },
        )
        .await;
    assert_eq!(runs.len(), 3, "two looks waiting, then healthy");
    let last = runs.last().unwrap();
    assert_eq!(last.status(), "SUCCEEDED", "{}", last.reason());
    assert_eq!(last.answer()["hookDetails"]["progress"]["invocations"], 3);
}

#[tokio::test]
async fn a_wait_that_runs_out_fails_with_the_last_evidence() {
    let local = LocalAws::connect().await;
    let bg = NativeBlueGreen::without_targets(&local, "ecs-hook-waitout").await;
    let mut process = bg.function(&[]).await;
    let details = json!({
        "callBackDelaySeconds": 1,
        "checks": {"POST_SCALE_UP": {"checks": [{"kind": "target-health"}], "waitSeconds": 2}},
    });
    let runs = bg
        .run_stage(&mut process, "POST_SCALE_UP", details, nothing)
        .await;
    let last = runs.last().unwrap();
    assert_eq!(last.status(), "FAILED");
    assert!(
        last.reason().starts_with("still failing after") && last.reason().contains("waitSeconds 2"),
        "{}",
        last.reason()
    );
    assert!(runs.len() >= 2, "it waited: {} invocations", runs.len());
}

#[tokio::test]
async fn a_bake_spans_invocations_and_fails_fast_on_a_bad_look() {
    let local = LocalAws::connect().await;
    let bg = NativeBlueGreen::new(&local, "ecs-hook-bake").await;
    let mut process = bg.function(&[]).await;
    let details = json!({
        "checks": {"POST_PRODUCTION_TRAFFIC_SHIFT": {
            "checks": [{"kind": "http", "listener": "production", "path": "/health"}],
            "bakeSeconds": 2, "bakeIntervalSeconds": 1,
        }},
    });
    let runs = bg
        .run_stage(
            &mut process,
            "POST_PRODUCTION_TRAFFIC_SHIFT",
            details.clone(),
            nothing,
        )
        .await;
    let last = runs.last().unwrap();
    assert_eq!(last.status(), "SUCCEEDED", "{}", last.reason());
    assert!(last.reason().starts_with("baked 2 s"), "{}", last.reason());
    assert!(runs.len() >= 3, "{} invocations", runs.len());
    for run in &runs[..runs.len() - 1] {
        assert_eq!(run.status(), "IN_PROGRESS");
        assert!(run.reason().starts_with("baking"), "{}", run.reason());
    }

    // The app breaks after the first passing look: the bake fails at once.
    let runs = bg
        .run_stage(
            &mut process,
            "POST_PRODUCTION_TRAFFIC_SHIFT",
            details,
            async |_: &StageRun| bg.app.set_mode(Mode::Broken),
        )
        .await;
    assert_eq!(runs.len(), 2);
    let last = runs.last().unwrap();
    assert_eq!(last.status(), "FAILED");
    // The second look came about a second (the bake interval) after the
    // first: how long exactly depends on the machine.
    let reason = last.reason();
    assert!(
        reason.starts_with("failed during the bake, 1")
            && reason.contains(" s in, after 1 passing looks: "),
        "{reason}"
    );
}

#[tokio::test]
async fn an_execution_past_its_total_limit_fails_without_calling_aws() {
    let local = LocalAws::connect().await;
    let bg = NativeBlueGreen::new(&local, "ecs-hook-maxwait").await;
    let mut process = bg.function(&[("MAX_WAIT_SECONDS", "60")]).await;
    let started_at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        - 61_000;
    // A progress is resumed by the deployment and the stage, whatever the
    // executionId (ECS does not document that it stays the same).
    let details = json!({
        "progress": {"executionId": "late-0", "deployment": bg.deployment_arn(),
                     "stage": "POST_SCALE_UP", "startedAtMs": started_at_ms, "invocations": 7},
    });
    let event = bg.event("POST_SCALE_UP", "late-1", details, false).await;
    let run = bg
        .invoke(&mut process, event, Duration::from_secs(30))
        .await;
    assert_eq!(run.status(), "FAILED");
    assert!(
        run.reason().starts_with("gave up after 61")
            && run
                .reason()
                .ends_with(" s and 7 invocations (maxWaitSeconds 60)"),
        "{}",
        run.reason()
    );
    assert!(local.calls_of(&process).await.is_empty());
}

#[tokio::test]
async fn a_rollback_is_never_blocked() {
    let local = LocalAws::connect().await;
    let bg = NativeBlueGreen::new(&local, "ecs-hook-rollback").await;
    bg.app.set_mode(Mode::Broken);
    let mut process = bg.function(&[]).await;
    let details = json!({
        "checks": {"TEST_TRAFFIC_SHIFT": [{"kind": "http", "listener": "test", "path": "/health"}]},
    });
    // Going forward, the broken green revision fails the stage.
    let event = bg
        .event("TEST_TRAFFIC_SHIFT", "fwd-1", details.clone(), false)
        .await;
    let run = bg
        .invoke(&mut process, event, Duration::from_secs(30))
        .await;
    assert_eq!(run.status(), "FAILED", "{}", run.reason());

    // ECS rolls back and invokes the stage again, weights reversed: the
    // guide's way to recognise a rollback, first, without checks.
    let event = bg
        .event("TEST_TRAFFIC_SHIFT", "back-1", details.clone(), true)
        .await;
    let run = bg
        .invoke(&mut process, event, Duration::from_secs(30))
        .await;
    assert_eq!(run.status(), "SUCCEEDED", "{}", run.reason());
    assert_eq!(run.answer()["hookDetails"]["verdict"]["rollback"], true);
    assert!(
        run.reason()
            .starts_with("ECS is rolling the deployment back (the test traffic weights are reversed: 0% to the target revision, 100% to the others)"),
        "{}",
        run.reason()
    );
    assert!(run.checks().is_empty(), "no checks run during a rollback");

    // Second, the deployment's status: a rollback whatever the weights.
    local
        .update_service_deployment(
            &bg.deployment_arn(),
            json!({"status": "ROLLBACK_IN_PROGRESS",
                   "rollback": {"reason": "hook failed", "serviceRevisionArn": bg.source_revision()}}),
        )
        .await;
    let event = bg
        .event("TEST_TRAFFIC_SHIFT", "back-2", details.clone(), false)
        .await;
    let run = bg
        .invoke(&mut process, event, Duration::from_secs(30))
        .await;
    assert_eq!(run.status(), "SUCCEEDED", "{}", run.reason());
    assert_eq!(run.answer()["hookDetails"]["verdict"]["rollback"], true);
    assert!(
        run.reason().starts_with(
            "ECS is rolling the deployment back (status ROLLBACK_IN_PROGRESS, reason: hook failed)"
        ),
        "{}",
        run.reason()
    );
    assert!(run.checks().is_empty(), "no checks run during a rollback");

    // Neither the weights nor the (unreadable) deployment say: the hook
    // neither fails a possible rollback nor passes an unchecked shift.
    let mut forward = bg
        .event("TEST_TRAFFIC_SHIFT", "fwd-2", details, false)
        .await;
    forward["resourceArn"] = json!(format!("{}-gone", bg.deployment_arn()));
    let run = bg
        .invoke(&mut process, forward, Duration::from_secs(30))
        .await;
    assert_eq!(run.status(), "IN_PROGRESS", "{}", run.reason());
    assert!(
        run.reason()
            .contains("cannot tell whether ECS is rolling the deployment back"),
        "{}",
        run.reason()
    );
    assert!(
        run.checks().is_empty(),
        "nothing checked against an unknown rollback"
    );
}

#[tokio::test]
async fn every_failure_is_a_failed_answer_with_its_reason() {
    let local = LocalAws::connect().await;
    let bg = NativeBlueGreen::new(&local, "ecs-hook-faults").await;
    let http = json!({"checks": [{"kind": "http", "listener": "test", "path": "/health", "timeoutSeconds": 60}]});
    struct Case {
        label: &'static str,
        vars: Vec<(&'static str, String)>,
        event: Value,
        deadline: Duration,
        reason: &'static str,
    }
    let stage = "POST_TEST_TRAFFIC_SHIFT";
    let mut bad_revision = bg.event(stage, "e-5", Value::Null, false).await;
    bad_revision["executionDetails"]["targetServiceRevisionArn"] =
        json!(format!("{}9", bg.target_revision()));
    let cases = vec![
        Case {
            label: "bad CHECKS",
            vars: vec![("CHECKS", r#"[{"kind": "http", "listener": "blue"}]"#.into())],
            event: bg.event(stage, "e-1", Value::Null, false).await,
            deadline: Duration::from_secs(30),
            reason: "bad configuration: invalid CHECKS[0].listener",
        },
        Case {
            label: "malformed event",
            vars: vec![],
            event: json!({"executionId": "e-2", "lifecycleStage": stage}),
            deadline: Duration::from_secs(30),
            reason: "malformed ECS lifecycle hook event",
        },
        Case {
            label: "unknown hookDetails key",
            vars: vec![],
            event: bg.event(stage, "e-3", json!({"check": []}), false).await,
            deadline: Duration::from_secs(30),
            reason: "invalid hookDetails.check: unknown key",
        },
        Case {
            label: "panic in a check",
            vars: vec![(
                "AUTOPILOT_FAULT_PANIC_CHECK",
                "http GET /health via test listener".into(),
            )],
            event: bg.event(stage, "e-4", Value::Null, false).await,
            deadline: Duration::from_secs(30),
            reason: "panicked: fault injected into check",
        },
        Case {
            label: "AWS error",
            vars: vec![],
            event: bad_revision,
            deadline: Duration::from_secs(30),
            reason: "not found",
        },
        Case {
            label: "panic in the hook",
            vars: vec![("AUTOPILOT_FAULT_PANIC_STAGE", stage.into())],
            event: bg.event(stage, "e-6", Value::Null, false).await,
            deadline: Duration::from_secs(30),
            reason: "the hook panicked: fault injected at stage POST_TEST_TRAFFIC_SHIFT",
        },
        Case {
            label: "deadline",
            vars: vec![],
            event: bg.event(stage, "e-7", http, false).await,
            deadline: Duration::from_secs(6),
            reason: "no response within",
        },
    ];
    for case in cases {
        if case.label == "deadline" {
            bg.app.set_mode(Mode::Hang);
        }
        let vars: Vec<(&str, &str)> = case.vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut process = bg.function(&vars).await;
        let run = bg.invoke(&mut process, case.event, case.deadline).await;
        assert_eq!(run.status(), "FAILED", "{}: {}", case.label, run.reason());
        assert!(
            run.answer().to_string().contains(case.reason),
            "{}: {} lacks {:?}",
            case.label,
            run.answer(),
            case.reason
        );
        assert!(
            run.elapsed < case.deadline,
            "{}: answered in time",
            case.label
        );
    }
}

#[tokio::test]
async fn a_dry_run_reports_what_it_would_answer_and_succeeds() {
    let local = LocalAws::connect().await;
    let bg = NativeBlueGreen::new(&local, "ecs-hook-dryrun").await;
    bg.app.set_mode(Mode::Broken);
    let mut process = bg.function(&[("DRY_RUN", "true")]).await;
    let event = bg
        .event("POST_TEST_TRAFFIC_SHIFT", "d-1", Value::Null, false)
        .await;
    let run = bg
        .invoke(&mut process, event, Duration::from_secs(30))
        .await;
    assert_eq!(run.status(), "SUCCEEDED");
    assert_eq!(run.answer()["hookDetails"]["verdict"]["dryRun"], true);
    assert!(
        run.reason()
            .starts_with("dry run, answering SUCCEEDED; the hook would answer FAILED: "),
        "{}",
        run.reason()
    );
    let logs = process.finish_logs().await;
    assert!(logs.contains("the hook would answer FAILED"), "{logs}");

    // One rule whatever gives the answer: a panic, or time running out,
    // never blocks a dry run either.
    let mut panicking = bg
        .function(&[
            ("DRY_RUN", "true"),
            ("AUTOPILOT_FAULT_PANIC_STAGE", "POST_TEST_TRAFFIC_SHIFT"),
        ])
        .await;
    let event = bg
        .event("POST_TEST_TRAFFIC_SHIFT", "d-2", Value::Null, false)
        .await;
    let run = bg
        .invoke(&mut panicking, event, Duration::from_secs(30))
        .await;
    assert_eq!(run.status(), "SUCCEEDED", "{}", run.reason());
    assert_eq!(run.answer()["hookDetails"]["verdict"]["dryRun"], true);
    assert!(
        run.reason().starts_with(
            "dry run, answering SUCCEEDED; the hook would answer FAILED: the hook panicked"
        ),
        "{}",
        run.reason()
    );
}

#[tokio::test]
async fn the_sample_event_gets_an_answer() {
    let local = LocalAws::connect().await;
    let mut process = autopilot_tests::start_function(
        &local,
        "ecs-deployment-hook",
        autopilot_tests::harness::localaws::REGION,
        &[],
    )
    .await;
    let run = process
        .invoke(autopilot_tests::sample_event(
            "ecs-deployment-hook/post-test-traffic-shift.json",
        ))
        .await
        .response();
    // The sample's service does not exist here: the check fails, with the
    // evidence, and the answer is still a valid FAILED.
    assert_eq!(run["hookStatus"], "FAILED", "{run}");
    assert_eq!(
        run["hookDetails"]["verdict"]["checks"][0]["name"],
        "http GET /ready via test listener"
    );
    assert_eq!(run["hookDetails"]["healthPath"], "/ready");
}

/// The deployment's revisions come from `DescribeServiceDeployments`, never
/// from the event's weight keys (the guide's `POST_SCALE_UP` payload carries
/// `{}`): with the target revision not resolved yet, the source revision ECS
/// names tells which target group is green. With neither resolved, the
/// evidence says that ECS has not resolved it yet, and `POST_SCALE_UP`,
/// whose plan waits, answers `IN_PROGRESS` rather than guess.
#[tokio::test]
async fn the_revisions_come_from_the_service_deployment_and_unresolved_is_said() {
    let local = LocalAws::connect().await;
    let bg = NativeBlueGreen::new(&local, "ecs-hook-unresolved").await;
    let green = bg.replacement_target_group().await;
    let green_name = green
        .split('/')
        .nth(1)
        .expect("a target group ARN names the group")
        .to_owned();
    let mut process = bg.function(&[]).await;
    local
        .update_service_deployment(&bg.deployment_arn(), json!({"unresolved": ["target"]}))
        .await;
    let details = json!({"callBackDelaySeconds": 1});
    let event = bg
        .event("POST_SCALE_UP", "unresolved-1", details.clone(), false)
        .await;
    assert_eq!(
        event["executionDetails"]["testTrafficWeights"],
        json!({}),
        "the guide's POST_SCALE_UP payload: {event}"
    );
    assert_eq!(
        event["executionDetails"]["productionTrafficWeights"],
        json!({})
    );
    let run = bg
        .invoke(&mut process, event, Duration::from_secs(30))
        .await;
    assert_eq!(run.status(), "SUCCEEDED", "{}", run.reason());
    let evidence = run.answer()["hookDetails"]["verdict"]["checks"][0]["evidence"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        evidence.starts_with(&format!("{green_name}: 2/2 targets healthy")),
        "{evidence}"
    );

    local
        .update_service_deployment(&bg.deployment_arn(), json!({"unresolved": ["sources"]}))
        .await;
    let event = bg
        .event("POST_SCALE_UP", "unresolved-2", details, false)
        .await;
    let run = bg
        .invoke(&mut process, event, Duration::from_secs(30))
        .await;
    assert_eq!(run.status(), "IN_PROGRESS", "{}", run.reason());
    assert!(
        run.reason().contains("ECS has not resolved it yet"),
        "{}",
        run.reason()
    );
}

/// A local runtime such as `cargo lambda watch` sends a fixed deadline of
/// 600000 ms after 1970: not a real budget. The hook says so in its log and
/// looks at its checks within its own budget instead of answering at once
/// that time ran out.
#[tokio::test]
async fn a_deadline_already_past_on_arrival_is_not_taken_for_the_budget() {
    let local = LocalAws::connect().await;
    let bg = NativeBlueGreen::new(&local, "ecs-hook-watch").await;
    let mut process = bg.function(&[]).await;
    let event = bg
        .event("POST_SCALE_UP", "watch-1", Value::Null, false)
        .await;
    let answer = process
        .invoke_with_past_deadline(event, Duration::from_secs(40))
        .await
        .response();
    assert_eq!(answer["hookStatus"], "SUCCEEDED", "{answer}");
    let evidence = &answer["hookDetails"]["verdict"]["checks"][0]["evidence"];
    assert!(
        evidence
            .as_str()
            .unwrap_or_default()
            .contains("2/2 targets healthy"),
        "{answer}"
    );
    let logs = process.finish_logs().await;
    assert!(
        logs.contains("the invocation's deadline had passed when it arrived"),
        "{logs}"
    );
}

/// The `calendar` check: a deployment started by hand during a freeze
/// fails at its first stage, naming the closed calendar; an open one passes.
#[tokio::test]
async fn a_deployment_during_a_freeze_fails_its_calendar_check() {
    use autopilot_tests::harness::calendar;
    let local = LocalAws::connect().await;
    let bg = NativeBlueGreen::new(&local, "ecs-hook-calendar").await;
    let frozen = format!("{}-frozen", bg.env.names.prefix);
    let open = format!("{}-open", bg.env.names.prefix);
    calendar::create(
        &bg.sdk,
        &frozen,
        &calendar::content(calendar::Default::Closed, &[]),
    )
    .await;
    calendar::create(
        &bg.sdk,
        &open,
        &calendar::content(calendar::Default::Open, &[]),
    )
    .await;
    let mut process = bg.function(&[]).await;
    let stage = |calendars: Value| json!({"checks": {"PRE_SCALE_UP": {"checks": [{"kind": "calendar", "calendars": calendars}]}}});

    let runs = bg
        .run_stage(
            &mut process,
            "PRE_SCALE_UP",
            stage(json!([open, frozen])),
            nothing,
        )
        .await;
    let run = runs.last().unwrap();
    assert_eq!(run.status(), "FAILED", "{}", run.answer());
    assert!(
        run.reason()
            .contains(&format!("calendar {frozen} is CLOSED")),
        "{}",
        run.reason()
    );
    let runs = bg
        .run_stage(&mut process, "PRE_SCALE_UP", stage(json!([open])), nothing)
        .await;
    let run = runs.last().unwrap();
    assert_eq!(run.status(), "SUCCEEDED", "{}", run.answer());
    assert_eq!(run.checks(), [format!("calendar {open}")]);
    assert_calls_declared(&local, &process, ecs_deployment_hook::IAM_ACTIONS).await;
}
