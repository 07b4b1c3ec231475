//! Running checks: concurrently, each within its own time budget, all within
//! the invocation's deadline, a panic being that check's failure; optionally
//! again and again over a bake window.
//!
//! The seam is the [`Check`] trait: the engine knows nothing about AWS or
//! HTTP, so it is unit-tested with small in-process checks, and a hook
//! function (CodeDeploy or ECS native) only decides which checks to run and
//! what to do with the [`Report`].
//!
//! Each check runs in its own tokio task. The engine stops waiting for it at
//! the earlier of its own budget (`timeoutSeconds`) and the run's deadline,
//! aborts the task and records "timed out"; a panic inside the task is
//! recorded as `panicked: <message>`. Either way the other checks and the
//! verdict are unaffected, and the caller always gets a report in time to
//! tell CodeDeploy.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::common::{one_line, plural};

/// The longest evidence line kept for one check.
pub const EVIDENCE_MAX_CHARS: usize = 300;

/// The least time kept back from the invocation deadline to report the
/// verdict (see [`run_deadline`]).
pub const MIN_REPORT_MARGIN: Duration = Duration::from_secs(3);
/// The most time kept back from the invocation deadline.
pub const MAX_REPORT_MARGIN: Duration = Duration::from_secs(30);

/// What one run of one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the check passed.
    pub passed: bool,
    /// One line saying what was observed.
    pub evidence: String,
}

impl Outcome {
    /// A pass, with its evidence.
    pub fn pass(evidence: impl Into<String>) -> Self {
        Outcome {
            passed: true,
            evidence: evidence.into(),
        }
    }

    /// A failure, with its evidence.
    pub fn fail(evidence: impl Into<String>) -> Self {
        Outcome {
            passed: false,
            evidence: evidence.into(),
        }
    }
}

/// A check the engine can run.
///
/// Implementations hold everything they need (their spec and a shared
/// [`super::CheckContext`]); a check may be run several times (bake), so it
/// keeps no state between runs.
pub trait Check: Send + Sync {
    /// The check's name, unique within one run.
    fn name(&self) -> &str;
    /// Its time budget for one run.
    fn timeout(&self) -> Duration;
    /// Runs once. `deadline` is a little before the engine stops waiting:
    /// a check that retries or polls stops there and returns its last
    /// observation, which is better evidence than "timed out".
    fn run(&self, deadline: Instant) -> BoxFuture<'_, Outcome>;
}

/// One check's result in a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// One line of evidence, at most [`EVIDENCE_MAX_CHARS`] characters.
    pub evidence: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl CheckResult {
    /// `{"name", "passed", "evidence", "elapsedMs"}`, as the hooks answer it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "passed": self.passed,
            "evidence": self.evidence,
            "elapsedMs": self.elapsed.as_millis() as u64,
        })
    }
}

/// Re-evaluating the checks over a window after they first pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bake {
    /// How long to keep evaluating.
    pub window: Duration,
    /// Time between the starts of two evaluations.
    pub interval: Duration,
}

impl Bake {
    /// A bake of `window`, every `interval` (by default a tenth of the
    /// window, between 1 and 30 seconds). `None` for an empty window.
    pub fn new(window: Duration, interval: Option<Duration>) -> Option<Bake> {
        if window.is_zero() {
            return None;
        }
        let interval = interval.filter(|i| !i.is_zero()).unwrap_or_else(|| {
            (window / 10).clamp(Duration::from_secs(1), Duration::from_secs(30))
        });
        Some(Bake {
            window,
            interval: interval.min(window),
        })
    }
}

/// The verdict of a run of checks, with the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Whether the deployment may go on.
    pub passed: bool,
    /// The results of the failing evaluation, or of the last one.
    pub results: Vec<CheckResult>,
    /// How many times the checks were evaluated.
    pub samples: u32,
    /// What the bake did, when there was one.
    pub bake_note: Option<String>,
}

