//! The HTTP client seam of the checks: the one client the http checks send
//! through ([`HttpProber`]: rustls, no proxy, no redirects, the `RESOLVE`
//! pins), and the response as far as a check looks at it ([`Fetched`]).
//! [`super::context::Clients`] holds it; the `http` kind ([`super::http`])
//! judges what it fetched.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HOST, HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;

use super::common::one_line;
use super::resolve::Pins;

/// How much of a body is read for matching; the rest is ignored.
pub const BODY_LIMIT: usize = 256 * 1024;

/// A response, as far as the checks look at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The status code.
    pub status: u16,
    /// Time from sending to the end of the body (or of [`BODY_LIMIT`]).
    pub latency: Duration,
    /// The body, up to [`BODY_LIMIT`] bytes, lossily decoded.
    pub body: String,
}

/// How a request for `url` is sent given the pins: the URL actually
/// requested and the `Host` header to set.
///
/// With a `--connect-to` pin (another port), the URL's port is dropped, so
/// that the connection goes to the port the pinned address carries, and the
/// original `host:port` is kept in `Host` (and in the TLS server name, which
/// comes from the host).
pub fn pinned_request(url: &Url, pins: &Pins) -> (Url, Option<String>) {
    let Some(host) = url.host_str() else {
        return (url.clone(), None);
    };
    let Some(pin) = pins.find(host) else {
        return (url.clone(), None);
    };
    if pin.connect_port.is_none() {
        return (url.clone(), None);
    }
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let mut rewritten = url.clone();
    let _ = rewritten.set_port(None);
    (rewritten, Some(authority))
}

/// The one HTTP client of the http checks: rustls with the platform's
/// roots, no proxy, no redirects, the `RESOLVE` pins.
///
/// It is built on the first request, not at cold start: loading the root
/// certificates is the costliest part of building it, and a hook whose checks
/// make no HTTP request never pays for it. Clones share the one client.
#[derive(Debug, Clone)]
pub struct HttpProber {
    client: Arc<OnceLock<Result<reqwest::Client, String>>>,
    pins: Pins,
}

