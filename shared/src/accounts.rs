//! Workload accounts: the IAM roles a function assumes to act in accounts
//! other than its own.
//!
//! Images live in one "tools" account, where the functions run; services run
//! in workload accounts. Each workload account holds a role (the
//! `workload-account.yaml` template creates it) whose trust policy names the
//! function's role and an external id. The function is configured with
//! exactly the roles it may assume (`TARGET_ROLE_ARNS`) and the external id
//! (`TARGET_EXTERNAL_ID`); nothing an event says can add a role.
//!
//! Credentials come from STS `AssumeRole` (session name naming the function),
//! are cached for the life of the execution environment and renewed five
//! minutes before they expire. They are never logged: [`Credentials`]'s
//! `Debug` redacts them, and nothing here prints them.
//!
//! IAM (the function's role): `sts:AssumeRole` on exactly the target roles.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{
    ProvideCredentials, SharedCredentialsProvider, error::CredentialsError, future,
};
use tokio::sync::Mutex;

use crate::aws::AwsError;
use crate::config::{ConfigError, Env};
use crate::error::ErrorKind;

/// Credentials are renewed this long before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// An IAM role's ARN, `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`, with the
/// account it names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RoleArn {
    arn: String,
    account: String,
}

impl RoleArn {
    /// Checks the shape; the error says what is wrong.
    pub fn parse(arn: &str) -> Result<Self, String> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = parts[..] else {
            return Err(format!("{arn:?} is not an IAM role ARN"));
        };
        let name = resource.strip_prefix("role/").unwrap_or_default();
        let well_formed = prefix == "arn"
            && partition.starts_with("aws")
            && service == "iam"
            && region.is_empty()
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !name.is_empty()
            && !name.ends_with('/');
        if !well_formed {
            return Err(format!(
                "{arn:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"
            ));
        }
        Ok(RoleArn {
            arn: arn.to_owned(),
            account: account.to_owned(),
        })
    }

    /// The ARN.
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The 12-digit account ID the role is in.
    pub fn account(&self) -> &str {
        &self.account
    }
}

impl std::fmt::Display for RoleArn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.arn)
    }
}

/// The roles to assume and the external id to present, from
/// `TARGET_ROLE_ARNS` (role ARNs separated by commas or spaces, at most one
/// per account) and `TARGET_EXTERNAL_ID` (required with them; 2 to 1,224
/// characters of `[\w+=,.@:/-]`, as STS `AssumeRole` takes).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Targets {
    /// The roles, in the order given.
    pub roles: Vec<RoleArn>,
    external_id: Option<String>,
}

impl std::fmt::Debug for Targets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The external id is not a secret, but it is no log's business either.
        f.debug_struct("Targets")
            .field("roles", &self.roles)
            .field("external_id", &self.external_id.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Targets {
    /// Reads both variables; errors name the variable (and never repeat
    /// the external id).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let listed = env.optional("TARGET_ROLE_ARNS").unwrap_or_default();
        let mut roles: Vec<RoleArn> = Vec::new();
        for arn in listed
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let role =
                RoleArn::parse(arn).map_err(|e| ConfigError::invalid("TARGET_ROLE_ARNS", e))?;
            if let Some(other) = roles.iter().find(|r| r.account == role.account) {
                return Err(ConfigError::invalid(
                    "TARGET_ROLE_ARNS",
                    format!(
                        "{} and {} are both in account {}: one role per account",
                        other, role, role.account
                    ),
                ));
            }
            roles.push(role);
        }
        let external_id = env.optional("TARGET_EXTERNAL_ID").map(str::to_owned);
        match (&external_id, roles.is_empty()) {
            (None, false) => {
                return Err(ConfigError::invalid(
                    "TARGET_EXTERNAL_ID",
                    "required with TARGET_ROLE_ARNS: the workload roles' trust policies ask for it",
                ));
            }
            (Some(id), _) if !valid_external_id(id) => {
                return Err(ConfigError::invalid(
                    "TARGET_EXTERNAL_ID",
                    "must be 2 to 1224 characters of letters, digits and +=,.@:/-_",
                ));
            }
            _ => {}
        }
        Ok(Targets { roles, external_id })
    }

    /// Whether the function acts in workload accounts (else in its own).
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }
}

