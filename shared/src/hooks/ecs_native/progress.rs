//! Waiting across invocations: the state a hook execution carries in
//! `hookDetails.progress`, and the pure decision of each invocation.
//!
//! One invocation looks at the checks once. ECS invokes the hook again after
//! `callBackDelay` while it answers `IN_PROGRESS`, handing back the
//! `hookDetails` it returned, so a wait or a bake takes as long as it needs
//! without an invocation sleeping through its timeout:
//! - checks failing: `IN_PROGRESS` while the stage's `waitSeconds` (counted
//!   from the first invocation) allows another look, then `FAILED` with the
//!   last evidence;
//! - checks passing, no bake: `SUCCEEDED`;
//! - checks passing with a bake: the bake starts at the first passing look;
//!   `IN_PROGRESS` every bake interval until the window is over, then
//!   `SUCCEEDED`; a failing look during the bake is `FAILED` at once;
//! - whatever the plan, a hook execution never takes longer than
//!   `maxWaitSeconds`: a look that would come later is not scheduled, and
//!   an invocation arriving past the limit fails without looking.
//!
//! Which execution a `progress` belongs to: ECS documents only that the
//! `hookDetails` of an `IN_PROGRESS` answer come back on the next
//! invocation of the same hook in the same deployment (merged into the
//! configured ones, or in their place: either works, the answer carries the
//! configuration too). Whether `executionId` stays the same across those
//! invocations is not documented, so a progress is resumed by what is: the
//! service deployment, the stage, and the traffic step (the weights of a
//! linear or canary step; each step is judged afresh). The `executionId` is
//! kept for the logs only.

use std::time::Duration;

use crate::checks::Bake;
use crate::checks::engine::secs;
use serde::{Deserialize, Serialize};

/// The state of a hook execution between invocations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Progress {
    /// The `executionId` of the invocation that started it (for the logs:
    /// whether ECS keeps it across re-invocations is not documented).
    pub execution_id: String,
    /// The service deployment it belongs to (`resourceArn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// The stage it belongs to.
    pub stage: String,
    /// The traffic step it belongs to (see [`ProgressKey::step`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// When the first invocation of the execution started, in milliseconds
    /// since the Unix epoch.
    pub started_at_ms: u64,
    /// Invocations so far, this one included.
    pub invocations: u32,
    /// When the checks first passed in a bake, in milliseconds since the
    /// Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passing_since_ms: Option<u64>,
    /// Passing looks in the bake so far.
    #[serde(default)]
    pub samples: u32,
}

/// What a progress belongs to: one hook execution, named by what ECS
/// documents to persist between its invocations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressKey<'a> {
    /// The service deployment (`resourceArn`).
    pub deployment: &'a str,
    /// The stage.
    pub stage: &'a str,
    /// The traffic step, such as `production 25` (the target revision's
    /// weights in the event), or `None` where the event carries none.
    pub step: Option<String>,
}

impl Progress {
    /// The progress of the hook execution `key`: `earlier` when it belongs
    /// to it, else a new one starting `now_ms` (noting `execution_id`). The
    /// invocation is counted.
    pub fn resume(
        earlier: Option<Progress>,
        key: &ProgressKey<'_>,
        execution_id: &str,
        now_ms: u64,
    ) -> Progress {
        let mut progress = earlier
            .filter(|p| {
                p.deployment.as_deref() == Some(key.deployment)
                    && p.stage == key.stage
                    && p.step == key.step
            })
            .unwrap_or_else(|| Progress {
                execution_id: execution_id.to_owned(),
                deployment: Some(key.deployment.to_owned()),
                stage: key.stage.to_owned(),
                step: key.step.clone(),
                started_at_ms: now_ms,
                invocations: 0,
                passing_since_ms: None,
                samples: 0,
            });
        // The counters come back from the event: saturate, never overflow.
        progress.invocations = progress.invocations.saturating_add(1);
        progress
    }

    /// Time since the first invocation.
    pub fn elapsed(&self, now_ms: u64) -> Duration {
        Duration::from_millis(now_ms.saturating_sub(self.started_at_ms))
    }

    /// Whether the execution has run out of time before this look.
    pub fn expired(&self, now_ms: u64, max_wait: Duration) -> bool {
        self.invocations > 1 && self.elapsed(now_ms) >= max_wait
    }
}

