//! The local AWS serves every operation our functions call, through the
//! current Rust SDK, with the real API's limits.

use autopilot_tests::provision::{self, Controller, Names};
use autopilot_tests::{LocalAws, localaws::REGION, unique};
use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
use aws_sdk_codedeploy::types::LifecycleEventStatus;
use aws_sdk_ecs::types::{ContainerCondition, LogDriver};

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
    cloudwatch
        .put_metric_alarm()
        .alarm_name(&name)
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(5.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
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
