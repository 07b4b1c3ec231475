//! Several AWS accounts in the local AWS: each account's administrator, the
//! credentials Lambda gives a function for its execution role, the workload
//! role of `workload-account.yaml`, and the sessions STS issued for a role.
//!
//! The local AWS holds `AssumeRole` to the role's trust policy
//! (`tests/localaws/sts_trust.py`), and moto serves each account's resources
//! apart: a call is served in the account its credentials belong to.

use std::collections::BTreeMap;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use serde::Deserialize;
use serde_json::{Value, json};

use super::localaws::{LocalAws, iam_action};
use crate::LambdaProcess;

/// Access keys, with the session token of temporary ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessKey {
    /// The access key ID.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    #[serde(default)]
    pub session_token: Option<String>,
}

/// A 12-digit account ID no other test uses.
pub fn unique_account() -> String {
    let digits: String = uuid::Uuid::new_v4()
        .as_u128()
        .to_string()
        .chars()
        .take(11)
        .collect();
    format!("9{digits}")
}

impl LocalAws {
    /// An `SdkConfig` in `region` signed with `key`.
    pub async fn sdk_config_as(&self, region: &str, key: &AccessKey) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(autopilot_shared::aws::BuiltOnFirstRequest::default_https())
            .region(Region::new(region.to_owned()))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_credential_types::Credentials::new(
                &key.access_key_id,
                &key.secret_access_key,
                key.session_token.clone(),
                None,
                "local-aws",
            ))
            .load()
            .await
    }

    /// The administrator of `account`: every call of this `SdkConfig` is
    /// served in that account.
    pub async fn admin_of(&self, account: &str, region: &str) -> SdkConfig {
        let answer = self
            .post_json("/_autopilot/accounts/admin", json!({ "account": account }))
            .await;
        let key: AccessKey = serde_json::from_value(answer).expect("administrator keys");
        self.sdk_config_as(region, &key).await
    }

    /// The credentials Lambda gives a function whose execution role is
    /// `role_arn` (the role's trust policy must let Lambda assume it).
    pub async fn lambda_credentials(&self, role_arn: &str) -> AccessKey {
        let answer = self
            .post_json(
                "/_autopilot/lambda/credentials",
                json!({ "roleArn": role_arn }),
            )
            .await;
        serde_json::from_value(answer).expect("function credentials")
    }

    /// The sessions STS issued for `role_arn`, with their credentials.
    pub async fn sessions_of(&self, role_arn: &str) -> Vec<Value> {
        let path = format!(
            "/_autopilot/sts/sessions?roleArn={}",
            url_encode_component(role_arn)
        );
        let answer: Value = self.get_json_value(&path).await;
        answer["sessions"].as_array().cloned().unwrap_or_default()
    }

    /// Every AWS call made with the credentials of `role_arn`'s sessions,
    /// as IAM actions, with their counts.
    pub async fn calls_in_sessions_of(&self, role_arn: &str) -> BTreeMap<String, u64> {
        let mut calls = BTreeMap::new();
        for session in self.sessions_of(role_arn).await {
            let key = session["accessKeyId"].as_str().expect("accessKeyId");
            for (call, count) in self.calls_of_key(key).await {
                *calls.entry(iam_action(&call)).or_insert(0) += count;
            }
        }
        calls
    }
}

fn url_encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Creates the role `name` with the trust policy `trust`; returns its ARN.
pub async fn create_role(iam: &aws_sdk_iam::Client, name: &str, trust: &str) -> String {
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create role {name}: {e:?}"))
        .role()
        .expect("the role")
        .arn()
        .to_owned()
}

/// A Lambda function's execution-role trust policy.
pub fn lambda_trust_policy() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

/// The trust policy `workload-account.yaml` gives redeploy-on-push's role,
/// with its parameters `ToolsFunctionRoleArn` and `ExternalId` filled in:
/// read from the template itself, so the tests trust exactly what users
/// deploy.
pub fn workload_trust_policy(tools_function_role: &str, external_id: &str) -> String {
    trust_policy_of(
        "WorkloadRole",
        "ToolsFunctionRoleArn",
        tools_function_role,
        external_id,
    )
}

/// The trust policy of `workload-account.yaml`'s scheduled-scaling role,
/// likewise (`ToolsScalingRoleArn`).
pub fn scaling_trust_policy(tools_scaling_role: &str, external_id: &str) -> String {
    trust_policy_of(
        "ScalingRole",
        "ToolsScalingRoleArn",
        tools_scaling_role,
        external_id,
    )
}

fn trust_policy_of(role: &str, parameter: &str, trusted: &str, external_id: &str) -> String {
    let path = format!("{}/../workload-account.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let template: serde_norway::Value =
        serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let document = &template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"];
    let parameters = [(parameter, trusted), ("ExternalId", external_id)];
    resolve_refs(document, &parameters).to_string()
}

/// A template fragment as JSON, each `!Ref P` replaced by `parameters`' value.
fn resolve_refs(value: &serde_norway::Value, parameters: &[(&str, &str)]) -> Value {
    use serde_norway::Value as Y;
    match value {
        Y::Tagged(tagged) if tagged.tag == "!Ref" => {
            let name = tagged.value.as_str().expect("!Ref names a parameter");
            let (_, value) = parameters
                .iter()
                .find(|(p, _)| *p == name)
                .unwrap_or_else(|| panic!("no value for parameter {name}"));
            json!(value)
        }
        Y::Tagged(tagged) => panic!("unexpected {} in the trust policy", tagged.tag),
        Y::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    (
                        k.as_str().expect("string keys").to_owned(),
                        resolve_refs(v, parameters),
                    )
                })
                .collect(),
        ),
        Y::Sequence(list) => {
            Value::Array(list.iter().map(|v| resolve_refs(v, parameters)).collect())
        }
        Y::String(s) => json!(s),
        Y::Number(n) => serde_json::to_value(n.as_f64()).unwrap_or(Value::Null),
        Y::Bool(b) => json!(b),
        Y::Null => Value::Null,
    }
}

/// Starts the named function binary signed with `key` (its execution role's
/// credentials), with its own variables in `extra`.
pub async fn start_function_as(
    local: &LocalAws,
    name: &str,
    region: &str,
    key: &AccessKey,
    extra: &[(&str, &str)],
) -> LambdaProcess {
    start_program_as(local, &crate::binary_path(name), region, key, extra).await
}

/// As [`start_function_as`], for the function binary at `program` (the
/// benchmarks' release builds).
pub async fn start_program_as(
    local: &LocalAws,
    program: &std::path::Path,
    region: &str,
    key: &AccessKey,
    extra: &[(&str, &str)],
) -> LambdaProcess {
    let mut env: Vec<(String, String)> = local
        .function_env(region)
        .into_iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_SESSION_TOKEN"
            )
        })
        .collect();
    env.push(("AWS_ACCESS_KEY_ID".into(), key.access_key_id.clone()));
    env.push((
        "AWS_SECRET_ACCESS_KEY".into(),
        key.secret_access_key.clone(),
    ));
    if let Some(token) = &key.session_token {
        env.push(("AWS_SESSION_TOKEN".into(), token.clone()));
    }
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    LambdaProcess::start(program, &env)
        .await
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()))
}
