//! Redeploy on push: an image pushed to ECR rolls out to the services that track it.
//!
//! Gather (services opted in with `autopilot:redeploy`, their task
//! definitions once each, what ECR knows of the images), decide per service
//! with [`plan::plan_redeploy`], then act (register a revision pinned to the
//! digest, and `UpdateService` or a CodeDeploy deployment), every write
//! skipped by dry run.

pub mod appspec;
pub mod codedeploy;
pub mod plan;
pub mod policy;
pub mod taskdef;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_ecs::types::{
    DeploymentControllerType, Service, SortOrder, Tag, TaskDefinition, TaskDefinitionField,
};
use futures::{StreamExt, stream};
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::aws::AwsError;
use crate::discovery::{ClusterScope, DiscoveryLimits, cluster_name, find_services, service_tags};
use crate::error::{Classify, ErrorKind};
use crate::image::{Digest, ImageRef};
use appspec::{AppSpec, names_task_definition};
use codedeploy::{CODEDEPLOY_TAG, DeploymentGroup};
use plan::{Controller, Decision, PushedImage, RunningImageFacts, ServiceFacts, plan_redeploy};
use policy::{CONTAINERS_TAG, Policy, REDEPLOY_TAG, parse_version};
use taskdef::{ImageUpdate, plan_images, register_request, registrable, with_images};

/// How a redeploy runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Clusters to search.
    pub scope: ClusterScope,
    /// Independent AWS reads in flight at once.
    pub concurrency: usize,
    /// ECS reads a second after the burst.
    pub read_rate: f64,
    /// ECS reads sent at once before pacing starts.
    pub read_burst: u32,
    /// CodeDeploy hook functions for the AppSpec: `(hook, function)`.
    pub hooks: Vec<(String, String)>,
    /// Log every change, make none.
    pub dry_run: bool,
}

/// The AWS clients a redeploy uses.
#[derive(Debug, Clone)]
pub struct Clients {
    /// ECS.
    pub ecs: aws_sdk_ecs::Client,
    /// ECR.
    pub ecr: aws_sdk_ecr::Client,
    /// CodeDeploy.
    pub codedeploy: aws_sdk_codedeploy::Client,
}

/// What happened to one matched service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A new revision was rolled out.
    Deployed,
    /// Nothing to do, with a reason.
    Skipped,
    /// Something went wrong; other services went on.
    Failed,
    /// Dry run: this is what would have been done.
    Planned,
}

impl Outcome {
    /// The lower-case name used in the summary and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Deployed => "deployed",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
            Outcome::Planned => "planned",
        }
    }
}

/// One matched service in the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceReport {
    /// Cluster name.
    pub cluster: String,
    /// Service name.
    pub service: String,
    /// What happened.
    pub outcome: Outcome,
    /// Why, in a sentence.
    pub reason: String,
    /// The containers whose image changes.
    pub containers: Vec<String>,
    /// The task definition rolled out (or that would be).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition_arn: Option<String>,
    /// The CodeDeploy deployment started, or the one already carrying it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// For a failure, how the caller should react.
    #[serde(skip)]
    pub error_kind: Option<ErrorKind>,
}

/// The result of one push event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// `registry/repository`.
    pub repository: String,
    /// The pushed tag.
    pub tag: Option<String>,
    /// The pushed digest.
    pub digest: String,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// One entry per matched service.
    pub services: Vec<ServiceReport>,
    /// Clusters or reads that failed during discovery.
    pub errors: Vec<String>,
    /// How the caller should react to the failures, if any.
    #[serde(skip)]
    pub error_kind: Option<ErrorKind>,
}

impl Summary {
    /// Services with this outcome.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.services
            .iter()
            .filter(|s| s.outcome == outcome)
            .count()
    }
}

/// A service, its task definition, and the decision about it.
struct Candidate {
    service: Service,
    cluster: String,
    name: String,
    controller: Controller,
    definition: std::sync::Arc<(TaskDefinition, Vec<Tag>)>,
    updates: Vec<ImageUpdate>,
    only: Option<Vec<String>>,
}

type Latest = Option<(String, TaskDefinition)>;

