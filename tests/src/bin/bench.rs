//! Benchmarks, printed as tables and written as Markdown and JSON under
//! `target/bench/` (one pair of files per section, and a combined
//! `README.md` with the goals, each marked met or missed). Never asserted:
//! the numbers are for reading.
//!
//! Run with `./scripts/bench` (`--quick` for a shorter run), which installs
//! what it needs, builds the release binaries and the arm64 bootstraps,
//! starts a local AWS of its own and runs this.
//!
//! Sections (`--only a,b` runs some):
//! * `size`: each arm64 `bootstrap` from `cargo lambda build --release
//!   --arm64`, raw and zipped, and the x86_64 release binaries;
//! * `cold-start`: process start to the first poll of the Runtime API,
//!   median and p90 over at least 30 starts per function, and the Python
//!   baseline's;
//! * `invocation`: first and warm invocation latency of a realistic event
//!   (no added API latency) and peak RSS over a cold start and 100
//!   invocations, Rust and Python; with `cold-start`, the side-by-side
//!   `python-baseline` table;
//! * `redeploy-scale`: redeploy-on-push's AWS calls and wall time for one
//!   matched service, a cluster of 100 services and an account of 1,000
//!   services over 10 clusters, at concurrency 8 and 1, with 40 ms added to
//!   each AWS call;
//! * `scaling-scale`: scheduled-scaling's scale-to-zero and restore over 100
//!   tagged services in 10 clusters, likewise;
//! * `fleet-scale`: redeploy-on-push over 10,000 services in 50 clusters of
//!   three workload accounts (20 tracking), by tag and by listing;
//! * `aws-calls`: the AWS calls of one event of each kind, gathered from the above.

use std::time::Instant;

use autopilot_tests::LocalAws;
use autopilot_tests::bench::fixtures::Workload;
use autopilot_tests::bench::fleet::{self, FleetRow};
use autopilot_tests::bench::goals::{
    MAX_BOOTSTRAP_BYTES, MAX_COLD_START_MEDIAN_MS, MAX_PEAK_RSS_BYTES,
    MIN_TIMES_FASTER_THAN_PYTHON, whole_mb,
};
use autopilot_tests::bench::runtime::{self, ColdStart, Invocations, Runtime, Target};
use autopilot_tests::bench::scale::{self, ScaleRow, ScalingRow};
use autopilot_tests::bench::size::{self, Size};
use autopilot_tests::bench::{
    self, FUNCTIONS, Machine, Options, SECTIONS, Section, load_average, mb, ms, output_dir, table,
};
use serde_json::json;

#[tokio::main]
async fn main() {
    let options = Options::from_args(std::env::args().skip(1)).unwrap_or_else(|error| {
        eprintln!(
            "bench: {error}\nusage: bench [--quick] [--starts N] [--invocations N] [--only {}]",
            SECTIONS.join(",")
        );
        std::process::exit(2);
    });
    let local = LocalAws::connect().await;
    local.set_latency(0).await;
    let machine = Machine::read();
    let begun = Instant::now();
    println!(
        "ecs-autopilot benchmarks{} — {} CPUs ({}), load average {}, binaries in {}, local AWS {}\n",
        if options.quick { " (quick)" } else { "" },
        machine.cpus,
        machine.cpu_model,
        machine.load_average_at_start,
        options.bin_dir.display(),
        local.endpoint()
    );
    if options.python.is_none() {
        eprintln!(
            "bench: no Python baseline interpreter (.local/venv-baseline): its rows are left out; scripts/bench installs it"
        );
    }

    let mut sections: Vec<Section> = Vec::new();
    let publish = |section: Section, sections: &mut Vec<Section>| {
        section.publish();
        sections.push(section);
    };

    let mut sizes: Vec<Size> = Vec::new();
    if options.runs("size") {
        let (rows, section) = size::measure(&options);
        sizes = rows;
        publish(section, &mut sections);
    }

    let mut cold: Vec<ColdStart> = Vec::new();
    let mut runs: Vec<Invocations> = Vec::new();
    if options.runs("cold-start") || options.runs("invocation") {
        eprintln!("bench: provisioning each function's workload");
        let mut targets = targets(&local, &options).await;
        if options.runs("cold-start") {
            cold = runtime::cold_starts(&local, &targets, options.starts).await;
            publish(
                runtime::cold_start_section(&cold, options.starts),
                &mut sections,
            );
        }
        if options.runs("invocation") {
            runs = runtime::invocations(&local, &mut targets, options.invocations).await;
            publish(
                runtime::invocation_section(&runs, options.invocations),
                &mut sections,
            );
        }
        if options.python.is_some() {
            publish(runtime::baseline_section(&cold, &runs), &mut sections);
        }
    }

    let mut redeploy: Vec<ScaleRow> = Vec::new();
    if options.runs("redeploy-scale") {
        redeploy = scale::redeploy_scale(&local, &options).await;
        publish(scale::redeploy_section(&redeploy), &mut sections);
    }
    let mut scaling: Vec<ScalingRow> = Vec::new();
    if options.runs("scaling-scale") {
        scaling = scale::scaling_scale(&local, &options).await;
        publish(scale::scaling_section(&scaling), &mut sections);
    }
    let mut fleet_rows: Vec<FleetRow> = Vec::new();
    if options.runs("fleet-scale") {
        fleet_rows = fleet::fleet_scale(&local, &options).await;
        publish(fleet::fleet_section(&fleet_rows), &mut sections);
    }
    if !redeploy.is_empty() || !scaling.is_empty() || !runs.is_empty() {
        publish(
            scale::calls_section(&redeploy, &scaling, &runs),
            &mut sections,
        );
    }

    let goals = goals(&machine, &cold, &runs, &sizes, &redeploy, &fleet_rows);
    let elapsed = begun.elapsed().as_secs_f64();
    let mut readme = format!(
        "# ecs-autopilot benchmarks\n\n\
         `scripts/bench{}` on {} CPUs ({}), {} of memory; load average {} at the start and {} at the end \
         (other work on the machine shows in the timings); commit `{}`; {:.0} s. Timings are from \
         this machine and this run: compare rows within a run, not across machines.\n\n",
        if options.quick { " --quick" } else { "" },
        machine.cpus,
        machine.cpu_model,
        mb(machine.memory_bytes),
        machine.load_average_at_start,
        load_average(),
        machine.commit,
        elapsed
    );
    readme.push_str(&goals.0);
    for section in &sections {
        readme.push('\n');
        readme.push_str(&section.markdown);
    }
    let dir = output_dir();
    bench::write(&dir.join("README.md"), &readme);
    bench::write(
        &dir.join("summary.json"),
        &serde_json::to_string_pretty(&json!({
            "quick": options.quick,
            "starts": options.starts,
            "invocations": options.invocations,
            "machine": machine,
            "loadAverageAtEnd": load_average(),
            "seconds": elapsed,
            "goals": goals.1,
            "sections": sections.iter().map(|s| s.name).collect::<Vec<_>>(),
        }))
        .unwrap_or_default(),
    );
    println!("{}", goals.0);
    eprintln!("bench: done in {elapsed:.0} s; combined report in target/bench/README.md");
}

