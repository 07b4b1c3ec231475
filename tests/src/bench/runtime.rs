//! Cold start, invocation latency and peak memory, Rust and the Python baseline.
//!
//! * Cold start: process start to the first `GET .../invocation/next` on a
//!   loopback Runtime API (what Lambda reports as Init Duration), with the
//!   environment Lambda sets; the targets are started in turn, round-robin,
//!   so that background load spreads evenly over them.
//! * Invocations: one process per target, the first event right after its
//!   cold start, then warm ones; each event makes the function do its real
//!   work against the local AWS, with no added API latency. Peak RSS is
//!   `VmHWM` of `/proc/<pid>/status` after the last one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use super::fixtures::Workload;
use super::goals::{
    MAX_COLD_START_MEDIAN_MS, MAX_PEAK_RSS_BYTES, MIN_TIMES_FASTER_THAN_PYTHON, whole_mb,
};
use super::{Memory, Options, Section, Stats, mb, memory, ms, ratio, start, table};
use crate::LocalAws;

/// How a target runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// The release `provided.al2023` binary.
    Rust,
    /// The baseline: Python 3.11 + boto3 under `awslambdaric`.
    Python,
}

impl Runtime {
    /// The runtime's name in the tables.
    pub fn label(self) -> &'static str {
        match self {
            Runtime::Rust => "Rust (provided.al2023)",
            Runtime::Python => "Python 3.11 + boto3 (awslambdaric)",
        }
    }
}

/// A program to start as a Lambda function, with its workload.
pub struct Target {
    /// The function it implements.
    pub function: &'static str,
    /// Rust or the Python baseline.
    pub runtime: Runtime,
    /// The executable.
    pub program: PathBuf,
    /// Variables besides Lambda's, the credentials and the Region.
    pub env: Vec<(String, String)>,
    /// What it is invoked with.
    pub workload: Workload,
}

impl Target {
    /// A Rust function binary with its workload.
    pub fn rust(options: &Options, workload: Workload) -> Target {
        Target {
            function: workload.function,
            runtime: Runtime::Rust,
            program: options.binary(workload.function),
            env: workload.vars.clone(),
            workload,
        }
    }