impl Report {
    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.results.iter().filter(|r| !r.passed)
    }

    /// One line: which checks failed and why, or how many passed.
    pub fn summary(&self) -> String {
        let failed: Vec<String> = self
            .failures()
            .map(|r| format!("{}: {}", r.name, r.evidence))
            .collect();
        let mut summary = if self.results.is_empty() {
            "no checks configured".to_owned()
        } else if failed.is_empty() {
            format!("{} passed", plural(self.results.len(), "check"))
        } else {
            format!(
                "{} of {} failed: {}",
                failed.len(),
                plural(self.results.len(), "check"),
                failed.join("; ")
            )
        };
        if let Some(note) = &self.bake_note {
            summary.push_str(&format!(" ({note})"));
        }
        one_line(&summary, 1000)
    }
}

/// The verdict: every check passed (no checks configured passes).
pub fn hook_verdict(results: &[CheckResult]) -> bool {
    results.iter().all(|r| r.passed)
}

/// When the checks must stop, so that the verdict is reported before the
/// invocation deadline: a tenth of the time left is kept back, at least
/// [`MIN_REPORT_MARGIN`] and at most [`MAX_REPORT_MARGIN`], but never more
/// than half of it.
pub fn run_deadline(now: Instant, invocation_deadline: Instant) -> Instant {
    let remaining = invocation_deadline.saturating_duration_since(now);
    let margin = (remaining / 10)
        .clamp(MIN_REPORT_MARGIN, MAX_REPORT_MARGIN)
        .min(remaining / 2);
    now + (remaining - margin)
}

/// The deadlines of one hook invocation: Lambda's, and the earlier one the
/// checks stop at so that the answer is given in time ([`run_deadline`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// When Lambda ends the invocation.
    pub invocation: Instant,
    /// When the checks stop.
    pub run: Instant,
}

/// The budget of an invocation whose deadline had already passed when it
/// arrived: not a real deadline (a local runtime such as `cargo lambda
/// watch` sends a fixed `Lambda-Runtime-Deadline-Ms` of 600000, ten minutes
/// after 1970), so the hook works to this instead of answering at once that
/// time ran out.
pub const PAST_DEADLINE_BUDGET: Duration = Duration::from_secs(30);

impl Deadlines {
    /// The deadlines of an invocation ending at `deadline` (wall clock). A
    /// deadline already past on arrival gets [`PAST_DEADLINE_BUDGET`], and a
    /// warning says so.
    pub fn of(deadline: std::time::SystemTime) -> Deadlines {
        let now = std::time::SystemTime::now();
        let deadline = if deadline <= now {
            let past = now.duration_since(deadline).map_or(0, |d| d.as_secs());
            tracing::warn!(
                past_by_secs = past,
                budget_secs = PAST_DEADLINE_BUDGET.as_secs(),
                "the invocation's deadline had passed when it arrived (a local runtime such as cargo lambda watch sends a fixed one): working to the budget instead"
            );
            now + PAST_DEADLINE_BUDGET
        } else {
            deadline
        };
        let invocation = instant_at(deadline);
        Deadlines {
            invocation,
            run: run_deadline(Instant::now(), invocation),
        }
    }

    /// The outer bound of [`guarded`]: the run deadline plus a little grace
    /// (half the margin, at most 500 ms), so that the engine, which stops at
    /// the run deadline, can hand over the checks' evidence first.
    pub fn guard(&self) -> Instant {
        let grace = (self.invocation.saturating_duration_since(self.run) / 2)
            .min(Duration::from_millis(500));
        self.run + grace
    }
}

/// Why a guarded evaluation gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interrupted {
    /// It panicked, with this message.
    Panicked(String),
    /// It was still running at [`Deadlines::guard`].
    TimedOut,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Interrupted::Panicked(message) => write!(f, "the hook panicked: {message}"),
            Interrupted::TimedOut => f.write_str("time ran out before the checks could run"),
        }
    }
}

