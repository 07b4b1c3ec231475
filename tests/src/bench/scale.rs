//! AWS calls per event and wall time at scale, against the local AWS with
//! 40 ms added to each call (a typical in-Region ECS API latency; moto
//! alone answers in about 2 ms), with the function's bounded concurrency
//! (`MAX_CONCURRENCY` 8, the default) and with concurrency 1.
//!
//! * `redeploy-scale`: redeploy-on-push for one matched service, a cluster of
//!   100 services, and an account of 1,000 services over 10 clusters of
//!   which 5 match;
//! * `scaling-scale`: scheduled-scaling's `scale-to-zero` and `restore` over
//!   100 tagged services (half with Application Auto Scaling targets) among
//!   200 in 10 clusters.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{ContainerDefinition, Tag};
use futures::{StreamExt, stream};
use serde::Serialize;
use serde_json::json;

use super::runtime::{Invocations, Runtime, calls_line};
use super::{Options, Section, ms, start, table};
use crate::harness::provision::{self, Controller, Names, push_image};
use crate::stories::scaling::{create_cluster, create_service, range, register_target};
use crate::{LocalAws, sample_event};

/// Latency added to each AWS call during timed runs.
pub const API_LATENCY_MS: u64 = 40;

/// One timed redeploy event.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleRow {
    /// What the account looks like.
    pub scenario: String,
    /// Services in the Region.
    pub services: usize,
    /// Clusters in the Region.
    pub clusters: usize,
    /// Services that run the pushed repository with a matching policy.
    pub matched: usize,
    /// `MAX_CONCURRENCY`.
    pub concurrency: usize,
    /// AWS calls of the event.
    pub total_calls: u64,
    /// By IAM action.
    pub calls: BTreeMap<String, u64>,
    /// `ListClusters` + `ListServices` + `DescribeServices` at the API limits
    /// (100 a page, 10 services a describe).
    pub discovery_calls_at_api_limits: u64,
    /// Wall time of the invocation.
    pub wall_ms: f64,
}

/// The redeploy scenarios, each in a Region of its own.
pub async fn redeploy_scale(local: &LocalAws, options: &Options) -> Vec<ScaleRow> {
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
        let per_cluster_counts = vec![per_cluster as u64; clusters];

        let concurrencies: &[usize] = if options.quick && services > 100 {
            &[8]
        } else {
            &[8, 1]
        };
        for &concurrency in concurrencies {
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
            // Discovery by listing: what this section measures is paging and
            // pacing over every service (fleet-scale measures it by tag).
            let vars = [
                ("MAX_CONCURRENCY".to_owned(), concurrency.to_string()),
                ("DISCOVERY".to_owned(), "ecs".to_owned()),
            ];
            let mut function =
                start(local, &options.binary("redeploy-on-push"), region, &vars).await;
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
                discovery_calls_at_api_limits: discovery_at_api_limits(&per_cluster_counts),
                wall_ms,
            });
            eprintln!(
                "bench: {scenario}, concurrency {concurrency}: {wall_ms:.0} ms for {repository}"
            );
        }
    }
    rows
}

/// `ListClusters` (100 a page) + `ListServices` (100 a page) +
/// `DescribeServices` (10 a call) for clusters of these sizes.
pub fn discovery_at_api_limits(services_per_cluster: &[u64]) -> u64 {
    let clusters = services_per_cluster.len() as u64;
    let pages = |n: u64, size: u64| n.div_ceil(size).max(1);
    pages(clusters, 100)
        + services_per_cluster
            .iter()
            .map(|&n| pages(n, 100) + n.div_ceil(10))
            .sum::<u64>()
}

