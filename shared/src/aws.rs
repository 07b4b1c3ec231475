//! One `SdkConfig` for every client, with explicit time limits, and one way
//! to classify what the AWS SDK returns.
//!
//! Loading the configuration through `aws_config` is what makes the standard
//! `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) send every call to a
//! local AWS in tests and in the demo. Retries and time limits are chosen per
//! function ([`CallPolicy`]).

use std::time::Duration;

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig, timeout::TimeoutConfig};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::config::{ConfigError, Env};
use crate::error::{Classify, ErrorKind};

/// How a function's AWS calls are retried and timed out: chosen per function
/// (each function's `CALL_POLICY`, documented in the README), overridable by
/// the standard `AWS_RETRY_MODE` and `AWS_MAX_ATTEMPTS` and by our
/// `AWS_*_TIMEOUT_SECS`.
///
/// The SDK's defaults (standard mode, 3 attempts, 1 s to 20 s backoff, no
/// timeouts) suit none of them: a deployment function must ride out ECS
/// throttling, and a hook must answer before its deadline however AWS
/// behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallPolicy {
    /// Retries of a failed attempt (throttling, 5xx, timeouts, broken connections).
    pub retries: Retries,
    /// Time limits of an attempt and of the whole call.
    pub timeouts: Timeouts,
}

/// The SDK's retry strategy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retries {
    /// `AWS_RETRY_MODE`: `standard`, or `adaptive` (which also slows the
    /// client down while it is being throttled).
    pub mode: RetryMode,
    /// `AWS_MAX_ATTEMPTS`: attempts per call, the first included (1 to 10; 1 = no retries).
    pub max_attempts: u32,
    /// The first backoff; it doubles with each retry, with full jitter.
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
}

/// The SDK's retry modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryMode {
    /// Exponential backoff with jitter, and a retry quota.
    Standard,
    /// Standard, plus client-side rate limiting when throttled.
    Adaptive,
}

/// The SDK's time limits. The SDK sets none by default, so a hung connection
/// would otherwise eat a whole Lambda timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The whole call, all attempts and backoffs included (`AWS_OPERATION_TIMEOUT_SECS`).
    pub operation: Duration,
    /// One attempt (`AWS_ATTEMPT_TIMEOUT_SECS`).
    pub attempt: Duration,
    /// Establishing a connection (`AWS_CONNECT_TIMEOUT_SECS`).
    pub connect: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        CallPolicy::default().timeouts
    }
}

impl Default for CallPolicy {
    /// The SDK's standard mode with our time limits: 3 attempts, 1 s to
    /// 20 s backoff, 6 s an attempt, 20 s a call, 3 s to connect.
    fn default() -> Self {
        CallPolicy {
            retries: Retries {
                mode: RetryMode::Standard,
                max_attempts: 3,
                initial_backoff: Duration::from_secs(1),
                max_backoff: Duration::from_secs(20),
            },
            timeouts: Timeouts {
                operation: Duration::from_secs(20),
                attempt: Duration::from_secs(6),
                connect: Duration::from_secs(3),
            },
        }
    }
}

impl CallPolicy {
    /// For functions that change AWS resources in bulk against ECS's write
    /// limits (redeploy-on-push, scheduled-scaling): standard mode, six
    /// attempts with full-jitter backoff from 0.5 s to 10 s (about 20 s of
    /// throttling ridden out; `RegisterTaskDefinition` refills at 1 a second,
    /// service updates at 5), 10 s an attempt, 40 s a call, 3 s to connect.
    pub const WRITER: CallPolicy = CallPolicy {
        retries: Retries {
            mode: RetryMode::Standard,
            max_attempts: 6,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
        },
        timeouts: Timeouts {
            operation: Duration::from_secs(40),
            attempt: Duration::from_secs(10),
            connect: Duration::from_secs(3),
        },
    };

    /// For hooks, which must answer before a deadline whatever AWS does:
    /// three quick attempts (0.2 s to 2 s backoff), 5 s an attempt, 15 s a
    /// call, 2 s to connect. Their reads are cut off by the run deadline
    /// anyway, and a look that fails is looked at again.
    pub const HOOK: CallPolicy = CallPolicy {
        retries: Retries {
            mode: RetryMode::Standard,
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
        },
        timeouts: Timeouts {
            operation: Duration::from_secs(15),
            attempt: Duration::from_secs(5),
            connect: Duration::from_secs(2),
        },
    };
}

