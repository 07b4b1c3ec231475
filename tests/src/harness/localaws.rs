//! The local AWS the tests and the demo run against: moto server, extended
//! by `tests/localaws/server.py`, started by `scripts/localaws`.
//!
//! [`LocalAws::connect`] fails loudly when it is not up: an integration test
//! never skips.

use std::collections::BTreeMap;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_types::region::Region;
use serde::{Deserialize, Serialize};
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

/// One invocation of a lifecycle hook, as the local AWS's model of ECS
/// makes it (see [`LocalAws::next_hook_invocation`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HookInvocation {
    /// The function to invoke (the hook's `hookTargetArn`).
    pub hook_target_arn: String,
    /// The hook execution's `hookId` in `lifecycleHookDetails`.
    pub hook_id: String,
    /// 1 for the first invocation of the hook execution, 2 for the first
    /// re-invocation after `IN_PROGRESS`, ...
    pub attempt: u32,
    /// Whether ECS is rolling the deployment back (the traffic-shift hooks
    /// invoked again with the weights reversed).
    pub rollback: bool,
    /// How long to wait before invoking: the `callBackDelay` of the
    /// `IN_PROGRESS` answer before (zero for a first invocation).
    pub call_back_delay: std::time::Duration,
    /// The event to invoke the function with.
    pub payload: Value,
    /// The service deployment, as `DescribeServiceDeployments` shows it now.
    pub deployment: Value,
}

impl HookInvocation {
    /// The payload's `executionId`.
    pub fn execution_id(&self) -> &str {
        self.payload["executionId"].as_str().unwrap_or_default()
    }

    /// The payload's `lifecycleStage`.
    pub fn stage(&self) -> &str {
        self.payload["lifecycleStage"].as_str().unwrap_or_default()
    }
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
                autopilot_shared::checks::prober::install_crypto_provider();
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

    /// An `SdkConfig` for the test's own calls, in `region`, signed with
    /// the access key ID `testing` that every test shares.
    pub async fn sdk_config(&self, region: &str) -> SdkConfig {
        self.sdk_config_with_key(region, "testing").await
    }

