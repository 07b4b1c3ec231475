//! The local AWS serves every operation our functions call, through the
//! current Rust SDK, with the real API's limits; and the faults it injects
//! look to the SDK as the real ones do.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use autopilot_tests::harness::localaws::{Fault, REGION, new_access_key};
use autopilot_tests::harness::provision::{self, Controller, Names};
use autopilot_tests::{LocalAws, unique};
use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_codedeploy::types::LifecycleEventStatus;
use aws_sdk_ecs::config::interceptors::FinalizerInterceptorContextRef;
use aws_sdk_ecs::config::retry::{ClassifyRetry, RetryAction};
use aws_sdk_ecs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ecs::error::{BoxError, SdkError};
use aws_sdk_ecs::types::{ContainerCondition, LogDriver};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[tokio::test]
async fn provisions_the_realistic_environment() {
    let local = LocalAws::connect().await;
    let sdk = local.sdk_config(REGION).await;
    let env = provision::provision(
        &sdk,
        Names::unique("prov"),
        Controller::CodeDeploy,
        Some("tag:latest"),
    )
    .await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);

    let task = ecs
        .describe_task_definition()
        .task_definition(&env.task_definition_arn)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .unwrap();
    let definition = task.task_definition().unwrap();
    let backend = &definition.container_definitions()[0];
    assert_eq!(backend.name(), Some("backend"));
    assert_eq!(
        backend.secrets().len(),
        2,
        "secrets from Secrets Manager and SSM"
    );
    assert_eq!(backend.secrets()[0].value_from(), env.secret_arn);
    assert_eq!(
        backend.log_configuration().unwrap().log_driver(),
        &LogDriver::Awslogs
    );
    assert!(backend.health_check().is_some());
    assert_eq!(
        backend.depends_on()[0].condition(),
        &ContainerCondition::Healthy
    );
    assert_eq!(definition.container_definitions()[1].name(), Some("redis"));
    assert_eq!(task.tags().len(), 2);

    let services = ecs
        .describe_services()
        .cluster(&env.names.cluster)
        .services(&env.names.service)
        .send()
        .await
        .unwrap();
    let service = &services.services()[0];
    assert_eq!(
        service.task_definition(),
        Some(env.task_definition_arn.as_str())
    );

    let codedeploy = aws_sdk_codedeploy::Client::new(&sdk);
    let (application, group) = env.codedeploy.clone().unwrap();
    let group = codedeploy
        .get_deployment_group()
        .application_name(&application)
        .deployment_group_name(&group)
        .send()
        .await
        .unwrap();
    let info = group.deployment_group_info().unwrap();
    assert_eq!(
        info.ecs_services()[0].service_name(),
        Some(env.names.service.as_str())
    );
    let pair = &info
        .load_balancer_info()
        .unwrap()
        .target_group_pair_info_list()[0];
    assert_eq!(pair.target_groups().len(), 2);
    assert_eq!(
        pair.test_traffic_route().unwrap().listener_arns(),
        std::slice::from_ref(&env.test_listener_arn)
    );
}

