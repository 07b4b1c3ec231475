//! The summary: what happened to each service, as the function returns it,
//! and the error an invocation reports when any part failed.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::decide::{Capacity, Decision};
use super::gate::CalendarNote;
use crate::error::{Classify, ErrorKind};

/// What happened to one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Its capacity was changed.
    Changed,
    /// It was already as requested.
    Unchanged,
    /// Nothing to do for this action.
    Skipped,
    /// A change was needed; dry run made none.
    Planned,
    /// It could not be read or changed.
    Failed,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 5] = [
        Outcome::Changed,
        Outcome::Unchanged,
        Outcome::Skipped,
        Outcome::Planned,
        Outcome::Failed,
    ];

    /// The outcome's name, as in the summary and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Changed => "changed",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
            Outcome::Planned => "planned",
            Outcome::Failed => "failed",
        }
    }
}

/// One service in the [`Summary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceReport {
    /// The workload account, when the schedule acts in other accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// `cluster/service`.
    pub service: String,
    /// What happened.
    pub outcome: Outcome,
    /// Why, or what failed.
    pub reason: String,
    /// The capacity before, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Capacity>,
    /// The capacity after (planned, on dry run); absent for a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Capacity>,
    /// For a failure: `Retryable`, `NotFound` or `Unexpected`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<&'static str>,
    #[serde(skip)]
    pub(super) kind: Option<ErrorKind>,
}

impl ServiceReport {
    pub(super) fn failed(
        service: String,
        before: Option<Capacity>,
        kind: ErrorKind,
        reason: String,
    ) -> Self {
        ServiceReport {
            account: None,
            service,
            outcome: Outcome::Failed,
            reason,
            before,
            after: None,
            error_type: Some(kind.error_type()),
            kind: Some(kind),
        }
    }
}

/// Everything one invocation did, as the function returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The action's name.
    pub action: &'static str,
    /// Whether `DRY_RUN` was set.
    pub dry_run: bool,
    /// Each selected service, sorted by name.
    pub services: Vec<ServiceReport>,
    /// Services per outcome.
    pub counts: BTreeMap<&'static str, usize>,
    /// Clusters or batches that could not be read while selecting services.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The payload's change calendars: their states, and whether the
    /// scheduled action was skipped or replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar: Option<CalendarNote>,
    #[serde(skip)]
    pub(super) error_kinds: Vec<ErrorKind>,
}

/// An invocation in which a service failed or a cluster could not be read.
///
/// Its kind follows the one rule for batches ([`ErrorKind::of_batch`]):
/// `Retryable` when any failure is (a retry of the same, idempotent payload
/// finishes the job), else the first failure's kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ScheduleFailed {
    kind: ErrorKind,
    message: String,
}

impl Classify for ScheduleFailed {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

// Failures listed in full in the error message; the rest are counted.
const FAILURES_IN_MESSAGE: usize = 5;

impl Summary {
    pub(super) fn new(action: &'static str, dry_run: bool) -> Self {
        Summary {
            action,
            dry_run,
            services: Vec::new(),
            counts: BTreeMap::new(),
            errors: Vec::new(),
            calendar: None,
            error_kinds: Vec::new(),
        }
    }

    pub(super) fn finish(&mut self) {
        self.services
            .sort_by(|a, b| (&a.account, &a.service).cmp(&(&b.account, &b.service)));
        self.counts = Outcome::ALL
            .into_iter()
            .map(|o| {
                (
                    o.as_str(),
                    self.services.iter().filter(|s| s.outcome == o).count(),
                )
            })
            .collect();
    }

