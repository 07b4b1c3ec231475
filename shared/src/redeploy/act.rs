//! Act: roll a decided service out. Reads first (where the rollout goes),
//! then, unless this is a dry run, the writes: register (or reuse) the
//! revision, then `UpdateService` or `CreateDeployment`.

use aws_sdk_ecs::types::{TaskDefinition, TaskDefinitionStatus};
use tokio::sync::OnceCell;

use super::appspec::{AppSpec, names_task_definition};
use super::codedeploy::{self, ActiveDeployment, CODEDEPLOY_TAG, DeploymentGroup};
use super::gather::{Revision, Tracked};
use super::plan::{Controller, PushedImage};
use super::taskdef::{register_request, registrable, with_images};
use super::{Clients, Outcome, ServiceReport, Settings};
use crate::aws::AwsError;
use crate::error::{Classify, ErrorKind};

/// Every ECS deployment group, listed once per invocation when a service
/// needs it.
pub(super) type DeploymentGroups = OnceCell<Vec<DeploymentGroup>>;

/// Rolls out the services of one family in turn, so that they share one new
/// revision: `newest` is the family's newest revision, and becomes the one
/// this invocation registers.
pub(super) async fn roll_out_family(
    clients: &Clients,
    settings: &Settings,
    pushed: &PushedImage,
    groups: &DeploymentGroups,
    mut newest: Option<Revision>,
    services: Vec<Tracked>,
) -> Vec<ServiceReport> {
    let mut reports = Vec::new();
    for service in &services {
        let report = roll_out(clients, settings, pushed, groups, &mut newest, service).await;
        reports.push(report.unwrap_or_else(|failed| failed));
    }
    reports
}

/// Where a service's rollout goes.
enum Target {
    /// A rolling update by ECS.
    Ecs,
    /// A blue/green deployment by CodeDeploy.
    CodeDeploy {
        group: DeploymentGroup,
        container_name: String,
        container_port: i32,
    },
}

/// One service: `Err` is the report of a service that stopped early.
async fn roll_out(
    clients: &Clients,
    settings: &Settings,
    pushed: &PushedImage,
    groups: &DeploymentGroups,
    newest: &mut Option<Revision>,
    service: &Tracked,
) -> Result<ServiceReport, ServiceReport> {
    let desired = with_images(&service.current.definition, &service.updates);
    // The family's newest revision, or the one this invocation just
    // registered, when it is exactly what would be registered.
    let reusable = newest
        .as_ref()
        .filter(|r| registrable(&r.definition) == desired)
        .map(|r| r.arn.clone());
    let target = target(clients, settings, groups, service, reusable.as_deref()).await?;
    let images = new_images(service);

    // Dry run: every write below is skipped.
    if settings.dry_run {
        let label = reusable
            .clone()
            .unwrap_or_else(|| format!("a new revision of {}", service.current.family));
        let reason = match &target {
            Target::Ecs => format!("would update the service to {label} ({images})"),
            Target::CodeDeploy { group, .. } => format!(
                "would start a CodeDeploy deployment in {}/{} to {label} ({images})",
                group.application, group.group
            ),
        };
        let mut entry = report(service, Outcome::Planned, reason);
        entry.task_definition_arn = reusable;
        return Ok(entry);
    }

    let arn = match reusable {
        Some(arn) => arn,
        None => {
            let registered = register(clients, newest.as_ref(), &desired, service).await?;
            let arn = registered.arn.clone();
            *newest = Some(registered);
            arn
        }
    };
    let rolled_out = match target {
        Target::Ecs => update_service(clients, service, &arn, &images).await,
        Target::CodeDeploy {
            group,
            container_name,
            container_port,
        } => {
            let appspec = AppSpec {
                task_definition_arn: arn.clone(),
                container_name,
                container_port,
                hooks: settings.hooks.clone(),
            };
            create_deployment(clients, pushed, service, &group, &appspec).await
        }
    };
    // Whatever happened next, the report names the revision registered.
    let with_arn = |mut entry: ServiceReport| {
        entry.task_definition_arn.get_or_insert_with(|| arn.clone());
        entry
    };
    rolled_out.map(with_arn).map_err(with_arn)
}

