//! The deployment under test, resolved from a CodeDeploy ECS blue/green
//! deployment, and the hook status report.
//!
//! From the deployment ID, lazily and once each (the calls are shared by the
//! checks and by every sample of a bake):
//! - `GetDeployment`: the application, the deployment group and the AppSpec
//!   (its `TaskDefinition` is the new revision);
//! - `GetDeploymentGroup`: the ECS service, the target-group pair and the
//!   production and test listener ARNs;
//! - `GetDeploymentTarget` (target `cluster:service`): the task sets, the
//!   Green one's target group being the replacement, the Blue one's the
//!   original; and the lifecycle event in progress, when the function does
//!   not know its hook;
//! - `DescribeListeners` + `DescribeLoadBalancers`: each listener's port,
//!   protocol and load balancer DNS name;
//! - `DescribeTargetGroups`: the target groups' ARNs and load balancers;
//! - `DescribeTaskDefinition`: the new revision.
//!
//! IAM: `codedeploy:GetDeployment`, `codedeploy:GetDeploymentGroup`,
//! `codedeploy:GetDeploymentTarget`, `elasticloadbalancing:DescribeListeners`,
//! `elasticloadbalancing:DescribeLoadBalancers`,
//! `elasticloadbalancing:DescribeTargetGroups`, `ecs:DescribeTaskDefinition`;
//! [`report_hook_status`] needs `codedeploy:PutLifecycleEventHookExecutionStatus`.

use aws_sdk_codedeploy::types::{LifecycleEventStatus, TargetLabel};
use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::OnceCell;

use super::Hook;
use crate::aws::{AwsError, OnFirstUse};
use crate::checks::context::{
    ContextError, Deployment, Endpoint, Revision, TargetGroup, TargetGroupRole, TrafficRole,
};
use crate::checks::elb::{self, Listener, TargetGroupKeys};

/// What `GetDeployment` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentFacts {
    /// The CodeDeploy application.
    pub application: String,
    /// The deployment group.
    pub group: String,
    /// The AppSpec content, when the revision carries it inline.
    pub appspec: Option<String>,
}

/// What `GetDeploymentGroup` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupFacts {
    /// The ECS cluster.
    pub cluster: String,
    /// The ECS service.
    pub service: String,
    /// The two target groups' names.
    pub target_groups: Vec<String>,
    /// The production listener ARNs.
    pub production_listeners: Vec<String>,
    /// The test listener ARNs.
    pub test_listeners: Vec<String>,
}

/// What `GetDeploymentTarget` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFacts {
    /// `(lifecycle event, status)`, in CodeDeploy's order.
    pub lifecycle_events: Vec<(String, String)>,
    /// `(task set label, target group name)`.
    pub task_sets: Vec<(String, Option<String>)>,
}