/// The most attempts `AWS_MAX_ATTEMPTS` may ask for.
const MAX_ATTEMPTS_LIMIT: u32 = 10;

impl CallPolicy {
    /// `defaults` overridden by the environment; errors name the variable.
    pub fn from_env(env: &Env, defaults: CallPolicy) -> Result<Self, ConfigError> {
        let mode = match env.optional("AWS_RETRY_MODE") {
            None => defaults.retries.mode,
            Some(mode) => match mode.to_ascii_lowercase().as_str() {
                "standard" => RetryMode::Standard,
                "adaptive" => RetryMode::Adaptive,
                // The SDK's third mode is not offered by the Rust SDK.
                _ => {
                    return Err(ConfigError::invalid(
                        "AWS_RETRY_MODE",
                        format!("{mode:?}: expected standard or adaptive"),
                    ));
                }
            },
        };
        let max_attempts = match env.parse::<u32>("AWS_MAX_ATTEMPTS")? {
            None => defaults.retries.max_attempts,
            Some(n) if (1..=MAX_ATTEMPTS_LIMIT).contains(&n) => n,
            Some(n) => {
                return Err(ConfigError::invalid(
                    "AWS_MAX_ATTEMPTS",
                    format!("{n}: expected 1 to {MAX_ATTEMPTS_LIMIT}"),
                ));
            }
        };
        Ok(CallPolicy {
            retries: Retries {
                mode,
                max_attempts,
                ..defaults.retries
            },
            timeouts: Timeouts::from_env(env, defaults.timeouts)?,
        })
    }

    /// The SDK's retry configuration.
    pub fn retry_config(&self) -> RetryConfig {
        let Retries {
            mode,
            max_attempts,
            initial_backoff,
            max_backoff,
        } = self.retries;
        let config = match mode {
            RetryMode::Standard => RetryConfig::standard(),
            RetryMode::Adaptive => RetryConfig::adaptive(),
        };
        config
            .with_max_attempts(max_attempts)
            .with_initial_backoff(initial_backoff)
            .with_max_backoff(max_backoff)
    }

    /// The SDK's timeout configuration.
    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .operation_timeout(self.timeouts.operation)
            .operation_attempt_timeout(self.timeouts.attempt)
            .connect_timeout(self.timeouts.connect)
            .build()
    }

    /// This policy for one call that must be over within `remaining` (a
    /// report before the invocation deadline): the whole call within
    /// `remaining`, each attempt within a third of it (so a hung attempt
    /// still leaves time for a retry), and backoffs short enough to fit.
    pub fn within(&self, remaining: Duration) -> CallPolicy {
        let floor = Duration::from_millis(100);
        let operation = remaining.min(self.timeouts.operation).max(floor);
        let attempt = (operation / 3).min(self.timeouts.attempt).max(floor);
        CallPolicy {
            retries: Retries {
                initial_backoff: self.retries.initial_backoff.min(attempt / 4),
                max_backoff: self.retries.max_backoff.min(attempt / 2),
                ..self.retries
            },
            timeouts: Timeouts {
                operation,
                attempt,
                connect: self.timeouts.connect.min(attempt),
            },
        }
    }
}

impl Timeouts {
    /// Reads the three timeouts, each in seconds, over `default`.
    pub fn from_env(env: &Env, default: Timeouts) -> Result<Self, ConfigError> {
        let timeouts = Timeouts {
            operation: env.seconds("AWS_OPERATION_TIMEOUT_SECS", default.operation)?,
            attempt: env.seconds("AWS_ATTEMPT_TIMEOUT_SECS", default.attempt)?,
            connect: env.seconds("AWS_CONNECT_TIMEOUT_SECS", default.connect)?,
        };
        if timeouts.attempt > timeouts.operation {
            return Err(ConfigError::invalid(
                "AWS_ATTEMPT_TIMEOUT_SECS",
                "must not exceed AWS_OPERATION_TIMEOUT_SECS",
            ));
        }
        Ok(timeouts)
    }
}

