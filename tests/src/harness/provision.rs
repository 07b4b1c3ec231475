//! A realistic ECS environment on the local AWS: the backend of a typical
//! Node.js app, as the demo and the end-to-end tests use it.
//!
//! One ECR repository; one cluster; an ALB with production (80) and test
//! (8080) listeners and two target groups (blue and green); a task definition
//! with secrets from Secrets Manager and SSM, `awslogs` logging, a health
//! check and a Redis sidecar the app `dependsOn`; a Fargate service; and, for
//! blue/green, a CodeDeploy application and deployment group.

use aws_config::SdkConfig;
use aws_sdk_ecs::types as ecs;
use aws_sdk_elasticloadbalancingv2::types as elb;

use crate::harness::localaws::ACCOUNT_ID;

/// Names of the resources to create; [`Names::unique`] gives fresh ones.
#[derive(Debug, Clone)]
pub struct Names {
    /// ECS cluster.
    pub cluster: String,
    /// ECS service.
    pub service: String,
    /// ECR repository of the app image.
    pub repository: String,
    /// Task-definition family.
    pub family: String,
    /// Prefix for the ALB, target groups, secrets and CodeDeploy names.
    pub prefix: String,
}

impl Names {
    /// The demo's names.
    pub fn demo() -> Names {
        Names {
            cluster: "vahanhelp-production".into(),
            service: "vahanhelp-backend-service".into(),
            repository: "vahanhelp-backend".into(),
            family: "vahanhelp-backend".into(),
            prefix: "vahanhelp".into(),
        }
    }

    /// Fresh names for one test.
    pub fn unique(label: &str) -> Names {
        let id = crate::harness::localaws::unique(label);
        Names {
            cluster: format!("{id}-cluster"),
            service: format!("{id}-backend"),
            repository: format!("{id}/backend"),
            family: format!("{id}-backend"),
            prefix: id,
        }
    }
}

/// How the service is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    /// ECS rolling update.
    Ecs,
    /// CodeDeploy blue/green, with an application and deployment group.
    CodeDeploy,
    /// ECS native blue/green: a rule on each listener, and the service's
    /// load balancer with the alternate (green) target group and the rules
    /// in its `advancedConfiguration`.
    EcsBlueGreen,
}

/// What [`provision`] created.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The names used.
    pub names: Names,
    /// The Region.
    pub region: String,
    /// `<account>.dkr.ecr.<region>.amazonaws.com`.
    pub registry: String,
    /// The first image, tagged `v1.4.0` and `latest`.
    pub initial_digest: String,
    /// The service's task definition.
    pub task_definition_arn: String,
    /// The service ARN.
    pub service_arn: String,
    /// The ALB's DNS name.
    pub load_balancer_dns: String,
    /// Blue target group (production traffic now).
    pub blue_target_group_arn: String,
    /// Green target group (the replacement task set's).
    pub green_target_group_arn: String,
    /// Production listener (port 80).
    pub production_listener_arn: String,
    /// Test listener (port 8080).
    pub test_listener_arn: String,
    /// The production listener's rule ECS native blue/green shifts, for
    /// [`Controller::EcsBlueGreen`].
    pub production_rule_arn: Option<String>,
    /// The test listener's rule, likewise.
    pub test_rule_arn: Option<String>,
    /// The Secrets Manager secret the app reads.
    pub secret_arn: String,
    /// The SSM parameter the app reads.
    pub parameter_arn: String,
    /// CodeDeploy application and deployment group, for [`Controller::CodeDeploy`].
    pub codedeploy: Option<(String, String)>,
}

