//! ecs-deployment-hook through whole ECS native deployments, ECS's side
//! played by the local AWS's deployment driver (`tests/localaws/ecs_deployments.py`,
//! which models the ECS developer guide: "Lambda hooks for Amazon ECS
//! service deployments", lambda-lifecycle-hooks.html; "Lifecycle hooks for
//! Amazon ECS service deployments", deployment-lifecycle-hooks.html; "Amazon
//! ECS linear deployments", deployment-type-linear.html; "Amazon ECS canary
//! deployments", deployment-type-canary.html): the stages in order, each
//! stage's payload and weights as the guide shows them (doubles, fractional
//! during canary and linear steps), the re-invocations after `callBackDelay`
//! with the `hookDetails` handed back, and the rollback re-invoking the
//! traffic-shift hooks with the weights reversed. The tests assert what the
//! guide documents, and nothing it leaves open (whether `executionId` stays
//! the same across re-invocations, merge or replace of `hookDetails`: both
//! ways are run).

use std::collections::BTreeSet;

use autopilot_tests::harness::app::Mode;
use autopilot_tests::stories::ecs_native::{
    LifecycleHook, NativeBlueGreen, Rollout, STAGES, StageRun, verdicts,
};
use autopilot_tests::{LocalAws, Outcome, harness::localaws::REGION, sample_event, start_function};
use serde_json::{Map, Value, json};

/// The hook's configuration in every test: a quick look again while waiting.
fn quick() -> Value {
    json!({"callBackDelaySeconds": 1})
}

/// The fixture of `stage` (the guide's example payload for it).
fn fixture(stage: &str) -> Value {
    sample_event(&format!(
        "ecs-deployment-hook/{}.json",
        stage.to_lowercase().replace('_', "-")
    ))
}

/// The weights of `member` as (target share, other share) when both are
/// there, `None` when the map is empty; every value must be a JSON number.
fn shares(event: &Value, member: &str) -> Option<(f64, f64)> {
    let details = &event["executionDetails"];
    let weights = details[member]
        .as_object()
        .unwrap_or_else(|| panic!("{member} is a map: {event}"));
    if weights.is_empty() {
        return None;
    }
    let target = details["targetServiceRevisionArn"]
        .as_str()
        .expect("target");
    assert_eq!(
        weights.len(),
        2,
        "{member}: the target and the source: {event}"
    );
    let number = |value: &Value| {
        value
            .as_f64()
            .unwrap_or_else(|| panic!("{member}: a weight is a number: {event}"))
    };
    let green = number(weights.get(target).expect("the target's weight"));
    let blue = weights
        .iter()
        .find(|(arn, _)| arn.as_str() != target)
        .map(|(_, w)| number(w))
        .expect("the other revision's weight");
    Some((green, blue))
}

/// `weights` as `{target: green, source: blue}` of `bg`'s deployment.
fn split(bg: &NativeBlueGreen, green: f64, blue: f64) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(bg.target_revision(), json!(green));
    map.insert(bg.source_revision(), json!(blue));
    map
}

/// Every weight in the event is written as a double (`100.0`, `2.5`).
fn assert_doubles(run: &StageRun) {
    for weights in [run.test_weights(), run.production_weights()] {
        for (arn, weight) in weights {
            assert!(
                weight.is_f64(),
                "{}: {arn}: {weight} is a double",
                run.stage
            );
        }
    }
}

/// Every run answered a valid `hookStatus`, never a function error.
fn assert_answered(runs: &[StageRun]) {
    for run in runs {
        match &run.outcome {
            Outcome::Response(answer) => assert!(
                ["SUCCEEDED", "FAILED", "IN_PROGRESS"]
                    .contains(&answer["hookStatus"].as_str().unwrap_or_default()),
                "{}: invalid hookStatus in {answer}",
                run.stage
            ),
            Outcome::Error {
                error_type,
                error_message,
            } => panic!(
                "{}: a function error ECS would roll back on: {error_type}: {error_message}",
                run.stage
            ),
        }
    }
}

fn stages(runs: &[&StageRun]) -> Vec<String> {
    runs.iter().map(|r| r.stage.clone()).collect()
}

