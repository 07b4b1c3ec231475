//! The benchmark harness behind `scripts/bench` (`src/bin/bench.rs`): cold
//! start, invocation latency and peak memory of every function (side by side
//! with a Python + boto3 baseline), the size of each `bootstrap`, the AWS
//! calls each event costs, and wall time at scale.
//!
//! Everything here is measured, printed and written under `target/bench/`
//! (one Markdown and one JSON file per section, and a combined `README.md`);
//! nothing is asserted about timings. Every loop is bounded and every
//! address is loopback: the local AWS, the Runtime API, the health app.

pub mod fixtures;
pub mod fleet;
pub mod runtime;
pub mod scale;
pub mod size;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::LocalAws;
use crate::harness::runtime_api::LambdaProcess;

/// The four functions, in the order the tables list them.
pub const FUNCTIONS: [&str; 4] = [
    "redeploy-on-push",
    "codedeploy-hook",
    "ecs-deployment-hook",
    "scheduled-scaling",
];

/// What a run measures and how much.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--quick`: fewer starts and invocations, and no 1,000-service
    /// concurrency-1 run.
    pub quick: bool,
    /// Cold starts per function (at least 30).
    pub starts: usize,
    /// Invocations per function after its cold start (the first included).
    pub invocations: usize,
    /// `--only a,b`: the sections to run; all when empty.
    pub only: Vec<String>,
    /// Where the release function binaries are.
    pub bin_dir: PathBuf,
    /// The baseline's Python interpreter, when installed.
    pub python: Option<PathBuf>,
}

impl Options {
    /// Parses the command line: `--quick`, `--starts N`, `--invocations N`,
    /// `--only cold-start,invocation,size,redeploy-scale,scaling-scale,fleet-scale`.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
        let mut quick = false;
        let mut starts = None;
        let mut invocations = None;
        let mut only = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match arg.as_str() {
                "--quick" => quick = true,
                "--starts" => starts = Some(number(&value("--starts")?)?),
                "--invocations" => invocations = Some(number(&value("--invocations")?)?),
                "--only" => {
                    only = value("--only")?
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect();
                    for name in &only {
                        if !SECTIONS.contains(&name.as_str()) {
                            return Err(format!(
                                "unknown section {name:?}; expected one of {}",
                                SECTIONS.join(", ")
                            ));
                        }
                    }
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        let root = workspace_root();
        let bin_dir = std::env::var_os("BENCH_BIN_DIR")
            .map(PathBuf::from)
            .or_else(|| {
                // Next to the bench binary, as cargo builds them.
                std::env::current_exe()
                    .ok()
                    .and_then(|exe| exe.parent().map(Path::to_path_buf))
            })
            .unwrap_or_else(|| root.join("target/release"));
        let python = std::env::var_os("BENCH_BASELINE_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".local/venv-baseline/bin/python"));
        Ok(Options {
            quick,
            starts: starts.unwrap_or(if quick { 30 } else { 50 }).max(1),
            invocations: invocations.unwrap_or(100).max(2),
            only,
            bin_dir,
            python: python.is_file().then_some(python),
        })
    }

    /// Whether `section` runs.
    pub fn runs(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }

    /// The path of a release function binary.
    pub fn binary(&self, function: &str) -> PathBuf {
        self.bin_dir.join(function)
    }
}

/// The goals the report measures against, as "A house a newcomer can live
/// in" states them: each met when the measurement is at (or better than) the
/// bound. Sizes and memory in MB of 10^6 bytes, as the tables print them.
pub mod goals {
    /// Each arm64 `bootstrap`, raw: at most 8 MB.
    pub const MAX_BOOTSTRAP_BYTES: u64 = 8_000_000;
    /// Each function's cold start, median, on an idle machine: at most 4 ms.
    pub const MAX_COLD_START_MEDIAN_MS: f64 = 4.0;
    /// The Python baseline's cold start median over Rust's, in the same run: at least 60.
    pub const MIN_TIMES_FASTER_THAN_PYTHON: f64 = 60.0;
    /// Peak RSS over a cold start and the invocations: at most 16 MB.
    pub const MAX_PEAK_RSS_BYTES: u64 = 16_000_000;

    /// A bound in whole MB, for the goal texts: `8 MB`.
    pub fn whole_mb(bytes: u64) -> String {
        format!("{} MB", bytes / 1_000_000)
    }
}

/// The sections `--only` accepts.
pub const SECTIONS: [&str; 6] = [
    "cold-start",
    "invocation",
    "size",
    "redeploy-scale",
    "scaling-scale",
    "fleet-scale",
];

fn number(text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a whole number"))
}

/// The repository's root (the parent of the `tests` crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `target/bench/`, created.
pub fn output_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("bench");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// Order statistics of a set of durations, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Stats {
    /// How many samples.
    pub samples: usize,
    /// The median.
    pub median_ms: f64,
    /// The 90th percentile (nearest rank).
    pub p90_ms: f64,
    /// The smallest.
    pub min_ms: f64,
    /// The largest.
    pub max_ms: f64,
    /// The mean.
    pub mean_ms: f64,
}

impl Stats {
    /// The statistics of `samples`; `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let n = ms.len();
        let median = if n % 2 == 1 {
            ms[n / 2]
        } else {
            (ms[n / 2 - 1] + ms[n / 2]) / 2.0
        };
        // Nearest rank: the smallest value with at least 90% of samples at or below it.
        let rank = ((0.9 * n as f64).ceil() as usize).clamp(1, n);
        Some(Stats {
            samples: n,
            median_ms: median,
            p90_ms: ms[rank - 1],
            min_ms: ms[0],
            max_ms: ms[n - 1],
            mean_ms: ms.iter().sum::<f64>() / n as f64,
        })
    }
}

