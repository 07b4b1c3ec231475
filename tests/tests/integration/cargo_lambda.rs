//! Both hooks under the real `cargo lambda watch`, the way a user tries a
//! function locally: `cargo lambda watch -A 127.0.0.1` against the local
//! AWS, then `cargo lambda invoke <function> -A 127.0.0.1 --data-file ...`.
//!
//! `cargo lambda watch` sends every invocation a fixed
//! `Lambda-Runtime-Deadline-Ms` of 600000 (ten minutes after 1970), so a
//! hook that took the deadline at its word would answer at once that time
//! ran out. These tests prove that the hooks instead run their checks, give
//! a real verdict (and, for `codedeploy-hook`, report it to CodeDeploy),
//! and log the past-deadline warning.
//!
//! The cargo-lambda binary comes from `AUTOPILOT_CARGO_LAMBDA`, which
//! `./scripts/test` sets (`$(scripts/cargo-lambda --bin-dir)/cargo-lambda`).
//! `cargo lambda watch` builds the functions itself (debug, in the same
//! target directory), so these tests are quick only after `cargo build
//! --bins`.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use autopilot_tests::harness::localaws::REGION;
use autopilot_tests::stories::codedeploy::BlueGreen;
use autopilot_tests::stories::ecs_native::NativeBlueGreen;
use autopilot_tests::{LocalAws, unique};
use serde_json::{Value, json};

/// The variable naming the cargo-lambda binary.
const CARGO_LAMBDA: &str = "AUTOPILOT_CARGO_LAMBDA";

/// What the hooks log when the deadline had already passed on arrival
/// (`autopilot_shared::checks::engine::Deadlines::of`).
const PAST_DEADLINE_WARNING: &str = "the invocation's deadline had passed when it arrived";

/// How long `cargo lambda watch` may take to listen, and an invocation to
/// be answered (the first one of a function runs `cargo run` for it).
const WATCH_START: Duration = Duration::from_secs(120);
const INVOKE_TIMEOUT_SECS: u64 = 300;

/// A running `cargo lambda watch` and its log. Dropping it kills watch and
/// every process it started (its process group: `cargo run` and the
/// function binaries), whether the test passed or not.
struct Watch {
    cargo_lambda: PathBuf,
    child: Child,
    port: u16,
    log: PathBuf,
    dir: PathBuf,
}

impl Watch {
    /// Starts `cargo lambda watch -A 127.0.0.1 -P <free port>` in the
    /// workspace, the functions' environment in an `--env-file`, and waits
    /// until it listens.
    async fn start(function_env: &[(String, String)]) -> Watch {
        let cargo_lambda = PathBuf::from(std::env::var(CARGO_LAMBDA).unwrap_or_default());
        assert!(
            !cargo_lambda.as_os_str().is_empty(),
            "{CARGO_LAMBDA} is not set: it names the cargo-lambda binary these tests run. \
             Run the tests with ./scripts/test, which sets it, or set it yourself: \
             {CARGO_LAMBDA}=\"$(scripts/cargo-lambda --bin-dir)/cargo-lambda\""
        );
        assert!(
            cargo_lambda.is_file(),
            "{CARGO_LAMBDA}={} is not a file: install cargo-lambda with scripts/cargo-lambda --bin-dir",
            cargo_lambda.display()
        );
        let dir = std::env::temp_dir().join(unique("cargo-lambda-watch"));
        std::fs::create_dir_all(&dir).unwrap();
        let env_file = dir.join("functions.env");
        let lines: String = function_env
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        std::fs::write(&env_file, lines).unwrap();
        let log = dir.join("watch.log");
        let out = File::create(&log).unwrap();
        let port = free_port();
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut command = Command::new(&cargo_lambda);
        command
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .arg("--timeout")
            .arg(INVOKE_TIMEOUT_SECS.to_string())
            .arg("--env-file")
            .arg(&env_file)
            .current_dir(&workspace)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        // The functions' AWS settings come from the env file alone, as a
        // user's would: none of the test process's own leak in. Nor do the
        // variables `cargo test` sets for this test (CARGO_MANIFEST_DIR,
        // CARGO_PKG_*, ...): crates that read them at build time would
        // otherwise be rebuilt by watch's `cargo run`.
        for (key, _) in std::env::vars() {
            let cargo_set = key == "CARGO" || (key.starts_with("CARGO_") && key != "CARGO_HOME");
            if key.starts_with("AWS_") || cargo_set {
                command.env_remove(key);
            }
        }
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", cargo_lambda.display()));
        let mut watch = Watch {
            cargo_lambda,
            child,
            port,
            log,
            dir,
        };
        watch.wait_listening().await;
        watch
    }

