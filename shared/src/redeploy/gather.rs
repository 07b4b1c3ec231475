//! Gather: the AWS reads a redeploy decides on, each into a typed value
//! whose missing fields are errors naming the field.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use aws_sdk_ecs::types::{
    DeploymentControllerType, Service, SortOrder, Tag, TaskDefinition, TaskDefinitionField,
};
use futures::{StreamExt, stream};

use super::plan::{Controller, PushedImage, RunningImageFacts};
use super::policy::{CONTAINERS_TAG, REDEPLOY_TAG, parse_version};
use super::taskdef::{ImageUpdate, plan_images};
use super::{Clients, Settings};
use crate::aws::AwsError;
use crate::discovery::{DiscoveryLimits, WantedTag, cluster_name, find_services, service_tags};
use crate::error::{Classify, ErrorKind};
use crate::image::Digest;

/// A task-definition revision as described, with the fields a redeploy
/// relies on checked present.
#[derive(Debug, Clone)]
pub(super) struct Revision {
    /// Its ARN.
    pub arn: String,
    /// Its family.
    pub family: String,
    /// The definition, every field.
    pub definition: TaskDefinition,
    /// Its tags (copied onto a new revision).
    pub tags: Vec<Tag>,
}

impl Revision {
    /// Checks `definition` (the answer to `action` on `resource`) for the
    /// fields a redeploy needs.
    pub fn of(
        action: &str,
        resource: &str,
        definition: TaskDefinition,
        tags: Vec<Tag>,
    ) -> Result<Revision, AwsError> {
        let missing = |field| AwsError::missing_field(action, resource, field);
        let arn = definition
            .task_definition_arn()
            .ok_or_else(|| missing("taskDefinition.taskDefinitionArn"))?
            .to_owned();
        let family = definition
            .family()
            .ok_or_else(|| missing("taskDefinition.family"))?
            .to_owned();
        Ok(Revision {
            arn,
            family,
            definition,
            tags,
        })
    }

    /// The revision number (0 when ECS leaves it out).
    pub fn number(&self) -> i32 {
        self.definition.revision()
    }
}

/// A service that runs the pushed repository and opted in to redeploys.
#[derive(Debug, Clone)]
pub(super) struct Tracked {
    /// Its ARN.
    pub arn: String,
    /// Cluster name.
    pub cluster: String,
    /// Service name.
    pub name: String,
    /// Its deployment controller.
    pub controller: Controller,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// The container and port of its first load balancer, for an AppSpec.
    pub load_balancer: Option<(String, i32)>,
    /// The revision it runs.
    pub current: Arc<Revision>,
    /// The containers running the pushed repository, with their new images.
    pub updates: Vec<ImageUpdate>,
    /// `autopilot:containers`: the only containers to update, when set.
    pub only: Option<Vec<String>>,
}

/// The services that track the push, and what kept others out.
pub(super) struct Gathered {
    /// The tracking services.
    pub tracked: Vec<Tracked>,
    /// Clusters, batches or task definitions that could not be read.
    pub errors: Vec<String>,
    /// Their kinds, for the invocation's outcome.
    pub error_kinds: Vec<ErrorKind>,
}

/// The services opted in with `autopilot:redeploy` that run the pushed
/// repository, each task definition described once.
///
/// IAM: `tag:GetResources` (or, by listing, `ecs:ListClusters` and
/// `ecs:ListServices`), `ecs:DescribeServices`, `ecs:DescribeTaskDefinition`.
pub(super) async fn tracking_services(
    clients: &Clients,
    settings: &Settings,
    pushed: &PushedImage,
    limits: &DiscoveryLimits,
) -> Result<Gathered, AwsError> {
    let discovered = find_services(
        clients.finder(settings.discovery),
        &settings.scope,
        &[WantedTag::key(REDEPLOY_TAG)],
        limits,
        |s| s.tags().iter().any(|t| t.key() == Some(REDEPLOY_TAG)),
    )
    .await?;
    let mut gathered = Gathered {
        tracked: Vec::new(),
        errors: Vec::new(),
        error_kinds: Vec::new(),
    };
    for error in &discovered.errors {
        gathered.errors.push(error.to_string());
        gathered.error_kinds.push(error.kind());
    }
    let definitions = describe_task_definitions(clients, &discovered.services, limits).await;
    for service in &discovered.services {
        match tracked(service, &definitions, pushed) {
            Ok(Some(tracked)) => gathered.tracked.push(tracked),
            Ok(None) => {}
            Err((reason, kind)) => {
                gathered.errors.push(reason);
                gathered.error_kinds.push(kind);
            }
        }
    }
    Ok(gathered)
}

