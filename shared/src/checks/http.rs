//! `http`: a request to the deployment's test or production listener (or an
//! explicit URL), and what the response must look like.
//!
//! Parameters (camelCase in `CHECKS`):
//! - `listener`: `test` or `production` (the load balancer's DNS name, the
//!   listener's port and protocol), with `path` (default `/`); or `url`.
//! - `method` (default `GET`), `headers` (values are never logged).
//! - `status` (default 200), `bodyContains`, `jsonPointer` + `equals` (RFC
//!   6901 pointer into a JSON body, compared with any JSON value),
//!   `maxLatencyMs` (the whole response, body included).
//! - `attempts` (default 1) and `intervalMs` (default 1000): retried until a
//!   response passes, within the check's `timeoutSeconds`.
//!
//! Redirects are not followed (the check sees the redirect status). Host
//! pinning comes from `RESOLVE` (see [`super::resolve`]). Evidence names the
//! URL without its query string and, on failure only, at most a 120
//! character excerpt of the body.
//!
//! AWS calls (to resolve a listener): `elasticloadbalancing:DescribeListeners`,
//! `elasticloadbalancing:DescribeLoadBalancers`, plus what the deployment
//! needs to find its listeners.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use super::common::{FieldError, one_line, present, timeout_from, validate_common};
use super::context::{CheckContext, TrafficRole};
use super::engine::{Check, Outcome};
use super::prober::Fetched;

/// The longest body excerpt in evidence.
pub const EXCERPT_CHARS: usize = 120;

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// The `http` check's parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpSpec {
    /// The check's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its time budget, all attempts included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// An explicit URL (instead of `listener`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The listener to go through (instead of `url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener: Option<TrafficRole>,
    /// The path on the listener (default `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The method (default `GET`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Request headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The expected status (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// A substring the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// A JSON pointer into the body, compared with `equals`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_pointer: Option<String>,
    /// The value at `jsonPointer` (any JSON value, `null` included).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub equals: Option<Value>,
    /// The slowest acceptable response, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<u64>,
    /// Requests to send at most until one passes (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// Milliseconds between attempts (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u64>,
}

impl HttpSpec {
    /// A GET of `path` through `listener`, expecting 200.
    pub fn listener_path(listener: TrafficRole, path: &str) -> HttpSpec {
        HttpSpec {
            listener: Some(listener),
            path: Some(path.to_owned()),
            ..HttpSpec::default()
        }
    }