/// Rolls `pushed` out to every service that tracks it.
///
/// IAM: `ecs:ListClusters`, `ecs:ListServices`, `ecs:DescribeServices`,
/// `ecs:DescribeTaskDefinition`, `ecs:ListTaskDefinitions`,
/// `ecs:RegisterTaskDefinition`, `ecs:TagResource`, `ecs:UpdateService`,
/// `ecr:DescribeImages`, the CodeDeploy actions of [`codedeploy`], and
/// `iam:PassRole` for the task and execution roles.
pub async fn redeploy(
    clients: &Clients,
    settings: &Settings,
    mut pushed: PushedImage,
) -> Result<Summary, AwsError> {
    let limits = DiscoveryLimits::with_rate(
        settings.concurrency,
        settings.read_rate,
        settings.read_burst,
    );
    let mut summary = Summary {
        repository: format!("{}/{}", pushed.registry.host(), pushed.repository),
        tag: pushed.tag.clone(),
        digest: pushed.digest.to_string(),
        dry_run: settings.dry_run,
        services: Vec::new(),
        errors: Vec::new(),
        error_kind: None,
    };
    // The kinds of the errors that left services out, beside the services'.
    let mut selection_kinds = Vec::new();

    // Gather: the services that opted in, and their task definitions, each described once.
    let discovered = find_services(&clients.ecs, &settings.scope, &limits, |s| {
        s.tags().iter().any(|t| t.key() == Some(REDEPLOY_TAG))
    })
    .await?;
    for error in &discovered.errors {
        summary.errors.push(error.to_string());
        selection_kinds.push(error.kind());
    }
    let definitions = describe_task_definitions(clients, &discovered.services, &limits).await;

    let mut candidates = Vec::new();
    for service in discovered.services {
        let cluster = cluster_name(service.cluster_arn().unwrap_or_default()).to_owned();
        let name = service.service_name().unwrap_or_default().to_owned();
        let arn = service.task_definition().unwrap_or_default();
        let definition = match definitions.get(arn) {
            Some(Ok(definition)) => definition.clone(),
            Some(Err(error)) => {
                // Without its task definition we cannot tell whether it runs the repository.
                summary.errors.push(format!("{cluster}/{name}: {error}"));
                selection_kinds.push(error.kind());
                continue;
            }
            None => continue,
        };
        let tags = service_tags(&service);
        let only: Option<Vec<String>> = tags.get(CONTAINERS_TAG).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        });
        let updates = plan_images(
            &definition.0,
            &pushed.registry,
            &pushed.repository,
            &pushed.digest,
            only.as_deref(),
        );
        if updates.is_empty() {
            tracing::debug!(cluster = %cluster, service = %name, "does not run the pushed repository");
            continue;
        }
        let controller = match service.deployment_controller().map(|c| c.r#type()) {
            Some(DeploymentControllerType::CodeDeploy) => Controller::CodeDeploy,
            Some(DeploymentControllerType::External) => Controller::External,
            _ => Controller::Ecs,
        };
        candidates.push(Candidate {
            service,
            cluster,
            name,
            controller,
            definition,
            updates,
            only,
        });
    }
    if candidates.is_empty() {
        return Ok(summary);
    }

    // Each family's newest revision: it may already carry a newer image on its way out
    // (a CodeDeploy deployment in flight), which must not be overtaken by an older push.
    let families: BTreeMap<String, &TaskDefinition> = candidates
        .iter()
        .map(|c| {
            (
                c.definition.0.family().unwrap_or_default().to_owned(),
                &c.definition.0,
            )
        })
        .collect();
    let limits = &limits;
    let mut latest: HashMap<String, Result<Latest, AwsError>> = stream::iter(families)
        .map(|(family, current)| async move {
            limits.rate.acquire().await;
            let found = latest_revision(clients, &family, current).await;
            (family, found)
        })
        .buffer_unordered(limits.concurrency)
        .collect()
        .await;
    let registered_updates =
        |c: &Candidate, latest: &HashMap<String, Result<Latest, AwsError>>| -> Vec<ImageUpdate> {
            match latest.get(c.definition.0.family().unwrap_or_default()) {
                Some(Ok(Some((arn, definition))))
                    if Some(arn.as_str()) != c.definition.0.task_definition_arn() =>
                {
                    plan_images(
                        definition,
                        &pushed.registry,
                        &pushed.repository,
                        &pushed.digest,
                        c.only.as_deref(),
                    )
                }
                _ => Vec::new(),
            }
        };

    // What ECR knows: when the pushed image and the running ones were pushed, and their tags.
    let running_digests: BTreeSet<Digest> = candidates
        .iter()
        .flat_map(|c| {
            c.updates
                .iter()
                .chain(registered_updates(c, &latest).iter())
                .filter_map(|u| u.from.digest().cloned())
                .collect::<Vec<_>>()
        })
        .filter(|d| *d != pushed.digest)
        .collect();
    let ecr_facts = match image_facts(clients, &pushed, &running_digests).await {
        Ok(facts) => facts,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            for c in candidates {
                summary.services.push(report(
                    &c,
                    Outcome::Skipped,
                    format!("{} is no longer in ECR", pushed.digest),
                ));
            }
            return Ok(summary);
        }
        Err(error) => return Err(error),
    };
    pushed.pushed_at = ecr_facts.get(&pushed.digest).and_then(|f| f.pushed_at);

    // Decide, then act family by family (services sharing a family reuse one new revision).
    let mut by_family: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
    let facts_of = |updates: &[ImageUpdate]| -> Vec<RunningImageFacts> {
        updates
            .iter()
            .map(|u| {
                u.from
                    .digest()
                    .and_then(|d| ecr_facts.get(d))
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    };
    for candidate in candidates {
        if let Some(Err(error)) = latest.get(candidate.definition.0.family().unwrap_or_default()) {
            summary.services.push(failed(&candidate, error));
            continue;
        }
        let facts = ServiceFacts {
            registered: facts_of(&registered_updates(&candidate, &latest)),
            policy: Policy::parse(
                service_tags(&candidate.service)
                    .get(REDEPLOY_TAG)
                    .map(String::as_str)
                    .unwrap_or_default(),
            ),
            controller: candidate.controller,
            running: facts_of(&candidate.updates),
            updates: candidate.updates.clone(),
        };
        match plan_redeploy(&pushed, &facts) {
            Decision::NotMatched => {}
            Decision::Skip(reason) => {
                summary
                    .services
                    .push(report(&candidate, Outcome::Skipped, reason))
            }
            Decision::Fail(reason) => {
                let mut entry = report(&candidate, Outcome::Failed, reason);
                entry.error_kind = Some(ErrorKind::InvalidInput);
                summary.services.push(entry);
            }
            Decision::Deploy => by_family
                .entry(
                    candidate
                        .definition
                        .0
                        .family()
                        .unwrap_or_default()
                        .to_owned(),
                )
                .or_default()
                .push(candidate),
        }
    }
    let groups = OnceCell::new();
    let work: Vec<_> = by_family
        .into_iter()
        .map(|(family, candidates)| {
            let newest = latest.remove(&family).and_then(Result::ok).flatten();
            (family, candidates, newest)
        })
        .collect();
    let acted: Vec<Vec<ServiceReport>> = stream::iter(work)
        .map(|(family, candidates, mut latest)| {
            let groups = &groups;
            let pushed = &pushed;
            async move {
                let mut reports = Vec::new();
                for candidate in candidates {
                    reports.push(
                        roll_out(
                            clients,
                            settings,
                            pushed,
                            &family,
                            &mut latest,
                            groups,
                            &candidate,
                        )
                        .await,
                    );
                }
                reports
            }
        })
        .buffer_unordered(settings.concurrency.max(1))
        .collect()
        .await;
    summary.services.extend(acted.into_iter().flatten());
    summary
        .services
        .sort_by(|a, b| (&a.cluster, &a.service).cmp(&(&b.cluster, &b.service)));
    summary.error_kind = ErrorKind::of_batch(
        selection_kinds
            .into_iter()
            .chain(summary.services.iter().filter_map(|e| e.error_kind)),
    );
    Ok(summary)
}

fn report(candidate: &Candidate, outcome: Outcome, reason: String) -> ServiceReport {
    ServiceReport {
        cluster: candidate.cluster.clone(),
        service: candidate.name.clone(),
        outcome,
        reason,
        containers: candidate
            .updates
            .iter()
            .map(|u| u.container.clone())
            .collect(),
        task_definition_arn: None,
        deployment_id: None,
        error_kind: None,
    }
}

fn failed(candidate: &Candidate, error: &AwsError) -> ServiceReport {
    let mut entry = report(candidate, Outcome::Failed, error.to_string());
    entry.error_kind = Some(error.kind());
    entry
}

/// Registers (or reuses) the new revision and starts the rollout for one service.
async fn roll_out(
    clients: &Clients,
    settings: &Settings,
    pushed: &PushedImage,
    family: &str,
    latest: &mut Latest,
    groups: &OnceCell<Vec<DeploymentGroup>>,
    candidate: &Candidate,
) -> ServiceReport {
    let desired = with_images(&candidate.definition.0, &candidate.updates);

    // The family's newest revision, or the one this invocation just registered.
    let reusable = latest
        .as_ref()
        .filter(|(_, definition)| registrable(definition) == desired)
        .map(|(arn, _)| arn.clone());

    let task_definition_arn = match reusable {
        Some(arn) => Some(arn),
        None if settings.dry_run => None,
        None => {
            let seen = latest.as_ref().map_or(0, |(_, d)| d.revision());
            let request = register_request(&clients.ecs, &desired, &candidate.definition.1);
            match request.send().await {
                Ok(answer) => {
                    let Some(registered) = answer.task_definition().cloned() else {
                        return failed(
                            candidate,
                            &AwsError::missing_field(
                                "register",
                                format!("task definition {family}"),
                                "taskDefinition",
                            ),
                        );
                    };
                    let arn = registered
                        .task_definition_arn()
                        .unwrap_or_default()
                        .to_owned();
                    tracing::info!(family, task_definition = %arn, "registered a new revision");
                    let (arn, registered) =
                        converge(clients, family, seen, (arn, registered), &desired).await;
                    *latest = Some((arn.clone(), registered));
                    Some(arn)
                }
                Err(error) => {
                    return failed(
                        candidate,
                        &AwsError::new("register", format!("task definition {family}"), &error),
                    );
                }
            }
        }
    };
    let new_images = candidate
        .updates
        .iter()
        .map(|u| format!("{}={}", u.container, u.to))
        .collect::<Vec<_>>()
        .join(", ");
    let label = task_definition_arn
        .clone()
        .unwrap_or_else(|| format!("a new revision of {family}"));

    let mut entry = match candidate.controller {
        Controller::Ecs => {
            if settings.dry_run {
                report(
                    candidate,
                    Outcome::Planned,
                    format!("would update the service to {label} ({new_images})"),
                )
            } else {
                let arn = task_definition_arn.clone().unwrap_or_default();
                match clients
                    .ecs
                    .update_service()
                    .cluster(&candidate.cluster)
                    .service(&candidate.name)
                    .task_definition(&arn)
                    .send()
                    .await
                {
                    Ok(_) => report(
                        candidate,
                        Outcome::Deployed,
                        format!("rolling update to {arn} ({new_images})"),
                    ),
                    Err(error) => {
                        return failed(
                            candidate,
                            &AwsError::new(
                                "update service",
                                format!("{}/{}", candidate.cluster, candidate.name),
                                &error,
                            ),
                        );
                    }
                }
            }
        }
        Controller::CodeDeploy => {
            let mut entry = code_deploy(
                clients,
                settings,
                pushed,
                groups,
                candidate,
                task_definition_arn.as_deref(),
                &label,
            )
            .await;
            if entry.outcome == Outcome::Planned {
                entry.reason = format!("{} ({new_images})", entry.reason);
            }
            entry
        }
        Controller::External => report(
            candidate,
            Outcome::Skipped,
            "EXTERNAL deployment controller".into(),
        ),
    };
    if entry.task_definition_arn.is_none() {
        entry.task_definition_arn = task_definition_arn;
    }
    entry
}

async fn code_deploy(
    clients: &Clients,
    settings: &Settings,
    pushed: &PushedImage,
    groups: &OnceCell<Vec<DeploymentGroup>>,
    candidate: &Candidate,
    task_definition_arn: Option<&str>,
    label: &str,
) -> ServiceReport {
    // The deployment group: pinned by tag, else found by cluster and service.
    let pinned = service_tags(&candidate.service)
        .get(CODEDEPLOY_TAG)
        .cloned();
    let group = match pinned {
        Some(pin) => match pin.split_once('/') {
            Some((application, group)) => {
                codedeploy::deployment_group(&clients.codedeploy, application, group).await
            }
            None => {
                let mut entry = report(
                    candidate,
                    Outcome::Failed,
                    format!("invalid {CODEDEPLOY_TAG} tag {pin:?}: expected application/group"),
                );
                entry.error_kind = Some(ErrorKind::InvalidInput);
                return entry;
            }
        },
        None => {
            let all = groups
                .get_or_try_init(|| {
                    codedeploy::ecs_deployment_groups(&clients.codedeploy, settings.concurrency)
                })
                .await;
            match all {
                Ok(all) => match all
                    .iter()
                    .find(|g| g.deploys(&candidate.cluster, &candidate.name))
                {
                    Some(group) => Ok(group.clone()),
                    None => {
                        let mut entry = report(
                            candidate,
                            Outcome::Failed,
                            "no CodeDeploy deployment group deploys this service".into(),
                        );
                        entry.error_kind = Some(ErrorKind::NotFound);
                        return entry;
                    }
                },
                Err(error) => Err(error.clone()),
            }
        }
    };
    let group = match group {
        Ok(group) => group,
        Err(error) => return failed(candidate, &error),
    };

    // One active deployment per group: if it carries our revision, this is a duplicate.
    let active = match codedeploy::active_deployments(&clients.codedeploy, &group).await {
        Ok(active) => active,
        Err(error) => return failed(candidate, &error),
    };
    if let Some(entry) = busy(candidate, &group, &active, task_definition_arn) {
        return entry;
    }

    let Some((container_name, container_port)) = candidate
        .service
        .load_balancers()
        .iter()
        .find_map(|lb| Some((lb.container_name()?.to_owned(), lb.container_port()?)))
    else {
        let mut entry = report(
            candidate,
            Outcome::Failed,
            "the service has no load balancer container and port for the AppSpec".into(),
        );
        entry.error_kind = Some(ErrorKind::InvalidInput);
        return entry;
    };
    if settings.dry_run {
        return report(
            candidate,
            Outcome::Planned,
            format!(
                "would start a CodeDeploy deployment in {}/{} to {label}",
                group.application, group.group
            ),
        );
    }
    let Some(arn) = task_definition_arn else {
        return report(
            candidate,
            Outcome::Failed,
            "no task definition to deploy".into(),
        );
    };
    let appspec = AppSpec {
        task_definition_arn: arn.to_owned(),
        container_name,
        container_port,
        hooks: settings.hooks.clone(),
    };
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
        &group,
        &appspec.to_json(),
        &description,
    )
    .await
    {
        Ok(id) => {
            let mut entry = report(
                candidate,
                Outcome::Deployed,
                format!(
                    "CodeDeploy deployment {id} in {}/{} to {arn}",
                    group.application, group.group
                ),
            );
            entry.deployment_id = Some(id);
            entry
        }
        Err(error) if error.code() == Some("DeploymentLimitExceededException") => {
            // Another invocation started one since we looked: CodeDeploy
            // allows one active deployment per group.
            match codedeploy::active_deployments(&clients.codedeploy, &group).await {
                Ok(active) => busy(candidate, &group, &active, Some(arn))
                    .unwrap_or_else(|| failed(candidate, &error)),
                Err(error) => failed(candidate, &error),
            }
        }
        Err(error) => failed(candidate, &error),
    }
}

