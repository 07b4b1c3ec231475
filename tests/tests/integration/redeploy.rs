//! redeploy-on-push, end to end: the real binary against the local AWS, with
//! the AWS state asserted afterwards.

use autopilot_tests::harness::provision::{self, Controller, Environment, Names, push_image};
use autopilot_tests::{
    LambdaProcess, LocalAws, harness::localaws::REGION, sample_event, start_function,
};
use aws_config::SdkConfig;
use aws_sdk_ecs::types::{Tag, TaskDefinition, TaskDefinitionField};
use serde_json::{Value, json};
use std::time::Duration;

/// One test's ECS environment, and the function's event for it (shared
/// with the fault-injection tests).
pub(crate) struct Fixture {
    pub(crate) local: LocalAws,
    pub(crate) sdk: SdkConfig,
    pub(crate) env: Environment,
    pub(crate) ecs: aws_sdk_ecs::Client,
    pub(crate) ecr: aws_sdk_ecr::Client,
}

impl Fixture {
    pub(crate) async fn new(label: &str, controller: Controller, policy: &str) -> Fixture {
        Fixture::in_region(label, controller, policy, REGION).await
    }

    /// As [`Fixture::new`], in `region`.
    pub(crate) async fn in_region(
        label: &str,
        controller: Controller,
        policy: &str,
        region: &str,
    ) -> Fixture {
        let local = LocalAws::connect().await;
        let sdk = local.sdk_config(region).await;
        let env = provision::provision(&sdk, Names::unique(label), controller, Some(policy)).await;
        Fixture {
            ecs: aws_sdk_ecs::Client::new(&sdk),
            ecr: aws_sdk_ecr::Client::new(&sdk),
            local,
            sdk,
            env,
        }
    }

    /// The function, searching only this test's cluster.
    pub(crate) async fn function(&self, extra: &[(&str, &str)]) -> LambdaProcess {
        let mut vars = vec![
            ("CLUSTERS", self.env.names.cluster.as_str()),
            ("AWS_MAX_ATTEMPTS", "1"),
        ];
        vars.extend_from_slice(extra);
        start_function(&self.local, "redeploy-on-push", &self.env.region, &vars).await
    }

