//! `task-definition`: policies on the new task-definition revision.
//!
//! Parameters (all optional):
//! - `forbidLatest` (default true): no image may float on `:latest` (or on
//!   no tag at all, which means `latest`), unless it is pinned by digest.
//! - `requireDigest` (default false): every image is pinned by digest
//!   (`repo@sha256:...`).
//! - `requiredSecrets` (default none): these secret names (the environment
//!   variables ECS sets from Secrets Manager or SSM) are defined in at
//!   least one container.
//! - `essentialHealthChecks` (default false): every essential container
//!   has a container health check.
//!
//! The decision is a pure function of the revision. AWS calls: what the
//! deployment needs to describe the new revision
//! (`ecs:DescribeTaskDefinition`).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::common::{FieldError, timeout_from, validate_common};
use super::context::{CheckContext, Revision};
use super::engine::{Check, Outcome};
use crate::image::ImageRef;

/// The `task-definition` check's parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskDefinitionSpec {
    /// The check's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its time budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// Every image pinned by digest (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_digest: Option<bool>,
    /// No image on `:latest` unless pinned by digest (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forbid_latest: Option<bool>,
    /// Secret names that must be defined.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_secrets: Vec<String>,
    /// Every essential container has a health check (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub essential_health_checks: Option<bool>,
}

impl TaskDefinitionSpec {
    /// Checks the fields.
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_common(self.name.as_deref(), self.timeout_seconds)?;
        if let Some(index) = self
            .required_secrets
            .iter()
            .position(|s| s.trim().is_empty())
        {
            return Err(FieldError::new(
                format!("requiredSecrets[{index}]"),
                "must not be empty",
            ));
        }
        Ok(())
    }

    /// `task-definition`.
    pub fn default_name(&self) -> String {
        "task-definition".to_owned()
    }
}

/// The policy violations of `revision`, one phrase each; empty when it
/// complies.
pub fn policy_violations(spec: &TaskDefinitionSpec, revision: &Revision) -> Vec<String> {
    let mut violations = Vec::new();
    for container in &revision.containers {
        match ImageRef::parse(&container.image) {
            Err(error) => violations.push(format!("{}: {error}", container.name)),
            Ok(image) => {
                let pinned = image.digest().is_some();
                if spec.require_digest.unwrap_or(false) && !pinned {
                    violations.push(format!(
                        "{}: image {} is not pinned by digest",
                        container.name, container.image
                    ));
                } else if spec.forbid_latest.unwrap_or(true)
                    && !pinned
                    && image.tag().is_none_or(|tag| tag == "latest")
                {
                    violations.push(format!(
                        "{}: image {} floats on latest",
                        container.name, container.image
                    ));
                }
            }
        }
        if spec.essential_health_checks.unwrap_or(false)
            && container.essential
            && !container.health_check
        {
            violations.push(format!(
                "{}: essential container without a health check",
                container.name
            ));
        }
    }
    for secret in &spec.required_secrets {
        if !revision
            .containers
            .iter()
            .any(|c| c.secrets.iter().any(|s| s == secret))
        {
            violations.push(format!("secret {secret} is not defined"));
        }
    }
    violations
}

/// What the policy checked, for the evidence of a pass.
fn checked(spec: &TaskDefinitionSpec) -> String {
    let mut parts = Vec::new();
    if spec.require_digest.unwrap_or(false) {
        parts.push("images pinned by digest".to_owned());
    } else if spec.forbid_latest.unwrap_or(true) {
        parts.push("no image on latest".to_owned());
    }
    if !spec.required_secrets.is_empty() {
        parts.push(format!("secrets {}", spec.required_secrets.join(", ")));
    }
    if spec.essential_health_checks.unwrap_or(false) {
        parts.push("essential containers have health checks".to_owned());
    }
    if parts.is_empty() {
        "no policy enabled".to_owned()
    } else {
        parts.join("; ")
    }
}

/// The runnable `task-definition` check.
pub struct TaskDefinitionCheck {
    name: String,
    timeout: Duration,
    spec: TaskDefinitionSpec,
    context: Arc<CheckContext>,
}

impl TaskDefinitionCheck {
    /// The check named `name`.
    pub fn new(name: String, spec: TaskDefinitionSpec, context: Arc<CheckContext>) -> Self {
        TaskDefinitionCheck {
            name,
            timeout: timeout_from(spec.timeout_seconds),
            spec,
            context,
        }
    }

    async fn look(&self) -> Outcome {
        let revision = match self.context.deployment.revision().await {
            Ok(revision) => revision,
            Err(error) => return Outcome::fail(error.to_string()),
        };
        let violations = policy_violations(&self.spec, &revision);
        if violations.is_empty() {
            Outcome::pass(format!(
                "{}: {} containers comply ({})",
                revision.label(),
                revision.containers.len(),
                checked(&self.spec)
            ))
        } else {
            Outcome::fail(format!("{}: {}", revision.label(), violations.join("; ")))
        }
    }
}