/// The task-definition ARN an ECS AppSpec (JSON or YAML) deploys.
pub fn appspec_task_definition(appspec: &str) -> Option<String> {
    if let Ok(document) = serde_json::from_str::<Value>(appspec) {
        return document["Resources"]
            .as_array()?
            .iter()
            .find_map(|r| r["TargetService"]["Properties"]["TaskDefinition"].as_str())
            .map(str::to_owned);
    }
    // YAML: the AppSpec's only TaskDefinition key, as a plain or quoted scalar.
    appspec.lines().find_map(|line| {
        let value = line.trim_start().strip_prefix("TaskDefinition:")?;
        let value = match value.find(" #") {
            Some(comment) => &value[..comment],
            None => value,
        };
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// The hook whose lifecycle event is in progress.
pub fn in_progress_hook(lifecycle_events: &[(String, String)]) -> Option<Hook> {
    lifecycle_events
        .iter()
        .filter(|(_, status)| status == "InProgress")
        .find_map(|(name, _)| Hook::parse(name))
}

/// `(replacement, original)` target group names: the Green task set's and
/// the Blue one's; when only one is known, the other of the pair.
pub fn target_group_roles(
    pair: &[String],
    task_sets: &[(String, Option<String>)],
) -> Result<(String, String), String> {
    let labelled = |label: &str| {
        task_sets
            .iter()
            .find(|(l, group)| l == label && group.is_some())
            .and_then(|(_, group)| group.clone())
    };
    let other = |name: &str| pair.iter().find(|n| *n != name).cloned();
    match (labelled("Green"), labelled("Blue")) {
        (Some(green), Some(blue)) => Ok((green, blue)),
        (Some(green), None) => other(&green)
            .map(|blue| (green, blue))
            .ok_or_else(|| "the deployment group has one target group".to_owned()),
        (None, Some(blue)) => other(&blue)
            .map(|green| (green, blue))
            .ok_or_else(|| "the deployment group has one target group".to_owned()),
        (None, None) => Err("no task set names its target group".to_owned()),
    }
}

/// A CodeDeploy deployment as the checks see it; resolves lazily.
pub struct CodeDeployDeployment {
    deployment_id: String,
    codedeploy: aws_sdk_codedeploy::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    /// Only for the revision, which few checks need.
    ecs: OnFirstUse<aws_sdk_ecs::Client>,
    deployment: OnceCell<DeploymentFacts>,
    group: OnceCell<GroupFacts>,
    target: OnceCell<TargetFacts>,
    listeners: OnceCell<Vec<Listener>>,
    target_groups: OnceCell<Vec<TargetGroup>>,
    revision: OnceCell<Revision>,
}

impl CodeDeployDeployment {
    /// The deployment `deployment_id`; nothing is called yet.
    pub fn new(
        deployment_id: &str,
        codedeploy: aws_sdk_codedeploy::Client,
        elbv2: aws_sdk_elasticloadbalancingv2::Client,
        ecs: OnFirstUse<aws_sdk_ecs::Client>,
    ) -> Self {
        CodeDeployDeployment {
            deployment_id: deployment_id.to_owned(),
            codedeploy,
            elbv2,
            ecs,
            deployment: OnceCell::new(),
            group: OnceCell::new(),
            target: OnceCell::new(),
            listeners: OnceCell::new(),
            target_groups: OnceCell::new(),
            revision: OnceCell::new(),
        }
    }

    /// The deployment's application, group and AppSpec.
    ///
    /// IAM: `codedeploy:GetDeployment`.
    pub async fn deployment(&self) -> Result<&DeploymentFacts, ContextError> {
        self.deployment
            .get_or_try_init(|| async {
                let resource = format!("deployment {}", self.deployment_id);
                let answer = self
                    .codedeploy
                    .get_deployment()
                    .deployment_id(&self.deployment_id)
                    .send()
                    .await
                    .map_err(|e| AwsError::new("get", &resource, &e))?;
                let info = answer
                    .deployment_info()
                    .ok_or_else(|| AwsError::missing_field("get", &resource, "deploymentInfo"))?;
                let application = info.application_name().ok_or_else(|| {
                    AwsError::missing_field("get", &resource, "deploymentInfo.applicationName")
                })?;
                let group = info.deployment_group_name().ok_or_else(|| {
                    AwsError::missing_field("get", &resource, "deploymentInfo.deploymentGroupName")
                })?;
                let revision = info.revision();
                let appspec = revision
                    .and_then(|r| r.app_spec_content())
                    .and_then(|c| c.content())
                    .or_else(|| revision.and_then(|r| r.string()).and_then(|s| s.content()))
                    .map(str::to_owned);
                Ok(DeploymentFacts {
                    application: application.to_owned(),
                    group: group.to_owned(),
                    appspec,
                })
            })
            .await
    }

    /// The deployment group's service, target groups and listeners.
    ///
    /// IAM: `codedeploy:GetDeployment`, `codedeploy:GetDeploymentGroup`.
    pub async fn group(&self) -> Result<&GroupFacts, ContextError> {
        self.group
            .get_or_try_init(|| async {
                let deployment = self.deployment().await?;
                let resource = format!(
                    "deployment group {}/{}",
                    deployment.application, deployment.group
                );
                let answer = self
                    .codedeploy
                    .get_deployment_group()
                    .application_name(&deployment.application)
                    .deployment_group_name(&deployment.group)
                    .send()
                    .await
                    .map_err(|e| AwsError::new("get", &resource, &e))?;
                let info = answer.deployment_group_info().ok_or_else(|| {
                    AwsError::missing_field("get", &resource, "deploymentGroupInfo")
                })?;
                let service = info.ecs_services().first().ok_or_else(|| {
                    ContextError::Missing(format!("{resource} deploys no ECS service"))
                })?;
                let pair = info
                    .load_balancer_info()
                    .and_then(|l| l.target_group_pair_info_list().first())
                    .ok_or_else(|| {
                        ContextError::Missing(format!("{resource} has no target group pair"))
                    })?;
                Ok(GroupFacts {
                    cluster: service.cluster_name().unwrap_or_default().to_owned(),
                    service: service.service_name().unwrap_or_default().to_owned(),
                    target_groups: pair
                        .target_groups()
                        .iter()
                        .filter_map(|g| g.name().map(str::to_owned))
                        .collect(),
                    production_listeners: pair
                        .prod_traffic_route()
                        .map(|r| r.listener_arns().to_vec())
                        .unwrap_or_default(),
                    test_listeners: pair
                        .test_traffic_route()
                        .map(|r| r.listener_arns().to_vec())
                        .unwrap_or_default(),
                })
            })
            .await
    }

    /// The deployment target: lifecycle events and task sets.
    ///
    /// IAM: `codedeploy:GetDeployment`, `codedeploy:GetDeploymentGroup`,
    /// `codedeploy:GetDeploymentTarget`.
    pub async fn target(&self) -> Result<&TargetFacts, ContextError> {
        self.target
            .get_or_try_init(|| async {
                let group = self.group().await?;
                // CodeDeploy names an ECS deployment target <cluster>:<service>.
                let target_id = format!("{}:{}", group.cluster, group.service);
                let resource = format!(
                    "deployment target {target_id} of deployment {}",
                    self.deployment_id
                );
                let answer = self
                    .codedeploy
                    .get_deployment_target()
                    .deployment_id(&self.deployment_id)
                    .target_id(&target_id)
                    .send()
                    .await
                    .map_err(|e| AwsError::new("get", &resource, &e))?;
                let ecs = answer
                    .deployment_target()
                    .and_then(|t| t.ecs_target())
                    .ok_or_else(|| {
                        AwsError::missing_field("get", &resource, "deploymentTarget.ecsTarget")
                    })?;
                Ok(TargetFacts {
                    lifecycle_events: ecs
                        .lifecycle_events()
                        .iter()
                        .map(|e| {
                            (
                                e.lifecycle_event_name().unwrap_or_default().to_owned(),
                                e.status()
                                    .map(|s| s.as_str().to_owned())
                                    .unwrap_or_default(),
                            )
                        })
                        .collect(),
                    task_sets: ecs
                        .task_sets_info()
                        .iter()
                        .map(|t| {
                            let label = match t.task_set_label() {
                                Some(TargetLabel::Blue) => "Blue".to_owned(),
                                Some(TargetLabel::Green) => "Green".to_owned(),
                                Some(other) => other.as_str().to_owned(),
                                None => String::new(),
                            };
                            (
                                label,
                                t.target_group().and_then(|g| g.name()).map(str::to_owned),
                            )
                        })
                        .collect(),
                })
            })
            .await
    }

    /// The hook whose lifecycle event is in progress.
    ///
    /// IAM: as [`Self::target`].
    pub async fn hook_in_progress(&self) -> Result<Hook, ContextError> {
        let target = self.target().await?;
        in_progress_hook(&target.lifecycle_events).ok_or_else(|| {
            ContextError::Missing(format!(
                "no lifecycle hook of deployment {} is in progress",
                self.deployment_id
            ))
        })
    }

    /// Every listener of the deployment group, described.
    async fn listeners(&self) -> Result<&Vec<Listener>, ContextError> {
        self.listeners
            .get_or_try_init(|| async {
                let group = self.group().await?;
                let arns: Vec<String> = group
                    .production_listeners
                    .iter()
                    .chain(&group.test_listeners)
                    .cloned()
                    .collect();
                elb::describe_listeners(&self.elbv2, &arns).await
            })
            .await
    }

    /// Both target groups of the pair, described.
    async fn target_groups(&self) -> Result<&Vec<TargetGroup>, ContextError> {
        self.target_groups
            .get_or_try_init(|| async {
                let group = self.group().await?;
                elb::describe_target_groups(
                    &self.elbv2,
                    TargetGroupKeys::Names(&group.target_groups),
                )
                .await
            })
            .await
    }

    async fn endpoint(&self, role: TrafficRole) -> Result<Endpoint, ContextError> {
        let group = self.group().await?;
        let arns = match role {
            TrafficRole::Test => &group.test_listeners,
            TrafficRole::Production => &group.production_listeners,
        };
        let arn = arns.first().ok_or_else(|| {
            ContextError::Missing(format!(
                "the deployment group of {}/{} has no {} listener",
                group.cluster,
                group.service,
                role.as_str()
            ))
        })?;
        self.listeners()
            .await?
            .iter()
            .find(|l| &l.arn == arn)
            .map(|l| l.endpoint.clone())
            .ok_or_else(|| ContextError::Missing(format!("listener {arn} not found")))
    }

    async fn role_target_group(&self, role: TargetGroupRole) -> Result<TargetGroup, ContextError> {
        let group = self.group().await?;
        let target = self.target().await?;
        let (replacement, original) = target_group_roles(&group.target_groups, &target.task_sets)
            .map_err(|why| {
            ContextError::Missing(format!(
                "cannot tell the {} target group of deployment {}: {why}",
                role.as_str(),
                self.deployment_id
            ))
        })?;
        let name = match role {
            TargetGroupRole::Replacement => replacement,
            TargetGroupRole::Original => original,
        };
        self.target_groups()
            .await?
            .iter()
            .find(|g| g.name == name)
            .cloned()
            .ok_or_else(|| ContextError::Missing(format!("target group {name} not found")))
    }

    async fn load_balancer_arn(&self) -> Result<String, ContextError> {
        let group = self.group().await?;
        if let Some(arn) = group.production_listeners.first()
            && let Some(listener) = self.listeners().await?.iter().find(|l| &l.arn == arn)
        {
            return Ok(listener.load_balancer_arn.clone());
        }
        self.role_target_group(TargetGroupRole::Replacement)
            .await?
            .load_balancer_arns
            .first()
            .cloned()
            .ok_or_else(|| {
                ContextError::Missing(
                    "no load balancer routes to the replacement target group".into(),
                )
            })
    }

    async fn describe_revision(&self) -> Result<Revision, ContextError> {
        self.revision
            .get_or_try_init(|| async {
                let deployment = self.deployment().await?;
                let appspec = deployment.appspec.as_deref().ok_or_else(|| {
                    ContextError::Missing(format!(
                        "deployment {} has no inline AppSpec (an S3 revision is not supported)",
                        self.deployment_id
                    ))
                })?;
                let arn = appspec_task_definition(appspec).ok_or_else(|| {
                    ContextError::Missing(format!(
                        "the AppSpec of deployment {} names no TaskDefinition",
                        self.deployment_id
                    ))
                })?;
                elb::describe_revision(self.ecs.get(), &arn).await
            })
            .await
            .cloned()
    }
}

impl Deployment for CodeDeployDeployment {
    fn listener(&self, role: TrafficRole) -> BoxFuture<'_, Result<Endpoint, ContextError>> {
        Box::pin(self.endpoint(role))
    }

    fn target_group(
        &self,
        role: TargetGroupRole,
    ) -> BoxFuture<'_, Result<TargetGroup, ContextError>> {
        Box::pin(self.role_target_group(role))
    }

    fn load_balancer(&self) -> BoxFuture<'_, Result<String, ContextError>> {
        Box::pin(self.load_balancer_arn())
    }

    fn revision(&self) -> BoxFuture<'_, Result<Revision, ContextError>> {
        Box::pin(self.describe_revision())
    }
}