    /// Adds a service of the environment's task-definition family with the
    /// redeploy `policy` tag; returns its ARN.
    pub(crate) async fn add_service(&self, name: &str, policy: &str) -> String {
        let created = self
            .ecs
            .create_service()
            .cluster(&self.env.names.cluster)
            .service_name(name)
            .task_definition(&self.env.task_definition_arn)
            .desired_count(1)
            .tags(
                Tag::builder()
                    .key("autopilot:redeploy")
                    .value(policy)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        created.service().unwrap().service_arn().unwrap().to_owned()
    }

    pub(crate) async fn push(&self, tag: &str, seed: &str) -> String {
        push_image(
            &self.ecr,
            &self.env.names.repository,
            tag,
            &format!("{}-{seed}", self.env.names.prefix),
        )
        .await
    }

    /// Pushes one image under a build tag, then moves `tag` to it, as CI
    /// does. (moto deletes an image whose only tag moves away; ECR keeps it
    /// untagged, so the build tag keeps it here.)
    pub(crate) async fn push_build(&self, tag: &str, build: &str) -> String {
        let digest = self.push(build, build).await;
        assert_eq!(self.push(tag, build).await, digest);
        digest
    }

    pub(crate) fn event(&self, tag: Option<&str>, digest: &str) -> Value {
        let mut event = sample_event("redeploy-on-push/push-latest.json");
        event["region"] = json!(self.env.region);
        event["detail"]["repository-name"] = json!(self.env.names.repository);
        event["detail"]["image-digest"] = json!(digest);
        match tag {
            Some(tag) => event["detail"]["image-tag"] = json!(tag),
            None => {
                event["detail"].as_object_mut().unwrap().remove("image-tag");
            }
        }
        event
    }

    pub(crate) async fn service_task_definition(&self, service: &str) -> String {
        let answer = self
            .ecs
            .describe_services()
            .cluster(&self.env.names.cluster)
            .services(service)
            .send()
            .await
            .unwrap();
        answer.services()[0].task_definition().unwrap().to_owned()
    }

    pub(crate) async fn describe(&self, arn: &str) -> (TaskDefinition, Vec<Tag>) {
        let answer = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .unwrap();
        (
            answer.task_definition().unwrap().clone(),
            answer.tags().to_vec(),
        )
    }

    pub(crate) async fn revisions(&self) -> usize {
        self.ecs
            .list_task_definitions()
            .family_prefix(&self.env.names.family)
            .send()
            .await
            .unwrap()
            .task_definition_arns()
            .len()
    }
}

fn only_service(summary: &Value) -> &Value {
    let services = summary["services"]
        .as_array()
        .unwrap_or_else(|| panic!("no services in {summary}"));
    assert_eq!(services.len(), 1, "{summary}");
    &services[0]
}

#[tokio::test]
async fn a_push_rolls_out_a_revision_pinned_to_the_digest_keeping_every_field() {
    let f = Fixture::new("roll", Controller::Ecs, "tag:latest").await;
    let digest = f.push("latest", "build-2").await;
    let mut function = f.function(&[]).await;

    let summary = function
        .invoke(f.event(Some("latest"), &digest))
        .await
        .response();
    let entry = only_service(&summary);
    assert_eq!(entry["outcome"], "deployed", "{summary}");
    assert_eq!(entry["containers"], json!(["backend"]));
    let new_arn = entry["taskDefinitionArn"].as_str().unwrap().to_owned();

    // The service now runs the new revision.
    assert_eq!(
        f.service_task_definition(&f.env.names.service).await,
        new_arn
    );
    assert_ne!(new_arn, f.env.task_definition_arn);

    // The new revision is the old one with only the app image pinned.
    let (old, old_tags) = f.describe(&f.env.task_definition_arn).await;
    let (new, new_tags) = f.describe(&new_arn).await;
    let pinned = format!("{}@{digest}", f.env.image_repository());
    assert_eq!(
        new.container_definitions()[0].image(),
        Some(pinned.as_str())
    );
    assert_eq!(
        new.container_definitions()[1].image(),
        old.container_definitions()[1].image(),
        "the Redis sidecar is untouched"
    );
    let mut expected = autopilot_shared::redeploy::taskdef::registrable(&old);
    expected.container_definitions.as_mut().unwrap()[0].image = Some(pinned.clone());
    assert_eq!(
        autopilot_shared::redeploy::taskdef::registrable(&new),
        expected,
        "every other field survives"
    );
    assert_eq!(new.container_definitions()[0].secrets().len(), 2);
    assert!(new.container_definitions()[0].health_check().is_some());
    assert_eq!(new.container_definitions()[0].depends_on().len(), 1);
    let mut old_tags: Vec<_> = old_tags
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect();
    let mut new_tags: Vec<_> = new_tags
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect();
    old_tags.sort();
    new_tags.sort();
    assert_eq!(new_tags, old_tags, "task definition tags survive");

    // A duplicate event deploys nothing more.
    let revisions = f.revisions().await;
    let again = function
        .invoke(f.event(Some("latest"), &digest))
        .await
        .response();
    let entry = only_service(&again);
    assert_eq!(entry["outcome"], "skipped", "{again}");
    assert!(
        entry["reason"]
            .as_str()
            .unwrap()
            .starts_with("already running"),
        "{again}"
    );
    assert_eq!(f.revisions().await, revisions);

    // No secret value reaches the logs, read to their end.
    let logs = function.finish_logs().await;
    assert!(
        !logs.contains("s3cr3t"),
        "a secret leaked into the logs:\n{logs}"
    );
    assert!(
        logs.contains("\"Deployments\":1"),
        "an EMF metric is published:\n{logs}"
    );
    assert_eq!(
        f.service_task_definition(&f.env.names.service).await,
        new_arn
    );

    crate::iam::assert_calls_declared(&f.local, &function, redeploy_on_push::IAM_ACTIONS).await;
}

#[tokio::test]
async fn out_of_order_events_never_deploy_an_older_image() {
    let f = Fixture::new("order", Controller::Ecs, "tag:latest").await;
    let older = f.push_build("latest", "build-2").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let newer = f.push_build("latest", "build-3").await;
    let mut function = f.function(&[]).await;

    let summary = function
        .invoke(f.event(Some("latest"), &newer))
        .await
        .response();
    assert_eq!(only_service(&summary)["outcome"], "deployed", "{summary}");
    let running = f.service_task_definition(&f.env.names.service).await;

    let late = function
        .invoke(f.event(Some("latest"), &older))
        .await
        .response();
    let entry = only_service(&late);
    assert_eq!(entry["outcome"], "skipped", "{late}");
    assert!(
        entry["reason"].as_str().unwrap().contains("pushed later"),
        "{late}"
    );
    assert_eq!(
        f.service_task_definition(&f.env.names.service).await,
        running
    );
}

#[tokio::test]
async fn semver_policy_moves_only_forward_within_the_requirement() {
    let f = Fixture::new("semver", Controller::Ecs, "semver:^1.4").await;
    let mut function = f.function(&[]).await;

    let v150 = f.push("v1.5.0", "v1.5.0").await;
    let summary = function
        .invoke(f.event(Some("v1.5.0"), &v150))
        .await
        .response();
    assert_eq!(only_service(&summary)["outcome"], "deployed", "{summary}");
    let running = f.service_task_definition(&f.env.names.service).await;

    // Lower than running (known from the running digest's tags in ECR), then a major bump.
    for (tag, reason) in [
        ("v1.4.1", "is not newer than the running 1.5.0"),
        ("v2.0.0", "does not satisfy ^1.4"),
        ("latest", "not a semantic version"),
    ] {
        let digest = f.push(tag, tag).await;
        let summary = function
            .invoke(f.event(Some(tag), &digest))
            .await
            .response();
        let entry = only_service(&summary);
        assert_eq!(entry["outcome"], "skipped", "{tag}: {summary}");
        assert!(
            entry["reason"].as_str().unwrap().contains(reason),
            "{tag}: {summary}"
        );
    }
    assert_eq!(
        f.service_task_definition(&f.env.names.service).await,
        running
    );
}

#[tokio::test]
async fn glob_policy_and_container_narrowing() {
    let f = Fixture::new("glob", Controller::Ecs, "glob:release-*").await;
    let mut function = f.function(&[]).await;

    let hotfix = f.push("hotfix-1", "hotfix-1").await;
    let summary = function
        .invoke(f.event(Some("hotfix-1"), &hotfix))
        .await
        .response();
    assert_eq!(only_service(&summary)["outcome"], "skipped", "{summary}");

    // Narrowed to a container that does not run the repository: not matched.
    let service_arn = f.env.service_arn.clone();
    f.ecs
        .tag_resource()
        .resource_arn(&service_arn)
        .tags(
            Tag::builder()
                .key("autopilot:containers")
                .value("redis")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let release = f.push("release-7", "release-7").await;
    let summary = function
        .invoke(f.event(Some("release-7"), &release))
        .await
        .response();
    assert_eq!(summary["services"], json!([]), "{summary}");

    f.ecs
        .tag_resource()
        .resource_arn(&service_arn)
        .tags(
            Tag::builder()
                .key("autopilot:containers")
                .value("backend, redis")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let summary = function
        .invoke(f.event(Some("release-7"), &release))
        .await
        .response();
    assert_eq!(only_service(&summary)["outcome"], "deployed", "{summary}");
}

#[tokio::test]
async fn dry_run_plans_and_changes_nothing() {
    let f = Fixture::new("dry", Controller::Ecs, "tag:latest").await;
    let digest = f.push("latest", "build-2").await;
    let mut function = f.function(&[("DRY_RUN", "true")]).await;
    let revisions = f.revisions().await;

    let summary = function
        .invoke(f.event(Some("latest"), &digest))
        .await
        .response();
    assert_eq!(summary["dryRun"], true);
    let entry = only_service(&summary);
    assert_eq!(entry["outcome"], "planned", "{summary}");
    assert!(
        entry["reason"].as_str().unwrap().contains(&digest),
        "{summary}"
    );
    assert_eq!(f.revisions().await, revisions, "no revision registered");
    assert_eq!(
        f.service_task_definition(&f.env.names.service).await,
        f.env.task_definition_arn
    );
}

#[tokio::test]
async fn codedeploy_blue_green_deployment_with_hooks_and_in_progress_guard() {
    let f = Fixture::new("bg", Controller::CodeDeploy, "tag:latest").await;
    let hooks = r#"{"AfterAllowTestTraffic": "CodeDeployHook_autopilot-AfterAllowTestTraffic", "BeforeInstall": "CodeDeployHook_autopilot-BeforeInstall"}"#;
    let mut function = f.function(&[("CODEDEPLOY_HOOKS", hooks)]).await;
    let digest = f.push("latest", "build-2").await;

    let summary = function
        .invoke(f.event(Some("latest"), &digest))
        .await
        .response();
    let entry = only_service(&summary);
    assert_eq!(entry["outcome"], "deployed", "{summary}");
    let deployment_id = entry["deploymentId"].as_str().unwrap().to_owned();
    let new_arn = entry["taskDefinitionArn"].as_str().unwrap().to_owned();

    let codedeploy = aws_sdk_codedeploy::Client::new(&f.sdk);
    let deployment = codedeploy
        .get_deployment()
        .deployment_id(&deployment_id)
        .send()
        .await
        .unwrap();
    let info = deployment.deployment_info().unwrap();
    let (application, group) = f.env.codedeploy.clone().unwrap();
    assert_eq!(info.application_name(), Some(application.as_str()));
    assert_eq!(info.deployment_group_name(), Some(group.as_str()));
    let appspec: Value = serde_json::from_str(
        info.revision()
            .unwrap()
            .app_spec_content()
            .unwrap()
            .content()
            .unwrap(),
    )
    .unwrap();
    let properties = &appspec["Resources"][0]["TargetService"]["Properties"];
    assert_eq!(properties["TaskDefinition"], json!(new_arn));
    assert_eq!(
        properties["LoadBalancerInfo"],
        json!({"ContainerName": "backend", "ContainerPort": 3000})
    );
    assert_eq!(
        appspec["Hooks"],
        json!([{"BeforeInstall": "CodeDeployHook_autopilot-BeforeInstall"}, {"AfterAllowTestTraffic": "CodeDeployHook_autopilot-AfterAllowTestTraffic"}])
    );
    // The service is left to CodeDeploy.
    assert_eq!(
        f.service_task_definition(&f.env.names.service).await,
        f.env.task_definition_arn
    );

    // The same event again: the active deployment already carries it.
    let again = function
        .invoke(f.event(Some("latest"), &digest))
        .await
        .response();
    let entry = only_service(&again);
    assert_eq!(entry["outcome"], "skipped", "{again}");
    assert_eq!(entry["deploymentId"], json!(deployment_id));

    // A newer image while that deployment runs: a retryable "deployment in progress".
    f.local
        .set_deployment_status(&deployment_id, "InProgress")
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let newer = f.push("latest", "build-3").await;
    let (error_type, message) = function
        .invoke(f.event(Some("latest"), &newer))
        .await
        .error();
    assert_eq!(error_type, "Retryable", "{message}");
    assert!(message.contains("deployment in progress"), "{message}");
    let listed = codedeploy
        .list_deployments()
        .application_name(&application)
        .deployment_group_name(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.deployments().len(),
        1,
        "no second deployment was created"
    );

    // Once it is done, the newer image deploys.
    f.local
        .set_deployment_status(&deployment_id, "Succeeded")
        .await;
    let summary = function
        .invoke(f.event(Some("latest"), &newer))
        .await
        .response();
    assert_eq!(only_service(&summary)["outcome"], "deployed", "{summary}");

    crate::iam::assert_calls_declared(&f.local, &function, redeploy_on_push::IAM_ACTIONS).await;
}

#[tokio::test]
async fn one_bad_service_never_stops_the_others() {
    let f = Fixture::new("many", Controller::Ecs, "tag:latest").await;
    // A second service of the same family with an unparseable policy.
    f.add_service("worker", "latest").await;
    let digest = f.push("latest", "build-2").await;
    let mut function = f.function(&[]).await;

    let (error_type, message) = function
        .invoke(f.event(Some("latest"), &digest))
        .await
        .error();
    assert_eq!(error_type, "InvalidInput", "{message}");
    assert!(
        message.contains("worker: invalid autopilot:redeploy policy \"latest\""),
        "{message}"
    );
    assert_ne!(
        f.service_task_definition(&f.env.names.service).await,
        f.env.task_definition_arn,
        "the good service was deployed"
    );
    assert_eq!(
        f.service_task_definition("worker").await,
        f.env.task_definition_arn,
        "the bad one was not"
    );
}

#[tokio::test]
async fn services_sharing_a_family_share_one_new_revision() {
    let f = Fixture::new("share", Controller::Ecs, "tag:latest").await;
    f.add_service("backend-canary", "tag:latest").await;
    let digest = f.push("latest", "build-2").await;
    let revisions = f.revisions().await;
    let mut function = f.function(&[]).await;
    let summary = function
        .invoke(f.event(Some("latest"), &digest))
        .await
        .response();
    let services = summary["services"].as_array().unwrap();
    assert_eq!(services.len(), 2, "{summary}");
    assert!(
        services.iter().all(|s| s["outcome"] == "deployed"),
        "{summary}"
    );
    assert_eq!(
        services[0]["taskDefinitionArn"],
        services[1]["taskDefinitionArn"]
    );
    assert_eq!(f.revisions().await, revisions + 1, "one revision for both");
}

#[tokio::test]
async fn other_events_are_ignored_and_malformed_ones_rejected_without_changes() {
    let f = Fixture::new("input", Controller::Ecs, "tag:latest").await;
    let digest = f.push("latest", "build-2").await;
    let mut function = f.function(&[]).await;
    let revisions = f.revisions().await;

    let mut delete = f.event(Some("latest"), &digest);
    delete["detail"]["action-type"] = json!("DELETE");
    let mut failed = f.event(Some("latest"), &digest);
    failed["detail"]["result"] = json!("FAILURE");
    let mut other_source = f.event(Some("latest"), &digest);
    other_source["source"] = json!("aws.ec2");
    for event in [
        delete,
        failed,
        other_source,
        sample_event("redeploy-on-push/delete.json"),
    ] {
        let answer = function.invoke(event).await.response();
        assert!(answer["ignored"].is_string(), "{answer}");
    }

    let mut bad_digest = f.event(Some("latest"), &digest);
    bad_digest["detail"]["image-digest"] = json!("sha256:abc");
    let mut no_repository = f.event(Some("latest"), &digest);
    no_repository["detail"]
        .as_object_mut()
        .unwrap()
        .remove("repository-name");
    let mut no_region = f.event(Some("latest"), &digest);
    no_region.as_object_mut().unwrap().remove("region");
    let mut bad_tag = f.event(Some("latest"), &digest);
    bad_tag["detail"]["image-tag"] = json!("-bad tag");
    let cases = [
        (bad_digest, "detail.image-digest"),
        (no_repository, "repository-name"),
        (no_region, "region"),
        (bad_tag, "detail.image-tag"),
        (json!({"detail": {}}), "detail-type"),
        (json!("a string"), "invalid type"),
    ];
    for (event, field) in cases {
        let (error_type, message) = function.invoke(event).await.error();
        assert_eq!(error_type, "InvalidInput", "{message}");
        assert!(message.contains(field), "expected {field} in: {message}");
    }
    assert_eq!(f.revisions().await, revisions);
    assert_eq!(
        f.service_task_definition(&f.env.names.service).await,
        f.env.task_definition_arn
    );
}

/// A push by digest (`image-tag` absent, or empty as ECR also writes it)
/// is acknowledged and ignored with its reason, before any AWS call: never
/// an error that Lambda would retry into the dead-letter queue.
#[tokio::test]
async fn a_push_by_digest_is_acknowledged_and_ignored() {
    let f = Fixture::new("bydigest", Controller::Ecs, "tag:latest").await;
    let digest = f.push("latest", "build-2").await;
    let mut function = f.function(&[]).await;
    let mut empty_tag = f.event(Some("latest"), &digest);
    empty_tag["detail"]["image-tag"] = json!("");
    for event in [f.event(None, &digest), empty_tag] {
        let summary = function.invoke(event).await.response();
        let reason = summary["ignored"].as_str().unwrap_or_default();
        assert!(reason.contains("carries no tag"), "{summary}");
    }
    assert!(
        f.local.calls_of(&function).await.is_empty(),
        "no AWS call for an ignored event"
    );
    assert_eq!(
        f.service_task_definition(&f.env.names.service).await,
        f.env.task_definition_arn
    );
}

#[tokio::test]
async fn an_unknown_digest_is_skipped() {
    let f = Fixture::new("unknown", Controller::Ecs, "tag:latest").await;
    let mut function = f.function(&[]).await;
    let unknown = format!("sha256:{}", "e".repeat(64));
    let summary = function
        .invoke(f.event(Some("latest"), &unknown))
        .await
        .response();
    let entry = only_service(&summary);
    assert_eq!(entry["outcome"], "skipped", "{summary}");
    assert!(
        entry["reason"]
            .as_str()
            .unwrap()
            .contains("no longer in ECR"),
        "{summary}"
    );
}

/// ECR replicates an image into another Region and emits `ECR Replication
/// Action` there (with `source-account` and `source-region`): the function
/// deployed in that Region rolls it out to the services there that track
/// the tag, pinned to that Region's registry, as a push would.
#[tokio::test]
async fn a_replication_into_this_region_rolls_out_here() {
    let f = Fixture::in_region("replica", Controller::Ecs, "tag:latest", "eu-west-1").await;
    // The replica: the same repository and tag in this Region's registry.
    let digest = f.push("latest", "build-2").await;
    let mut function = f.function(&[]).await;
    let mut event = f.event(Some("latest"), &digest);
    event["detail-type"] = json!("ECR Replication Action");
    event["detail"]["action-type"] = json!("REPLICATE");
    event["detail"]["source-account"] = json!(autopilot_tests::harness::localaws::ACCOUNT_ID);
    event["detail"]["source-region"] = json!(REGION);

    let summary = function.invoke(event.clone()).await.response();
    let entry = only_service(&summary);
    assert_eq!(entry["outcome"], "deployed", "{summary}");
    let new_arn = entry["taskDefinitionArn"].as_str().unwrap().to_owned();
    assert!(new_arn.contains(":eu-west-1:"), "{new_arn}");
    assert_eq!(
        f.service_task_definition(&f.env.names.service).await,
        new_arn
    );
    let (new, _) = f.describe(&new_arn).await;
    let pinned = format!("{}@{digest}", f.env.image_repository());
    assert!(pinned.contains(".dkr.ecr.eu-west-1."), "{pinned}");
    assert_eq!(
        new.container_definitions()[0].image(),
        Some(pinned.as_str())
    );

    // A duplicate delivery deploys nothing twice.
    let revisions = f.revisions().await;
    let summary = function.invoke(event).await.response();
    assert_eq!(only_service(&summary)["outcome"], "skipped", "{summary}");
    assert_eq!(f.revisions().await, revisions);
}

/// The handler itself, called directly as the STYLE's model does.
#[tokio::test]
async fn the_handler_runs_in_process() {
    let f = Fixture::new("inproc", Controller::Ecs, "tag:latest").await;
    let digest = f.push("latest", "build-2").await;
    let env =
        autopilot_shared::config::Env::from_pairs([("CLUSTERS", f.env.names.cluster.as_str())]);
    let function =
        redeploy_on_push::Function::new(f.sdk.clone(), redeploy_on_push::Config::from_env(&env));
    let event = lambda_runtime::LambdaEvent::new(
        f.event(Some("latest"), &digest),
        lambda_runtime::Context::default(),
    );
    let summary = function.handle(event).await.unwrap();
    assert_eq!(only_service(&summary)["outcome"], "deployed", "{summary}");
}

#[tokio::test]
async fn an_older_push_never_overtakes_a_blue_green_deployment_in_flight() {
    let f = Fixture::new("bgorder", Controller::CodeDeploy, "tag:latest").await;
    let older = f.push_build("latest", "build-2").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let newer = f.push_build("latest", "build-3").await;
    let mut function = f.function(&[]).await;

    let summary = function
        .invoke(f.event(Some("latest"), &newer))
        .await
        .response();
    assert_eq!(only_service(&summary)["outcome"], "deployed", "{summary}");
    let revisions = f.revisions().await;

    // The service still runs the old revision while CodeDeploy works; the late event is still skipped.
    let late = function
        .invoke(f.event(Some("latest"), &older))
        .await
        .response();
    let entry = only_service(&late);
    assert_eq!(entry["outcome"], "skipped", "{late}");
    assert!(
        entry["reason"]
            .as_str()
            .unwrap()
            .contains("newest revision already rolls out"),
        "{late}"
    );
    assert_eq!(
        f.revisions().await,
        revisions,
        "no revision registered for the older image"
    );
}