    /// The summary as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The error to report when a service failed or a cluster could not be
    /// read; `None` when all went well.
    pub fn failure(&self) -> Option<ScheduleFailed> {
        let failed: Vec<&ServiceReport> = self
            .services
            .iter()
            .filter(|s| s.outcome == Outcome::Failed)
            .collect();
        if failed.is_empty() && self.errors.is_empty() {
            return None;
        }
        let kind = ErrorKind::of_batch(
            failed
                .iter()
                .map(|s| s.kind.unwrap_or(ErrorKind::Unexpected))
                .chain(self.error_kinds.iter().copied()),
        )
        .unwrap_or(ErrorKind::Unexpected);
        let counts = self
            .counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut details: Vec<String> = self.errors.clone();
        details.extend(failed.iter().map(|s| match &s.account {
            Some(account) => format!("{account}/{}: {}", s.service, s.reason),
            None => format!("{}: {}", s.service, s.reason),
        }));
        let more = details.len().saturating_sub(FAILURES_IN_MESSAGE);
        details.truncate(FAILURES_IN_MESSAGE);
        let mut message = format!(
            "{} failed for {} of {} services",
            self.action,
            failed.len(),
            self.services.len()
        );
        if !self.errors.is_empty() {
            message.push_str(&format!(" and {} selection error(s)", self.errors.len()));
        }
        message.push_str(&format!(" ({counts}): {}", details.join("; ")));
        if more > 0 {
            message.push_str(&format!("; and {more} more"));
        }
        Some(ScheduleFailed { kind, message })
    }
}

// Here rather than beside `Decision`: the outcome is the summary's vocabulary,
// and the decision does not depend on the summary.
impl Decision {
    /// The outcome when no write is made: `planned` for a change on dry run,
    /// `None` for a change to be made.
    pub fn outcome_without_acting(&self, dry_run: bool) -> Option<Outcome> {
        match self {
            Decision::Change { .. } if dry_run => Some(Outcome::Planned),
            Decision::Change { .. } => None,
            Decision::Unchanged { .. } => Some(Outcome::Unchanged),
            Decision::Skip { .. } => Some(Outcome::Skipped),
            Decision::Refuse { .. } => Some(Outcome::Failed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    use super::super::decide::tests::{observed, set};
    use super::super::{Action, capacity_change};

    #[test]
    fn outcomes_without_acting_and_dry_run() {
        let change = capacity_change(&Action::ScaleToZero, &observed(3, None, None));
        assert_eq!(change.outcome_without_acting(true), Some(Outcome::Planned));
        assert_eq!(change.outcome_without_acting(false), None);
        for dry_run in [true, false] {
            let unchanged = capacity_change(&set(1, 4, None), &observed(3, None, None));
            assert_eq!(
                unchanged.outcome_without_acting(dry_run),
                Some(Outcome::Unchanged)
            );
            let skip = capacity_change(&Action::Restore, &observed(3, None, None));
            assert_eq!(skip.outcome_without_acting(dry_run), Some(Outcome::Skipped));
            let refuse = capacity_change(&Action::Restore, &observed(3, None, Some("x")));
            assert_eq!(
                refuse.outcome_without_acting(dry_run),
                Some(Outcome::Failed)
            );
        }
    }

    fn report(service: &str, outcome: Outcome, kind: Option<ErrorKind>) -> ServiceReport {
        ServiceReport {
            account: None,
            service: service.into(),
            outcome,
            reason: format!("{service} reason"),
            before: Some(Capacity::of(3, None)),
            after: (outcome != Outcome::Failed).then(|| Capacity::of(0, None)),
            error_type: kind.map(ErrorKind::error_type),
            kind,
        }
    }

    #[test]
    fn summary_json_and_failure_kinds() {
        let mut summary = Summary::new("scale-to-zero", false);
        summary.services = vec![
            report("b/two", Outcome::Changed, None),
            report("a/one", Outcome::Unchanged, None),
        ];
        summary.finish();
        assert!(summary.failure().is_none());
        let json = summary.to_json();
        assert_eq!(json["action"], "scale-to-zero");
        assert_eq!(json["dryRun"], false);
        assert_eq!(json["services"][0]["service"], "a/one");
        assert_eq!(
            json["services"][1]["before"],
            json!({"min": null, "max": null, "desired": 3})
        );
        assert_eq!(json["counts"]["changed"], 1);
        assert_eq!(json["counts"]["failed"], 0);
        assert!(json.get("errors").is_none());

        summary.services.push(report(
            "c/three",
            Outcome::Failed,
            Some(ErrorKind::Retryable),
        ));
        summary.finish();
        let failure = summary.failure().unwrap();
        assert_eq!(failure.kind(), ErrorKind::Retryable);
        let message = failure.to_string();
        assert!(
            message.starts_with("scale-to-zero failed for 1 of 3 services (changed 1, failed 1, planned 0, skipped 0, unchanged 1): c/three: c/three reason"),
            "{message}"
        );
        assert_eq!(summary.to_json()["services"][2]["errorType"], "Retryable");

        // One retryable failure makes the invocation retryable (the one rule
        // for batches), whatever else failed.
        summary
            .services
            .push(report("d/four", Outcome::Failed, Some(ErrorKind::NotFound)));
        summary.finish();
        assert_eq!(summary.failure().unwrap().kind(), ErrorKind::Retryable);
        summary.services.retain(|s| s.service != "c/three");
        summary.finish();
        assert_eq!(summary.failure().unwrap().kind(), ErrorKind::NotFound);

        let mut selection_only = Summary::new("restore", true);
        selection_only.errors = vec!["failed to list services in cluster x: boom".into()];
        selection_only.error_kinds = vec![ErrorKind::Retryable];
        selection_only.finish();
        let failure = selection_only.failure().unwrap();
        assert_eq!(failure.kind(), ErrorKind::Retryable);
        assert!(
            failure.to_string().contains("1 selection error"),
            "{failure}"
        );
    }

    #[test]
    fn long_failure_lists_are_cut() {
        let mut summary = Summary::new("restore", false);
        summary.services = (0..8)
            .map(|i| {
                report(
                    &format!("c/s{i}"),
                    Outcome::Failed,
                    Some(ErrorKind::Unexpected),
                )
            })
            .collect();
        summary.finish();
        let message = summary.failure().unwrap().to_string();
        assert!(message.ends_with("; and 3 more"), "{message}");
    }
}
