//! `fleet-scale`: redeploy-on-push at fleet scale, across accounts.
//!
//! 10,000 services in 50 clusters, spread over three workload accounts;
//! 20 of them track the pushed repository (in two clusters of each
//! account). The function runs in the tools account (the repository's) as
//! Lambda runs it, with its execution role's credentials, and assumes the
//! role `workload-account.yaml` creates in each workload account. One push
//! is timed with discovery by tag (the default) and one by listing
//! (`DISCOVERY=ecs`), with [`API_LATENCY_MS`](super::scale::API_LATENCY_MS)
//! added to every AWS call and ECS reads paced as in production.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{ContainerDefinition, Tag};
use futures::{StreamExt, stream};
use serde::Serialize;
use serde_json::json;

use super::scale::API_LATENCY_MS;
use super::{Options, Section, ms, table};
use crate::LocalAws;
use crate::harness::accounts::{
    create_role, lambda_trust_policy, start_program_as, unique_account, workload_trust_policy,
};
use crate::harness::provision::push_image;
use crate::{sample_event, unique};

/// Services in all.
pub const SERVICES: usize = 10_000;
/// Clusters in all.
pub const CLUSTERS: usize = 50;
/// Services that track the pushed repository.
pub const TRACKED: usize = 20;
/// Workload accounts.
pub const ACCOUNTS: usize = 3;
/// The goal: discovery calls per push, by tag.
pub const MAX_DISCOVERY_CALLS: u64 = 10;
/// The Region of the benchmark's accounts.
const REGION: &str = "ap-southeast-2";

/// One timed push.
#[derive(Debug, Clone, Serialize)]
pub struct FleetRow {
    /// `tags` or `ecs`.
    pub discovery: String,
    /// Services in all accounts.
    pub services: usize,
    /// Clusters in all accounts.
    pub clusters: usize,
    /// Workload accounts.
    pub accounts: usize,
    /// Services rolled out.
    pub deployed: usize,
    /// Discovery calls in the workload accounts: `tag:GetResources`,
    /// `ecs:ListClusters`, `ecs:ListServices`, `ecs:DescribeServices`.
    pub discovery_calls: u64,
    /// Every AWS call of the push, in all accounts, by IAM action.
    pub calls: BTreeMap<String, u64>,
    /// Wall time of the invocation.
    pub wall_ms: f64,
}

const DISCOVERY: [&str; 4] = [
    "tag:GetResources",
    "ecs:ListClusters",
    "ecs:ListServices",
    "ecs:DescribeServices",
];