/// STS `AssumeRole`'s `ExternalId`: `[\w+=,.@:\/-]*` (`\w` as in Java: ASCII
/// letters, digits and `_`), 2 to 1,224 characters (the STS API model's
/// `externalIdType`).
fn valid_external_id(id: &str) -> bool {
    (2..=1224).contains(&id.chars().count())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || "+=,.@:/-".contains(c))
}

/// One workload account: its role, and an `SdkConfig` whose calls are
/// signed with the role's credentials.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The role assumed.
    pub role: RoleArn,
    /// The home configuration with the role's credentials.
    pub sdk: SdkConfig,
    credentials: Arc<AssumedRole>,
}

impl Workload {
    /// The workload account's ID.
    pub fn account(&self) -> &str {
        self.role.account()
    }

    /// The role's credentials, assumed now unless those held are good for
    /// five more minutes. The error names the role; nothing is called in
    /// the workload account without them.
    pub async fn credentials(&self) -> Result<Credentials, AwsError> {
        self.credentials.get().await
    }
}

/// A workload per target role, configured from `home` (no call is made
/// until [`Workload::credentials`] or a client needs them). `function`
/// names the session (`ecs-autopilot-<function>`), so CloudTrail in the
/// workload account says which function acted.
pub fn workloads(home: &SdkConfig, targets: &Targets, function: &str) -> Vec<Workload> {
    let sts = aws_sdk_sts::Client::new(home);
    targets
        .roles
        .iter()
        .map(|role| {
            let credentials = Arc::new(AssumedRole {
                sts: sts.clone(),
                role: role.clone(),
                external_id: targets.external_id.clone(),
                session_name: session_name(function),
                held: Mutex::new(None),
            });
            let sdk = home
                .to_builder()
                .credentials_provider(SharedCredentialsProvider::new(Provider(Arc::clone(
                    &credentials,
                ))))
                .build();
            Workload {
                role: role.clone(),
                sdk,
                credentials,
            }
        })
        .collect()
}

