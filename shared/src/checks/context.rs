//! What a check may ask about the deployment under test, and the clients it
//! probes with.
//!
//! [`Deployment`] is the seam between the engine and a deployment
//! controller: the CodeDeploy hook resolves it from a CodeDeploy deployment
//! ([`crate::hooks::codedeploy::deployment::CodeDeployDeployment`]), the ECS-native hook from an
//! ECS service deployment ([`crate::hooks::ecs_native::deployment`]). Checks only see listeners, target groups, the
//! load balancer and the new task-definition revision.

use std::sync::Arc;

use aws_config::SdkConfig;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::prober::HttpProber;
use crate::aws::{AwsError, OnFirstUse};
use crate::error::{Classify, ErrorKind};

/// Which listener an http check goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrafficRole {
    /// The test listener, which routes to the replacement task set once
    /// test traffic is allowed.
    Test,
    /// The production listener.
    Production,
}

impl TrafficRole {
    /// `test` or `production`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrafficRole::Test => "test",
            TrafficRole::Production => "production",
        }
    }
}

/// Which of the deployment's two target groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetGroupRole {
    /// The replacement (green) task set's target group.
    Replacement,
    /// The original (blue) task set's target group.
    Original,
}

impl TargetGroupRole {
    /// `replacement` or `original`.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetGroupRole::Replacement => "replacement",
            TargetGroupRole::Original => "original",
        }
    }
}

/// Where a listener accepts requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The listener protocol, such as `HTTP` or `HTTPS`.
    pub protocol: String,
    /// The load balancer's DNS name.
    pub host: String,
    /// The listener port.
    pub port: u16,
}

impl Endpoint {
    /// `https` for HTTPS listeners, `http` otherwise.
    pub fn scheme(&self) -> &'static str {
        if self.protocol.eq_ignore_ascii_case("HTTPS") {
            "https"
        } else {
            "http"
        }
    }

    /// The URL of `path` on this listener (the port left out when it is the
    /// scheme's default).
    pub fn url(&self, path: &str) -> String {
        let scheme = self.scheme();
        let default_port = if scheme == "https" { 443 } else { 80 };
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        if self.port == default_port {
            format!("{scheme}://{}{path}", self.host)
        } else {
            format!("{scheme}://{}:{}{path}", self.host, self.port)
        }
    }
}

/// A target group of the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// The load balancers that route to it.
    pub load_balancer_arns: Vec<String>,
}

impl TargetGroup {
    /// The value of the `TargetGroup` CloudWatch dimension,
    /// `targetgroup/<name>/<id>`.
    pub fn dimension(&self) -> Option<&str> {
        target_group_dimension(&self.arn)
    }
}

/// `targetgroup/<name>/<id>` from a target group ARN
/// (`arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>`).
pub fn target_group_dimension(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    (resource.starts_with("targetgroup/") && resource.split('/').count() == 3).then_some(resource)
}

/// `app/<name>/<id>` (or `net/...`) from a load balancer ARN
/// (`arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>`):
/// the value of the `LoadBalancer` CloudWatch dimension.
pub fn load_balancer_dimension(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let value = resource.strip_prefix("loadbalancer/")?;
    (value.split('/').count() == 3).then_some(value)
}

/// One container of a task-definition revision, as the checks see it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Container {
    /// The container name.
    pub name: String,
    /// The image reference as written in the task definition.
    pub image: String,
    /// Whether the task stops when this container stops (ECS's default: yes).
    pub essential: bool,
    /// The names of its secrets (the environment variables they become);
    /// never their values or sources.
    pub secrets: Vec<String>,
    /// Whether it has a container health check.
    pub health_check: bool,
}

/// The task-definition revision being deployed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Revision {
    /// Its ARN.
    pub arn: String,
    /// Its containers.
    pub containers: Vec<Container>,
}

