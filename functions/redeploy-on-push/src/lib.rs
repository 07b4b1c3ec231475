//! `redeploy-on-push`: an image pushed to ECR rolls out to the ECS services
//! that track it.
//!
//! An adapter from the EventBridge "ECR Image Action" event to
//! [`autopilot_shared::redeploy`]: it filters the event, checks it, runs the
//! redeploy, logs and returns the summary, and publishes outcome metrics.

use std::collections::BTreeMap;

use autopilot_shared::HandlerError;
use autopilot_shared::aws::{AwsError, CallPolicy, load_sdk_config};
use autopilot_shared::config::{CommonConfig, ConfigError, Env};
use autopilot_shared::discovery::{ClusterScope, Pacing};
use autopilot_shared::error::{Classify, ErrorKind};
use autopilot_shared::events::{EcrImageAction, EventBridgeEvent, EventError, parse_event};
use autopilot_shared::image::ImageRefError;
use autopilot_shared::metrics::{DEFAULT_NAMESPACE, MetricSet};
use autopilot_shared::redeploy::appspec::ECS_HOOKS;
use autopilot_shared::redeploy::plan::PushedImage;
use autopilot_shared::redeploy::{Clients, Outcome, Settings, Summary, pushed_image, redeploy};
use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

/// How the function's AWS calls retry and time out (`AWS_RETRY_MODE`,
/// `AWS_MAX_ATTEMPTS` and `AWS_*_TIMEOUT_SECS` override it).
///
/// ECS throttles `RegisterTaskDefinition` at 1 a second after a burst of 20
/// and service updates at 5 a second after 50, per account and Region, shared
/// with every other caller: six attempts with full-jitter backoff from 0.5 s
/// to 10 s ride out about 20 s of throttling. One call gives up after 40 s, so
/// a service that cannot be reached is reported failed (and the event retried
/// by Lambda) well inside the 120 s function timeout.
pub const CALL_POLICY: CallPolicy = CallPolicy::WRITER;

/// Every IAM action the function needs: the API calls it makes, then the
/// actions AWS authorizes inside them (tagging a registered revision, passing
/// its roles, and what `CreateDeployment` checks). `template.yaml` grants
/// exactly these; a test compares the two, and another the calls made.
pub const IAM_ACTIONS: &[&str] = &[
    "ecs:ListClusters",
    "ecs:ListServices",
    "ecs:DescribeServices",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTaskDefinitions",
    "ecs:RegisterTaskDefinition",
    "ecs:UpdateService",
    "ecr:DescribeImages",
    "codedeploy:ListApplications",
    "codedeploy:ListDeploymentGroups",
    "codedeploy:GetDeploymentGroup",
    "codedeploy:ListDeployments",
    "codedeploy:GetDeployment",
    "codedeploy:CreateDeployment",
    // Authorized within the calls above.
    "ecs:TagResource",
    "iam:PassRole",
    "codedeploy:GetDeploymentConfig",
    "codedeploy:RegisterApplicationRevision",
];

/// The function's configuration, from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `DRY_RUN` and the SDK timeouts.
    pub common: CommonConfig,
    /// `CLUSTERS`: comma-separated cluster names or ARNs; every cluster when unset.
    pub scope: ClusterScope,
    /// `MAX_CONCURRENCY`: AWS reads in flight at once, 1 to 32 (default 8).
    pub concurrency: usize,
    /// `ECS_READ_RATE`: ECS reads a second after the burst, 1 to 100 (default 20).
    pub read_rate: f64,
    /// `ECS_READ_BURST`: ECS reads sent before pacing starts, 1 to 100 (default 50).
    pub read_burst: u32,
    /// `CODEDEPLOY_HOOKS`: a JSON object from AppSpec hook name to Lambda
    /// function name or ARN, put in the AppSpec of blue/green deployments.
    pub hooks: Vec<(String, String)>,
    /// `METRICS_NAMESPACE`: the CloudWatch namespace of the outcome metrics.
    pub metrics_namespace: String,
}