#[tokio::test]
async fn codedeploy_operations_the_harness_adds() {
    let local = LocalAws::connect().await;
    let sdk = local.sdk_config(REGION).await;
    let env =
        provision::provision(&sdk, Names::unique("cdops"), Controller::CodeDeploy, None).await;
    let (application, group) = env.codedeploy.clone().unwrap();
    let codedeploy = aws_sdk_codedeploy::Client::new(&sdk);
    let appspec = format!(
        r#"{{"version":0.0,"Resources":[{{"TargetService":{{"Type":"AWS::ECS::Service","Properties":{{"TaskDefinition":"{}","LoadBalancerInfo":{{"ContainerName":"backend","ContainerPort":3000}}}}}}}}]}}"#,
        env.task_definition_arn
    );
    let deployment_id = codedeploy
        .create_deployment()
        .application_name(&application)
        .deployment_group_name(&group)
        .revision(
            aws_sdk_codedeploy::types::RevisionLocation::builder()
                .revision_type(aws_sdk_codedeploy::types::RevisionLocationType::AppSpecContent)
                .app_spec_content(
                    aws_sdk_codedeploy::types::AppSpecContent::builder()
                        .content(appspec)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .deployment_id()
        .unwrap()
        .to_owned();

    let execution_id = local
        .start_lifecycle_hook(&deployment_id, "AfterAllowTestTraffic")
        .await;
    let targets = codedeploy
        .list_deployment_targets()
        .deployment_id(&deployment_id)
        .send()
        .await
        .unwrap();
    let target_id = format!("{}:{}", env.names.cluster, env.names.service);
    assert_eq!(targets.target_ids(), std::slice::from_ref(&target_id));

    let target = codedeploy
        .get_deployment_target()
        .deployment_id(&deployment_id)
        .target_id(&target_id)
        .send()
        .await
        .unwrap();
    let ecs_target = target.deployment_target().unwrap().ecs_target().unwrap();
    let in_progress: Vec<_> = ecs_target
        .lifecycle_events()
        .iter()
        .filter(|e| e.status() == Some(&LifecycleEventStatus::InProgress))
        .filter_map(|e| e.lifecycle_event_name())
        .collect();
    assert_eq!(in_progress, ["AfterAllowTestTraffic"]);
    let labels: Vec<_> = ecs_target
        .task_sets_info()
        .iter()
        .filter_map(|t| t.task_set_label().map(|l| l.as_str().to_owned()))
        .collect();
    assert_eq!(labels, ["Blue", "Green"]);

    codedeploy
        .put_lifecycle_event_hook_execution_status()
        .deployment_id(&deployment_id)
        .lifecycle_event_hook_execution_id(&execution_id)
        .status(LifecycleEventStatus::Succeeded)
        .send()
        .await
        .unwrap();
    let calls = local.hook_statuses(&deployment_id).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, "Succeeded");
    assert_eq!(
        calls[0].lifecycle_event_name.as_deref(),
        Some("AfterAllowTestTraffic")
    );

    let missing = codedeploy
        .put_lifecycle_event_hook_execution_status()
        .deployment_id("d-DOESNOTEXIST")
        .lifecycle_event_hook_execution_id("x")
        .status(LifecycleEventStatus::Failed)
        .send()
        .await
        .unwrap_err();
    assert!(
        missing
            .into_service_error()
            .is_deployment_does_not_exist_exception()
    );
}

#[tokio::test]
async fn cloudwatch_speaks_the_current_sdk_protocol() {
    let local = LocalAws::connect().await;
    let sdk = local.sdk_config(REGION).await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk);
    let name = unique("alarm");
    autopilot_tests::harness::provision::put_5xx_alarm(&sdk, &name).await;
    cloudwatch
        .set_alarm_state()
        .alarm_name(&name)
        .state_value(StateValue::Alarm)
        .state_reason("test")
        .send()
        .await
        .unwrap();
    let alarms = cloudwatch
        .describe_alarms()
        .alarm_names(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        alarms.metric_alarms()[0].state_value(),
        Some(&StateValue::Alarm)
    );
    assert_eq!(alarms.metric_alarms()[0].threshold(), Some(5.0));
}