impl Environment {
    /// Starts a CodeDeploy deployment of `appspec` in this environment's
    /// deployment group, the way redeploy-on-push does, and returns its ID.
    pub async fn create_deployment(
        &self,
        sdk: &SdkConfig,
        appspec: &autopilot_shared::redeploy::appspec::AppSpec,
    ) -> String {
        let (application, group) = self.codedeploy.clone().expect("a CodeDeploy environment");
        let group = autopilot_shared::redeploy::codedeploy::DeploymentGroup {
            application,
            group,
            services: vec![(self.names.cluster.clone(), self.names.service.clone())],
        };
        autopilot_shared::redeploy::codedeploy::create_deployment(
            &aws_sdk_codedeploy::Client::new(sdk),
            &group,
            &appspec.to_json(),
            "ecs-autopilot test harness",
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "create deployment in {}/{}: {e}",
                group.application, group.group
            )
        })
    }

    /// A release: pushes a new image tagged `tag` and registers a revision of
    /// the backend's task definition pinned to its digest. Returns `(digest,
    /// task-definition ARN)`.
    pub async fn new_release(&self, sdk: &SdkConfig, tag: &str) -> (String, String) {
        let digest = push_image(
            &aws_sdk_ecr::Client::new(sdk),
            &self.names.repository,
            tag,
            &format!("{}-{tag}", self.names.prefix),
        )
        .await;
        let task_definition_arn = register_backend_task_definition(
            &aws_sdk_ecs::Client::new(sdk),
            &self.names,
            &self.region,
            &format!("{}@{digest}", self.image_repository()),
            &self.secret_arn,
            &self.parameter_arn,
        )
        .await;
        (digest, task_definition_arn)
    }

    /// Every secret-looking value of the environment's task definitions:
    /// [`SECRET_LOOKING_VALUES`], the secret and parameter ARNs, the
    /// registry credentials' ARN, and the secret values themselves.
    pub fn secret_looking_values(&self) -> Vec<String> {
        let mut values: Vec<String> = SECRET_LOOKING_VALUES
            .iter()
            .map(|v| (*v).to_owned())
            .collect();
        values.extend([
            "dd-label-key-44ab".to_owned(),
            self.secret_arn.clone(),
            self.parameter_arn.clone(),
            registry_credentials_arn(&self.names, &self.region),
            "s3cr3t".to_owned(),
        ]);
        values
    }

    /// `registry/repository`.
    pub fn image_repository(&self) -> String {
        format!("{}/{}", self.registry, self.names.repository)
    }
}

/// An OCI image manifest that ECR accepts; `seed` makes the digest unique.
pub fn image_manifest(seed: &str) -> String {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": 1470,
            "digest": format!("sha256:{:0>64}", hex_of(seed)),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "size": 3_623_807,
            "digest": format!("sha256:{:0>64}", hex_of(&format!("layer-{seed}"))),
        }],
    })
    .to_string()
}

fn hex_of(seed: &str) -> String {
    // A stable stand-in for a content hash; moto computes the real digest.
    let mut hex: String = seed.bytes().map(|b| format!("{b:02x}")).collect();
    hex.truncate(64);
    hex
}

/// Pushes an image to the local ECR under `tag` and returns its digest.
pub async fn push_image(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    tag: &str,
    seed: &str,
) -> String {
    let answer = ecr
        .put_image()
        .repository_name(repository)
        .image_manifest(image_manifest(seed))
        .image_manifest_media_type("application/vnd.oci.image.manifest.v1+json")
        .image_tag(tag)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put image {repository}:{tag}: {e:?}"));
    answer
        .image()
        .and_then(|i| i.image_id())
        .and_then(|id| id.image_digest())
        .expect("ECR answers with the digest")
        .to_owned()
}

/// Secret-looking values the backend's task definition carries in plain
/// text (a token in a URL, a password, a bearer token, an API key on the
/// command line, a key in a Docker label). Together with the secret ARNs
/// ([`Environment::secret_looking_values`]) they must never appear in a
/// function's logs or answers.
pub const SECRET_LOOKING_VALUES: [&str; 5] = [
    "https://hooks.example.com/services/T0KEN-IN-URL-7f3a9c",
    "pl41nt3xt-passw0rd-2b8e",
    "Bearer eyJhbGciOiJIUzI1NiJ9.bGVha2VkLXRva2Vu.c2lnbmF0dXJl",
    "cmd-line-key-9d41",
    r#"[{"api_key": "dd-label-key-44ab"}]"#,
];