impl Config {
    /// Parses the environment; errors name the variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let Pacing {
            concurrency,
            read_rate,
            read_burst,
        } = Pacing::from_env(env)?;
        let hooks: BTreeMap<String, String> = env.json("CODEDEPLOY_HOOKS")?.unwrap_or_default();
        for (hook, function) in &hooks {
            if !ECS_HOOKS.contains(&hook.as_str()) {
                return Err(ConfigError::invalid(
                    format!("CODEDEPLOY_HOOKS.{hook}"),
                    format!(
                        "not an ECS lifecycle hook; expected one of {}",
                        ECS_HOOKS.join(", ")
                    ),
                ));
            }
            if function.trim().is_empty() {
                return Err(ConfigError::invalid(
                    format!("CODEDEPLOY_HOOKS.{hook}"),
                    "empty function name",
                ));
            }
        }
        Ok(Config {
            common: CommonConfig::from_env(env, CALL_POLICY)?,
            scope: ClusterScope::from_list(env.list("CLUSTERS")),
            concurrency,
            read_rate,
            read_burst,
            hooks: hooks.into_iter().collect(),
            metrics_namespace: env
                .optional("METRICS_NAMESPACE")
                .unwrap_or(DEFAULT_NAMESPACE)
                .to_owned(),
        })
    }

    fn settings(&self) -> Settings {
        Settings {
            scope: self.scope.clone(),
            concurrency: self.concurrency,
            read_rate: self.read_rate,
            read_burst: self.read_burst,
            hooks: self.hooks.clone(),
            dry_run: self.common.dry_run,
        }
    }
}

/// The function's state, built once at cold start.
pub struct Function {
    config: Result<Config, ConfigError>,
    sdk: SdkConfig,
    clients: Clients,
}

impl Function {
    /// Reads the configuration and builds the clients from one `SdkConfig`.
    /// A bad configuration is kept and reported by every invocation.
    pub async fn from_env(env: &Env) -> Self {
        let config = Config::from_env(env);
        let policy = config.as_ref().map_or(CALL_POLICY, |c| c.common.calls);
        let sdk = load_sdk_config(&policy).await;
        Function::new(sdk, config)
    }

    /// Builds the function from an `SdkConfig` and a parsed configuration.
    pub fn new(sdk: SdkConfig, config: Result<Config, ConfigError>) -> Self {
        let clients = Clients {
            ecs: aws_sdk_ecs::Client::new(&sdk),
            ecr: aws_sdk_ecr::Client::new(&sdk),
            codedeploy: aws_sdk_codedeploy::Client::new(&sdk),
        };
        Function {
            config,
            sdk,
            clients,
        }
    }

    /// Handles one event: returns the summary, or an error when a service
    /// failed (`Retryable` when a retry can help).
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        let config = self.config.as_ref().map_err(HandlerError::from_error)?;
        let pushed = match parse_push(event.payload).map_err(|e| HandlerError::from_error(&e))? {
            Push::Ignored(reason) => return Ok(ignored(reason)),
            Push::Image(pushed) => pushed,
        };
        let region = pushed.registry.region.clone();
        tracing::info!(
            repository = %pushed.repository,
            tag = pushed.tag.as_deref().unwrap_or("-"),
            digest = %pushed.digest,
            dry_run = config.common.dry_run,
            "image pushed"
        );

        // Images pushed in another Region are described there.
        let mut clients = self.clients.clone();
        if self.sdk.region().map(|r| r.as_ref()) != Some(region.as_str()) {
            let ecr = aws_sdk_ecr::config::Builder::from(&self.sdk)
                .region(aws_config::Region::new(region))
                .build();
            clients.ecr = aws_sdk_ecr::Client::from_conf(ecr);
        }
        let summary = redeploy(&clients, &config.settings(), pushed)
            .await
            .map_err(|e: AwsError| HandlerError::from_error(&e))?;
        publish(&summary, &config.metrics_namespace);
        outcome(summary)
    }
}

/// What an event asks for, as [`parse_push`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Push {
    /// Not a successful ECR push: nothing to deploy, and why.
    Ignored(String),
    /// A successful push of this image.
    Image(PushedImage),
}