/// Where the rollout goes, read before anything is written: for CodeDeploy,
/// the deployment group (pinned by tag, else found by cluster and service),
/// its active deployments (one a group: a duplicate event or a busy group
/// stops here), and the load balancer container for the AppSpec.
///
/// IAM: the CodeDeploy reads of [`codedeploy`].
async fn target(
    clients: &Clients,
    settings: &Settings,
    groups: &DeploymentGroups,
    service: &Tracked,
    reusable: Option<&str>,
) -> Result<Target, ServiceReport> {
    match service.controller {
        Controller::Ecs => return Ok(Target::Ecs),
        // plan_redeploy never deploys one; said here too, for the summary.
        Controller::External => {
            return Err(report(
                service,
                Outcome::Skipped,
                "EXTERNAL deployment controller".into(),
            ));
        }
        Controller::CodeDeploy => {}
    }
    let group = match service.tags.get(CODEDEPLOY_TAG) {
        Some(pin) => {
            let Some((application, group)) = pin.split_once('/') else {
                return Err(refused(
                    service,
                    format!("invalid {CODEDEPLOY_TAG} tag {pin:?}: expected application/group"),
                    ErrorKind::InvalidInput,
                ));
            };
            codedeploy::deployment_group(&clients.codedeploy, application, group)
                .await
                .map_err(|e| failed(service, &e))?
        }
        None => {
            let all = groups
                .get_or_try_init(|| {
                    codedeploy::ecs_deployment_groups(&clients.codedeploy, settings.concurrency)
                })
                .await
                .map_err(|e| failed(service, &e))?;
            all.iter()
                .find(|g| g.deploys(&service.cluster, &service.name))
                .cloned()
                .ok_or_else(|| {
                    refused(
                        service,
                        "no CodeDeploy deployment group deploys this service".into(),
                        ErrorKind::NotFound,
                    )
                })?
        }
    };
    let active = codedeploy::active_deployments(&clients.codedeploy, &group)
        .await
        .map_err(|e| failed(service, &e))?;
    if let Some(entry) = busy(service, &group, &active, reusable) {
        return Err(entry);
    }
    let Some((container_name, container_port)) = service.load_balancer.clone() else {
        return Err(refused(
            service,
            "the service has no load balancer container and port for the AppSpec".into(),
            ErrorKind::InvalidInput,
        ));
    };
    Ok(Target::CodeDeploy {
        group,
        container_name,
        container_port,
    })
}

/// Registers the new revision, converged with any equal one a concurrent
/// invocation registered since `newest` was read.
///
/// IAM: `ecs:RegisterTaskDefinition`, `ecs:TagResource`, `iam:PassRole`,
/// `ecs:DescribeTaskDefinition`.
async fn register(
    clients: &Clients,
    newest: Option<&Revision>,
    desired: &TaskDefinition,
    service: &Tracked,
) -> Result<Revision, ServiceReport> {
    let family = &service.current.family;
    let resource = format!("task definition {family}");
    let answer = register_request(&clients.ecs, desired, &service.current.tags)
        .send()
        .await
        .map_err(|e| failed(service, &AwsError::new("register", &resource, &e)))?;
    let definition = answer.task_definition().cloned().ok_or_else(|| {
        failed(
            service,
            &AwsError::missing_field("register", &resource, "taskDefinition"),
        )
    })?;
    let registered = Revision::of("register", &resource, definition, Vec::new())
        .map_err(|e| failed(service, &e))?;
    tracing::info!(family = %family, task_definition = %registered.arn, "registered a new revision");
    let seen = newest.map_or(0, Revision::number);
    Ok(converge(clients, seen, registered, desired).await)
}

/// How many revisions registered between the one seen and ours are looked
/// at for an equal one: concurrent invocations for one push are few (the
/// same event delivered twice, or several tags pushed together).
const CONVERGE_LOOKBACK: i32 = 5;

/// Converges concurrent invocations on one revision.
///
/// Two invocations handling the same push at once (EventBridge delivers an
/// event more than once, a push of several tags sends several events) both
/// find no revision to reuse and both register one. When revisions were
/// registered between the newest one seen before registering (`seen`) and
/// ours, the lowest of them with the same content is the one every such
/// invocation picks: every invocation updates the service to the same
/// revision, which ECS rolls out once (an `UpdateService` that changes
/// nothing starts no deployment), and CodeDeploy allows one active
/// deployment per group.
///
/// Best effort: when a look fails, ours is kept (the rollout then still
/// carries the pushed image).
///
/// IAM: `ecs:DescribeTaskDefinition`.
async fn converge(
    clients: &Clients,
    seen: i32,
    ours: Revision,
    desired: &TaskDefinition,
) -> Revision {
    let family = ours.family.clone();
    let revision = ours.number();
    let first = (seen + 1).max(revision - CONVERGE_LOOKBACK);
    for earlier in first..revision {
        let name = format!("{family}:{earlier}");
        let described = clients
            .ecs
            .describe_task_definition()
            .task_definition(&name)
            .send()
            .await;
        let definition = match described {
            Ok(answer) => answer.task_definition().cloned(),
            Err(error) => {
                let error = AwsError::new("describe", format!("task definition {name}"), &error);
                tracing::warn!(family = %family, revision = earlier, error = %error, "could not compare a concurrent revision; keeping ours");
                return ours;
            }
        };
        let Some(definition) = definition else {
            continue;
        };
        let active = definition.status() == Some(&TaskDefinitionStatus::Active);
        if !active || registrable(&definition) != *desired {
            continue;
        }
        let Ok(theirs) = Revision::of("describe", &name, definition, Vec::new()) else {
            continue;
        };
        // Ours stays registered, unused: deregistering it would need
        // ecs:DeregisterTaskDefinition for little gain (revisions are free).
        tracing::info!(family = %family, task_definition = %theirs.arn, duplicate = %ours.arn, "another invocation registered the same revision first; using it");
        return theirs;
    }
    ours
}