    async fn wait_listening(&mut self) {
        let started = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "cargo lambda watch exited ({status}) before listening:\n{}",
                    self.log()
                );
            }
            assert!(
                started.elapsed() < WATCH_START,
                "cargo lambda watch not listening on 127.0.0.1:{} after {WATCH_START:?}:\n{}",
                self.port,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `cargo lambda invoke <function> -A 127.0.0.1 -P <port> --data-file
    /// <event> --output-format json`: the function's answer. Panics, with
    /// watch's log, when the invocation fails.
    async fn invoke(&self, function: &str, event: &Value) -> Value {
        let data_file = self.dir.join(format!("{}.json", unique(function)));
        std::fs::write(&data_file, event.to_string()).unwrap();
        let output = tokio::process::Command::new(&self.cargo_lambda)
            .args(["lambda", "invoke", function, "-A", "127.0.0.1", "-P"])
            .arg(self.port.to_string())
            .arg("--data-file")
            .arg(&data_file)
            .args(["--output-format", "json"])
            .kill_on_drop(true)
            .output()
            .await
            .unwrap_or_else(|e| panic!("run cargo lambda invoke: {e}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "cargo lambda invoke {function} failed ({}): {stdout}{}\nwatch's log:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "cargo lambda invoke {function} printed no JSON ({e}): {stdout}\nwatch's log:\n{}",
                self.log()
            )
        })
    }

    /// Everything watch and the functions printed so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many past-deadline warnings the log holds, waiting up to a few
    /// seconds for it to reach `at_least`.
    async fn past_deadline_warnings(&self, at_least: usize) -> usize {
        let started = Instant::now();
        loop {
            let count = self.log().matches(PAST_DEADLINE_WARNING).count();
            if count >= at_least || started.elapsed() > Duration::from_secs(5) {
                return count;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // Watch starts each `cargo run` in a process group of its own, so
        // every process group under watch goes: watch's, each `cargo run`'s
        // (with rustc and the function binary).
        let mut groups = descendants(self.child.id());
        groups.push(self.child.id());
        for group in groups {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Every process under `pid` (children, their children, ...), from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let child: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid ...`; comm may hold spaces.
            let after = stat.rsplit_once(')')?.1;
            let parent: u32 = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((child, parent))
        })
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (child, _) in parents.iter().filter(|(_, p)| *p == parent) {
            found.push(*child);
            frontier.push(*child);
        }
    }
    found
}

/// A port free on 127.0.0.1 now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

#[tokio::test]
async fn both_hooks_under_cargo_lambda_watch_give_real_verdicts_despite_its_fixed_deadline() {
    let local = LocalAws::connect().await;
    let (native, blue_green) = tokio::join!(
        NativeBlueGreen::new(&local, "watch-ecs"),
        BlueGreen::new(&local, "watch-cd"),
    );
    // One watch serves both functions, as for a user: the environment is
    // the functions' (the local AWS, test credentials), with default checks.
    let watch = Watch::start(&local.function_env(REGION)).await;

    // ecs-deployment-hook at POST_SCALE_UP: its default check, the green
    // targets' health, runs and passes.
    let event = native
        .event(
            "POST_SCALE_UP",
            &uuid::Uuid::new_v4().to_string(),
            Value::Null,
            false,
        )
        .await;
    let answer = watch.invoke("ecs-deployment-hook", &event).await;
    assert_eq!(answer["hookStatus"], "SUCCEEDED", "{answer}");
    let checks = &answer["hookDetails"]["verdict"]["checks"];
    assert_eq!(checks.as_array().map(Vec::len), Some(1), "{answer}");
    assert_eq!(checks[0]["passed"], true, "{answer}");
    let evidence = checks[0]["evidence"].as_str().unwrap_or_default();
    assert!(evidence.contains("2/2 targets healthy"), "{answer}");
    assert_eq!(
        watch.past_deadline_warnings(1).await,
        1,
        "the ECS hook warns of the past deadline:\n{}",
        watch.log()
    );

    // codedeploy-hook at AfterInstall (HOOK unset: it asks CodeDeploy which
    // lifecycle event is in progress): the default target-health check runs
    // and passes, and the verdict reaches CodeDeploy exactly once.
    let execution_id = local
        .start_lifecycle_hook(&blue_green.deployment_id, "AfterInstall")
        .await;
    let event = json!({
        "DeploymentId": blue_green.deployment_id,
        "LifecycleEventHookExecutionId": execution_id,
    });
    let answer = watch.invoke("codedeploy-hook", &event).await;
    assert_eq!(answer["hook"], "AfterInstall", "{answer}");
    assert_eq!(answer["status"], "Succeeded", "{answer}");
    assert_eq!(answer["verdict"], "Succeeded", "{answer}");
    let checks = answer["checks"].as_array().cloned().unwrap_or_default();
    assert_eq!(checks.len(), 1, "{answer}");
    assert_eq!(checks[0]["passed"], true, "{answer}");
    let statuses: Vec<_> = local
        .hook_statuses(&blue_green.deployment_id)
        .await
        .into_iter()
        .filter(|s| s.lifecycle_event_hook_execution_id == execution_id)
        .collect();
    assert_eq!(statuses.len(), 1, "one report to CodeDeploy: {statuses:?}");
    assert_eq!(statuses[0].status, "Succeeded", "{statuses:?}");
    assert_eq!(statuses[0].error, None, "{statuses:?}");
    assert_eq!(
        statuses[0].lifecycle_event_name.as_deref(),
        Some("AfterInstall")
    );
    assert_eq!(
        watch.past_deadline_warnings(2).await,
        2,
        "the CodeDeploy hook warns of the past deadline too:\n{}",
        watch.log()
    );
}