/// Reads an EventBridge event as [`Function::handle`] does, before any AWS
/// call: the envelope, the detail, and the image (`account`, `region`,
/// repository, tag and digest checked). Errors are `InvalidInput` and name
/// the field (`detail.image-digest`, `account`, ...).
///
/// Deployed: a successful push (`ECR Image Action`, `action-type` `PUSH`),
/// and a successful replication into this event's Region (`ECR Replication
/// Action`, `action-type` `REPLICATE`, emitted in each destination Region
/// with the `source-account` and `source-region` it came from): the image
/// is then in this account's registry in this Region, and the services here
/// that track its tag roll out, with the same guarantees as a push.
///
/// [`Push::Ignored`], with the reason: events of another source or kind
/// (pull-through cache, scans, ...), other actions (`DELETE`, ...), results
/// other than `SUCCESS`, and pushes by digest (`image-tag` absent or empty,
/// as for by-digest pushes and the children of an image index): no service
/// tracks a digest, and an error would only retry into the dead-letter
/// queue.
pub fn parse_push(payload: Value) -> Result<Push, EventError> {
    let envelope: EventBridgeEvent<Value> = parse_event(EVENT, payload)?;
    let expected_action = match (envelope.source.as_str(), envelope.detail_type.as_str()) {
        ("aws.ecr", IMAGE_ACTION) => "PUSH",
        ("aws.ecr", REPLICATION_ACTION) => "REPLICATE",
        _ => {
            return Ok(Push::Ignored(format!(
                "not an ECR push or replication (source {:?}, detail-type {:?})",
                envelope.source, envelope.detail_type
            )));
        }
    };
    let detail: EcrImageAction = parse_event(EVENT, json!({ "detail": envelope.detail }))
        .map(|wrapped: Wrapped| wrapped.detail)?;
    if detail.action_type != expected_action || detail.result != "SUCCESS" {
        return Ok(Push::Ignored(format!(
            "{} {} of {}: only successful pushes and replications are deployed",
            detail.result, detail.action_type, detail.repository_name
        )));
    }
    let account = envelope
        .account
        .as_deref()
        .ok_or_else(|| invalid("account", "missing"))?;
    let region = envelope
        .region
        .as_deref()
        .ok_or_else(|| invalid("region", "missing"))?;
    // The registry host is built from these two: a bad one must be named,
    // not reported as an invalid registry of the repository.
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            "account",
            &format!("{account:?} is not a 12-digit AWS account ID"),
        ));
    }
    let region_chars = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    if region.is_empty() || !region.bytes().all(region_chars) {
        return Err(invalid(
            "region",
            &format!("{region:?} is not a Region such as eu-west-1"),
        ));
    }
    // ECR writes an empty `image-tag` as well as none for a push by digest.
    let tag = detail.image_tag.as_deref().filter(|t| !t.is_empty());
    let pushed = pushed_image(
        account,
        region,
        &detail.repository_name,
        tag,
        &detail.image_digest,
    )
    .map_err(|e| {
        let field = match e {
            ImageRefError::Digest { .. } => "detail.image-digest",
            ImageRefError::Tag { .. } => "detail.image-tag",
            _ => "detail.repository-name",
        };
        invalid(field, &e.to_string())
    })?;
    if pushed.tag.is_none() {
        return Ok(Push::Ignored(format!(
            "{} of {}@{} carries no tag (a push by digest, or a child of an image index): services track tags, so there is nothing to deploy",
            if expected_action == "PUSH" {
                "push"
            } else {
                "replication"
            },
            detail.repository_name,
            detail.image_digest
        )));
    }
    if let (Some(source_account), Some(source_region)) =
        (&detail.source_account, &detail.source_region)
    {
        tracing::info!(
            repository = %pushed.repository,
            source_account = %source_account,
            source_region = %source_region,
            region = %region,
            "image replicated into this Region"
        );
    }
    Ok(Push::Image(pushed))
}

/// The detail-type of an ECR push (and delete) event.
const IMAGE_ACTION: &str = "ECR Image Action";
/// The detail-type of an ECR replication event, in the destination Region.
const REPLICATION_ACTION: &str = "ECR Replication Action";

/// The event name in errors.
const EVENT: &str = "ECR image action";

#[derive(serde::Deserialize)]
struct Wrapped {
    detail: EcrImageAction,
}

fn invalid(field: &str, reason: &str) -> EventError {
    EventError {
        event: EVENT,
        path: field.to_owned(),
        reason: reason.to_owned(),
    }
}

fn ignored(reason: String) -> Value {
    tracing::info!(reason = %reason, "event ignored");
    json!({ "ignored": reason })
}

fn publish(summary: &Summary, namespace: &str) {
    let mut metrics = MetricSet::new(namespace, "Deployments", &["Function", "Outcome"]);
    for entry in &summary.services {
        tracing::info!(
            cluster = %entry.cluster,
            service = %entry.service,
            outcome = entry.outcome.as_str(),
            reason = %entry.reason,
            task_definition = entry.task_definition_arn.as_deref().unwrap_or("-"),
            deployment_id = entry.deployment_id.as_deref().unwrap_or("-"),
            "service"
        );
        metrics.add(&["redeploy-on-push", entry.outcome.as_str()]);
    }
    metrics.emit();
}