/// Runs a hook's evaluation so that whatever happens inside it, the hook
/// still answers in time: a panic is caught (and becomes
/// [`Interrupted::Panicked`]), and an evaluation still running at
/// [`Deadlines::guard`] is dropped ([`Interrupted::TimedOut`]). Both hooks
/// answer through this, so each gives exactly one answer per invocation.
///
/// The evaluation comes boxed: the nested futures of the checks are too deep
/// for the compiler to lay out inline in the handler's.
pub async fn guarded<T>(
    deadlines: &Deadlines,
    evaluation: BoxFuture<'_, T>,
) -> Result<T, Interrupted> {
    use futures::FutureExt;
    let caught = std::panic::AssertUnwindSafe(evaluation).catch_unwind();
    match tokio::time::timeout_at(deadlines.guard(), caught).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(panic)) => Err(Interrupted::Panicked(panic_message(panic.as_ref()))),
        Err(_) => Err(Interrupted::TimedOut),
    }
}

/// The tokio instant of a wall-clock deadline, such as a Lambda invocation's
/// (now, when it has passed).
pub fn instant_at(deadline: std::time::SystemTime) -> Instant {
    let now = Instant::now();
    match deadline.duration_since(std::time::SystemTime::now()) {
        Ok(left) => now + left,
        Err(_) => now,
    }
}

/// Runs every check once, concurrently; results in the order of `checks`.
pub async fn run_round(checks: &[Arc<dyn Check>], deadline: Instant) -> Vec<CheckResult> {
    futures::future::join_all(checks.iter().map(|check| run_one(check.clone(), deadline))).await
}

/// Runs the checks, then, with a bake, again every interval until the
/// window ends, stopping at the first evaluation where a check fails.
///
/// Never runs past `deadline`: a check still running then fails with
/// "timed out", and a bake that cannot finish before it fails the verdict
/// (saying so in [`Report::bake_note`]).
pub async fn evaluate(checks: &[Arc<dyn Check>], bake: Option<Bake>, deadline: Instant) -> Report {
    let start = Instant::now();
    let mut samples = 0;
    loop {
        let results = run_round(checks, deadline).await;
        samples += 1;
        let passed = hook_verdict(&results);
        let Some(bake) = bake else {
            return Report {
                passed,
                results,
                samples,
                bake_note: None,
            };
        };
        let elapsed = start.elapsed();
        let window = secs(bake.window);
        if !passed {
            return Report {
                passed,
                results,
                samples,
                bake_note: Some(format!(
                    "failed at sample {samples}, {} s into the {window} s bake",
                    secs(elapsed)
                )),
            };
        }
        if elapsed >= bake.window {
            return Report {
                passed,
                results,
                samples,
                bake_note: Some(format!("baked {window} s, {samples} samples")),
            };
        }
        let next = (start + bake.interval * samples).min(start + bake.window);
        if next >= deadline {
            return Report {
                passed: false,
                results,
                samples,
                bake_note: Some(format!(
                    "bake cut short by the deadline: {samples} passing samples over {} s of the {window} s window",
                    secs(elapsed)
                )),
            };
        }
        tokio::time::sleep_until(next).await;
    }
}

/// Seconds as people write them, to a tenth: `2`, `2.5`.
pub fn secs(duration: Duration) -> Secs {
    Secs(duration)
}

/// A duration displayed in seconds (see [`secs`]).
pub struct Secs(Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = (self.0.as_millis() + 50) / 100;
        if tenths.is_multiple_of(10) {
            write!(f, "{}", tenths / 10)
        } else {
            write!(f, "{}.{}", tenths / 10, tenths % 10)
        }
    }
}

