//! The check configuration (`CHECKS`) into typed, validated specs.
//!
//! Parse, don't validate: the JSON becomes a [`CheckPlan`] once, at cold
//! start; errors name the variable and the field, `CHECKS[2].threshold:
//! expected a finite number`. Each kind's spec lives in its module; this
//! module dispatches on `kind` and holds what all kinds share (`name`,
//! `timeoutSeconds`).

use std::time::Duration;

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::alarms::AlarmsSpec;
use super::calendar::CalendarSpec;
use super::common::{FieldError, timeout_from};
use super::engine::Bake;
use super::http::HttpSpec;
use super::image_scan::ImageScanSpec;
use super::metric::MetricSpec;
use super::target_health::TargetHealthSpec;
use super::task_definition::TaskDefinitionSpec;
use crate::config::{ConfigError, ranged_seconds_value};

/// The longest bake (`bakeSeconds`).
pub const MAX_BAKE_SECONDS: f64 = 3600.0;

/// The check kinds, as written in `kind`.
pub const KINDS: [&str; 7] = [
    "http",
    "target-health",
    "alarms",
    "metric",
    "image-scan",
    "task-definition",
    "calendar",
];

/// One configured check.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum CheckSpec {
    /// An HTTP request and what its response must look like.
    Http(HttpSpec),
    /// The targets of a target group are healthy.
    TargetHealth(TargetHealthSpec),
    /// CloudWatch alarms are not in `ALARM`.
    Alarms(AlarmsSpec),
    /// A CloudWatch metric statistic compared with a threshold.
    Metric(MetricSpec),
    /// ECR scan findings of the new revision's images.
    ImageScan(ImageScanSpec),
    /// Policies on the new task-definition revision.
    TaskDefinition(TaskDefinitionSpec),
    /// Change calendars are open.
    Calendar(CalendarSpec),
}

impl<'de> Deserialize<'de> for CheckSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        CheckSpec::from_value(value).map_err(|e| serde::de::Error::custom(e.to_string()))
    }
}

