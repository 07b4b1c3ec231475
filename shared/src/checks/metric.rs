//! `metric`: a CloudWatch metric statistic over a recent window, compared
//! with a threshold.
//!
//! Parameters: `namespace`, `metricName`, `stat` (default `Average`; also
//! `Sum`, `Minimum`, `Maximum`, `SampleCount`, `IQM`, percentiles such as
//! `p99` and the other extended statistics), `periodSeconds` (default 60;
//! 1, 5, 10, 30 or a multiple of 60), `windowSeconds` (default 300),
//! `dimensions` (name to value; a value may be `{replacementTargetGroup}`,
//! `{originalTargetGroup}` or `{loadBalancer}`, resolved from the
//! deployment to the `targetgroup/...` and `app/...` values the
//! `AWS/ApplicationELB` metrics use), `comparison` (`<`, `<=`, `>`, `>=`),
//! `threshold`, and `missingData` (`pass`, the default, or `fail`).
//!
//! The window is the last `windowSeconds` up to now, its end rounded up to
//! the minute (or to the period, when shorter). Every period's value in the
//! window must satisfy `value <comparison> threshold`; the evidence shows
//! the worst one. For a total over the window, set `periodSeconds` to
//! `windowSeconds`.
//!
//! AWS calls: `cloudwatch:GetMetricData`, plus, for the placeholders, what
//! the deployment needs to find its target groups and load balancer.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_smithy_types::DateTime;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::common::{FieldError, plural, timeout_from, validate_common};
use super::context::{CheckContext, ContextError, TargetGroupRole, load_balancer_dimension};
use super::engine::{Check, Outcome};
use crate::aws::AwsError;

/// The dimension placeholders resolved from the deployment.
pub const PLACEHOLDERS: [&str; 3] = [
    "{replacementTargetGroup}",
    "{originalTargetGroup}",
    "{loadBalancer}",
];

/// How a value must compare with the threshold to pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    /// `<`
    #[serde(rename = "<")]
    LessThan,
    /// `<=`
    #[serde(rename = "<=")]
    AtMost,
    /// `>`
    #[serde(rename = ">")]
    GreaterThan,
    /// `>=`
    #[serde(rename = ">=")]
    AtLeast,
}

impl Comparison {
    /// Whether `value` passes against `threshold`.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::LessThan => value < threshold,
            Comparison::AtMost => value <= threshold,
            Comparison::GreaterThan => value > threshold,
            Comparison::AtLeast => value >= threshold,
        }
    }

    /// The operator.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::LessThan => "<",
            Comparison::AtMost => "<=",
            Comparison::GreaterThan => ">",
            Comparison::AtLeast => ">=",
        }
    }

    /// The value furthest towards failing: the largest for `<` and `<=`,
    /// the smallest for `>` and `>=`.
    fn worst(self, values: &[f64]) -> f64 {
        // f64::max and f64::min ignore the NaN start.
        values.iter().fold(f64::NAN, |worst, &v| match self {
            Comparison::LessThan | Comparison::AtMost => worst.max(v),
            Comparison::GreaterThan | Comparison::AtLeast => worst.min(v),
        })
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a window without data means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingData {
    /// No data passes (a service without errors often publishes no error count).
    #[default]
    Pass,
    /// No data fails.
    Fail,
}

/// The `metric` check's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricSpec {
    /// The check's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its time budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// The metric's namespace, such as `AWS/ApplicationELB`.
    pub namespace: String,
    /// The metric's name, such as `HTTPCode_Target_5XX_Count`.
    pub metric_name: String,
    /// The statistic (default `Average`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<String>,
    /// The period of each value (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<u32>,
    /// How far back to look (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<u32>,
    /// The metric's dimensions; values may be placeholders.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
    /// How each value must compare with `threshold`.
    pub comparison: Comparison,
    /// The threshold.
    pub threshold: f64,
    /// What no data means (default pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_data: Option<MissingData>,
}

