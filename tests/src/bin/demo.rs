//! The demo: a realistic ECS environment on the local AWS, and each
//! function's story played through its real binary, as a timeline.
//!
//! Run it with `./scripts/demo`, which starts the local AWS and builds the
//! binaries first. Each story asserts what it shows (the outcomes, the
//! revisions rolled out, the verdicts, the capacities) and panics, naming
//! what differs, when AWS or a function does otherwise: `scripts/test` runs
//! it as a check.

use autopilot_tests::harness::provision::{self, Controller, Environment, Names, push_image};
use autopilot_tests::harness::timeline::Timeline;
use autopilot_tests::{
    LambdaProcess, LocalAws, harness::localaws::REGION, sample_event, start_function,
};
use aws_config::SdkConfig;
use serde_json::{Value, json};
use std::time::Duration;

const ACTOR_CI: &str = "CI";
const ACTOR_AWS: &str = "AWS (local)";

#[tokio::main]
async fn main() {
    let timeline = Timeline::new();
    let local = LocalAws::connect().await;
    local.reset().await;
    let sdk = local.sdk_config(REGION).await;

    timeline.chapter("The environment: a Node.js backend on ECS Fargate");
    let env = provision::provision(
        &sdk,
        Names::demo(),
        Controller::CodeDeploy,
        Some("tag:latest"),
    )
    .await;
    let worker = add_worker(&sdk, &env).await;
    describe_environment(&timeline, &env, &worker);

    redeploy_story(&timeline, &local, &sdk, &env, &worker).await;

    autopilot_tests::stories::scaling::run(
        &local,
        &timeline,
        (&env.names.cluster, &env.names.service),
    )
    .await;

    autopilot_tests::stories::codedeploy::run(&local, &timeline).await;

    autopilot_tests::stories::ecs_native::run(&local, &timeline).await;

    autopilot_tests::stories::calendars::run(&local, &timeline).await;

    println!(
        "\nDone: every step above ran the real function binaries against the local AWS at {}.",
        local.endpoint()
    );
}

/// A second service of the same image with the ECS rolling-update controller.
async fn add_worker(sdk: &SdkConfig, env: &Environment) -> String {
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let name = "vahanhelp-worker-service";
    ecs.create_service()
        .cluster(&env.names.cluster)
        .service_name(name)
        .task_definition(&env.task_definition_arn)
        .desired_count(1)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("autopilot:redeploy")
                .value("tag:latest")
                .build(),
        )
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("autopilot:containers")
                .value("backend")
                .build(),
        )
        .send()
        .await
        .expect("create the worker service");
    name.to_owned()
}

fn describe_environment(timeline: &Timeline, env: &Environment, worker: &str) {
    let (application, group) = env.codedeploy.clone().unwrap_or_default();
    timeline.step(
        ACTOR_AWS,
        format!(
            "ECR repository {} with {}:v1.4.0 (also :latest)",
            env.names.repository, env.names.repository
        ),
    );
    timeline.step(ACTOR_AWS, format!("cluster {}", env.names.cluster));
    timeline.detail(format!(
        "service {} (CodeDeploy blue/green, tag autopilot:redeploy=tag:latest)",
        env.names.service
    ));
    timeline.detail(format!(
        "service {worker} (ECS rolling update, same image, autopilot:redeploy=tag:latest)"
    ));
    timeline.step(
        ACTOR_AWS,
        format!("task definition {}", short_arn(&env.task_definition_arn)),
    );
    timeline.detail("backend: node app on :3000, secrets DATABASE_URL (Secrets Manager) and STRIPE_API_KEY (SSM),");
    timeline.detail("         awslogs logging, a curl health check, dependsOn redis HEALTHY");
    timeline.detail(
        "redis:   public.ecr.aws/docker/library/redis:7.4-alpine sidecar with its own health check",
    );
    timeline.step(
        ACTOR_AWS,
        format!(
            "ALB {} with production :80 and test :8080 listeners, blue and green target groups",
            env.load_balancer_dns
        ),
    );
    timeline.step(
        ACTOR_AWS,
        format!("CodeDeploy application {application}, deployment group {group}"),
    );
}