impl Check for TaskDefinitionCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn run(&self, _deadline: Instant) -> BoxFuture<'_, Outcome> {
        Box::pin(self.look())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::context::Container;

    const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/api";

    fn container(
        name: &str,
        image: &str,
        essential: bool,
        secrets: &[&str],
        health: bool,
    ) -> Container {
        Container {
            name: name.into(),
            image: image.into(),
            essential,
            secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
            health_check: health,
        }
    }

    fn revision(containers: Vec<Container>) -> Revision {
        Revision {
            arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/api:8".into(),
            containers,
        }
    }

    #[test]
    fn policies_by_table() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let pinned = format!("{REPO}@{digest}");
        let latest_pinned = format!("{REPO}:latest@{digest}");
        let tagged = format!("{REPO}:v1.4.0");
        let latest = format!("{REPO}:latest");
        let spec = |json: serde_json::Value| -> TaskDefinitionSpec {
            serde_json::from_value(json).unwrap()
        };
        let cases: Vec<(TaskDefinitionSpec, Vec<Container>, Vec<&str>)> = vec![
            // Defaults: only forbidLatest.
            (
                spec(serde_json::json!({})),
                vec![container("api", &tagged, true, &[], false)],
                vec![],
            ),
            (
                spec(serde_json::json!({})),
                vec![container("api", &latest, true, &[], false)],
                vec![
                    "api: image 123456789012.dkr.ecr.us-east-1.amazonaws.com/team/api:latest floats on latest",
                ],
            ),
            (
                spec(serde_json::json!({})),
                vec![container("sidecar", "redis", false, &[], false)],
                vec!["sidecar: image redis floats on latest"],
            ),
            (
                spec(serde_json::json!({})),
                vec![container("api", &latest_pinned, true, &[], false)],
                vec![],
            ),
            (
                spec(serde_json::json!({"forbidLatest": false})),
                vec![container("api", &latest, true, &[], false)],
                vec![],
            ),
            // requireDigest.
            (
                spec(serde_json::json!({"requireDigest": true})),
                vec![container("api", &pinned, true, &[], false)],
                vec![],
            ),
            (
                spec(serde_json::json!({"requireDigest": true})),
                vec![container("api", &tagged, true, &[], false)],
                vec![
                    "api: image 123456789012.dkr.ecr.us-east-1.amazonaws.com/team/api:v1.4.0 is not pinned by digest",
                ],
            ),
            // requiredSecrets, in any container.
            (
                spec(serde_json::json!({"requiredSecrets": ["DATABASE_URL", "STRIPE_API_KEY"]})),
                vec![
                    container("api", &tagged, true, &["DATABASE_URL"], false),
                    container("worker", &tagged, false, &["STRIPE_API_KEY"], false),
                ],
                vec![],
            ),
            (
                spec(serde_json::json!({"requiredSecrets": ["DATABASE_URL", "REDIS_PASSWORD"]})),
                vec![container("api", &tagged, true, &["DATABASE_URL"], false)],
                vec!["secret REDIS_PASSWORD is not defined"],
            ),
            // essentialHealthChecks: non-essential containers are exempt.
            (
                spec(serde_json::json!({"essentialHealthChecks": true})),
                vec![
                    container("api", &tagged, true, &[], true),
                    container("log-router", &tagged, false, &[], false),
                ],
                vec![],
            ),
            (
                spec(serde_json::json!({"essentialHealthChecks": true})),
                vec![container("api", &tagged, true, &[], false)],
                vec!["api: essential container without a health check"],
            ),
            // An unparseable image is a violation, not a panic.
            (
                spec(serde_json::json!({})),
                vec![container("api", "Bad/Image", true, &[], false)],
                vec!["api: invalid repository \"Bad/Image\" in image reference \"Bad/Image\""],
            ),
        ];
        for (spec, containers, expected) in cases {
            let got = policy_violations(&spec, &revision(containers.clone()));
            assert_eq!(got, expected, "{spec:?} {containers:?}");
        }
    }

    #[test]
    fn validation_and_evidence() {
        let spec: TaskDefinitionSpec =
            serde_json::from_value(serde_json::json!({"requiredSecrets": ["A", " "]})).unwrap();
        assert_eq!(spec.validate().unwrap_err().field, "requiredSecrets[1]");
        let spec: TaskDefinitionSpec = serde_json::from_value(serde_json::json!({
            "requireDigest": true, "requiredSecrets": ["A"], "essentialHealthChecks": true
        }))
        .unwrap();
        assert_eq!(
            checked(&spec),
            "images pinned by digest; secrets A; essential containers have health checks"
        );
        assert_eq!(
            checked(&TaskDefinitionSpec {
                forbid_latest: Some(false),
                ..Default::default()
            }),
            "no policy enabled"
        );
    }
}