    /// The Python baseline of `workload`'s function, run by
    /// `bench/baseline/bootstrap` with `handler` (`module.function`).
    pub fn python(python: &std::path::Path, handler: &str, workload: Workload) -> Target {
        let task_root = super::workspace_root().join("bench/baseline");
        let mut env = workload.vars.clone();
        env.extend(
            [
                ("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11".to_owned()),
                ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
                ("_HANDLER", handler.to_owned()),
                ("BASELINE_PYTHON", python.display().to_string()),
                // Lambda's task root is read-only: no bytecode is written there.
                ("PYTHONDONTWRITEBYTECODE", "1".to_owned()),
                ("LANG", "en_US.UTF-8".to_owned()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        Target {
            function: workload.function,
            runtime: Runtime::Python,
            program: task_root.join("bootstrap"),
            env,
            workload,
        }
    }

    fn label(&self) -> String {
        format!("{} — {}", self.function, self.runtime.label())
    }
}

/// Cold starts of one target.
#[derive(Debug, Clone, Serialize)]
pub struct ColdStart {
    /// The function.
    pub function: String,
    /// Rust or Python.
    pub runtime: Runtime,
    /// Init durations, in milliseconds, in the order measured.
    pub samples_ms: Vec<f64>,
    /// Their statistics.
    pub stats: Option<Stats>,
    /// Starts that did not reach the Runtime API within 10 s.
    pub failed_starts: usize,
    /// RSS right after init (median over the starts), bytes.
    pub rss_after_init_bytes: Option<u64>,
}

/// Starts every target `starts` times, round-robin, and times its init.
pub async fn cold_starts(local: &LocalAws, targets: &[Target], starts: usize) -> Vec<ColdStart> {
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); targets.len()];
    let mut rss: Vec<Vec<u64>> = vec![Vec::new(); targets.len()];
    let mut failed = vec![0usize; targets.len()];
    // One untimed start each first, so that the page cache holds every binary and library.
    for target in targets {
        let process = start(local, &target.program, &target.workload.region, &target.env).await;
        process.wait_until_ready(Duration::from_secs(10)).await;
    }
    for round in 0..starts {
        for (i, target) in targets.iter().enumerate() {
            let process = start(local, &target.program, &target.workload.region, &target.env).await;
            match process.wait_until_ready(Duration::from_secs(10)).await {
                Some(init) => {
                    samples[i].push(init);
                    if let Some(Memory { rss_bytes, .. }) = memory(&process) {
                        rss[i].push(rss_bytes);
                    }
                }
                None => {
                    failed[i] += 1;
                    eprintln!(
                        "bench: {} did not reach the Runtime API; logs:\n{}",
                        target.label(),
                        process.logs()
                    );
                }
            }
            drop(process);
            // Let the killed process go before the next one starts.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if (round + 1) % 10 == 0 {
            eprintln!("bench: cold starts: {}/{starts} rounds", round + 1);
        }
    }
    targets
        .iter()
        .enumerate()
        .map(|(i, target)| {
            let mut memory = rss[i].clone();
            memory.sort_unstable();
            ColdStart {
                function: target.function.to_owned(),
                runtime: target.runtime,
                samples_ms: samples[i]
                    .iter()
                    .map(|d| d.as_secs_f64() * 1000.0)
                    .collect(),
                stats: Stats::of(&samples[i]),
                failed_starts: failed[i],
                rss_after_init_bytes: memory.get(memory.len() / 2).copied(),
            }
        })
        .collect()
}

/// The cold-start section.
pub fn cold_start_section(rows: &[ColdStart], starts: usize) -> Section {
    let mut cells = Vec::new();
    for row in rows {
        let stat = |f: fn(&Stats) -> f64| row.stats.as_ref().map_or("-".into(), |s| ms(f(s)));
        cells.push(vec![
            format!("`{}`", row.function),
            row.runtime.label().to_owned(),
            row.stats.map_or(0, |s| s.samples).to_string(),
            stat(|s| s.median_ms),
            stat(|s| s.p90_ms),
            stat(|s| s.min_ms),
            stat(|s| s.max_ms),
            row.rss_after_init_bytes.map_or("-".into(), mb),
            if row.failed_starts == 0 {
                String::new()
            } else {
                format!("{} failed starts", row.failed_starts)
            },
        ]);
    }
    let markdown = format!(
        "### Cold start (Init Duration)\n\n\
         Process start to the first `GET /2018-06-01/runtime/invocation/next` on a loopback Runtime API, \
         {starts} starts per target (round-robin, after one untimed warm-up start each), release binaries, \
         environment as Lambda sets it for a 128 MB function plus the Region, credentials and \
         `AWS_ENDPOINT_URL` of the local AWS. Goal: at most {MAX_COLD_START_MEDIAN_MS} ms median \
         on an idle machine.\n\n{}",
        table(
            &[
                "function",
                "runtime",
                "starts",
                "median",
                "p90",
                "min",
                "max",
                "RSS after init",
                "notes"
            ],
            &[false, false, true, true, true, true, true, true, false],
            &cells,
        )
    );
    Section {
        name: "cold-start",
        markdown,
        json: json!({ "starts": starts, "rows": rows }),
    }
}

/// One target's invocations.
#[derive(Debug, Clone, Serialize)]
pub struct Invocations {
    /// The function.
    pub function: String,
    /// Rust or Python.
    pub runtime: Runtime,
    /// What an event does.
    pub workload: String,
    /// Init duration of this process.
    pub init_ms: Option<f64>,
    /// The first invocation after the cold start.
    pub first_ms: Option<f64>,
    /// The following ones.
    pub warm: Option<Stats>,
    /// Invocations made (the first included).
    pub invocations: usize,
    /// Answers that were not the expected one.
    pub wrong_answers: usize,
    /// The first wrong answer.
    pub first_wrong_answer: Option<String>,
    /// Memory after the last invocation.
    pub memory: Option<Memory>,
    /// AWS calls of the first event, by IAM action.
    pub first_event_calls: BTreeMap<String, u64>,
    /// AWS calls of all events.
    pub total_calls: u64,
}

/// Runs each target once: a cold start, then `invocations` events.
pub async fn invocations(
    local: &LocalAws,
    targets: &mut [Target],
    count: usize,
) -> Vec<Invocations> {
    let mut rows = Vec::new();
    for target in targets.iter_mut() {
        let label = target.label();
        let mut process = start(local, &target.program, &target.workload.region, &target.env).await;
        let init = process.wait_until_ready(Duration::from_secs(10)).await;
        let mut row = Invocations {
            function: target.function.to_owned(),
            runtime: target.runtime,
            workload: target.workload.description.clone(),
            init_ms: init.map(|d| d.as_secs_f64() * 1000.0),
            first_ms: None,
            warm: None,
            invocations: 0,
            wrong_answers: 0,
            first_wrong_answer: None,
            memory: None,
            first_event_calls: BTreeMap::new(),
            total_calls: 0,
        };
        if init.is_none() {
            eprintln!("bench: {label} did not start; logs:\n{}", process.logs());
            rows.push(row);
            continue;
        }
        let mut warm = Vec::new();
        for i in 0..count {
            let event = target.workload.next_event().await;
            let started = Instant::now();
            let outcome = process
                .invoke_with_deadline(event, Duration::from_secs(30))
                .await;
            let elapsed = started.elapsed();
            row.invocations += 1;
            if i == 0 {
                row.first_ms = Some(elapsed.as_secs_f64() * 1000.0);
                row.first_event_calls = local.calls_of(&process).await;
            } else {
                warm.push(elapsed);
            }
            if let Err(wrong) = target.workload.check(&outcome) {
                row.wrong_answers += 1;
                row.first_wrong_answer.get_or_insert(wrong);
            }
        }
        row.warm = Stats::of(&warm);
        row.memory = memory(&process);
        row.total_calls = local.calls_of(&process).await.values().sum();
        if let Some(wrong) = &row.first_wrong_answer {
            eprintln!(
                "bench: {label}: {} wrong answers, first: {wrong}\nlogs (tail):\n{}",
                row.wrong_answers,
                tail(&process.logs(), 20)
            );
        }
        eprintln!(
            "bench: {label}: first {:.1} ms, warm median {:.1} ms, peak RSS {}",
            row.first_ms.unwrap_or_default(),
            row.warm.map_or(0.0, |s| s.median_ms),
            row.memory.map_or("-".into(), |m| mb(m.peak_rss_bytes))
        );
        rows.push(row);
    }
    rows
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The invocation section.
pub fn invocation_section(rows: &[Invocations], count: usize) -> Section {
    let mut cells = Vec::new();
    for row in rows {
        let timing = |value: Option<f64>| value.map_or("-".to_owned(), ms);
        let mut notes = Vec::new();
        if row.wrong_answers > 0 {
            notes.push(format!(
                "{} of {} answers wrong: {}",
                row.wrong_answers,
                row.invocations,
                row.first_wrong_answer.as_deref().unwrap_or_default()
            ));
        }
        cells.push(vec![
            format!("`{}`", row.function),
            row.runtime.label().to_owned(),
            timing(row.first_ms),
            timing(row.warm.map(|s| s.median_ms)),
            timing(row.warm.map(|s| s.p90_ms)),
            row.memory.map_or("-".into(), |m| mb(m.peak_rss_bytes)),
            calls_line(&row.first_event_calls),
            notes.join("; "),
        ]);
    }
    let workloads: Vec<String> = rows
        .iter()
        .filter(|r| r.runtime == Runtime::Rust)
        .map(|r| format!("- `{}`: {}", r.function, r.workload))
        .collect();
    let markdown = format!(
        "### Invocation latency and peak memory\n\n\
         One process per row: a cold start, then {count} events (the first one timed as *first*, \
         the other {} as *warm*), each doing the function's real work against the local AWS with \
         **no added API latency** (moto answers in about 1–5 ms a call). Peak RSS is `VmHWM` after \
         the last invocation. Goal: peak RSS at most {}.\n\n{}\n\
         Events:\n{}\n",
        count - 1,
        whole_mb(MAX_PEAK_RSS_BYTES),
        table(
            &[
                "function",
                "runtime",
                "first",
                "warm median",
                "warm p90",
                "peak RSS",
                "AWS calls of one event",
                "notes"
            ],
            &[false, false, true, true, true, true, false, false],
            &cells,
        ),
        workloads.join("\n")
    );
    Section {
        name: "invocation",
        markdown,
        json: json!({ "invocations": count, "apiLatencyMs": 0, "rows": rows }),
    }
}

/// `ecs:DescribeServices 1, ...`, with the total first.
pub fn calls_line(calls: &BTreeMap<String, u64>) -> String {
    if calls.is_empty() {
        return "0".into();
    }
    let total: u64 = calls.values().sum();
    let each: Vec<String> = calls.iter().map(|(op, n)| format!("{op} {n}")).collect();
    format!("{total}: {}", each.join(", "))
}

/// Rust and Python side by side, for the functions that have a baseline.
pub fn baseline_section(cold: &[ColdStart], runs: &[Invocations]) -> Section {
    let mut cells = Vec::new();
    let mut data = Vec::new();
    let functions: Vec<&str> = cold
        .iter()
        .filter(|c| c.runtime == Runtime::Python)
        .map(|c| c.function.as_str())
        .chain(
            runs.iter()
                .filter(|r| r.runtime == Runtime::Python)
                .map(|r| r.function.as_str()),
        )
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for function in functions {
        let cold_of = |runtime| {
            cold.iter()
                .find(|c| c.function == function && c.runtime == runtime)
                .and_then(|c| c.stats)
        };
        let run_of = |runtime| {
            runs.iter()
                .find(|r| r.function == function && r.runtime == runtime)
        };
        let metrics: Vec<(&str, Option<f64>, Option<f64>, bool)> = vec![
            (
                "cold start, median",
                cold_of(Runtime::Rust).map(|s| s.median_ms),
                cold_of(Runtime::Python).map(|s| s.median_ms),
                true,
            ),
            (
                "cold start, p90",
                cold_of(Runtime::Rust).map(|s| s.p90_ms),
                cold_of(Runtime::Python).map(|s| s.p90_ms),
                true,
            ),
            (
                "first invocation",
                run_of(Runtime::Rust).and_then(|r| r.first_ms),
                run_of(Runtime::Python).and_then(|r| r.first_ms),
                true,
            ),
            (
                "warm invocation, median",
                run_of(Runtime::Rust)
                    .and_then(|r| r.warm)
                    .map(|s| s.median_ms),
                run_of(Runtime::Python)
                    .and_then(|r| r.warm)
                    .map(|s| s.median_ms),
                true,
            ),
            (
                "warm invocation, p90",
                run_of(Runtime::Rust).and_then(|r| r.warm).map(|s| s.p90_ms),
                run_of(Runtime::Python)
                    .and_then(|r| r.warm)
                    .map(|s| s.p90_ms),
                true,
            ),
            (
                "peak RSS",
                run_of(Runtime::Rust)
                    .and_then(|r| r.memory)
                    .map(|m| m.peak_rss_bytes as f64),
                run_of(Runtime::Python)
                    .and_then(|r| r.memory)
                    .map(|m| m.peak_rss_bytes as f64),
                false,
            ),
            (
                "AWS calls of one event",
                run_of(Runtime::Rust).map(|r| r.first_event_calls.values().sum::<u64>() as f64),
                run_of(Runtime::Python).map(|r| r.first_event_calls.values().sum::<u64>() as f64),
                false,
            ),
        ];
        for (metric, rust, python, timing) in metrics {
            let show = |v: Option<f64>| match v {
                None => "-".to_owned(),
                Some(v) if timing => ms(v),
                Some(v) if metric == "peak RSS" => mb(v as u64),
                Some(v) => format!("{v:.0}"),
            };
            let times = match (rust, python) {
                (Some(r), Some(p)) if metric != "AWS calls of one event" => ratio(p, r),
                (Some(r), Some(p)) if (r - p).abs() < 0.5 => "same".into(),
                (Some(_), Some(_)) => "differs".into(),
                _ => "-".into(),
            };
            cells.push(vec![
                format!("`{function}`"),
                metric.to_owned(),
                show(rust),
                show(python),
                times,
            ]);
            data.push(json!({
                "function": function, "metric": metric, "rust": rust, "python": python,
                "pythonOverRust": match (rust, python) { (Some(r), Some(p)) if r > 0.0 => Some(p / r), _ => None },
            }));
        }
    }
    let markdown = format!(
        "### Rust next to the usual Python Lambda\n\n\
         The baseline (`bench/baseline/`): Python 3.11 + boto3 under the AWS Lambda Runtime Interface \
         Client (`awslambdaric`), started the way Lambda's Python runtime starts it, clients created \
         at init, making the same AWS calls for the same events against the same local AWS and \
         Runtime API. The last column is Python ÷ Rust (how many times more). Goal: cold start at least \
         {MIN_TIMES_FASTER_THAN_PYTHON}× faster than the baseline, in the same run.\n\n{}",
        table(
            &["function", "metric", "Rust", "Python", "Python ÷ Rust"],
            &[false, false, true, true, true],
            &cells,
        )
    );
    Section {
        name: "python-baseline",
        markdown,
        json: json!({ "rows": data }),
    }
}