#[tokio::test]
async fn ecs_limits_are_held_to_the_real_api() {
    let local = LocalAws::connect().await;
    let sdk = local.sdk_config(REGION).await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let cluster = unique("limits");
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    ecs.register_task_definition()
        .family(&cluster)
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("app")
                .image("nginx")
                .memory(128)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for i in 0..23 {
        ecs.create_service()
            .cluster(&cluster)
            .service_name(format!("svc-{i:02}"))
            .task_definition(&cluster)
            .desired_count(0)
            .send()
            .await
            .unwrap();
    }
    let mut pages = 0;
    let mut arns = Vec::new();
    let mut paginator = ecs
        .list_services()
        .cluster(&cluster)
        .into_paginator()
        .send();
    while let Some(page) = paginator.next().await {
        let page = page.unwrap();
        pages += 1;
        arns.extend(page.service_arns().iter().cloned());
    }
    assert_eq!(arns.len(), 23);
    assert_eq!(pages, 3, "ListServices pages at 10 by default");

    let too_many = ecs
        .describe_services()
        .cluster(&cluster)
        .set_services(Some(arns[..11].to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&too_many),
        Some("InvalidParameterException")
    );
    let ten = ecs
        .describe_services()
        .cluster(&cluster)
        .set_services(Some(arns[..10].to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(ten.services().len(), 10);
}

#[tokio::test]
async fn application_auto_scaling_and_calls_are_counted() {
    let local = LocalAws::connect().await;
    let sdk = local.sdk_config("eu-central-1").await;
    let autoscaling = aws_sdk_applicationautoscaling::Client::new(&sdk);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let cluster = unique("aas");
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    ecs.register_task_definition()
        .family(&cluster)
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("app")
                .image("nginx")
                .memory(128)
                .build(),
        )
        .send()
        .await
        .unwrap();
    ecs.create_service()
        .cluster(&cluster)
        .service_name("web")
        .task_definition(&cluster)
        .desired_count(1)
        .send()
        .await
        .unwrap();
    use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
    let resource_id = format!("service/{cluster}/web");
    autoscaling
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(&resource_id)
        .min_capacity(1)
        .max_capacity(4)
        .send()
        .await
        .unwrap();
    let targets = autoscaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(&resource_id)
        .send()
        .await
        .unwrap();
    assert_eq!(targets.scalable_targets()[0].max_capacity(), 4);
    let calls = local.calls().await;
    assert!(
        calls
            .get("application-autoscaling.RegisterScalableTarget")
            .copied()
            .unwrap_or(0)
            >= 1,
        "{calls:?}"
    );
    assert!(
        calls.get("ecs.CreateService").copied().unwrap_or(0) >= 1,
        "{calls:?}"
    );
}

// --- fault injection: what the Rust SDK makes of each fault ------------------------

/// Records, for every attempt, the verdict of the client's own retry
/// classifiers (run as the retry strategy runs them), so a test can tell a
/// throttling error from a transient one without reading logs.
#[derive(Debug, Clone, Default)]
struct RetryVerdicts(Arc<Mutex<Vec<RetryAction>>>);

impl RetryVerdicts {
    fn take(&self) -> Vec<RetryAction> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for RetryVerdicts {
    fn name(&self) -> &'static str {
        "RetryVerdicts"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // As aws_smithy_runtime's run_classifiers_on_ctx: in priority order,
        // each may refine the verdict so far; RetryForbidden is final.
        let mut verdict = RetryAction::NoActionIndicated;
        for classifier in runtime_components.retry_classifiers() {
            let next = classifier.classify_retry_v2(context.inner(), &verdict);
            if next == RetryAction::NoActionIndicated {
                continue;
            }
            verdict = next;
            if verdict == RetryAction::RetryForbidden {
                break;
            }
        }
        self.0.lock().unwrap().push(verdict);
        Ok(())
    }
}

/// A client of SDK crate `$krate` from `$sdk`, with `$attempts` attempts
/// (quick backoff), its own retry partition (so no other test drains its
/// retry quota) and `$verdicts` recording each attempt's retry verdict.
macro_rules! faulty_client {
    ($krate:ident, $sdk:expr, $attempts:expr, $verdicts:expr) => {
        $krate::Client::from_conf(
            $krate::config::Builder::from($sdk)
                .retry_config(
                    RetryConfig::standard()
                        .with_max_attempts($attempts)
                        .with_initial_backoff(Duration::from_millis(10)),
                )
                .retry_partition($krate::config::retry::RetryPartition::new(unique("faults")))
                .interceptor($verdicts.clone())
                .build(),
        )
    };
}

/// A fresh access key and an `SdkConfig` signing with it: the faults this
/// test injects reach its own calls only.
async fn own_key(local: &LocalAws) -> (String, SdkConfig) {
    let key = new_access_key();
    let sdk = local.sdk_config_with_key(REGION, &key).await;
    (key, sdk)
}

/// `(matched, injected)` of each of `key`'s fault rules.
async fn fault_counts(local: &LocalAws, key: &str) -> Vec<(u64, u64)> {
    local
        .faults_for_key(key)
        .await
        .iter()
        .map(|rule| (rule.matched, rule.injected))
        .collect()
}

#[tokio::test]
async fn throttled_ecs_call_is_a_throttling_error_the_sdk_retries() {
    let local = LocalAws::connect().await;
    let (key, sdk) = own_key(&local).await;
    let verdicts = RetryVerdicts::default();
    let throttle = Fault::throttle().service("ecs").operation("ListClusters");
    local
        .inject_faults_for_key(&key, std::slice::from_ref(&throttle))
        .await;

    let once = faulty_client!(aws_sdk_ecs, &sdk, 1, verdicts);
    let err = once.list_clusters().send().await.unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"), "{err:?}");
    assert_eq!(err.message(), Some("Rate exceeded"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    assert_eq!(verdicts.take(), [RetryAction::throttling_error()]);
    once.describe_clusters()
        .send()
        .await
        .expect("another operation is not throttled");
    // The test's shared key is not affected.
    aws_sdk_ecs::Client::new(&local.sdk_config(REGION).await)
        .list_clusters()
        .send()
        .await
        .unwrap();

    local
        .inject_faults_for_key(&key, &[throttle.count(2)])
        .await;
    verdicts.take();
    faulty_client!(aws_sdk_ecs, &sdk, 3, verdicts)
        .list_clusters()
        .send()
        .await
        .expect("the third attempt is served");
    assert_eq!(
        verdicts.take(),
        [
            RetryAction::throttling_error(),
            RetryAction::throttling_error(),
            RetryAction::NoActionIndicated
        ]
    );
    assert_eq!(fault_counts(&local, &key).await, [(3, 2)]);
    assert_eq!(
        local.calls_of_key(&key).await.get("ecs.ListClusters"),
        Some(&4),
        "faulted calls are counted too"
    );
    local.clear_faults_for_key(&key).await;
    assert!(local.faults_for_key(&key).await.is_empty());
}

#[tokio::test]
async fn throttle_429_too_many_requests_is_a_throttling_error() {
    let local = LocalAws::connect().await;
    let (key, sdk) = own_key(&local).await;
    let verdicts = RetryVerdicts::default();
    local
        .inject_faults_for_key(
            &key,
            &[Fault::throttle()
                .status(429)
                .code("TooManyRequestsException")
                .service("ecs")
                .count(1)],
        )
        .await;
    let err = faulty_client!(aws_sdk_ecs, &sdk, 1, verdicts)
        .list_clusters()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("TooManyRequestsException"), "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(429));
    assert_eq!(verdicts.take(), [RetryAction::throttling_error()]);
}

#[tokio::test]
async fn elbv2_throttle_speaks_aws_query() {
    let local = LocalAws::connect().await;
    let (key, sdk) = own_key(&local).await;
    let verdicts = RetryVerdicts::default();
    let throttle = Fault::throttle().service("elasticloadbalancing").count(1);
    local
        .inject_faults_for_key(&key, std::slice::from_ref(&throttle))
        .await;
    let err = faulty_client!(aws_sdk_elasticloadbalancingv2, &sdk, 1, verdicts)
        .describe_target_groups()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("Throttling"), "{err:?}");
    assert_eq!(err.message(), Some("Rate exceeded"));
    assert_eq!(verdicts.take(), [RetryAction::throttling_error()]);

    local.inject_faults_for_key(&key, &[throttle]).await;
    faulty_client!(aws_sdk_elasticloadbalancingv2, &sdk, 2, verdicts)
        .describe_target_groups()
        .send()
        .await
        .expect("served on the retry");
    assert_eq!(fault_counts(&local, &key).await, [(2, 1)]);
}

#[tokio::test]
async fn cloudwatch_throttle_speaks_cbor() {
    let local = LocalAws::connect().await;
    let (key, sdk) = own_key(&local).await;
    let verdicts = RetryVerdicts::default();
    let throttle = Fault::throttle()
        .service("monitoring")
        .operation("DescribeAlarms")
        .count(1);
    local
        .inject_faults_for_key(&key, std::slice::from_ref(&throttle))
        .await;
    let err = faulty_client!(aws_sdk_cloudwatch, &sdk, 1, verdicts)
        .describe_alarms()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"), "{err:?}");
    assert_eq!(err.message(), Some("Rate exceeded"));
    assert_eq!(verdicts.take(), [RetryAction::throttling_error()]);

    local.inject_faults_for_key(&key, &[throttle]).await;
    faulty_client!(aws_sdk_cloudwatch, &sdk, 2, verdicts)
        .describe_alarms()
        .send()
        .await
        .expect("served on the retry");
    assert_eq!(fault_counts(&local, &key).await, [(2, 1)]);
}

#[tokio::test]
async fn server_errors_500_and_503_are_retried_then_served() {
    let local = LocalAws::connect().await;
    let (key, sdk) = own_key(&local).await;
    let verdicts = RetryVerdicts::default();
    let rules = [
        Fault::error(500).service("ecs").count(1),
        Fault::error(503).service("ecs").count(1),
    ];
    local.inject_faults_for_key(&key, &rules).await;
    let once = faulty_client!(aws_sdk_ecs, &sdk, 1, verdicts);
    for (code, status) in [("InternalFailure", 500), ("ServiceUnavailable", 503)] {
        let err = once.list_clusters().send().await.unwrap_err();
        assert_eq!(err.code(), Some(code), "{err:?}");
        assert_eq!(
            err.raw_response().map(|r| r.status().as_u16()),
            Some(status)
        );
    }
    assert_eq!(
        verdicts.take(),
        [
            RetryAction::transient_error(),
            RetryAction::transient_error()
        ]
    );

    local.inject_faults_for_key(&key, &rules).await;
    faulty_client!(aws_sdk_ecs, &sdk, 3, verdicts)
        .list_clusters()
        .send()
        .await
        .expect("served on the third attempt");
    assert_eq!(verdicts.take().len(), 3);
    assert_eq!(fault_counts(&local, &key).await, [(3, 1), (3, 1)]);
}

#[tokio::test]
async fn latency_delays_the_call_then_serves_it() {
    let local = LocalAws::connect().await;
    let (key, sdk) = own_key(&local).await;
    local
        .inject_faults_for_key(&key, &[Fault::latency(300).service("ecs")])
        .await;
    let started = Instant::now();
    aws_sdk_ecs::Client::new(&sdk)
        .list_clusters()
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(fault_counts(&local, &key).await, [(1, 1)]);
}

#[tokio::test]
async fn reset_connection_is_a_retried_io_error() {
    let local = LocalAws::connect().await;
    let (key, sdk) = own_key(&local).await;
    let verdicts = RetryVerdicts::default();
    let reset = Fault::reset().service("ecs").count(1);
    local
        .inject_faults_for_key(&key, std::slice::from_ref(&reset))
        .await;
    let err = faulty_client!(aws_sdk_ecs, &sdk, 1, verdicts)
        .list_clusters()
        .send()
        .await
        .unwrap_err();
    let SdkError::DispatchFailure(failure) = &err else {
        panic!("expected a dispatch failure, got {err:?}");
    };
    assert!(failure.is_io(), "{failure:?}");
    assert_eq!(verdicts.take(), [RetryAction::transient_error()]);

    local.inject_faults_for_key(&key, &[reset]).await;
    faulty_client!(aws_sdk_ecs, &sdk, 2, verdicts)
        .list_clusters()
        .send()
        .await
        .expect("served on the retry");
    assert_eq!(
        verdicts.take(),
        [
            RetryAction::transient_error(),
            RetryAction::NoActionIndicated
        ]
    );
    assert_eq!(fault_counts(&local, &key).await, [(2, 1)]);
}

#[tokio::test]
async fn hung_call_times_out_the_attempt_and_the_retry_is_served() {
    let local = LocalAws::connect().await;
    let (key, sdk) = own_key(&local).await;
    let sdk = sdk
        .to_builder()
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(1))
                .build(),
        )
        .build();
    let verdicts = RetryVerdicts::default();
    let hang = Fault::hang(60).service("ecs").count(1);
    local
        .inject_faults_for_key(&key, std::slice::from_ref(&hang))
        .await;
    let started = Instant::now();
    let err = faulty_client!(aws_sdk_ecs, &sdk, 1, verdicts)
        .list_clusters()
        .send()
        .await
        .unwrap_err();
    let waited = started.elapsed();
    // The attempt timeout cut the 60-second hang short: the error says so
    // (an upper time limit would only measure the machine).
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert_eq!(verdicts.take(), [RetryAction::transient_error()]);

    // Replacing the rules releases the hung call (and resets its counts).
    local.inject_faults_for_key(&key, &[hang]).await;
    faulty_client!(aws_sdk_ecs, &sdk, 2, verdicts)
        .list_clusters()
        .send()
        .await
        .expect("served on the retry");
    assert_eq!(fault_counts(&local, &key).await, [(2, 1)]);
    local.clear_faults_for_key(&key).await;
}

