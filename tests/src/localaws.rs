//! The local AWS the tests and the demo run against: moto server, extended
//! by `tests/localaws/server.py`, started by `scripts/localaws`.
//!
//! [`LocalAws::connect`] fails loudly when it is not up: an integration test
//! never skips.

use std::collections::BTreeMap;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_types::region::Region;
use serde::Deserialize;
use serde_json::{Value, json};

/// The account moto serves by default.
pub const ACCOUNT_ID: &str = "123456789012";
/// The Region the tests and the demo use unless a test needs its own.
pub const REGION: &str = "us-east-1";

/// A handle on the running local AWS.
#[derive(Clone)]
pub struct LocalAws {
    endpoint: String,
    http: reqwest::Client,
}

/// One recorded `PutLifecycleEventHookExecutionStatus` call.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HookStatusCall {
    /// The deployment.
    pub deployment_id: String,
    /// The hook execution.
    pub lifecycle_event_hook_execution_id: String,
    /// `Succeeded`, `Failed`, ...
    pub status: String,
    /// The lifecycle event, when the harness issued the execution id.
    pub lifecycle_event_name: Option<String>,
    /// The error code the call got, if it was rejected.
    pub error: Option<String>,
}

impl LocalAws {
    /// Connects to the local AWS named by `AWS_ENDPOINT_URL`.
    ///
    /// Panics when the variable is unset, names a non-loopback address, or
    /// nothing answers there.
    pub async fn connect() -> LocalAws {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
        assert!(
            !endpoint.is_empty(),
            "AWS_ENDPOINT_URL is not set: the local AWS is not up. Run the tests with ./scripts/test, which starts it."
        );
        assert!(
            endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
            "AWS_ENDPOINT_URL={endpoint} is not a loopback address: tests only ever talk to a local AWS"
        );
        let local = LocalAws {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            http: {
                autopilot_shared::checks::http::install_crypto_provider();
                reqwest::Client::new()
            },
        };
        let reachable = local.http.get(local.url("/_autopilot/calls")).send().await;
        assert!(
            matches!(&reachable, Ok(r) if r.status().is_success()),
            "the local AWS at {endpoint} does not answer ({reachable:?}): start it with ./scripts/test or scripts/localaws start"
        );
        local
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint)
    }

    /// An `SdkConfig` for the test's own calls, in `region`.
    pub async fn sdk_config(&self, region: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(autopilot_shared::aws::BuiltOnFirstRequest::default_https())
            .region(Region::new(region.to_owned()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_credential_types())
            .load()
            .await
    }

    /// The environment a function process gets: the Region, test
    /// credentials and the endpoint, as Lambda would set them. Each call
    /// makes a new access key ID, so the local AWS can count one process's calls.
    pub fn function_env(&self, region: &str) -> Vec<(String, String)> {
        let access_key = format!(
            "AKIA{}",
            uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase()
        );
        [
            ("AWS_REGION", region),
            ("AWS_DEFAULT_REGION", region),
            ("AWS_ACCESS_KEY_ID", access_key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_SESSION_TOKEN", "testing"),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Clears every resource in the local AWS (moto's reset), for the demo's fresh start.
    pub async fn reset(&self) {
        self.post_json("/moto-api/reset", json!({})).await;
        self.reset_calls().await;
    }

    /// AWS calls served since the last reset, by `service.Operation`.
    pub async fn calls(&self) -> BTreeMap<String, u64> {
        self.calls_path("/_autopilot/calls").await
    }

    /// The AWS calls one function process made, as IAM actions
    /// (`ecs:DescribeServices`), with their counts. Each process signs with
    /// its own access key ID (see [`crate::start_function`]).
    pub async fn calls_of(&self, process: &crate::LambdaProcess) -> BTreeMap<String, u64> {
        let key = process
            .env("AWS_ACCESS_KEY_ID")
            .expect("the process has an access key");
        self.calls_path(&format!("/_autopilot/calls?accessKey={key}"))
            .await
            .into_iter()
            .map(|(call, count)| (iam_action(&call), count))
            .collect()
    }

    async fn calls_path(&self, path: &str) -> BTreeMap<String, u64> {
        #[derive(Deserialize)]
        struct Calls {
            calls: BTreeMap<String, u64>,
        }
        let calls: Calls = self.get_json(path).await;
        calls.calls
    }

    /// Adds `milliseconds` of latency to every AWS request (0 turns it off),
    /// to model a real Region in benchmarks.
    pub async fn set_latency(&self, milliseconds: u64) {
        self.post_json("/_autopilot/latency", json!({ "ms": milliseconds }))
            .await;
    }

    /// Clears the call counts.
    pub async fn reset_calls(&self) {
        self.post_json("/_autopilot/calls/reset", json!({})).await;
    }

    /// The `PutLifecycleEventHookExecutionStatus` calls recorded for a deployment, in order.
    pub async fn hook_statuses(&self, deployment_id: &str) -> Vec<HookStatusCall> {
        self.get_json(&format!(
            "/_autopilot/codedeploy/hook-statuses?deploymentId={deployment_id}"
        ))
        .await
    }

    /// Starts lifecycle hook `hook` of a deployment (earlier ones succeed) and
    /// returns the hook execution id CodeDeploy would pass to the function.
    pub async fn start_lifecycle_hook(&self, deployment_id: &str, hook: &str) -> String {
        let answer = self
            .post_json(
                "/_autopilot/codedeploy/lifecycle",
                json!({"deploymentId": deployment_id, "hook": hook}),
            )
            .await;
        answer["lifecycleEventHookExecutionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no lifecycleEventHookExecutionId in {answer}"))
            .to_owned()
    }

    /// Moves a CodeDeploy deployment to `status` (moto leaves them `Created`).
    pub async fn set_deployment_status(&self, deployment_id: &str, status: &str) {
        self.post_json(
            "/_autopilot/codedeploy/status",
            json!({"deploymentId": deployment_id, "status": status}),
        )
        .await;
    }

    /// Every ECS service deployment of `service_arn` the harness recorded
    /// (one per CreateService/UpdateService that made a new revision),
    /// newest first, as `DescribeServiceDeployments` documents.
    pub async fn service_deployments(&self, service_arn: &str) -> Vec<Value> {
        let answer: Value = self
            .get_json(&format!(
                "/_autopilot/ecs/service-deployments?serviceArn={}",
                url_encode(service_arn)
            ))
            .await;
        answer["serviceDeployments"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Changes a recorded service deployment the way ECS would as it goes
    /// on: `changes` may set `status`, `lifecycleStage`, `rollback
    /// {reason, serviceRevisionArn}` and `targetWeights {test,
    /// production}`. Returns the updated document.
    pub async fn update_service_deployment(&self, arn: &str, changes: Value) -> Value {
        let mut body = changes;
        body["serviceDeploymentArn"] = json!(arn);
        self.post_json("/_autopilot/ecs/service-deployment", body)
            .await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let response = self
            .http
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "GET {path}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
    }

    async fn post_json(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST {path}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

fn aws_credential_types() -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(
        "testing",
        "testing",
        Some("testing".into()),
        None,
        "local-aws",
    )
}

/// `signing-name.Operation` as counted on the wire, to the IAM action
/// `service:Operation` (CloudWatch signs as `monitoring`).
pub fn iam_action(call: &str) -> String {
    let (service, operation) = call.split_once('.').unwrap_or((call, ""));
    let service = match service {
        "monitoring" => "cloudwatch",
        other => other,
    };
    format!("{service}:{operation}")
}

/// A name no other test uses: `prefix-<8 hex digits>`.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..8])
}

/// Percent-encodes a query value (ARNs carry `:` and `/`).
fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
