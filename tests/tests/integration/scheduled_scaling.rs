//! `scheduled-scaling` end to end: the real binary, through the Lambda
//! Runtime API, against the local AWS; every test checks the state AWS
//! reports afterwards.
//!
//! The tests run in their own Region, and each selects by a tag value of its
//! own, so an "every cluster" selector never picks up another test's services.

use std::collections::BTreeMap;

use autopilot_shared::capacity::{Suspended, TargetCapacity};
use autopilot_tests::stories::scaling::{
    AwsCapacity, SCHEDULE_TAG, aws_capacity, create_cluster, create_service, range, register_target,
};
use autopilot_tests::{LambdaProcess, LocalAws, start_function, unique};
use aws_config::SdkConfig;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

const REGION: &str = "ap-southeast-2";

struct Scenario {
    local: LocalAws,
    sdk: SdkConfig,
    /// This test's value of the `autopilot:schedule` tag.
    schedule: String,
}

impl Scenario {
    async fn new() -> Scenario {
        let local = LocalAws::connect().await;
        let sdk = local.sdk_config(REGION).await;
        Scenario {
            local,
            sdk,
            schedule: unique("office"),
        }
    }

    async fn cluster(&self, label: &str) -> String {
        let name = unique(label);
        create_cluster(&self.sdk, &name).await;
        name
    }

    /// A service tagged with this test's schedule.
    async fn scheduled(&self, cluster: &str, service: &str, desired: i32) {
        create_service(
            &self.sdk,
            cluster,
            service,
            desired,
            &[(SCHEDULE_TAG, &self.schedule), ("team", "payments")],
        )
        .await;
    }

    async fn function(&self, extra: &[(&str, &str)]) -> LambdaProcess {
        let mut env = vec![("AWS_MAX_ATTEMPTS", "1")];
        env.extend_from_slice(extra);
        start_function(&self.local, "scheduled-scaling", REGION, &env).await
    }

    fn selector(&self) -> Value {
        json!({"tags": {SCHEDULE_TAG: self.schedule}})
    }

    async fn capacity(&self, cluster: &str, service: &str) -> AwsCapacity {
        aws_capacity(&self.sdk, cluster, service).await
    }
}

/// The summary entry of `service` (`cluster/service`).
#[track_caller]
fn entry<'a>(summary: &'a Value, service: &str) -> &'a Value {
    summary["services"]
        .as_array()
        .and_then(|services| services.iter().find(|s| s["service"] == service))
        .unwrap_or_else(|| panic!("{service} not in {summary:#}"))
}