/// The redeploy-scale section.
pub fn redeploy_section(rows: &[ScaleRow]) -> Section {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                row.scenario.clone(),
                row.services.to_string(),
                row.clusters.to_string(),
                row.matched.to_string(),
                row.concurrency.to_string(),
                row.total_calls.to_string(),
                ms(row.wall_ms),
                speedup(rows, row),
                row.calls
                    .iter()
                    .map(|(op, n)| format!("{op} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    let markdown = format!(
        "### redeploy-on-push: AWS calls and wall time per push event\n\n\
         Discovery by listing (`DISCOVERY=ecs`: every service of every cluster listed and described; \
         by tag, the default, see the fleet-scale section). Each AWS call answered with {API_LATENCY_MS} ms added latency; ECS reads paced at 20 a second \
         after a burst of 50 (`ECS_READ_RATE`, `ECS_READ_BURST`), as ECS allows service reads 100 burst / \
         20 per second. *speed-up* is the concurrency-1 wall time over this row's: with 40 ms a call, \
         one read at a time already runs near the 20 reads a second the pacer allows, so concurrency can \
         only win the burst (the 1,000-service event needs at least (reads − 50) / 20 s whatever the \
         concurrency). The concurrency-1 run comes second, when the matched services already run the \
         first run's digest, so ECR is also asked about that running image (one more `DescribeImages`).\n\n{}",
        table(
            &[
                "scenario",
                "services",
                "clusters",
                "matched",
                "concurrency",
                "AWS calls",
                "wall time",
                "speed-up",
                "calls by operation"
            ],
            &[false, true, true, true, true, true, true, true, false],
            &cells,
        )
    );
    Section {
        name: "redeploy-scale",
        markdown,
        json: json!({ "apiLatencyMs": API_LATENCY_MS, "rows": rows }),
    }
}

fn speedup(rows: &[ScaleRow], row: &ScaleRow) -> String {
    rows.iter()
        .find(|r| r.scenario == row.scenario && r.concurrency == 1)
        .filter(|_| row.concurrency != 1)
        .map_or("-".into(), |one| super::ratio(one.wall_ms, row.wall_ms))
}

/// One timed scheduled-scaling event.
#[derive(Debug, Clone, Serialize)]
pub struct ScalingRow {
    /// `scale-to-zero` or `restore`.
    pub action: String,
    /// Services in the Region.
    pub services: usize,
    /// Clusters in the Region.
    pub clusters: usize,
    /// Services the selector picks.
    pub selected: usize,
    /// Of which with a scalable target.
    pub with_scalable_target: usize,
    /// `MAX_CONCURRENCY`.
    pub concurrency: usize,
    /// Services reported `changed`.
    pub changed: u64,
    /// AWS calls of the event.
    pub total_calls: u64,
    /// By IAM action.
    pub calls: BTreeMap<String, u64>,
    /// Wall time of the invocation.
    pub wall_ms: f64,
}

/// scale-to-zero and restore over 100 tagged services in 10 clusters.
pub async fn scaling_scale(local: &LocalAws, options: &Options) -> Vec<ScalingRow> {
    const REGION: &str = "ap-northeast-1";
    const CLUSTERS: usize = 10;
    const PER_CLUSTER: usize = 20;
    let sdk = local.sdk_config(REGION).await;
    let prefix = crate::unique("bench-fleet");
    let schedule = format!("{prefix}-nightly");
    let mut specs = Vec::new();
    for c in 0..CLUSTERS {
        let cluster = format!("{prefix}-c{c}");
        create_cluster(&sdk, &cluster).await;
        for s in 0..PER_CLUSTER {
            // Even services are tagged; every other tagged one has a scalable target.
            specs.push((
                cluster.clone(),
                format!("svc-{s:02}"),
                s % 2 == 0,
                s % 4 == 0,
            ));
        }
    }
    let selected = specs.iter().filter(|s| s.2).count();
    let with_target = specs.iter().filter(|s| s.3).count();
    stream::iter(specs)
        .map(|(cluster, service, tagged, target)| {
            let sdk = &sdk;
            let schedule = &schedule;
            async move {
                let tags: Vec<(&str, &str)> = if tagged {
                    vec![("autopilot:schedule", schedule.as_str())]
                } else {
                    Vec::new()
                };
                create_service(sdk, &cluster, &service, 2, &tags).await;
                if target {
                    register_target(sdk, &cluster, &service, range(1, 4)).await;
                }
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;

    let mut rows = Vec::new();
    for concurrency in [8usize, 1] {
        for action in ["scale-to-zero", "restore"] {
            let payload =
                json!({"action": action, "selector": {"tags": {"autopilot:schedule": schedule}}});
            // Discovery by listing: what this section measures is paging and
            // pacing over every service (fleet-scale measures it by tag).
            let vars = [
                ("MAX_CONCURRENCY".to_owned(), concurrency.to_string()),
                ("DISCOVERY".to_owned(), "ecs".to_owned()),
            ];
            let mut function =
                start(local, &options.binary("scheduled-scaling"), REGION, &vars).await;
            function.wait_until_ready(Duration::from_secs(5)).await;
            local.set_latency(API_LATENCY_MS).await;
            let started = Instant::now();
            let outcome = function
                .invoke_with_deadline(payload, Duration::from_secs(300))
                .await;
            let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
            local.set_latency(0).await;
            let summary = outcome.response();
            let changed = summary["counts"]["changed"].as_u64().unwrap_or_default();
            assert_eq!(changed as usize, selected, "{action}: {summary}");
            let calls = local.calls_of(&function).await;
            eprintln!(
                "bench: {action} of {selected} services, concurrency {concurrency}: {wall_ms:.0} ms"
            );
            rows.push(ScalingRow {
                action: action.to_owned(),
                services: CLUSTERS * PER_CLUSTER,
                clusters: CLUSTERS,
                selected,
                with_scalable_target: with_target,
                concurrency,
                changed,
                total_calls: calls.values().sum(),
                calls,
                wall_ms,
            });
        }
    }
    rows
}

/// The scaling-scale section.
pub fn scaling_section(rows: &[ScalingRow]) -> Section {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let one = rows
                .iter()
                .find(|r| r.action == row.action && r.concurrency == 1)
                .filter(|_| row.concurrency != 1);
            vec![
                format!("`{}`", row.action),
                row.services.to_string(),
                row.clusters.to_string(),
                format!(
                    "{} ({} with a scalable target)",
                    row.selected, row.with_scalable_target
                ),
                row.concurrency.to_string(),
                row.changed.to_string(),
                row.total_calls.to_string(),
                ms(row.wall_ms),
                one.map_or("-".into(), |one| super::ratio(one.wall_ms, row.wall_ms)),
                row.calls
                    .iter()
                    .map(|(op, n)| format!("{op} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    let markdown = format!(
        "### scheduled-scaling: a fleet-wide action\n\n\
         A tag selector over every cluster of the Region; each AWS call answered with {API_LATENCY_MS} ms \
         added latency. Reads are paced like redeploy's; writes (`UpdateService`, tagging, \
         `RegisterScalableTarget`) at 5 a second after a burst of 25 each, under ECS's service-modify \
         limit (50 burst / 5 per second), so 100 services take at least (100 − 25) / 5 = 15 s whatever \
         the concurrency. *speed-up* is the concurrency-1 wall time over this row's.\n\n{}",
        table(
            &[
                "action",
                "services",
                "clusters",
                "selected",
                "concurrency",
                "changed",
                "AWS calls",
                "wall time",
                "speed-up",
                "calls by operation"
            ],
            &[
                false, true, true, false, true, true, true, true, true, false
            ],
            &cells,
        )
    );
    Section {
        name: "scaling-scale",
        markdown,
        json: json!({ "apiLatencyMs": API_LATENCY_MS, "rows": rows }),
    }
}

/// AWS calls per event, gathered from the other sections.
pub fn calls_section(
    redeploy: &[ScaleRow],
    scaling: &[ScalingRow],
    runs: &[Invocations],
) -> Section {
    let mut cells = Vec::new();
    let mut data = Vec::new();
    for row in redeploy.iter().filter(|r| r.concurrency == 8) {
        let describe = row
            .calls
            .get("ecs:DescribeServices")
            .copied()
            .unwrap_or_default();
        let discovery: u64 = [
            "ecs:ListClusters",
            "ecs:ListServices",
            "ecs:DescribeServices",
        ]
        .iter()
        .filter_map(|op| row.calls.get(*op))
        .sum();
        let note = format!(
            "discovery {discovery} calls (at the API limits: {}); DescribeServices {describe} for {} services; \
             DescribeTaskDefinition {}",
            row.discovery_calls_at_api_limits,
            row.services,
            row.calls
                .get("ecs:DescribeTaskDefinition")
                .copied()
                .unwrap_or_default()
        );
        let event = format!(
            "redeploy-on-push: push, {} ({} services, {} matched)",
            row.scenario, row.services, row.matched
        );
        cells.push(vec![
            event.clone(),
            "Rust".into(),
            calls_line(&row.calls),
            note.clone(),
        ]);
        data.push(json!({"event": event, "runtime": "rust", "calls": row.calls, "note": note}));
    }
    for run in runs {
        let event = format!("{}: {}", run.function, run.workload);
        let runtime = match run.runtime {
            Runtime::Rust => "Rust",
            Runtime::Python => "Python baseline",
        };
        cells.push(vec![
            event.clone(),
            runtime.into(),
            calls_line(&run.first_event_calls),
            String::new(),
        ]);
        data.push(json!({"event": event, "runtime": runtime, "calls": run.first_event_calls}));
    }
    for row in scaling.iter().filter(|r| r.concurrency == 8) {
        let event = format!(
            "scheduled-scaling: {} of {} tagged services ({} with a scalable target) among {} in {} clusters",
            row.action, row.selected, row.with_scalable_target, row.services, row.clusters
        );
        let per_service = row.total_calls as f64 / row.selected.max(1) as f64;
        let note = format!("{per_service:.1} calls per selected service");
        cells.push(vec![
            event.clone(),
            "Rust".into(),
            calls_line(&row.calls),
            note.clone(),
        ]);
        data.push(json!({"event": event, "runtime": "rust", "calls": row.calls, "note": note}));
    }
    let markdown = format!(
        "### AWS calls per event\n\n\
         Counted at the local AWS by IAM action, for one event of each kind (each process signs with \
         its own access key).\n\n{}",
        table(
            &["event", "runtime", "AWS calls", "notes"],
            &[false, false, false, false],
            &cells
        )
    );
    Section {
        name: "aws-calls",
        markdown,
        json: json!({ "rows": data }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_arithmetic() {
        // One cluster, one service: ListClusters, ListServices, DescribeServices.
        assert_eq!(discovery_at_api_limits(&[1]), 3);
        // 10 clusters of 100: 1 + 10 + 100.
        assert_eq!(discovery_at_api_limits(&[100; 10]), 111);
        assert_eq!(discovery_at_api_limits(&[101]), 1 + 2 + 11);
    }
}
