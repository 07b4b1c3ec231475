//! The check engine: declarative deployment checks, run concurrently, each
//! with its own time budget, giving a verdict with one line of evidence per
//! check.
//!
//! Used by the CodeDeploy lifecycle hook (`codedeploy-hook`) and meant to be
//! reused unchanged by the ECS-native hook: a hook function is an adapter
//! that parses its configuration into [`spec::CheckSpec`]s (or takes the
//! [`defaults`] for its hook), supplies a [`context::Deployment`] (what the
//! checks need to know about the deployment: listeners, target groups, the
//! new task definition), builds the checks with [`build`], runs them with
//! [`engine::evaluate`] and reports the [`engine::Report`].
//!
//! # Layout
//! - [`spec`]: the configuration (`CHECKS` JSON) into typed, validated specs;
//!   errors name the field (`CHECKS[2].threshold: ...`).
//! - [`engine`]: the [`engine::Check`] seam, concurrency, per-check timeouts,
//!   panics as failures, the overall deadline and the bake window.
//! - [`context`]: what checks may ask about a deployment, and the AWS and
//!   HTTP clients they probe with.
//! - [`codedeploy`]: that context resolved lazily from a CodeDeploy
//!   deployment, and the hook status report.
//! - One module per check kind, each with its spec, its pure decision
//!   (unit-tested by tables) and its probe: [`http`], [`target_health`],
//!   [`alarms`], [`metric`], [`image_scan`], [`task_definition`].
//! - [`resolve`]: host pinning for the http checks (`RESOLVE`, like curl's
//!   `--resolve` and `--connect-to`).
//!
//! # Configuration
//! `CHECKS` is a JSON array of checks, or an object
//! `{"checks": [...], "bakeSeconds": 300, "bakeIntervalSeconds": 30}`. Every
//! check has a `kind`, an optional `name` (derived from the kind and its
//! parameters when absent) and an optional `timeoutSeconds` (default 30):
//!
//! ```json
//! [
//!   {"kind": "http", "listener": "test", "path": "/health", "status": 200,
//!    "jsonPointer": "/status", "equals": "ok", "maxLatencyMs": 500,
//!    "attempts": 3, "intervalMs": 2000},
//!   {"kind": "target-health", "minHealthy": 2},
//!   {"kind": "alarms", "namePrefix": "backend-"},
//!   {"kind": "metric", "namespace": "AWS/ApplicationELB",
//!    "metricName": "HTTPCode_Target_5XX_Count", "stat": "Sum",
//!    "dimensions": {"TargetGroup": "{replacementTargetGroup}",
//!                   "LoadBalancer": "{loadBalancer}"},
//!    "comparison": "<", "threshold": 5},
//!   {"kind": "image-scan", "severity": "HIGH"},
//!   {"kind": "task-definition", "requireDigest": true,
//!    "requiredSecrets": ["DATABASE_URL"], "essentialHealthChecks": true}
//! ]
//! ```
//!
//! See each kind's module for its parameters, and [`defaults`] for what runs
//! when no checks are configured.

pub mod alarms;
pub mod codedeploy;
pub mod context;
pub mod defaults;
pub mod ecs_service;
pub mod elb;
pub mod engine;
#[cfg(debug_assertions)]
pub mod fault;
pub mod http;
pub mod image_scan;
pub mod metric;
pub mod resolve;
pub mod spec;
pub mod target_health;
pub mod task_definition;

use std::fmt;
use std::sync::Arc;

use crate::redeploy::appspec::ECS_HOOKS;

pub use context::{CheckContext, Clients, Deployment};
pub use engine::{Bake, Check, CheckResult, Outcome, Report, evaluate};
pub use spec::{CheckPlan, CheckSpec};

