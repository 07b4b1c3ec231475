//! The load-balancer and task-definition lookups both deployment contexts
//! make ([`crate::hooks::codedeploy::deployment`] and
//! [`crate::hooks::ecs_native::deployment`]): a deployment
//! names its listeners, target groups and task definition by ARN or name,
//! and checks need the endpoint, the target group's load balancers and the
//! containers.
//!
//! IAM: `elasticloadbalancing:DescribeListeners`,
//! `elasticloadbalancing:DescribeLoadBalancers`,
//! `elasticloadbalancing:DescribeTargetGroups`, `ecs:DescribeTaskDefinition`.

use super::context::{ContextError, Endpoint, Revision, TargetGroup};
use crate::aws::AwsError;

/// A listener, described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Its ARN.
    pub arn: String,
    /// Where it accepts requests.
    pub endpoint: Endpoint,
    /// The ARN of its load balancer.
    pub load_balancer_arn: String,
}

/// The listener ARN of a listener rule ARN:
/// `arn:...:listener-rule/app/<lb>/<lb-id>/<listener-id>/<rule-id>` is a rule
/// of `arn:...:listener/app/<lb>/<lb-id>/<listener-id>`. A listener ARN is
/// returned as it is.
pub fn listener_of(arn: &str) -> Option<String> {
    let (prefix, resource, segments) =
        if let Some((prefix, rule)) = arn.split_once(":listener-rule/") {
            (prefix, rule, 5)
        } else {
            let (prefix, listener) = arn.split_once(":listener/")?;
            (prefix, listener, 4)
        };
    let parts: Vec<&str> = resource.split('/').collect();
    if !prefix.starts_with("arn:") || parts.len() != segments || parts.iter().any(|p| p.is_empty())
    {
        return None;
    }
    Some(format!("{prefix}:listener/{}", parts[..4].join("/")))
}

/// Describes the listeners `arns` and their load balancers (two calls).
pub async fn describe_listeners(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arns: &[String],
) -> Result<Vec<Listener>, ContextError> {
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let answer = elbv2
        .describe_listeners()
        .set_listener_arns(Some(arns.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::new("describe", format!("listeners {}", arns.join(", ")), &e))?;
    let mut load_balancer_arns: Vec<String> = answer
        .listeners()
        .iter()
        .filter_map(|l| l.load_balancer_arn().map(str::to_owned))
        .collect();
    load_balancer_arns.sort();
    load_balancer_arns.dedup();
    let described = elbv2
        .describe_load_balancers()
        .set_load_balancer_arns(Some(load_balancer_arns.clone()))
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                "describe",
                format!("load balancers {}", load_balancer_arns.join(", ")),
                &e,
            )
        })?;
    let mut listeners = Vec::new();
    for listener in answer.listeners() {
        let arn = listener.listener_arn().unwrap_or_default();
        let load_balancer = listener.load_balancer_arn().unwrap_or_default();
        let dns = described
            .load_balancers()
            .iter()
            .find(|lb| lb.load_balancer_arn() == Some(load_balancer))
            .and_then(|lb| lb.dns_name())
            .ok_or_else(|| {
                AwsError::missing_field(
                    "describe",
                    format!("load balancer {load_balancer}"),
                    "DNSName",
                )
            })?;
        let port = listener
            .port()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| {
                AwsError::missing_field("describe", format!("listener {arn}"), "Port")
            })?;
        listeners.push(Listener {
            arn: arn.to_owned(),
            endpoint: Endpoint {
                protocol: listener
                    .protocol()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_else(|| "HTTP".to_owned()),
                host: dns.to_owned(),
                port,
            },
            load_balancer_arn: load_balancer.to_owned(),
        });
    }
    Ok(listeners)
}

/// How target groups are named in a lookup.
#[derive(Debug, Clone, Copy)]
pub enum TargetGroupKeys<'a> {
    /// By name (CodeDeploy deployment groups name them).
    Names(&'a [String]),
    /// By ARN (ECS service revisions give ARNs).
    Arns(&'a [String]),
}

/// Describes target groups (one call).
pub async fn describe_target_groups(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    keys: TargetGroupKeys<'_>,
) -> Result<Vec<TargetGroup>, ContextError> {
    let request = elbv2.describe_target_groups();
    let (request, listed) = match keys {
        TargetGroupKeys::Names(names) => (request.set_names(Some(names.to_vec())), names),
        TargetGroupKeys::Arns(arns) => (request.set_target_group_arns(Some(arns.to_vec())), arns),
    };
    let answer = request.send().await.map_err(|e| {
        AwsError::new(
            "describe",
            format!("target groups {}", listed.join(", ")),
            &e,
        )
    })?;
    Ok(answer
        .target_groups()
        .iter()
        .map(|g| TargetGroup {
            name: g.target_group_name().unwrap_or_default().to_owned(),
            arn: g.target_group_arn().unwrap_or_default().to_owned(),
            load_balancer_arns: g.load_balancer_arns().to_vec(),
        })
        .collect())
}

/// Describes the task-definition revision `arn` (one call).
pub async fn describe_revision(
    ecs: &aws_sdk_ecs::Client,
    arn: &str,
) -> Result<Revision, ContextError> {
    let resource = format!("task definition {arn}");
    let answer = ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| AwsError::new("describe", &resource, &e))?;
    let definition = answer
        .task_definition()
        .ok_or_else(|| AwsError::missing_field("describe", &resource, "taskDefinition"))?;
    Ok(Revision::from_task_definition(definition))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_of_a_rule() {
        let base = "arn:aws:elasticloadbalancing:us-east-1:123456789012";
        let cases = [
            (
                format!(
                    "{base}:listener-rule/app/api/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"
                ),
                Some(format!(
                    "{base}:listener/app/api/50dc6c495c0c9188/f2f7dc8efc522ab2"
                )),
            ),
            (
                format!("{base}:listener/app/api/50dc6c495c0c9188/f2f7dc8efc522ab2"),
                Some(format!(
                    "{base}:listener/app/api/50dc6c495c0c9188/f2f7dc8efc522ab2"
                )),
            ),
            (
                format!("{base}:listener-rule/net/nlb/abc/def/123"),
                Some(format!("{base}:listener/net/nlb/abc/def")),
            ),
            (format!("{base}:listener-rule/app/api/50dc/f2f7"), None),
            (format!("{base}:listener-rule/app/api//f2f7/9683"), None),
            (format!("{base}:targetgroup/api/50dc"), None),
            ("listener-rule/app/a/b/c/d".to_owned(), None),
            (String::new(), None),
        ];
        for (arn, listener) in cases {
            assert_eq!(listener_of(&arn), listener, "{arn}");
        }
    }
}