impl CheckSpec {
    /// The kind, as written in `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            CheckSpec::Http(_) => KINDS[0],
            CheckSpec::TargetHealth(_) => KINDS[1],
            CheckSpec::Alarms(_) => KINDS[2],
            CheckSpec::Metric(_) => KINDS[3],
            CheckSpec::ImageScan(_) => KINDS[4],
            CheckSpec::TaskDefinition(_) => KINDS[5],
            CheckSpec::Calendar(_) => KINDS[6],
        }
    }

    /// The configured name, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            CheckSpec::Http(s) => s.name.as_deref(),
            CheckSpec::TargetHealth(s) => s.name.as_deref(),
            CheckSpec::Alarms(s) => s.name.as_deref(),
            CheckSpec::Metric(s) => s.name.as_deref(),
            CheckSpec::ImageScan(s) => s.name.as_deref(),
            CheckSpec::TaskDefinition(s) => s.name.as_deref(),
            CheckSpec::Calendar(s) => s.name.as_deref(),
        }
    }

    /// The check's time budget for one run (`timeoutSeconds`, default 30).
    pub fn timeout(&self) -> Duration {
        let seconds = match self {
            CheckSpec::Http(s) => s.timeout_seconds,
            CheckSpec::TargetHealth(s) => s.timeout_seconds,
            CheckSpec::Alarms(s) => s.timeout_seconds,
            CheckSpec::Metric(s) => s.timeout_seconds,
            CheckSpec::ImageScan(s) => s.timeout_seconds,
            CheckSpec::TaskDefinition(s) => s.timeout_seconds,
            CheckSpec::Calendar(s) => s.timeout_seconds,
        };
        timeout_from(seconds)
    }

    /// The name used when none is configured, from the kind and its main
    /// parameters (`http GET /health via test listener`).
    pub fn default_name(&self) -> String {
        match self {
            CheckSpec::Http(s) => s.default_name(),
            CheckSpec::TargetHealth(s) => s.default_name(),
            CheckSpec::Alarms(s) => s.default_name(),
            CheckSpec::Metric(s) => s.default_name(),
            CheckSpec::ImageScan(s) => s.default_name(),
            CheckSpec::TaskDefinition(s) => s.default_name(),
            CheckSpec::Calendar(s) => s.default_name(),
        }
    }

    /// One check from its JSON object, validated.
    pub fn from_value(value: Value) -> Result<CheckSpec, FieldError> {
        let Value::Object(mut object) = value else {
            return Err(FieldError::new("", "expected an object with a kind"));
        };
        let kind = match object.remove("kind") {
            Some(Value::String(kind)) => kind,
            Some(_) => return Err(FieldError::new("kind", "must be a string")),
            None => {
                return Err(FieldError::new(
                    "kind",
                    format!("missing; expected one of {}", KINDS.join(", ")),
                ));
            }
        };
        let rest = Value::Object(object);
        let spec = match kind.as_str() {
            "http" => CheckSpec::Http(fields(rest)?),
            "target-health" => CheckSpec::TargetHealth(fields(rest)?),
            "alarms" => CheckSpec::Alarms(fields(rest)?),
            "metric" => CheckSpec::Metric(fields(rest)?),
            "image-scan" => CheckSpec::ImageScan(fields(rest)?),
            "task-definition" => CheckSpec::TaskDefinition(fields(rest)?),
            "calendar" => CheckSpec::Calendar(fields(rest)?),
            other => {
                return Err(FieldError::new(
                    "kind",
                    format!(
                        "unknown kind {other:?}; expected one of {}",
                        KINDS.join(", ")
                    ),
                ));
            }
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks the values serde cannot (ranges, combinations, formats).
    pub fn validate(&self) -> Result<(), FieldError> {
        match self {
            CheckSpec::Http(s) => s.validate(),
            CheckSpec::TargetHealth(s) => s.validate(),
            CheckSpec::Alarms(s) => s.validate(),
            CheckSpec::Metric(s) => s.validate(),
            CheckSpec::ImageScan(s) => s.validate(),
            CheckSpec::TaskDefinition(s) => s.validate(),
            CheckSpec::Calendar(s) => s.validate(),
        }
    }
}

fn fields<T: DeserializeOwned>(value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner().to_string();
        let path = if path == "." { String::new() } else { path };
        // serde's message for an unknown field repeats the field the path
        // already ends with ("unknown field `x`, expected one of ..."):
        // keep only the list of the expected ones.
        if let Some(rest) = inner.strip_prefix("unknown field `")
            && let Some((_, expected)) = rest.split_once('`')
        {
            let expected = expected.trim_start_matches(", ");
            return FieldError::new(path, format!("unknown field, {expected}"));
        }
        FieldError::new(path, inner)
    })
}

/// What a hook runs: the checks and an optional bake.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckPlan {
    /// The checks, in the configured order.
    pub checks: Vec<CheckSpec>,
    /// `bakeSeconds` / `bakeIntervalSeconds`, when configured in the plan.
    pub bake: Option<Bake>,
}

