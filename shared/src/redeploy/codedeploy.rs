//! CodeDeploy blue/green rollouts: which deployment group deploys a service,
//! what it is doing now, and starting a deployment.

use aws_sdk_codedeploy::Client;
use aws_sdk_codedeploy::types::{
    AppSpecContent, DeploymentStatus, RevisionLocation, RevisionLocationType,
};
use futures::{StreamExt, stream};

use crate::aws::AwsError;

/// The service tag pinning the deployment group, `application/group`, so
/// that no discovery is needed.
pub const CODEDEPLOY_TAG: &str = "autopilot:codedeploy";

/// A deployment group and the ECS services it deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentGroup {
    /// The CodeDeploy application.
    pub application: String,
    /// The deployment group.
    pub group: String,
    /// `(cluster, service)` pairs.
    pub services: Vec<(String, String)>,
}

impl DeploymentGroup {
    /// Whether this group deploys `cluster/service`.
    pub fn deploys(&self, cluster: &str, service: &str) -> bool {
        self.services
            .iter()
            .any(|(c, s)| c == cluster && s == service)
    }
}

/// Statuses of a deployment that is still going: CodeDeploy allows one per group.
pub const ACTIVE_STATUSES: [DeploymentStatus; 5] = [
    DeploymentStatus::Created,
    DeploymentStatus::Queued,
    DeploymentStatus::InProgress,
    DeploymentStatus::Baking,
    DeploymentStatus::Ready,
];

/// Every ECS deployment group in the account and Region.
///
/// IAM: `codedeploy:ListApplications`, `codedeploy:ListDeploymentGroups`,
/// `codedeploy:GetDeploymentGroup`.
pub async fn ecs_deployment_groups(
    client: &Client,
    concurrency: usize,
) -> Result<Vec<DeploymentGroup>, AwsError> {
    let mut applications = Vec::new();
    let mut pages = client.list_applications().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::new("list", "CodeDeploy applications", &e))?;
        applications.extend(page.applications().iter().cloned());
    }
    let mut pairs = Vec::new();
    for application in &applications {
        let mut pages = client
            .list_deployment_groups()
            .application_name(application)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                AwsError::new(
                    "list deployment groups of",
                    format!("application {application}"),
                    &e,
                )
            })?;
            pairs.extend(
                page.deployment_groups()
                    .iter()
                    .map(|g| (application.clone(), g.clone())),
            );
        }
    }
    let groups: Vec<Result<DeploymentGroup, AwsError>> =
        stream::iter(pairs)
            .map(|(application, group)| async move {
                deployment_group(client, &application, &group).await
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    let mut found = Vec::new();
    for group in groups {
        let group = group?;
        if !group.services.is_empty() {
            found.push(group);
        }
    }
    found.sort_by(|a, b| (&a.application, &a.group).cmp(&(&b.application, &b.group)));
    Ok(found)
}

/// One deployment group.
///
/// IAM: `codedeploy:GetDeploymentGroup`.
pub async fn deployment_group(
    client: &Client,
    application: &str,
    group: &str,
) -> Result<DeploymentGroup, AwsError> {
    let resource = format!("deployment group {application}/{group}");
    let answer = client
        .get_deployment_group()
        .application_name(application)
        .deployment_group_name(group)
        .send()
        .await
        .map_err(|e| AwsError::new("get", &resource, &e))?;
    let info = answer
        .deployment_group_info()
        .ok_or_else(|| AwsError::missing_field("get", &resource, "deploymentGroupInfo"))?;
    Ok(DeploymentGroup {
        application: application.to_owned(),
        group: group.to_owned(),
        services: info
            .ecs_services()
            .iter()
            .filter_map(|s| Some((s.cluster_name()?.to_owned(), s.service_name()?.to_owned())))
            .collect(),
    })
}

/// A deployment that has not finished, with its AppSpec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveDeployment {
    /// The deployment ID.
    pub id: String,
    /// Its status.
    pub status: String,
    /// The AppSpec content, when the revision is inline.
    pub appspec: Option<String>,
}

/// The group's deployments that are still going.
///
/// IAM: `codedeploy:ListDeployments`, `codedeploy:GetDeployment`.
pub async fn active_deployments(
    client: &Client,
    group: &DeploymentGroup,
) -> Result<Vec<ActiveDeployment>, AwsError> {
    let resource = format!("deployment group {}/{}", group.application, group.group);
    let mut ids = Vec::new();
    let mut pages = client
        .list_deployments()
        .application_name(&group.application)
        .deployment_group_name(&group.group)
        .set_include_only_statuses(Some(ACTIVE_STATUSES.to_vec()))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::new("list deployments of", &resource, &e))?;
        ids.extend(page.deployments().iter().cloned());
    }
    let mut active = Vec::new();
    for id in ids {
        let answer = client
            .get_deployment()
            .deployment_id(&id)
            .send()
            .await
            .map_err(|e| AwsError::new("get", format!("deployment {id}"), &e))?;
        let info = answer.deployment_info();
        active.push(ActiveDeployment {
            status: info
                .and_then(|i| i.status())
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            appspec: info
                .and_then(|i| i.revision())
                .and_then(|r| r.app_spec_content())
                .and_then(|c| c.content())
                .map(str::to_owned),
            id,
        });
    }
    Ok(active)
}

/// Starts a deployment of `appspec` and returns its ID.
///
/// IAM: `codedeploy:CreateDeployment`, `codedeploy:GetDeploymentConfig`,
/// `codedeploy:RegisterApplicationRevision`, and `iam:PassRole` for the
/// task and execution roles.
pub async fn create_deployment(
    client: &Client,
    group: &DeploymentGroup,
    appspec_json: &str,
    description: &str,
) -> Result<String, AwsError> {
    let resource = format!("deployment group {}/{}", group.application, group.group);
    let answer = client
        .create_deployment()
        .application_name(&group.application)
        .deployment_group_name(&group.group)
        .description(description)
        .revision(
            RevisionLocation::builder()
                .revision_type(RevisionLocationType::AppSpecContent)
                .app_spec_content(AppSpecContent::builder().content(appspec_json).build())
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::new("create a deployment in", &resource, &e))?;
    answer
        .deployment_id()
        .map(str::to_owned)
        .ok_or_else(|| AwsError::missing_field("create a deployment in", &resource, "deploymentId"))
}
