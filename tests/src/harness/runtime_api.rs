//! A Lambda Runtime API on loopback, and a real function binary running against it.
//!
//! This is the contract Lambda gives a `provided.al2023` function: the binary
//! polls `GET /2018-06-01/runtime/invocation/next`, and posts the result to
//! `.../invocation/{id}/response` or `.../invocation/{id}/error`. Serving it
//! here lets the tests, the demo and the benchmarks run the exact binaries
//! that ship, with the environment Lambda sets.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot};

/// What an invocation came back with.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The function returned this payload.
    Response(Value),
    /// The function reported an error (`/error` or `/init/error`).
    Error {
        /// `errorType` as reported.
        error_type: String,
        /// `errorMessage` as reported.
        error_message: String,
    },
}

impl Outcome {
    /// The response payload; panics with the error otherwise.
    #[track_caller]
    pub fn response(self) -> Value {
        match self {
            Outcome::Response(value) => value,
            Outcome::Error {
                error_type,
                error_message,
            } => {
                panic!("expected a response, got error {error_type}: {error_message}")
            }
        }
    }

    /// The error type and message; panics with the response otherwise.
    #[track_caller]
    pub fn error(self) -> (String, String) {
        match self {
            Outcome::Error {
                error_type,
                error_message,
            } => (error_type, error_message),
            Outcome::Response(value) => panic!("expected an error, got response {value}"),
        }
    }
}

struct Pending {
    request_id: String,
    payload: Value,
    deadline_ms: u64,
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<Outcome>>,
    first_poll: Mutex<Option<Instant>>,
    function_arn: String,
}

