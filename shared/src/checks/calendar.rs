//! `calendar`: named change calendars are `OPEN`.
//!
//! Parameters: `calendars`, one or more AWS Systems Manager Change Calendar
//! names or document ARNs. Fails while any of them is `CLOSED` (a freeze,
//! or outside a change window), naming the calendar and when it opens: the
//! guard for a deployment that slipped through a freeze, or was started by
//! hand.
//!
//! AWS calls: `ssm:GetCalendarState`, one per calendar.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::common::{FieldError, timeout_from, validate_common};
use super::context::CheckContext;
use super::engine::{Check, Outcome};
use crate::calendar::{self, CalendarName, CalendarState};

/// The `calendar` check's parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CalendarSpec {
    /// The check's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its time budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// The calendars (names or document ARNs); every one must be open.
    #[serde(default)]
    pub calendars: Vec<CalendarName>,
}

impl CalendarSpec {
    /// Needs at least one calendar.
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_common(self.name.as_deref(), self.timeout_seconds)?;
        if self.calendars.is_empty() {
            return Err(FieldError::new(
                "calendars",
                "give one or more change calendar names or ARNs",
            ));
        }
        Ok(())
    }

    /// `calendar release-freeze, holidays`.
    pub fn default_name(&self) -> String {
        let names: Vec<&str> = self.calendars.iter().map(CalendarName::document).collect();
        format!("calendar {}", names.join(", "))
    }
}

/// Passes when every calendar is open; the evidence names each state.
pub fn judge_calendars(states: &[CalendarState]) -> Result<String, String> {
    if let Some(closed) = calendar::closed(states) {
        return Err(closed);
    }
    let open: Vec<String> = states.iter().map(CalendarState::describe).collect();
    Ok(open.join("; "))
}

/// The runnable `calendar` check.
pub struct CalendarCheck {
    name: String,
    timeout: Duration,
    spec: CalendarSpec,
    context: Arc<CheckContext>,
}

impl CalendarCheck {
    /// The check named `name`.
    pub fn new(name: String, spec: CalendarSpec, context: Arc<CheckContext>) -> Self {
        CalendarCheck {
            name,
            timeout: timeout_from(spec.timeout_seconds),
            spec,
            context,
        }
    }

    async fn look(&self) -> Outcome {
        match calendar::states(self.context.clients.ssm(), &self.spec.calendars).await {
            Ok(states) => {
                let states: Vec<CalendarState> = states.into_values().collect();
                match judge_calendars(&states) {
                    Ok(evidence) => Outcome::pass(evidence),
                    Err(evidence) => Outcome::fail(evidence),
                }
            }
            Err(error) => Outcome::fail(error.to_string()),
        }
    }
}

impl Check for CalendarCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn run(&self, _deadline: Instant) -> BoxFuture<'_, Outcome> {
        Box::pin(self.look())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::State;
    use serde_json::json;

    fn state(name: &str, state: State, next: Option<&str>) -> CalendarState {
        CalendarState {
            calendar: CalendarName::parse(name).unwrap(),
            state,
            next_transition: next.map(str::to_owned),
        }
    }

    #[test]
    fn judging_calendars() {
        let cases: Vec<(Vec<CalendarState>, Result<&str, &str>)> = vec![
            (
                vec![state("freeze", State::Open, Some("2026-12-04T17:00:00Z"))],
                Ok("calendar freeze is OPEN until 2026-12-04T17:00:00Z"),
            ),
            (
                vec![
                    state("freeze", State::Open, None),
                    state("holidays", State::Closed, Some("2026-12-27T00:00:00Z")),
                ],
                Err("calendar holidays is CLOSED until 2026-12-27T00:00:00Z"),
            ),
        ];
        for (states, expected) in cases {
            let got = judge_calendars(&states);
            assert_eq!(
                got.as_ref().map(String::as_str).map_err(String::as_str),
                expected
            );
        }
    }

    #[test]
    fn spec_validation_names_the_field() {
        let spec = |value| serde_json::from_value::<CalendarSpec>(value);
        assert_eq!(
            spec(json!({})).unwrap().validate().unwrap_err().field,
            "calendars"
        );
        let error = spec(json!({"calendars": ["ok-name", "x"]})).unwrap_err();
        assert!(error.to_string().contains("not a calendar name"), "{error}");
        assert_eq!(
            spec(json!({"calendars": ["release-freeze", "arn:aws:ssm:eu-west-1:123456789012:document/holidays"]}))
                .unwrap()
                .default_name(),
            "calendar release-freeze, holidays"
        );
    }
}
