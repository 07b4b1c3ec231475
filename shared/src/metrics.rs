//! Outcome metrics in CloudWatch Embedded Metric Format (EMF).
//!
//! One JSON line on stdout per metric set: Lambda ships it to CloudWatch
//! Logs, which extracts the metrics. No `PutMetricData` call, no extra IAM
//! permission, no added latency.

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

    /// The EMF documents, one per combination of dimension values.
    pub fn documents(&self, now: SystemTime) -> Vec<Value> {
        let timestamp = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        self.counts
            .iter()
            .map(|(values, count)| {
                let mut document = Map::new();
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

    /// Writes the documents to stdout, where Lambda collects them.
    pub fn emit(&self) {
        for document in self.documents(SystemTime::now()) {
            println!("{document}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_document_per_dimension_combination() {
        let mut set = MetricSet::new("EcsAutopilot", "Deployments", &["Function", "Outcome"]);
        set.add(&["redeploy-on-push", "deployed"]);
        set.add(&["redeploy-on-push", "deployed"]);
        set.add(&["redeploy-on-push", "skipped"]);
        let documents =
            set.documents(UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_000));
        assert_eq!(documents.len(), 2);
        assert_eq!(
            documents[0],
            json!({
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