/// What CodeDeploy made of a hook status report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// The status was recorded.
    Recorded,
    /// The lifecycle event had already completed: an earlier delivery of
    /// the same hook execution reported it (Lambda delivers an asynchronous
    /// event more than once at times), so there is nothing left to tell.
    AlreadyCompleted,
}

/// Tells CodeDeploy the hook's verdict: `Succeeded` or `Failed`.
///
/// IAM: `codedeploy:PutLifecycleEventHookExecutionStatus`.
pub async fn report_hook_status(
    client: &aws_sdk_codedeploy::Client,
    deployment_id: &str,
    execution_id: &str,
    succeeded: bool,
    policy: &crate::aws::CallPolicy,
) -> Result<Reported, AwsError> {
    let status = if succeeded {
        LifecycleEventStatus::Succeeded
    } else {
        LifecycleEventStatus::Failed
    };
    let answer = client
        .put_lifecycle_event_hook_execution_status()
        .deployment_id(deployment_id)
        .lifecycle_event_hook_execution_id(execution_id)
        .status(status)
        .customize()
        .config_override(
            aws_sdk_codedeploy::config::Builder::default()
                .retry_config(policy.retry_config())
                .timeout_config(policy.timeout_config()),
        )
        .send()
        .await;
    match answer {
        Ok(_) => Ok(Reported::Recorded),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_lifecycle_event_already_completed_exception()) =>
        {
            Ok(Reported::AlreadyCompleted)
        }
        Err(error) => Err(AwsError::new(
            "report the hook status of",
            format!("deployment {deployment_id}"),
            &error,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:8";

    #[test]
    fn task_definition_from_json_and_yaml_appspecs() {
        let json = crate::redeploy::appspec::AppSpec {
            task_definition_arn: ARN.into(),
            container_name: "backend".into(),
            container_port: 3000,
            hooks: vec![],
        }
        .to_json();
        let yaml = format!(
            "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: \"{ARN}\"  # the new revision\n        LoadBalancerInfo:\n          ContainerName: backend\n"
        );
        let bare =
            format!("Resources:\n- TargetService:\n    Properties:\n      TaskDefinition: {ARN}\n");
        let cases = [
            (json.as_str(), Some(ARN)),
            (yaml.as_str(), Some(ARN)),
            (bare.as_str(), Some(ARN)),
            (r#"{"version": 0.0, "Resources": []}"#, None),
            ("version: 0.0\n", None),
            ("TaskDefinition: \"\"\n", None),
        ];
        for (appspec, expected) in cases {
            assert_eq!(
                appspec_task_definition(appspec).as_deref(),
                expected,
                "{appspec}"
            );
        }
    }

    #[test]
    fn the_hook_in_progress() {
        let events = |statuses: &[(&str, &str)]| {
            statuses
                .iter()
                .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
                .collect::<Vec<_>>()
        };
        let cases = [
            (
                events(&[
                    ("BeforeInstall", "Succeeded"),
                    ("Install", "Succeeded"),
                    ("AfterInstall", "InProgress"),
                ]),
                Some(Hook::AfterInstall),
            ),
            (
                // Install is not a hook a function is attached to.
                events(&[("BeforeInstall", "Succeeded"), ("Install", "InProgress")]),
                None,
            ),
            (events(&[("AfterAllowTraffic", "Pending")]), None),
            (events(&[]), None),
        ];
        for (events, hook) in cases {
            assert_eq!(in_progress_hook(&events), hook, "{events:?}");
        }
    }

    #[test]
    fn replacement_and_original_target_groups() {
        let pair = vec!["api-blue".to_owned(), "api-green".to_owned()];
        let set = |label: &str, group: Option<&str>| (label.to_owned(), group.map(str::to_owned));
        type TaskSets = Vec<(String, Option<String>)>;
        type Roles<'a> = Result<(&'a str, &'a str), &'a str>;
        let cases: Vec<(TaskSets, Roles)> = vec![
            (
                vec![
                    set("Blue", Some("api-blue")),
                    set("Green", Some("api-green")),
                ],
                Ok(("api-green", "api-blue")),
            ),
            (
                // After a previous deployment the roles are swapped.
                vec![
                    set("Blue", Some("api-green")),
                    set("Green", Some("api-blue")),
                ],
                Ok(("api-blue", "api-green")),
            ),
            // BeforeInstall: no replacement task set yet.
            (
                vec![set("Blue", Some("api-blue"))],
                Ok(("api-green", "api-blue")),
            ),
            (
                vec![set("Green", Some("api-blue"))],
                Ok(("api-blue", "api-green")),
            ),
            (
                vec![set("Blue", None)],
                Err("no task set names its target group"),
            ),
            (vec![], Err("no task set names its target group")),
        ];
        for (task_sets, expected) in cases {
            let got = target_group_roles(&pair, &task_sets);
            assert_eq!(
                got.as_ref()
                    .map(|(r, o)| (r.as_str(), o.as_str()))
                    .map_err(String::as_str),
                expected,
                "{task_sets:?}"
            );
        }
        assert!(target_group_roles(&pair[..1], &[set("Blue", Some("api-blue"))]).is_err());
    }
}
