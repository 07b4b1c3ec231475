//! The deployment under test, resolved from an ECS native (blue/green,
//! linear or canary) service deployment.
//!
//! ECS names what it deploys in the hook event: the service deployment
//! (`resourceArn`) and the target service revision. Everything else comes
//! from ECS's API, lazily and once each, never from the event's traffic
//! weights (the guide's payloads leave them empty at four stages):
//! - `DescribeServiceDeployments`: the deployment's status and rollback (is
//!   ECS rolling back?), its `targetServiceRevision` and
//!   `sourceServiceRevisions`;
//! - `DescribeServiceRevisions` (the target and sources in one call): the
//!   task definition, and the load balancer configuration: the target group
//!   pair (`targetGroupArn` and `advancedConfiguration.alternateTargetGroupArn`),
//!   the production and test listener rules, and which target group each
//!   revision serves (`resolvedConfiguration`);
//! - `DescribeListeners` + `DescribeLoadBalancers`: the listeners of those
//!   rules (a rule ARN names its listener);
//! - `DescribeTargetGroups`: the pair's names and load balancers;
//! - `DescribeTaskDefinition`: the new revision's containers.
//!
//! The replacement (green) target group is the one the target revision
//! serves; the original (blue) is the other of the pair. Where ECS has not
//! resolved that yet, the checks that need it fail with
//! [`ContextError::Unresolved`], which says so, and a plan that waits looks
//! again.
//!
//! IAM: `ecs:DescribeServiceDeployments`, `ecs:DescribeServiceRevisions`,
//! `ecs:DescribeTaskDefinition`, `elasticloadbalancing:DescribeListeners`,
//! `elasticloadbalancing:DescribeLoadBalancers`,
//! `elasticloadbalancing:DescribeTargetGroups`.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{ServiceDeploymentStatus, ServiceRevision};
use futures::future::BoxFuture;
use tokio::sync::OnceCell;

use crate::aws::AwsError;
use crate::checks::context::{
    ContextError, Deployment, Endpoint, Revision, TargetGroup, TargetGroupRole, TrafficRole,
};
use crate::checks::elb::{self, Listener, TargetGroupKeys};

/// The most service revisions one `DescribeServiceRevisions` call takes.
pub const DESCRIBE_REVISIONS_MAX: usize = 20;

/// What `DescribeServiceDeployments` says about the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeploymentState {
    /// `IN_PROGRESS`, `ROLLBACK_IN_PROGRESS`, ...
    pub status: String,
    /// Why ECS rolls back, when it does.
    pub rollback_reason: Option<String>,
    /// `targetServiceRevision.arn`.
    pub target_revision: Option<String>,
    /// `sourceServiceRevisions[].arn`: the revisions traffic moves away from.
    pub source_revisions: Vec<String>,
}

impl DeploymentState {
    /// Whether ECS is rolling the deployment back (or has).
    pub fn is_rollback(&self) -> bool {
        self.status.starts_with("ROLLBACK_") || self.rollback_reason.is_some()
    }
}

/// One load balancer entry of a service revision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevisionLoadBalancer {
    /// `targetGroupArn`: the primary of the pair.
    pub target_group_arn: Option<String>,
    /// `advancedConfiguration.alternateTargetGroupArn`.
    pub alternate_target_group_arn: Option<String>,
    /// `advancedConfiguration.productionListenerRule`.
    pub production_listener_rule: Option<String>,
    /// `advancedConfiguration.testListenerRule`.
    pub test_listener_rule: Option<String>,
}

/// What the checks use from a service revision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevisionFacts {
    /// The service revision ARN.
    pub arn: String,
    /// The task-definition ARN it runs.
    pub task_definition: Option<String>,
    /// Its load balancer entries.
    pub load_balancers: Vec<RevisionLoadBalancer>,
    /// The target groups it serves (`resolvedConfiguration.loadBalancers`).
    pub serves: Vec<String>,
}