async fn run_one(check: Arc<dyn Check>, run_deadline: Instant) -> CheckResult {
    let name = check.name().to_owned();
    let budget = check.timeout();
    let started = Instant::now();
    let own_deadline = started + budget;
    let (deadline, cut_by_run) = if own_deadline <= run_deadline {
        (own_deadline, false)
    } else {
        (run_deadline, true)
    };
    let soft = soft_deadline(started, deadline);
    // A task of its own: a panic is contained in its JoinError, and a check
    // stuck past its deadline is aborted without holding up the others.
    let task = tokio::spawn(async move { check.run(soft).await });
    let abort = task.abort_handle();
    let outcome = match tokio::time::timeout_at(deadline, task).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(error)) if error.is_panic() => Outcome::fail(format!(
            "panicked: {}",
            panic_message(error.into_panic().as_ref())
        )),
        Ok(Err(_)) => Outcome::fail("cancelled before it finished"),
        Err(_) => {
            abort.abort();
            let elapsed = secs(started.elapsed());
            Outcome::fail(if cut_by_run {
                format!("timed out after {elapsed} s: the hook's time ran out")
            } else {
                format!(
                    "timed out after {elapsed} s (timeoutSeconds {})",
                    secs(budget)
                )
            })
        }
    };
    CheckResult {
        name,
        passed: outcome.passed,
        evidence: one_line(&outcome.evidence, EVIDENCE_MAX_CHARS),
        elapsed: started.elapsed(),
    }
}

// The check is told to stop a little before the engine stops waiting, so
// that its own last observation (say, "status 500 after 3 attempts") can
// arrive in time.
fn soft_deadline(started: Instant, deadline: Instant) -> Instant {
    let budget = deadline.saturating_duration_since(started);
    let slack = (budget / 10).min(Duration::from_millis(250));
    deadline.checked_sub(slack).unwrap_or(deadline)
}