/// `service` as a tracking service, or `None` when it runs no container of
/// the pushed repository; `Err` says why it cannot be told, and how the
/// caller should react.
fn tracked(
    service: &Service,
    definitions: &Described,
    pushed: &PushedImage,
) -> Result<Option<Tracked>, (String, ErrorKind)> {
    let missing = |field| {
        let resource = service.service_arn().unwrap_or("a service").to_owned();
        let error = AwsError::missing_field("describe", resource, field);
        (error.to_string(), error.kind())
    };
    let cluster = cluster_name(service.cluster_arn().ok_or_else(|| missing("clusterArn"))?);
    let name = service
        .service_name()
        .ok_or_else(|| missing("serviceName"))?;
    let service_arn = service.service_arn().ok_or_else(|| missing("serviceArn"))?;
    let controller = match service.deployment_controller().map(|c| c.r#type()) {
        Some(DeploymentControllerType::CodeDeploy) => Controller::CodeDeploy,
        Some(DeploymentControllerType::External) => Controller::External,
        _ => Controller::Ecs,
    };
    let arn = match service.task_definition() {
        Some(arn) => arn,
        // An EXTERNAL service's task definitions live on its task sets.
        None if controller == Controller::External => return Ok(None),
        None => return Err(missing("taskDefinition")),
    };
    let current = match definitions.get(arn) {
        Some(Ok(revision)) => Arc::clone(revision),
        Some(Err(error)) => {
            // Without its task definition we cannot tell whether it runs the repository.
            return Err((format!("{cluster}/{name}: {error}"), error.kind()));
        }
        None => return Err(missing("taskDefinition")),
    };
    let tags = service_tags(service);
    // Separated by spaces (an ECS tag value cannot hold a comma) or commas.
    let only: Option<Vec<String>> = tags.get(CONTAINERS_TAG).map(|v| {
        v.split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    });
    let updates = plan_images(
        &current.definition,
        &pushed.registry,
        &pushed.repository,
        &pushed.digest,
        only.as_deref(),
    );
    if updates.is_empty() {
        tracing::debug!(
            cluster,
            service = name,
            "does not run the pushed repository"
        );
        return Ok(None);
    }
    let load_balancer = service
        .load_balancers()
        .iter()
        .find_map(|lb| Some((lb.container_name()?.to_owned(), lb.container_port()?)));
    Ok(Some(Tracked {
        arn: service_arn.to_owned(),
        cluster: cluster.to_owned(),
        name: name.to_owned(),
        controller,
        tags,
        load_balancer,
        current,
        updates,
        only,
    }))
}

type Described = HashMap<String, Result<Arc<Revision>, AwsError>>;

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
            let resource = format!("task definition {arn}");
            let described = clients
                .ecs
                .describe_task_definition()
                .task_definition(&arn)
                .include(TaskDefinitionField::Tags)
                .send()
                .await
                .map_err(|e| AwsError::new("describe", &resource, &e))
                .and_then(|answer| {
                    let definition = answer.task_definition().cloned().ok_or_else(|| {
                        AwsError::missing_field("describe", &resource, "taskDefinition")
                    })?;
                    Revision::of("describe", &resource, definition, answer.tags().to_vec())
                        .map(Arc::new)
                });
            (arn, described)
        })
        .buffer_unordered(limits.concurrency)
        .collect()
        .await
}

/// Each family's newest ACTIVE revision (`None` for a family with none
/// active). It may already carry a newer image on its way out (a CodeDeploy
/// deployment in flight), which an older push must not overtake.
///
/// IAM: `ecs:ListTaskDefinitions`, `ecs:DescribeTaskDefinition`.
pub(super) async fn newest_revisions(
    clients: &Clients,
    tracked: &[Tracked],
    limits: &DiscoveryLimits,
) -> HashMap<String, Result<Option<Revision>, AwsError>> {
    let families: BTreeMap<&str, &Revision> = tracked
        .iter()
        .map(|t| (t.current.family.as_str(), t.current.as_ref()))
        .collect();
    stream::iter(families)
        .map(|(family, current)| async move {
            limits.rate.acquire().await;
            let found = newest_revision(clients, family, current).await;
            (family.to_owned(), found)
        })
        .buffer_unordered(limits.concurrency)
        .collect()
        .await
}

/// The family's newest ACTIVE revision. When it is the one the service runs,
/// no second describe is needed.
async fn newest_revision(
    clients: &Clients,
    family: &str,
    current: &Revision,
) -> Result<Option<Revision>, AwsError> {
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
    let Some(newest) = listed.task_definition_arns().first() else {
        return Ok(None);
    };
    if *newest == current.arn {
        return Ok(Some(current.clone()));
    }
    let resource = format!("task definition {newest}");
    let described = clients
        .ecs
        .describe_task_definition()
        .task_definition(newest)
        .send()
        .await
        .map_err(|e| AwsError::new("describe", &resource, &e))?;
    let definition = described
        .task_definition()
        .cloned()
        .ok_or_else(|| AwsError::missing_field("describe", &resource, "taskDefinition"))?;
    Revision::of("describe", &resource, definition, Vec::new()).map(Some)
}