/// Loads the one `SdkConfig` a function builds all its clients from, with
/// the function's retry and time limits.
///
/// Region, credentials and endpoint come from the standard environment
/// (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, ..., `AWS_ENDPOINT_URL`), as Lambda
/// sets them. No network call is made here: credentials resolve lazily.
///
/// When the environment holds the Region and the credentials, as Lambda's
/// always does, they are read from it directly; otherwise the SDK's default
/// provider chains find them (profile files, web identity, container or
/// instance credentials). Reading them directly is what the chains would
/// resolve to in Lambda anyway (the environment comes first in both), but
/// building the credentials chain builds an STS client for web identity, and
/// every SDK client sets up its TLS connector (the platform's root
/// certificates, parsed) when it is built: skipping the chain saved about
/// 1.5 ms of each function's cold start (see the README's benchmarks).
pub async fn load_sdk_config(policy: &CallPolicy) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(BuiltOnFirstRequest::default_https())
        .retry_config(policy.retry_config())
        .timeout_config(policy.timeout_config());
    let sources = EnvSources::of(|name| std::env::var(name).ok());
    if sources.region {
        loader = loader.region(EnvironmentVariableRegionProvider::new());
    }
    if sources.credentials {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    loader.load().await
}

/// An `SdkConfig` whose endpoint refuses connections (`127.0.0.1:9`), with
/// no retries: for tests that must be answered before any AWS call, or whose
/// AWS calls must fail at once.
pub fn offline_sdk_config(region: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .endpoint_url("http://127.0.0.1:9")
        .http_client(BuiltOnFirstRequest::default_https())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("offline", "offline", None, None, "offline"),
            ),
        )
        .build()
}

/// The SDK's HTTPS client (hyper 1, rustls with ring, the platform's root
/// certificates), one for all the clients of a function,
/// whose TLS connector is built on the first request instead of when each
/// client is constructed.
///
/// Left to itself, every SDK client builds its own HTTPS client and, to load
/// the root certificates early, a TLS connector when it is constructed
/// (`validate_base_client_config`): parsing the platform's ~140 roots once per
/// client, at cold start, for clients that may never be used. Shared and
/// lazy, the roots are parsed once, by the first request that needs them,
/// and every client uses the same connection pool.
#[derive(Debug, Clone)]
pub struct BuiltOnFirstRequest(SharedHttpClient);

impl BuiltOnFirstRequest {
    /// The SDK's default HTTPS client, deferred.
    pub fn default_https() -> Self {
        BuiltOnFirstRequest(
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
    }
}

impl HttpClient for BuiltOnFirstRequest {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    // Not delegated: the inner client builds a TLS connector here.
    fn validate_base_client_config(
        &self,
        _: &RuntimeComponentsBuilder,
        _: &ConfigBag,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// Which settings the environment provides in full, so that their default
/// provider chains need not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EnvSources {
    /// `AWS_REGION` or `AWS_DEFAULT_REGION`.
    region: bool,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (the session token is optional).
    credentials: bool,
}

impl EnvSources {
    fn of(var: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| var(name).is_some_and(|v| !v.trim().is_empty());
        EnvSources {
            region: set("AWS_REGION") || set("AWS_DEFAULT_REGION"),
            credentials: set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY"),
        }
    }
}

/// A failed AWS call, naming what was being done to which resource.
#[derive(Debug, Clone, thiserror::Error)]
#[error("failed to {action} {resource}: {detail}")]
pub struct AwsError {
    action: String,
    resource: String,
    kind: ErrorKind,
    code: Option<String>,
    detail: String,
}

impl AwsError {
    /// Wraps an SDK error. `action` reads as a verb phrase ("describe
    /// services in"), `resource` names the resource ("cluster prod").
    pub fn new<E>(
        action: impl Into<String>,
        resource: impl Into<String>,
        error: &SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        AwsError {
            action: action.into(),
            resource: resource.into(),
            kind: classify(error),
            code: error.code().map(str::to_owned),
            detail: detail(error),
        }
    }

    /// An AWS answer that lacks a field we rely on.
    pub fn missing_field(
        action: impl Into<String>,
        resource: impl Into<String>,
        field: &str,
    ) -> Self {
        AwsError {
            action: action.into(),
            resource: resource.into(),
            kind: ErrorKind::Unexpected,
            code: None,
            detail: format!("the response has no {field}"),
        }
    }

