//! A realistic event for each function, repeatable, against the local AWS.
//!
//! Each [`Workload`] provisions what its function acts on in a Region of its
//! own (so that discovery sees only that), then hands out one event per
//! invocation that makes the function do its real work every time:
//!
//! * `redeploy-on-push`: the backend of [`provision`] (task definition with
//!   secrets, logging, health check and a Redis sidecar) opted in with
//!   `tag:latest`; each event is a new image pushed as `latest`, so each
//!   invocation registers a digest-pinned revision and updates the service;
//! * `codedeploy-hook`: a CodeDeploy blue/green deployment in progress and a
//!   healthy app on loopback behind the test listener's name (`RESOLVE`);
//!   each event is a new `AfterAllowTestTraffic` hook execution, checked with
//!   the default checks (an HTTP GET of `/health`) and reported;
//! * `scheduled-scaling`: one service with an Application Auto Scaling
//!   target; the events alternate between two `set-capacity` schedules, so
//!   each invocation changes the range;
//! * `ecs-deployment-hook`: an ECS native blue/green deployment in progress
//!   (green targets registered, a healthy app on loopback behind the test
//!   listener's name); each event is a new `POST_TEST_TRAFFIC_SHIFT` hook
//!   execution, checked with the default checks (an HTTP GET of `/health`
//!   through the test listener's rule).
//!
//! The Python baseline runs the redeploy and the hook workloads, each in
//! Regions of their own with the same resources.

use std::net::SocketAddr;

use aws_config::SdkConfig;
use serde_json::{Value, json};

use crate::harness::localaws::LocalAws;
use crate::harness::provision::{self, Controller, Environment, Names, push_image};
use crate::harness::runtime_api::Outcome;
use crate::sample_event;
use crate::stories::ecs_native::NativeBlueGreen;
use crate::stories::scaling::{create_cluster, create_service, range, register_target};

/// The hook the hook workload runs.
pub const HOOK: &str = "AfterAllowTestTraffic";

/// The stage the ECS hook workload runs.
pub const ECS_STAGE: &str = "POST_TEST_TRAFFIC_SHIFT";

/// What a workload acts on.
enum Kind {
    Redeploy {
        ecr: aws_sdk_ecr::Client,
        env: Box<Environment>,
    },
    Hook {
        deployment_id: String,
        _app: HealthApp,
    },
    Scaling {
        service: String,
    },
    EcsHook {
        bg: Box<NativeBlueGreen>,
    },
}

/// One function's realistic, repeatable event, and what it acts on.
pub struct Workload {
    /// The function.
    pub function: &'static str,
    /// The Region the function runs in.
    pub region: String,
    /// The function's own variables (besides Lambda's and the credentials).
    pub vars: Vec<(String, String)>,
    /// One line saying what an event does.
    pub description: String,
    local: LocalAws,
    kind: Kind,
    issued: usize,
}

impl Workload {
    /// `redeploy-on-push`: one matched service (ECS rolling) in `region`.
    pub async fn redeploy(local: &LocalAws, region: &str) -> Workload {
        let sdk = local.sdk_config(region).await;
        let env = provision::provision(
            &sdk,
            Names::unique("bench-rt"),
            Controller::Ecs,
            Some("tag:latest"),
        )
        .await;
        Workload {
            function: "redeploy-on-push",
            region: region.to_owned(),
            vars: Vec::new(),
            description: "ECR push of a new image as :latest; 1 service opted in with tag:latest \
                          (2-container task definition, ECS rolling): register a digest-pinned \
                          revision and update the service"
                .into(),
            local: local.clone(),
            kind: Kind::Redeploy {
                ecr: aws_sdk_ecr::Client::new(&sdk),
                env: Box::new(env),
            },
            issued: 0,
        }
    }

    /// `codedeploy-hook` at `AfterAllowTestTraffic` with the default checks,
    /// a deployment in progress in `region`.
    pub async fn codedeploy_hook(local: &LocalAws, region: &str) -> Workload {
        let sdk = local.sdk_config(region).await;
        let env = provision::provision(
            &sdk,
            Names::unique("bench-hook"),
            Controller::CodeDeploy,
            None,
        )
        .await;
        let deployment_id = start_deployment(&sdk, &env).await;
        let app = HealthApp::start().await;
        // The test listener (8080) of the load balancer, pinned to the app.
        let resolve = format!(
            "{}:8080:{}:{}",
            env.load_balancer_dns,
            app.address.ip(),
            app.address.port()
        );
        Workload {
            function: "codedeploy-hook",
            region: region.to_owned(),
            vars: vec![("HOOK".into(), HOOK.into()), ("RESOLVE".into(), resolve)],
            description: format!(
                "CodeDeploy {HOOK} hook of a blue/green deployment, default checks: \
                 HTTP GET /health through the test listener (200), then report Succeeded"
            ),
            local: local.clone(),
            kind: Kind::Hook {
                deployment_id,
                _app: app,
            },
            issued: 0,
        }
    }