#[tokio::test]
async fn a_blue_green_deployment_with_hooks_at_every_stage_succeeds() {
    let local = LocalAws::connect().await;
    // Two revisions active when it starts (an earlier deployment still in
    // progress): ECS runs RECONCILE_SERVICE too.
    let rollout = Rollout::blue_green()
        .superseding()
        .hook(LifecycleHook::at(&STAGES, quick()));
    let bg = NativeBlueGreen::rollout(&local, "ecs-life-bg", rollout).await;
    bg.register_green_targets().await;
    let mut process = bg.function(&[]).await;
    let runs = bg.play(&mut process, 40).await;
    assert_answered(&runs);
    let verdicts = verdicts(&runs);
    assert_eq!(
        stages(&verdicts),
        STAGES,
        "each stage's hook once, in order"
    );
    for run in &verdicts {
        assert_eq!(run.status(), "SUCCEEDED", "{}: {}", run.stage, run.reason());
        assert!(!run.rollback);
    }
    for run in &runs {
        assert_doubles(run);
        // The weights of each stage as the guide's example for it shows them.
        let guide = fixture(&run.stage);
        for member in ["testTrafficWeights", "productionTrafficWeights"] {
            assert_eq!(
                shares(&run.event, member),
                shares(&guide, member),
                "{} {member}: {}",
                run.stage,
                run.event
            );
        }
        assert_eq!(run.event["resourceArn"], bg.deployment_arn().as_str());
        assert_eq!(
            run.event["executionDetails"]["serviceArn"],
            bg.env.service_arn.as_str()
        );
        assert_eq!(
            run.event["executionDetails"]["targetServiceRevisionArn"],
            bg.target_revision().as_str()
        );
        assert_eq!(run.event["hookDetails"]["callBackDelaySeconds"], 1);
    }
    let deployment = bg.current_deployment().await;
    assert_eq!(deployment["status"], "SUCCESSFUL", "{deployment}");
    let hooks = deployment["lifecycleHookDetails"]
        .as_array()
        .expect("lifecycleHookDetails");
    assert_eq!(hooks.len(), STAGES.len(), "{hooks:?}");
    assert!(
        hooks.iter().all(|h| h["status"] == "SUCCEEDED"),
        "{hooks:?}"
    );
    // DescribeServiceDeployments through the SDK, as the function reads it.
    let described = aws_sdk_ecs::Client::new(&bg.sdk)
        .describe_service_deployments()
        .service_deployment_arns(bg.deployment_arn())
        .send()
        .await
        .expect("describe service deployments");
    let described = &described.service_deployments()[0];
    assert_eq!(described.status().map(|s| s.as_str()), Some("SUCCESSFUL"));
    assert_eq!(described.lifecycle_hook_details().len(), STAGES.len());
}