#[track_caller]
fn outcomes(summary: &Value) -> Vec<(String, String)> {
    summary["services"]
        .as_array()
        .unwrap_or_else(|| panic!("no services in {summary:#}"))
        .iter()
        .map(|s| {
            (
                s["service"].as_str().unwrap_or_default().to_owned(),
                s["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn target(min: i32, max: i32, suspended: Suspended) -> Option<TargetCapacity> {
    Some(TargetCapacity {
        min,
        max,
        suspended,
    })
}

const IN_OUT: Suspended = Suspended {
    dynamic_scaling_in: true,
    dynamic_scaling_out: true,
    scheduled_scaling: false,
};

/// `set-capacity` on an explicit list across two clusters: a service with a
/// scalable target gets its range (and the count only when `desired` is
/// given); one without gets its desired count, clamped. A second run changes nothing.
#[tokio::test]
async fn set_capacity_with_and_without_scalable_target_across_clusters() {
    let s = Scenario::new().await;
    let (a, b) = (s.cluster("ssa").await, s.cluster("ssb").await);
    s.scheduled(&a, "web", 3).await;
    let scheduled_only = Suspended {
        scheduled_scaling: true,
        ..Suspended::default()
    };
    register_target(
        &s.sdk,
        &a,
        "web",
        TargetCapacity {
            min: 2,
            max: 6,
            suspended: scheduled_only,
        },
    )
    .await;
    s.scheduled(&b, "worker", 1).await;
    let web: &str = &format!("{a}/web");
    let worker: &str = &format!("{b}/worker");
    let mut function = s.function(&[]).await;

    let payload = json!({"action": "set-capacity", "services": [worker, web], "min": 4, "max": 8});
    let summary = function.invoke(payload.clone()).await.response();
    assert_eq!(summary["action"], "set-capacity");
    assert_eq!(summary["dryRun"], false);
    assert_eq!(
        outcomes(&summary),
        pairs(&[(web, "changed"), (worker, "changed")])
    );
    let suspended_json =
        json!({"dynamicScalingIn": false, "dynamicScalingOut": false, "scheduledScaling": true});
    assert_eq!(
        entry(&summary, web)["before"],
        json!({"min": 2, "max": 6, "desired": 3, "suspended": suspended_json})
    );
    // With a scalable target the count is Application Auto Scaling's to move into range.
    assert_eq!(
        entry(&summary, web)["after"],
        json!({"min": 4, "max": 8, "desired": 4, "suspended": suspended_json})
    );
    assert_eq!(
        entry(&summary, worker)["before"],
        json!({"min": null, "max": null, "desired": 1})
    );
    assert_eq!(
        entry(&summary, worker)["after"],
        json!({"min": null, "max": null, "desired": 4})
    );
    let web_now = s.capacity(&a, "web").await;
    assert_eq!(web_now.target, target(4, 8, scheduled_only));
    assert_eq!(web_now.remembered, None);
    assert_eq!(s.capacity(&b, "worker").await.desired, 4);

    let again = function.invoke(payload).await.response();
    assert_eq!(
        outcomes(&again),
        pairs(&[(web, "unchanged"), (worker, "unchanged")])
    );
    assert_eq!(s.capacity(&a, "web").await, web_now);

    let with_desired = json!({"action": "set-capacity", "services": [web, worker], "min": 4, "max": 8, "desired": 5});
    let summary = function.invoke(with_desired).await.response();
    assert_eq!(
        outcomes(&summary),
        pairs(&[(web, "changed"), (worker, "changed")])
    );
    let web_now = s.capacity(&a, "web").await;
    assert_eq!(
        (web_now.desired, web_now.target),
        (5, target(4, 8, scheduled_only))
    );
    assert_eq!(s.capacity(&b, "worker").await.desired, 5);
}

/// `scale-to-zero` by tag across two clusters (no `clusters`: every
/// cluster), twice, then `restore`, twice: capacity and suspended state come
/// back exactly, the remembered capacity is never overwritten, and services
/// without the tag value are never touched.
#[tokio::test]
async fn scale_to_zero_then_restore_round_trips_exactly() {
    let s = Scenario::new().await;
    let (a, b) = (s.cluster("rta").await, s.cluster("rtb").await);
    s.scheduled(&a, "web", 3).await;
    register_target(
        &s.sdk,
        &a,
        "web",
        TargetCapacity {
            min: 2,
            max: 6,
            suspended: Suspended {
                scheduled_scaling: true,
                ..Suspended::default()
            },
        },
    )
    .await;
    s.scheduled(&a, "api", 2).await;
    register_target(
        &s.sdk,
        &a,
        "api",
        TargetCapacity {
            min: 1,
            max: 4,
            suspended: Suspended {
                dynamic_scaling_in: true,
                ..Suspended::default()
            },
        },
    )
    .await;
    s.scheduled(&b, "worker", 3).await;
    create_service(&s.sdk, &b, "other", 2, &[(SCHEDULE_TAG, "always-on")]).await;
    register_target(&s.sdk, &b, "other", range(1, 3)).await;
    let services = [(&a, "web"), (&a, "api"), (&b, "worker"), (&b, "other")];
    let mut before = Vec::new();
    for (cluster, service) in services {
        before.push(s.capacity(cluster, service).await);
    }
    let web: &str = &format!("{a}/web");
    let api: &str = &format!("{a}/api");
    let worker: &str = &format!("{b}/worker");
    let mut function = s.function(&[]).await;
    let zero = json!({"action": "scale-to-zero", "selector": s.selector()});

    let summary = function.invoke(zero.clone()).await.response();
    assert_eq!(
        outcomes(&summary),
        pairs(&[(api, "changed"), (web, "changed"), (worker, "changed")])
    );
    assert_eq!(summary["counts"]["changed"], 3);
    let web_zero = s.capacity(&a, "web").await;
    assert_eq!(
        web_zero,
        AwsCapacity {
            desired: 0,
            target: target(
                0,
                0,
                Suspended {
                    scheduled_scaling: true,
                    ..IN_OUT
                }
            ),
            remembered: Some("v1 min=2 max=6 desired=3 suspend=scheduled".into()),
        }
    );
    let api_zero = s.capacity(&a, "api").await;
    assert_eq!(
        api_zero,
        AwsCapacity {
            desired: 0,
            target: target(0, 0, IN_OUT),
            remembered: Some("v1 min=1 max=4 desired=2 suspend=in".into()),
        }
    );
    let worker_zero = s.capacity(&b, "worker").await;
    assert_eq!(
        worker_zero,
        AwsCapacity {
            desired: 0,
            target: None,
            remembered: Some("v1 desired=3".into()),
        }
    );
    assert_eq!(s.capacity(&b, "other").await, before[3]);

    // A second scale-to-zero never overwrites the remembered capacity with zeros.
    let summary = function.invoke(zero).await.response();
    assert_eq!(
        outcomes(&summary),
        pairs(&[
            (api, "unchanged"),
            (web, "unchanged"),
            (worker, "unchanged")
        ])
    );
    assert_eq!(s.capacity(&a, "web").await, web_zero);
    assert_eq!(s.capacity(&a, "api").await, api_zero);
    assert_eq!(s.capacity(&b, "worker").await, worker_zero);

    let restore = json!({"action": "restore", "selector": s.selector()});
    let summary = function.invoke(restore.clone()).await.response();
    assert_eq!(
        outcomes(&summary),
        pairs(&[(api, "changed"), (web, "changed"), (worker, "changed")])
    );
    assert_eq!(
        entry(&summary, web)["after"],
        json!({"min": 2, "max": 6, "desired": 3, "suspended": {"dynamicScalingIn": false, "dynamicScalingOut": false, "scheduledScaling": true}})
    );
    let mut after = Vec::new();
    for (cluster, service) in services {
        after.push(s.capacity(cluster, service).await);
    }
    assert_eq!(after, before, "restore brings back exactly what was there");

    // Nothing remembered any more: a clear no-op.
    let summary = function.invoke(restore).await.response();
    assert_eq!(
        outcomes(&summary),
        pairs(&[(api, "skipped"), (web, "skipped"), (worker, "skipped")])
    );
    assert!(
        entry(&summary, web)["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("nothing remembered"),
        "{summary:#}"
    );
    let mut again = Vec::new();
    for (cluster, service) in services {
        again.push(s.capacity(cluster, service).await);
    }
    assert_eq!(again, before);
}

/// A selector with `clusters` searches only those clusters.
#[tokio::test]
async fn selector_clusters_limit_the_search() {
    let s = Scenario::new().await;
    let (a, b) = (s.cluster("sca").await, s.cluster("scb").await);
    s.scheduled(&a, "web", 3).await;
    s.scheduled(&b, "web", 3).await;
    let mut function = s.function(&[]).await;
    let summary = function
        .invoke(json!({
            "action": "set-capacity",
            "selector": {"clusters": [a], "tags": {SCHEDULE_TAG: s.schedule}},
            "min": 1, "max": 2, "desired": 1
        }))
        .await
        .response();
    assert_eq!(
        outcomes(&summary),
        pairs(&[(format!("{a}/web").as_str(), "changed")])
    );
    assert_eq!(s.capacity(&a, "web").await.desired, 1);
    assert_eq!(s.capacity(&b, "web").await.desired, 3);
}

/// `DRY_RUN=true` reports `planned` with before and after, and changes nothing.
#[tokio::test]
async fn dry_run_plans_and_changes_nothing() {
    let s = Scenario::new().await;
    let a = s.cluster("dry").await;
    s.scheduled(&a, "web", 3).await;
    register_target(&s.sdk, &a, "web", range(2, 6)).await;
    s.scheduled(&a, "worker", 2).await;
    let before = (s.capacity(&a, "web").await, s.capacity(&a, "worker").await);
    let mut function = s.function(&[("DRY_RUN", "true")]).await;

    let summary = function
        .invoke(json!({"action": "scale-to-zero", "selector": s.selector()}))
        .await
        .response();
    assert_eq!(summary["dryRun"], true);
    let web: &str = &format!("{a}/web");
    let worker: &str = &format!("{a}/worker");
    assert_eq!(
        outcomes(&summary),
        pairs(&[(web, "planned"), (worker, "planned")])
    );
    assert_eq!(
        entry(&summary, web)["after"],
        json!({"min": 0, "max": 0, "desired": 0, "suspended": {"dynamicScalingIn": true, "dynamicScalingOut": true, "scheduledScaling": false}})
    );
    assert!(
        entry(&summary, web)["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("would remember"),
        "{summary:#}"
    );
    for payload in [
        json!({"action": "set-capacity", "services": [web, worker], "min": 5, "max": 9, "desired": 5}),
        json!({"action": "restore", "selector": s.selector()}),
    ] {
        function.invoke(payload).await.response();
    }
    assert_eq!(
        (s.capacity(&a, "web").await, s.capacity(&a, "worker").await),
        before
    );
}

/// Each malformed payload is `InvalidInput` naming the field, and changes nothing.
#[tokio::test]
async fn malformed_payloads_name_the_field_and_change_nothing() {
    let s = Scenario::new().await;
    let a = s.cluster("bad").await;
    s.scheduled(&a, "web", 3).await;
    register_target(&s.sdk, &a, "web", range(2, 6)).await;
    let before = s.capacity(&a, "web").await;
    let web: &str = &format!("{a}/web");
    let selector = s.selector();
    let mut function = s.function(&[]).await;
    let cases = [
        (
            json!({"action": "scale-up", "selector": selector}),
            "action",
        ),
        (
            json!({"action": "set-capacity", "services": [web], "min": 5, "max": 3}),
            "min",
        ),
        (
            json!({"action": "set-capacity", "services": [web], "min": -1, "max": 3}),
            "min",
        ),
        (
            json!({"action": "set-capacity", "services": [web], "min": 1, "max": 3, "desired": 7}),
            "desired",
        ),
        (
            json!({"action": "set-capacity", "services": [web], "mni": 1, "max": 3}),
            "mni",
        ),
        (json!({"action": "scale-to-zero"}), "services"),
        (
            json!({"action": "scale-to-zero", "services": [web], "selector": selector}),
            "services",
        ),
        (
            json!({"action": "scale-to-zero", "selector": {}}),
            "selector",
        ),
        (
            json!({"action": "scale-to-zero", "services": ["web-without-cluster"]}),
            "services[0]",
        ),
        (
            json!({"action": "restore", "selector": selector, "min": 1}),
            "min",
        ),
        (
            json!({"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}),
            "constant Input",
        ),
    ];
    for (payload, field) in cases {
        let (error_type, message) = function.invoke(payload.clone()).await.error();
        assert_eq!(error_type, "InvalidInput", "{payload}: {message}");
        assert!(message.contains(field), "{payload}: {message}");
    }
    assert_eq!(s.capacity(&a, "web").await, before);
}

/// A missing service or cluster among good ones: the others still change, and
/// the invocation fails naming what failed (not retryable: it will not appear).
#[tokio::test]
async fn a_missing_service_does_not_stop_the_others() {
    let s = Scenario::new().await;
    let (a, b) = (s.cluster("msa").await, s.cluster("msb").await);
    s.scheduled(&a, "web", 3).await;
    s.scheduled(&b, "worker", 3).await;
    let ghost_cluster = unique("no-such-cluster");
    let mut function = s.function(&[]).await;
    let (error_type, message) = function
        .invoke(json!({
            "action": "set-capacity",
            "services": [format!("{a}/web"), format!("{a}/ghost"), format!("{ghost_cluster}/api"), format!("{b}/worker")],
            "min": 1, "max": 2
        }))
        .await
        .error();
    // Not retryable (neither will appear), and said as what it is.
    assert_eq!(error_type, "NotFound", "{message}");
    assert!(
        message.starts_with("set-capacity failed for 2 of 4 services (changed 2, failed 2,"),
        "{message}"
    );
    assert!(
        message.contains(&format!("{a}/ghost: service not found in cluster {a}")),
        "{message}"
    );
    assert!(
        message.contains(&format!("{ghost_cluster}/api: ")),
        "{message}"
    );
    assert_eq!(s.capacity(&a, "web").await.desired, 2);
    assert_eq!(s.capacity(&b, "worker").await.desired, 2);
    let logs = function.finish_logs().await;
    assert!(
        logs.contains("\"Outcome\":\"failed\",\"ScalingActions\":2"),
        "the failures are counted in the metrics: {logs}"
    );
}

/// Selection and scalable-target reads are batched at the API limits
/// (ListServices 100, DescribeServices 10, DescribeScalableTargets 50), every
/// service of a large fleet is handled, and the writes are one per step and
/// service. By listing (`DISCOVERY=ecs`), whose page counts are ECS's own.
#[tokio::test]
async fn a_large_fleet_is_batched() {
    let s = Scenario::new().await;
    let a = s.cluster("fleet").await;
    let count: usize = 55;
    for i in 0..count {
        let name = format!("svc-{i:02}");
        s.scheduled(&a, &name, 1).await;
        if i % 5 != 0 {
            register_target(&s.sdk, &a, &name, range(1, 2)).await;
        }
    }
    let mut function = s
        .function(&[("MAX_CONCURRENCY", "4"), ("DISCOVERY", "ecs")])
        .await;
    let selector = json!({"clusters": [a], "tags": {SCHEDULE_TAG: s.schedule}});
    let zero = function
        .invoke(json!({"action": "scale-to-zero", "selector": selector}))
        .await
        .response();
    assert_eq!(zero["counts"]["changed"], count);
    assert_eq!(
        s.local.calls_of(&function).await,
        calls(&[
            ("ecs:ListServices", 1),
            ("ecs:DescribeServices", 6),
            ("application-autoscaling:DescribeScalableTargets", 2),
            ("ecs:TagResource", 55),
            ("application-autoscaling:RegisterScalableTarget", 44),
            ("ecs:UpdateService", 55),
        ])
    );
    assert_eq!(
        s.capacity(&a, "svc-54").await,
        AwsCapacity {
            desired: 0,
            target: target(0, 0, IN_OUT),
            remembered: Some("v1 min=1 max=2 desired=1 suspend=none".into()),
        }
    );
    let restored = function
        .invoke(json!({"action": "restore", "selector": selector}))
        .await
        .response();
    assert_eq!(restored["counts"]["changed"], count);
    assert_eq!(
        s.capacity(&a, "svc-54").await,
        AwsCapacity {
            desired: 1,
            target: Some(range(1, 2)),
            remembered: None,
        }
    );
    assert_eq!(
        s.capacity(&a, "svc-50").await,
        AwsCapacity {
            desired: 1,
            target: None,
            remembered: None,
        }
    );
}

/// What an invocation answers.
enum Answer {
    /// A summary with this outcome for each of the two services.
    Outcomes(&'static str),
    /// An `InvalidInput` error whose message has this part.
    Invalid(&'static str),
}

/// `(payload, dry run, the answer, the calls it makes)`.
type CallCase = (Value, bool, Answer, Vec<(&'static str, u64)>);

fn calls(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// The calls each action makes, counted for this function process alone, all
/// within the declared IAM actions; a malformed payload makes none.
#[tokio::test]
async fn calls_per_action_stay_within_the_declared_iam_actions() {
    let s = Scenario::new().await;
    let (a, b) = (s.cluster("cca").await, s.cluster("ccb").await);
    s.scheduled(&a, "web", 3).await;
    register_target(&s.sdk, &a, "web", range(2, 6)).await;
    s.scheduled(&b, "worker", 3).await;
    let web: &str = &format!("{a}/web");
    let worker: &str = &format!("{b}/worker");
    let selector = json!({"clusters": [a, b], "tags": {SCHEDULE_TAG: s.schedule}});
    let mut function = s.function(&[]).await;
    let mut dry = s.function(&[("DRY_RUN", "true")]).await;
    let reads_by_name = [
        ("ecs:DescribeServices", 2),
        ("application-autoscaling:DescribeScalableTargets", 1),
    ];
    // By tag: one GetResources page finds both, then one DescribeServices
    // per cluster.
    let reads_by_selector = [
        ("tag:GetResources", 1),
        ("ecs:DescribeServices", 2),
        ("application-autoscaling:DescribeScalableTargets", 1),
    ];
    let cases: Vec<CallCase> = vec![
        (
            json!({"action": "set-capacity", "services": [web, worker], "min": 4, "max": 8}),
            false,
            Answer::Outcomes("changed"),
            [
                &reads_by_name[..],
                &[
                    ("application-autoscaling:RegisterScalableTarget", 1),
                    ("ecs:UpdateService", 1),
                ],
            ]
            .concat(),
        ),
        (
            json!({"action": "set-capacity", "services": [web, worker], "min": 4, "max": 8}),
            false,
            Answer::Outcomes("unchanged"),
            reads_by_name.to_vec(),
        ),
        (
            json!({"action": "scale-to-zero", "selector": selector}),
            true,
            Answer::Outcomes("planned"),
            reads_by_selector.to_vec(),
        ),
        (
            json!({"action": "scale-to-zero", "selector": selector}),
            false,
            Answer::Outcomes("changed"),
            [
                &reads_by_selector[..],
                &[
                    ("ecs:TagResource", 2),
                    ("application-autoscaling:RegisterScalableTarget", 1),
                    ("ecs:UpdateService", 2),
                ],
            ]
            .concat(),
        ),
        (
            json!({"action": "scale-to-zero", "selector": selector}),
            false,
            Answer::Outcomes("unchanged"),
            reads_by_selector.to_vec(),
        ),
        (
            json!({"action": "restore", "selector": selector}),
            false,
            Answer::Outcomes("changed"),
            [
                &reads_by_selector[..],
                &[
                    ("application-autoscaling:RegisterScalableTarget", 1),
                    ("ecs:UpdateService", 2),
                    ("ecs:UntagResource", 2),
                ],
            ]
            .concat(),
        ),
        (
            json!({"action": "restore", "selector": selector}),
            false,
            // Nothing is remembered any more: nothing to restore.
            Answer::Outcomes("skipped"),
            reads_by_selector.to_vec(),
        ),
        (
            json!({"action": "restore", "selector": {}}),
            false,
            Answer::Invalid("selector: give clusters, tags or both: an empty selector"),
            vec![],
        ),
    ];
    for (payload, dry_run, answer, expected) in cases {
        let process = if dry_run { &mut dry } else { &mut function };
        let before = s.local.calls_of(process).await;
        let outcome = process.invoke(payload.clone()).await;
        match answer {
            Answer::Outcomes(each) => {
                let mut got = outcomes(&outcome.response());
                let mut want = pairs(&[(web, each), (worker, each)]);
                got.sort();
                want.sort();
                assert_eq!(got, want, "{payload} (dry run: {dry_run})");
            }
            Answer::Invalid(part) => {
                let (error_type, message) = outcome.error();
                assert_eq!(error_type, "InvalidInput", "{payload}: {message}");
                assert!(message.contains(part), "{payload}: {message}");
            }
        }
        let after = s.local.calls_of(process).await;
        let made: BTreeMap<String, u64> = after
            .into_iter()
            .map(|(call, n)| {
                let n = n - before.get(&call).copied().unwrap_or(0);
                (call, n)
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        assert_eq!(made, calls(&expected), "{payload} (dry run: {dry_run})");
    }
    crate::iam::assert_calls_declared(&s.local, &function, scheduled_scaling::IAM_ACTIONS).await;
    crate::iam::assert_calls_declared(&s.local, &dry, scheduled_scaling::IAM_ACTIONS).await;
}

/// The handler called in-process (as `main` wires it) against the local AWS.
#[tokio::test]
async fn the_handler_runs_in_process() {
    let s = Scenario::new().await;
    let a = s.cluster("inproc").await;
    s.scheduled(&a, "web", 2).await;
    let config =
        scheduled_scaling::Config::from_env(&autopilot_shared::config::Env::from_pairs([(
            "MAX_CONCURRENCY",
            "2",
        )]));
    let function = scheduled_scaling::Function::new(&s.sdk, config);
    let event = |payload: Value| {
        lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default())
    };
    let web: &str = &format!("{a}/web");
    let summary = function
        .handle(event(json!({"action": "scale-to-zero", "services": [web]})))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcomes(&summary), pairs(&[(web, "changed")]));
    assert_eq!(
        s.capacity(&a, "web").await,
        AwsCapacity {
            desired: 0,
            target: None,
            remembered: Some("v1 desired=2".into()),
        }
    );
    let summary = function
        .handle(event(json!({"action": "restore", "services": [web]})))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcomes(&summary), pairs(&[(web, "changed")]));
    assert_eq!(s.capacity(&a, "web").await.desired, 2);
}

/// Lambda's log-level filtering reads a JSON line without a valid `level` as
/// INFO (Lambda developer guide, "Log-level filtering"): at WARN or ERROR the
/// metric lines would be dropped. At every application log level the
/// template allows, the function's EMF lines carry a level the filter keeps.
#[tokio::test]
async fn the_metrics_reach_the_log_at_every_log_level() {
    const LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    let rank = |level: &str| LEVELS.iter().position(|l| l.eq_ignore_ascii_case(level));
    let s = Scenario::new().await;
    let a = s.cluster("lvl").await;
    s.scheduled(&a, "web", 2).await;
    for configured in ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] {
        let mut function = s
            .function(&[
                ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
                ("AWS_LAMBDA_LOG_LEVEL", configured),
                ("DRY_RUN", "true"),
            ])
            .await;
        let payload =
            json!({"action": "set-capacity", "services": [format!("{a}/web")], "min": 4, "max": 6});
        let summary = function.invoke(payload).await.response();
        assert_eq!(
            entry(&summary, &format!("{a}/web"))["outcome"],
            "planned",
            "{summary}"
        );
        let logs = function.finish_logs().await;
        // What Lambda would keep of the function's JSON lines.
        let metrics: Vec<Value> = logs
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line.get("_aws").is_some())
            .collect();
        assert!(
            !metrics.is_empty(),
            "{configured}: no metric line in\n{logs}"
        );
        for line in &metrics {
            let level = line["level"]
                .as_str()
                .filter(|l| rank(l).is_some())
                .unwrap_or("INFO");
            assert!(
                rank(level) >= rank(configured),
                "{configured}: Lambda would drop {line}"
            );
        }
    }
}

/// Public holidays: the morning schedule names a holiday calendar; on
/// Christmas Day it is skipped (the services keep their night capacity),
/// on Boxing Day a `whenClosed` action runs instead, and on the next working
/// day the schedule runs as written. A calendar that cannot be read changes
/// nothing.
#[tokio::test]
async fn a_public_holiday_keeps_services_at_night_capacity() {
    use autopilot_tests::harness::calendar;
    let s = Scenario::new().await;
    let cluster = s.cluster("hol").await;
    s.scheduled(&cluster, "web", 1).await;
    let holidays = unique("public-holidays");
    calendar::create(&s.sdk, &holidays, &calendar::public_holidays()).await;
    let mut function = s.function(&[]).await;
    let morning = json!({
        "action": "set-capacity", "selector": s.selector(), "min": 3, "max": 6, "desired": 3,
        "calendar": holidays, "whenClosed": "skip"
    });

    // Christmas morning, 07:00 UTC: closed, so the morning schedule is skipped.
    s.local
        .set_clock_of(&function, "2026-12-25T07:00:00Z")
        .await;
    let summary = function.invoke(morning.clone()).await.response();
    assert_eq!(
        summary["calendar"]["skipped"], "set-capacity",
        "{summary:#}"
    );
    assert_eq!(
        summary["calendar"]["reason"],
        format!("calendar {holidays} is CLOSED until 2026-12-27T00:00:00Z: set-capacity skipped")
    );
    assert_eq!(summary["calendar"]["states"][0]["state"], "CLOSED");
    assert_eq!(summary["services"], json!([]));
    assert_eq!(
        s.capacity(&cluster, "web").await.desired,
        1,
        "night capacity kept"
    );

    // Boxing Day with a replacement action: a skeleton crew instead.
    s.local
        .set_clock_of(&function, "2026-12-26T07:00:00Z")
        .await;
    let mut skeleton = morning.clone();
    skeleton["whenClosed"] = json!({"action": "set-capacity", "min": 2, "max": 2, "desired": 2});
    let summary = function.invoke(skeleton).await.response();
    assert_eq!(summary["action"], "set-capacity");
    assert_eq!(
        summary["calendar"]["insteadOf"], "set-capacity",
        "{summary:#}"
    );
    assert_eq!(s.capacity(&cluster, "web").await.desired, 2);

    // The next working day: open, the schedule runs as written.
    s.local
        .set_clock_of(&function, "2026-12-28T07:00:00Z")
        .await;
    let summary = function.invoke(morning).await.response();
    assert_eq!(
        summary["calendar"]["states"][0]["state"], "OPEN",
        "{summary:#}"
    );
    assert!(summary["calendar"].get("skipped").is_none());
    assert_eq!(
        outcomes(&summary),
        pairs(&[(&format!("{cluster}/web"), "changed")])
    );
    assert_eq!(s.capacity(&cluster, "web").await.desired, 3);

    // A calendar that does not exist: an error naming it, and no change.
    let missing = json!({
        "action": "set-capacity", "selector": s.selector(), "min": 0, "max": 0,
        "calendar": unique("no-such-calendar")
    });
    let (_, message) = function.invoke(missing).await.error();
    assert!(message.contains("no-such-calendar"), "{message}");
    assert_eq!(s.capacity(&cluster, "web").await.desired, 3);
    let logs = function.finish_logs().await;
    assert!(logs.contains("\"CalendarGated\":1"), "{logs}");
    assert!(logs.contains("\"Result\":\"skipped\""), "{logs}");
    assert!(logs.contains("\"Result\":\"replaced\""), "{logs}");
    crate::iam::assert_calls_declared(&s.local, &function, scheduled_scaling::IAM_ACTIONS).await;
}