/// The report for a service whose deployment group is busy: skipped when
/// an active deployment already rolls out `task_definition_arn` (a
/// duplicate event), failed and retryable when another one is in progress.
fn busy(
    candidate: &Candidate,
    group: &DeploymentGroup,
    active: &[codedeploy::ActiveDeployment],
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
            candidate,
            Outcome::Skipped,
            format!("deployment {} already rolls out {arn}", carrying.id),
        );
        entry.deployment_id = Some(carrying.id.clone());
        return Some(entry);
    }
    let in_progress = active.first()?;
    let mut entry = report(
        candidate,
        Outcome::Failed,
        format!(
            "deployment in progress: {} ({}) in {}/{}; will retry",
            in_progress.id, in_progress.status, group.application, group.group
        ),
    );
    entry.deployment_id = Some(in_progress.id.clone());
    entry.error_kind = Some(ErrorKind::Retryable);
    Some(entry)
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
    family: &str,
    seen: i32,
    ours: (String, TaskDefinition),
    desired: &TaskDefinition,
) -> (String, TaskDefinition) {
    let revision = ours.1.revision();
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
                tracing::warn!(family, revision = earlier, error = %error, "could not compare a concurrent revision; keeping ours");
                return ours;
            }
        };
        let Some(definition) = definition else {
            continue;
        };
        let active = definition.status() == Some(&aws_sdk_ecs::types::TaskDefinitionStatus::Active);
        if !active || registrable(&definition) != *desired {
            continue;
        }
        let Some(arn) = definition.task_definition_arn().map(str::to_owned) else {
            continue;
        };
        // Ours stays registered, unused: deregistering it would need
        // ecs:DeregisterTaskDefinition for little gain (revisions are free).
        tracing::info!(family, task_definition = %arn, duplicate = %ours.0, "another invocation registered the same revision first; using it");
        return (arn, definition);
    }
    ours
}