#[tokio::test]
async fn codedeploy_allows_one_active_deployment_per_group() {
    let local = LocalAws::connect().await;
    let sdk = local.sdk_config(REGION).await;
    let env =
        provision::provision(&sdk, Names::unique("cdlimit"), Controller::CodeDeploy, None).await;
    let (application, group) = env.codedeploy.clone().unwrap();
    let codedeploy = aws_sdk_codedeploy::Client::new(&sdk);
    let appspec = format!(
        r#"{{"version":0.0,"Resources":[{{"TargetService":{{"Type":"AWS::ECS::Service","Properties":{{"TaskDefinition":"{}","LoadBalancerInfo":{{"ContainerName":"backend","ContainerPort":3000}}}}}}}}]}}"#,
        env.task_definition_arn
    );
    let create = || {
        codedeploy
            .create_deployment()
            .application_name(&application)
            .deployment_group_name(&group)
            .revision(
                aws_sdk_codedeploy::types::RevisionLocation::builder()
                    .revision_type(aws_sdk_codedeploy::types::RevisionLocationType::AppSpecContent)
                    .app_spec_content(
                        aws_sdk_codedeploy::types::AppSpecContent::builder()
                            .content(&appspec)
                            .build(),
                    )
                    .build(),
            )
            .send()
    };
    let first = create().await.unwrap().deployment_id().unwrap().to_owned();
    let err = create().await.unwrap_err();
    assert_eq!(
        err.message(),
        Some(
            format!("The Deployment Group '{group}' already has an active Deployment '{first}'")
                .as_str()
        )
    );
    assert!(
        err.into_service_error()
            .is_deployment_limit_exceeded_exception()
    );
    local.set_deployment_status(&first, "Succeeded").await;
    let second = create()
        .await
        .expect("a completed deployment frees the group");
    assert_ne!(second.deployment_id(), Some(first.as_str()));
}