/// A Runtime API server on 127.0.0.1, serving one function process.
pub struct RuntimeApi {
    addr: SocketAddr,
    // None once closed: the function's pending `next` then answers 410 Gone.
    sender: Mutex<Option<mpsc::UnboundedSender<Pending>>>,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Binds a free loopback port and starts serving.
    pub async fn start(function_name: &str) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(receiver),
            waiting: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
            first_poll: Mutex::new(None),
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
        });
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            // Serving ends only when the test drops the RuntimeApi.
            let _ = axum::serve(listener, app).await;
        });
        Ok(RuntimeApi {
            addr,
            sender: Mutex::new(Some(sender)),
            shared,
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// When the function first asked for an invocation: the end of its init.
    pub fn first_poll(&self) -> Option<Instant> {
        *lock(&self.shared.first_poll)
    }

    /// Queues `payload` and waits up to `wait` for the function's answer.
    /// The function sees a deadline `deadline` from now.
    pub async fn invoke(
        &self,
        payload: Value,
        deadline: Duration,
        wait: Duration,
    ) -> Result<Outcome, InvokeError> {
        let deadline_ms = (SystemTime::now() + deadline)
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        self.invoke_at(payload, deadline_ms, wait).await
    }

    /// As [`RuntimeApi::invoke`], the function seeing the deadline
    /// `deadline_ms` (milliseconds since the epoch) whatever the time.
    pub async fn invoke_at(
        &self,
        payload: Value,
        deadline_ms: u64,
        wait: Duration,
    ) -> Result<Outcome, InvokeError> {
        if let Some(outcome) = lock(&self.shared.init_error).clone() {
            return Ok(outcome);
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.waiting).insert(request_id.clone(), tx);
        let sender = lock(&self.sender).clone().ok_or(InvokeError::Closed)?;
        sender
            .send(Pending {
                request_id: request_id.clone(),
                payload,
                deadline_ms,
            })
            .map_err(|_| InvokeError::Closed)?;
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => Err(InvokeError::Closed),
            Err(_) => {
                lock(&self.shared.waiting).remove(&request_id);
                Err(InvokeError::NoAnswer(wait))
            }
        }
    }

    /// Takes no more invocations: the function's `next` (pending, or its
    /// next one) answers 410 Gone, and the Rust runtime exits on it.
    pub fn close(&self) {
        lock(&self.sender).take();
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// An invocation that got no answer.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function did not answer in time.
    #[error("the function did not answer within {0:?}")]
    NoAnswer(Duration),
    /// The Runtime API is gone.
    #[error("the runtime API closed")]
    Closed,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    lock(&shared.first_poll).get_or_insert_with(Instant::now);
    let pending = shared.queue.lock().await.recv().await;
    let Some(pending) = pending else {
        return StatusCode::GONE.into_response();
    };
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", pending.request_id);
    set(
        "lambda-runtime-deadline-ms",
        pending.deadline_ms.to_string(),
    );
    set(
        "lambda-runtime-invoked-function-arn",
        shared.function_arn.clone(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0".to_owned(),
    );
    set("content-type", "application/json".to_owned());
    (headers, pending.payload.to_string()).into_response()
}

async fn respond(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    finish(&shared, &id, Outcome::Response(value))
}

async fn fail(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    finish(&shared, &id, error_outcome(&body))
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let outcome = error_outcome(&body);
    *lock(&shared.init_error) = Some(outcome.clone());
    for (_, waiter) in lock(&shared.waiting).drain() {
        let _ = waiter.send(outcome.clone());
    }
    StatusCode::ACCEPTED
}

fn finish(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match lock(&shared.waiting).remove(id) {
        Some(waiter) => {
            let _ = waiter.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

fn error_outcome(body: &[u8]) -> Outcome {
    let value: Value = serde_json::from_slice(body).unwrap_or_default();
    Outcome::Error {
        error_type: value["errorType"].as_str().unwrap_or("Unknown").to_owned(),
        error_message: value["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// A function binary running against its own [`RuntimeApi`], as Lambda runs it.
pub struct LambdaProcess {
    name: String,
    api: RuntimeApi,
    child: tokio::process::Child,
    started: Instant,
    logs: Arc<Mutex<Vec<String>>>,
    // The tasks reading stdout and stderr into `logs`, until each pipe closes.
    readers: Vec<tokio::task::JoinHandle<()>>,
    env: Vec<(String, String)>,
}

impl LambdaProcess {
    /// Starts `binary` with a clean environment: what Lambda sets for a
    /// 128 MB `provided.al2023` function, plus `env` (credentials, Region,
    /// endpoint and the function's own variables).
    pub async fn start(binary: &Path, env: &[(String, String)]) -> std::io::Result<Self> {
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "function".to_owned());
        let api = RuntimeApi::start(&name).await?;
        let mut command = tokio::process::Command::new(binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/26/[$LATEST]0123456789abcdef",
            )
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("LAMBDA_TASK_ROOT", "/var/task")
            .env("TZ", ":UTC")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = command.spawn()?;
        let logs = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            readers.push(collect_lines(stdout, logs.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            readers.push(collect_lines(stderr, logs.clone()));
        }
        Ok(LambdaProcess {
            name,
            api,
            child,
            started,
            logs,
            readers,
            env: env.to_vec(),
        })
    }

    /// Invokes with a 30-second deadline.
    pub async fn invoke(&mut self, payload: Value) -> Outcome {
        self.invoke_with_deadline(payload, Duration::from_secs(30))
            .await
    }

    /// Invokes with the given deadline; panics, with the function's logs, if
    /// no answer comes within the deadline plus five seconds or the process exits.
    pub async fn invoke_with_deadline(&mut self, payload: Value, deadline: Duration) -> Outcome {
        let wait = deadline + Duration::from_secs(5);
        let result = tokio::select! {
            result = self.api.invoke(payload, deadline, wait) => result,
            status = self.child.wait() => {
                panic!("{} exited ({status:?}) during an invocation; logs:\n{}", self.name, self.logs())
            }
        };
        result.unwrap_or_else(|e| panic!("{}: {e}; logs:\n{}", self.name, self.logs()))
    }

    /// Invokes as `cargo lambda watch` does: with the fixed
    /// `Lambda-Runtime-Deadline-Ms` of 600000 (ten minutes after 1970), a
    /// deadline long past; waits up to `wait`.
    pub async fn invoke_with_past_deadline(&mut self, payload: Value, wait: Duration) -> Outcome {
        let result = tokio::select! {
            result = self.api.invoke_at(payload, 600_000, wait) => result,
            status = self.child.wait() => {
                panic!("{} exited ({status:?}) during an invocation; logs:\n{}", self.name, self.logs())
            }
        };
        result.unwrap_or_else(|e| panic!("{}: {e}; logs:\n{}", self.name, self.logs()))
    }

    /// Kills the process at once (SIGKILL), as Lambda does to a function
    /// that runs out of time or memory: whatever it was doing stops
    /// half-way, and nothing is reported.
    pub async fn kill(mut self) {
        // An error means it had exited already.
        let _ = self.child.kill().await;
    }

    /// The access key ID the process signs its AWS calls with: the local
    /// AWS counts calls and scopes injected faults by it.
    pub fn access_key(&self) -> &str {
        self.env("AWS_ACCESS_KEY_ID")
            .expect("start_function gives every process its own access key")
    }

    /// Time from process start to its first poll for an invocation: Lambda's Init Duration.
    pub fn init_duration(&self) -> Option<Duration> {
        self.api
            .first_poll()
            .map(|t| t.duration_since(self.started))
    }

    /// Waits until the function has polled for its first invocation.
    pub async fn wait_until_ready(&self, limit: Duration) -> Option<Duration> {
        let give_up = Instant::now() + limit;
        while Instant::now() < give_up {
            if let Some(init) = self.init_duration() {
                return Some(init);
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        None
    }

    /// The value of a variable the function was started with.
    pub fn env(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The process id, for memory measurements.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// What has been read of the function's stdout and stderr so far, for
    /// a panic message or a progress report. Never judge the logs with it
    /// (a secret absent, a line present): lines the function wrote before
    /// answering may still be on their way through the pipe. Judge with
    /// [`finish_logs`](Self::finish_logs).
    pub fn logs(&self) -> String {
        lock(&self.logs).join("\n")
    }

    /// Ends the process and returns everything it wrote to stdout and
    /// stderr, read to the end of both: the one way to judge its logs.
    ///
    /// The Runtime API closes, so the function's poll for its next
    /// invocation answers 410 Gone and the runtime exits by itself, having
    /// written all it had to (a process that has not exited within
    /// [`FINISH_WAIT`] is killed). Then both pipes are read to their end.
    /// The process takes no invocation after this; its [`env`](Self::env)
    /// and access key stay readable (for [`crate::LocalAws::calls_of`]).
    /// A second call returns the same logs.
    pub async fn finish_logs(&mut self) -> String {
        self.api.close();
        if tokio::time::timeout(FINISH_WAIT, self.child.wait())
            .await
            .is_err()
        {
            // An error means it has exited after all.
            let _ = self.child.kill().await;
        }
        for reader in self.readers.drain(..) {
            // Each pipe closed with the process: its reader is at its end, or
            // nearly. A reader that fails has nothing more to give.
            let _ = tokio::time::timeout(FINISH_WAIT, reader).await;
        }
        self.logs()
    }
}

/// How long [`LambdaProcess::finish_logs`] waits for the process to exit,
/// and then for each pipe to close.
pub const FINISH_WAIT: Duration = Duration::from_secs(10);

fn collect_lines<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    reader: R,
    logs: Arc<Mutex<Vec<String>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            lock(&logs).push(line);
        }
    })
}

/// The path of a workspace binary built next to the running test or demo
/// executable (`target/<profile>/<name>`). Panics with the command to run
/// when it is missing: tests never skip.
pub fn binary_path(name: &str) -> PathBuf {
    let candidates = std::env::current_exe()
        .ok()
        .into_iter()
        .flat_map(|exe| {
            exe.ancestors()
                .skip(1)
                .take(2)
                .map(Path::to_path_buf)
                .collect::<Vec<_>>()
        })
        .map(|dir| dir.join(name));
    for path in candidates {
        if path.is_file() {
            return path;
        }
    }
    panic!(
        "binary {name} not found next to the test executable: build it first with `cargo build --workspace --bins` (./scripts/test does)"
    )
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A stand-in for a function binary: it polls for its next invocation
    /// (over bash's `/dev/tcp`), and once answered writes a last line, a
    /// moment later, as a function's runtime logs on its way out.
    const POLLER: &str = r#"#!/bin/bash
echo "first line"
exec 3<>"/dev/tcp/${AWS_LAMBDA_RUNTIME_API%:*}/${AWS_LAMBDA_RUNTIME_API##*:}"
printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\n\r\n' "$AWS_LAMBDA_RUNTIME_API" >&3
read -r status <&3
sleep 0.3
echo "last line: ${status%$'\r'}"
"#;

    #[tokio::test]
    async fn finish_logs_waits_for_the_last_line_and_logs_does_not() {
        let dir = std::env::temp_dir().join(crate::unique("runtime-api-poller"));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("poller");
        std::fs::write(&script, POLLER).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let env = [("PATH".to_owned(), "/usr/bin:/bin".to_owned())];
        let mut process = LambdaProcess::start(&script, &env).await.unwrap();
        assert!(
            process
                .wait_until_ready(Duration::from_secs(10))
                .await
                .is_some(),
            "the poller never polled: {}",
            process.logs()
        );

        // Its poll is pending: what it writes next is not written yet.
        assert!(!process.logs().contains("last line"), "{}", process.logs());
        let logs = process.finish_logs().await;
        assert_eq!(
            logs.lines().collect::<Vec<_>>(),
            ["first line", "last line: HTTP/1.1 410 Gone"],
            "the closed Runtime API ends the poll, and every line is read"
        );
        assert_eq!(process.finish_logs().await, logs, "a second call, the same");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
