//! What the integration tests (`tests/integration/`), the demo
//! (`src/bin/demo.rs`) and the benchmarks (`src/bin/bench.rs`) are built
//! from, in three parts:
//!
//! * [`harness`]: the local AWS, a Lambda Runtime API that runs the real
//!   function binaries, and a realistic ECS environment to run them against;
//! * [`stories`]: whole rollouts, told step by step, that both the demo and
//!   the tests play and judge;
//! * [`bench`]: the measurements `scripts/bench` prints.

pub mod bench;
pub mod harness;
pub mod stories;

pub use harness::localaws::{LocalAws, unique};
pub use harness::runtime_api::{LambdaProcess, Outcome, binary_path};

/// A sample event from the repository's `events/` folder.
pub fn sample_event(path: &str) -> serde_json::Value {
    let full = format!("{}/../events/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// Starts the named function binary against the local AWS in `region`,
/// with the function's own variables in `extra`.
pub async fn start_function(
    local: &LocalAws,
    name: &str,
    region: &str,
    extra: &[(&str, &str)],
) -> LambdaProcess {
    let mut env = local.function_env(region);
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    LambdaProcess::start(&binary_path(name), &env)
        .await
        .unwrap_or_else(|e| panic!("start {name}: {e}"))
}