/// The family's newest ACTIVE revision. When it is the one the service runs,
/// no second describe is needed.
///
/// IAM: `ecs:ListTaskDefinitions`, `ecs:DescribeTaskDefinition`.
async fn latest_revision(
    clients: &Clients,
    family: &str,
    current: &TaskDefinition,
) -> Result<Option<(String, TaskDefinition)>, AwsError> {
    let listed = clients
        .ecs
        .list_task_definitions()
        .family_prefix(family)
        .sort(SortOrder::Desc)
        .max_results(1)
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                "list revisions of",
                format!("task definition family {family}"),
                &e,
            )
        })?;
    let Some(latest) = listed.task_definition_arns().first() else {
        return Ok(None);
    };
    if Some(latest.as_str()) == current.task_definition_arn() {
        return Ok(Some((latest.clone(), current.clone())));
    }
    let described = clients
        .ecs
        .describe_task_definition()
        .task_definition(latest)
        .send()
        .await
        .map_err(|e| AwsError::new("describe", format!("task definition {latest}"), &e))?;
    Ok(described
        .task_definition()
        .cloned()
        .map(|d| (latest.clone(), d)))
}

type Described = HashMap<String, Result<std::sync::Arc<(TaskDefinition, Vec<Tag>)>, AwsError>>;

