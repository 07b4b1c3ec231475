//! One `SdkConfig` for every client, with explicit time limits, and one way
//! to classify what the AWS SDK returns.
//!
//! Loading the configuration through `aws_config` is what makes the standard
//! `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) send every call to a
//! local AWS in tests and in the demo. Retries and time limits are chosen per
//! function ([`CallPolicy`]).

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

pub use crate::config::{CallPolicy, Retries, RetryMode, Timeouts};
use crate::error::{Classify, ErrorKind};

// The policy itself (a plain value, read from the environment) is config's;
// turning it into the SDK's configuration is this module's.
impl CallPolicy {
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
}
