//! No secret ever reaches a log line or an answer: every function runs, at
//! the most verbose log level, over the realistic task definitions, which
//! carry secret-looking values in plain text (a token in a URL, a password, a
//! bearer token, an API key on the command line, a key in a Docker label)
//! besides their secret ARNs and registry credentials
//! (`provision::SECRET_LOOKING_VALUES`); every line each process wrote and
//! every answer it gave is searched for each of them.

use autopilot_tests::LambdaProcess;
use autopilot_tests::harness::localaws::REGION;
use autopilot_tests::harness::provision::Controller;
use autopilot_tests::stories::codedeploy::BlueGreen;
use autopilot_tests::stories::ecs_native::NativeBlueGreen;
use autopilot_tests::stories::scaling::SCHEDULE_TAG;
use autopilot_tests::{LocalAws, Outcome, start_function, unique};
use serde_json::{Value, json};

use crate::redeploy::Fixture;

/// The most verbose level: the SDK's and the runtime's own logs included.
const TRACE: (&str, &str) = ("AWS_LAMBDA_LOG_LEVEL", "TRACE");

/// Everything a process wrote and answered.
struct Transcript {
    text: String,
}

impl Transcript {
    fn new() -> Transcript {
        Transcript {
            text: String::new(),
        }
    }

    fn answer(&mut self, outcome: &Outcome) {
        self.text.push_str(&format!("{outcome:?}\n"));
    }

    /// Everything `process` wrote, to the end: it is finished first.
    async fn logs(&mut self, process: &mut LambdaProcess) {
        self.text.push_str(&process.finish_logs().await);
        self.text.push('\n');
    }

    #[track_caller]
    fn assert_free_of(&self, secrets: &[String]) {
        assert!(
            self.text.lines().count() > 10,
            "too little was captured to tell:\n{}",
            self.text
        );
        for secret in secrets {
            assert!(
                !self.text.contains(secret.as_str()),
                "{secret:?} leaked:\n{}",
                self.text
            );
        }
    }
}

#[tokio::test]
async fn redeploy_on_push_never_logs_or_answers_a_secret() {
    let f = Fixture::new("leak-redeploy", Controller::Ecs, "tag:latest").await;
    let digest = f.push("latest", "build-2").await;
    let event = f.event(Some("latest"), &digest);
    let cluster = ("CLUSTERS", f.env.names.cluster.as_str());
    let mut transcript = Transcript::new();

    let mut dry = start_function(
        &f.local,
        "redeploy-on-push",
        REGION,
        &[cluster, TRACE, ("DRY_RUN", "true")],
    )
    .await;
    transcript.answer(&dry.invoke(event.clone()).await);
    transcript.logs(&mut dry).await;

    let mut function =
        start_function(&f.local, "redeploy-on-push", REGION, &[cluster, TRACE]).await;
    let deployed = function.invoke(event.clone()).await;
    assert_eq!(
        deployed.clone().response()["services"][0]["outcome"],
        "deployed"
    );
    transcript.answer(&deployed);
    // A duplicate, and a malformed event.
    transcript.answer(&function.invoke(event.clone()).await);
    let mut malformed = event;
    malformed["detail"]["image-digest"] = json!("sha256:not-a-digest");
    transcript.answer(&function.invoke(malformed).await);
    transcript.logs(&mut function).await;

    transcript.assert_free_of(&f.env.secret_looking_values());
}

#[tokio::test]
async fn codedeploy_hook_never_logs_or_answers_a_secret() {
    let local = LocalAws::connect().await;
    let bg = BlueGreen::new(&local, "leak-cd").await;
    // Passing and failing checks, whose evidence describes the task
    // definition, and an http check sending a bearer token.
    let checks = json!([
        {"kind": "task-definition", "name": "policy",
         "requiredSecrets": ["DATABASE_URL", "MISSING_SECRET"], "essentialHealthChecks": true},
        {"kind": "http", "name": "http", "listener": "test", "path": "/health",
         "headers": {"Authorization": "Bearer hook-header-s3cr3t"}, "timeoutSeconds": 5},
        {"kind": "target-health", "name": "targets", "minHealthy": 2},
    ])
    .to_string();
    let mut transcript = Transcript::new();
    for dry_run in ["false", "true"] {
        let (run, mut process) = bg
            .run_hook(
                "AfterAllowTestTraffic",
                &[("CHECKS", &checks), ("DRY_RUN", dry_run), TRACE],
            )
            .await;
        assert_eq!(run.statuses.len(), 1);
        transcript.answer(&run.outcome);
        transcript.logs(&mut process).await;
    }
    let mut secrets = bg.env.secret_looking_values();
    secrets.push("hook-header-s3cr3t".to_owned());
    transcript.assert_free_of(&secrets);
}

#[tokio::test]
async fn ecs_deployment_hook_never_logs_or_answers_a_secret() {
    let local = LocalAws::connect().await;
    let bg = NativeBlueGreen::new(&local, "leak-ecs").await;
    // In CHECKS, not hookDetails: ECS hands hookDetails back on every
    // invocation, so the hook returns them as given (the README says to keep
    // secrets out of them).
    let checks = json!([
        {"kind": "task-definition", "name": "policy", "requiredSecrets": ["DATABASE_URL", "MISSING_SECRET"]},
        {"kind": "http", "name": "http", "listener": "test", "path": "/health",
         "headers": {"Authorization": "Bearer ecs-hook-header-s3cr3t"}},
    ])
    .to_string();
    let mut process = bg.function(&[("CHECKS", &checks), TRACE]).await;
    let mut transcript = Transcript::new();
    for stage in ["PRE_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT"] {
        let event = bg.event(stage, &unique("exec"), Value::Null, false).await;
        let run = bg
            .invoke(&mut process, event, std::time::Duration::from_secs(30))
            .await;
        assert_eq!(run.status(), "FAILED", "the missing secret fails it");
        transcript.answer(&run.outcome);
    }
    transcript.logs(&mut process).await;
    let mut secrets = bg.env.secret_looking_values();
    secrets.push("ecs-hook-header-s3cr3t".to_owned());
    transcript.assert_free_of(&secrets);
}

#[tokio::test]
async fn scheduled_scaling_never_logs_or_answers_a_secret() {
    let f = Fixture::new("leak-scale", Controller::Ecs, "tag:latest").await;
    let schedule = unique("leak");
    f.ecs
        .tag_resource()
        .resource_arn(&f.env.service_arn)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key(SCHEDULE_TAG)
                .value(&schedule)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let selector = json!({"clusters": [f.env.names.cluster], "tags": {SCHEDULE_TAG: schedule}});
    let mut process = start_function(&f.local, "scheduled-scaling", REGION, &[TRACE]).await;
    let mut transcript = Transcript::new();
    for action in ["scale-to-zero", "restore"] {
        let outcome = process
            .invoke(json!({"action": action, "selector": selector}))
            .await;
        assert_eq!(
            outcome.clone().response()["counts"]["changed"],
            json!(1),
            "{action}"
        );
        transcript.answer(&outcome);
    }
    transcript.answer(&process.invoke(Value::Null).await);
    transcript.logs(&mut process).await;
    transcript.assert_free_of(&f.env.secret_looking_values());
}