/// A rolling update to `arn`.
///
/// IAM: `ecs:UpdateService`.
async fn update_service(
    clients: &Clients,
    service: &Tracked,
    arn: &str,
    images: &str,
) -> Result<ServiceReport, ServiceReport> {
    clients
        .ecs
        .update_service()
        .cluster(&service.cluster)
        .service(&service.name)
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| {
            let resource = format!("{}/{}", service.cluster, service.name);
            failed(service, &AwsError::new("update service", resource, &e))
        })?;
    Ok(report(
        service,
        Outcome::Deployed,
        format!("rolling update to {arn} ({images})"),
    ))
}

/// A CodeDeploy deployment of `appspec` in `group`; a deployment another
/// invocation started since the group was read is looked at again.
///
/// IAM: `codedeploy:CreateDeployment` and what it authorizes, as
/// [`codedeploy::create_deployment`] says.
async fn create_deployment(
    clients: &Clients,
    pushed: &PushedImage,
    service: &Tracked,
    group: &DeploymentGroup,
    appspec: &AppSpec,
) -> Result<ServiceReport, ServiceReport> {
    let arn = appspec.task_definition_arn.as_str();
    let description = format!(
        "ecs-autopilot: {}{} pushed as {}",
        pushed.repository,
        pushed
            .tag
            .as_deref()
            .map(|t| format!(":{t}"))
            .unwrap_or_default(),
        pushed.digest
    );
    match codedeploy::create_deployment(
        &clients.codedeploy,
        group,
        &appspec.to_json(),
        &description,
    )
    .await
    {
        Ok(id) => {
            let mut entry = report(
                service,
                Outcome::Deployed,
                format!(
                    "CodeDeploy deployment {id} in {}/{} to {arn}",
                    group.application, group.group
                ),
            );
            entry.deployment_id = Some(id);
            Ok(entry)
        }
        Err(error) if error.code() == Some("DeploymentLimitExceededException") => {
            // Another invocation started one since we looked: CodeDeploy
            // allows one active deployment per group.
            let active = codedeploy::active_deployments(&clients.codedeploy, group)
                .await
                .map_err(|e| failed(service, &e))?;
            Err(busy(service, group, &active, Some(arn)).unwrap_or_else(|| failed(service, &error)))
        }
        Err(error) => Err(failed(service, &error)),
    }
}

/// The report for a service whose deployment group is busy: skipped when
/// an active deployment already rolls out `task_definition_arn` (a
/// duplicate event), failed and retryable when another one is in progress.
fn busy(
    service: &Tracked,
    group: &DeploymentGroup,
    active: &[ActiveDeployment],
    task_definition_arn: Option<&str>,
) -> Option<ServiceReport> {
    if let Some(arn) = task_definition_arn
        && let Some(carrying) = active.iter().find(|d| {
            d.appspec
                .as_deref()
                .is_some_and(|spec| names_task_definition(spec, arn))
        })
    {
        let mut entry = report(
            service,
            Outcome::Skipped,
            format!("deployment {} already rolls out {arn}", carrying.id),
        );
        entry.deployment_id = Some(carrying.id.clone());
        entry.task_definition_arn = Some(arn.to_owned());
        return Some(entry);
    }
    let in_progress = active.first()?;
    let mut entry = refused(
        service,
        format!(
            "deployment in progress: {} ({}) in {}/{}; will retry",
            in_progress.id, in_progress.status, group.application, group.group
        ),
        ErrorKind::Retryable,
    );
    entry.deployment_id = Some(in_progress.id.clone());
    Some(entry)
}

/// `container=image, ...` of the images the service moves to.
fn new_images(service: &Tracked) -> String {
    service
        .updates
        .iter()
        .map(|u| format!("{}={}", u.container, u.to))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A report on `service`.
pub(super) fn report(service: &Tracked, outcome: Outcome, reason: String) -> ServiceReport {
    ServiceReport {
        account: None,
        cluster: service.cluster.clone(),
        service: service.name.clone(),
        outcome,
        reason,
        containers: service
            .updates
            .iter()
            .map(|u| u.container.clone())
            .collect(),
        task_definition_arn: None,
        deployment_id: None,
        freeze: None,
        freeze_override: false,
        error_kind: None,
    }
}

/// A failure of ours to act on `service`, of `kind`.
pub(super) fn refused(service: &Tracked, reason: String, kind: ErrorKind) -> ServiceReport {
    let mut entry = report(service, Outcome::Failed, reason);
    entry.error_kind = Some(kind);
    entry
}

/// A failed AWS call for `service`.
pub(super) fn failed(service: &Tracked, error: &AwsError) -> ServiceReport {
    refused(service, error.to_string(), error.kind())
}