/// The Secrets Manager secret holding the sidecar's private-registry credentials.
pub fn registry_credentials_arn(names: &Names, region: &str) -> String {
    format!(
        "arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{}-registry-creds-Ab12Cd",
        names.prefix
    )
}

/// Registers the backend's task definition and returns its ARN.
pub async fn register_backend_task_definition(
    client: &aws_sdk_ecs::Client,
    names: &Names,
    region: &str,
    image: &str,
    secret_arn: &str,
    parameter_arn: &str,
) -> String {
    let kv = |name: &str, value: &str| ecs::KeyValuePair::builder().name(name).value(value).build();
    let secret = |name: &str, from: &str| {
        ecs::Secret::builder()
            .name(name)
            .value_from(from)
            .build()
            .expect("secret")
    };
    let backend = ecs::ContainerDefinition::builder()
        .name("backend")
        .image(image)
        .essential(true)
        .cpu(384)
        .memory_reservation(768)
        .port_mappings(
            ecs::PortMapping::builder()
                .name("http")
                .container_port(3000)
                .host_port(3000)
                .protocol(ecs::TransportProtocol::Tcp)
                .app_protocol(ecs::ApplicationProtocol::Http)
                .build(),
        )
        .environment(kv("NODE_ENV", "production"))
        .environment(kv("PORT", "3000"))
        .environment(kv("REDIS_URL", "redis://localhost:6379"))
        // What careless task definitions carry in plain text: none of it
        // may ever reach a log line or an answer (see SECRET_LOOKING_VALUES).
        .environment(kv("WEBHOOK_URL", SECRET_LOOKING_VALUES[0]))
        .environment(kv("LEGACY_DB_PASSWORD", SECRET_LOOKING_VALUES[1]))
        .environment(kv("AUTH_HEADER", SECRET_LOOKING_VALUES[2]))
        .command("node")
        .command("server.js")
        .command(format!("--api-key={}", SECRET_LOOKING_VALUES[3]))
        .docker_labels("com.datadoghq.ad.instances", SECRET_LOOKING_VALUES[4])
        .secrets(secret("DATABASE_URL", secret_arn))
        .secrets(secret("STRIPE_API_KEY", parameter_arn))
        .log_configuration(
            ecs::LogConfiguration::builder()
                .log_driver(ecs::LogDriver::Awslogs)
                .options("awslogs-group", format!("/ecs/{}", names.family))
                .options("awslogs-region", region)
                .options("awslogs-stream-prefix", "backend")
                .build()
                .expect("log configuration"),
        )
        .health_check(
            ecs::HealthCheck::builder()
                .command("CMD-SHELL")
                .command("curl -fsS http://localhost:3000/health || exit 1")
                .interval(15)
                .timeout(5)
                .retries(3)
                .start_period(20)
                .build()
                .expect("health check"),
        )
        .depends_on(
            ecs::ContainerDependency::builder()
                .container_name("redis")
                .condition(ecs::ContainerCondition::Healthy)
                .build()
                .expect("dependsOn"),
        )
        .ulimits(
            ecs::Ulimit::builder()
                .name(ecs::UlimitName::Nofile)
                .soft_limit(65536)
                .hard_limit(65536)
                .build()
                .expect("ulimit"),
        )
        .mount_points(
            ecs::MountPoint::builder()
                .source_volume("tmp")
                .container_path("/tmp")
                .read_only(false)
                .build(),
        )
        .docker_labels("team", "payments")
        .stop_timeout(30)
        .build();
    let redis = ecs::ContainerDefinition::builder()
        .name("redis")
        .image("public.ecr.aws/docker/library/redis:7.4-alpine")
        .repository_credentials(
            ecs::RepositoryCredentials::builder()
                .credentials_parameter(registry_credentials_arn(names, region))
                .build()
                .expect("repository credentials"),
        )
        .essential(false)
        .cpu(128)
        .memory_reservation(256)
        .port_mappings(
            ecs::PortMapping::builder()
                .container_port(6379)
                .protocol(ecs::TransportProtocol::Tcp)
                .build(),
        )
        .health_check(
            ecs::HealthCheck::builder()
                .command("CMD")
                .command("redis-cli")
                .command("ping")
                .interval(10)
                .timeout(3)
                .retries(3)
                .build()
                .expect("health check"),
        )
        .log_configuration(
            ecs::LogConfiguration::builder()
                .log_driver(ecs::LogDriver::Awslogs)
                .options("awslogs-group", format!("/ecs/{}", names.family))
                .options("awslogs-region", region)
                .options("awslogs-stream-prefix", "redis")
                .build()
                .expect("log configuration"),
        )
        .build();
    let answer = client
        .register_task_definition()
        .family(&names.family)
        .task_role_arn(format!(
            "arn:aws:iam::{ACCOUNT_ID}:role/{}-task",
            names.prefix
        ))
        .execution_role_arn(format!(
            "arn:aws:iam::{ACCOUNT_ID}:role/{}-execution",
            names.prefix
        ))
        .network_mode(ecs::NetworkMode::Awsvpc)
        .requires_compatibilities(ecs::Compatibility::Fargate)
        .cpu("512")
        .memory("1024")
        .runtime_platform(
            ecs::RuntimePlatform::builder()
                .cpu_architecture(ecs::CpuArchitecture::Arm64)
                .operating_system_family(ecs::OsFamily::Linux)
                .build(),
        )
        .ephemeral_storage(ecs::EphemeralStorage::builder().size_in_gib(30).build())
        .volumes(ecs::Volume::builder().name("tmp").build())
        .container_definitions(backend)
        .container_definitions(redis)
        .tags(ecs::Tag::builder().key("team").value("payments").build())
        .tags(ecs::Tag::builder().key("app").value("vahanhelp").build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("register task definition {}: {e:?}", names.family));
    answer
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .expect("task definition ARN")
        .to_owned()
}

