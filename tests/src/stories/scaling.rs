//! The `scheduled-scaling` story: business hours for production, the dev
//! environment scaled to zero at night and restored in the morning.
//!
//! Also the helpers the scaling integration tests share: a cluster of small
//! services, scalable targets, and reading a service's capacity back from AWS.

use std::collections::BTreeMap;
use std::fmt;

use autopilot_shared::capacity::{REMEMBERED_CAPACITY_TAG, Suspended, TargetCapacity};
use aws_config::SdkConfig;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};
use aws_sdk_ecs::types::{ContainerDefinition, ServiceField, Tag};
use serde_json::{Value, json};

use crate::harness::localaws::{LocalAws, REGION};
use crate::harness::timeline::Timeline;
use crate::{Outcome, start_function, unique};

/// The tag the story's office-hours schedules select on.
pub const SCHEDULE_TAG: &str = "autopilot:schedule";

/// Creates a cluster and a small task definition (family = cluster name) for
/// its services.
pub async fn create_cluster(sdk: &SdkConfig, cluster: &str) {
    let ecs = aws_sdk_ecs::Client::new(sdk);
    ecs.create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create cluster {cluster}: {e:?}"));
    ecs.register_task_definition()
        .family(cluster)
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("public.ecr.aws/nginx/nginx:1.27")
                .memory(128)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("register task definition {cluster}: {e:?}"));
}

/// Creates a service in a cluster made by [`create_cluster`], with a desired
/// count and tags; returns its ARN.
pub async fn create_service(
    sdk: &SdkConfig,
    cluster: &str,
    service: &str,
    desired: i32,
    tags: &[(&str, &str)],
) -> String {
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let mut create = ecs
        .create_service()
        .cluster(cluster)
        .service_name(service)
        .task_definition(cluster)
        .desired_count(desired);
    for (key, value) in tags {
        create = create.tags(Tag::builder().key(*key).value(*value).build());
    }
    create
        .send()
        .await
        .unwrap_or_else(|e| panic!("create service {cluster}/{service}: {e:?}"))
        .service()
        .and_then(|s| s.service_arn())
        .unwrap_or_else(|| panic!("no ARN for service {cluster}/{service}"))
        .to_owned()
}

/// Registers an Application Auto Scaling scalable target on the service's
/// desired count.
pub async fn register_target(
    sdk: &SdkConfig,
    cluster: &str,
    service: &str,
    target: TargetCapacity,
) {
    aws_sdk_applicationautoscaling::Client::new(sdk)
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(format!("service/{cluster}/{service}"))
        .min_capacity(target.min)
        .max_capacity(target.max)
        .suspended_state(target.suspended.to_sdk())
        .send()
        .await
        .unwrap_or_else(|e| panic!("register scalable target {cluster}/{service}: {e:?}"));
}

/// A scalable target's range, nothing suspended.
pub fn range(min: i32, max: i32) -> TargetCapacity {
    TargetCapacity {
        min,
        max,
        suspended: Suspended::default(),
    }
}

/// A service's capacity as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCapacity {
    /// `desiredCount` from `DescribeServices`.
    pub desired: i32,
    /// The scalable target from `DescribeScalableTargets`.
    pub target: Option<TargetCapacity>,
    /// The value of the remembered-capacity tag.
    pub remembered: Option<String>,
}

impl fmt::Display for AwsCapacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.target {
            Some(t) => write!(
                f,
                "min {} max {} desired {} (suspended: {})",
                t.min, t.max, self.desired, t.suspended
            )?,
            None => write!(f, "desired {} (no scalable target)", self.desired)?,
        }
        if let Some(value) = &self.remembered {
            write!(f, ", remembered {value:?}")?;
        }
        Ok(())
    }
}