/// The hook's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The deployment goes on.
    Succeeded,
    /// ECS rolls the deployment back.
    Failed,
    /// ECS invokes the hook again after the delay (whole seconds, at least 1).
    InProgress(u64),
}

impl Status {
    /// `SUCCEEDED`, `FAILED` or `IN_PROGRESS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::InProgress(_) => "IN_PROGRESS",
        }
    }
}

/// What governs the waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long failing checks are looked at again.
    pub wait: Duration,
    /// The bake, if any.
    pub bake: Option<Bake>,
    /// The longest the whole execution may take.
    pub max_wait: Duration,
    /// The delay between looks at failing checks.
    pub callback: Duration,
}

/// The decision of one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The answer.
    pub status: Status,
    /// Why, in one line.
    pub reason: String,
    /// The state to hand back.
    pub progress: Progress,
}

/// Decides the answer after one look at the checks (`passed`, with the
/// `summary` of their evidence), `now_ms` being when the look ended.
pub fn decide(
    mut progress: Progress,
    now_ms: u64,
    passed: bool,
    summary: &str,
    timing: &Timing,
) -> Decision {
    let elapsed = progress.elapsed(now_ms);
    // Another look fits when it comes before the end of `limit` and of the
    // whole execution.
    let next_fits =
        |delay: Duration, limit: Duration| elapsed + delay <= limit.min(timing.max_wait);
    let (status, reason) = if !passed {
        if let Some(since) = progress.passing_since_ms {
            let baked = secs(Duration::from_millis(now_ms.saturating_sub(since)));
            (
                Status::Failed,
                format!(
                    "failed during the bake, {baked} s in, after {} passing looks: {summary}",
                    progress.samples
                ),
            )
        } else if !timing.wait.is_zero() && next_fits(timing.callback, timing.wait) {
            (
                Status::InProgress(delay_secs(timing.callback)),
                format!(
                    "waiting, {} s of {} s: {summary}",
                    secs(elapsed),
                    secs(timing.wait)
                ),
            )
        } else if timing.wait.is_zero() {
            (Status::Failed, summary.to_owned())
        } else {
            (
                Status::Failed,
                format!(
                    "still failing after {} s (waitSeconds {}): {summary}",
                    secs(elapsed),
                    secs(timing.wait)
                ),
            )
        }
    } else if let Some(bake) = timing.bake {
        let since = *progress.passing_since_ms.get_or_insert(now_ms);
        progress.samples = progress.samples.saturating_add(1);
        let baked = Duration::from_millis(now_ms.saturating_sub(since));
        if baked >= bake.window {
            (
                Status::Succeeded,
                format!(
                    "baked {} s, {} passing looks: {summary}",
                    secs(bake.window),
                    progress.samples
                ),
            )
        } else {
            let delay = bake.interval.min(bake.window - baked);
            if elapsed + delay <= timing.max_wait {
                (
                    Status::InProgress(delay_secs(delay)),
                    format!(
                        "baking, {} s of {} s, {} passing looks: {summary}",
                        secs(baked),
                        secs(bake.window),
                        progress.samples
                    ),
                )
            } else {
                (
                    Status::Failed,
                    format!(
                        "the bake cannot finish within maxWaitSeconds {}: {} s of {} s baked",
                        secs(timing.max_wait),
                        secs(baked),
                        secs(bake.window)
                    ),
                )
            }
        }
    } else {
        (Status::Succeeded, summary.to_owned())
    };
    Decision {
        status,
        reason,
        progress,
    }
}

/// The answer for an execution that ran out of time before this invocation.
pub fn expired(progress: Progress, now_ms: u64, max_wait: Duration) -> Decision {
    let reason = format!(
        "gave up after {} s and {} invocations (maxWaitSeconds {})",
        secs(progress.elapsed(now_ms)),
        progress.invocations - 1,
        secs(max_wait)
    );
    Decision {
        status: Status::Failed,
        reason,
        progress,
    }
}