/// The message a panic carried, when it is a string.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn a_deadline_past_on_arrival_gets_the_budget() {
        use std::time::{SystemTime, UNIX_EPOCH};
        // cargo lambda watch: 600000 ms after the epoch.
        let fixed = UNIX_EPOCH + Duration::from_millis(600_000);
        let deadlines = Deadlines::of(fixed);
        let left = deadlines.invocation - Instant::now();
        assert!(
            left > PAST_DEADLINE_BUDGET - Duration::from_secs(1),
            "{left:?}"
        );
        assert!(deadlines.run < deadlines.invocation);
        // A real deadline is kept.
        let real = Deadlines::of(SystemTime::now() + Duration::from_secs(5));
        assert!(real.invocation - Instant::now() <= Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_guarded_evaluation_answers_whatever_happens_inside() {
        let deadlines = Deadlines {
            invocation: Instant::now() + Duration::from_secs(10),
            run: Instant::now() + Duration::from_secs(9),
        };
        assert_eq!(
            deadlines.guard(),
            deadlines.run + Duration::from_millis(500)
        );
        assert_eq!(guarded(&deadlines, Box::pin(async { 7 })).await, Ok(7));
        let panicked = guarded(&deadlines, Box::pin(async { panic!("boom") })).await;
        assert_eq!(panicked, Err::<(), _>(Interrupted::Panicked("boom".into())));
        let started = Instant::now();
        let hung = guarded(&deadlines, Box::pin(futures::future::pending::<()>())).await;
        assert_eq!(hung, Err(Interrupted::TimedOut));
        assert_eq!(Instant::now() - started, Duration::from_millis(9500));
        assert_eq!(
            Interrupted::TimedOut.to_string(),
            "time ran out before the checks could run"
        );
    }

    type Behaviour = Box<dyn Fn(u32, Instant) -> BoxFuture<'static, Outcome> + Send + Sync>;

    /// An in-process check: `behaviour(call number, deadline)`.
    struct TestCheck {
        name: String,
        timeout: Duration,
        calls: AtomicU32,
        behaviour: Behaviour,
    }

    impl Check for TestCheck {
        fn name(&self) -> &str {
            &self.name
        }
        fn timeout(&self) -> Duration {
            self.timeout
        }
        fn run(&self, deadline: Instant) -> BoxFuture<'_, Outcome> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            (self.behaviour)(call, deadline)
        }
    }

    fn check(
        name: &str,
        timeout_secs: u64,
        behaviour: impl Fn(u32, Instant) -> BoxFuture<'static, Outcome> + Send + Sync + 'static,
    ) -> Arc<dyn Check> {
        Arc::new(TestCheck {
            name: name.to_owned(),
            timeout: Duration::from_secs(timeout_secs),
            calls: AtomicU32::new(0),
            behaviour: Box::new(behaviour),
        })
    }

    fn sleeper(name: &str, timeout_secs: u64, sleep_ms: u64, passed: bool) -> Arc<dyn Check> {
        check(name, timeout_secs, move |_, _| {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
                Outcome {
                    passed,
                    evidence: format!("slept {sleep_ms} ms"),
                }
            })
        })
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[tokio::test(start_paused = true)]
    async fn checks_run_concurrently_and_keep_their_order() {
        let checks = vec![
            sleeper("a", 30, 1000, true),
            sleeper("b", 30, 1000, false),
            sleeper("c", 30, 500, true),
        ];
        let start = Instant::now();
        let results = run_round(&checks, far()).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(1),
            "not one after another"
        );
        let names: Vec<_> = results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(
            results.iter().map(|r| r.passed).collect::<Vec<_>>(),
            [true, false, true]
        );
        assert_eq!(results[2].evidence, "slept 500 ms");
        assert!(!hook_verdict(&results));
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_past_its_own_timeout_fails_alone() {
        let checks = vec![
            sleeper("slow", 2, 60_000, true),
            sleeper("quick", 30, 10, true),
        ];
        let start = Instant::now();
        let results = run_round(&checks, far()).await;
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert!(!results[0].passed);
        assert_eq!(
            results[0].evidence,
            "timed out after 2 s (timeoutSeconds 2)"
        );
        assert!(results[1].passed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_panic_is_that_checks_failure() {
        let checks = vec![
            check("boom", 30, |_, _| {
                Box::pin(async { panic!("index out of range") })
            }),
            check("boom-early", 30, |_, _| panic!("before the future")),
            check("formatted", 30, |call, _| {
                Box::pin(async move { panic!("call {call} went wrong") })
            }),
            sleeper("fine", 30, 10, true),
        ];
        let results = run_round(&checks, far()).await;
        assert_eq!(results[0].evidence, "panicked: index out of range");
        assert!(!results[1].passed, "a panic while creating the future too");
        assert!(
            results[1].evidence.starts_with("panicked"),
            "{}",
            results[1].evidence
        );
        assert_eq!(results[2].evidence, "panicked: call 1 went wrong");
        assert!(results[3].passed);
    }

    #[tokio::test(start_paused = true)]
    async fn the_run_deadline_bounds_every_check() {
        let checks = vec![
            check("hangs", 600, |_, _| Box::pin(std::future::pending())),
            sleeper("quick", 600, 100, true),
        ];
        let start = Instant::now();
        let results = run_round(&checks, start + Duration::from_secs(5)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        assert_eq!(
            results[0].evidence,
            "timed out after 5 s: the hook's time ran out"
        );
        assert!(results[1].passed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_that_watches_its_deadline_reports_its_own_evidence() {
        let polls = check("polls", 10, |_, deadline| {
            Box::pin(async move {
                let mut attempts = 0;
                while Instant::now() + Duration::from_secs(1) < deadline {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Outcome::fail(format!("still unhealthy after {attempts} attempts"))
            })
        });
        let results = run_round(&[polls], far()).await;
        assert_eq!(results[0].evidence, "still unhealthy after 9 attempts");
    }

    #[tokio::test(start_paused = true)]
    async fn no_time_left_fails_at_once() {
        let results = run_round(&[sleeper("late", 30, 0, true)], Instant::now()).await;
        assert!(!results[0].passed);
        assert!(
            results[0].evidence.starts_with("timed out"),
            "{}",
            results[0].evidence
        );
    }

    #[tokio::test(start_paused = true)]
    async fn evidence_is_one_bounded_line() {
        let long = check("long", 30, |_, _| {
            Box::pin(async { Outcome::pass(format!("line one\nline two {}", "x".repeat(500))) })
        });
        let results = run_round(&[long], far()).await;
        let evidence = &results[0].evidence;
        assert!(evidence.starts_with("line one line two xxx"), "{evidence}");
        assert_eq!(evidence.chars().count(), EVIDENCE_MAX_CHARS);
    }

    #[tokio::test(start_paused = true)]
    async fn without_bake_one_sample() {
        let report = evaluate(&[sleeper("a", 30, 10, true)], None, far()).await;
        assert!(report.passed);
        assert_eq!(report.samples, 1);
        assert_eq!(report.bake_note, None);
        assert_eq!(report.summary(), "1 check passed");
        let report = evaluate(&[], None, far()).await;
        assert!(report.passed, "no checks pass");
        assert_eq!(report.summary(), "no checks configured");
    }

    #[tokio::test(start_paused = true)]
    async fn bake_samples_over_the_window() {
        let bake = Bake::new(Duration::from_secs(10), Some(Duration::from_secs(2)));
        let start = Instant::now();
        let report = evaluate(&[sleeper("a", 30, 0, true)], bake, far()).await;
        assert!(report.passed, "{report:?}");
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        assert_eq!(report.samples, 6, "at 0, 2, 4, 6, 8 and 10 s");
        assert_eq!(report.bake_note.as_deref(), Some("baked 10 s, 6 samples"));
    }

    #[tokio::test(start_paused = true)]
    async fn bake_fails_fast_on_the_first_bad_sample() {
        let flaky = check("flaky", 30, |call, _| {
            Box::pin(async move {
                if call < 3 {
                    Outcome::pass("fine")
                } else {
                    Outcome::fail(format!("bad at call {call}"))
                }
            })
        });
        let bake = Bake::new(Duration::from_secs(60), Some(Duration::from_secs(5)));
        let start = Instant::now();
        let report = evaluate(&[flaky], bake, far()).await;
        assert!(!report.passed);
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        assert_eq!(report.samples, 3);
        assert_eq!(report.results[0].evidence, "bad at call 3");
        assert_eq!(
            report.summary(),
            "1 of 1 check failed: flaky: bad at call 3 (failed at sample 3, 10 s into the 60 s bake)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn bake_never_runs_past_the_deadline() {
        let bake = Bake::new(Duration::from_secs(600), Some(Duration::from_secs(30)));
        let start = Instant::now();
        let report = evaluate(
            &[sleeper("a", 30, 0, true)],
            bake,
            start + Duration::from_secs(100),
        )
        .await;
        assert!(!report.passed, "an unfinished bake is not a pass");
        assert!(start.elapsed() <= Duration::from_secs(100));
        assert_eq!(report.samples, 4);
        assert!(
            report
                .bake_note
                .as_deref()
                .unwrap()
                .starts_with("bake cut short by the deadline"),
            "{report:?}"
        );
    }

    #[test]
    fn bake_defaults() {
        let cases = [
            (0, None, None),
            (300, None, Some(30_000)),
            (20, None, Some(2_000)),
            (2, None, Some(1_000)),
            (3600, None, Some(30_000)),
            (10, Some(60_000), Some(10_000)),
            (10, Some(500), Some(500)),
        ];
        for (window, interval, expected) in cases {
            let bake = Bake::new(
                Duration::from_secs(window),
                interval.map(Duration::from_millis),
            );
            assert_eq!(
                bake.map(|b| b.interval.as_millis() as u64),
                expected,
                "{window} {interval:?}"
            );
        }
    }

    #[test]
    fn run_deadline_keeps_a_margin() {
        let now = Instant::now();
        let cases = [
            // (seconds left, seconds the checks get)
            (900_000, 870_000),
            (300_000, 270_000),
            (60_000, 54_000),
            (30_000, 27_000),
            (10_000, 7_000),
            (6_000, 3_000),
            (4_000, 2_000),
            (1_000, 500),
            (0, 0),
        ];
        for (left_ms, checks_ms) in cases {
            let deadline = run_deadline(now, now + Duration::from_millis(left_ms));
            assert_eq!(
                deadline.duration_since(now),
                Duration::from_millis(checks_ms),
                "{left_ms} ms left"
            );
        }
        let past = now.checked_sub(Duration::from_secs(1)).unwrap();
        assert_eq!(run_deadline(now, past), now);
    }

    #[test]
    fn panic_messages() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&42), "a panic without a message");
    }
}