impl CheckPlan {
    /// Parses the JSON text of `variable` (such as `CHECKS`).
    pub fn parse(variable: &str, text: &str) -> Result<CheckPlan, ConfigError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ConfigError::invalid(variable, format!("not valid JSON: {e}")))?;
        CheckPlan::from_value(variable, value)
    }

    /// A plan from a JSON value: an array of checks, or an object
    /// `{"checks": [...], "bakeSeconds": n, "bakeIntervalSeconds": m}`.
    /// Errors are named `variable[index].field` or `variable.field`.
    pub fn from_value(variable: &str, value: Value) -> Result<CheckPlan, ConfigError> {
        let (checks, bake) = match value {
            Value::Array(checks) => (checks, None),
            Value::Object(mut object) => {
                let checks = match object.remove("checks") {
                    Some(Value::Array(checks)) => checks,
                    Some(_) => {
                        return Err(ConfigError::invalid(
                            format!("{variable}.checks"),
                            "must be an array of checks",
                        ));
                    }
                    None => {
                        return Err(ConfigError::invalid(
                            format!("{variable}.checks"),
                            "missing",
                        ));
                    }
                };
                let window = seconds_field(variable, &mut object, "bakeSeconds", MAX_BAKE_SECONDS)?;
                let interval = seconds_field(
                    variable,
                    &mut object,
                    "bakeIntervalSeconds",
                    MAX_BAKE_SECONDS,
                )?;
                if let Some(field) = object.keys().next() {
                    return Err(ConfigError::invalid(
                        format!("{variable}.{field}"),
                        "unknown field, expected checks, bakeSeconds or bakeIntervalSeconds",
                    ));
                }
                if interval.is_some() && window.is_none() {
                    return Err(ConfigError::invalid(
                        format!("{variable}.bakeIntervalSeconds"),
                        "needs bakeSeconds",
                    ));
                }
                let bake = window.and_then(|w| Bake::new(w, interval));
                (checks, bake)
            }
            _ => {
                return Err(ConfigError::invalid(
                    variable,
                    "expected an array of checks or an object with checks",
                ));
            }
        };
        let mut specs = Vec::with_capacity(checks.len());
        for (index, check) in checks.into_iter().enumerate() {
            let spec = CheckSpec::from_value(check).map_err(|e| {
                let name = if e.field.is_empty() {
                    format!("{variable}[{index}]")
                } else {
                    format!("{variable}[{index}].{}", e.field)
                };
                ConfigError::invalid(name, e.reason)
            })?;
            specs.push(spec);
        }
        // Explicit names must not collide: evidence and logs go by name.
        for (index, spec) in specs.iter().enumerate() {
            if let Some(name) = spec.name()
                && specs[..index].iter().any(|s| s.name() == Some(name))
            {
                return Err(ConfigError::invalid(
                    format!("{variable}[{index}].name"),
                    format!("{name:?} is used by an earlier check"),
                ));
            }
        }
        Ok(CheckPlan {
            checks: specs,
            bake,
        })
    }
}

fn seconds_field(
    variable: &str,
    object: &mut serde_json::Map<String, Value>,
    field: &str,
    max: f64,
) -> Result<Option<Duration>, ConfigError> {
    match object.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => {
            ranged_seconds_value(&format!("{variable}.{field}"), &value, 0.0, max).map(Some)
        }
    }
}