#[tokio::test]
async fn update_service_with_the_current_task_definition_starts_no_deployment() {
    let local = LocalAws::connect().await;
    let sdk = local.sdk_config(REGION).await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let cluster = unique("noop");
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    let register = || {
        ecs.register_task_definition()
            .family(&cluster)
            .container_definitions(
                aws_sdk_ecs::types::ContainerDefinition::builder()
                    .name("app")
                    .image("nginx")
                    .memory(128)
                    .build(),
            )
            .send()
    };
    let first = register().await.unwrap();
    let first = first
        .task_definition()
        .unwrap()
        .task_definition_arn()
        .unwrap();
    let service = ecs
        .create_service()
        .cluster(&cluster)
        .service_name("web")
        .task_definition(first)
        .desired_count(1)
        .send()
        .await
        .unwrap();
    let service_arn = service.service().unwrap().service_arn().unwrap();
    let rollouts = || async { local.service_deployments(service_arn).await.len() };
    assert_eq!(rollouts().await, 1, "CreateService starts one");

    for task_definition in [first.to_owned(), format!("{cluster}:1")] {
        ecs.update_service()
            .cluster(&cluster)
            .service("web")
            .task_definition(task_definition)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        rollouts().await,
        1,
        "same task definition: nothing to deploy"
    );

    ecs.update_service()
        .cluster(&cluster)
        .service("web")
        .force_new_deployment(true)
        .send()
        .await
        .unwrap();
    assert_eq!(rollouts().await, 2, "forced");
    let second = register().await.unwrap();
    ecs.update_service()
        .cluster(&cluster)
        .service("web")
        .task_definition(
            second
                .task_definition()
                .unwrap()
                .task_definition_arn()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(rollouts().await, 3, "a new task definition");
}