/// `ecs-autopilot-<function>`, within STS's 64 characters of `[\w+=,.@-]`.
fn session_name(function: &str) -> String {
    let name: String = format!("ecs-autopilot-{function}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    name
}

/// A role's credentials, assumed on first need and held until five minutes
/// before they expire.
#[derive(Debug)]
struct AssumedRole {
    sts: aws_sdk_sts::Client,
    role: RoleArn,
    external_id: Option<String>,
    session_name: String,
    held: Mutex<Option<Credentials>>,
}

impl AssumedRole {
    async fn get(&self) -> Result<Credentials, AwsError> {
        let mut held = self.held.lock().await;
        if let Some(credentials) = held.as_ref()
            && credentials
                .expiry()
                .is_some_and(|e| e > SystemTime::now() + RENEW_BEFORE)
        {
            return Ok(credentials.clone());
        }
        let resource = format!("role {}", self.role);
        let answer = self
            .sts
            .assume_role()
            .role_arn(self.role.as_str())
            .role_session_name(&self.session_name)
            .set_external_id(self.external_id.clone())
            .send()
            .await
            .map_err(|e| AwsError::new("assume", &resource, &e))?;
        let Some(issued) = answer.credentials() else {
            return Err(AwsError::missing_field("assume", resource, "Credentials"));
        };
        let expiry = SystemTime::try_from(*issued.expiration()).map_err(|_| {
            AwsError::other(
                "assume",
                &resource,
                ErrorKind::Unexpected,
                "the credentials' expiration is out of range",
            )
        })?;
        let credentials = Credentials::new(
            issued.access_key_id(),
            issued.secret_access_key(),
            Some(issued.session_token().to_owned()),
            Some(expiry),
            "AssumeRole",
        );
        tracing::info!(role = %self.role, session = %self.session_name, "assumed role");
        *held = Some(credentials.clone());
        Ok(credentials)
    }
}

/// The SDK's view of an [`AssumedRole`].
#[derive(Debug)]
struct Provider(Arc<AssumedRole>);

impl ProvideCredentials for Provider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.0.get().await.map_err(CredentialsError::provider_error)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn role_arns() {
        let ok = [
            (
                "arn:aws:iam::222222222222:role/ecs-autopilot",
                "222222222222",
            ),
            (
                "arn:aws:iam::222222222222:role/path/to/name",
                "222222222222",
            ),
            ("arn:aws-cn:iam::333333333333:role/x", "333333333333"),
        ];
        for (arn, account) in ok {
            assert_eq!(RoleArn::parse(arn).unwrap().account(), account, "{arn}");
        }
        let bad = [
            "",
            "arn:aws:iam::22222222222:role/short-account",
            "arn:aws:iam:eu-west-1:222222222222:role/regional",
            "arn:aws:iam::222222222222:user/alice",
            "arn:aws:iam::222222222222:role/",
            "arn:aws:sts::222222222222:assumed-role/r/s",
            "arn:aws:iam::2222222222xx:role/r",
            "role/r",
        ];
        for arn in bad {
            assert!(RoleArn::parse(arn).is_err(), "{arn}");
        }
    }

    #[test]
    fn targets_from_env() {
        let targets = Targets::from_env(&env(&[
            (
                "TARGET_ROLE_ARNS",
                "arn:aws:iam::222222222222:role/a, arn:aws:iam::333333333333:role/b",
            ),
            ("TARGET_EXTERNAL_ID", "ecs-autopilot-7f3a"),
        ]))
        .unwrap();
        assert_eq!(targets.roles.len(), 2);
        assert_eq!(targets.roles[1].account(), "333333333333");
        assert!(!format!("{targets:?}").contains("7f3a"));
        assert!(Targets::from_env(&env(&[])).unwrap().is_empty());
    }

    #[test]
    fn target_errors_name_the_variable() {
        let role = "arn:aws:iam::222222222222:role/a";
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("TARGET_ROLE_ARNS", role)], "TARGET_EXTERNAL_ID"),
            (
                &[
                    ("TARGET_ROLE_ARNS", "arn:aws:iam::1:role/a"),
                    ("TARGET_EXTERNAL_ID", "xx"),
                ],
                "TARGET_ROLE_ARNS",
            ),
            (
                &[
                    (
                        "TARGET_ROLE_ARNS",
                        "arn:aws:iam::222222222222:role/a arn:aws:iam::222222222222:role/b",
                    ),
                    ("TARGET_EXTERNAL_ID", "xx"),
                ],
                "TARGET_ROLE_ARNS",
            ),
            (
                &[("TARGET_ROLE_ARNS", role), ("TARGET_EXTERNAL_ID", "x")],
                "TARGET_EXTERNAL_ID",
            ),
            (
                &[
                    ("TARGET_ROLE_ARNS", role),
                    ("TARGET_EXTERNAL_ID", "has space"),
                ],
                "TARGET_EXTERNAL_ID",
            ),
        ];
        for (pairs, field) in cases {
            let error = Targets::from_env(&env(pairs)).unwrap_err().to_string();
            assert!(error.contains(field), "{pairs:?}: {error}");
            assert!(
                !error.contains("has space"),
                "the external id is never repeated: {error}"
            );
        }
    }

    #[test]
    fn session_names_fit_sts() {
        assert_eq!(
            session_name("redeploy-on-push"),
            "ecs-autopilot-redeploy-on-push"
        );
        let long = session_name(&"x".repeat(100));
        assert_eq!(long.len(), 64);
        assert_eq!(session_name("a b/c"), "ecs-autopilot-a-b-c");
    }

    #[test]
    fn external_ids_as_sts_takes_them() {
        assert!(valid_external_id("ab"));
        assert!(valid_external_id("arn:aws:x/y+z=1,2.3@4-5_6"));
        assert!(!valid_external_id("a"));
        assert!(!valid_external_id(&"a".repeat(1225)));
        assert!(!valid_external_id("no spaces"));
    }
}
