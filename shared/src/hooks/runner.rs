//! The one hook runner: what every hook invocation does, whichever the
//! deployment controller.
//!
//! [`run`] gives a hook's evaluation the invocation's deadline less a
//! margin ([`Deadlines`]), isolates it from panics and bounds it in time
//! ([`guarded`]), so that exactly one answer comes out whatever happens
//! inside; logs one line per check (the same fields for every hook:
//! `deployment_id`, `hook`, `check`, `passed`, `elapsed_ms`, `evidence`);
//! lets the hook answer (CodeDeploy's bounded status report, the ECS hook's
//! return value); and emits the verdict metric. A hook supplies only what
//! differs, as a [`HookInvocation`].

use std::time::SystemTime;

use futures::future::BoxFuture;
use tokio::time::Instant;

use crate::HandlerError;
use crate::checks::engine::{CheckResult, Deadlines, Interrupted, guarded};
use crate::metrics::MetricSet;

/// The verdict metric a hook emits (EMF, one count per invocation
/// answered): its name and dimensions, the first being `Function`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictMetric<'a> {
    /// `METRICS_NAMESPACE`.
    pub namespace: &'a str,
    /// The metric's name, such as `HookVerdicts`.
    pub name: &'static str,
    /// Its dimension names, `Function` first.
    pub dimensions: &'static [&'static str],
    /// The function's name, the `Function` dimension.
    pub function: &'static str,
}

/// What an evaluation decided, as the runner logs it.
pub trait Evaluated: Send {
    /// The deployment, for the log lines (CodeDeploy's deployment id, ECS's
    /// service deployment ARN).
    fn deployment_id(&self) -> &str;
    /// The hook or stage, `Unknown` when it is not known.
    fn hook(&self) -> &str;
    /// The checks' results, one log line each.
    fn results(&self) -> &[CheckResult];
}

/// An answer, and the verdict metric's dimension values after `Function`.
pub type Answered<A> = (A, Vec<String>);

/// One hook invocation: what differs between hooks.
pub trait HookInvocation: Sync {
    /// What the evaluation decided.
    type Outcome: Evaluated;
    /// What the invocation returns.
    type Answer;

    /// Gather and decide, the checks stopping at `run_deadline`.
    fn evaluate(&self, run_deadline: Instant) -> BoxFuture<'_, Self::Outcome>;

    /// The outcome when the evaluation panicked or ran out of time.
    fn interrupted(&self, why: Interrupted) -> Self::Outcome;

    /// Act and answer, once: the answer and the verdict metric's dimension
    /// values after `Function`; or the invocation's error.
    fn answer(
        &self,
        outcome: Self::Outcome,
        deadlines: Deadlines,
    ) -> BoxFuture<'_, Result<Answered<Self::Answer>, HandlerError>>;

    /// The verdict metric.
    fn metric(&self) -> VerdictMetric<'_>;
}

/// Runs one hook invocation ending at `deadline` (Lambda's, wall clock):
/// evaluate within the deadline less its margin, guarded against panics
/// and overruns; log each check; answer once; count the verdict.
pub async fn run<H: HookInvocation>(
    hook: &H,
    deadline: SystemTime,
) -> Result<H::Answer, HandlerError> {
    let deadlines = Deadlines::of(deadline);
    let outcome = guarded(&deadlines, hook.evaluate(deadlines.run))
        .await
        .unwrap_or_else(|interrupted| hook.interrupted(interrupted));
    log_checks(&outcome);
    let (answer, values) = hook.answer(outcome, deadlines).await?;
    emit_verdict(&hook.metric(), &values);
    Ok(answer)
}

/// One structured line per check.
pub fn log_checks(outcome: &impl Evaluated) {
    let deployment_id = outcome.deployment_id();
    let hook = outcome.hook();
    for result in outcome.results() {
        tracing::info!(
            deployment_id,
            hook,
            check = %result.name,
            passed = result.passed,
            elapsed_ms = result.elapsed.as_millis() as u64,
            evidence = %result.evidence,
            "check"
        );
    }
}

/// Counts one verdict: `Function` is the function's name, then `values`.
pub fn emit_verdict(metric: &VerdictMetric<'_>, values: &[String]) {
    let mut set = MetricSet::new(metric.namespace, metric.name, metric.dimensions);
    let values: Vec<&str> = std::iter::once(metric.function)
        .chain(values.iter().map(String::as_str))
        .collect();
    set.add(&values);
    set.emit();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Outcome(Vec<CheckResult>);

    impl Evaluated for Outcome {
        fn deployment_id(&self) -> &str {
            "d-1"
        }
        fn hook(&self) -> &str {
            "AfterInstall"
        }
        fn results(&self) -> &[CheckResult] {
            &self.0
        }
    }

    /// A hook whose evaluation panics, sleeps past the deadline, or passes.
    struct Fake {
        behaviour: &'static str,
    }

    impl HookInvocation for Fake {
        type Outcome = Outcome;
        type Answer = String;

        fn evaluate(&self, _run_deadline: Instant) -> BoxFuture<'_, Outcome> {
            Box::pin(async move {
                match self.behaviour {
                    "panic" => panic!("boom"),
                    "hang" => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        Outcome(Vec::new())
                    }
                    _ => Outcome(vec![CheckResult {
                        name: "t".into(),
                        passed: true,
                        evidence: "ok".into(),
                        elapsed: Duration::from_millis(1),
                    }]),
                }
            })
        }

        fn interrupted(&self, why: Interrupted) -> Outcome {
            Outcome(vec![CheckResult {
                name: "interrupted".into(),
                passed: false,
                evidence: why.to_string(),
                elapsed: Duration::ZERO,
            }])
        }

        fn answer(
            &self,
            outcome: Outcome,
            _deadlines: Deadlines,
        ) -> BoxFuture<'_, Result<(String, Vec<String>), HandlerError>> {
            Box::pin(async move {
                let result = &outcome.0[0];
                Ok((
                    format!("{}: {}", result.name, result.evidence),
                    vec!["Succeeded".to_owned()],
                ))
            })
        }

        fn metric(&self) -> VerdictMetric<'_> {
            VerdictMetric {
                namespace: "Test",
                name: "HookVerdicts",
                dimensions: &["Function", "Verdict"],
                function: "fake",
            }
        }
    }

    #[tokio::test]
    async fn exactly_one_answer_whatever_the_evaluation_does() {
        let deadline = SystemTime::now() + Duration::from_secs(5);
        let cases = [
            ("pass", "t: ok"),
            ("panic", "interrupted: the hook panicked: boom"),
            (
                "hang",
                "interrupted: time ran out before the checks could run",
            ),
        ];
        for (behaviour, expected) in cases {
            let answer = run(&Fake { behaviour }, deadline).await.unwrap();
            assert_eq!(answer, expected, "{behaviour}");
        }
    }
}