/// The name of each check: its configured name, or its default name made
/// unique with ` #2`, ` #3`, ...
pub fn unique_names(specs: &[CheckSpec]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(specs.len());
    for spec in specs {
        let base = spec
            .name()
            .map(str::to_owned)
            .unwrap_or_else(|| spec.default_name());
        let mut name = base.clone();
        let mut n = 1;
        while names.contains(&name) {
            n += 1;
            name = format!("{base} #{n}");
        }
        names.push(name);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::common::DEFAULT_TIMEOUT;
    use serde_json::json;

    fn parse(value: Value) -> Result<CheckPlan, String> {
        CheckPlan::from_value("CHECKS", value).map_err(|e| e.to_string())
    }

    #[test]
    fn every_kind_parses_with_defaults_and_round_trips() {
        let value = json!([
            {"kind": "http", "listener": "test", "path": "/health"},
            {"kind": "target-health"},
            {"kind": "alarms", "namePrefix": "api-"},
            {"kind": "metric", "namespace": "AWS/ApplicationELB",
             "metricName": "HTTPCode_Target_5XX_Count", "stat": "Sum",
             "comparison": "<", "threshold": 5},
            {"kind": "image-scan"},
            {"kind": "task-definition", "name": "policy", "timeoutSeconds": 5},
            {"kind": "calendar", "calendars": ["release-freeze"]},
        ]);
        let plan = parse(value).unwrap();
        let kinds: Vec<_> = plan.checks.iter().map(CheckSpec::kind).collect();
        assert_eq!(kinds, KINDS);
        assert_eq!(plan.bake, None);
        assert_eq!(plan.checks[0].timeout(), DEFAULT_TIMEOUT);
        assert_eq!(plan.checks[5].timeout(), Duration::from_secs(5));
        assert_eq!(
            unique_names(&plan.checks),
            [
                "http GET /health via test listener",
                "target-health replacement",
                "alarms api-*",
                "metric HTTPCode_Target_5XX_Count Sum < 5",
                "image-scan HIGH",
                "policy",
                "calendar release-freeze",
            ]
        );
        let again: Vec<CheckSpec> =
            serde_json::from_value(serde_json::to_value(&plan.checks).unwrap()).unwrap();
        assert_eq!(again, plan.checks);
    }

    #[test]
    fn object_form_carries_the_bake() {
        let plan =
            parse(json!({"checks": [{"kind": "target-health"}], "bakeSeconds": 120})).unwrap();
        assert_eq!(
            plan.bake,
            Some(Bake {
                window: Duration::from_secs(120),
                interval: Duration::from_secs(12)
            })
        );
        let plan =
            parse(json!({"checks": [], "bakeSeconds": 2, "bakeIntervalSeconds": 0.5})).unwrap();
        assert_eq!(plan.bake.unwrap().interval, Duration::from_millis(500));
        let plan = parse(json!({"checks": [], "bakeSeconds": 0})).unwrap();
        assert_eq!(plan.bake, None);
    }

    #[test]
    fn errors_name_the_field() {
        let metric = json!({"kind": "metric", "namespace": "N", "metricName": "M",
                            "comparison": "<", "threshold": 1});
        let with = |patch: Value| {
            let mut check = metric.clone();
            for (k, v) in patch.as_object().unwrap() {
                check[k] = v.clone();
            }
            json!([{"kind": "target-health"}, {"kind": "alarms", "names": ["a"]}, check])
        };
        let cases = [
            (
                json!("nope"),
                "invalid environment variable CHECKS: expected an array",
            ),
            (json!([3]), "CHECKS[0]: expected an object"),
            (json!([{}]), "CHECKS[0].kind: missing"),
            (
                json!([{"kind": "dns"}]),
                "CHECKS[0].kind: unknown kind \"dns\"",
            ),
            (
                with(json!({"threshold": "high"})),
                "CHECKS[2].threshold: invalid type: string \"high\"",
            ),
            (
                with(json!({"treshold": 1})),
                "CHECKS[2].treshold: unknown field, expected one of",
            ),
            (
                with(json!({"comparison": "=="})),
                "CHECKS[2].comparison: unknown variant `==`",
            ),
            (
                with(json!({"timeoutSeconds": 0})),
                "CHECKS[2].timeoutSeconds: must be more than 0",
            ),
            (
                with(json!({"name": ""})),
                "CHECKS[2].name: must be 1 to 100 characters",
            ),
            (
                with(json!({"dimensions": {"TargetGroup": 7}})),
                "CHECKS[2].dimensions.TargetGroup: invalid type",
            ),
            (json!({"checks": {}}), "CHECKS.checks: must be an array"),
            (json!({"check": []}), "CHECKS.checks: missing"),
            (
                json!({"checks": [], "bakeSeconds": -1}),
                "CHECKS.bakeSeconds: must be a number",
            ),
            (
                json!({"checks": [], "bake": 1}),
                "CHECKS.bake: unknown field",
            ),
            (
                json!({"checks": [], "bakeIntervalSeconds": 1}),
                "CHECKS.bakeIntervalSeconds: needs bakeSeconds",
            ),
            (
                json!([{"kind": "image-scan", "name": "x"}, {"kind": "task-definition", "name": "x"}]),
                "CHECKS[1].name: \"x\" is used by an earlier check",
            ),
        ];
        for (value, expected) in cases {
            let error = parse(value.clone()).unwrap_err();
            assert!(error.contains(expected), "{value}: {error}");
        }
        let error = CheckPlan::parse("CHECKS", "[{").unwrap_err().to_string();
        assert!(error.contains("CHECKS: not valid JSON"), "{error}");
    }

    #[test]
    fn default_names_are_made_unique() {
        let plan = parse(json!([
            {"kind": "target-health"},
            {"kind": "target-health"},
            {"kind": "target-health", "name": "target-health replacement #2"},
            {"kind": "target-health", "targetGroup": "original"},
        ]))
        .unwrap();
        assert_eq!(
            unique_names(&plan.checks),
            [
                "target-health replacement",
                "target-health replacement #2",
                "target-health replacement #2 #2",
                "target-health original",
            ]
        );
    }
}