    /// `scheduled-scaling`: `set-capacity` of one named service with a
    /// scalable target, alternating between two ranges.
    pub async fn scheduled_scaling(local: &LocalAws, region: &str) -> Workload {
        let sdk = local.sdk_config(region).await;
        let cluster = crate::unique("bench-sched");
        create_cluster(&sdk, &cluster).await;
        create_service(&sdk, &cluster, "backend", 2, &[]).await;
        register_target(&sdk, &cluster, "backend", range(2, 4)).await;
        Workload {
            function: "scheduled-scaling",
            region: region.to_owned(),
            vars: Vec::new(),
            description: "set-capacity of 1 named service with a scalable target, alternating \
                          min 5 max 10 / min 2 max 4 (each event changes the range)"
                .into(),
            local: local.clone(),
            kind: Kind::Scaling {
                service: format!("{cluster}/backend"),
            },
            issued: 0,
        }
    }

    /// `ecs-deployment-hook` at `POST_TEST_TRAFFIC_SHIFT` with the default
    /// checks, a native blue/green deployment in progress in `region`.
    pub async fn ecs_deployment_hook(local: &LocalAws, region: &str) -> Workload {
        let bg = NativeBlueGreen::in_region(local, "bench-ecshook", region).await;
        bg.register_green_targets().await;
        Workload {
            function: "ecs-deployment-hook",
            region: region.to_owned(),
            vars: vec![("RESOLVE".into(), bg.resolve())],
            description: format!(
                "ECS native blue/green {ECS_STAGE} hook, default checks: HTTP GET /health \
                 through the test listener's rule (200), answer SUCCEEDED"
            ),
            local: local.clone(),
            kind: Kind::EcsHook { bg: Box::new(bg) },
            issued: 0,
        }
    }

    /// The next event; each one asks for real work.
    pub async fn next_event(&mut self) -> Value {
        self.issued += 1;
        let n = self.issued;
        match &self.kind {
            Kind::Redeploy { ecr, env } => {
                // The seed's first 32 characters make the digest unique.
                let seed = format!("{n:05}-{}", env.names.prefix);
                let digest = push_image(ecr, &env.names.repository, "latest", &seed).await;
                let mut event = sample_event("redeploy-on-push/push-latest.json");
                event["region"] = json!(self.region);
                event["detail"]["repository-name"] = json!(env.names.repository);
                event["detail"]["image-digest"] = json!(digest);
                event
            }
            Kind::Hook { deployment_id, .. } => {
                let execution_id = self.local.start_lifecycle_hook(deployment_id, HOOK).await;
                json!({
                    "DeploymentId": deployment_id,
                    "LifecycleEventHookExecutionId": execution_id,
                })
            }
            Kind::Scaling { service } => {
                let (min, max) = if n % 2 == 1 { (5, 10) } else { (2, 4) };
                json!({"action": "set-capacity", "services": [service], "min": min, "max": max})
            }
            Kind::EcsHook { bg } => {
                bg.event(ECS_STAGE, &format!("bench-{n:05}"), Value::Null, false)
                    .await
            }
        }
    }

    /// Whether an answer is the one the event should get.
    pub fn check(&self, outcome: &Outcome) -> Result<(), String> {
        let value = match outcome {
            Outcome::Response(value) => value,
            Outcome::Error {
                error_type,
                error_message,
            } => return Err(format!("{error_type}: {error_message}")),
        };
        let ok = match &self.kind {
            Kind::Redeploy { .. } => {
                let deployed = value["services"].as_array().map_or(0, |s| {
                    s.iter().filter(|e| e["outcome"] == "deployed").count()
                });
                deployed == 1
            }
            Kind::Hook { .. } => value["status"] == "Succeeded",
            Kind::Scaling { .. } => value["counts"]["changed"] == 1,
            Kind::EcsHook { .. } => value["hookStatus"] == "SUCCEEDED",
        };
        if ok {
            Ok(())
        } else {
            Err(format!("unexpected answer: {value}"))
        }
    }
}

/// Starts a CodeDeploy deployment of a new digest-pinned revision of the
/// backend, as redeploy-on-push would; returns its ID.
async fn start_deployment(sdk: &SdkConfig, env: &Environment) -> String {
    let (_, task_definition_arn) = env.new_release(sdk, "v1.5.0").await;
    let appspec = autopilot_shared::redeploy::appspec::AppSpec {
        task_definition_arn,
        container_name: "backend".into(),
        container_port: 3000,
        hooks: vec![(HOOK.to_owned(), "CodeDeployHook_bench".to_owned())],
    };
    env.create_deployment(sdk, &appspec).await
}

/// A healthy app on loopback standing in for the green task set:
/// `GET /health` answers 200 `{"status":"ok"}`. Stops when dropped.
pub struct HealthApp {
    /// Where it listens.
    pub address: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl HealthApp {
    /// Starts it on a free port of 127.0.0.1.
    pub async fn start() -> HealthApp {
        let app = axum::Router::new().route(
            "/health",
            axum::routing::get(|| async { axum::Json(json!({"status": "ok"})) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the health app");
        let address = listener.local_addr().expect("the health app's address");
        let server = tokio::spawn(async move {
            // Serving ends only when the HealthApp is dropped.
            let _ = axum::serve(listener, app).await;
        });
        HealthApp { address, server }
    }
}

impl Drop for HealthApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}
