//! Many accounts and fleet-scale discovery, end to end: redeploy-on-push
//! runs in the tools account (the repository's) with the credentials Lambda
//! gives its execution role, assumes the role `workload-account.yaml`
//! creates in each workload account (the local AWS holds `AssumeRole` to
//! that role's trust policy, external id included), and rolls out there.

use std::collections::BTreeSet;

use autopilot_tests::harness::accounts::{
    AccessKey, create_role, lambda_trust_policy, start_function_as, unique_account,
    workload_trust_policy,
};
use autopilot_tests::harness::localaws::REGION;
use autopilot_tests::harness::provision::Controller;
use autopilot_tests::{LambdaProcess, unique};
use aws_config::SdkConfig;
use aws_sdk_ecs::types::{ContainerDefinition, Tag};
use serde_json::Value;

use crate::redeploy::Fixture;

/// The role name `workload-account.yaml` gives by default.
const WORKLOAD_ROLE: &str = "ecs-autopilot-workload";

/// The tools account: the repository and its first image (and a service of
/// its own that tracks it), and redeploy-on-push's execution role.
struct Tools {
    f: Fixture,
    function_role: String,
    key: AccessKey,
    external_id: String,
}

/// A workload account with one service tracking the tools repository.
struct Workload {
    account: String,
    ecs: aws_sdk_ecs::Client,
    role_arn: String,
    cluster: String,
    service: String,
    family: String,
}

impl Tools {
    async fn new(label: &str) -> Tools {
        let f = Fixture::new(label, Controller::Ecs, "tag:latest").await;
        let iam = aws_sdk_iam::Client::new(&f.sdk);
        let function_role =
            create_role(&iam, &unique("redeploy-on-push"), &lambda_trust_policy()).await;
        let key = f.local.lambda_credentials(&function_role).await;
        Tools {
            f,
            function_role,
            key,
            external_id: unique("autopilot-ext"),
        }
    }

    /// The image the services run now, by digest.
    fn running_image(&self) -> String {
        format!(
            "{}/{}@{}",
            self.f.env.registry, self.f.env.names.repository, self.f.env.initial_digest
        )
    }

