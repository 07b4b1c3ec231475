//! A small HTTP app on loopback standing in for the green task set: the
//! hooks' http checks reach it through the load balancer's DNS name, pinned
//! to it with `RESOLVE`.
//!
//! `GET /health` answers by [`Mode`], switchable while it runs: healthy
//! (`200 {"status":"ok",...}`), broken (`500 {"status":"broken",...}`),
//! slow (healthy after a delay) or hang (never answers). Every request's
//! `Host` header is recorded.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

/// How the app answers `/health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 200 with `{"status": "ok"}`.
    Healthy,
    /// 500 with `{"status": "broken"}`.
    Broken,
    /// Healthy, after this delay.
    Slow(Duration),
    /// Never answers.
    Hang,
}

#[derive(Debug)]
struct AppState {
    mode: Mutex<Mode>,
    hosts: Mutex<Vec<String>>,
}

/// The running app; it stops when dropped.
pub struct LocalApp {
    addr: SocketAddr,
    state: Arc<AppState>,
    server: tokio::task::JoinHandle<()>,
}

impl LocalApp {
    /// Starts the app, healthy, on a free port of 127.0.0.1.
    pub async fn start() -> LocalApp {
        let state = Arc::new(AppState {
            mode: Mutex::new(Mode::Healthy),
            hosts: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .route("/health", get(health))
            .route("/", get(|| async { "vahanhelp backend (green)" }))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the local app");
        let addr = listener.local_addr().expect("the local app's address");
        let server = tokio::spawn(async move {
            // Serving ends only when the LocalApp is dropped.
            let _ = axum::serve(listener, app).await;
        });
        LocalApp {
            addr,
            state,
            server,
        }
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// Switches how `/health` answers.
    pub fn set_mode(&self, mode: Mode) {
        *lock(&self.state.mode) = mode;
    }

    /// The `Host` headers of the requests so far.
    pub fn hosts(&self) -> Vec<String> {
        lock(&self.state.hosts).clone()
    }

    /// A `RESOLVE` value that sends requests for `host` (any listener port)
    /// here: `host:port:127.0.0.1:<app port>`.
    pub fn resolve(&self, host: &str, port: u16) -> String {
        format!("{host}:{port}:{}:{}", self.addr.ip(), self.addr.port())
    }
}

impl Drop for LocalApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn health(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    lock(&state.hosts).push(host);
    let mode = *lock(&state.mode);
    match mode {
        Mode::Healthy => healthy(),
        Mode::Broken => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"status": "broken", "error": "database connection refused"})),
        )
            .into_response(),
        Mode::Slow(delay) => {
            tokio::time::sleep(delay).await;
            healthy()
        }
        Mode::Hang => std::future::pending().await,
    }
}

fn healthy() -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"status": "ok", "version": "v1.5.0", "checks": {"database": "ok", "redis": "ok"}})),
    )
        .into_response()
}