/// Builds the fleet and times one push per discovery mode.
pub async fn fleet_scale(local: &LocalAws, options: &Options) -> Vec<FleetRow> {
    let tools = local.sdk_config(REGION).await;
    let ecr = aws_sdk_ecr::Client::new(&tools);
    let repository = unique("fleet");
    ecr.create_repository()
        .repository_name(&repository)
        .send()
        .await
        .expect("create the repository");
    let first = push_image(&ecr, &repository, "latest", &format!("{repository}-1")).await;
    let registry = format!("123456789012.dkr.ecr.{REGION}.amazonaws.com");
    let image = format!("{registry}/{repository}@{first}");

    let iam = aws_sdk_iam::Client::new(&tools);
    let function_role =
        create_role(&iam, &unique("redeploy-on-push"), &lambda_trust_policy()).await;
    let key = local.lambda_credentials(&function_role).await;
    let external_id = unique("bench-ext");

    let mut roles = Vec::new();
    let per_account_clusters = CLUSTERS.div_ceil(ACCOUNTS);
    let per_cluster = SERVICES / CLUSTERS;
    let mut cluster_count = 0;
    let mut tracked_left = TRACKED;
    for a in 0..ACCOUNTS {
        let account = unique_account();
        let sdk = local.admin_of(&account, REGION).await;
        let role = create_role(
            &aws_sdk_iam::Client::new(&sdk),
            "ecs-autopilot-workload",
            &workload_trust_policy(&function_role, &external_id),
        )
        .await;
        roles.push(role);
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let clusters = per_account_clusters.min(CLUSTERS - cluster_count);
        cluster_count += clusters;
        let tracked_here = tracked_left.div_ceil(ACCOUNTS - a);
        tracked_left -= tracked_here;
        let family = |name: &str, image: &str| {
            let ecs = ecs.clone();
            let (name, image) = (name.to_owned(), image.to_owned());
            async move {
                ecs.register_task_definition()
                    .family(&name)
                    .container_definitions(
                        ContainerDefinition::builder()
                            .name("app")
                            .image(image)
                            .memory(256)
                            .build(),
                    )
                    .send()
                    .await
                    .expect("register a task definition")
                    .task_definition()
                    .and_then(|t| t.task_definition_arn())
                    .map(str::to_owned)
                    .expect("the task definition's ARN")
            }
        };
        let tracking = family("tracking", &image).await;
        let other = family("other", "public.ecr.aws/nginx/nginx:1.27").await;
        let mut specs = Vec::new();
        for c in 0..clusters {
            let cluster = format!("fleet-{c:02}");
            ecs.create_cluster()
                .cluster_name(&cluster)
                .send()
                .await
                .expect("create a cluster");
            // The tracking services: in the account's first two clusters.
            let tracking_here = match c {
                0 => tracked_here.div_ceil(2),
                1 => tracked_here / 2,
                _ => 0,
            };
            for s in 0..per_cluster {
                specs.push((cluster.clone(), format!("svc-{s:03}"), s < tracking_here));
            }
        }
        eprintln!(
            "bench: fleet account {} of {ACCOUNTS}: {} services in {clusters} clusters, {tracked_here} tracking",
            a + 1,
            specs.len()
        );
        let _: Vec<()> = stream::iter(specs)
            .map(|(cluster, name, tracks)| {
                let ecs = ecs.clone();
                let definition = if tracks {
                    tracking.clone()
                } else {
                    other.clone()
                };
                async move {
                    let mut request = ecs
                        .create_service()
                        .cluster(&cluster)
                        .service_name(&name)
                        .task_definition(definition)
                        .desired_count(0)
                        .tags(Tag::builder().key("team").value("payments").build());
                    if tracks {
                        request = request.tags(
                            Tag::builder()
                                .key("autopilot:redeploy")
                                .value("tag:latest")
                                .build(),
                        );
                    }
                    request.send().await.expect("create a service");
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
    }
    let targets = roles.join(",");

    let mut rows = Vec::new();
    let modes: &[&str] = if options.quick {
        &["tags"]
    } else {
        &["tags", "ecs"]
    };
    for (n, mode) in modes.iter().enumerate() {
        let build = format!("{repository}-{}", n + 2);
        let digest = push_image(&ecr, &repository, &format!("build-{}", n + 2), &build).await;
        assert_eq!(
            push_image(&ecr, &repository, "latest", &build).await,
            digest
        );
        let mut event = sample_event("redeploy-on-push/push-latest.json");
        event["region"] = json!(REGION);
        event["detail"]["repository-name"] = json!(repository);
        event["detail"]["image-digest"] = json!(digest);
        let vars = [
            ("TARGET_ROLE_ARNS", targets.as_str()),
            ("TARGET_EXTERNAL_ID", external_id.as_str()),
            ("DISCOVERY", mode),
        ];
        let mut function = start_program_as(
            local,
            &options.binary("redeploy-on-push"),
            REGION,
            &key,
            &vars,
        )
        .await;
        function.wait_until_ready(Duration::from_secs(5)).await;
        local.reset_calls().await;
        local.set_latency(API_LATENCY_MS).await;
        let started = Instant::now();
        let summary = function
            .invoke_with_deadline(event, Duration::from_secs(300))
            .await
            .response();
        let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
        local.set_latency(0).await;
        let deployed = summary["services"].as_array().map_or(0, |s| {
            s.iter().filter(|e| e["outcome"] == "deployed").count()
        });
        assert_eq!(deployed, TRACKED, "{mode}: {summary}");
        // The bench's local AWS serves no one else: every call is the push's.
        let calls: BTreeMap<String, u64> = local
            .calls()
            .await
            .into_iter()
            .map(|(call, n)| (crate::harness::localaws::iam_action(&call), n))
            .collect();
        let discovery_calls = DISCOVERY.iter().filter_map(|c| calls.get(*c)).sum();
        eprintln!(
            "bench: fleet push, discovery {mode}: {wall_ms:.0} ms, {discovery_calls} discovery calls"
        );
        rows.push(FleetRow {
            discovery: (*mode).to_owned(),
            services: SERVICES,
            clusters: CLUSTERS,
            accounts: ACCOUNTS,
            deployed,
            discovery_calls,
            calls,
            wall_ms,
        });
    }
    rows
}

/// The fleet-scale section.
pub fn fleet_section(rows: &[FleetRow]) -> Section {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                row.discovery.clone(),
                row.services.to_string(),
                row.clusters.to_string(),
                row.accounts.to_string(),
                row.deployed.to_string(),
                row.discovery_calls.to_string(),
                row.calls.values().sum::<u64>().to_string(),
                ms(row.wall_ms),
                row.calls
                    .iter()
                    .map(|(op, n)| format!("{op} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    let markdown = format!(
        "### redeploy-on-push at fleet scale, across accounts\n\n\
         {SERVICES} services in {CLUSTERS} clusters over {ACCOUNTS} workload accounts, {TRACKED} of them \
         tracking the pushed repository (in two clusters of each account). One push each, the function \
         in the tools account assuming each account's workload role; {API_LATENCY_MS} ms added to every \
         AWS call; ECS reads paced at 20 a second after a burst of 50 per account. *discovery calls*: \
         `tag:GetResources`, `ecs:ListClusters`, `ecs:ListServices` and `ecs:DescribeServices` in the \
         workload accounts.\n\n{}",
        table(
            &[
                "discovery",
                "services",
                "clusters",
                "accounts",
                "deployed",
                "discovery calls",
                "AWS calls",
                "wall time",
                "calls by operation",
            ],
            &[false, true, true, true, true, true, true, true, false],
            &cells,
        )
    );
    Section {
        name: "fleet-scale",
        markdown,
        json: json!({ "apiLatencyMs": API_LATENCY_MS, "rows": rows }),
    }
}