/// Registers two tasks' IP targets (`10.0.1.10`, `10.0.1.11`, port 3000)
/// with `target_group_arn`, as a new task set or revision does.
pub async fn register_targets(sdk: &SdkConfig, target_group_arn: &str) {
    let target = |ip: &str| elb::TargetDescription::builder().id(ip).port(3000).build();
    aws_sdk_elasticloadbalancingv2::Client::new(sdk)
        .register_targets()
        .target_group_arn(target_group_arn)
        .targets(target("10.0.1.10"))
        .targets(target("10.0.1.11"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("register targets in {target_group_arn}: {e:?}"));
}

/// Creates the whole environment. `redeploy_policy` is the value of the
/// service's `autopilot:redeploy` tag, if it should opt in.
pub async fn provision(
    sdk: &SdkConfig,
    names: Names,
    controller: Controller,
    redeploy_policy: Option<&str>,
) -> Environment {
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| crate::harness::localaws::REGION.into());
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let ecr = aws_sdk_ecr::Client::new(sdk);
    let ecs_client = aws_sdk_ecs::Client::new(sdk);
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let ssm = aws_sdk_ssm::Client::new(sdk);
    let codedeploy = aws_sdk_codedeploy::Client::new(sdk);

    // The default VPC's subnets and security group (moto creates them).
    let vpcs = ec2
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("is-default")
                .values("true")
                .build(),
        )
        .send()
        .await
        .expect("describe default VPC");
    let vpc_id = vpcs.vpcs()[0].vpc_id().expect("VPC id").to_owned();
    let subnets = ec2
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&vpc_id)
                .build(),
        )
        .send()
        .await
        .expect("describe subnets");
    let subnet_ids: Vec<String> = subnets
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_owned))
        .take(2)
        .collect();
    let groups = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&vpc_id)
                .build(),
        )
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values("default")
                .build(),
        )
        .send()
        .await
        .expect("describe security groups");
    let security_group = groups.security_groups()[0]
        .group_id()
        .expect("group id")
        .to_owned();

    // ECR: the repository and a first image.
    ecr.create_repository()
        .repository_name(&names.repository)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create repository {}: {e:?}", names.repository));
    let initial_digest = push_image(
        &ecr,
        &names.repository,
        "v1.4.0",
        &format!("{}-v1.4.0", names.prefix),
    )
    .await;
    ecr.put_image()
        .repository_name(&names.repository)
        .image_manifest(image_manifest(&format!("{}-v1.4.0", names.prefix)))
        .image_manifest_media_type("application/vnd.oci.image.manifest.v1+json")
        .image_tag("latest")
        .send()
        .await
        .expect("tag latest");
    let registry = format!("{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com");

    // The app's secrets.
    let secret_arn = secrets
        .create_secret()
        .name(format!("{}/database-url", names.prefix))
        .secret_string("postgres://app:s3cr3t-db-password@db.internal:5432/app")
        .send()
        .await
        .expect("create secret")
        .arn()
        .expect("secret ARN")
        .to_owned();
    let parameter_name = format!("/{}/stripe-api-key", names.prefix);
    ssm.put_parameter()
        .name(&parameter_name)
        .value("sk_live_s3cr3t-stripe-key")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("put parameter");
    let parameter_arn = format!("arn:aws:ssm:{region}:{ACCOUNT_ID}:parameter{parameter_name}");

    // ECS: cluster and task definition.
    ecs_client
        .create_cluster()
        .cluster_name(&names.cluster)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create cluster {}: {e:?}", names.cluster));
    let image = format!("{registry}/{}:v1.4.0", names.repository);
    let task_definition_arn = register_backend_task_definition(
        &ecs_client,
        &names,
        &region,
        &image,
        &secret_arn,
        &parameter_arn,
    )
    .await;

    // ELBv2: the ALB, blue and green target groups, production and test listeners.
    let lb_name = truncate(&format!("{}-alb", names.prefix), 32);
    let lb = elbv2
        .create_load_balancer()
        .name(&lb_name)
        .set_subnets(Some(subnet_ids.clone()))
        .security_groups(&security_group)
        .r#type(elb::LoadBalancerTypeEnum::Application)
        .scheme(elb::LoadBalancerSchemeEnum::InternetFacing)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create load balancer {lb_name}: {e:?}"));
    let lb = &lb.load_balancers()[0];
    let lb_arn = lb.load_balancer_arn().expect("LB ARN").to_owned();
    let load_balancer_dns = lb.dns_name().expect("DNS name").to_owned();
    let mut target_groups = Vec::new();
    for colour in ["blue", "green"] {
        let name = truncate(&format!("{}-{colour}", names.prefix), 32);
        let tg = elbv2
            .create_target_group()
            .name(&name)
            .protocol(elb::ProtocolEnum::Http)
            .port(3000)
            .vpc_id(&vpc_id)
            .target_type(elb::TargetTypeEnum::Ip)
            .health_check_path("/health")
            .send()
            .await
            .unwrap_or_else(|e| panic!("create target group {name}: {e:?}"));
        target_groups.push((
            name,
            tg.target_groups()[0]
                .target_group_arn()
                .expect("TG ARN")
                .to_owned(),
        ));
    }
    let mut listeners = Vec::new();
    for port in [80, 8080] {
        let listener = elbv2
            .create_listener()
            .load_balancer_arn(&lb_arn)
            .protocol(elb::ProtocolEnum::Http)
            .port(port)
            .default_actions(
                elb::Action::builder()
                    .r#type(elb::ActionTypeEnum::Forward)
                    .target_group_arn(&target_groups[0].1)
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("create listener {port}: {e:?}"));
        listeners.push(
            listener.listeners()[0]
                .listener_arn()
                .expect("listener ARN")
                .to_owned(),
        );
    }

    // ECS native blue/green shifts listener rules, not listeners.
    let mut rules = Vec::new();
    if controller == Controller::EcsBlueGreen {
        for listener in &listeners {
            let rule = elbv2
                .create_rule()
                .listener_arn(listener)
                .priority(10)
                .conditions(
                    elb::RuleCondition::builder()
                        .field("path-pattern")
                        .values("/*")
                        .build(),
                )
                .actions(
                    elb::Action::builder()
                        .r#type(elb::ActionTypeEnum::Forward)
                        .target_group_arn(&target_groups[0].1)
                        .build(),
                )
                .send()
                .await
                .unwrap_or_else(|e| panic!("create rule on {listener}: {e:?}"));
            rules.push(rule.rules()[0].rule_arn().expect("rule ARN").to_owned());
        }
    }

    // The service.
    let mut load_balancer = ecs::LoadBalancer::builder()
        .target_group_arn(&target_groups[0].1)
        .container_name("backend")
        .container_port(3000);
    if controller == Controller::EcsBlueGreen {
        load_balancer = load_balancer.advanced_configuration(
            ecs::AdvancedConfiguration::builder()
                .alternate_target_group_arn(&target_groups[1].1)
                .production_listener_rule(&rules[0])
                .test_listener_rule(&rules[1])
                .role_arn(format!(
                    "arn:aws:iam::{ACCOUNT_ID}:role/{}-ecs-infrastructure",
                    names.prefix
                ))
                .build(),
        );
    }
    let mut service = ecs_client
        .create_service()
        .cluster(&names.cluster)
        .service_name(&names.service)
        .task_definition(&task_definition_arn)
        .desired_count(2)
        .launch_type(ecs::LaunchType::Fargate)
        .deployment_controller(
            ecs::DeploymentController::builder()
                .r#type(match controller {
                    Controller::Ecs | Controller::EcsBlueGreen => {
                        ecs::DeploymentControllerType::Ecs
                    }
                    Controller::CodeDeploy => ecs::DeploymentControllerType::CodeDeploy,
                })
                .build()
                .expect("deployment controller"),
        )
        .load_balancers(load_balancer.build())
        .network_configuration(
            ecs::NetworkConfiguration::builder()
                .awsvpc_configuration(
                    ecs::AwsVpcConfiguration::builder()
                        .set_subnets(Some(subnet_ids.clone()))
                        .security_groups(&security_group)
                        .assign_public_ip(ecs::AssignPublicIp::Disabled)
                        .build()
                        .expect("awsvpc configuration"),
                )
                .build(),
        )
        .tags(ecs::Tag::builder().key("app").value("vahanhelp").build());
    if controller == Controller::EcsBlueGreen {
        service = service.deployment_configuration(
            ecs::DeploymentConfiguration::builder()
                .strategy(ecs::DeploymentStrategy::BlueGreen)
                .bake_time_in_minutes(5)
                .build(),
        );
    }
    if let Some(policy) = redeploy_policy {
        service = service.tags(
            ecs::Tag::builder()
                .key("autopilot:redeploy")
                .value(policy)
                .build(),
        );
    }
    let service_arn = service
        .send()
        .await
        .unwrap_or_else(|e| panic!("create service {}: {e:?}", names.service))
        .service()
        .and_then(|s| s.service_arn())
        .expect("service ARN")
        .to_owned();

    let codedeploy_names = match controller {
        Controller::Ecs | Controller::EcsBlueGreen => None,
        Controller::CodeDeploy => {
            let application = format!("{}-app", names.prefix);
            let group = format!("{}-dg", names.prefix);
            codedeploy
                .create_application()
                .application_name(&application)
                .compute_platform(aws_sdk_codedeploy::types::ComputePlatform::Ecs)
                .send()
                .await
                .unwrap_or_else(|e| panic!("create application {application}: {e:?}"));
            create_deployment_group(
                &codedeploy,
                &names,
                &application,
                &group,
                [&target_groups[0].0, &target_groups[1].0],
                [&listeners[0], &listeners[1]],
            )
            .await;
            Some((application, group))
        }
    };

    Environment {
        names,
        region,
        registry,
        initial_digest,
        task_definition_arn,
        service_arn,
        load_balancer_dns,
        blue_target_group_arn: target_groups[0].1.clone(),
        green_target_group_arn: target_groups[1].1.clone(),
        production_listener_arn: listeners[0].clone(),
        test_listener_arn: listeners[1].clone(),
        production_rule_arn: rules.first().cloned(),
        test_rule_arn: rules.get(1).cloned(),
        secret_arn,
        parameter_arn,
        codedeploy: codedeploy_names,
    }
}