impl Revision {
    /// The facts the checks use from a described task definition.
    pub fn from_task_definition(definition: &aws_sdk_ecs::types::TaskDefinition) -> Revision {
        Revision {
            arn: definition
                .task_definition_arn()
                .unwrap_or_default()
                .to_owned(),
            containers: definition
                .container_definitions()
                .iter()
                .map(|c| Container {
                    name: c.name().unwrap_or_default().to_owned(),
                    image: c.image().unwrap_or_default().to_owned(),
                    essential: c.essential().unwrap_or(true),
                    secrets: c.secrets().iter().map(|s| s.name().to_owned()).collect(),
                    health_check: c.health_check().is_some(),
                })
                .collect(),
        }
    }

    /// `family:revision`, the way people name a revision.
    pub fn label(&self) -> &str {
        self.arn
            .rsplit_once("task-definition/")
            .map_or(self.arn.as_str(), |(_, label)| label)
    }
}

/// The deployment could not tell a check what it asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ContextError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The deployment has no such thing (no test listener, an AppSpec
    /// without a task definition, ...).
    #[error("{0}")]
    Missing(String),
    /// AWS has not resolved it yet (an ECS service revision that does not
    /// say yet which target group it serves, say): looking again later may
    /// find it, so a plan that waits keeps waiting.
    #[error("{0}")]
    Unresolved(String),
}

impl Classify for ContextError {
    fn kind(&self) -> ErrorKind {
        match self {
            ContextError::Aws(error) => error.kind(),
            ContextError::Missing(_) => ErrorKind::NotFound,
            ContextError::Unresolved(_) => ErrorKind::Retryable,
        }
    }
}

/// What checks may ask about the deployment under test.
///
/// Implementations resolve lazily and cache what they resolved, so that
/// checks running concurrently (and again during a bake) share the calls.
pub trait Deployment: Send + Sync {
    /// The listener of `role`: the load balancer's DNS name, the port and
    /// the protocol.
    fn listener(&self, role: TrafficRole) -> BoxFuture<'_, Result<Endpoint, ContextError>>;
    /// The target group of `role`.
    fn target_group(
        &self,
        role: TargetGroupRole,
    ) -> BoxFuture<'_, Result<TargetGroup, ContextError>>;
    /// The ARN of the load balancer the deployment shifts traffic on.
    fn load_balancer(&self) -> BoxFuture<'_, Result<String, ContextError>>;
    /// The task-definition revision being deployed.
    fn revision(&self) -> BoxFuture<'_, Result<Revision, ContextError>>;
}

/// The clients checks probe with, from one `SdkConfig`: target health's at
/// cold start (most deployments check it), the others on the first check
/// that needs them (each client built at init costs every cold start).
#[derive(Debug, Clone)]
pub struct Clients {
    /// Target health, and the hooks' reads of listeners and target groups.
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    /// Alarms and metrics: see [`Clients::cloudwatch`].
    cloudwatch: OnFirstUse<aws_sdk_cloudwatch::Client>,
    /// Image scan findings in the function's Region: see [`Clients::ecr_in`].
    ecr: OnFirstUse<aws_sdk_ecr::Client>,
    /// Change calendars: see [`Clients::ssm`].
    ssm: OnFirstUse<aws_sdk_ssm::Client>,
    /// The http checks' client.
    pub http: HttpProber,
}

impl Clients {
    /// Builds the clients from `sdk`.
    pub fn new(sdk: &SdkConfig, http: HttpProber) -> Self {
        Clients {
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(sdk),
            cloudwatch: OnFirstUse::new(sdk, aws_sdk_cloudwatch::Client::new),
            ecr: OnFirstUse::new(sdk, aws_sdk_ecr::Client::new),
            ssm: OnFirstUse::new(sdk, aws_sdk_ssm::Client::new),
            http,
        }
    }

    /// The CloudWatch client (built on first use).
    pub fn cloudwatch(&self) -> &aws_sdk_cloudwatch::Client {
        self.cloudwatch.get()
    }

    /// The Systems Manager client, for change calendars (built on first use).
    pub fn ssm(&self) -> &aws_sdk_ssm::Client {
        self.ssm.get()
    }

