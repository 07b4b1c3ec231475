//! The events our functions receive, as typed values.
//!
//! Handlers take the raw JSON and call [`parse_event`], so that a malformed
//! event gives an error naming the bad field (`detail.image-digest: ...`)
//! instead of a generic deserialisation failure.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::collections::BTreeMap;

use crate::error::{Classify, ErrorKind};

pub use aws_lambda_events::codedeploy::CodeDeployLifecycleEvent;
pub use aws_lambda_events::eventbridge::EventBridgeEvent;

/// An event that does not have the shape its function expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {event} event: {path}: {reason}")]
pub struct EventError {
    /// Which event was expected.
    pub event: &'static str,
    /// The JSON path of the bad field (`.` for the whole document).
    pub path: String,
    /// What is wrong there.
    pub reason: String,
}

impl Classify for EventError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

/// Deserialises `value` into `T`, naming the path of the first bad field.
pub fn parse_event<T: DeserializeOwned>(
    event: &'static str,
    value: serde_json::Value,
) -> Result<T, EventError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        EventError {
            event,
            path,
            reason: error.into_inner().to_string(),
        }
    })
}

/// The `detail` of an EventBridge "ECR Image Action" event, and of an "ECR
/// Replication Action" event (the same members plus `source-account` and
/// `source-region`; EventBridge schema `aws.ecr@ECRReplicationAction`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct EcrImageAction {
    /// `PUSH` or `DELETE` (Image Action), `REPLICATE` (Replication Action).
    pub action_type: String,
    /// `SUCCESS` or `FAILURE`.
    pub result: String,
    /// The repository, such as `team/backend`.
    pub repository_name: String,
    /// The image manifest digest.
    pub image_digest: String,
    /// The pushed tag; absent or empty for a push by digest (a by-digest
    /// push, or the children of an image index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
    /// Replication: the account the image was replicated from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_account: Option<String>,
    /// Replication: the Region the image was replicated from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_region: Option<String>,
    /// The manifest media type, on newer events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_media_type: Option<String>,
    /// The artifact media type, on newer events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_media_type: Option<String>,
}

/// The EventBridge envelope around an [`EcrImageAction`].
pub type EcrImageEvent = EventBridgeEvent<EcrImageAction>;

/// The event ECS sends to a native blue/green, linear or canary lifecycle hook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsLifecycleHookEvent {
    /// Identifies this hook execution. Whether it stays the same across
    /// `IN_PROGRESS` re-invocations is not documented: nothing depends on it.
    pub execution_id: String,
    /// The stage, such as `POST_TEST_TRAFFIC_SHIFT`.
    pub lifecycle_stage: String,
    /// The service deployment ARN.
    pub resource_arn: String,
    /// What is being deployed, and the traffic weights.
    pub execution_details: EcsExecutionDetails,
    /// The hook's configuration from the service, or what a previous
    /// `IN_PROGRESS` answer returned.
    #[serde(default)]
    pub hook_details: serde_json::Value,
}

/// The `executionDetails` of an [`EcsLifecycleHookEvent`].
///
/// The weights are percentages and ECS models them as doubles: a canary
/// step goes in steps of 0.1 (`2.5` / `97.5`), a linear step is 3.0 to
/// 100.0, and a whole number may be written `5.0`. The guide's examples
/// leave both maps empty (`{}`) at `PRE_SCALE_UP`, `POST_SCALE_UP`,
/// `POST_TEST_TRAFFIC_SHIFT` and `POST_PRODUCTION_TRAFFIC_SHIFT`, so the
/// revisions of a deployment are never taken from their keys
/// (`DescribeServiceDeployments` names them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsExecutionDetails {
    /// The service ARN.
    pub service_arn: String,
    /// The service revision being deployed.
    pub target_service_revision_arn: String,
    /// Test traffic: service-revision ARN to percent (empty, `{}` or `null`,
    /// at the stages that carry none).
    #[serde(default, deserialize_with = "weights_or_null")]
    pub test_traffic_weights: BTreeMap<String, f64>,
    /// Production traffic: service-revision ARN to percent.
    #[serde(default, deserialize_with = "weights_or_null")]
    pub production_traffic_weights: BTreeMap<String, f64>,
}

