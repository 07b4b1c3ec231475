//! Task definitions: an exact copy for a new revision, with new images.
//!
//! `RegisterTaskDefinition` takes 18 fields; `DescribeTaskDefinition`
//! returns 17 of them on the task definition and the tags beside it. A new
//! revision copies every one, so secrets, log configuration, health checks,
//! sidecars, `dependsOn`, volumes, placement constraints, runtime platform,
//! ephemeral storage, proxy configuration and tags survive a redeploy.

use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder;
use aws_sdk_ecs::types::{Tag, TaskDefinition};

use crate::image::{Digest, EcrRegistry, ImageRef};

/// One container whose image changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUpdate {
    /// The container's name.
    pub container: String,
    /// The image it runs now.
    pub from: ImageRef,
    /// The image it will run.
    pub to: ImageRef,
}

/// The containers running an image of `repository` in `registry`, optionally
/// narrowed to the named containers, with their images pinned to `digest`.
/// Containers of other repositories or registries are left out.
pub fn plan_images(
    definition: &TaskDefinition,
    registry: &EcrRegistry,
    repository: &str,
    digest: &Digest,
    only: Option<&[String]>,
) -> Vec<ImageUpdate> {
    definition
        .container_definitions()
        .iter()
        .filter_map(|container| {
            let name = container.name()?;
            if only.is_some_and(|names| !names.iter().any(|n| n == name)) {
                return None;
            }
            let from = ImageRef::parse(container.image()?).ok()?;
            from.is_in(registry, repository).then(|| ImageUpdate {
                container: name.to_owned(),
                to: from.pinned(digest),
                from,
            })
        })
        .collect()
}

/// Only the fields `RegisterTaskDefinition` accepts, so two definitions can
/// be compared for "would register the same thing".
#[allow(deprecated)]
pub fn registrable(definition: &TaskDefinition) -> TaskDefinition {
    let d = definition.clone();
    TaskDefinition::builder()
        .set_family(d.family)
        .set_task_role_arn(d.task_role_arn)
        .set_execution_role_arn(d.execution_role_arn)
        .set_network_mode(d.network_mode)
        .set_container_definitions(d.container_definitions)
        .set_volumes(d.volumes)
        .set_placement_constraints(d.placement_constraints)
        .set_requires_compatibilities(d.requires_compatibilities)
        .set_cpu(d.cpu)
        .set_memory(d.memory)
        .set_pid_mode(d.pid_mode)
        .set_ipc_mode(d.ipc_mode)
        .set_proxy_configuration(d.proxy_configuration)
        .set_inference_accelerators(d.inference_accelerators)
        .set_ephemeral_storage(d.ephemeral_storage)
        .set_runtime_platform(d.runtime_platform)
        .set_enable_fault_injection(d.enable_fault_injection)
        .build()
}

/// The definition with the updated images, everything else untouched.
pub fn with_images(definition: &TaskDefinition, updates: &[ImageUpdate]) -> TaskDefinition {
    let mut desired = registrable(definition);
    if let Some(containers) = desired.container_definitions.as_mut() {
        for container in containers.iter_mut() {
            if let Some(update) = updates
                .iter()
                .find(|u| Some(u.container.as_str()) == container.name())
            {
                container.image = Some(update.to.to_string());
            }
        }
    }
    desired
}

/// Tags a new revision carries: the current revision's, less the `aws:`
/// prefixed ones, which AWS reserves and rejects on register.
pub fn revision_tags(tags: &[Tag]) -> Vec<Tag> {
    tags.iter()
        .filter(|t| !t.key().unwrap_or_default().starts_with("aws:"))
        .cloned()
        .collect()
}