    /// The modeled error code, such as `ServiceNotFoundException`.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }
}

impl Classify for AwsError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

// Error codes AWS services use for throttling. The SDK retries these itself;
// when they still surface, the attempts ran out and a later retry can help.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "LimitExceededException",
    "ServerException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalServiceError",
];

// Error codes that mean "the thing you named does not exist".
const NOT_FOUND_CODES: &[&str] = &[
    "ClusterNotFoundException",
    "ServiceNotFoundException",
    "RepositoryNotFoundException",
    "ImageNotFoundException",
    "TargetGroupNotFound",
    "LoadBalancerNotFound",
    "ListenerNotFound",
    "ResourceNotFound",
    "ResourceNotFoundException",
    "ObjectNotFoundException",
    "DeploymentDoesNotExistException",
    "DeploymentGroupDoesNotExistException",
    "ApplicationDoesNotExistException",
    "DeploymentTargetDoesNotExistException",
];

/// What an SDK error says, in one line: for an error AWS answered, its code
/// and message (`ClusterNotFoundException: Cluster not found.`), never the
/// SDK's debug dump of the response (headers, body, extensions); for one it
/// could not get an answer to (a timeout, a connection failure), the chain
/// of causes.
fn detail<E>(error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let SdkError::ServiceError(_) = error {
        match (error.code(), error.message()) {
            (Some(code), Some(message)) => return format!("{code}: {message}"),
            (Some(code), None) => return code.to_owned(),
            (None, Some(message)) => return message.to_owned(),
            (None, None) => {}
        }
    }
    DisplayErrorContext(error).to_string()
}

/// Classifies an SDK error by how a caller should react.
///
/// Timeouts, connection failures, unparseable responses (often an HTML 5xx
/// page), 5xx statuses and throttling codes are retryable; not-found codes
/// are `NotFound`; other 4xx are `Unexpected` (a permission missing, a
/// parameter AWS rejected): retrying the same event cannot fix them.
pub fn classify<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> ErrorKind {
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ErrorKind::Retryable
        }
        SdkError::ConstructionFailure(_) => ErrorKind::Unexpected,
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let code = error.code().unwrap_or_default();
            if status >= 500 || status == 429 || THROTTLING_CODES.contains(&code) {
                ErrorKind::Retryable
            } else if NOT_FOUND_CODES.contains(&code) {
                ErrorKind::NotFound
            } else {
                ErrorKind::Unexpected
            }
        }
        _ => ErrorKind::Unexpected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::operation::describe_services::DescribeServicesError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn service_error(status: u16, code: &str) -> SdkError<DescribeServicesError, HttpResponse> {
        let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        let error = DescribeServicesError::generic(
            ErrorMetadata::builder().code(code).message("boom").build(),
        );
        SdkError::service_error(error, raw)
    }

    #[test]
    fn an_aws_answer_is_its_code_and_message_not_a_dump() {
        let error = AwsError::new(
            "describe services in",
            "cluster prod",
            &service_error(400, "ClusterNotFoundException"),
        );
        assert_eq!(
            error.to_string(),
            "failed to describe services in cluster prod: ClusterNotFoundException: boom"
        );
        assert_eq!(error.code(), Some("ClusterNotFoundException"));
    }

    #[test]
    fn classification_table() {
        let cases = [
            (400, "ThrottlingException", ErrorKind::Retryable),
            (400, "Throttling", ErrorKind::Retryable),
            (429, "TooManyRequestsException", ErrorKind::Retryable),
            (500, "ServerException", ErrorKind::Retryable),
            (503, "ServiceUnavailable", ErrorKind::Retryable),
            (400, "ClusterNotFoundException", ErrorKind::NotFound),
            (400, "ServiceNotFoundException", ErrorKind::NotFound),
            (400, "AccessDeniedException", ErrorKind::Unexpected),
            (400, "InvalidParameterException", ErrorKind::Unexpected),
        ];
        for (status, code, expected) in cases {
            assert_eq!(
                classify(&service_error(status, code)),
                expected,
                "{status} {code}"
            );
        }
    }

    #[test]
    fn transport_failures_are_retryable() {
        let timeout: SdkError<DescribeServicesError, HttpResponse> =
            SdkError::timeout_error("attempt timed out");
        assert_eq!(classify(&timeout), ErrorKind::Retryable);
        let construction: SdkError<DescribeServicesError, HttpResponse> =
            SdkError::construction_failure("bad input");
        assert_eq!(classify(&construction), ErrorKind::Unexpected);
    }

    #[test]
    fn aws_error_names_action_resource_and_code() {
        let error = AwsError::new(
            "describe services in",
            "cluster prod",
            &service_error(400, "ClusterNotFoundException"),
        );
        assert_eq!(error.kind(), ErrorKind::NotFound);
        assert_eq!(error.code(), Some("ClusterNotFoundException"));
        let message = error.to_string();
        assert!(
            message.starts_with("failed to describe services in cluster prod: "),
            "{message}"
        );
        assert!(message.contains("boom"), "{message}");
    }

    #[test]
    fn env_sources_need_region_and_both_keys() {
        let of = |pairs: &[(&str, &str)]| {
            let env: std::collections::HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            EnvSources::of(|name| env.get(name).cloned())
        };
        let lambda = of(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]);
        assert_eq!(
            lambda,
            EnvSources {
                region: true,
                credentials: true
            }
        );
        assert!(of(&[("AWS_DEFAULT_REGION", "eu-west-1")]).region);
        assert!(!of(&[("AWS_REGION", " ")]).region);
        assert!(!of(&[("AWS_ACCESS_KEY_ID", "AKIA")]).credentials);
        assert!(!of(&[("AWS_ACCESS_KEY_ID", "AKIA"), ("AWS_SECRET_ACCESS_KEY", "")]).credentials);
        assert_eq!(
            of(&[]),
            EnvSources {
                region: false,
                credentials: false
            }
        );
    }

    #[test]
    fn timeouts_from_env() {
        let env = Env::from_pairs([
            ("AWS_OPERATION_TIMEOUT_SECS", "10"),
            ("AWS_ATTEMPT_TIMEOUT_SECS", "2.5"),
        ]);
        let t = Timeouts::from_env(&env, Timeouts::default()).unwrap();
        assert_eq!(t.operation, Duration::from_secs(10));
        assert_eq!(t.attempt, Duration::from_millis(2500));
        assert_eq!(t.connect, Timeouts::default().connect);
        let bad = Env::from_pairs([
            ("AWS_OPERATION_TIMEOUT_SECS", "1"),
            ("AWS_ATTEMPT_TIMEOUT_SECS", "2"),
        ]);
        assert!(Timeouts::from_env(&bad, Timeouts::default()).is_err());
    }

    #[test]
    fn call_policy_from_env() {
        let defaults = CallPolicy::default();
        let ok = [
            (vec![], defaults),
            (
                vec![("AWS_MAX_ATTEMPTS", "1")],
                CallPolicy {
                    retries: Retries {
                        max_attempts: 1,
                        ..defaults.retries
                    },
                    ..defaults
                },
            ),
            (
                vec![("AWS_RETRY_MODE", "Adaptive"), ("AWS_MAX_ATTEMPTS", "10")],
                CallPolicy {
                    retries: Retries {
                        mode: RetryMode::Adaptive,
                        max_attempts: 10,
                        ..defaults.retries
                    },
                    ..defaults
                },
            ),
        ];
        for (pairs, expected) in ok {
            let env = Env::from_pairs(pairs.iter().copied());
            assert_eq!(
                CallPolicy::from_env(&env, defaults),
                Ok(expected),
                "{pairs:?}"
            );
        }
        let bad = [
            ("AWS_MAX_ATTEMPTS", "0"),
            ("AWS_MAX_ATTEMPTS", "11"),
            ("AWS_MAX_ATTEMPTS", "three"),
            ("AWS_RETRY_MODE", "legacy"),
            ("AWS_CONNECT_TIMEOUT_SECS", "-1"),
        ];
        for (name, value) in bad {
            let err =
                CallPolicy::from_env(&Env::from_pairs([(name, value)]), defaults).expect_err(value);
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn a_call_within_a_deadline_leaves_room_for_a_retry() {
        let policy = CallPolicy::default();
        let cases = [
            // remaining, operation, attempt
            (
                Duration::from_secs(60),
                Duration::from_secs(20),
                Duration::from_secs(6),
            ),
            (
                Duration::from_secs(9),
                Duration::from_secs(9),
                Duration::from_secs(3),
            ),
            (
                Duration::from_secs(3),
                Duration::from_secs(3),
                Duration::from_secs(1),
            ),
            (
                Duration::ZERO,
                Duration::from_millis(100),
                Duration::from_millis(100),
            ),
        ];
        for (remaining, operation, attempt) in cases {
            let within = policy.within(remaining);
            assert_eq!(within.timeouts.operation, operation, "{remaining:?}");
            assert_eq!(within.timeouts.attempt, attempt, "{remaining:?}");
            assert!(within.timeouts.connect <= attempt);
            assert!(within.retries.max_backoff <= attempt / 2);
            assert_eq!(within.retries.max_attempts, policy.retries.max_attempts);
        }
    }
}