/// Reads a service's capacity from ECS and Application Auto Scaling.
pub async fn aws_capacity(sdk: &SdkConfig, cluster: &str, service: &str) -> AwsCapacity {
    let described = aws_sdk_ecs::Client::new(sdk)
        .describe_services()
        .cluster(cluster)
        .services(service)
        .include(ServiceField::Tags)
        .send()
        .await
        .unwrap_or_else(|e| panic!("describe service {cluster}/{service}: {e:?}"));
    let found = described
        .services()
        .first()
        .unwrap_or_else(|| panic!("service {cluster}/{service} not found"));
    let tags: BTreeMap<String, String> = found
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect();
    let targets = aws_sdk_applicationautoscaling::Client::new(sdk)
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_ids(format!("service/{cluster}/{service}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("describe scalable target {cluster}/{service}: {e:?}"));
    AwsCapacity {
        desired: found.desired_count(),
        target: targets.scalable_targets().first().map(|t| TargetCapacity {
            min: t.min_capacity(),
            max: t.max_capacity(),
            suspended: Suspended::from_sdk(t.suspended_state()),
        }),
        remembered: tags.get(REMEMBERED_CAPACITY_TAG).cloned(),
    }
}

/// A capacity from the function's JSON summary, as one line.
pub fn summary_capacity(capacity: &Value) -> String {
    if capacity.is_null() {
        return "-".to_owned();
    }
    let desired = &capacity["desired"];
    match (capacity["min"].as_i64(), capacity["max"].as_i64()) {
        (Some(min), Some(max)) => {
            let s = &capacity["suspended"];
            let suspended = Suspended {
                dynamic_scaling_in: s["dynamicScalingIn"].as_bool().unwrap_or(false),
                dynamic_scaling_out: s["dynamicScalingOut"].as_bool().unwrap_or(false),
                scheduled_scaling: s["scheduledScaling"].as_bool().unwrap_or(false),
            };
            format!("min {min} max {max} desired {desired} (suspended: {suspended})")
        }
        _ => format!("desired {desired} (no scalable target)"),
    }
}

/// Invokes the function, shows its summary and what AWS reports after, and
/// returns each service's capacity as AWS reports it, in the order of
/// `services`. Panics on an error answer.
async fn invoke(
    process: &mut crate::LambdaProcess,
    timeline: &Timeline,
    sdk: &SdkConfig,
    payload: Value,
    services: &[(&str, &str)],
) -> (Value, Vec<AwsCapacity>) {
    timeline.step("EventBridge Scheduler", format!("invokes with {payload}"));
    let summary = match process.invoke(payload).await {
        Outcome::Response(summary) => summary,
        Outcome::Error {
            error_type,
            error_message,
        } => panic!(
            "scheduled-scaling failed: {error_type}: {error_message}\n{}",
            process.logs()
        ),
    };
    let counts = summary["counts"]
        .as_object()
        .map(|c| {
            c.iter()
                .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    timeline.step(
        "scheduled-scaling",
        format!("{}: {counts}", summary["action"].as_str().unwrap_or("?")),
    );
    for entry in summary["services"].as_array().into_iter().flatten() {
        timeline.detail(format!(
            "{} [{}] {} -> {}",
            entry["service"].as_str().unwrap_or("?"),
            entry["outcome"].as_str().unwrap_or("?"),
            summary_capacity(&entry["before"]),
            summary_capacity(&entry["after"]),
        ));
    }
    let mut capacities = Vec::new();
    for (cluster, service) in services {
        let now = aws_capacity(sdk, cluster, service).await;
        timeline.detail(format!("AWS now: {cluster}/{service}: {now}"));
        capacities.push(now);
    }
    (summary, capacities)
}

/// Panics unless the summary gives each `(cluster/service, outcome)`, and
/// no other service.
#[track_caller]
fn expect_outcomes(summary: &Value, expected: &[(String, &str)]) {
    let mut got: Vec<(String, String)> = summary["services"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["service"].as_str().unwrap_or_default().to_owned(),
                s["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(service, outcome)| (service.clone(), (*outcome).to_owned()))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "scheduled-scaling answered {summary}");
}

/// Runs the story against the local AWS in [`REGION`], where the demo has
/// provisioned `production_service` (cluster, service):
///
/// 1. provisions a `dev-…` cluster with two services tagged
///    `autopilot:schedule=office-hours`: `office-web` with a scalable target
///    (min 2, max 6, a target-tracking policy when the local AWS accepts one)
///    and `office-worker` without one (desired 3), plus an untagged
///    `admin` service the schedules must not touch;
/// 2. runs the real `scheduled-scaling` binary with `set-capacity`
///    business hours (min 5, max 10) on the production service;
/// 3. `scale-to-zero` for the office-hours services of that cluster;
/// 4. `restore`, bringing back exactly what was there.
///
/// Each step prints before → after from the function's JSON summary and the
/// capacity AWS reports afterwards. Panics when a step fails or AWS does not
/// report what it should: each service's outcome, production's business
/// hours, the dev services at zero (admin untouched), and after the restore
/// every capacity exactly as before the night.
pub async fn run(local: &LocalAws, timeline: &Timeline, production_service: (&str, &str)) {
    timeline.chapter(
        "scheduled-scaling: business hours, scale to zero at night, restore in the morning",
    );
    let sdk = local.sdk_config(REGION).await;
    let dev = unique("dev");
    let office_hours = [(SCHEDULE_TAG, "office-hours")];

    create_cluster(&sdk, &dev).await;
    create_service(&sdk, &dev, "office-web", 3, &office_hours).await;
    register_target(&sdk, &dev, "office-web", range(2, 6)).await;
    let policy = aws_sdk_applicationautoscaling::Client::new(&sdk)
        .put_scaling_policy()
        .policy_name("cpu-60")
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(format!("service/{dev}/office-web"))
        .policy_type(aws_sdk_applicationautoscaling::types::PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(
            TargetTrackingScalingPolicyConfiguration::builder()
                .target_value(60.0)
                .predefined_metric_specification(
                    PredefinedMetricSpecification::builder()
                        .predefined_metric_type(MetricType::EcsServiceAverageCpuUtilization)
                        .build()
                        .unwrap_or_else(|e| panic!("predefined metric: {e}")),
                )
                .build()
                .unwrap_or_else(|e| panic!("target tracking configuration: {e}")),
        )
        .send()
        .await;
    create_service(&sdk, &dev, "office-worker", 3, &office_hours).await;
    create_service(&sdk, &dev, "admin", 1, &[]).await;
    timeline.step(
        "setup",
        format!("cluster {dev}: office-web and office-worker tagged {SCHEDULE_TAG}=office-hours, admin untagged"),
    );
    timeline.detail(format!(
        "office-web: scalable target min 2 max 6{}",
        match policy {
            Ok(_) => ", target tracking on CPU at 60%",
            Err(_) => " (the local AWS refused the target-tracking policy)",
        }
    ));
    let dev_services = [
        (dev.as_str(), "office-web"),
        (dev.as_str(), "office-worker"),
        (dev.as_str(), "admin"),
    ];
    let mut evening = Vec::new();
    for (cluster, service) in dev_services {
        let capacity = aws_capacity(&sdk, cluster, service).await;
        timeline.detail(format!("{cluster}/{service}: {capacity}"));
        evening.push(capacity);
    }
    let office = |service: &str| format!("{dev}/{service}");

    let mut process = start_function(local, "scheduled-scaling", REGION, &[]).await;
    let (production_cluster, production) = production_service;

    timeline.step("09:00", "business hours for production");
    let (summary, production_now) = invoke(
        &mut process,
        timeline,
        &sdk,
        json!({
            "action": "set-capacity",
            "services": [format!("{production_cluster}/{production}")],
            "min": 5,
            "max": 10,
        }),
        &[production_service],
    )
    .await;
    expect_outcomes(
        &summary,
        &[(format!("{production_cluster}/{production}"), "changed")],
    );
    // No scalable target: its desired count (2) is brought into 5..=10.
    assert_eq!(
        (production_now[0].desired, production_now[0].target),
        (5, None),
        "business hours for {production_cluster}/{production}"
    );

    let selector = json!({"clusters": [dev], "tags": {SCHEDULE_TAG: "office-hours"}});
    timeline.step("20:00", "the dev environment goes to sleep");
    let (summary, night) = invoke(
        &mut process,
        timeline,
        &sdk,
        json!({"action": "scale-to-zero", "selector": selector}),
        &dev_services,
    )
    .await;
    expect_outcomes(
        &summary,
        &[
            (office("office-web"), "changed"),
            (office("office-worker"), "changed"),
        ],
    );
    for (capacity, (_, service)) in night.iter().zip(dev_services).take(2) {
        assert_eq!(capacity.desired, 0, "{service} asleep: {capacity}");
        assert!(
            capacity.remembered.is_some(),
            "{service} remembers its capacity: {capacity}"
        );
    }
    assert_eq!(night[2], evening[2], "admin is not on the schedule");

    timeline.step("07:00", "and wakes up as it was");
    let (summary, morning) = invoke(
        &mut process,
        timeline,
        &sdk,
        json!({"action": "restore", "selector": selector}),
        &dev_services,
    )
    .await;
    expect_outcomes(
        &summary,
        &[
            (office("office-web"), "changed"),
            (office("office-worker"), "changed"),
        ],
    );
    assert_eq!(
        morning, evening,
        "restore brings back exactly what was there, remembered tag gone"
    );
}