/// Each distinct task definition of `services`, described once, with its tags.
///
/// IAM: `ecs:DescribeTaskDefinition`.
async fn describe_task_definitions(
    clients: &Clients,
    services: &[Service],
    limits: &DiscoveryLimits,
) -> Described {
    let arns: BTreeSet<String> = services
        .iter()
        .filter_map(|s| s.task_definition().map(str::to_owned))
        .collect();
    stream::iter(arns)
        .map(|arn| async move {
            limits.rate.acquire().await;
            let described = clients
                .ecs
                .describe_task_definition()
                .task_definition(&arn)
                .include(TaskDefinitionField::Tags)
                .send()
                .await
                .map_err(|e| AwsError::new("describe", format!("task definition {arn}"), &e))
                .and_then(|answer| {
                    let definition = answer.task_definition().cloned().ok_or_else(|| {
                        AwsError::missing_field(
                            "describe",
                            format!("task definition {arn}"),
                            "taskDefinition",
                        )
                    })?;
                    Ok(std::sync::Arc::new((definition, answer.tags().to_vec())))
                });
            (arn, described)
        })
        .buffer_unordered(limits.concurrency)
        .collect()
        .await
}

/// When each digest was pushed and its semantic-version tags. The pushed
/// digest must exist (`NotFound` otherwise); running digests that ECR no
/// longer has are simply unknown.
///
/// IAM: `ecr:DescribeImages`.
async fn image_facts(
    clients: &Clients,
    pushed: &PushedImage,
    running: &BTreeSet<Digest>,
) -> Result<HashMap<Digest, RunningImageFacts>, AwsError> {
    let mut facts = HashMap::new();
    let repository = &pushed.repository;
    let describe = |digests: Vec<&Digest>| {
        let ids = digests
            .into_iter()
            .map(|d| {
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_digest(d.as_str())
                    .build()
            })
            .collect();
        clients
            .ecr
            .describe_images()
            .registry_id(&pushed.registry.account_id)
            .repository_name(repository)
            .set_image_ids(Some(ids))
            .send()
    };
    let answer = describe(vec![&pushed.digest]).await.map_err(|e| {
        AwsError::new(
            "describe image",
            format!("{repository}@{}", pushed.digest),
            &e,
        )
    })?;
    collect_facts(answer.image_details(), &mut facts);
    // DescribeImages takes at most 100 image IDs a call.
    let running: Vec<&Digest> = running.iter().collect();
    for chunk in running.chunks(100) {
        match describe(chunk.to_vec()).await {
            Ok(answer) => collect_facts(answer.image_details(), &mut facts),
            Err(error) => {
                let error =
                    AwsError::new("describe running images of", repository.to_string(), &error);
                if error.kind() != ErrorKind::NotFound {
                    return Err(error);
                }
                tracing::warn!(repository = %repository, "a running image is no longer in ECR; its push time is unknown");
            }
        }
    }
    Ok(facts)
}

