//! One `SdkConfig` for every client, with explicit time limits, and one way
//! to classify what the AWS SDK returns.
//!
//! The configuration is read from the standard environment variables, as
//! the SDK reads them ([`sdk_config`]): `AWS_ENDPOINT_URL` (and
//! `AWS_ENDPOINT_URL_<SERVICE>`) send every call to a local AWS in tests and
//! in the demo. Retries and time limits are chosen per function
//! ([`CallPolicy`]).

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig, timeout::TimeoutConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_runtime::env_config::EnvConfigValue;
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_async::time::SharedTimeSource;
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
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

pub use crate::config::{CallPolicy, Env, Retries, RetryMode, Timeouts};
use crate::error::{Classify, ErrorKind};
use std::sync::{Arc, OnceLock};

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

/// The one `SdkConfig` a function builds all its clients from, with the
/// function's retry and time limits, read from the environment Lambda gives
/// every function.
///
/// Region, credentials and endpoints come from the standard variables, as
/// the SDK reads them: `AWS_REGION` (or `AWS_DEFAULT_REGION`); the
/// credentials `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN` (the SDK's own environment provider, read on the first
/// call); `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` (the SDK's own
/// lookup, [`EnvConfigValue`]) unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`
/// is `true`; `AWS_USE_FIPS_ENDPOINT` and `AWS_USE_DUALSTACK_ENDPOINT`.
///
/// Built by hand rather than by `aws_config::defaults(..).load()`: in Lambda
/// the environment is the only source there is, and the loader also reads
/// the shared config and credentials files and links the provider chains for
/// profiles, web identity (an STS client), container and instance
/// credentials. Leaving them out takes that code out of every binary and
/// that work out of every cold start (see the README's benchmarks). To run a
/// function outside Lambda, put the settings in its environment (for a named
/// profile: `eval "$(aws configure export-credentials --format env)"`).
///
/// No network call is made here.
pub fn sdk_config(env: &Env, policy: &CallPolicy) -> SdkConfig {
    let region = env
        .optional("AWS_REGION")
        .or_else(|| env.optional("AWS_DEFAULT_REGION"))
        .map(|region| Region::new(region.to_owned()));
    if region.is_none() {
        tracing::warn!(
            variable = "AWS_REGION",
            "AWS_REGION is not set (Lambda always sets it): every AWS call will fail"
        );
    }
    let endpoints = EnvEndpoints::of(env);
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .http_client(BuiltOnFirstRequest::default_https())
        .retry_config(policy.retry_config())
        .timeout_config(policy.timeout_config())
        .sleep_impl(SharedAsyncSleep::new(TokioSleep::new()))
        .time_source(SharedTimeSource::default());
    if let Some(url) = endpoints.global() {
        builder = builder.endpoint_url(url);
    }
    builder = builder.service_config(endpoints);
    if let Some(fips) = env_bool(env, "AWS_USE_FIPS_ENDPOINT") {
        builder = builder.use_fips(fips);
    }
    if let Some(dual_stack) = env_bool(env, "AWS_USE_DUALSTACK_ENDPOINT") {
        builder = builder.use_dual_stack(dual_stack);
    }
    builder.build()
}

/// A boolean SDK setting: `true` or `false` in any case, as the SDK reads
/// them; anything else is ignored (the SDK's default applies).
fn env_bool(env: &Env, name: &str) -> Option<bool> {
    match env.optional(name)?.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        other => {
            tracing::warn!(variable = name, value = other, "not true or false: ignored");
            None
        }
    }
}

/// Endpoint URLs from the environment: `AWS_ENDPOINT_URL_<SERVICE>` before
/// `AWS_ENDPOINT_URL`, looked up by the SDK's own [`EnvConfigValue`] (the
/// rules of the SDKs' "service-specific endpoints" feature), none at all
/// when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is `true`.
#[derive(Debug, Clone)]
struct EnvEndpoints {
    env: aws_types::os_shim_internal::Env,
    ignored: bool,
}

impl EnvEndpoints {
    fn of(env: &Env) -> Self {
        EnvEndpoints {
            env: aws_types::os_shim_internal::Env::from(env.vars().clone()),
            ignored: env_bool(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") == Some(true),
        }
    }

    /// `AWS_ENDPOINT_URL`, for every service that has no URL of its own.
    fn global(&self) -> Option<String> {
        if self.ignored {
            return None;
        }
        self.env
            .get("AWS_ENDPOINT_URL")
            .ok()
            .filter(|url| !url.trim().is_empty())
    }
}

impl LoadServiceConfig for EnvEndpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        if self.ignored && key.env() == "AWS_ENDPOINT_URL" {
            return None;
        }
        EnvConfigValue::new()
            .env(key.env())
            .service_id(key.service_id())
            .load(&self.env, None)
            .map(|(value, _source)| value.into_owned())
            .filter(|value| !value.trim().is_empty())
    }
}

/// An SDK client built on its first use from the function's one
/// `SdkConfig`, for a client many invocations never need: every client built
/// at init is time each cold start pays (see the README's benchmarks).
/// Clones share the one client.
pub struct OnFirstUse<C> {
    sdk: SdkConfig,
    client: Arc<OnceLock<C>>,
    build: fn(&SdkConfig) -> C,
}

impl<C> OnFirstUse<C> {
    /// A client `build` makes from `sdk` when it is first asked for, such
    /// as `OnFirstUse::new(&sdk, aws_sdk_ecs::Client::new)`.
    pub fn new(sdk: &SdkConfig, build: fn(&SdkConfig) -> C) -> Self {
        OnFirstUse {
            sdk: sdk.clone(),
            client: Arc::new(OnceLock::new()),
            build,
        }
    }