/// The `RegisterTaskDefinition` request for `definition` with `tags`.
///
/// IAM: `ecs:RegisterTaskDefinition`, `ecs:TagResource` (tags on create),
/// and `iam:PassRole` for the task and execution roles.
// Elastic Inference is retired and its field deprecated; it is still copied so
// that a legacy definition fails to register loudly instead of silently
// losing a field.
#[allow(deprecated)]
pub fn register_request(
    client: &Client,
    definition: &TaskDefinition,
    tags: &[Tag],
) -> RegisterTaskDefinitionFluentBuilder {
    let d = registrable(definition);
    let tags = revision_tags(tags);
    client
        .register_task_definition()
        .set_family(d.family)
        .set_task_role_arn(d.task_role_arn)
        .set_execution_role_arn(d.execution_role_arn)
        .set_network_mode(d.network_mode)
        .set_container_definitions(d.container_definitions)
        .set_volumes(d.volumes)
        .set_placement_constraints(d.placement_constraints)
        .set_requires_compatibilities(d.requires_compatibilities)
        .set_cpu(d.cpu)
        .set_memory(d.memory)
        .set_pid_mode(d.pid_mode)
        .set_ipc_mode(d.ipc_mode)
        .set_proxy_configuration(d.proxy_configuration)
        .set_inference_accelerators(d.inference_accelerators)
        .set_ephemeral_storage(d.ephemeral_storage)
        .set_runtime_platform(d.runtime_platform)
        .set_enable_fault_injection(d.enable_fault_injection)
        .set_tags((!tags.is_empty()).then_some(tags))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::*;

    const REGISTRY: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    const DIGEST: &str = "sha256:f98d67af8e53a536502bfc600de3266556b06ed635a32d60aa7a5fe6d7e609d7";

    fn container(name: &str, image: &str) -> ContainerDefinition {
        ContainerDefinition::builder()
            .name(name)
            .image(image)
            .secrets(
                Secret::builder()
                    .name("DB")
                    .value_from("arn:aws:secretsmanager:eu-west-1:123456789012:secret:db")
                    .build()
                    .unwrap(),
            )
            .environment(
                KeyValuePair::builder()
                    .name("NODE_ENV")
                    .value("production")
                    .build(),
            )
            .build()
    }

    /// A task definition with every registrable field set (Elastic
    /// Inference included: retired and deprecated, but still copied).
    #[allow(deprecated)]
    fn full_definition() -> TaskDefinition {
        TaskDefinition::builder()
            .task_definition_arn("arn:aws:ecs:eu-west-1:123456789012:task-definition/api:7")
            .revision(7)
            .status(TaskDefinitionStatus::Active)
            .registered_by("arn:aws:iam::123456789012:user/ci")
            .compatibilities(Compatibility::Ec2)
            .requires_attributes(
                Attribute::builder()
                    .name("com.amazonaws.ecs.capability.docker-remote-api.1.18")
                    .build()
                    .unwrap(),
            )
            .family("api")
            .task_role_arn("arn:aws:iam::123456789012:role/api-task")
            .execution_role_arn("arn:aws:iam::123456789012:role/api-exec")
            .network_mode(NetworkMode::Awsvpc)
            .container_definitions(container("app", &format!("{REGISTRY}/api:latest")))
            .container_definitions(container("worker", &format!("{REGISTRY}/api:latest")))
            .container_definitions(container("redis", "public.ecr.aws/docker/library/redis:7"))
            .container_definitions(container("other", &format!("{REGISTRY}/other:latest")))
            .volumes(Volume::builder().name("data").build())
            .placement_constraints(
                TaskDefinitionPlacementConstraint::builder()
                    .r#type(TaskDefinitionPlacementConstraintType::MemberOf)
                    .expression("attribute:ecs.availability-zone in [eu-west-1a]")
                    .build(),
            )
            .requires_compatibilities(Compatibility::Fargate)
            .cpu("512")
            .memory("1024")
            .pid_mode(PidMode::Task)
            .ipc_mode(IpcMode::Task)
            .proxy_configuration(
                ProxyConfiguration::builder()
                    .container_name("envoy")
                    .r#type(ProxyConfigurationType::Appmesh)
                    .build()
                    .unwrap(),
            )
            .inference_accelerators(
                InferenceAccelerator::builder()
                    .device_name("a")
                    .device_type("eia2.medium")
                    .build()
                    .unwrap(),
            )
            .ephemeral_storage(EphemeralStorage::builder().size_in_gib(30).build())
            .runtime_platform(
                RuntimePlatform::builder()
                    .cpu_architecture(CpuArchitecture::Arm64)
                    .operating_system_family(OsFamily::Linux)
                    .build(),
            )
            .enable_fault_injection(true)
            .build()
    }

    fn registry() -> EcrRegistry {
        EcrRegistry::from_host(REGISTRY).unwrap()
    }

    #[test]
    fn plans_only_containers_of_the_pushed_repository() {
        let digest = Digest::parse(DIGEST).unwrap();
        let updates = plan_images(&full_definition(), &registry(), "api", &digest, None);
        let names: Vec<_> = updates.iter().map(|u| u.container.as_str()).collect();
        assert_eq!(names, ["app", "worker"]);
        assert_eq!(
            updates[0].to.to_string(),
            format!("{REGISTRY}/api@{DIGEST}")
        );

        let only = vec!["worker".to_owned()];
        let updates = plan_images(&full_definition(), &registry(), "api", &digest, Some(&only));
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].container, "worker");

        let other_region = EcrRegistry {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
        };
        assert!(plan_images(&full_definition(), &other_region, "api", &digest, None).is_empty());
    }

    #[test]
    #[allow(deprecated)]
    fn the_new_revision_keeps_every_registrable_field() {
        let current = full_definition();
        let digest = Digest::parse(DIGEST).unwrap();
        let updates = plan_images(&current, &registry(), "api", &digest, None);
        let desired = with_images(&current, &updates);

        // Everything but the two images is as before.
        let mut expected = registrable(&current);
        for c in expected
            .container_definitions
            .as_mut()
            .unwrap()
            .iter_mut()
            .take(2)
        {
            c.image = Some(format!("{REGISTRY}/api@{DIGEST}"));
        }
        assert_eq!(desired, expected);
        assert_ne!(desired, registrable(&current));

        // The registrable view drops only the fields AWS assigns.
        let view = registrable(&current);
        assert_eq!(view.task_definition_arn, None);
        assert_eq!(view.revision, 0);
        assert_eq!(view.status, None);
        assert_eq!(view.compatibilities, None);
        assert_eq!(view.requires_attributes, None);
        assert_eq!(view.registered_by, None);

        // And the request carries each of them.
        let client = Client::from_conf(
            aws_sdk_ecs::Config::builder()
                .behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest())
                .build(),
        );
        let tags = [
            Tag::builder().key("team").value("payments").build(),
            Tag::builder()
                .key("aws:cloudformation:stack-name")
                .value("x")
                .build(),
        ];
        let request = register_request(&client, &desired, &tags);
        let input = request.as_input();
        assert_eq!(input.get_family().as_deref(), Some("api"));
        assert_eq!(input.get_task_role_arn(), &current.task_role_arn);
        assert_eq!(input.get_execution_role_arn(), &current.execution_role_arn);
        assert_eq!(input.get_network_mode(), &current.network_mode);
        assert_eq!(
            input.get_container_definitions(),
            &desired.container_definitions
        );
        assert_eq!(input.get_volumes(), &current.volumes);
        assert_eq!(
            input.get_placement_constraints(),
            &current.placement_constraints
        );
        assert_eq!(
            input.get_requires_compatibilities(),
            &current.requires_compatibilities
        );
        assert_eq!(input.get_cpu(), &current.cpu);
        assert_eq!(input.get_memory(), &current.memory);
        assert_eq!(input.get_pid_mode(), &current.pid_mode);
        assert_eq!(input.get_ipc_mode(), &current.ipc_mode);
        assert_eq!(
            input.get_proxy_configuration(),
            &current.proxy_configuration
        );
        assert_eq!(
            input.get_inference_accelerators(),
            &current.inference_accelerators
        );
        assert_eq!(input.get_ephemeral_storage(), &current.ephemeral_storage);
        assert_eq!(input.get_runtime_platform(), &current.runtime_platform);
        assert_eq!(
            input.get_enable_fault_injection(),
            &current.enable_fault_injection
        );
        assert_eq!(
            input.get_tags().as_deref(),
            Some(&tags[..1]),
            "aws: tags are reserved"
        );
    }
}
