//! `alarms`: CloudWatch alarms are not in `ALARM`.
//!
//! Parameters: `names` (alarms that must exist) and/or `namePrefix` (at
//! least one alarm must match). Metric and composite alarms both count;
//! `INSUFFICIENT_DATA` passes (it is named in the evidence).
//!
//! AWS calls: `cloudwatch:DescribeAlarms` (names in batches of 100, the
//! API's limit; the prefix in a separate call, since the API takes one or
//! the other).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudwatch::types::AlarmType;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::common::{FieldError, plural, timeout_from, validate_common};
use super::context::CheckContext;
use super::engine::{Check, Outcome};
use crate::aws::AwsError;

/// `DescribeAlarms` takes at most 100 alarm names.
const NAMES_PER_CALL: usize = 100;

/// The `alarms` check's parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlarmsSpec {
    /// The check's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its time budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// Alarm names; each must exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// An alarm name prefix; at least one alarm must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
}

impl AlarmsSpec {
    /// Needs names or a prefix.
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_common(self.name.as_deref(), self.timeout_seconds)?;
        if self.names.is_empty() && self.name_prefix.is_none() {
            return Err(FieldError::new("names", "give names and/or namePrefix"));
        }
        if let Some(index) = self
            .names
            .iter()
            .position(|n| n.trim().is_empty() || n.len() > 255)
        {
            return Err(FieldError::new(
                format!("names[{index}]"),
                "must be 1 to 255 characters",
            ));
        }
        if let Some(prefix) = &self.name_prefix
            && (prefix.is_empty() || prefix.len() > 255)
        {
            return Err(FieldError::new("namePrefix", "must be 1 to 255 characters"));
        }
        Ok(())
    }

    /// `alarms a, b` and/or `alarms prefix*`.
    pub fn default_name(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        match self.names.len() {
            0 => {}
            1..=3 => parts.push(self.names.join(", ")),
            n => parts.push(format!("{}, ... ({n} names)", self.names[..2].join(", "))),
        }
        if let Some(prefix) = &self.name_prefix {
            parts.push(format!("{prefix}*"));
        }
        format!("alarms {}", parts.join(" + "))
    }
}

/// An alarm and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmState {
    /// The alarm name.
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
}

/// Whether none of the alarms is in `ALARM`, every named alarm exists and
/// the prefix matched some; `Ok` and `Err` both carry the evidence.
pub fn judge_alarms(
    names: &[String],
    prefix: Option<&str>,
    found: &[AlarmState],
) -> Result<String, String> {
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| !found.iter().any(|a| &a.name == *n))
        .map(String::as_str)
        .collect();
    let in_alarm: Vec<&str> = found
        .iter()
        .filter(|a| a.state == "ALARM")
        .map(|a| a.name.as_str())
        .collect();
    let prefix_unmatched = prefix.filter(|p| !found.iter().any(|a| a.name.starts_with(p)));
    let mut problems = Vec::new();
    if !in_alarm.is_empty() {
        problems.push(format!("in ALARM: {}", list(&in_alarm)));
    }
    if !missing.is_empty() {
        problems.push(format!("no such alarm: {}", list(&missing)));
    }
    if let Some(prefix) = prefix_unmatched {
        problems.push(format!("no alarm named {prefix}*"));
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let insufficient: Vec<&str> = found
        .iter()
        .filter(|a| a.state == "INSUFFICIENT_DATA")
        .map(|a| a.name.as_str())
        .collect();
    let mut evidence = format!("{}, none in ALARM", plural(found.len(), "alarm"));
    if !insufficient.is_empty() {
        evidence.push_str(&format!("; INSUFFICIENT_DATA: {}", list(&insufficient)));
    }
    Ok(evidence)
}

fn list(names: &[&str]) -> String {
    if names.len() <= 5 {
        names.join(", ")
    } else {
        format!("{} and {} more", names[..5].join(", "), names.len() - 5)
    }
}