impl RevisionFacts {
    /// The facts of a described service revision.
    pub fn from_revision(revision: &ServiceRevision) -> RevisionFacts {
        RevisionFacts {
            arn: revision
                .service_revision_arn()
                .unwrap_or_default()
                .to_owned(),
            task_definition: revision.task_definition().map(str::to_owned),
            load_balancers: revision
                .load_balancers()
                .iter()
                .map(|lb| {
                    let advanced = lb.advanced_configuration();
                    RevisionLoadBalancer {
                        target_group_arn: lb.target_group_arn().map(str::to_owned),
                        alternate_target_group_arn: advanced
                            .and_then(|a| a.alternate_target_group_arn())
                            .map(str::to_owned),
                        production_listener_rule: advanced
                            .and_then(|a| a.production_listener_rule())
                            .map(str::to_owned),
                        test_listener_rule: advanced
                            .and_then(|a| a.test_listener_rule())
                            .map(str::to_owned),
                    }
                })
                .collect(),
            serves: revision
                .resolved_configuration()
                .map(|r| {
                    r.load_balancers()
                        .iter()
                        .filter_map(|lb| lb.target_group_arn().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The load balancer entry that carries a blue/green pair: the first
    /// with an alternate target group, else the first.
    pub fn blue_green(&self) -> Option<&RevisionLoadBalancer> {
        self.load_balancers
            .iter()
            .find(|lb| lb.alternate_target_group_arn.is_some())
            .or_else(|| self.load_balancers.first())
    }
}

/// `(replacement, original)` target group ARNs of a blue/green pair: the
/// replacement is the one the target revision serves; when ECS does not say,
/// the one the source revisions do not serve.
pub fn target_group_roles(
    pair: &RevisionLoadBalancer,
    target_serves: &[String],
    sources_serve: &[String],
) -> Result<(String, String), String> {
    let primary = pair
        .target_group_arn
        .as_deref()
        .ok_or("the service revision has no target group")?;
    let alternate = pair
        .alternate_target_group_arn
        .as_deref()
        .ok_or("the service revision has no alternate target group (not a blue/green load balancer configuration)")?;
    let in_pair = |arn: &&String| arn.as_str() == primary || arn.as_str() == alternate;
    let other = |arn: &str| {
        if arn == primary {
            alternate.to_owned()
        } else {
            primary.to_owned()
        }
    };
    if let Some(green) = target_serves.iter().find(in_pair) {
        return Ok((green.clone(), other(green)));
    }
    if let Some(blue) = sources_serve.iter().find(in_pair) {
        return Ok((other(blue), blue.clone()));
    }
    Err("neither the target nor a source revision says which target group it serves".to_owned())
}

/// One traffic weight map of a hook event, as the target revision sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    /// The target revision's percentage (0 when the map leaves it out).
    pub target: f64,
    /// The other revisions' percentages, summed.
    pub others: f64,
}

impl Split {
    /// The split of `weights` for `target`; `None` for an empty map (the
    /// guide's payloads carry `{}` at the stages where no traffic moves).
    pub fn of(target: &str, weights: &BTreeMap<String, f64>) -> Option<Split> {
        if weights.is_empty() {
            return None;
        }
        let target_weight = weights.get(target).copied().unwrap_or(0.0);
        let others = weights
            .iter()
            .filter(|(arn, _)| arn.as_str() != target)
            .map(|(_, w)| *w)
            .sum();
        Some(Split {
            target: target_weight,
            others,
        })
    }

    /// Whether the traffic is going back: none to the target revision, some
    /// elsewhere. At `TEST_TRAFFIC_SHIFT` and `PRODUCTION_TRAFFIC_SHIFT` this
    /// is how the guide says to recognise ECS's rollback, which invokes those
    /// two hooks again with the weights reversed.
    pub fn is_reversed(&self) -> bool {
        self.target == 0.0 && self.others > 0.0
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}% to the target revision, {}% to the others",
            self.target, self.others
        )
    }
}

/// The service revisions one `DescribeServiceRevisions` call describes: the
/// target first, then the sources (without the target, each once), as many
/// as the call takes (a deployment has one source, or a few).
pub fn revisions_to_describe(target: &str, sources: &[String]) -> Vec<String> {
    let mut arns = vec![target.to_owned()];
    for source in sources {
        if !arns.contains(source) && arns.len() < DESCRIBE_REVISIONS_MAX {
            arns.push(source.clone());
        }
    }
    arns
}

/// An ECS service deployment as the checks see it; resolves lazily.
pub struct EcsServiceDeployment {
    deployment_arn: String,
    target_revision_arn: String,
    ecs: aws_sdk_ecs::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    state: OnceCell<DeploymentState>,
    revisions: OnceCell<(RevisionFacts, Vec<RevisionFacts>)>,
    listeners: OnceCell<Vec<Listener>>,
    target_groups: OnceCell<Vec<TargetGroup>>,
    revision: OnceCell<Revision>,
}

impl EcsServiceDeployment {
    /// The service deployment `deployment_arn`, deploying
    /// `target_revision_arn`; nothing is called yet.
    pub fn new(
        deployment_arn: &str,
        target_revision_arn: &str,
        ecs: aws_sdk_ecs::Client,
        elbv2: aws_sdk_elasticloadbalancingv2::Client,
    ) -> Self {
        EcsServiceDeployment {
            deployment_arn: deployment_arn.to_owned(),
            target_revision_arn: target_revision_arn.to_owned(),
            ecs,
            elbv2,
            state: OnceCell::new(),
            revisions: OnceCell::new(),
            listeners: OnceCell::new(),
            target_groups: OnceCell::new(),
            revision: OnceCell::new(),
        }
    }

    /// The deployment's status, rollback and revisions.
    ///
    /// IAM: `ecs:DescribeServiceDeployments`.
    pub async fn state(&self) -> Result<&DeploymentState, ContextError> {
        self.state
            .get_or_try_init(|| async {
                let resource = format!("service deployment {}", self.deployment_arn);
                let answer = self
                    .ecs
                    .describe_service_deployments()
                    .service_deployment_arns(&self.deployment_arn)
                    .send()
                    .await
                    .map_err(|e| AwsError::new("describe", &resource, &e))?;
                let deployment = answer.service_deployments().first().ok_or_else(|| {
                    let reason = answer
                        .failures()
                        .first()
                        .and_then(|f| f.reason())
                        .unwrap_or("not returned");
                    ContextError::Missing(format!("{resource}: {reason}"))
                })?;
                Ok(DeploymentState {
                    status: deployment
                        .status()
                        .map_or("UNKNOWN", ServiceDeploymentStatus::as_str)
                        .to_owned(),
                    rollback_reason: deployment
                        .rollback()
                        .map(|r| r.reason().unwrap_or("no reason given").to_owned()),
                    target_revision: deployment
                        .target_service_revision()
                        .and_then(|r| r.arn())
                        .map(str::to_owned),
                    source_revisions: deployment
                        .source_service_revisions()
                        .iter()
                        .filter_map(|r| r.arn().map(str::to_owned))
                        .collect(),
                })
            })
            .await
    }

    /// The target revision's facts, and the sources' (as
    /// `DescribeServiceDeployments` names them).
    ///
    /// IAM: `ecs:DescribeServiceDeployments`, `ecs:DescribeServiceRevisions`.
    pub async fn revisions(&self) -> Result<&(RevisionFacts, Vec<RevisionFacts>), ContextError> {
        self.revisions
            .get_or_try_init(|| async {
                let state = self.state().await?;
                let arns =
                    revisions_to_describe(&self.target_revision_arn, &state.source_revisions);
                let resource = format!("service revisions {}", arns.join(", "));
                let answer = self
                    .ecs
                    .describe_service_revisions()
                    .set_service_revision_arns(Some(arns))
                    .send()
                    .await
                    .map_err(|e| AwsError::new("describe", &resource, &e))?;
                let mut facts: Vec<RevisionFacts> = answer
                    .service_revisions()
                    .iter()
                    .map(RevisionFacts::from_revision)
                    .collect();
                let target = facts
                    .iter()
                    .position(|f| f.arn == self.target_revision_arn)
                    .map(|index| facts.swap_remove(index))
                    .ok_or_else(|| {
                        ContextError::Missing(format!(
                            "service revision {} not found",
                            self.target_revision_arn
                        ))
                    })?;
                Ok((target, facts))
            })
            .await
    }

    async fn pair(&self) -> Result<RevisionLoadBalancer, ContextError> {
        let (target, _) = self.revisions().await?;
        target.blue_green().cloned().ok_or_else(|| {
            ContextError::Missing(format!(
                "service revision {} has no load balancer",
                target.arn
            ))
        })
    }

    async fn listeners(&self) -> Result<&Vec<Listener>, ContextError> {
        self.listeners
            .get_or_try_init(|| async {
                let pair = self.pair().await?;
                let mut arns: Vec<String> =
                    [&pair.production_listener_rule, &pair.test_listener_rule]
                        .into_iter()
                        .flatten()
                        .filter_map(|rule| elb::listener_of(rule))
                        .collect();
                arns.dedup();
                elb::describe_listeners(&self.elbv2, &arns).await
            })
            .await
    }

    async fn endpoint(&self, role: TrafficRole) -> Result<Endpoint, ContextError> {
        let pair = self.pair().await?;
        let rule = match role {
            TrafficRole::Test => &pair.test_listener_rule,
            TrafficRole::Production => &pair.production_listener_rule,
        };
        let rule = rule.as_deref().ok_or_else(|| {
            ContextError::Missing(format!(
                "the service's load balancer configuration has no {} listener rule",
                role.as_str()
            ))
        })?;
        let arn = elb::listener_of(rule)
            .ok_or_else(|| ContextError::Missing(format!("{rule} is not a listener rule ARN")))?;
        self.listeners()
            .await?
            .iter()
            .find(|l| l.arn == arn)
            .map(|l| l.endpoint.clone())
            .ok_or_else(|| ContextError::Missing(format!("listener {arn} not found")))
    }

    async fn target_groups(&self) -> Result<&Vec<TargetGroup>, ContextError> {
        self.target_groups
            .get_or_try_init(|| async {
                let pair = self.pair().await?;
                let arns: Vec<String> = [pair.target_group_arn, pair.alternate_target_group_arn]
                    .into_iter()
                    .flatten()
                    .collect();
                elb::describe_target_groups(&self.elbv2, TargetGroupKeys::Arns(&arns)).await
            })
            .await
    }

    async fn role_target_group(&self, role: TargetGroupRole) -> Result<TargetGroup, ContextError> {
        let (target, sources) = self.revisions().await?;
        let pair = self.pair().await?;
        let sources_serve: Vec<String> = sources.iter().flat_map(|s| s.serves.clone()).collect();
        let (replacement, original) = target_group_roles(&pair, &target.serves, &sources_serve)
            .map_err(|why| {
                let message = format!(
                    "cannot tell the {} target group of {}: {why}",
                    role.as_str(),
                    self.deployment_arn
                );
                if pair.alternate_target_group_arn.is_some() {
                    ContextError::Unresolved(format!("{message} (ECS has not resolved it yet)"))
                } else {
                    ContextError::Missing(message)
                }
            })?;
        let arn = match role {
            TargetGroupRole::Replacement => replacement,
            TargetGroupRole::Original => original,
        };
        self.target_groups()
            .await?
            .iter()
            .find(|g| g.arn == arn)
            .cloned()
            .ok_or_else(|| ContextError::Missing(format!("target group {arn} not found")))
    }

    async fn load_balancer_arn(&self) -> Result<String, ContextError> {
        if let Ok(endpoint_lb) = self.production_load_balancer().await {
            return Ok(endpoint_lb);
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

    async fn production_load_balancer(&self) -> Result<String, ContextError> {
        let pair = self.pair().await?;
        let arn = pair
            .production_listener_rule
            .as_deref()
            .and_then(elb::listener_of)
            .ok_or_else(|| ContextError::Missing("no production listener rule".into()))?;
        self.listeners()
            .await?
            .iter()
            .find(|l| l.arn == arn)
            .map(|l| l.load_balancer_arn.clone())
            .ok_or_else(|| ContextError::Missing(format!("listener {arn} not found")))
    }

    async fn describe_revision(&self) -> Result<Revision, ContextError> {
        self.revision
            .get_or_try_init(|| async {
                let (target, _) = self.revisions().await?;
                let arn = target.task_definition.as_deref().ok_or_else(|| {
                    ContextError::Missing(format!(
                        "service revision {} names no task definition",
                        target.arn
                    ))
                })?;
                elb::describe_revision(&self.ecs, arn).await
            })
            .await
            .cloned()
    }
}

impl Deployment for EcsServiceDeployment {
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

#[cfg(test)]
mod tests {
    use super::*;

    const BLUE: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-blue/1";
    const GREEN: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-green/2";

    fn pair() -> RevisionLoadBalancer {
        RevisionLoadBalancer {
            target_group_arn: Some(BLUE.into()),
            alternate_target_group_arn: Some(GREEN.into()),
            ..RevisionLoadBalancer::default()
        }
    }

    #[test]
    fn replacement_is_what_the_target_revision_serves() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        let ok = |r: &str, o: &str| Ok((r.to_owned(), o.to_owned()));
        type Case = (Vec<String>, Vec<String>, Result<(String, String), String>);
        let cases: Vec<Case> =
            vec![
            (s(&[GREEN]), s(&[BLUE]), ok(GREEN, BLUE)),
            (s(&[BLUE]), s(&[GREEN]), ok(BLUE, GREEN)),
            // ECS says only what the target serves, or only the source.
            (s(&[GREEN]), s(&[]), ok(GREEN, BLUE)),
            (s(&[]), s(&[GREEN]), ok(BLUE, GREEN)),
            // A target group outside the pair is ignored.
            (s(&["arn:other", GREEN]), s(&[]), ok(GREEN, BLUE)),
            (
                s(&[]),
                s(&[]),
                Err("neither the target nor a source revision says which target group it serves"
                    .to_owned()),
            ),
        ];
        for (target, sources, expected) in cases {
            assert_eq!(
                target_group_roles(&pair(), &target, &sources),
                expected,
                "{target:?} {sources:?}"
            );
        }
        let rolling = RevisionLoadBalancer {
            target_group_arn: Some(BLUE.into()),
            ..RevisionLoadBalancer::default()
        };
        assert!(
            target_group_roles(&rolling, &[BLUE.to_owned()], &[])
                .unwrap_err()
                .contains("not a blue/green")
        );
    }

    #[test]
    fn rollback_from_status_or_rollback_field() {
        let state = |status: &str, reason: Option<&str>| DeploymentState {
            status: status.into(),
            rollback_reason: reason.map(str::to_owned),
            ..DeploymentState::default()
        };
        let cases = [
            (state("IN_PROGRESS", None), false),
            (state("SUCCESSFUL", None), false),
            (state("ROLLBACK_REQUESTED", None), true),
            (state("ROLLBACK_IN_PROGRESS", None), true),
            (state("ROLLBACK_SUCCESSFUL", None), true),
            (state("IN_PROGRESS", Some("alarm api-5xx")), true),
        ];
        for (state, rollback) in cases {
            assert_eq!(state.is_rollback(), rollback, "{state:?}");
        }
    }

    #[test]
    fn splits_and_reversals() {
        let weights_of = |pairs: &[(&str, f64)]| {
            pairs
                .iter()
                .map(|(a, w)| ((*a).to_owned(), *w))
                .collect::<BTreeMap<_, _>>()
        };
        // (weights, (target, others) or None for an empty map, reversed)
        let cases = [
            (
                weights_of(&[("t", 100.0), ("s", 0.0)]),
                Some((100.0, 0.0)),
                false,
            ),
            (
                weights_of(&[("t", 0.0), ("s", 100.0)]),
                Some((0.0, 100.0)),
                true,
            ),
            (
                weights_of(&[("t", 2.5), ("s", 97.5)]),
                Some((2.5, 97.5)),
                false,
            ),
            (weights_of(&[("s", 100.0)]), Some((0.0, 100.0)), true),
            (
                weights_of(&[("t", 0.0), ("s", 0.0)]),
                Some((0.0, 0.0)),
                false,
            ),
            (
                weights_of(&[("t", 0.0), ("a", 60.0), ("b", 40.0)]),
                Some((0.0, 100.0)),
                true,
            ),
            (weights_of(&[]), None, false),
        ];
        for (map, expected, reversed) in cases {
            let split = Split::of("t", &map);
            assert_eq!(split.map(|s| (s.target, s.others)), expected, "{map:?}");
            assert_eq!(split.is_some_and(|s| s.is_reversed()), reversed, "{map:?}");
        }
    }

    #[test]
    fn the_target_and_its_sources_in_one_call() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            revisions_to_describe("t", &s(&["a", "t", "a"])),
            s(&["t", "a"])
        );
        assert_eq!(revisions_to_describe("t", &[]), s(&["t"]));
        let many: Vec<String> = (0..30).map(|i| format!("s{i}")).collect();
        let arns = revisions_to_describe("t", &many);
        assert_eq!(arns.len(), DESCRIBE_REVISIONS_MAX);
        assert_eq!(arns[0], "t");
    }

    #[test]
    fn revision_facts_from_a_described_revision() {
        use aws_sdk_ecs::types::{
            AdvancedConfiguration, LoadBalancer, ResolvedConfiguration, ServiceRevisionLoadBalancer,
        };
        let revision = ServiceRevision::builder()
            .service_revision_arn("arn:aws:ecs:us-east-1:123456789012:service-revision/c/s/2")
            .task_definition("arn:aws:ecs:us-east-1:123456789012:task-definition/api:9")
            .load_balancers(
                LoadBalancer::builder()
                    .target_group_arn(BLUE)
                    .advanced_configuration(
                        AdvancedConfiguration::builder()
                            .alternate_target_group_arn(GREEN)
                            .production_listener_rule("prod-rule")
                            .test_listener_rule("test-rule")
                            .role_arn("role")
                            .build(),
                    )
                    .build(),
            )
            .resolved_configuration(
                ResolvedConfiguration::builder()
                    .load_balancers(
                        ServiceRevisionLoadBalancer::builder()
                            .target_group_arn(GREEN)
                            .build(),
                    )
                    .build(),
            )
            .build();
        let facts = RevisionFacts::from_revision(&revision);
        assert_eq!(
            facts.task_definition.as_deref(),
            Some("arn:aws:ecs:us-east-1:123456789012:task-definition/api:9")
        );
        assert_eq!(facts.serves, [GREEN]);
        let pair = facts.blue_green().unwrap();
        assert_eq!(pair.alternate_target_group_arn.as_deref(), Some(GREEN));
        assert_eq!(pair.production_listener_rule.as_deref(), Some("prod-rule"));
        assert_eq!(pair.test_listener_rule.as_deref(), Some("test-rule"));
    }
}