    /// The client, built now if this is the first use.
    pub fn get(&self) -> &C {
        self.client.get_or_init(|| (self.build)(&self.sdk))
    }

    /// The `SdkConfig` the client is built from.
    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }
}

impl<C> Clone for OnFirstUse<C> {
    fn clone(&self) -> Self {
        OnFirstUse {
            sdk: self.sdk.clone(),
            client: Arc::clone(&self.client),
            build: self.build,
        }
    }
}

impl<C> std::fmt::Debug for OnFirstUse<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnFirstUse")
            .field("client", &std::any::type_name::<C>())
            .field("built", &self.client.get().is_some())
            .finish()
    }
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

    /// A failure that is not an SDK call's own: `detail` says what went wrong.
    pub fn other(
        action: impl Into<String>,
        resource: impl Into<String>,
        kind: ErrorKind,
        detail: impl Into<String>,
    ) -> Self {
        AwsError {
            action: action.into(),
            resource: resource.into(),
            kind,
            code: None,
            detail: detail.into(),
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
    fn a_client_on_first_use_is_built_once_and_shared_by_clones() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static BUILT: AtomicUsize = AtomicUsize::new(0);
        fn build(sdk: &SdkConfig) -> aws_sdk_ecs::Client {
            BUILT.fetch_add(1, Ordering::SeqCst);
            aws_sdk_ecs::Client::new(sdk)
        }
        let lazy = OnFirstUse::new(&offline_sdk_config("eu-west-1"), build);
        let clone = lazy.clone();
        assert_eq!(BUILT.load(Ordering::SeqCst), 0, "nothing is built up front");
        assert!(format!("{lazy:?}").contains("built: false"));
        let region = clone.get().config().region().map(|r| r.to_string());
        assert_eq!(region.as_deref(), Some("eu-west-1"));
        lazy.get();
        assert_eq!(
            BUILT.load(Ordering::SeqCst),
            1,
            "built once, for both clones"
        );
        assert!(format!("{lazy:?}").contains("built: true"));
    }

    /// The endpoint an ECS client and a CodeDeploy client are given, and the
    /// Region, for each environment.
    #[test]
    fn settings_come_from_the_environment_as_the_sdk_reads_them() {
        struct Case {
            name: &'static str,
            env: &'static [(&'static str, &'static str)],
            region: Option<&'static str>,
            ecs: Option<&'static str>,
            codedeploy: Option<&'static str>,
        }
        let cases = [
            Case {
                name: "lambda: region only",
                env: &[
                    ("AWS_REGION", "eu-west-1"),
                    ("AWS_DEFAULT_REGION", "us-east-1"),
                ],
                region: Some("eu-west-1"),
                ecs: None,
                codedeploy: None,
            },
            Case {
                name: "the default region when AWS_REGION is blank",
                env: &[("AWS_REGION", " "), ("AWS_DEFAULT_REGION", "us-east-1")],
                region: Some("us-east-1"),
                ecs: None,
                codedeploy: None,
            },
            Case {
                name: "no region",
                env: &[],
                region: None,
                ecs: None,
                codedeploy: None,
            },
            Case {
                name: "one endpoint for every service",
                env: &[
                    ("AWS_REGION", "eu-west-1"),
                    ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
                ],
                region: Some("eu-west-1"),
                ecs: Some("http://127.0.0.1:5000"),
                codedeploy: Some("http://127.0.0.1:5000"),
            },
            Case {
                name: "a service's own endpoint first",
                env: &[
                    ("AWS_REGION", "eu-west-1"),
                    ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
                    ("AWS_ENDPOINT_URL_ECS", "http://127.0.0.1:6000"),
                ],
                region: Some("eu-west-1"),
                ecs: Some("http://127.0.0.1:6000"),
                codedeploy: Some("http://127.0.0.1:5000"),
            },
            Case {
                name: "configured endpoints ignored",
                env: &[
                    ("AWS_REGION", "eu-west-1"),
                    ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
                    ("AWS_ENDPOINT_URL_ECS", "http://127.0.0.1:6000"),
                    ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"),
                ],
                region: Some("eu-west-1"),
                ecs: None,
                codedeploy: None,
            },
        ];
        // What each generated client asks of the SdkConfig (`From<&SdkConfig>`
        // in aws-sdk-ecs's config.rs): its service-specific endpoint by
        // service id and variable, else the global one.
        let endpoint = |sdk: &SdkConfig, service_id: &str| {
            let key = ServiceConfigKey::builder()
                .service_id(service_id)
                .env("AWS_ENDPOINT_URL")
                .profile("endpoint_url")
                .build()
                .unwrap();
            sdk.service_config()
                .and_then(|c| c.load_config(key))
                .or_else(|| sdk.endpoint_url().map(str::to_owned))
        };
        for case in cases {
            let sdk = sdk_config(
                &Env::from_pairs(case.env.iter().copied()),
                &CallPolicy::default(),
            );
            assert_eq!(
                sdk.region().map(|r| r.as_ref()),
                case.region,
                "{}",
                case.name
            );
            let ecs = aws_sdk_ecs::Config::from(&sdk);
            assert_eq!(
                ecs.region().map(|r| r.as_ref()),
                case.region,
                "{}",
                case.name
            );
            assert_eq!(
                endpoint(&sdk, "ECS").as_deref(),
                case.ecs,
                "{}: ECS",
                case.name
            );
            assert_eq!(
                endpoint(&sdk, "CodeDeploy").as_deref(),
                case.codedeploy,
                "{}: CodeDeploy",
                case.name
            );
            assert!(
                sdk.sleep_impl().is_some() && sdk.time_source().is_some(),
                "{}",
                case.name
            );
        }
    }
}