/// A CodeDeploy ECS lifecycle hook a function can be attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    /// Before the replacement task set is created.
    BeforeInstall,
    /// After the replacement task set is created (and registered with the
    /// replacement target group).
    AfterInstall,
    /// After the test listener routes to the replacement task set.
    AfterAllowTestTraffic,
    /// Before production traffic moves to the replacement task set.
    BeforeAllowTraffic,
    /// After production traffic moved to the replacement task set.
    AfterAllowTraffic,
}

impl Hook {
    /// Every hook, in the order CodeDeploy runs them.
    pub const ALL: [Hook; 5] = [
        Hook::BeforeInstall,
        Hook::AfterInstall,
        Hook::AfterAllowTestTraffic,
        Hook::BeforeAllowTraffic,
        Hook::AfterAllowTraffic,
    ];

    /// The name AppSpec files and CodeDeploy use, such as `AfterInstall`.
    pub fn as_str(self) -> &'static str {
        // ECS_HOOKS lists the same names in the same order.
        ECS_HOOKS[self as usize]
    }

    /// The hook with this exact name, if any.
    pub fn parse(name: &str) -> Option<Hook> {
        Hook::ALL.into_iter().find(|hook| hook.as_str() == name)
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Builds the runnable checks for `specs` against one deployment.
///
/// Nothing is called here: each check resolves what it needs from
/// `context` when it runs. The AWS calls and IAM actions are those of the
/// kinds used (see each kind's module).
pub fn build(specs: &[CheckSpec], context: &Arc<CheckContext>) -> Vec<Arc<dyn Check>> {
    let names = spec::unique_names(specs);
    specs
        .iter()
        .zip(names)
        .map(|(spec, name)| -> Arc<dyn Check> {
            let context = context.clone();
            match spec {
                CheckSpec::Http(s) => Arc::new(http::HttpCheck::new(name, s.clone(), context)),
                CheckSpec::TargetHealth(s) => Arc::new(target_health::TargetHealthCheck::new(
                    name,
                    s.clone(),
                    context,
                )),
                CheckSpec::Alarms(s) => {
                    Arc::new(alarms::AlarmsCheck::new(name, s.clone(), context))
                }
                CheckSpec::Metric(s) => {
                    Arc::new(metric::MetricCheck::new(name, s.clone(), context))
                }
                CheckSpec::ImageScan(s) => {
                    Arc::new(image_scan::ImageScanCheck::new(name, s.clone(), context))
                }
                CheckSpec::TaskDefinition(s) => Arc::new(
                    task_definition::TaskDefinitionCheck::new(name, s.clone(), context),
                ),
            }
        })
        .collect()
}

/// `1 alarm`, `2 alarms`: a count with its noun.
pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// `text` on one line and at most `max` characters: control characters
/// become spaces, runs of whitespace collapse, and a cut ends with `…`.
/// Evidence and body excerpts go through this before they are logged.
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut last_space = true;
    for c in text.trim().chars() {
        let c = if c.is_whitespace() || c.is_control() {
            ' '
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        if count == max {
            out.pop();
            out.push('…');
            return out.trim_end().to_owned();
        }
        out.push(c);
        count += 1;
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_round_trip_their_names_in_order() {
        for (hook, name) in Hook::ALL.iter().zip(ECS_HOOKS) {
            assert_eq!(hook.as_str(), name);
            assert_eq!(Hook::parse(name), Some(*hook));
        }
        assert_eq!(Hook::parse("afterinstall"), None);
        assert_eq!(Hook::parse("Install"), None);
    }

    #[test]
    fn one_line_flattens_and_truncates() {
        let cases = [
            ("plain", 10, "plain"),
            ("a\nb\r\n\tc", 10, "a b c"),
            ("  lead  and   trail  ", 30, "lead and trail"),
            ("abcdefghij", 10, "abcdefghij"),
            ("abcdefghijk", 10, "abcdefghi…"),
            ("ééééééé", 4, "ééé…"),
            ("", 5, ""),
        ];
        for (text, max, expected) in cases {
            assert_eq!(one_line(text, max), expected, "{text:?}");
        }
    }
}