/// The summary as the response, or an error naming the failed services.
fn outcome(summary: Summary) -> Result<Value, HandlerError> {
    let value = serde_json::to_value(&summary).unwrap_or(Value::Null);
    tracing::info!(
        matched = summary.services.len(),
        deployed = summary.count(Outcome::Deployed),
        skipped = summary.count(Outcome::Skipped),
        failed = summary.count(Outcome::Failed),
        planned = summary.count(Outcome::Planned),
        summary = %value,
        "redeploy finished"
    );
    let Some(kind) = summary.error_kind else {
        return Ok(value);
    };
    let failures: Vec<String> = summary
        .services
        .iter()
        .filter(|s| s.outcome == Outcome::Failed)
        .map(|s| format!("{}/{}: {}", s.cluster, s.service, s.reason))
        .chain(summary.errors.iter().cloned())
        .collect();
    Err(HandlerError::from_error(&Failures { kind, failures }))
}

#[derive(Debug, thiserror::Error)]
#[error("{} failed: {}", failures.len(), failures.join("; "))]
struct Failures {
    kind: ErrorKind,
    failures: Vec<String>,
}

impl Classify for Failures {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn config_defaults() {
        let config = Config::from_env(&env(&[])).unwrap();
        assert_eq!(config.scope, ClusterScope::All);
        assert_eq!(config.concurrency, 8);
        assert!(config.hooks.is_empty());
        assert_eq!(config.metrics_namespace, "EcsAutopilot");
    }

