//! Benchmarks, printed as a table and written as Markdown and JSON under
//! `target/bench/`. Never asserted: the numbers are for reading.
//!
//! Run with `./scripts/bench`, which starts the local AWS and builds the
//! release binaries first.
//!
//! Sections:
//! * `redeploy-scale`: AWS calls (counted at the local AWS, per operation)
//!   and wall time of redeploy-on-push for one matched service, a cluster of
//!   100 services, and an account of 1,000 services over 10 clusters, with
//!   the function's bounded concurrency and with concurrency 1. The local AWS
//!   adds 40 ms to each call during the timed runs (a typical in-Region ECS
//!   API latency; moto alone answers in about 2 ms).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use autopilot_tests::provision::{self, Controller, Names, push_image};
use autopilot_tests::{LocalAws, sample_event, start_function};
use aws_sdk_ecs::types::{ContainerDefinition, Tag};
use futures::{StreamExt, stream};
use serde::Serialize;
use serde_json::json;

/// Latency added to each AWS call during timed runs.
const API_LATENCY_MS: u64 = 40;

#[derive(Debug, Serialize)]
struct ScaleRow {
    scenario: String,
    services: usize,
    clusters: usize,
    matched: usize,
    concurrency: usize,
    total_calls: u64,
    calls: BTreeMap<String, u64>,
    wall_ms: f64,
}

#[tokio::main]
async fn main() {
    let local = LocalAws::connect().await;
    let binary = std::env::var("BENCH_PROFILE").unwrap_or_else(|_| "release".into());
    println!(
        "ecs-autopilot benchmarks (binaries: {binary}; local AWS {})\n",
        local.endpoint()
    );

    let rows = redeploy_scale(&local).await;
    let mut markdown = String::from(
        "### redeploy-on-push: AWS calls and wall time per push event\n\n\
         Each AWS call answered with 40 ms added latency; discovery paced at 20 reads/s after a burst of 50.\n\n\
         | scenario | services | clusters | matched | concurrency | AWS calls | wall time | calls by operation |\n\
         |---|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for row in &rows {
        let by_op: Vec<String> = row
            .calls
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect();
        markdown.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.0} ms | {} |\n",
            row.scenario,
            row.services,
            row.clusters,
            row.matched,
            row.concurrency,
            row.total_calls,
            row.wall_ms,
            by_op.join(", ")
        ));
    }
    println!("{markdown}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&dir).expect("create target/bench");
    std::fs::write(dir.join("redeploy-scale.md"), &markdown).expect("write markdown");
    std::fs::write(
        dir.join("redeploy-scale.json"),
        serde_json::to_string_pretty(&rows).expect("serialise"),
    )
    .expect("write json");
    println!("written to target/bench/redeploy-scale.{{md,json}}");
}

/// One scenario: `clusters` clusters of `per_cluster` services in a Region of
/// its own, of which `matched` (spread over the clusters) track the pushed
/// repository; a fifth of the others opt in but track other repositories.
async fn redeploy_scale(local: &LocalAws) -> Vec<ScaleRow> {
    let scenarios = [
        ("one matched service", "us-west-1", 1, 1, 1),
        ("cluster of 100 services", "us-west-2", 1, 100, 1),
        ("account of 1,000 services", "eu-west-1", 10, 100, 5),
    ];
    let mut rows = Vec::new();
    for (scenario, region, clusters, per_cluster, matched) in scenarios {
        let sdk = local.sdk_config(region).await;
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let ecr = aws_sdk_ecr::Client::new(&sdk);
        // The app: a realistic environment with one matched service.
        let env = provision::provision(
            &sdk,
            Names::unique("bench"),
            Controller::Ecs,
            Some("tag:latest"),
        )
        .await;
        let repository = env.image_repository();
        let other_family = format!("{}-other", env.names.prefix);
        ecs.register_task_definition()
            .family(&other_family)
            .container_definitions(
                ContainerDefinition::builder()
                    .name("web")
                    .image("public.ecr.aws/nginx/nginx:1.27")
                    .memory(256)
                    .build(),
            )
            .send()
            .await
            .expect("register the other family");

        // The rest of the account: more clusters and services.
        let mut specs = Vec::new();
        for c in 0..clusters {
            let cluster = if c == 0 {
                env.names.cluster.clone()
            } else {
                format!("{}-c{c}", env.names.prefix)
            };
            if c > 0 {
                ecs.create_cluster()
                    .cluster_name(&cluster)
                    .send()
                    .await
                    .expect("create cluster");
            }
            let existing = usize::from(c == 0);
            for s in existing..per_cluster {
                specs.push((cluster.clone(), format!("svc-{s:03}")));
            }
        }
        let extra_matched = matched - 1;
        let step = specs.len().max(1) / extra_matched.max(1);
        let created: Vec<()> = stream::iter(specs.into_iter().enumerate())
            .map(|(i, (cluster, name))| {
                let ecs = ecs.clone();
                let (family, tag) =
                    if extra_matched > 0 && i % step == 0 && i / step < extra_matched {
                        (env.task_definition_arn.clone(), Some("tag:latest"))
                    } else if i % 5 == 0 {
                        (other_family.clone(), Some("tag:stable"))
                    } else {
                        (other_family.clone(), None)
                    };
                async move {
                    let mut request = ecs
                        .create_service()
                        .cluster(&cluster)
                        .service_name(&name)
                        .task_definition(&family)
                        .desired_count(1);
                    if let Some(policy) = tag {
                        request = request.tags(
                            Tag::builder()
                                .key("autopilot:redeploy")
                                .value(policy)
                                .build(),
                        );
                    }
                    request.send().await.expect("create service");
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
        let services = created.len() + 1;

        for concurrency in [8usize, 1] {
            let seed = format!("{}-{concurrency}", env.names.prefix);
            let build = push_image(
                &ecr,
                &env.names.repository,
                &format!("build-{concurrency}"),
                &seed,
            )
            .await;
            assert_eq!(
                push_image(&ecr, &env.names.repository, "latest", &seed).await,
                build
            );
            let mut event = sample_event("redeploy-on-push/push-latest.json");
            event["region"] = json!(region);
            event["detail"]["repository-name"] = json!(env.names.repository);
            event["detail"]["image-digest"] = json!(build);
            let concurrency_text = concurrency.to_string();
            let mut function = start_function(
                local,
                "redeploy-on-push",
                region,
                &[("MAX_CONCURRENCY", concurrency_text.as_str())],
            )
            .await;
            function.wait_until_ready(Duration::from_secs(5)).await;
            local.set_latency(API_LATENCY_MS).await;
            let started = Instant::now();
            let summary = function
                .invoke_with_deadline(event, Duration::from_secs(120))
                .await
                .response();
            let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
            local.set_latency(0).await;
            let deployed = summary["services"].as_array().map_or(0, |s| {
                s.iter().filter(|e| e["outcome"] == "deployed").count()
            });
            assert_eq!(deployed, matched, "{scenario}: {summary}");
            let calls = local.calls_of(&function).await;
            rows.push(ScaleRow {
                scenario: scenario.to_owned(),
                services,
                clusters,
                matched,
                concurrency,
                total_calls: calls.values().sum(),
                calls,
                wall_ms,
            });
            eprintln!("{scenario}, concurrency {concurrency}: {wall_ms:.0} ms for {repository}");
        }
    }
    rows
}