impl MetricSpec {
    /// Checks names, the statistic, the period, window and placeholders.
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_common(self.name.as_deref(), self.timeout_seconds)?;
        if self.namespace.trim().is_empty() || self.namespace.len() > 255 {
            return Err(FieldError::new("namespace", "must be 1 to 255 characters"));
        }
        if self.metric_name.trim().is_empty() || self.metric_name.len() > 255 {
            return Err(FieldError::new("metricName", "must be 1 to 255 characters"));
        }
        if let Some(stat) = &self.stat
            && !valid_stat(stat)
        {
            return Err(FieldError::new(
                "stat",
                "expected SampleCount, Average, Sum, Minimum, Maximum, IQM or an extended statistic such as p99",
            ));
        }
        let period = self.period();
        if !(matches!(period, 1 | 5 | 10 | 30)
            || (period.is_multiple_of(60) && period <= 86_400 && period > 0))
        {
            return Err(FieldError::new(
                "periodSeconds",
                "must be 1, 5, 10, 30 or a multiple of 60 up to 86400",
            ));
        }
        let window = self.window();
        if window < period || window > 7 * 86_400 || window / period > 1440 {
            return Err(FieldError::new(
                "windowSeconds",
                "must be at least periodSeconds, at most 604800 and at most 1440 periods",
            ));
        }
        if self.dimensions.len() > 30 {
            return Err(FieldError::new("dimensions", "at most 30"));
        }
        for (name, value) in &self.dimensions {
            if name.is_empty() || value.is_empty() {
                return Err(FieldError::new(
                    format!("dimensions.{name}"),
                    "names and values must not be empty",
                ));
            }
            if value.starts_with('{') && !PLACEHOLDERS.contains(&value.as_str()) {
                return Err(FieldError::new(
                    format!("dimensions.{name}"),
                    format!(
                        "unknown placeholder; expected one of {}",
                        PLACEHOLDERS.join(", ")
                    ),
                ));
            }
        }
        if !self.threshold.is_finite() {
            return Err(FieldError::new("threshold", "must be a finite number"));
        }
        Ok(())
    }

    /// `metric <name> <stat> <comparison> <threshold>`.
    pub fn default_name(&self) -> String {
        format!(
            "metric {} {} {} {}",
            self.metric_name,
            self.stat(),
            self.comparison,
            self.threshold
        )
    }

    fn stat(&self) -> &str {
        self.stat.as_deref().unwrap_or("Average")
    }

    fn period(&self) -> u32 {
        self.period_seconds.unwrap_or(60)
    }

    fn window(&self) -> u32 {
        self.window_seconds.unwrap_or(300)
    }
}

/// Whether CloudWatch knows `stat`: a standard statistic, `IQM`, or an
/// extended one (`p99`, `p99.9`, `tm90`, `wm99`, `tc90`, `ts90`, `pr(...)`
/// and the range forms `tm(10%:90%)`, in either case).
pub fn valid_stat(stat: &str) -> bool {
    if matches!(
        stat,
        "SampleCount" | "Average" | "Sum" | "Minimum" | "Maximum" | "IQM"
    ) {
        return true;
    }
    let lower = stat.to_ascii_lowercase();
    for prefix in ["p", "tm", "wm", "tc", "ts", "pr"] {
        let Some(rest) = lower.strip_prefix(prefix) else {
            continue;
        };
        if rest.starts_with('(') && rest.ends_with(')') && rest.len() > 2 {
            return prefix != "p";
        }
        if prefix != "pr"
            && let Ok(n) = rest.parse::<f64>()
        {
            return (0.0..=100.0).contains(&n) && !rest.starts_with('+');
        }
    }
    false
}

/// The query window `(start, end)` in epoch seconds: `window` seconds up
/// to `now`, the end rounded up to the minute (to the period when shorter).
pub fn query_window(now: SystemTime, window: u32, period: u32) -> (i64, i64) {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64().ceil() as i64)
        .unwrap_or_default();
    let align = i64::from(period.clamp(1, 60));
    let end = (now + align - 1) / align * align;
    (end - i64::from(window), end)
}

/// Whether every value passes; `Ok` and `Err` both carry the evidence.
pub fn judge_values(
    values: &[f64],
    comparison: Comparison,
    threshold: f64,
    missing: MissingData,
) -> Result<String, String> {
    if values.is_empty() {
        return match missing {
            MissingData::Pass => Ok("no data (missingData pass)".to_owned()),
            MissingData::Fail => Err("no data (missingData fail)".to_owned()),
        };
    }
    let worst = comparison.worst(values);
    let failing = values
        .iter()
        .filter(|v| !comparison.holds(**v, threshold))
        .count();
    let evidence = format!(
        "worst {worst} vs {comparison} {threshold} over {}",
        plural(values.len(), "datapoint")
    );
    if failing == 0 {
        Ok(evidence)
    } else {
        Err(format!("{evidence}, {failing} breaching"))
    }
}

