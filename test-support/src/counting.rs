//! An `SdkConfig` whose HTTP client counts every request a function's AWS
//! clients send, and answers each with a connection error: no endpoint is
//! ever contacted. Used by each function's `tests/bad_input.rs`, through
//! [`crate::bad_input`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::cases;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// Counts the requests of every client built from [`Requests::sdk_config`].
#[derive(Debug, Clone, Default)]
pub struct Requests(Arc<AtomicUsize>);

impl Requests {
    /// An `SdkConfig` in `region` whose requests are counted here. Retries
    /// are off, and the error is not a transient one (no retry either way).
    pub fn sdk_config(&self, region: &str) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            // Never contacted: the HTTP client below answers every request.
            .endpoint_url("http://127.0.0.1:9")
            .http_client(self.clone())
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new("test", "test", None, None, "test"),
                ),
            )
            .build()
    }

    /// The requests sent since the last call, and starts counting again.
    pub fn take(&self) -> usize {
        self.0.swap(0, Ordering::SeqCst)
    }
}

impl HttpConnector for Requests {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        self.0.fetch_add(1, Ordering::SeqCst);
        HttpConnectorFuture::ready(Err(ConnectorError::other(
            "counted, not sent: tests make no AWS call".into(),
            None,
        )))
    }
}

impl HttpClient for Requests {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// A current-thread runtime whose clock is paused: a handler that sleeps
/// (a bake, a check's interval, a rate limit) runs at once, so a property
/// over hundreds of invocations takes seconds.
pub fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a tokio runtime")
}

/// A Lambda context whose deadline is 30 s away, as Lambda gives.
pub fn context() -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    context.deadline = (std::time::SystemTime::now() + std::time::Duration::from_secs(30))
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    context
}

/// Runs `test` on `cases` inputs of `strategy` (`PROPTEST_CASES`
/// overrides, and must ask for at least one: see [`cases::config`]), and
/// fails with the smallest failing input.
#[track_caller]
pub fn check<S: proptest::strategy::Strategy>(
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), proptest::test_runner::TestCaseError>,
) {
    let mut runner = proptest::test_runner::TestRunner::new(cases::config(cases));
    if let Err(error) = runner.run(&strategy, test) {
        panic!("{error}");
    }
}