/// The programs to measure, each with its workload in a Region of its own.
async fn targets(local: &LocalAws, options: &Options) -> Vec<Target> {
    let mut targets = vec![
        Target::rust(options, Workload::redeploy(local, "eu-central-1").await),
        Target::rust(
            options,
            Workload::codedeploy_hook(local, "ap-south-1").await,
        ),
        Target::rust(
            options,
            Workload::ecs_deployment_hook(local, "us-east-2").await,
        ),
        Target::rust(
            options,
            Workload::scheduled_scaling(local, "ca-central-1").await,
        ),
    ];
    if let Some(python) = &options.python {
        targets.push(Target::python(
            python,
            "redeploy.handler",
            Workload::redeploy(local, "eu-north-1").await,
        ));
        targets.push(Target::python(
            python,
            "hook.handler",
            Workload::codedeploy_hook(local, "ap-southeast-2").await,
        ));
    }
    targets
}

/// The goals (`bench::goals`, and discovery at the API limits) against what
/// was measured: Markdown and JSON.
fn goals(
    machine: &Machine,
    cold: &[ColdStart],
    runs: &[Invocations],
    sizes: &[Size],
    redeploy: &[ScaleRow],
    fleet_rows: &[FleetRow],
) -> (String, serde_json::Value) {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut data = Vec::new();
    let mut add = |goal: String, measured: String, met: Option<bool>| {
        let verdict = match met {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "not measured",
        };
        data.push(json!({"goal": goal, "measured": measured, "met": met}));
        rows.push(vec![goal, measured, verdict.to_owned()]);
    };
    let rust_cold = |f: &str| {
        cold.iter()
            .find(|c| c.function == f && c.runtime == Runtime::Rust)
            .and_then(|c| c.stats)
    };
    for function in FUNCTIONS {
        if let Some(stats) = rust_cold(function) {
            add(
                format!(
                    "`{function}` cold start ≤ {MAX_COLD_START_MEDIAN_MS} ms median (idle machine)"
                ),
                format!(
                    "{} median, {} p90 (load average {})",
                    ms(stats.median_ms),
                    ms(stats.p90_ms),
                    machine.load_average_at_start
                ),
                Some(stats.median_ms <= MAX_COLD_START_MEDIAN_MS),
            );
        }
    }
    for python in cold.iter().filter(|c| c.runtime == Runtime::Python) {
        if let (Some(p), Some(r)) = (python.stats, rust_cold(&python.function)) {
            let times = p.median_ms / r.median_ms;
            add(
                format!(
                    "`{}` cold start ≥ {MIN_TIMES_FASTER_THAN_PYTHON}× faster than Python",
                    python.function
                ),
                format!("{times:.0}× ({} vs {})", ms(r.median_ms), ms(p.median_ms)),
                Some(times >= MIN_TIMES_FASTER_THAN_PYTHON),
            );
        }
    }
    for run in runs.iter().filter(|r| r.runtime == Runtime::Rust) {
        if let Some(memory) = run.memory {
            add(
                format!(
                    "`{}` peak RSS ≤ {}",
                    run.function,
                    whole_mb(MAX_PEAK_RSS_BYTES)
                ),
                mb(memory.peak_rss_bytes),
                Some(memory.peak_rss_bytes <= MAX_PEAK_RSS_BYTES),
            );
        }
    }
    for size in sizes.iter().filter(|s| s.architecture == "aarch64") {
        add(
            format!(
                "`{}` arm64 bootstrap ≤ {} raw",
                size.function,
                whole_mb(MAX_BOOTSTRAP_BYTES)
            ),
            format!(
                "{} ({} zipped)",
                mb(size.raw_bytes),
                size.zipped_bytes.map_or("-".into(), mb)
            ),
            Some(size.raw_bytes <= MAX_BOOTSTRAP_BYTES),
        );
    }
    if sizes.iter().all(|s| s.architecture != "aarch64") && !sizes.is_empty() {
        add(
            format!("arm64 bootstraps ≤ {} raw", whole_mb(MAX_BOOTSTRAP_BYTES)),
            "no arm64 build (see Binary size); x86_64 shown there".into(),
            None,
        );
    }
    let big = |c: usize| {
        redeploy
            .iter()
            .find(|r| r.services >= 1000 && r.concurrency == c)
    };
    if let Some(row) = big(8) {
        let describe = row
            .calls
            .get("ecs:DescribeServices")
            .copied()
            .unwrap_or_default();
        let definitions = row
            .calls
            .get("ecs:DescribeTaskDefinition")
            .copied()
            .unwrap_or_default();
        let discovery: u64 = [
            "ecs:ListClusters",
            "ecs:ListServices",
            "ecs:DescribeServices",
        ]
        .iter()
        .filter_map(|op| row.calls.get(*op))
        .sum();
        add(
            "1,000-service redeploy: discovery at the API-limit arithmetic (about services / 10 describes)".into(),
            format!(
                "{discovery} discovery calls ({} at the limits), DescribeServices {describe}, DescribeTaskDefinition {definitions}",
                row.discovery_calls_at_api_limits
            ),
            Some(discovery <= row.discovery_calls_at_api_limits),
        );
        let ecs_reads: u64 = row
            .calls
            .iter()
            .filter(|(op, _)| op.starts_with("ecs:List") || op.starts_with("ecs:Describe"))
            .map(|(_, n)| n)
            .sum();
        let seconds = row.wall_ms / 1000.0;
        // A token bucket of 50 and 20 a second lets through at most 50 + 20 t reads in t seconds.
        let allowed = 50.0 + 20.0 * seconds;
        add(
            "1,000-service redeploy: within ECS's read throttling (100 burst, 20/s)".into(),
            format!(
                "{ecs_reads} ECS reads in {} ({:.0}/s on average; the pacer allows at most {:.0} in that time)",
                ms(row.wall_ms),
                ecs_reads as f64 / seconds,
                allowed
            ),
            Some(ecs_reads as f64 <= allowed + 0.5),
        );
        if let Some(one) = big(1) {
            let speedup = one.wall_ms / row.wall_ms;
            // The read pacer's floor: what is left after the burst, at 20 a second.
            let floor_s = (ecs_reads as f64 - 50.0).max(0.0) / 20.0;
            add(
                "1,000-service redeploy: several times faster than with concurrency 1".into(),
                format!(
                    "{speedup:.1}× ({} vs {}); the read pacer alone needs {floor_s:.1} s, concurrency 1 already reads at {:.0}/s",
                    ms(row.wall_ms),
                    ms(one.wall_ms),
                    ecs_reads as f64 / (one.wall_ms / 1000.0)
                ),
                Some(speedup >= 3.0),
            );
        }
    }
    if let Some(row) = fleet_rows.iter().find(|r| r.discovery == "tags") {
        let listing = fleet_rows.iter().find(|r| r.discovery == "ecs");
        add(
            format!(
                "{} services in {} clusters over {} accounts, {} tracked: at most {} discovery calls a push",
                row.services,
                row.clusters,
                row.accounts,
                fleet::TRACKED,
                fleet::MAX_DISCOVERY_CALLS
            ),
            format!(
                "{} discovery calls in {}{}",
                row.discovery_calls,
                ms(row.wall_ms),
                listing.map_or(String::new(), |l| format!(
                    " (by listing: {} calls in {})",
                    l.discovery_calls,
                    ms(l.wall_ms)
                ))
            ),
            Some(row.discovery_calls <= fleet::MAX_DISCOVERY_CALLS),
        );
    }
    let markdown = format!(
        "## Goals\n\n{}",
        table(
            &["goal", "measured", "verdict"],
            &[false, false, false],
            &rows
        )
    );
    (markdown, json!(data))
}