fn collect_facts(
    details: &[aws_sdk_ecr::types::ImageDetail],
    facts: &mut HashMap<Digest, RunningImageFacts>,
) {
    for detail in details {
        let Some(digest) = detail.image_digest().and_then(|d| Digest::parse(d).ok()) else {
            continue;
        };
        facts.insert(
            digest,
            RunningImageFacts {
                pushed_at: detail.image_pushed_at().copied(),
                versions: detail
                    .image_tags()
                    .iter()
                    .filter_map(|t| parse_version(t))
                    .collect(),
            },
        );
    }
}

/// The image a push event names, checked: `<account>.dkr.ecr.<region>...`.
pub fn pushed_image(
    account: &str,
    region: &str,
    repository: &str,
    tag: Option<&str>,
    digest: &str,
) -> Result<PushedImage, crate::image::ImageRefError> {
    let registry = crate::image::EcrRegistry {
        account_id: account.to_owned(),
        region: region.to_owned(),
    };
    let digest = Digest::parse(digest)?;
    let image = ImageRef::ecr(&registry, repository)?;
    // `a:b` or `a@sha256:...` parse as a repository with a tag or a digest,
    // and `a ` as `a`: the repository must be exactly a repository.
    if image.repository() != repository || image.tag().is_some() || image.digest().is_some() {
        return Err(crate::image::ImageRefError::Repository {
            reference: image.to_string(),
            repository: repository.to_owned(),
        });
    }
    if let Some(tag) = tag {
        // Likewise the tag, exactly a tag; whatever makes the tagged
        // reference fail (`a/b`, `v1@sha256:...`) is the tag's fault.
        let reference = format!("{image}:{tag}");
        let tag_error = || crate::image::ImageRefError::Tag {
            reference: reference.clone(),
            tag: tag.to_owned(),
        };
        let tagged = ImageRef::parse(&reference).map_err(|_| tag_error())?;
        if tagged.tag() != Some(tag) || tagged.digest().is_some() {
            return Err(tag_error());
        }
    }
    Ok(PushedImage {
        registry,
        repository: image.repository().to_owned(),
        tag: tag.map(str::to_owned),
        digest,
        pushed_at: None,
    })
}