/// The values of one statistic per period over `[start, end)`.
///
/// IAM: `cloudwatch:GetMetricData`.
pub async fn metric_values(
    client: &aws_sdk_cloudwatch::Client,
    spec: &MetricSpec,
    dimensions: &[(String, String)],
    (start, end): (i64, i64),
) -> Result<Vec<f64>, AwsError> {
    let mut metric = Metric::builder()
        .namespace(&spec.namespace)
        .metric_name(&spec.metric_name);
    for (name, value) in dimensions {
        metric = metric.dimensions(Dimension::builder().name(name).value(value).build());
    }
    let query = MetricDataQuery::builder()
        .id("m0")
        .metric_stat(
            MetricStat::builder()
                .metric(metric.build())
                .period(spec.period() as i32)
                .stat(spec.stat())
                .build(),
        )
        .return_data(true)
        .build();
    let mut pages = client
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(DateTime::from_secs(start))
        .end_time(DateTime::from_secs(end))
        .into_paginator()
        .send();
    let mut values = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            AwsError::new(
                "get metric data of",
                format!("{} {}", spec.namespace, spec.metric_name),
                &e,
            )
        })?;
        for result in page.metric_data_results() {
            if result.id() == Some("m0") {
                values.extend(result.values().iter().copied().filter(|v| v.is_finite()));
            }
        }
    }
    Ok(values)
}

/// The runnable `metric` check.
pub struct MetricCheck {
    name: String,
    timeout: Duration,
    spec: MetricSpec,
    context: Arc<CheckContext>,
}

impl MetricCheck {
    /// The check named `name`.
    pub fn new(name: String, spec: MetricSpec, context: Arc<CheckContext>) -> Self {
        MetricCheck {
            name,
            timeout: timeout_from(spec.timeout_seconds),
            spec,
            context,
        }
    }

    /// The dimensions with their placeholders resolved.
    async fn dimensions(&self) -> Result<Vec<(String, String)>, ContextError> {
        let mut resolved = Vec::with_capacity(self.spec.dimensions.len());
        for (name, value) in &self.spec.dimensions {
            let value = match value.as_str() {
                "{replacementTargetGroup}" | "{originalTargetGroup}" => {
                    let role = if value == "{replacementTargetGroup}" {
                        TargetGroupRole::Replacement
                    } else {
                        TargetGroupRole::Original
                    };
                    let group = self.context.deployment.target_group(role).await?;
                    group.dimension().map(str::to_owned).ok_or_else(|| {
                        ContextError::Missing(format!(
                            "target group ARN {} has no targetgroup/ part",
                            group.arn
                        ))
                    })?
                }
                "{loadBalancer}" => {
                    let arn = self.context.deployment.load_balancer().await?;
                    load_balancer_dimension(&arn)
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            ContextError::Missing(format!(
                                "load balancer ARN {arn} has no loadbalancer/ part"
                            ))
                        })?
                }
                literal => literal.to_owned(),
            };
            resolved.push((name.clone(), value));
        }
        Ok(resolved)
    }

    async fn look(&self) -> Outcome {
        let dimensions = match self.dimensions().await {
            Ok(dimensions) => dimensions,
            Err(error) => return Outcome::fail(error.to_string()),
        };
        let window = query_window(SystemTime::now(), self.spec.window(), self.spec.period());
        let values = match metric_values(
            self.context.clients.cloudwatch(),
            &self.spec,
            &dimensions,
            window,
        )
        .await
        {
            Ok(values) => values,
            Err(error) => return Outcome::fail(error.to_string()),
        };
        let described = format!(
            "{} {} per {} s over {} s",
            self.spec.metric_name,
            self.spec.stat(),
            self.spec.period(),
            self.spec.window()
        );
        match judge_values(
            &values,
            self.spec.comparison,
            self.spec.threshold,
            self.spec.missing_data.unwrap_or_default(),
        ) {
            Ok(evidence) => Outcome::pass(format!("{described}: {evidence}")),
            Err(evidence) => Outcome::fail(format!("{described}: {evidence}")),
        }
    }
}

impl Check for MetricCheck {
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
    use serde_json::json;

    #[test]
    fn comparisons() {
        use Comparison::*;
        let cases = [
            (LessThan, 4.0, 5.0, true),
            (LessThan, 5.0, 5.0, false),
            (AtMost, 5.0, 5.0, true),
            (AtMost, 5.1, 5.0, false),
            (GreaterThan, 0.99, 0.99, false),
            (GreaterThan, 1.0, 0.99, true),
            (AtLeast, 0.99, 0.99, true),
            (AtLeast, 0.98, 0.99, false),
        ];
        for (comparison, value, threshold, holds) in cases {
            assert_eq!(
                comparison.holds(value, threshold),
                holds,
                "{value} {comparison} {threshold}"
            );
        }
    }

