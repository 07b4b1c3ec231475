//! Outcome metrics in CloudWatch Embedded Metric Format (EMF).
//!
//! One JSON line on stdout per metric set: Lambda ships it to CloudWatch
//! Logs, which extracts the metrics. No `PutMetricData` call, no extra IAM
//! permission, no added latency.
//!
//! Each line carries a `level`: Lambda's log-level filtering gives a JSON
//! line without a valid `level` the level INFO ("If the "level" value field
//! is invalid or missing, Lambda will assign the log output the level
//! INFO", Lambda developer guide, Log-level filtering), so at an application
//! log level of WARN or ERROR every metric would be dropped. A metric line
//! takes the configured level (`AWS_LAMBDA_LOG_LEVEL`), the least severe
//! that the filter keeps.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// The default namespace (`METRICS_NAMESPACE` overrides it).
pub const DEFAULT_NAMESPACE: &str = "EcsAutopilot";

/// Counts of one metric by the value of one or more dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSet {
    namespace: String,
    metric: &'static str,
    dimensions: Vec<&'static str>,
    counts: BTreeMap<Vec<String>, u64>,
}

impl MetricSet {
    /// A count metric named `metric` with the given dimension names.
    pub fn new(
        namespace: impl Into<String>,
        metric: &'static str,
        dimensions: &[&'static str],
    ) -> Self {
        MetricSet {
            namespace: namespace.into(),
            metric,
            dimensions: dimensions.to_vec(),
            counts: BTreeMap::new(),
        }
    }

    /// Adds one for these dimension values (in the order of the names).
    pub fn add(&mut self, values: &[&str]) {
        let key = values.iter().map(|v| (*v).to_owned()).collect();
        *self.counts.entry(key).or_default() += 1;
    }

    /// The EMF documents, one per combination of dimension values, each
    /// with `"level": level`.
    pub fn documents(&self, now: SystemTime, level: &str) -> Vec<Value> {
        let timestamp = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        self.counts
            .iter()
            .map(|(values, count)| {
                let mut document = Map::new();
                document.insert("level".into(), Value::String(level.to_owned()));
                document.insert(
                    "_aws".into(),
                    json!({
                        "Timestamp": timestamp,
                        "CloudWatchMetrics": [{
                            "Namespace": self.namespace,
                            "Dimensions": [self.dimensions],
                            "Metrics": [{"Name": self.metric, "Unit": "Count"}],
                        }],
                    }),
                );
                for (name, value) in self.dimensions.iter().zip(values) {
                    document.insert((*name).into(), Value::String(value.clone()));
                }
                document.insert(self.metric.into(), json!(count));
                Value::Object(document)
            })
            .collect()
    }

    /// Writes the documents to stdout, where Lambda collects them, at the
    /// level Lambda's filter keeps ([`metric_level`]).
    pub fn emit(&self) {
        let level = metric_level(std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref());
        for document in self.documents(SystemTime::now(), level) {
            println!("{document}");
        }
    }
}

/// Lambda's application log levels, least severe first.
pub const LAMBDA_LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

/// The `level` of a metric line under the application log level
/// `configured` (`AWS_LAMBDA_LOG_LEVEL`): that level, which Lambda's filter
/// keeps, or `INFO` (Lambda's default) when it is unset or not a Lambda
/// level.
pub fn metric_level(configured: Option<&str>) -> &'static str {
    configured
        .and_then(|c| {
            LAMBDA_LEVELS
                .iter()
                .find(|level| level.eq_ignore_ascii_case(c.trim()))
        })
        .copied()
        .unwrap_or("INFO")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lambda keeps a JSON line whose `level` is at least the configured
    /// one, and reads a missing or invalid `level` as INFO: at every level
    /// the template allows, the metric lines are kept.
    #[test]
    fn metric_lines_pass_lambdas_log_level_filter_at_every_level() {
        let rank = |level: &str| LAMBDA_LEVELS.iter().position(|l| *l == level);
        let kept = |line: &Value, configured: &str| {
            let level = line["level"]
                .as_str()
                .filter(|l| rank(l).is_some())
                .unwrap_or("INFO");
            rank(level) >= rank(configured)
        };
        let mut set = MetricSet::new("EcsAutopilot", "Deployments", &["Function"]);
        set.add(&["redeploy-on-push"]);
        for configured in ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] {
            for written in [configured, &configured.to_lowercase()] {
                let level = metric_level(Some(written));
                let line = &set.documents(SystemTime::now(), level)[0];
                assert!(kept(line, configured), "{configured}: {line}");
            }
        }
        // Without a level, the line would be INFO and dropped at WARN.
        let bare = json!({"_aws": {}});
        assert!(!kept(&bare, "WARN"));
        assert_eq!(metric_level(None), "INFO");
        assert_eq!(metric_level(Some("loud")), "INFO");
    }

    #[test]
    fn one_document_per_dimension_combination() {
        let mut set = MetricSet::new("EcsAutopilot", "Deployments", &["Function", "Outcome"]);
        set.add(&["redeploy-on-push", "deployed"]);
        set.add(&["redeploy-on-push", "deployed"]);
        set.add(&["redeploy-on-push", "skipped"]);
        let documents = set.documents(
            UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_000),
            "INFO",
        );
        assert_eq!(documents.len(), 2);
        assert_eq!(
            documents[0],
            json!({
                "level": "INFO",
                "_aws": {
                    "Timestamp": 1_700_000_000_000u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "EcsAutopilot",
                        "Dimensions": [["Function", "Outcome"]],
                        "Metrics": [{"Name": "Deployments", "Unit": "Count"}],
                    }],
                },
                "Function": "redeploy-on-push",
                "Outcome": "deployed",
                "Deployments": 2,
            })
        );
        assert_eq!(documents[1]["Outcome"], "skipped");
        assert_eq!(documents[1]["Deployments"], 1);
    }
}