/// One section of the report: a Markdown table (with its heading and
/// notes) and the same data as JSON.
#[derive(Debug, Clone)]
pub struct Section {
    /// File name stem: `target/bench/<name>.{md,json}`.
    pub name: &'static str,
    /// Markdown, starting with a `###` heading.
    pub markdown: String,
    /// The data.
    pub json: Value,
}

impl Section {
    /// Prints the section and writes its two files.
    pub fn publish(&self) {
        println!("{}", self.markdown);
        let dir = output_dir();
        write(&dir.join(format!("{}.md", self.name)), &self.markdown);
        write(
            &dir.join(format!("{}.json", self.name)),
            &serde_json::to_string_pretty(&self.json).unwrap_or_default(),
        );
        eprintln!("bench: written target/bench/{}.{{md,json}}", self.name);
    }
}

/// Writes a file, panicking with its path on failure.
pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// A Markdown table: a header row and rows of cells.
pub fn table(header: &[&str], align_right: &[bool], rows: &[Vec<String>]) -> String {
    let mut text = format!("| {} |\n|", header.join(" | "));
    for (i, _) in header.iter().enumerate() {
        text.push_str(if align_right.get(i).copied().unwrap_or(false) {
            "---:|"
        } else {
            "---|"
        });
    }
    text.push('\n');
    for row in rows {
        text.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    text
}

/// Milliseconds with a precision that suits the magnitude.
pub fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2} ms")
    } else if value < 1000.0 {
        format!("{value:.1} ms")
    } else {
        format!("{:.2} s", value / 1000.0)
    }
}

/// Bytes as MB (10^6) with two decimals, and KiB-exact in JSON elsewhere.
pub fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1_000_000.0)
}

/// `a / b` as `12.3×`.
pub fn ratio(a: f64, b: f64) -> String {
    if b <= 0.0 {
        return "-".into();
    }
    let r = a / b;
    if r >= 10.0 {
        format!("{r:.0}×")
    } else {
        format!("{r:.1}×")
    }
}