/// The production stages of a linear or canary deployment: one
/// `PRE_PRODUCTION_TRAFFIC_SHIFT` and one `PRODUCTION_TRAFFIC_SHIFT`
/// invocation per step, with the weights before and after it.
async fn production_steps(label: &str, rollout: Rollout, steps: &[f64]) {
    let local = LocalAws::connect().await;
    let rollout = rollout.hook(LifecycleHook::at(
        &[
            "PRE_PRODUCTION_TRAFFIC_SHIFT",
            "PRODUCTION_TRAFFIC_SHIFT",
            "POST_PRODUCTION_TRAFFIC_SHIFT",
        ],
        quick(),
    ));
    let bg = NativeBlueGreen::rollout(&local, label, rollout).await;
    bg.register_green_targets().await;
    let mut process = bg.function(&[]).await;
    let runs = bg.play(&mut process, 4 * steps.len() + 10).await;
    assert_answered(&runs);
    let verdicts = verdicts(&runs);
    let mut expected = Vec::new();
    let mut before = 0.0;
    for green in steps {
        expected.push((
            "PRE_PRODUCTION_TRAFFIC_SHIFT".to_owned(),
            split(&bg, before, round(100.0 - before)),
        ));
        expected.push((
            "PRODUCTION_TRAFFIC_SHIFT".to_owned(),
            split(&bg, *green, round(100.0 - green)),
        ));
        before = *green;
    }
    expected.push(("POST_PRODUCTION_TRAFFIC_SHIFT".to_owned(), Map::new()));
    let got: Vec<(String, Map<String, Value>)> = verdicts
        .iter()
        .map(|r| (r.stage.clone(), r.production_weights()))
        .collect();
    assert_eq!(
        got, expected,
        "one invocation per stage per step, the step's weights"
    );
    for run in &runs {
        assert_doubles(run);
        assert!(run.test_weights().is_empty(), "{}", run.event);
    }
    for run in &verdicts {
        assert_eq!(run.status(), "SUCCEEDED", "{}: {}", run.stage, run.reason());
    }
    let deployment = bg.current_deployment().await;
    assert_eq!(deployment["status"], "SUCCESSFUL", "{deployment}");
    assert_eq!(
        deployment["targetServiceRevision"]["requestedProductionTrafficWeight"],
        100.0
    );
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[tokio::test]
async fn a_canary_deployment_invokes_the_production_hooks_at_both_steps() {
    production_steps("ecs-life-canary", Rollout::canary(2.5), &[2.5, 100.0]).await;
}

#[tokio::test]
async fn a_linear_deployment_invokes_the_production_hooks_at_every_step() {
    let steps: Vec<f64> = (1..=8).map(|k| 12.5 * f64::from(k)).collect();
    production_steps("ecs-life-linear", Rollout::linear(12.5), &steps).await;
}

#[tokio::test]
async fn a_failing_green_revision_is_rolled_back_through_the_traffic_shift_hooks() {
    let local = LocalAws::connect().await;
    let rollout = Rollout::blue_green().hook(LifecycleHook::at(
        &[
            "TEST_TRAFFIC_SHIFT",
            "POST_TEST_TRAFFIC_SHIFT",
            "PRODUCTION_TRAFFIC_SHIFT",
        ],
        quick(),
    ));
    let bg = NativeBlueGreen::rollout(&local, "ecs-life-rollback", rollout).await;
    bg.register_green_targets().await;
    bg.app.set_mode(Mode::Broken);
    let mut process = bg.function(&[]).await;
    let runs = bg.play(&mut process, 30).await;
    assert_answered(&runs);
    let verdicts = verdicts(&runs);
    let forward: Vec<&&StageRun> = verdicts.iter().filter(|r| !r.rollback).collect();
    let back: Vec<&&StageRun> = verdicts.iter().filter(|r| r.rollback).collect();
    assert_eq!(
        forward
            .iter()
            .map(|r| (r.stage.as_str(), r.status()))
            .collect::<Vec<_>>(),
        [
            ("TEST_TRAFFIC_SHIFT", "SUCCEEDED"),
            ("POST_TEST_TRAFFIC_SHIFT", "FAILED")
        ],
        "the broken green revision fails its http check: {:?}",
        forward.last().map(|r| r.reason())
    );
    assert!(
        forward[1].checks().iter().any(|c| c.starts_with("http ")),
        "{:?}",
        forward[1].checks()
    );
    // ECS re-invokes both traffic-shift hooks, weights reversed (the order
    // of the two is not documented).
    let rolled_back: BTreeSet<&str> = back.iter().map(|r| r.stage.as_str()).collect();
    assert_eq!(
        rolled_back,
        BTreeSet::from(["PRODUCTION_TRAFFIC_SHIFT", "TEST_TRAFFIC_SHIFT"])
    );
    assert_eq!(back.len(), 2, "each once");
    for run in &back {
        let reversed = split(&bg, 0.0, 100.0);
        match run.stage.as_str() {
            "PRODUCTION_TRAFFIC_SHIFT" => assert_eq!(run.production_weights(), reversed),
            _ => assert_eq!(run.test_weights(), reversed),
        }
        assert_eq!(
            run.event["executionDetails"]["targetServiceRevisionArn"],
            bg.target_revision().as_str(),
            "the target stays the green revision"
        );
        assert_eq!(
            run.status(),
            "SUCCEEDED",
            "{}: a hook never blocks a rollback: {}",
            run.stage,
            run.reason()
        );
        assert_eq!(
            run.answer()["hookDetails"]["verdict"]["rollback"],
            true,
            "{}: the hook recognises the rollback: {}",
            run.stage,
            run.answer()
        );
    }
    let deployment = bg.current_deployment().await;
    assert_eq!(deployment["status"], "ROLLBACK_SUCCESSFUL", "{deployment}");
    assert_eq!(
        deployment["rollback"]["serviceRevisionArn"],
        bg.source_revision().as_str()
    );
}

/// `POST_SCALE_UP` waits (`IN_PROGRESS`) until the green targets register,
/// whatever ECS does with the `hookDetails` it hands back (merged or
/// replaced) and the `executionId` (the same or a new one).
async fn post_scale_up_waits(label: &str, merge: bool, same_execution_id: bool) {
    let local = LocalAws::connect().await;
    let rollout = Rollout::blue_green().hook(LifecycleHook::at(&["POST_SCALE_UP"], quick()));
    let bg = NativeBlueGreen::rollout(&local, label, rollout).await;
    local
        .hook_options(&bg.deployment_arn(), merge, same_execution_id)
        .await;
    let mut process = bg.function(&[]).await;
    let mut waits = 0;
    let runs = bg
        .play_with(&mut process, 10, async |run: &StageRun| {
            if matches!(&run.outcome, Outcome::Response(a) if a["hookStatus"] == "IN_PROGRESS") {
                waits += 1;
                if waits == 2 {
                    bg.register_green_targets().await;
                }
            }
        })
        .await;
    assert_answered(&runs);
    let statuses: Vec<&str> = runs.iter().map(|r| r.status()).collect();
    assert_eq!(
        statuses,
        ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"],
        "two looks waiting, then healthy: {:?}",
        runs.iter().map(|r| r.reason()).collect::<Vec<_>>()
    );
    assert!(runs.iter().all(|r| r.stage == "POST_SCALE_UP"));
    for run in &runs[..2] {
        // The configured delay, whether ECS merged or replaced hookDetails.
        assert_eq!(run.answer()["callBackDelay"], 1, "{}", run.answer());
        assert!(run.reason().starts_with("waiting, "), "{}", run.reason());
    }
    // The model did what was asked of it.
    let ids: BTreeSet<&str> = runs.iter().map(|r| r.execution_id()).collect();
    assert_eq!(ids.len(), if same_execution_id { 1 } else { 3 }, "{ids:?}");
    // The hook counts its invocations of this execution, whichever way.
    let last = runs.last().unwrap();
    assert_eq!(
        last.answer()["hookDetails"]["progress"]["invocations"],
        3,
        "{}",
        last.answer()
    );
    let deployment = bg.current_deployment().await;
    assert_eq!(deployment["status"], "SUCCESSFUL", "{deployment}");
}

#[tokio::test]
async fn post_scale_up_waits_with_hook_details_merged_and_the_same_execution_id() {
    post_scale_up_waits("ecs-life-wait-ms", true, true).await;
}

#[tokio::test]
async fn post_scale_up_waits_with_hook_details_merged_and_new_execution_ids() {
    post_scale_up_waits("ecs-life-wait-mn", true, false).await;
}

#[tokio::test]
async fn post_scale_up_waits_with_hook_details_replaced_and_the_same_execution_id() {
    post_scale_up_waits("ecs-life-wait-rs", false, true).await;
}

#[tokio::test]
async fn post_scale_up_waits_with_hook_details_replaced_and_new_execution_ids() {
    post_scale_up_waits("ecs-life-wait-rn", false, false).await;
}

#[tokio::test]
async fn every_sample_event_gets_a_valid_hook_status() {
    let local = LocalAws::connect().await;
    let dir = format!(
        "{}/../events/ecs-deployment-hook",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    // A fixture for every stage, the canary step and the rollback pair.
    let covered: BTreeSet<String> = names
        .iter()
        .filter_map(|n| {
            let event = sample_event(&format!("ecs-deployment-hook/{n}"));
            event["lifecycleStage"].as_str().map(str::to_owned)
        })
        .collect();
    for stage in STAGES {
        assert!(covered.contains(stage), "{stage} in {names:?}");
        assert_eq!(fixture(stage)["lifecycleStage"], stage);
    }
    for name in [
        "canary-production-traffic-shift-step.json",
        "rollback-test-traffic-shift.json",
        "rollback-production-traffic-shift.json",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    let mut process = start_function(&local, "ecs-deployment-hook", REGION, &[]).await;
    for name in &names {
        let event = sample_event(&format!("ecs-deployment-hook/{name}"));
        match process.invoke(event).await {
            Outcome::Response(answer) => {
                assert!(
                    ["SUCCEEDED", "FAILED", "IN_PROGRESS"]
                        .contains(&answer["hookStatus"].as_str().unwrap_or_default()),
                    "{name}: invalid hookStatus in {answer}"
                );
                // Every payload as AWS documents it is read (its weights
                // are numbers, integers or not), whatever its checks find.
                let verdict = &answer["hookDetails"]["verdict"];
                let reason = verdict["reason"].as_str().unwrap_or_default();
                assert!(!reason.starts_with("malformed"), "{name}: {reason}");
                // The rollback pair: recognised from the reversed weights,
                // without a look at AWS, and never failed.
                if name.starts_with("rollback-") {
                    assert_eq!(answer["hookStatus"], "SUCCEEDED", "{name}: {answer}");
                    assert_eq!(verdict["rollback"], true, "{name}: {answer}");
                }
                if name == "canary-production-traffic-shift-step.json" {
                    assert_eq!(
                        verdict["traffic"]["production"],
                        json!({"target": 2.5, "others": 97.5}),
                        "{name}: {answer}"
                    );
                }
            }
            Outcome::Error {
                error_type,
                error_message,
            } => panic!("{name}: function error {error_type}: {error_message}"),
        }
    }
}

#[tokio::test]
async fn the_demo_story_plays_through_the_local_aws() {
    let local = LocalAws::connect().await;
    autopilot_tests::stories::ecs_native::run(
        &local,
        &autopilot_tests::harness::timeline::Timeline::new(),
    )
    .await;
}

/// Step-wise analysis: a `PRODUCTION_TRAFFIC_SHIFT` plan judges each traffic
/// step of a linear deployment before ECS moves more traffic (here an alarm,
/// baked over a window at every step), each step afresh and with its
/// weights in its verdict. When the alarm fires during the second step, that
/// step fails, and ECS rolls back before moving any more traffic.
#[tokio::test]
async fn each_production_step_is_judged_and_a_bad_step_rolls_back() {
    use aws_sdk_cloudwatch::types::StateValue;
    let local = LocalAws::connect().await;
    // The plan comes from CHECKS (the alarm is named once the environment
    // is provisioned); the service's hook configuration only sets the delay.
    let label = "ecs-life-steps";
    let rollout =
        Rollout::linear(25.0).hook(LifecycleHook::at(&["PRODUCTION_TRAFFIC_SHIFT"], quick()));
    let bg = NativeBlueGreen::rollout(&local, label, rollout).await;
    let alarm = format!("{}-5xx", bg.env.names.prefix);
    autopilot_tests::harness::provision::put_5xx_alarm(&bg.sdk, &alarm).await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&bg.sdk);
    bg.register_green_targets().await;
    let checks = json!([{"kind": "alarms", "names": [alarm]}]).to_string();
    let plan = format!(
        r#"{{"PRODUCTION_TRAFFIC_SHIFT": {{"checks": {checks}, "bakeSeconds": 2, "bakeIntervalSeconds": 1}}}}"#
    );
    let mut process = bg.function(&[("CHECKS", plan.as_str())]).await;
    let runs = bg
        .play_with(&mut process, 40, async |run: &StageRun| {
            let at_half = run.production_weights().get(&bg.target_revision()) == Some(&json!(50.0));
            if run.stage == "PRODUCTION_TRAFFIC_SHIFT" && at_half && !run.rollback {
                cloudwatch
                    .set_alarm_state()
                    .alarm_name(&alarm)
                    .state_value(StateValue::Alarm)
                    .state_reason("5XX above 5 at half the traffic")
                    .send()
                    .await
                    .expect("set the alarm state");
            }
        })
        .await;
    assert_answered(&runs);
    let forward: Vec<&StageRun> = runs.iter().filter(|r| !r.rollback).collect();
    let green = |run: &StageRun| {
        run.production_weights()
            .get(&bg.target_revision())
            .and_then(Value::as_f64)
    };
    // (the step's green weight, the hook's answers at it)
    let mut steps: Vec<(Option<f64>, Vec<&str>)> = Vec::new();
    for run in &forward {
        match steps.last_mut() {
            Some((weight, answers)) if *weight == green(run) => answers.push(run.status()),
            _ => steps.push((green(run), vec![run.status()])),
        }
        let traffic = &run.answer()["hookDetails"]["verdict"]["traffic"]["production"];
        assert_eq!(traffic["target"].as_f64(), green(run), "{}", run.answer());
    }
    assert_eq!(
        steps,
        [
            (Some(25.0), vec!["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"]),
            (Some(50.0), vec!["IN_PROGRESS", "FAILED"]),
        ],
        "the first step baked afresh and passed, the second failed during its bake; no third step"
    );
    let failed = forward.last().expect("a failed step");
    assert!(
        failed.reason().contains(
            "at the step of 50% to the target revision, 50% to the others of production traffic"
        ),
        "{}",
        failed.reason()
    );
    assert!(failed.reason().contains("in ALARM"), "{}", failed.reason());
    // ECS rolls back: PRODUCTION_TRAFFIC_SHIFT again, reversed, passes.
    let back: Vec<&StageRun> = runs.iter().filter(|r| r.rollback).collect();
    assert_eq!(
        back.len(),
        1,
        "{:?}",
        back.iter().map(|r| &r.stage).collect::<Vec<_>>()
    );
    assert_eq!(back[0].status(), "SUCCEEDED", "{}", back[0].reason());
    assert_eq!(back[0].answer()["hookDetails"]["verdict"]["rollback"], true);
    let deployment = bg.current_deployment().await;
    assert_eq!(deployment["status"], "ROLLBACK_SUCCESSFUL", "{deployment}");
}
