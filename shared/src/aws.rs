//! One `SdkConfig` for every client, with explicit time limits, and one way
//! to classify what the AWS SDK returns.
//!
//! Loading the configuration through `aws_config` is what makes the standard
//! `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) send every call to a
//! local AWS in tests and in the demo. Retries follow the SDK's standard mode
//! (3 attempts, or `AWS_MAX_ATTEMPTS`).

use std::time::Duration;

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
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

/// The SDK's time limits. The SDK sets none by default, so a hung connection
/// would otherwise eat a whole Lambda timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The whole operation, all attempts included (`AWS_OPERATION_TIMEOUT_SECS`, default 20 s).
    pub operation: Duration,
    /// One attempt (`AWS_ATTEMPT_TIMEOUT_SECS`, default 6 s).
    pub attempt: Duration,
    /// Establishing a connection (`AWS_CONNECT_TIMEOUT_SECS`, default 3 s).
    pub connect: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            operation: Duration::from_secs(20),
            attempt: Duration::from_secs(6),
            connect: Duration::from_secs(3),
        }
    }
}

impl Timeouts {
    /// Reads the three timeouts, each in seconds.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let default = Timeouts::default();
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

/// Loads the one `SdkConfig` a function builds all its clients from.
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
pub async fn load_sdk_config(timeouts: Timeouts) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(BuiltOnFirstRequest::default_https())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(timeouts.operation)
                .operation_attempt_timeout(timeouts.attempt)
                .connect_timeout(timeouts.connect)
                .build(),
        );
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
            detail: DisplayErrorContext(error).to_string(),
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
        let t = Timeouts::from_env(&env).unwrap();
        assert_eq!(t.operation, Duration::from_secs(10));
        assert_eq!(t.attempt, Duration::from_millis(2500));
        assert_eq!(t.connect, Timeouts::default().connect);
        let bad = Env::from_pairs([
            ("AWS_OPERATION_TIMEOUT_SECS", "1"),
            ("AWS_ATTEMPT_TIMEOUT_SECS", "2"),
        ]);
        assert!(Timeouts::from_env(&bad).is_err());
    }
}