/// When each digest was pushed and its semantic-version tags. The pushed
/// digest must exist (`NotFound` otherwise); running digests that ECR no
/// longer has are simply unknown.
///
/// IAM: `ecr:DescribeImages`.
pub(super) async fn image_facts(
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

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{ContainerDefinition, DeploymentController, Tag};

    use super::*;
    use crate::image::EcrRegistry;

    const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3";

    fn pushed() -> PushedImage {
        PushedImage {
            registry: EcrRegistry {
                account_id: "123456789012".into(),
                region: "us-east-1".into(),
            },
            repository: "web".into(),
            tag: Some("latest".into()),
            digest: Digest::parse(&format!("sha256:{}", "a".repeat(64))).unwrap(),
            pushed_at: None,
        }
    }

    fn definition(arn: Option<&str>, family: Option<&str>) -> TaskDefinition {
        TaskDefinition::builder()
            .set_task_definition_arn(arn.map(str::to_owned))
            .set_family(family.map(str::to_owned))
            .revision(3)
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:latest")
                    .build(),
            )
            .build()
    }

    /// A missing SDK field is an error naming it, never a default that
    /// could reach a write (an empty ARN in `UpdateService`).
    #[test]
    fn a_revision_without_its_arn_or_family_is_an_error_naming_the_field() {
        let cases = [
            (Some(ARN), Some("web"), None),
            (None, Some("web"), Some("taskDefinition.taskDefinitionArn")),
            (Some(ARN), None, Some("taskDefinition.family")),
        ];
        for (arn, family, missing) in cases {
            let revision = Revision::of(
                "describe",
                "task definition web:3",
                definition(arn, family),
                Vec::new(),
            );
            match (revision, missing) {
                (Ok(revision), None) => {
                    assert_eq!(
                        (revision.arn.as_str(), revision.family.as_str()),
                        (ARN, "web")
                    );
                    assert_eq!(revision.number(), 3);
                }
                (Err(error), Some(field)) => {
                    let message = error.to_string();
                    assert!(message.contains(field), "{message}");
                    assert!(message.contains("task definition web:3"), "{message}");
                    assert_eq!(error.kind(), ErrorKind::Unexpected);
                }
                (got, want) => panic!("{arn:?} {family:?}: got {got:?}, want missing {want:?}"),
            }
        }
    }

    fn service(
        edit: impl FnOnce(
            aws_sdk_ecs::types::builders::ServiceBuilder,
        ) -> aws_sdk_ecs::types::builders::ServiceBuilder,
    ) -> Service {
        let builder = Service::builder()
            .service_arn("arn:aws:ecs:us-east-1:123456789012:service/prod/web")
            .service_name("web")
            .cluster_arn("arn:aws:ecs:us-east-1:123456789012:cluster/prod")
            .task_definition(ARN)
            .tags(Tag::builder().key(REDEPLOY_TAG).value("latest").build());
        edit(builder).build()
    }

    #[test]
    fn a_service_missing_a_field_is_left_out_with_the_field_named() {
        let described: Described = [(
            ARN.to_owned(),
            Ok(Arc::new(
                Revision::of(
                    "describe",
                    ARN,
                    definition(Some(ARN), Some("web")),
                    Vec::new(),
                )
                .unwrap(),
            )),
        )]
        .into_iter()
        .collect();
        let external = || {
            DeploymentController::builder()
                .r#type(DeploymentControllerType::External)
                .build()
                .unwrap()
        };
        type Edit = Box<
            dyn FnOnce(
                aws_sdk_ecs::types::builders::ServiceBuilder,
            ) -> aws_sdk_ecs::types::builders::ServiceBuilder,
        >;
        // (edit, Ok(tracked?) or Err(the field named))
        let cases: Vec<(Edit, Result<bool, &str>)> = vec![
            (Box::new(|b| b), Ok(true)),
            (Box::new(|b| b.set_cluster_arn(None)), Err("clusterArn")),
            (Box::new(|b| b.set_service_name(None)), Err("serviceName")),
            (
                Box::new(|b| b.set_task_definition(None)),
                Err("taskDefinition"),
            ),
            // An EXTERNAL service's task definitions are on its task sets.
            (
                Box::new(move |b| {
                    b.set_task_definition(None)
                        .deployment_controller(external())
                }),
                Ok(false),
            ),
        ];
        for (index, (edit, expected)) in cases.into_iter().enumerate() {
            match (tracked(&service(edit), &described, &pushed()), expected) {
                (Ok(found), Ok(tracked)) => {
                    assert_eq!(found.is_some(), tracked, "case {index}");
                    if let Some(found) = found {
                        assert_eq!(
                            (found.cluster.as_str(), found.name.as_str()),
                            ("prod", "web")
                        );
                        assert_eq!(found.updates.len(), 1, "case {index}");
                    }
                }
                (Err((reason, kind)), Err(field)) => {
                    assert!(reason.contains(field), "case {index}: {reason}");
                    assert!(
                        reason.contains("service/prod/web"),
                        "case {index}: {reason}"
                    );
                    assert_eq!(kind, ErrorKind::Unexpected, "case {index}");
                }
                (got, want) => panic!(
                    "case {index}: got {:?}, want {want:?}",
                    got.map(|t| t.is_some())
                ),
            }
        }
    }
}