/// The named alarms and those matching the prefix (metric and composite).
///
/// IAM: `cloudwatch:DescribeAlarms`.
pub async fn describe_alarms(
    client: &aws_sdk_cloudwatch::Client,
    names: &[String],
    prefix: Option<&str>,
) -> Result<Vec<AlarmState>, AwsError> {
    let mut requests = Vec::new();
    for chunk in names.chunks(NAMES_PER_CALL) {
        requests.push(
            client
                .describe_alarms()
                .set_alarm_names(Some(chunk.to_vec())),
        );
    }
    if let Some(prefix) = prefix {
        requests.push(client.describe_alarms().alarm_name_prefix(prefix));
    }
    let mut found: Vec<AlarmState> = Vec::new();
    for request in requests {
        let mut pages = request
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::new("describe", "CloudWatch alarms", &e))?;
            let metric = page
                .metric_alarms()
                .iter()
                .map(|a| (a.alarm_name(), a.state_value()));
            let composite = page
                .composite_alarms()
                .iter()
                .map(|a| (a.alarm_name(), a.state_value()));
            for (name, state) in metric.chain(composite) {
                let Some(name) = name else { continue };
                if found.iter().any(|a| a.name == name) {
                    continue;
                }
                found.push(AlarmState {
                    name: name.to_owned(),
                    state: state
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_else(|| "UNKNOWN".to_owned()),
                });
            }
        }
    }
    Ok(found)
}

/// The runnable `alarms` check.
pub struct AlarmsCheck {
    name: String,
    timeout: Duration,
    spec: AlarmsSpec,
    context: Arc<CheckContext>,
}

impl AlarmsCheck {
    /// The check named `name`.
    pub fn new(name: String, spec: AlarmsSpec, context: Arc<CheckContext>) -> Self {
        AlarmsCheck {
            name,
            timeout: timeout_from(spec.timeout_seconds),
            spec,
            context,
        }
    }

    async fn look(&self) -> Outcome {
        let prefix = self.spec.name_prefix.as_deref();
        match describe_alarms(self.context.clients.cloudwatch(), &self.spec.names, prefix).await {
            Ok(found) => match judge_alarms(&self.spec.names, prefix, &found) {
                Ok(evidence) => Outcome::pass(evidence),
                Err(evidence) => Outcome::fail(evidence),
            },
            Err(error) => Outcome::fail(error.to_string()),
        }
    }
}

impl Check for AlarmsCheck {
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

    type Expected<'a> = Result<&'a str, &'a str>;

    fn alarm(name: &str, state: &str) -> AlarmState {
        AlarmState {
            name: name.into(),
            state: state.into(),
        }
    }

    #[test]
    fn judging_alarms() {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        // (names, prefix, alarms found, expected evidence)
        type Case<'a> = (Vec<String>, Option<&'a str>, Vec<AlarmState>, Expected<'a>);
        let cases: Vec<Case> = vec![
            (
                names(&["api-5xx", "api-latency"]),
                None,
                vec![alarm("api-5xx", "OK"), alarm("api-latency", "OK")],
                Ok("2 alarms, none in ALARM"),
            ),
            (
                names(&[]),
                Some("api-"),
                vec![
                    alarm("api-5xx", "OK"),
                    alarm("api-new", "INSUFFICIENT_DATA"),
                ],
                Ok("2 alarms, none in ALARM; INSUFFICIENT_DATA: api-new"),
            ),
            (
                names(&["api-5xx"]),
                Some("api-"),
                vec![alarm("api-5xx", "ALARM"), alarm("api-cpu", "ALARM")],
                Err("in ALARM: api-5xx, api-cpu"),
            ),
            (
                names(&["api-5xx", "typo"]),
                None,
                vec![alarm("api-5xx", "OK")],
                Err("no such alarm: typo"),
            ),
            (
                names(&[]),
                Some("nothing-"),
                vec![],
                Err("no alarm named nothing-*"),
            ),
            (
                names(&["gone"]),
                Some("x-"),
                vec![alarm("x-1", "ALARM")],
                Err("in ALARM: x-1; no such alarm: gone"),
            ),
        ];
        for (names, prefix, found, expected) in cases {
            let got = judge_alarms(&names, prefix, &found);
            assert_eq!(
                got.as_ref().map(String::as_str).map_err(String::as_str),
                expected,
                "{names:?} {prefix:?}"
            );
        }
    }

    #[test]
    fn spec_validation_and_names() {
        let spec = |value| serde_json::from_value::<AlarmsSpec>(value).unwrap();
        assert_eq!(
            spec(serde_json::json!({})).validate().unwrap_err().field,
            "names"
        );
        assert_eq!(
            spec(serde_json::json!({"names": ["a", ""]}))
                .validate()
                .unwrap_err()
                .field,
            "names[1]"
        );
        assert_eq!(
            spec(serde_json::json!({"names": ["a", "b"], "namePrefix": "api-"})).default_name(),
            "alarms a, b + api-*"
        );
        assert_eq!(
            spec(serde_json::json!({"names": ["a", "b", "c", "d"]})).default_name(),
            "alarms a, b, ... (4 names)"
        );
    }
}