/// A process's memory from `/proc/<pid>/status`, in bytes.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
pub struct Memory {
    /// `VmHWM`: the peak resident set size.
    pub peak_rss_bytes: u64,
    /// `VmRSS`: the resident set size now.
    pub rss_bytes: u64,
}

/// Reads [`Memory`] of a running process.
pub fn memory(process: &LambdaProcess) -> Option<Memory> {
    let pid = process.pid()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kb| kb * 1024)
    };
    Some(Memory {
        peak_rss_bytes: field("VmHWM:")?,
        rss_bytes: field("VmRSS:")?,
    })
}

/// Starts a program as a Lambda function against the local AWS in `region`:
/// Lambda's environment, fresh credentials (so the local AWS can count this
/// process's calls), and `extra`.
pub async fn start(
    local: &LocalAws,
    program: &Path,
    region: &str,
    extra: &[(String, String)],
) -> LambdaProcess {
    let mut env = local.function_env(region);
    env.extend(extra.iter().cloned());
    LambdaProcess::start(program, &env)
        .await
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()))
}

/// Facts about the machine and the run, for the report's heading.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cpus: usize,
    /// The CPU model.
    pub cpu_model: String,
    /// Total memory, bytes.
    pub memory_bytes: u64,
    /// `/proc/loadavg` when the run started.
    pub load_average_at_start: String,
    /// The kernel release.
    pub kernel: String,
    /// `git describe --always --dirty` of the work tree.
    pub commit: String,
}

impl Machine {
    /// Reads the facts.
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let commit = std::process::Command::new("git")
            .args(["describe", "--always", "--dirty"])
            .current_dir(workspace_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
                .unwrap_or_else(|| "unknown".into()),
            memory_bytes: meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024),
            load_average_at_start: load_average(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            commit,
        }
    }
}

/// The first three fields of `/proc/loadavg`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_median_and_nearest_rank_p90() {
        let samples: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        let stats = Stats::of(&samples).unwrap();
        assert_eq!(stats.samples, 10);
        assert!((stats.median_ms - 5.5).abs() < 1e-9);
        assert!((stats.p90_ms - 9.0).abs() < 1e-9);
        assert!((stats.min_ms - 1.0).abs() < 1e-9);
        assert!((stats.max_ms - 10.0).abs() < 1e-9);
        let odd: Vec<Duration> = [3, 1, 2].map(Duration::from_millis).to_vec();
        let stats = Stats::of(&odd).unwrap();
        assert!((stats.median_ms - 2.0).abs() < 1e-9);
        assert!((stats.p90_ms - 3.0).abs() < 1e-9);
        assert_eq!(Stats::of(&[]), None);
    }

    #[test]
    fn options_parse() {
        let options = Options::from_args(
            ["--quick", "--only", "size,cold-start", "--starts", "31"].map(String::from),
        )
        .unwrap();
        assert!(options.quick);
        assert_eq!(options.starts, 31);
        assert!(options.runs("size") && options.runs("cold-start") && !options.runs("invocation"));
        assert!(Options::from_args(["--only", "nope"].map(String::from)).is_err());
        assert!(Options::from_args(["--frobnicate"].map(String::from)).is_err());
    }

    #[test]
    fn goal_bounds_print_in_whole_mb() {
        assert_eq!(goals::whole_mb(goals::MAX_BOOTSTRAP_BYTES), "8 MB");
        assert_eq!(goals::whole_mb(goals::MAX_PEAK_RSS_BYTES), "16 MB");
        assert_eq!(format!("{}", goals::MAX_COLD_START_MEDIAN_MS), "4");
        assert_eq!(format!("{}", goals::MIN_TIMES_FASTER_THAN_PYTHON), "60");
    }

    #[test]
    fn markdown_table() {
        let text = table(&["a", "b"], &[false, true], &[vec!["x".into(), "1".into()]]);
        assert_eq!(text, "| a | b |\n|---|---:|\n| x | 1 |\n");
    }
}