    #[test]
    fn judging_values() {
        use Comparison::*;
        type Expected<'a> = Result<&'a str, &'a str>;
        let cases: Vec<(&[f64], Comparison, f64, MissingData, Expected)> = vec![
            (
                &[0.0, 1.0, 2.0],
                LessThan,
                5.0,
                MissingData::Pass,
                Ok("worst 2 vs < 5 over 3 datapoints"),
            ),
            (
                &[0.0, 7.0, 9.5],
                LessThan,
                5.0,
                MissingData::Pass,
                Err("worst 9.5 vs < 5 over 3 datapoints, 2 breaching"),
            ),
            (
                &[0.25],
                AtMost,
                0.25,
                MissingData::Pass,
                Ok("worst 0.25 vs <= 0.25 over 1 datapoint"),
            ),
            (
                &[99.9, 98.0],
                AtLeast,
                99.0,
                MissingData::Pass,
                Err("worst 98 vs >= 99 over 2 datapoints, 1 breaching"),
            ),
            (
                &[3.0, 4.0],
                GreaterThan,
                2.0,
                MissingData::Fail,
                Ok("worst 3 vs > 2 over 2 datapoints"),
            ),
            (
                &[],
                LessThan,
                5.0,
                MissingData::Pass,
                Ok("no data (missingData pass)"),
            ),
            (
                &[],
                LessThan,
                5.0,
                MissingData::Fail,
                Err("no data (missingData fail)"),
            ),
        ];
        for (values, comparison, threshold, missing, expected) in cases {
            let got = judge_values(values, comparison, threshold, missing);
            assert_eq!(
                got.as_ref().map(String::as_str).map_err(String::as_str),
                expected,
                "{values:?} {comparison} {threshold}"
            );
        }
    }

    #[test]
    fn statistics() {
        for stat in [
            "Sum",
            "Average",
            "Minimum",
            "Maximum",
            "SampleCount",
            "IQM",
            "p99",
            "p99.9",
            "P50",
            "p0",
            "p100",
            "tm90",
            "wm99",
            "tc90",
            "ts90",
            "TM(10%:90%)",
            "pr(:300)",
        ] {
            assert!(valid_stat(stat), "{stat}");
        }
        for stat in [
            "sum", "avg", "p", "p101", "p-1", "p+5", "px", "p(1:2)", "pr90", "", "Mean",
        ] {
            assert!(!valid_stat(stat), "{stat}");
        }
    }

    #[test]
    fn query_windows_end_on_the_next_boundary() {
        let at = |secs: f64| UNIX_EPOCH + Duration::from_secs_f64(secs);
        let cases = [
            (at(1_700_000_000.0), 300, 60, (1_699_999_740, 1_700_000_040)),
            (at(1_700_000_040.0), 300, 60, (1_699_999_740, 1_700_000_040)),
            (at(1_700_000_040.2), 300, 60, (1_699_999_800, 1_700_000_100)),
            (at(1_700_000_041.0), 60, 10, (1_699_999_990, 1_700_000_050)),
            (
                at(1_700_000_041.0),
                3600,
                3600,
                (1_699_996_500, 1_700_000_100),
            ),
        ];
        for (now, window, period, expected) in cases {
            assert_eq!(
                query_window(now, window, period),
                expected,
                "{now:?} {window} {period}"
            );
        }
    }

    #[test]
    fn spec_validation_names_the_field() {
        let base = json!({"namespace": "AWS/ApplicationELB", "metricName": "TargetResponseTime",
                          "stat": "p99", "comparison": "<", "threshold": 0.5,
                          "dimensions": {"TargetGroup": "{replacementTargetGroup}",
                                         "LoadBalancer": "{loadBalancer}"}});
        let spec: MetricSpec = serde_json::from_value(base.clone()).unwrap();
        assert!(spec.validate().is_ok());
        assert_eq!(spec.default_name(), "metric TargetResponseTime p99 < 0.5");
        let cases = [
            (json!({"stat": "p999"}), "stat"),
            (json!({"periodSeconds": 45}), "periodSeconds"),
            (json!({"periodSeconds": 0}), "periodSeconds"),
            (
                json!({"periodSeconds": 600, "windowSeconds": 300}),
                "windowSeconds",
            ),
            (
                json!({"periodSeconds": 1, "windowSeconds": 3600}),
                "windowSeconds",
            ),
            (json!({"namespace": ""}), "namespace"),
            (json!({"metricName": " "}), "metricName"),
            (
                json!({"dimensions": {"TargetGroup": "{greenTargetGroup}"}}),
                "dimensions.TargetGroup",
            ),
            (json!({"dimensions": {"X": ""}}), "dimensions.X"),
        ];
        for (patch, field) in cases {
            let mut value = base.clone();
            for (k, v) in patch.as_object().unwrap() {
                value[k] = v.clone();
            }
            let spec: MetricSpec = serde_json::from_value(value).unwrap();
            assert_eq!(spec.validate().unwrap_err().field, field, "{patch}");
        }
    }
}
