//! `target-health`: every target of a target group is healthy, and at
//! least `minHealthy` of them.
//!
//! Parameters: `targetGroup` (`replacement`, the default, or `original`),
//! `minHealthy` (default 1), `attempts` (default 1) and `intervalMs`
//! (default 5000) to wait for targets still registering, within the
//! check's `timeoutSeconds`.
//!
//! AWS calls: `elasticloadbalancing:DescribeTargetHealth`, plus what the
//! deployment needs to find its target groups
//! (`elasticloadbalancing:DescribeTargetGroups`).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::common::{FieldError, timeout_from, validate_common};
use super::context::{CheckContext, TargetGroupRole};
use super::engine::{Check, Outcome};
use crate::aws::AwsError;

/// The `target-health` check's parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetHealthSpec {
    /// The check's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its time budget, all attempts included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// Which target group (default the replacement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group: Option<TargetGroupRole>,
    /// The fewest healthy targets (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_healthy: Option<u32>,
    /// Looks to take at most until one passes (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// Milliseconds between looks (default 5000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u64>,
}

impl TargetHealthSpec {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_common(self.name.as_deref(), self.timeout_seconds)?;
        if let Some(min) = self.min_healthy
            && min > 1000
        {
            return Err(FieldError::new("minHealthy", "must be at most 1000"));
        }
        if let Some(attempts) = self.attempts
            && !(1..=100).contains(&attempts)
        {
            return Err(FieldError::new("attempts", "must be from 1 to 100"));
        }
        if let Some(interval) = self.interval_ms
            && interval > 600_000
        {
            return Err(FieldError::new("intervalMs", "must be at most 600000"));
        }
        Ok(())
    }

    /// `target-health replacement` or `target-health original`.
    pub fn default_name(&self) -> String {
        format!("target-health {}", self.role().as_str())
    }

    fn role(&self) -> TargetGroupRole {
        self.target_group.unwrap_or(TargetGroupRole::Replacement)
    }
}

/// One registered target and its health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetState {
    /// `id:port`.
    pub target: String,
    /// `healthy`, `unhealthy`, `initial`, `draining`, `unused`, `unavailable`.
    pub state: String,
    /// The reason code ELB gives for a target that is not healthy.
    pub reason: Option<String>,
}

/// Whether every target is healthy and at least `min_healthy` are; `Ok`
/// and `Err` both carry the evidence.
pub fn judge_targets(targets: &[TargetState], min_healthy: u32) -> Result<String, String> {
    let healthy = targets.iter().filter(|t| t.state == "healthy").count();
    if targets.is_empty() {
        return if min_healthy == 0 {
            Ok("no targets registered (minHealthy 0)".to_owned())
        } else {
            Err(format!("no targets registered (minHealthy {min_healthy})"))
        };
    }
    let counts = format!(
        "{healthy}/{} targets healthy (minHealthy {min_healthy})",
        targets.len()
    );
    let others: Vec<String> = targets
        .iter()
        .filter(|t| t.state != "healthy")
        .take(3)
        .map(|t| match &t.reason {
            Some(reason) => format!("{} {} ({reason})", t.target, t.state),
            None => format!("{} {}", t.target, t.state),
        })
        .collect();
    if others.is_empty() && healthy >= min_healthy as usize {
        Ok(counts)
    } else if others.is_empty() {
        Err(counts)
    } else {
        let more = targets.len() - healthy - others.len();
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        Err(format!("{counts}; {}{more}", others.join(", ")))
    }
}

/// The targets of a target group and their health.
///
/// IAM: `elasticloadbalancing:DescribeTargetHealth`.
pub async fn describe_targets(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    target_group_arn: &str,
) -> Result<Vec<TargetState>, AwsError> {
    let answer = client
        .describe_target_health()
        .target_group_arn(target_group_arn)
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                "describe target health of",
                format!("target group {target_group_arn}"),
                &e,
            )
        })?;
    Ok(answer
        .target_health_descriptions()
        .iter()
        .map(|d| {
            let target = d.target();
            let id = target.and_then(|t| t.id()).unwrap_or("?");
            let target = match target.and_then(|t| t.port()) {
                Some(port) => format!("{id}:{port}"),
                None => id.to_owned(),
            };
            let health = d.target_health();
            TargetState {
                target,
                state: health
                    .and_then(|h| h.state())
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_else(|| "unknown".to_owned()),
                reason: health
                    .and_then(|h| h.reason())
                    .map(|r| r.as_str().to_owned()),
            }
        })
        .collect())
}

/// The runnable `target-health` check.
pub struct TargetHealthCheck {
    name: String,
    timeout: Duration,
    spec: TargetHealthSpec,
    context: Arc<CheckContext>,
}