/// A weight map, `null` read as empty; each weight a percentage from 0 to
/// 100 (a finite number, never NaN: JSON has none).
fn weights_or_null<'de, D>(deserializer: D) -> Result<BTreeMap<String, f64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let weights: Option<BTreeMap<String, f64>> = Option::deserialize(deserializer)?;
    let weights = weights.unwrap_or_default();
    if let Some((arn, weight)) = weights.iter().find(|(_, w)| !(0.0..=100.0).contains(*w)) {
        return Err(serde::de::Error::custom(format!(
            "the weight of {arn} is {weight}, not a percentage from 0 to 100"
        )));
    }
    Ok(weights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
        name: &str,
        event: &'static str,
    ) -> T {
        let parsed: T = parse_event(event, fixture(name)).unwrap();
        let reparsed: T = parse_event(event, serde_json::to_value(&parsed).unwrap()).unwrap();
        assert_eq!(parsed, reparsed, "{name}");
        parsed
    }

    #[test]
    fn ecr_push_fixture_round_trips() {
        let event: EcrImageEvent =
            round_trip("redeploy-on-push/push-latest.json", "ECR image action");
        assert_eq!(event.source, "aws.ecr");
        assert_eq!(event.detail_type, "ECR Image Action");
        assert_eq!(event.detail.action_type, "PUSH");
        assert_eq!(event.detail.image_tag.as_deref(), Some("latest"));
    }

    #[test]
    fn ecr_replication_and_by_digest_fixtures_round_trip() {
        let event: EcrImageEvent =
            round_trip("redeploy-on-push/replication.json", "ECR image action");
        assert_eq!(event.detail_type, "ECR Replication Action");
        assert_eq!(event.detail.action_type, "REPLICATE");
        assert_eq!(event.detail.source_region.as_deref(), Some("us-east-1"));
        let event: EcrImageEvent =
            round_trip("redeploy-on-push/push-by-digest.json", "ECR image action");
        assert_eq!(event.detail.image_tag, None);
    }

    #[test]
    fn ecr_delete_fixture_round_trips() {
        let event: EcrImageEvent = round_trip("redeploy-on-push/delete.json", "ECR image action");
        assert_eq!(event.detail.action_type, "DELETE");
    }

    #[test]
    fn codedeploy_fixture_round_trips() {
        let event: CodeDeployLifecycleEvent = round_trip(
            "codedeploy-hook/after-allow-test-traffic.json",
            "CodeDeploy lifecycle hook",
        );
        assert!(!event.deployment_id.is_empty());
    }

    #[test]
    fn ecs_hook_fixture_round_trips() {
        let event: EcsLifecycleHookEvent = round_trip(
            "ecs-deployment-hook/post-test-traffic-shift.json",
            "ECS lifecycle hook",
        );
        assert_eq!(event.lifecycle_stage, "POST_TEST_TRAFFIC_SHIFT");
    }

    #[test]
    fn ecs_hook_weights_are_percentages_as_numbers() {
        let event = |weights: serde_json::Value| {
            json!({
                "executionId": "e",
                "lifecycleStage": "PRODUCTION_TRAFFIC_SHIFT",
                "resourceArn": "d",
                "executionDetails": {
                    "serviceArn": "s",
                    "targetServiceRevisionArn": "green",
                    "testTrafficWeights": {},
                    "productionTrafficWeights": weights,
                },
            })
        };
        // (weights, parsed green and blue weights, or the error's part)
        type Expected = Result<(f64, f64), &'static str>;
        let cases: [(serde_json::Value, Expected); 8] = [
            (json!({"green": 2.5, "blue": 97.5}), Ok((2.5, 97.5))),
            (json!({"green": 5.0, "blue": 95.0}), Ok((5.0, 95.0))),
            (json!({"green": 100, "blue": 0}), Ok((100.0, 0.0))),
            (json!({"green": 33.3, "blue": 66.7}), Ok((33.3, 66.7))),
            (json!({}), Ok((0.0, 0.0))),
            (serde_json::Value::Null, Ok((0.0, 0.0))),
            (
                json!({"green": 100.5}),
                Err("not a percentage from 0 to 100"),
            ),
            (json!({"green": "5"}), Err("invalid type: string")),
        ];
        for (weights, expected) in cases {
            let parsed =
                parse_event::<EcsLifecycleHookEvent>("ECS lifecycle hook", event(weights.clone()));
            match (parsed, expected) {
                (Ok(event), Ok((green, blue))) => {
                    let production = &event.execution_details.production_traffic_weights;
                    assert_eq!(production.get("green").copied().unwrap_or(0.0), green);
                    assert_eq!(production.get("blue").copied().unwrap_or(0.0), blue);
                }
                (Err(error), Err(part)) => {
                    assert!(
                        error
                            .path
                            .starts_with("executionDetails.productionTrafficWeights"),
                        "{error}"
                    );
                    assert!(error.reason.contains(part), "{weights}: {error}");
                }
                (got, expected) => panic!("{weights}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn errors_name_the_bad_field() {
        let mut event = fixture("redeploy-on-push/push-latest.json");
        event["detail"]["image-digest"] = json!(42);
        let error = parse_event::<EcrImageEvent>("ECR image action", event).unwrap_err();
        assert_eq!(error.path, "detail.image-digest");
        assert!(
            error
                .to_string()
                .starts_with("malformed ECR image action event: detail.image-digest: invalid type"),
            "{error}"
        );

        let mut event = fixture("redeploy-on-push/push-latest.json");
        event["detail"]
            .as_object_mut()
            .unwrap()
            .remove("repository-name");
        let error = parse_event::<EcrImageEvent>("ECR image action", event).unwrap_err();
        assert_eq!(error.path, "detail");
        assert!(error.reason.contains("repository-name"), "{error}");
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
    }
}