    /// An `SdkConfig` in `region` whose calls are signed with `access_key`
    /// (see [`new_access_key`]), so the local AWS counts them, and injects
    /// faults into them, apart from every other test's.
    pub async fn sdk_config_with_key(&self, region: &str, access_key: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(autopilot_shared::aws::BuiltOnFirstRequest::default_https())
            .region(Region::new(region.to_owned()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_credential_types::Credentials::new(
                access_key,
                "testing",
                Some("testing".into()),
                None,
                "local-aws",
            ))
            .load()
            .await
    }

    /// The environment a function process gets: the Region, test
    /// credentials and the endpoint, as Lambda would set them. Each call
    /// makes a new access key ID, so the local AWS can count one process's
    /// calls and inject faults into them alone.
    pub fn function_env(&self, region: &str) -> Vec<(String, String)> {
        let access_key = new_access_key();
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

    /// Clears every resource in the local AWS (moto's reset), the call
    /// counts and every injected fault, for the demo's fresh start.
    pub async fn reset(&self) {
        self.post_json("/moto-api/reset", json!({})).await;
        self.reset_calls().await;
        self.reset_faults().await;
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

    /// The AWS calls signed with `access_key`, as counted on the wire
    /// (`ecs.UpdateService`: signing name and operation), with their
    /// counts. A call is counted when it arrives, whether or not a fault
    /// kept it from being answered.
    pub async fn calls_of_key(&self, access_key: &str) -> BTreeMap<String, u64> {
        self.calls_path(&format!(
            "/_autopilot/calls?accessKey={}",
            url_encode(access_key)
        ))
        .await
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

    /// Makes the local AWS misbehave for one function process: its calls
    /// (signed with its own access key ID) get `rules`, evaluated in order,
    /// in place of any it had. Other processes and tests are not affected.
    /// Panics when the local AWS rejects a rule.
    pub async fn inject_faults(&self, process: &crate::LambdaProcess, rules: &[Fault]) {
        self.inject_faults_for_key(process_key(process), rules)
            .await;
    }

    /// Replaces the fault rules of the calls signed with `access_key` (an
    /// empty `rules` clears them and releases the calls they hang). `"*"`
    /// names every call whose key has no rules of its own, which includes
    /// every other test running at the same time: use it only in a test
    /// that runs alone.
    pub async fn inject_faults_for_key(&self, access_key: &str, rules: &[Fault]) {
        self.post_json(
            "/_autopilot/faults",
            json!({ "accessKey": access_key, "rules": rules }),
        )
        .await;
    }

    /// The fault rules of one function process, with how many of its calls
    /// each matched and how many faults each injected.
    pub async fn faults_of(&self, process: &crate::LambdaProcess) -> Vec<FaultReport> {
        self.faults_for_key(process_key(process)).await
    }

    /// The fault rules of `access_key`, with their counts.
    pub async fn faults_for_key(&self, access_key: &str) -> Vec<FaultReport> {
        #[derive(Deserialize)]
        struct Faults {
            rules: Vec<FaultReport>,
        }
        let faults: Faults = self
            .get_json(&format!(
                "/_autopilot/faults?accessKey={}",
                url_encode(access_key)
            ))
            .await;
        faults.rules
    }

    /// Clears one function process's fault rules and releases the calls
    /// they hang.
    pub async fn clear_faults(&self, process: &crate::LambdaProcess) {
        self.inject_faults(process, &[]).await;
    }

    /// Clears the fault rules of `access_key` and releases the calls they hang.
    pub async fn clear_faults_for_key(&self, access_key: &str) {
        self.inject_faults_for_key(access_key, &[]).await;
    }

    /// Clears every access key's fault rules and releases every hung call.
    pub async fn reset_faults(&self) {
        self.post_json("/_autopilot/faults/reset", json!({})).await;
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
    /// As in AWS, `PutLifecycleEventHookExecutionStatus` accepts only ids so
    /// issued (`InvalidLifecycleEventHookExecutionIdException` otherwise), and
    /// one report per id (`LifecycleEventAlreadyCompletedException` after).
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

    /// The next invocation ECS would make of a lifecycle hook of the service
    /// deployment `arn`, as the local AWS's deployment driver plans it from
    /// the deployment's configuration (`tests/localaws/ecs_deployments.py`
    /// documents the model and its sources); `None` once no hook invocation
    /// remains (the deployment `SUCCESSFUL`, `ROLLBACK_SUCCESSFUL`, ...).
    /// Stages without a hook are passed through. Asking again before
    /// answering gives the same invocation.
    pub async fn next_hook_invocation(&self, arn: &str) -> Option<HookInvocation> {
        let answer = self
            .post_json(
                "/_autopilot/ecs/hook-invocation",
                json!({ "serviceDeploymentArn": arn }),
            )
            .await;
        let invocation = &answer["invocation"];
        if invocation.is_null() {
            return None;
        }
        let text = |key: &str| {
            invocation[key]
                .as_str()
                .unwrap_or_else(|| panic!("no {key} in {invocation}"))
                .to_owned()
        };
        let delay = invocation["callBackDelay"].as_f64().unwrap_or(0.0).max(0.0);
        Some(HookInvocation {
            hook_target_arn: text("hookTargetArn"),
            hook_id: text("hookId"),
            attempt: invocation["attempt"].as_u64().unwrap_or(1) as u32,
            rollback: invocation["rollback"] == true,
            call_back_delay: std::time::Duration::from_secs_f64(delay),
            payload: invocation["payload"].clone(),
            deployment: answer["deployment"].clone(),
        })
    }

    /// Reports what the hook function did with an invocation of deployment
    /// `arn`: its response (`answer`), or a function error. The local AWS
    /// applies ECS's rules (`SUCCEEDED` advances; `IN_PROGRESS` invokes again
    /// after `callBackDelay`; `FAILED`, no valid `hookStatus` or a function
    /// error roll back) and answers the updated deployment.
    pub async fn hook_answer(
        &self,
        arn: &str,
        execution_id: &str,
        answer: Option<&Value>,
        function_error: Option<&str>,
    ) -> Value {
        let mut body = json!({
            "serviceDeploymentArn": arn,
            "executionId": execution_id,
            "answer": answer.cloned().unwrap_or(Value::Null),
        });
        if let Some(error) = function_error {
            body["functionError"] = json!(error);
        }
        self.post_json("/_autopilot/ecs/hook-answer", body).await
    }

    /// What ECS leaves undocumented, for deployment `arn`: whether the
    /// `hookDetails` of an `IN_PROGRESS` answer are merged into the next
    /// payload's (`merge`, the default) or replace them, and whether a
    /// re-invocation keeps its `executionId` (`same_execution_id`, the
    /// default) or gets a new one.
    pub async fn hook_options(&self, arn: &str, merge: bool, same_execution_id: bool) {
        self.post_json(
            "/_autopilot/ecs/hook-options",
            json!({
                "serviceDeploymentArn": arn,
                "hookDetailsOnInProgress": if merge { "merge" } else { "replace" },
                "executionIdOnReinvoke": if same_execution_id { "same" } else { "new" },
            }),
        )
        .await;
    }

    /// Makes the running hook of deployment `arn` time out now: it is
    /// `TIMED_OUT` and its `timeoutAction` is taken (`ROLLBACK` by default,
    /// or `CONTINUE`). Returns the updated deployment.
    pub async fn expire_hook(&self, arn: &str) -> Value {
        self.post_json(
            "/_autopilot/ecs/hook-timeout",
            json!({ "serviceDeploymentArn": arn }),
        )
        .await
    }

    /// The payload ECS sends a hook at `stage` of deployment `arn` (traffic
    /// step `step` of a linear or canary deployment, from 1; reversed
    /// weights when `rollback`), as the deployment driver builds it, with a
    /// fresh `executionId` and no `hookDetails`.
    pub async fn hook_payload(
        &self,
        arn: &str,
        stage: &str,
        step: Option<u32>,
        rollback: bool,
    ) -> Value {
        let mut body = json!({
            "serviceDeploymentArn": arn,
            "lifecycleStage": stage,
            "rollback": rollback,
        });
        if let Some(step) = step {
            body["step"] = json!(step);
        }
        let answer = self.post_json("/_autopilot/ecs/hook-payload", body).await;
        answer["payload"].clone()
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

    pub(crate) async fn get_json_value(&self, path: &str) -> Value {
        self.get_json(path).await
    }

    pub(crate) async fn post_json(&self, path: &str, body: Value) -> Value {
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

fn process_key(process: &crate::LambdaProcess) -> &str {
    process
        .env("AWS_ACCESS_KEY_ID")
        .expect("the process has an access key")
}

/// A fresh access key ID (`AKIA` and 16 random characters), as each function
/// process gets: the local AWS counts calls and scopes faults by it.
pub fn new_access_key() -> String {
    format!(
        "AKIA{}",
        uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase()
    )
}

/// What a [`Fault`] rule does to a call it selects. How each looks on the
/// wire, per protocol, is documented in `tests/localaws/faults.py`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// The protocol's throttling error: HTTP 400 (or 429) with
    /// `ThrottlingException` (awsJson, CBOR), `Throttling` (awsQuery) or
    /// `RequestLimitExceeded` (EC2).
    Throttle,
    /// A server error: HTTP 500 `InternalFailure` (`InternalError` over
    /// awsQuery) or 503 `ServiceUnavailable`.
    Error,
    /// A delay, after which the call is served as usual.
    Latency,
    /// No answer: the connection is reset (TCP RST).
    Reset,
    /// No answer for a while (or until the rules are cleared), then a reset.
    Hang,
}

/// One fault rule for [`LocalAws::inject_faults`], built fluently:
/// `Fault::throttle().service("ecs").operation("UpdateService").fraction(0.3)`.
///
/// A rule selects among the calls it matches (by signing name and
/// operation; any when unset): it skips the first [`after`](Fault::after),
/// then faults a [`fraction`](Fault::fraction) of the rest (evenly spread:
/// 0.3 faults the 4th, 7th and 10th; or at random with a
/// [`seed`](Fault::seed)), at most [`count`](Fault::count) times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    fault: FaultKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fraction: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
}

impl Fault {
    fn new(fault: FaultKind) -> Fault {
        Fault {
            fault,
            service: None,
            operation: None,
            status: None,
            code: None,
            ms: None,
            seconds: None,
            after: None,
            count: None,
            fraction: None,
            seed: None,
        }
    }

    /// Throttling: HTTP 400 with the protocol's throttling error code
    /// (see [`FaultKind::Throttle`]); [`status`](Fault::status) and
    /// [`code`](Fault::code) change them.
    pub fn throttle() -> Fault {
        Fault::new(FaultKind::Throttle)
    }

    /// A server error with HTTP `status` 500 or 503 (see [`FaultKind::Error`]).
    pub fn error(status: u16) -> Fault {
        Fault::new(FaultKind::Error).status(status)
    }

    /// `milliseconds` of delay before the call is served.
    pub fn latency(milliseconds: u64) -> Fault {
        Fault {
            ms: Some(milliseconds),
            ..Fault::new(FaultKind::Latency)
        }
    }

    /// The connection is reset without an answer.
    pub fn reset() -> Fault {
        Fault::new(FaultKind::Reset)
    }

    /// No answer for `seconds` (or until the rules are cleared), then a reset.
    pub fn hang(seconds: u64) -> Fault {
        Fault {
            seconds: Some(seconds),
            ..Fault::new(FaultKind::Hang)
        }
    }

    /// Only calls to this service, by SigV4 signing name: `ecs`, `ecr`,
    /// `codedeploy`, `elasticloadbalancing`, `monitoring` (CloudWatch),
    /// `application-autoscaling`, ...
    pub fn service(mut self, signing_name: &str) -> Fault {
        self.service = Some(signing_name.to_owned());
        self
    }

    /// Only calls of this operation (`UpdateService`).
    pub fn operation(mut self, operation: &str) -> Fault {
        self.operation = Some(operation.to_owned());
        self
    }

    /// The HTTP status: 400 or 429 for a throttle, 500 or 503 for an error.
    pub fn status(mut self, status: u16) -> Fault {
        self.status = Some(status);
        self
    }

    /// The error code in place of the protocol's default
    /// (`TooManyRequestsException`, `RequestLimitExceeded`, ...).
    pub fn code(mut self, code: &str) -> Fault {
        self.code = Some(code.to_owned());
        self
    }

    /// Lets the first `calls` matching calls through.
    pub fn after(mut self, calls: u64) -> Fault {
        self.after = Some(calls);
        self
    }

    /// Injects at most `faults` faults; then the rule is spent.
    pub fn count(mut self, faults: u64) -> Fault {
        self.count = Some(faults);
        self
    }

    /// Faults this fraction (0 < f <= 1) of the selected calls, evenly
    /// spread (call n is faulted when floor(n f) > floor((n - 1) f)).
    pub fn fraction(mut self, fraction: f64) -> Fault {
        self.fraction = Some(fraction);
        self
    }

    /// Picks the [`fraction`](Fault::fraction) at random instead,
    /// reproducibly: Python's `random.Random(seed)`, one draw per call.
    pub fn seed(mut self, seed: u64) -> Fault {
        self.seed = Some(seed);
        self
    }

    /// What the rule does.
    pub fn kind(&self) -> FaultKind {
        self.fault
    }
}

/// A fault rule as the local AWS holds it, with its counts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FaultReport {
    /// The rule as given.
    #[serde(flatten)]
    pub rule: Fault,
    /// Calls the rule's service and operation matched.
    pub matched: u64,
    /// Faults it injected.
    pub injected: u64,
}

/// `signing-name.Operation` as counted on the wire, to the IAM action
/// `service:Operation` (CloudWatch signs as `monitoring`).
pub fn iam_action(call: &str) -> String {
    let (service, operation) = call.split_once('.').unwrap_or((call, ""));
    let service = match service {
        "monitoring" => "cloudwatch",
        // The Resource Groups Tagging API signs as `tagging`; its IAM prefix is `tag`.
        "tagging" => "tag",
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