impl TargetHealthCheck {
    /// The check named `name`.
    pub fn new(name: String, spec: TargetHealthSpec, context: Arc<CheckContext>) -> Self {
        TargetHealthCheck {
            name,
            timeout: timeout_from(spec.timeout_seconds),
            spec,
            context,
        }
    }

    async fn look(&self, deadline: Instant) -> Outcome {
        let role = self.spec.role();
        let group = match self.context.deployment.target_group(role).await {
            Ok(group) => group,
            Err(error) => return Outcome::fail(error.to_string()),
        };
        let attempts = self.spec.attempts.unwrap_or(1);
        let interval = Duration::from_millis(self.spec.interval_ms.unwrap_or(5000));
        let min_healthy = self.spec.min_healthy.unwrap_or(1);
        let mut last = String::from("no look fitted in the time budget");
        for attempt in 1..=attempts {
            let tried = if attempts > 1 {
                format!(" (look {attempt}/{attempts})")
            } else {
                String::new()
            };
            match describe_targets(&self.context.clients.elbv2, &group.arn).await {
                Ok(targets) => match judge_targets(&targets, min_healthy) {
                    Ok(evidence) => {
                        return Outcome::pass(format!("{}: {evidence}{tried}", group.name));
                    }
                    Err(evidence) => last = format!("{}: {evidence}{tried}", group.name),
                },
                Err(error) => last = error.to_string(),
            }
            if attempt < attempts {
                if Instant::now() + interval >= deadline {
                    break;
                }
                tokio::time::sleep(interval).await;
            }
        }
        Outcome::fail(last)
    }
}

impl Check for TargetHealthCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn run(&self, deadline: Instant) -> BoxFuture<'_, Outcome> {
        Box::pin(self.look(deadline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(n: u8, state: &str, reason: Option<&str>) -> TargetState {
        TargetState {
            target: format!("10.0.0.{n}:3000"),
            state: state.into(),
            reason: reason.map(str::to_owned),
        }
    }

    #[test]
    fn judging_target_health() {
        let healthy = |n| target(n, "healthy", None);
        let cases: Vec<(Vec<TargetState>, u32, Result<&str, &str>)> = vec![
            (
                vec![healthy(1), healthy(2)],
                1,
                Ok("2/2 targets healthy (minHealthy 1)"),
            ),
            (
                vec![healthy(1), healthy(2)],
                2,
                Ok("2/2 targets healthy (minHealthy 2)"),
            ),
            (
                vec![healthy(1)],
                2,
                Err("1/1 targets healthy (minHealthy 2)"),
            ),
            (vec![], 1, Err("no targets registered (minHealthy 1)")),
            (vec![], 0, Ok("no targets registered (minHealthy 0)")),
            (
                vec![healthy(1), target(2, "unhealthy", Some("Target.Timeout"))],
                1,
                Err("1/2 targets healthy (minHealthy 1); 10.0.0.2:3000 unhealthy (Target.Timeout)"),
            ),
            (
                vec![target(1, "initial", Some("Elb.RegistrationInProgress"))],
                0,
                Err(
                    "0/1 targets healthy (minHealthy 0); 10.0.0.1:3000 initial (Elb.RegistrationInProgress)",
                ),
            ),
            (
                vec![
                    target(1, "draining", None),
                    target(2, "unhealthy", None),
                    target(3, "unhealthy", None),
                    target(4, "unused", None),
                    target(5, "unavailable", None),
                ],
                1,
                Err(
                    "0/5 targets healthy (minHealthy 1); 10.0.0.1:3000 draining, 10.0.0.2:3000 unhealthy, 10.0.0.3:3000 unhealthy and 2 more",
                ),
            ),
        ];
        for (targets, min, expected) in cases {
            let got = judge_targets(&targets, min);
            assert_eq!(
                got.as_ref().map(String::as_str).map_err(String::as_str),
                expected,
                "{targets:?} min {min}"
            );
        }
    }

    #[test]
    fn spec_defaults_and_validation() {
        let spec: TargetHealthSpec = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(spec.default_name(), "target-health replacement");
        assert!(spec.validate().is_ok());
        let spec: TargetHealthSpec =
            serde_json::from_value(serde_json::json!({"targetGroup": "original", "minHealthy": 3}))
                .unwrap();
        assert_eq!(spec.default_name(), "target-health original");
        for (value, field) in [
            (serde_json::json!({"minHealthy": 5000}), "minHealthy"),
            (serde_json::json!({"attempts": 0}), "attempts"),
            (serde_json::json!({"intervalMs": 900000}), "intervalMs"),
        ] {
            let spec: TargetHealthSpec = serde_json::from_value(value).unwrap();
            assert_eq!(spec.validate().unwrap_err().field, field);
        }
    }
}