    /// Checks ranges and combinations.
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_common(self.name.as_deref(), self.timeout_seconds)?;
        match (&self.url, &self.listener) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new(
                    "url",
                    "give either url or listener, not both",
                ));
            }
            (None, None) => {
                return Err(FieldError::new(
                    "listener",
                    "give listener (test or production) and a path, or url",
                ));
            }
            (Some(url), None) => {
                let parsed = Url::parse(url)
                    .map_err(|e| FieldError::new("url", format!("invalid URL: {e}")))?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                    return Err(FieldError::new(
                        "url",
                        "must be an http or https URL with a host",
                    ));
                }
                if self.path.is_some() {
                    return Err(FieldError::new("path", "goes with listener; put it in url"));
                }
            }
            (None, Some(_)) => {}
        }
        if let Some(path) = &self.path
            && !path.starts_with('/')
        {
            return Err(FieldError::new("path", "must start with /"));
        }
        if let Some(method) = &self.method
            && !METHODS.contains(&method.as_str())
        {
            return Err(FieldError::new(
                "method",
                format!("expected one of {}", METHODS.join(", ")),
            ));
        }
        for (name, value) in &self.headers {
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(FieldError::new(
                    format!("headers.{name}"),
                    "invalid header name",
                ));
            }
            if HeaderValue::from_str(value).is_err() {
                return Err(FieldError::new(
                    format!("headers.{name}"),
                    "invalid header value",
                ));
            }
        }
        if let Some(status) = self.status
            && !(100..=599).contains(&status)
        {
            return Err(FieldError::new("status", "must be from 100 to 599"));
        }
        match (&self.json_pointer, &self.equals) {
            (Some(pointer), Some(_)) => {
                if !(pointer.is_empty() || pointer.starts_with('/')) {
                    return Err(FieldError::new(
                        "jsonPointer",
                        "must be empty or start with / (RFC 6901)",
                    ));
                }
            }
            (Some(_), None) => return Err(FieldError::new("equals", "needed with jsonPointer")),
            (None, Some(_)) => return Err(FieldError::new("jsonPointer", "needed with equals")),
            (None, None) => {}
        }
        if self.max_latency_ms == Some(0) {
            return Err(FieldError::new("maxLatencyMs", "must be more than 0"));
        }
        if let Some(attempts) = self.attempts
            && !(1..=100).contains(&attempts)
        {
            return Err(FieldError::new("attempts", "must be from 1 to 100"));
        }
        if let Some(interval) = self.interval_ms
            && interval > 600_000
        {
            return Err(FieldError::new("intervalMs", "must be at most 600000"));
        }
        Ok(())
    }

    /// `http GET /health via test listener`, or `http GET <url without query>`.
    pub fn default_name(&self) -> String {
        let method = self.method();
        match (&self.listener, &self.url) {
            (Some(listener), _) => format!(
                "http {method} {} via {} listener",
                self.path.as_deref().unwrap_or("/"),
                listener.as_str()
            ),
            (None, Some(url)) => format!(
                "http {method} {}",
                Url::parse(url).map(|u| display_url(&u)).unwrap_or_default()
            ),
            (None, None) => format!("http {method}"),
        }
    }

    fn method(&self) -> &str {
        self.method.as_deref().unwrap_or("GET")
    }

    fn expectation(&self) -> Expectation<'_> {
        Expectation {
            status: self.status.unwrap_or(200),
            body_contains: self.body_contains.as_deref(),
            json: self.json_pointer.as_deref().zip(self.equals.as_ref()),
            max_latency: self.max_latency_ms.map(Duration::from_millis),
        }
    }
}

/// What a response must look like.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation<'a> {
    /// The status.
    pub status: u16,
    /// A substring of the body.
    pub body_contains: Option<&'a str>,
    /// A JSON pointer and the value there.
    pub json: Option<(&'a str, &'a Value)>,
    /// The slowest acceptable response.
    pub max_latency: Option<Duration>,
}