/// `callBackDelay` in whole seconds, at least 1.
fn delay_secs(delay: Duration) -> u64 {
    delay.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000_000;

    fn at(secs: u64) -> u64 {
        T0 + secs * 1000
    }

    fn progress(invocations: u32, passing_since: Option<u64>, samples: u32) -> Progress {
        Progress {
            execution_id: "x".into(),
            deployment: Some("d".into()),
            stage: "POST_SCALE_UP".into(),
            step: None,
            started_at_ms: T0,
            invocations,
            passing_since_ms: passing_since.map(at),
            samples,
        }
    }

    /// Regression (tests/bad_input.rs): `hookDetails.progress` comes from the
    /// event, and counters at `u32::MAX` overflowed (a panic in a debug
    /// build, a wrap to 0 in a release one, which also unset `expired`).
    #[test]
    fn counters_from_the_event_saturate() {
        let full = progress(u32::MAX, Some(0), u32::MAX);
        let resumed = Progress::resume(Some(full), &key("d", "POST_SCALE_UP", None), "x", at(10));
        assert_eq!(resumed.invocations, u32::MAX);
        assert!(resumed.expired(at(4000), Duration::from_secs(1800)));
        let decision = decide(
            resumed,
            at(10),
            true,
            "ok",
            &timing(0, Some((60, 10)), 1800),
        );
        assert_eq!(decision.progress.samples, u32::MAX);
    }

    fn timing(wait: u64, bake: Option<(u64, u64)>, max_wait: u64) -> Timing {
        Timing {
            wait: Duration::from_secs(wait),
            bake: bake
                .and_then(|(w, i)| Bake::new(Duration::from_secs(w), Some(Duration::from_secs(i)))),
            max_wait: Duration::from_secs(max_wait),
            callback: Duration::from_secs(30),
        }
    }

    #[test]
    fn decisions() {
        // (progress, seconds since start, passed, timing, status, reason starts with, samples)
        let cases = [
            // No wait, no bake: the look decides.
            (
                progress(1, None, 0),
                0,
                true,
                timing(0, None, 1800),
                Status::Succeeded,
                "ok",
                0,
            ),
            (
                progress(1, None, 0),
                0,
                false,
                timing(0, None, 1800),
                Status::Failed,
                "ok",
                0,
            ),
            // Waiting out failures, then giving up.
            (
                progress(1, None, 0),
                0,
                false,
                timing(300, None, 1800),
                Status::InProgress(30),
                "waiting, 0 s of 300 s: ok",
                0,
            ),
            (
                progress(9, None, 0),
                270,
                false,
                timing(300, None, 1800),
                Status::InProgress(30),
                "waiting, 270 s of 300 s",
                0,
            ),
            (
                progress(10, None, 0),
                280,
                false,
                timing(300, None, 1800),
                Status::Failed,
                "still failing after 280 s (waitSeconds 300)",
                0,
            ),
            (
                progress(10, None, 0),
                280,
                true,
                timing(300, None, 1800),
                Status::Succeeded,
                "ok",
                0,
            ),
            // The total limit caps the wait.
            (
                progress(3, None, 0),
                50,
                false,
                timing(300, None, 60),
                Status::Failed,
                "still failing",
                0,
            ),
            // Baking: starts at the first pass, looks every interval, ends.
            (
                progress(1, None, 0),
                0,
                true,
                timing(0, Some((60, 20)), 1800),
                Status::InProgress(20),
                "baking, 0 s of 60 s, 1 passing looks",
                1,
            ),
            (
                progress(2, Some(0), 1),
                20,
                true,
                timing(0, Some((60, 20)), 1800),
                Status::InProgress(20),
                "baking, 20 s of 60 s, 2 passing looks",
                2,
            ),
            (
                progress(3, Some(0), 2),
                50,
                true,
                timing(0, Some((60, 20)), 1800),
                Status::InProgress(10),
                "baking, 50 s of 60 s",
                3,
            ),
            (
                progress(4, Some(0), 3),
                60,
                true,
                timing(0, Some((60, 20)), 1800),
                Status::Succeeded,
                "baked 60 s, 4 passing looks",
                4,
            ),
            (
                progress(3, Some(0), 2),
                40,
                false,
                timing(0, Some((60, 20)), 1800),
                Status::Failed,
                "failed during the bake, 40 s in, after 2 passing looks",
                2,
            ),
            // Waiting, then baking after the first pass (the bake starts late).
            (
                progress(5, None, 0),
                120,
                true,
                timing(300, Some((60, 30)), 1800),
                Status::InProgress(30),
                "baking, 0 s of 60 s",
                1,
            ),
            // A bake that cannot end within the total limit fails.
            (
                progress(5, Some(100), 1),
                150,
                true,
                timing(300, Some((100, 30)), 160),
                Status::Failed,
                "the bake cannot finish within maxWaitSeconds 160",
                2,
            ),
        ];
        for (index, (progress, secs, passed, timing, status, reason, samples)) in
            cases.into_iter().enumerate()
        {
            let decision = decide(progress, at(secs), passed, "ok", &timing);
            assert_eq!(decision.status, status, "case {index}: {}", decision.reason);
            assert!(
                decision.reason.starts_with(reason),
                "case {index}: {:?} does not start with {reason:?}",
                decision.reason
            );
            assert_eq!(decision.progress.samples, samples, "case {index}");
        }
    }

    fn key<'a>(deployment: &'a str, stage: &'a str, step: Option<&str>) -> ProgressKey<'a> {
        ProgressKey {
            deployment,
            stage,
            step: step.map(str::to_owned),
        }
    }

    #[test]
    fn progress_resumes_its_deployment_stage_and_step_whatever_the_execution_id() {
        let earlier = progress(3, None, 0);
        // (key, execution id, resumed)
        let cases = [
            (key("d", "POST_SCALE_UP", None), "x", true),
            // ECS may or may not keep the executionId: not documented.
            (key("d", "POST_SCALE_UP", None), "y", true),
            (key("d", "PRE_SCALE_UP", None), "x", false),
            (key("other", "POST_SCALE_UP", None), "x", false),
            (key("d", "POST_SCALE_UP", Some("production 25")), "x", false),
        ];
        for (key, execution, resumed) in cases {
            let got = Progress::resume(Some(earlier.clone()), &key, execution, at(90));
            let expected = if resumed { (4, T0) } else { (1, at(90)) };
            assert_eq!(
                (got.invocations, got.started_at_ms),
                expected,
                "{key:?} {execution}"
            );
            assert_eq!(got.execution_id, if resumed { "x" } else { execution });
        }
        // A progress from before it named its deployment starts afresh.
        let old = Progress {
            deployment: None,
            ..earlier
        };
        let got = Progress::resume(Some(old), &key("d", "POST_SCALE_UP", None), "x", at(90));
        assert_eq!(got.invocations, 1);
        // Each step of a linear deployment is judged afresh.
        let step1 = Progress::resume(
            None,
            &key("d", "PRODUCTION_TRAFFIC_SHIFT", Some("production 25")),
            "x",
            at(0),
        );
        let step2 = Progress::resume(
            Some(step1.clone()),
            &key("d", "PRODUCTION_TRAFFIC_SHIFT", Some("production 50")),
            "x",
            at(60),
        );
        assert_eq!((step2.invocations, step2.started_at_ms), (1, at(60)));
        let again = Progress::resume(
            Some(step1),
            &key("d", "PRODUCTION_TRAFFIC_SHIFT", Some("production 25")),
            "z",
            at(30),
        );
        assert_eq!((again.invocations, again.started_at_ms), (2, at(0)));
    }

    #[test]
    fn expiry_needs_an_earlier_invocation() {
        let max = Duration::from_secs(60);
        assert!(!progress(1, None, 0).expired(at(0), max));
        assert!(!progress(2, None, 0).expired(at(59), max));
        assert!(progress(2, None, 0).expired(at(60), max));
        let decision = expired(progress(5, None, 0), at(75), max);
        assert_eq!(decision.status, Status::Failed);
        assert_eq!(
            decision.reason,
            "gave up after 75 s and 4 invocations (maxWaitSeconds 60)"
        );
    }

    #[test]
    fn progress_round_trips_as_camel_case_json() {
        let value = serde_json::to_value(progress(2, Some(10), 1)).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "executionId": "x", "deployment": "d", "stage": "POST_SCALE_UP", "startedAtMs": T0,
                "invocations": 2, "passingSinceMs": at(10), "samples": 1
            })
        );
        let back: Progress = serde_json::from_value(value).unwrap();
        assert_eq!(back, progress(2, Some(10), 1));
    }

    #[test]
    fn callback_delays_are_whole_seconds_at_least_one() {
        let cases = [(0.0, 1), (0.2, 1), (1.0, 1), (1.1, 2), (30.0, 30)];
        for (secs, expected) in cases {
            assert_eq!(
                delay_secs(Duration::from_secs_f64(secs)),
                expected,
                "{secs}"
            );
        }
    }
}