    #[test]
    fn config_errors_name_the_variable() {
        let cases = [
            (("MAX_CONCURRENCY", "0"), "MAX_CONCURRENCY"),
            (("MAX_CONCURRENCY", "many"), "MAX_CONCURRENCY"),
            (("ECS_READ_RATE", "0"), "ECS_READ_RATE"),
            (("ECS_READ_BURST", "500"), "ECS_READ_BURST"),
            (("CODEDEPLOY_HOOKS", "[1]"), "CODEDEPLOY_HOOKS"),
            (
                ("CODEDEPLOY_HOOKS", r#"{"AfterInstal": "f"}"#),
                "CODEDEPLOY_HOOKS.AfterInstal",
            ),
            (
                ("CODEDEPLOY_HOOKS", r#"{"AfterInstall": " "}"#),
                "CODEDEPLOY_HOOKS.AfterInstall",
            ),
            (("DRY_RUN", "sometimes"), "DRY_RUN"),
        ];
        for ((name, value), field) in cases {
            let error = Config::from_env(&env(&[(name, value)])).unwrap_err();
            assert!(error.to_string().contains(field), "{name}={value}: {error}");
        }
    }

    #[test]
    fn config_reads_clusters_and_hooks() {
        let config = Config::from_env(&env(&[
            ("CLUSTERS", "prod, staging"),
            ("CODEDEPLOY_HOOKS", r#"{"AfterAllowTestTraffic": "CodeDeployHook_a", "BeforeInstall": "CodeDeployHook_b"}"#),
        ]))
        .unwrap();
        assert_eq!(
            config.scope,
            ClusterScope::Named(vec!["prod".into(), "staging".into()])
        );
        assert_eq!(config.hooks.len(), 2);
    }

    fn push(edit: impl FnOnce(&mut Value)) -> Result<Push, EventError> {
        sample("push-latest.json", edit)
    }

    fn sample(name: &str, edit: impl FnOnce(&mut Value)) -> Result<Push, EventError> {
        let path = format!(
            "{}/../../events/redeploy-on-push/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut event: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        edit(&mut event);
        parse_push(event)
    }

    #[test]
    fn parse_push_reads_the_sample_event() {
        let Ok(Push::Image(pushed)) = push(|_| {}) else {
            panic!("the sample is a push");
        };
        assert_eq!(pushed.registry.account_id, "123456789012");
        assert_eq!(pushed.registry.region, "us-east-1");
        assert_eq!(pushed.repository, "vahanhelp-backend");
        assert_eq!(pushed.tag.as_deref(), Some("latest"));
        let ignored = push(|e| e["detail"]["action-type"] = json!("DELETE"));
        assert!(matches!(ignored, Ok(Push::Ignored(_))), "{ignored:?}");
    }

    #[test]
    fn the_samples_deploy_or_are_ignored() {
        let Ok(Push::Image(replicated)) = sample("replication.json", |_| {}) else {
            panic!("the replication sample deploys");
        };
        assert_eq!(replicated.registry.region, "eu-west-1");
        let ignored = sample("push-by-digest.json", |_| {});
        assert!(
            matches!(&ignored, Ok(Push::Ignored(r)) if r.contains("carries no tag")),
            "{ignored:?}"
        );
    }

    /// Which events deploy, and which are acknowledged and ignored with
    /// their reason (never an error, which would retry into the DLQ).
    #[test]
    fn pushes_replications_and_what_is_ignored() {
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let replication: Edit = Box::new(|e| {
            e["detail-type"] = json!("ECR Replication Action");
            e["region"] = json!("eu-west-1");
            e["detail"]["action-type"] = json!("REPLICATE");
            e["detail"]["source-account"] = json!("210987654321");
            e["detail"]["source-region"] = json!("us-east-1");
        });
        // (edit, deployed in this Region, or the ignored reason's part)
        let cases: Vec<(Edit, Result<&str, &str>)> = vec![
            (Box::new(|_| {}), Ok("us-east-1")),
            (replication, Ok("eu-west-1")),
            (
                Box::new(|e| {
                    e["detail"].as_object_mut().unwrap().remove("image-tag");
                }),
                Err("carries no tag"),
            ),
            (
                Box::new(|e| e["detail"]["image-tag"] = json!("")),
                Err("carries no tag"),
            ),
            (
                Box::new(|e| e["detail"]["action-type"] = json!("REPLICATE")),
                Err("only successful pushes and replications"),
            ),
            (
                Box::new(|e| {
                    e["detail-type"] = json!("ECR Replication Action");
                    e["detail"]["result"] = json!("FAILURE");
                    e["detail"]["action-type"] = json!("REPLICATE");
                }),
                Err("only successful pushes and replications"),
            ),
            (
                Box::new(|e| e["detail-type"] = json!("ECR Pull Through Cache Action")),
                Err("not an ECR push or replication"),
            ),
        ];
        for (index, (edit, expected)) in cases.into_iter().enumerate() {
            match (push(edit), expected) {
                (Ok(Push::Image(pushed)), Ok(region)) => {
                    assert_eq!(pushed.registry.region, region, "case {index}");
                    assert_eq!(pushed.tag.as_deref(), Some("latest"), "case {index}");
                }
                (Ok(Push::Ignored(reason)), Err(part)) => {
                    assert!(reason.contains(part), "case {index}: {reason}");
                }
                (got, expected) => panic!("case {index}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    /// Regressions found by tests/bad_input.rs: a bad account or Region was
    /// reported as an invalid registry of `detail.repository-name`; a tag
    /// with a `/` was blamed on the repository; a repository with a `:tag`
    /// and no `image-tag`, or a tag with an `@digest`, was accepted.
    #[test]
    fn parse_push_names_the_bad_field() {
        let digest = format!("sha256:{}", "0".repeat(64));
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(Edit, &str)> = vec![
            (Box::new(|e| e["region"] = json!("")), "region"),
            (Box::new(|e| e["region"] = json!("Eu West 1")), "region"),
            (Box::new(|e| e["account"] = json!("12345")), "account"),
            (
                Box::new(|e| e["account"] = json!("abcdefghijkl")),
                "account",
            ),
            (
                Box::new(|e| e["detail"]["image-tag"] = json!("a/b")),
                "detail.image-tag",
            ),
            (
                Box::new(|e| e["detail"]["image-tag"] = json!("a:b")),
                "detail.image-tag",
            ),
            (
                Box::new(|e| e["detail"]["image-tag"] = json!("latest ")),
                "detail.image-tag",
            ),
            (
                Box::new(move |e| e["detail"]["image-tag"] = json!(format!("v1@{digest}"))),
                "detail.image-tag",
            ),
            (
                Box::new(|e| {
                    e["detail"]["repository-name"] = json!("a:b");
                    e["detail"].as_object_mut().unwrap().remove("image-tag");
                }),
                "detail.repository-name",
            ),
            (
                Box::new(|e| e["detail"]["repository-name"] = json!("backend ")),
                "detail.repository-name",
            ),
        ];
        for (edit, field) in cases {
            let error = push(edit).unwrap_err();
            assert_eq!(error.path, field, "{error}");
            assert_eq!(error.kind(), ErrorKind::InvalidInput);
        }
    }
}