    /// An ECR client for `region` (the function's own, built on first use,
    /// when it is the same; an image may live in another Region).
    pub fn ecr_in(&self, region: &str) -> aws_sdk_ecr::Client {
        let sdk = self.ecr.sdk();
        if sdk.region().map(|r| r.as_ref()) == Some(region) {
            return self.ecr.get().clone();
        }
        let config = aws_sdk_ecr::config::Builder::from(sdk)
            .region(aws_config::Region::new(region.to_owned()))
            .build();
        aws_sdk_ecr::Client::from_conf(config)
    }
}

/// Everything a check needs: the clients and the deployment.
pub struct CheckContext {
    /// The clients.
    pub clients: Arc<Clients>,
    /// The deployment under test.
    pub deployment: Arc<dyn Deployment>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls() {
        let endpoint = |protocol: &str, port| Endpoint {
            protocol: protocol.into(),
            host: "alb-1.us-east-1.elb.amazonaws.com".into(),
            port,
        };
        let cases = [
            (
                endpoint("HTTP", 80),
                "/health",
                "http://alb-1.us-east-1.elb.amazonaws.com/health",
            ),
            (
                endpoint("HTTP", 8080),
                "/health",
                "http://alb-1.us-east-1.elb.amazonaws.com:8080/health",
            ),
            (
                endpoint("HTTPS", 443),
                "ready",
                "https://alb-1.us-east-1.elb.amazonaws.com/ready",
            ),
            (
                endpoint("HTTPS", 8443),
                "/",
                "https://alb-1.us-east-1.elb.amazonaws.com:8443/",
            ),
            (
                endpoint("HTTP", 443),
                "/",
                "http://alb-1.us-east-1.elb.amazonaws.com:443/",
            ),
        ];
        for (endpoint, path, url) in cases {
            assert_eq!(endpoint.url(path), url);
        }
    }

    #[test]
    fn metric_dimensions_from_arns() {
        let cases = [
            (
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-green/50dc6c495c0c9188",
                Some("targetgroup/api-green/50dc6c495c0c9188"),
                None,
            ),
            (
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/api-alb/50dc6c495c0c9188",
                None,
                Some("app/api-alb/50dc6c495c0c9188"),
            ),
            (
                "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/net/nlb/abc",
                None,
                Some("net/nlb/abc"),
            ),
            ("targetgroup/x/y", None, None),
            ("", None, None),
        ];
        for (arn, target_group, load_balancer) in cases {
            assert_eq!(target_group_dimension(arn), target_group, "{arn}");
            assert_eq!(load_balancer_dimension(arn), load_balancer, "{arn}");
        }
    }

    #[test]
    fn revision_facts_from_a_task_definition() {
        use aws_sdk_ecs::types::{ContainerDefinition, HealthCheck, Secret, TaskDefinition};
        let definition = TaskDefinition::builder()
            .task_definition_arn("arn:aws:ecs:us-east-1:123456789012:task-definition/api:8")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("backend")
                    .image("repo/backend:v1")
                    .secrets(
                        Secret::builder()
                            .name("DATABASE_URL")
                            .value_from("arn:aws:secretsmanager:...")
                            .build()
                            .unwrap(),
                    )
                    .health_check(HealthCheck::builder().command("true").build().unwrap())
                    .build(),
            )
            .container_definitions(
                ContainerDefinition::builder()
                    .name("sidecar")
                    .image("redis")
                    .essential(false)
                    .build(),
            )
            .build();
        let revision = Revision::from_task_definition(&definition);
        assert_eq!(revision.label(), "api:8");
        assert_eq!(
            revision.containers,
            [
                Container {
                    name: "backend".into(),
                    image: "repo/backend:v1".into(),
                    essential: true,
                    secrets: vec!["DATABASE_URL".into()],
                    health_check: true,
                },
                Container {
                    name: "sidecar".into(),
                    image: "redis".into(),
                    essential: false,
                    secrets: vec![],
                    health_check: false,
                },
            ]
        );
    }
}