    /// A workload account whose role trusts the function with `external_id`,
    /// running one service of the tools image.
    async fn workload(&self, external_id: &str) -> Workload {
        let account = unique_account();
        let sdk: SdkConfig = self.f.local.admin_of(&account, REGION).await;
        let iam = aws_sdk_iam::Client::new(&sdk);
        let role_arn = create_role(
            &iam,
            WORKLOAD_ROLE,
            &workload_trust_policy(&self.function_role, external_id),
        )
        .await;
        assert!(role_arn.contains(&account), "{role_arn}");
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let cluster = unique("workload");
        let family = unique("api");
        let service = "api".to_owned();
        ecs.create_cluster()
            .cluster_name(&cluster)
            .send()
            .await
            .unwrap();
        let definition = ecs
            .register_task_definition()
            .family(&family)
            .container_definitions(
                ContainerDefinition::builder()
                    .name("backend")
                    .image(self.running_image())
                    .memory(256)
                    .essential(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let arn = definition
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .unwrap()
            .to_owned();
        ecs.create_service()
            .cluster(&cluster)
            .service_name(&service)
            .task_definition(&arn)
            .desired_count(1)
            .tags(
                Tag::builder()
                    .key("autopilot:redeploy")
                    .value("tag:latest")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        Workload {
            account,
            ecs,
            role_arn,
            cluster,
            service,
            family,
        }
    }

    /// redeploy-on-push as Lambda runs it, rolling out through `targets`.
    async fn function(&self, targets: &[&Workload], extra: &[(&str, &str)]) -> LambdaProcess {
        let roles: Vec<&str> = targets.iter().map(|w| w.role_arn.as_str()).collect();
        let roles = roles.join(",");
        let mut vars = vec![
            ("TARGET_ROLE_ARNS", roles.as_str()),
            ("TARGET_EXTERNAL_ID", self.external_id.as_str()),
            ("AWS_MAX_ATTEMPTS", "1"),
            // The most a user can turn logging up: credentials stay out even so.
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ];
        vars.extend_from_slice(extra);
        start_function_as(&self.f.local, "redeploy-on-push", REGION, &self.key, &vars).await
    }

    /// The tools account's own service's task definition.
    async fn home_running(&self) -> String {
        self.f
            .service_task_definition(&self.f.env.names.service)
            .await
    }
}

impl Workload {
    /// The image of the service's running revision.
    async fn running_image(&self) -> String {
        let services = self
            .ecs
            .describe_services()
            .cluster(&self.cluster)
            .services(&self.service)
            .send()
            .await
            .unwrap();
        let arn = services.services()[0].task_definition().unwrap().to_owned();
        let definition = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .unwrap();
        definition
            .task_definition()
            .unwrap()
            .container_definitions()[0]
            .image()
            .unwrap()
            .to_owned()
    }

    async fn revisions(&self) -> usize {
        self.ecs
            .list_task_definitions()
            .family_prefix(&self.family)
            .send()
            .await
            .unwrap()
            .task_definition_arns()
            .len()
    }
}

fn accounts_of(summary: &Value) -> BTreeSet<String> {
    summary["services"]
        .as_array()
        .unwrap_or_else(|| panic!("no services in {summary}"))
        .iter()
        .map(|s| s["account"].as_str().unwrap_or("-").to_owned())
        .collect()
}

/// Every credential value in `text`'s reach: none may appear in it.
async fn assert_no_credentials(tools: &Tools, workloads: &[&Workload], logs: &str) {
    let mut secrets = vec![
        tools.key.secret_access_key.clone(),
        tools.key.session_token.clone().unwrap_or_default(),
        tools.external_id.clone(),
    ];
    for workload in workloads {
        for session in tools.f.local.sessions_of(&workload.role_arn).await {
            for field in ["secretAccessKey", "sessionToken"] {
                secrets.push(session[field].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    for secret in secrets.iter().filter(|s| s.len() > 8) {
        assert!(
            !logs.contains(secret.as_str()),
            "a credential reached the logs: {secret}"
        );
    }
}

#[tokio::test]
async fn a_push_in_the_tools_account_rolls_out_in_the_target_accounts_and_nowhere_else() {
    let tools = Tools::new("fleet").await;
    let (one, two) = (
        tools.workload(&tools.external_id).await,
        tools.workload(&tools.external_id).await,
    );
    // Trusts the function and tracks the image, but is not a target.
    let other = tools.workload(&tools.external_id).await;
    let digest = tools.f.push_build("latest", "build-2").await;
    let home_before = tools.home_running().await;
    let mut function = tools.function(&[&one, &two], &[]).await;

    let summary = function
        .invoke(tools.f.event(Some("latest"), &digest))
        .await
        .response();
    assert_eq!(
        accounts_of(&summary),
        BTreeSet::from([one.account.clone(), two.account.clone()]),
        "{summary}"
    );
    for entry in summary["services"].as_array().unwrap() {
        assert_eq!(entry["outcome"], "deployed", "{summary}");
    }
    // The new revisions reference the tools account's image by digest.
    let pinned = format!(
        "{}/{}@{digest}",
        tools.f.env.registry, tools.f.env.names.repository
    );
    assert_eq!(one.running_image().await, pinned);
    assert_eq!(two.running_image().await, pinned);
    // Nowhere else: not the third account, not the function's own.
    assert_eq!(other.running_image().await, tools.running_image());
    assert_eq!(other.revisions().await, 1);
    assert!(
        tools.f.local.sessions_of(&other.role_arn).await.is_empty(),
        "a role outside TARGET_ROLE_ARNS is never assumed"
    );
    assert_eq!(tools.home_running().await, home_before);

    // In the workload accounts: only what the workload role grants, found by tag.
    for workload in [&one, &two] {
        let calls = tools.f.local.calls_in_sessions_of(&workload.role_arn).await;
        let undeclared: Vec<_> = calls
            .keys()
            .filter(|c| !redeploy_on_push::WORKLOAD_IAM_ACTIONS.contains(&c.as_str()))
            .collect();
        assert!(undeclared.is_empty(), "{undeclared:?} in {calls:?}");
        assert_eq!(calls.get("tag:GetResources"), Some(&1), "{calls:?}");
        assert_eq!(calls.get("ecs:ListServices"), None, "{calls:?}");
        assert_eq!(calls.get("ecs:UpdateService"), Some(&1), "{calls:?}");
        let sessions = tools.f.local.sessions_of(&workload.role_arn).await;
        assert_eq!(sessions.len(), 1, "one session per account");
        assert_eq!(sessions[0]["sessionName"], "ecs-autopilot-redeploy-on-push");
    }
    // In the tools account: the roles, and the image's facts.
    let home = tools.f.local.calls_of(&function).await;
    assert_eq!(home.get("sts:AssumeRole"), Some(&2), "{home:?}");
    let home_calls: BTreeSet<&str> = home.keys().map(String::as_str).collect();
    assert_eq!(
        home_calls,
        BTreeSet::from(["sts:AssumeRole", "ecr:DescribeImages"]),
        "{home:?}"
    );

    // The duplicate event: the credentials are reused, nothing rolls out twice.
    let again = function
        .invoke(tools.f.event(Some("latest"), &digest))
        .await
        .response();
    for entry in again["services"].as_array().unwrap() {
        assert_eq!(entry["outcome"], "skipped", "{again}");
    }
    assert_eq!(
        tools
            .f
            .local
            .calls_of(&function)
            .await
            .get("sts:AssumeRole"),
        Some(&2),
        "credentials are cached within their expiry"
    );
    assert_eq!(one.revisions().await, 2);
    let logs = function.finish_logs().await;
    assert_no_credentials(&tools, &[&one, &two], &logs).await;
}

#[tokio::test]
async fn a_wrong_external_id_is_refused_and_changes_nothing_in_that_account() {
    let tools = Tools::new("refused").await;
    let good = tools.workload(&tools.external_id).await;
    // This account's role asks for another external id.
    let guarded = tools.workload(&unique("someone-else")).await;
    let digest = tools.f.push_build("latest", "build-2").await;
    let mut function = tools.function(&[&good, &guarded], &[]).await;

    let (error_type, message) = function
        .invoke(tools.f.event(Some("latest"), &digest))
        .await
        .error();
    assert_eq!(error_type, "Unexpected", "{message}");
    assert!(
        message.contains(&format!("account {}", guarded.account))
            && message.contains(&guarded.role_arn)
            && message.contains("AccessDenied"),
        "{message}"
    );
    // The refused account: no session, no call, nothing registered.
    assert!(
        tools
            .f
            .local
            .sessions_of(&guarded.role_arn)
            .await
            .is_empty()
    );
    assert_eq!(guarded.revisions().await, 1);
    assert_eq!(guarded.running_image().await, tools.running_image());
    // The other account went on.
    assert!(good.running_image().await.ends_with(&format!("@{digest}")));
    let logs = function.finish_logs().await;
    assert_no_credentials(&tools, &[&good], &logs).await;
    assert!(
        !logs.contains(&tools.external_id),
        "the external id is never logged"
    );
}

#[tokio::test]
async fn target_roles_without_an_external_id_are_refused_before_any_call() {
    let tools = Tools::new("no-ext").await;
    let workload = tools.workload(&tools.external_id).await;
    let mut function = start_function_as(
        &tools.f.local,
        "redeploy-on-push",
        REGION,
        &tools.key,
        &[("TARGET_ROLE_ARNS", workload.role_arn.as_str())],
    )
    .await;
    let digest = tools.f.push_build("latest", "build-2").await;
    let (error_type, message) = function
        .invoke(tools.f.event(Some("latest"), &digest))
        .await
        .error();
    assert_eq!(error_type, "InvalidInput");
    assert!(message.contains("TARGET_EXTERNAL_ID"), "{message}");
    assert!(tools.f.local.calls_of(&function).await.is_empty());
    assert!(
        tools
            .f
            .local
            .sessions_of(&workload.role_arn)
            .await
            .is_empty()
    );
    assert_eq!(workload.revisions().await, 1);
}

/// By tag (the default), discovery asks the Tagging API for the opted-in
/// services and describes those alone; `DISCOVERY=ecs` lists every service.
/// Both roll out the same.
#[tokio::test]
async fn discovery_by_tag_describes_only_the_opted_in_services_and_listing_still_works() {
    let f = Fixture::new("discover", Controller::Ecs, "tag:latest").await;
    // Twelve services that did not opt in share the cluster.
    for i in 0..12 {
        f.ecs
            .create_service()
            .cluster(&f.env.names.cluster)
            .service_name(format!("bystander-{i:02}"))
            .task_definition(&f.env.task_definition_arn)
            .desired_count(0)
            .send()
            .await
            .unwrap();
    }
    let first = f.push_build("latest", "build-2").await;
    let mut by_tag = f.function(&[]).await;
    let summary = by_tag
        .invoke(f.event(Some("latest"), &first))
        .await
        .response();
    assert_eq!(summary["services"][0]["outcome"], "deployed", "{summary}");
    // The Tagging API pages through the account's opted-in services (other
    // tests' too, as they run side by side); only this cluster's are described.
    let calls = f.local.calls_of(&by_tag).await;
    assert!(calls.get("tag:GetResources") >= Some(&1), "{calls:?}");
    assert_eq!(calls.get("ecs:DescribeServices"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("ecs:ListServices"), None, "{calls:?}");
    assert_eq!(calls.get("ecs:ListClusters"), None, "{calls:?}");

    let second = f.push_build("latest", "build-3").await;
    let mut listing = f.function(&[("DISCOVERY", "ecs")]).await;
    let summary = listing
        .invoke(f.event(Some("latest"), &second))
        .await
        .response();
    assert_eq!(summary["services"][0]["outcome"], "deployed", "{summary}");
    let calls = f.local.calls_of(&listing).await;
    assert_eq!(calls.get("tag:GetResources"), None, "{calls:?}");
    assert_eq!(calls.get("ecs:ListServices"), Some(&1), "{calls:?}");
    // Thirteen services, ten to a DescribeServices call.
    assert_eq!(calls.get("ecs:DescribeServices"), Some(&2), "{calls:?}");
    let running = f.service_task_definition(&f.env.names.service).await;
    let (definition, _) = f.describe(&running).await;
    assert!(
        definition.container_definitions()[0]
            .image()
            .unwrap()
            .ends_with(&format!("@{second}"))
    );
}

/// scheduled-scaling in the tools account acts in the workload accounts
/// through their scaling roles: every target account by default, those the
/// payload's `accounts` names otherwise; an account outside
/// `TARGET_ROLE_ARNS` is refused before any AWS call.
#[tokio::test]
async fn a_schedule_spans_the_target_accounts_and_refuses_any_other() {
    use autopilot_tests::harness::accounts::scaling_trust_policy;
    use autopilot_tests::stories::scaling::{aws_capacity, create_cluster, create_service};

    let local = autopilot_tests::LocalAws::connect().await;
    let tools = local.sdk_config(REGION).await;
    let iam = aws_sdk_iam::Client::new(&tools);
    let function_role =
        create_role(&iam, &unique("scheduled-scaling"), &lambda_trust_policy()).await;
    let key = local.lambda_credentials(&function_role).await;
    let external_id = unique("autopilot-ext");
    let schedule = unique("office");

    // Two workload accounts, each with a scaling role and one scheduled service.
    let mut accounts = Vec::new();
    for _ in 0..2 {
        let account = unique_account();
        let sdk = local.admin_of(&account, REGION).await;
        let role = create_role(
            &aws_sdk_iam::Client::new(&sdk),
            "ecs-autopilot-scaling",
            &scaling_trust_policy(&function_role, &external_id),
        )
        .await;
        let cluster = unique("night");
        create_cluster(&sdk, &cluster).await;
        create_service(
            &sdk,
            &cluster,
            "web",
            3,
            &[("autopilot:schedule", &schedule)],
        )
        .await;
        accounts.push((account, sdk, role, cluster));
    }
    let roles: Vec<&str> = accounts.iter().map(|(_, _, r, _)| r.as_str()).collect();
    let roles = roles.join(",");
    let mut function = start_function_as(
        &local,
        "scheduled-scaling",
        REGION,
        &key,
        &[
            ("TARGET_ROLE_ARNS", roles.as_str()),
            ("TARGET_EXTERNAL_ID", external_id.as_str()),
            ("AWS_MAX_ATTEMPTS", "1"),
        ],
    )
    .await;
    let selector = serde_json::json!({"tags": {"autopilot:schedule": schedule}});

    // An account without a role: refused, nothing called.
    let (error_type, message) = function
        .invoke(serde_json::json!({
            "action": "scale-to-zero", "selector": selector,
            "accounts": [accounts[0].0, "999999999999"]
        }))
        .await
        .error();
    assert_eq!(error_type, "InvalidInput");
    assert!(
        message.contains("accounts[1]") && message.contains("999999999999"),
        "{message}"
    );
    assert!(local.calls_of(&function).await.is_empty());

    // Only the first account.
    let first = function
        .invoke(serde_json::json!({
            "action": "scale-to-zero", "selector": selector, "accounts": [accounts[0].0]
        }))
        .await
        .response();
    assert_eq!(first["counts"]["changed"], 1, "{first}");
    assert_eq!(first["services"][0]["account"], accounts[0].0.as_str());
    assert_eq!(
        aws_capacity(&accounts[0].1, &accounts[0].3, "web")
            .await
            .desired,
        0
    );
    assert_eq!(
        aws_capacity(&accounts[1].1, &accounts[1].3, "web")
            .await
            .desired,
        3
    );

    // Every target account: the second scales now, the first is unchanged.
    let all = function
        .invoke(serde_json::json!({"action": "scale-to-zero", "selector": selector}))
        .await
        .response();
    assert_eq!(all["counts"]["changed"], 1, "{all}");
    assert_eq!(all["counts"]["unchanged"], 1, "{all}");
    assert_eq!(
        aws_capacity(&accounts[1].1, &accounts[1].3, "web")
            .await
            .desired,
        0
    );
    for (_, _, role, _) in &accounts {
        let calls = local.calls_in_sessions_of(role).await;
        let undeclared: Vec<_> = calls
            .keys()
            .filter(|c| !scheduled_scaling::WORKLOAD_IAM_ACTIONS.contains(&c.as_str()))
            .collect();
        assert!(undeclared.is_empty(), "{undeclared:?} in {calls:?}");
    }
}