async fn redeploy_story(
    timeline: &Timeline,
    local: &LocalAws,
    sdk: &SdkConfig,
    env: &Environment,
    worker: &str,
) {
    timeline.chapter("redeploy-on-push: CI pushes a new image");
    let ecr = aws_sdk_ecr::Client::new(sdk);
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let hooks = json!({
        "AfterInstall": "CodeDeployHook_ecs-autopilot-AfterInstall",
        "AfterAllowTestTraffic": "CodeDeployHook_ecs-autopilot-AfterAllowTestTraffic",
        "AfterAllowTraffic": "CodeDeployHook_ecs-autopilot-AfterAllowTraffic",
    })
    .to_string();
    let mut function = start_function(
        local,
        "redeploy-on-push",
        REGION,
        &[("CODEDEPLOY_HOOKS", hooks.as_str())],
    )
    .await;
    if let Some(init) = function.wait_until_ready(Duration::from_secs(5)).await {
        timeline.step(
            "redeploy-on-push",
            format!("cold start: ready in {:.1} ms", init.as_secs_f64() * 1000.0),
        );
    }

    let older = push_image(
        &ecr,
        &env.names.repository,
        "build-41",
        "vahanhelp-build-41",
    )
    .await;
    push_image(&ecr, &env.names.repository, "latest", "vahanhelp-build-41").await;
    timeline.step(
        ACTOR_CI,
        format!(
            "pushed {}:build-41 and :latest ({})",
            env.names.repository,
            short_digest(&older)
        ),
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let newer = push_image(
        &ecr,
        &env.names.repository,
        "build-42",
        "vahanhelp-build-42",
    )
    .await;
    push_image(&ecr, &env.names.repository, "latest", "vahanhelp-build-42").await;
    timeline.step(
        ACTOR_CI,
        format!(
            "pushed {}:build-42 and :latest ({})",
            env.names.repository,
            short_digest(&newer)
        ),
    );

    timeline.step(
        "EventBridge",
        format!(
            "ECR Image Action PUSH SUCCESS latest@{}",
            short_digest(&newer)
        ),
    );
    let event = push_event(env, "latest", &newer);
    let summary = show_summary(timeline, &mut function, event.clone()).await;
    expect_outcomes(
        &summary,
        &[(&env.names.service, "deployed"), (worker, "deployed")],
    );
    let backend = service_entry(&summary, &env.names.service);
    assert!(
        backend["deploymentId"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{} is CodeDeploy blue/green: a deployment is started: {summary}",
        env.names.service
    );

    let services = ecs
        .describe_services()
        .cluster(&env.names.cluster)
        .services(worker)
        .send()
        .await
        .expect("describe the worker");
    let worker_td = services.services()[0]
        .task_definition()
        .unwrap_or_default()
        .to_owned();
    let definition = ecs
        .describe_task_definition()
        .task_definition(&worker_td)
        .send()
        .await
        .expect("describe the new revision");
    let pinned = format!("{}@{newer}", env.image_repository());
    let definition = definition
        .task_definition()
        .unwrap_or_else(|| panic!("no task definition {worker_td}"));
    let backend_image = definition
        .container_definitions()
        .iter()
        .find(|c| c.name() == Some("backend"))
        .and_then(|c| c.image());
    assert_eq!(
        backend_image,
        Some(pinned.as_str()),
        "{worker} runs the pushed image, pinned by digest"
    );
    {
        timeline.step(
            ACTOR_AWS,
            format!("{worker} now runs {}", short_arn(&worker_td)),
        );
        for container in definition.container_definitions() {
            timeline.detail(format!(
                "{:<8} {}  (secrets {}, health check {}, dependsOn {})",
                container.name().unwrap_or_default(),
                container.image().unwrap_or_default(),
                container.secrets().len(),
                if container.health_check().is_some() {
                    "kept"
                } else {
                    "none"
                },
                container.depends_on().len()
            ));
        }
    }

    timeline.step(
        "EventBridge",
        "delivers the same event a second time (at-least-once delivery)",
    );
    let summary = show_summary(timeline, &mut function, event).await;
    expect_outcomes(
        &summary,
        &[(&env.names.service, "skipped"), (worker, "skipped")],
    );

    timeline.step(
        "EventBridge",
        format!(
            "a late, out-of-order event for the older push latest@{}",
            short_digest(&older)
        ),
    );
    let summary = show_summary(timeline, &mut function, push_event(env, "latest", &older)).await;
    expect_outcomes(
        &summary,
        &[(&env.names.service, "skipped"), (worker, "skipped")],
    );

    timeline.step("EventBridge", "an image DELETE event");
    let answer = function
        .invoke(sample_event("redeploy-on-push/delete.json"))
        .await;
    timeline.detail(format!("-> {}", compact(&answer)));
    let answer = answer.response();
    assert!(
        answer["ignored"].is_string(),
        "a DELETE is acknowledged and ignored: {answer}"
    );
}

/// Panics unless the summary gives each `(service, outcome)`, and no other
/// service.
#[track_caller]
fn expect_outcomes(summary: &Value, expected: &[(&str, &str)]) {
    let mut got: Vec<(&str, &str)> = summary["services"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["service"].as_str().unwrap_or_default(),
                s["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let mut want = expected.to_vec();
    got.sort();
    want.sort();
    assert_eq!(got, want, "redeploy-on-push answered {summary}");
}

/// The summary's entry for `service`.
#[track_caller]
fn service_entry<'a>(summary: &'a Value, service: &str) -> &'a Value {
    summary["services"]
        .as_array()
        .and_then(|services| services.iter().find(|s| s["service"] == service))
        .unwrap_or_else(|| panic!("{service} not in {summary}"))
}

fn push_event(env: &Environment, tag: &str, digest: &str) -> Value {
    let mut event = sample_event("redeploy-on-push/push-latest.json");
    event["region"] = json!(env.region);
    event["detail"]["repository-name"] = json!(env.names.repository);
    event["detail"]["image-tag"] = json!(tag);
    event["detail"]["image-digest"] = json!(digest);
    event
}

/// Invokes redeploy-on-push with `event`, shows its summary and returns it;
/// panics on an error answer.
async fn show_summary(timeline: &Timeline, function: &mut LambdaProcess, event: Value) -> Value {
    let started = std::time::Instant::now();
    let outcome = function.invoke(event).await;
    let took = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        autopilot_tests::Outcome::Response(summary) => {
            timeline.step("redeploy-on-push", format!("answered in {took:.0} ms"));
            for service in summary["services"].as_array().into_iter().flatten() {
                timeline.detail(format!(
                    "{:<9} {}/{}: {}{}",
                    service["outcome"].as_str().unwrap_or_default(),
                    service["cluster"].as_str().unwrap_or_default(),
                    service["service"].as_str().unwrap_or_default(),
                    service["reason"].as_str().unwrap_or_default(),
                    service["deploymentId"]
                        .as_str()
                        .map(|d| format!(" [deployment {d}]"))
                        .unwrap_or_default(),
                ));
            }
            summary
        }
        other => panic!("redeploy-on-push failed: {}", compact(&other)),
    }
}

fn compact(outcome: &autopilot_tests::Outcome) -> String {
    match outcome {
        autopilot_tests::Outcome::Response(value) => value.to_string(),
        autopilot_tests::Outcome::Error {
            error_type,
            error_message,
        } => format!("error {error_type}: {error_message}"),
    }
}

fn short_digest(digest: &str) -> String {
    digest.chars().take(19).collect()
}

fn short_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
