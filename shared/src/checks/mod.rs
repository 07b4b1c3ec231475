//! The check engine: declarative deployment checks, run concurrently, each
//! with its own time budget, giving a verdict with one line of evidence per
//! check.
//!
//! Used unchanged by both hooks (`codedeploy-hook` and `ecs-deployment-hook`),
//! whose models are in [`crate::hooks`]: a hook parses its configuration into
//! [`spec::CheckSpec`]s (or takes its hook's or stage's defaults), supplies a
//! [`context::Deployment`] (what the
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
//!   HTTP clients they probe with ([`prober`]: the HTTP client seam).
//! - [`common`]: what every kind shares (the `name` and `timeoutSeconds`
//!   fields, [`common::FieldError`], the evidence text helpers); the kinds
//!   import it, and [`spec`] only aggregates the kinds.
//! - One module per check kind, each with its spec, its pure decision
//!   (unit-tested by tables) and its probe: [`http`], [`target_health`],
//!   [`alarms`], [`metric`], [`image_scan`], [`task_definition`],
//!   [`calendar`].
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
//!    "requiredSecrets": ["DATABASE_URL"], "essentialHealthChecks": true},
//!   {"kind": "calendar", "calendars": ["release-freeze"]}
//! ]
//! ```
//!
//! See each kind's module for its parameters, and
//! [`crate::hooks::codedeploy::defaults`] for what runs when no checks are
//! configured.

pub mod alarms;
pub mod calendar;
pub mod common;
pub mod context;
pub mod elb;
pub mod engine;
#[cfg(debug_assertions)]
pub mod fault;
pub mod http;
pub mod image_scan;
pub mod metric;
pub mod prober;
pub mod resolve;
pub mod spec;
pub mod target_health;
pub mod task_definition;

use std::sync::Arc;

pub use context::{CheckContext, Clients, Deployment};
pub use engine::{Bake, Check, CheckResult, Outcome, Report, evaluate};
pub use spec::{CheckPlan, CheckSpec};

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
                CheckSpec::Calendar(s) => {
                    Arc::new(calendar::CalendarCheck::new(name, s.clone(), context))
                }
            }
        })
        .collect()
}