/// Whether `response` meets `expectation`; the error says how it does not.
pub fn judge_response(expectation: &Expectation<'_>, response: &Fetched) -> Result<(), String> {
    if response.status != expectation.status {
        return Err(format!("expected status {}", expectation.status));
    }
    if let Some(max) = expectation.max_latency
        && response.latency > max
    {
        return Err(format!("slower than maxLatencyMs {}", max.as_millis()));
    }
    if let Some(needle) = expectation.body_contains
        && !response.body.contains(needle)
    {
        return Err(format!("body does not contain {:?}", one_line(needle, 60)));
    }
    if let Some((pointer, expected)) = expectation.json {
        let document: Value =
            serde_json::from_str(&response.body).map_err(|_| "body is not JSON".to_owned())?;
        match document.pointer(pointer) {
            None => return Err(format!("no value at {pointer}")),
            Some(found) if found != expected => {
                return Err(format!(
                    "{pointer} is {}, expected {}",
                    one_line(&found.to_string(), 60),
                    one_line(&expected.to_string(), 60)
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A URL as evidence shows it: without credentials or query string.
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    let had_query = shown.query().is_some();
    shown.set_query(None);
    shown.set_fragment(None);
    let mut text = shown.to_string();
    if had_query {
        text.push_str("?…");
    }
    text
}

/// The runnable `http` check.
pub struct HttpCheck {
    name: String,
    timeout: Duration,
    spec: HttpSpec,
    context: Arc<CheckContext>,
}

impl HttpCheck {
    /// The check named `name`.
    pub fn new(name: String, spec: HttpSpec, context: Arc<CheckContext>) -> Self {
        HttpCheck {
            name,
            timeout: timeout_from(spec.timeout_seconds),
            spec,
            context,
        }
    }

    async fn url(&self) -> Result<Url, String> {
        let text = match (&self.spec.url, self.spec.listener) {
            (Some(url), _) => url.clone(),
            (None, Some(role)) => self
                .context
                .deployment
                .listener(role)
                .await
                .map_err(|e| e.to_string())?
                .url(self.spec.path.as_deref().unwrap_or("/")),
            (None, None) => return Err("no url or listener".to_owned()),
        };
        Url::parse(&text).map_err(|e| format!("invalid URL {text}: {e}"))
    }

    async fn probe(&self, deadline: Instant) -> Outcome {
        let url = match self.url().await {
            Ok(url) => url,
            Err(error) => return Outcome::fail(error),
        };
        let method = self.spec.method();
        let shown = format!("{method} {}", display_url(&url));
        let attempts = self.spec.attempts.unwrap_or(1);
        let interval = Duration::from_millis(self.spec.interval_ms.unwrap_or(1000));
        let expectation = self.spec.expectation();
        let mut last = String::from("no attempt fitted in the time budget");
        for attempt in 1..=attempts {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let fetched = self
                .context
                .clients
                .http
                .fetch(method, &url, &self.spec.headers, deadline - now)
                .await;
            let tried = if attempts > 1 {
                format!(" (attempt {attempt}/{attempts})")
            } else {
                String::new()
            };
            match fetched {
                Ok(response) => {
                    let seen = format!(
                        "{shown} -> {} in {} ms{tried}",
                        response.status,
                        response.latency.as_millis()
                    );
                    match judge_response(&expectation, &response) {
                        Ok(()) => return Outcome::pass(seen),
                        Err(reason) => {
                            last = format!(
                                "{seen}: {reason}; body: {}",
                                one_line(&response.body, EXCERPT_CHARS)
                            );
                        }
                    }
                }
                Err(error) => last = format!("{shown}: {error}{tried}"),
            }
            if attempt < attempts {
                if Instant::now() + interval >= deadline {
                    break;
                }
                tokio::time::sleep(interval).await;
            }
        }
        Outcome::fail(last)
    }
}

impl Check for HttpCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn run(&self, deadline: Instant) -> BoxFuture<'_, Outcome> {
        Box::pin(self.probe(deadline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response(status: u16, latency_ms: u64, body: &str) -> Fetched {
        Fetched {
            status,
            latency: Duration::from_millis(latency_ms),
            body: body.into(),
        }
    }

    #[test]
    fn judging_responses() {
        let ok = json!("ok");
        let three = json!(3);
        let null = Value::Null;
        let base = Expectation {
            status: 200,
            body_contains: None,
            json: None,
            max_latency: None,
        };
        let healthy = r#"{"status":"ok","checks":{"db":3},"version":null}"#;
        let cases: Vec<(Expectation, Fetched, Result<(), &str>)> = vec![
            (base.clone(), response(200, 5, ""), Ok(())),
            (
                base.clone(),
                response(500, 5, "boom"),
                Err("expected status 200"),
            ),
            (
                Expectation {
                    status: 503,
                    ..base.clone()
                },
                response(503, 5, ""),
                Ok(()),
            ),
            (
                Expectation {
                    max_latency: Some(Duration::from_millis(100)),
                    ..base.clone()
                },
                response(200, 100, ""),
                Ok(()),
            ),
            (
                Expectation {
                    max_latency: Some(Duration::from_millis(100)),
                    ..base.clone()
                },
                response(200, 101, ""),
                Err("slower than maxLatencyMs 100"),
            ),
            (
                Expectation {
                    body_contains: Some("\"ok\""),
                    ..base.clone()
                },
                response(200, 5, healthy),
                Ok(()),
            ),
            (
                Expectation {
                    body_contains: Some("ready"),
                    ..base.clone()
                },
                response(200, 5, healthy),
                Err("body does not contain \"ready\""),
            ),
            (
                Expectation {
                    json: Some(("/status", &ok)),
                    ..base.clone()
                },
                response(200, 5, healthy),
                Ok(()),
            ),
            (
                Expectation {
                    json: Some(("/checks/db", &three)),
                    ..base.clone()
                },
                response(200, 5, healthy),
                Ok(()),
            ),
            (
                Expectation {
                    json: Some(("/version", &null)),
                    ..base.clone()
                },
                response(200, 5, healthy),
                Ok(()),
            ),
            (
                Expectation {
                    json: Some(("/status", &three)),
                    ..base.clone()
                },
                response(200, 5, healthy),
                Err("/status is \"ok\", expected 3"),
            ),
            (
                Expectation {
                    json: Some(("/missing", &ok)),
                    ..base.clone()
                },
                response(200, 5, healthy),
                Err("no value at /missing"),
            ),
            (
                Expectation {
                    json: Some(("/status", &ok)),
                    ..base.clone()
                },
                response(200, 5, "<html>"),
                Err("body is not JSON"),
            ),
            (
                // The status is judged first.
                Expectation {
                    json: Some(("/status", &ok)),
                    ..base.clone()
                },
                response(500, 5, healthy),
                Err("expected status 200"),
            ),
        ];
        for (expectation, fetched, expected) in cases {
            assert_eq!(
                judge_response(&expectation, &fetched)
                    .as_ref()
                    .copied()
                    .map_err(String::as_str),
                expected,
                "{expectation:?} {fetched:?}"
            );
        }
    }

    fn spec(value: Value) -> Result<HttpSpec, String> {
        let spec: HttpSpec = serde_json::from_value(value).map_err(|e| e.to_string())?;
        spec.validate().map(|()| spec).map_err(|e| e.to_string())
    }

    #[test]
    fn spec_validation_names_the_field() {
        let cases = [
            (json!({"listener": "test", "path": "/health"}), Ok(())),
            (
                json!({"url": "https://api.example.com/health?token=x"}),
                Ok(()),
            ),
            (
                json!({"listener": "test", "equals": null, "jsonPointer": ""}),
                Ok(()),
            ),
            (json!({}), Err("listener: give listener")),
            (
                json!({"url": "http://x/", "listener": "test"}),
                Err("url: give either"),
            ),
            (json!({"url": "ftp://x/"}), Err("url: must be an http")),
            (json!({"url": "not a url"}), Err("url: invalid URL")),
            (
                json!({"url": "http://x/", "path": "/a"}),
                Err("path: goes with listener"),
            ),
            (
                json!({"listener": "test", "path": "health"}),
                Err("path: must start with /"),
            ),
            (
                json!({"listener": "staging"}),
                Err("unknown variant `staging`"),
            ),
            (
                json!({"listener": "test", "method": "get"}),
                Err("method: expected one of"),
            ),
            (
                json!({"listener": "test", "status": 700}),
                Err("status: must be from 100"),
            ),
            (
                json!({"listener": "test", "jsonPointer": "/a"}),
                Err("equals: needed"),
            ),
            (
                json!({"listener": "test", "equals": 1}),
                Err("jsonPointer: needed"),
            ),
            (
                json!({"listener": "test", "jsonPointer": "a", "equals": 1}),
                Err("jsonPointer: must be empty"),
            ),
            (
                json!({"listener": "test", "attempts": 0}),
                Err("attempts: must be from 1"),
            ),
            (
                json!({"listener": "test", "intervalMs": 700000}),
                Err("intervalMs: must be at most"),
            ),
            (
                json!({"listener": "test", "maxLatencyMs": 0}),
                Err("maxLatencyMs: must be more"),
            ),
            (
                json!({"listener": "test", "headers": {"bad header": "x"}}),
                Err("headers.bad header: invalid header name"),
            ),
            (
                json!({"listener": "test", "headers": {"X-A": "a\nb"}}),
                Err("headers.X-A: invalid header value"),
            ),
        ];
        for (value, expected) in cases {
            let got = spec(value.clone()).map(|_| ());
            match expected {
                Ok(()) => assert!(got.is_ok(), "{value}: {got:?}"),
                Err(text) => {
                    let error = got.unwrap_err();
                    assert!(error.contains(text), "{value}: {error}");
                }
            }
        }
    }

    #[test]
    fn default_names_hide_query_strings() {
        let cases = [
            (
                json!({"listener": "test", "path": "/health"}),
                "http GET /health via test listener",
            ),
            (
                json!({"listener": "production"}),
                "http GET / via production listener",
            ),
            (
                json!({"url": "https://user:pw@api.example.com:8443/ready?token=s3cr3t", "method": "HEAD"}),
                "http HEAD https://api.example.com:8443/ready?…",
            ),
        ];
        for (value, name) in cases {
            assert_eq!(spec(value).unwrap().default_name(), name);
        }
    }
}