/// Makes rustls with ring the process's crypto provider, as reqwest (built
/// with `rustls-no-provider`) requires before a client is built: the one TLS
/// stack of every binary. Idempotent.
pub fn install_crypto_provider() {
    // An error only says that a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("failed to build the HTTP client of the http checks: {0}")]
pub struct HttpClientError(#[from] reqwest::Error);

impl HttpProber {
    /// A prober with the pins; the client is built on the first request.
    pub fn new(pins: Pins) -> HttpProber {
        HttpProber {
            client: Arc::new(OnceLock::new()),
            pins,
        }
    }

    fn client(&self) -> Result<&reqwest::Client, String> {
        self.client
            .get_or_init(|| {
                install_crypto_provider();
                let mut builder = reqwest::Client::builder()
                    .no_proxy()
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("ecs-autopilot-checks/", env!("CARGO_PKG_VERSION")))
                    .connect_timeout(Duration::from_secs(5));
                for pin in self.pins.iter() {
                    builder = builder.resolve(&pin.host, pin.target());
                }
                builder.build().map_err(|e| HttpClientError(e).to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The pins in use.
    pub fn pins(&self) -> &Pins {
        &self.pins
    }

    /// Sends one request and reads up to [`BODY_LIMIT`] of the body within
    /// `timeout`. The error is one line without the URL.
    pub async fn fetch(
        &self,
        method: &str,
        url: &Url,
        headers: &BTreeMap<String, String>,
        timeout: Duration,
    ) -> Result<Fetched, String> {
        let (target, host) = pinned_request(url, &self.pins);
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("invalid method {method}"))?;
        let mut header_map = HeaderMap::new();
        if let Some(host) = host
            && let Ok(value) = HeaderValue::from_str(&host)
        {
            header_map.insert(HOST, value);
        }
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                header_map.insert(name, value);
            }
        }
        let client = self.client()?;
        let started = Instant::now();
        let read = async {
            let mut response = client
                .request(method, target)
                .headers(header_map)
                .send()
                .await?;
            let status = response.status().as_u16();
            let mut body = Vec::new();
            while body.len() < BODY_LIMIT {
                match response.chunk().await? {
                    Some(chunk) => body.extend_from_slice(&chunk),
                    None => break,
                }
            }
            body.truncate(BODY_LIMIT);
            Ok::<_, reqwest::Error>((status, body))
        };
        match tokio::time::timeout(timeout, read).await {
            Err(_) => Err(format!("no response within {} ms", timeout.as_millis())),
            Ok(Err(error)) => Err(describe_error(&error)),
            Ok(Ok((status, body))) => Ok(Fetched {
                status,
                latency: started.elapsed(),
                body: String::from_utf8_lossy(&body).into_owned(),
            }),
        }
    }
}

fn describe_error(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = String::from(if error.is_connect() {
        "connection failed"
    } else if error.is_timeout() {
        "timed out"
    } else {
        "request failed"
    });
    let mut source = error.source();
    let mut last = String::new();
    while let Some(cause) = source {
        let message = cause.to_string();
        if message != last {
            text.push_str(": ");
            text.push_str(&message);
        }
        last = message;
        source = cause.source();
    }
    one_line(&text, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_requests_keep_the_host() {
        let pins =
            Pins::parse("alb.example:8080:127.0.0.1:41234,api.example:443:10.0.0.1").unwrap();
        let cases = [
            (
                "http://alb.example:8080/health",
                "http://alb.example/health",
                Some("alb.example:8080"),
            ),
            (
                "http://ALB.example/x",
                "http://alb.example/x",
                Some("alb.example"),
            ),
            // A --resolve pin keeps the URL: the resolver supplies the address.
            (
                "https://api.example/ready",
                "https://api.example/ready",
                None,
            ),
            (
                "http://other.example:8080/",
                "http://other.example:8080/",
                None,
            ),
        ];
        for (url, requested, host) in cases {
            let (target, header) = pinned_request(&Url::parse(url).unwrap(), &pins);
            assert_eq!(target.as_str(), requested, "{url}");
            assert_eq!(header.as_deref(), host, "{url}");
        }
    }

    #[tokio::test]
    async fn fetch_goes_to_the_pinned_address_with_the_original_host() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0; 4096];
            let n = socket.read(&mut request).await.unwrap();
            let request = String::from_utf8_lossy(&request[..n]).to_string();
            let body = r#"{"status":"ok"}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(answer.as_bytes()).await.unwrap();
            request
        });
        let pins = Pins::parse(&format!("my-alb.elb.example:8080:127.0.0.1:{port}")).unwrap();
        let prober = HttpProber::new(pins);
        let url = Url::parse("http://my-alb.elb.example:8080/health").unwrap();
        let headers = BTreeMap::from([("X-Check".to_owned(), "yes".to_owned())]);
        let fetched = prober
            .fetch("GET", &url, &headers, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(fetched.status, 200);
        assert_eq!(fetched.body, r#"{"status":"ok"}"#);
        let request = server.await.unwrap().to_ascii_lowercase();
        assert!(request.starts_with("get /health http/1.1"), "{request}");
        assert!(
            request.contains("host: my-alb.elb.example:8080\r\n"),
            "{request}"
        );
        assert!(request.contains("x-check: yes\r\n"), "{request}");
    }

    #[tokio::test]
    async fn redirects_are_never_followed_to_another_host_or_the_same() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Another host, which must never hear from the check.
        let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let elsewhere_port = elsewhere.local_addr().unwrap().port();
        let reached = tokio::spawn(async move {
            tokio::time::timeout(Duration::from_millis(500), elsewhere.accept())
                .await
                .is_ok()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let locations = [
            format!("http://localhost:{elsewhere_port}/collect?token=s3cr3t"),
            "/health/".to_owned(),
        ];
        let server = tokio::spawn(async move {
            for location in locations {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut request = vec![0; 4096];
                let _ = socket.read(&mut request).await.unwrap();
                let answer = format!(
                    "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                socket.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        let prober = HttpProber::new(Pins::none());
        let url = Url::parse(&format!("http://127.0.0.1:{port}/health")).unwrap();
        for _ in 0..2 {
            let fetched = prober
                .fetch("GET", &url, &BTreeMap::new(), Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(fetched.status, 302, "the check sees the redirect itself");
        }
        server.await.unwrap();
        assert!(
            !reached.await.unwrap(),
            "the redirect to another host was followed"
        );
    }

    #[tokio::test]
    async fn fetch_errors_are_one_line_without_the_url() {
        let prober = HttpProber::new(Pins::none());
        // Nothing listens on port 1 of the loopback address.
        let url = Url::parse("http://127.0.0.1:1/health?token=s3cr3t").unwrap();
        let error = prober
            .fetch("GET", &url, &BTreeMap::new(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(error.starts_with("connection failed"), "{error}");
        assert!(!error.contains("s3cr3t"), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }
}