fn truncate(name: &str, max: usize) -> String {
    name.chars()
        .take(max)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

/// Creates the ECS blue/green deployment group `group` of `application` for
/// the service of `names`: all at once, traffic control, blue terminated 5
/// minutes after success, the target group pair `pair` in that order (the
/// first listed is not necessarily blue: CodeDeploy tells from the service)
/// and the production and test `listeners`.
pub async fn create_deployment_group(
    codedeploy: &aws_sdk_codedeploy::Client,
    names: &Names,
    application: &str,
    group: &str,
    pair: [&str; 2],
    listeners: [&str; 2],
) {
    use aws_sdk_codedeploy::types as cd;
    let target_group = |name: &str| cd::TargetGroupInfo::builder().name(name).build();
    codedeploy
        .create_deployment_group()
        .application_name(application)
        .deployment_group_name(group)
        .service_role_arn(format!(
            "arn:aws:iam::{ACCOUNT_ID}:role/{}-codedeploy",
            names.prefix
        ))
        .deployment_config_name("CodeDeployDefault.ECSAllAtOnce")
        .ecs_services(
            cd::EcsService::builder()
                .cluster_name(&names.cluster)
                .service_name(&names.service)
                .build(),
        )
        .deployment_style(
            cd::DeploymentStyle::builder()
                .deployment_type(cd::DeploymentType::BlueGreen)
                .deployment_option(cd::DeploymentOption::WithTrafficControl)
                .build(),
        )
        .blue_green_deployment_configuration(
            cd::BlueGreenDeploymentConfiguration::builder()
                .deployment_ready_option(
                    cd::DeploymentReadyOption::builder()
                        .action_on_timeout(cd::DeploymentReadyAction::ContinueDeployment)
                        .build(),
                )
                .terminate_blue_instances_on_deployment_success(
                    cd::BlueInstanceTerminationOption::builder()
                        .action(cd::InstanceAction::Terminate)
                        .termination_wait_time_in_minutes(5)
                        .build(),
                )
                .build(),
        )
        .load_balancer_info(
            cd::LoadBalancerInfo::builder()
                .target_group_pair_info_list(
                    cd::TargetGroupPairInfo::builder()
                        .target_groups(target_group(pair[0]))
                        .target_groups(target_group(pair[1]))
                        .prod_traffic_route(
                            cd::TrafficRoute::builder()
                                .listener_arns(listeners[0])
                                .build(),
                        )
                        .test_traffic_route(
                            cd::TrafficRoute::builder()
                                .listener_arns(listeners[1])
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("create deployment group {group}: {e:?}"));
}

/// Creates the alarm `name` on the load balancer's 5XX count (Sum over a
/// minute above 5), in `INSUFFICIENT_DATA` until a test sets its state.
pub async fn put_5xx_alarm(sdk: &SdkConfig, name: &str) {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
    aws_sdk_cloudwatch::Client::new(sdk)
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(5.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put metric alarm {name}: {e:?}"));
}
