//! The checks a hook runs when none are configured.
//!
//! | Hook | Checks |
//! |---|---|
//! | `BeforeInstall` | `task-definition`: no image floats on `latest` |
//! | `AfterInstall` | `target-health` of the replacement target group, waiting up to a minute for registering targets (12 looks, 5 s apart) |
//! | `AfterAllowTestTraffic` | `http` GET of the health path (`/health`) through the test listener, expecting 200 (3 attempts, 2 s apart) |
//! | `BeforeAllowTraffic` | `alarms` (the configured names and/or prefix) when any are configured, else `target-health` of the replacement |
//! | `AfterAllowTraffic` | `alarms` when configured, and `http` GET of the health path through the production listener |

use super::Hook;
use crate::checks::alarms::AlarmsSpec;
use crate::checks::context::{TargetGroupRole, TrafficRole};
use crate::checks::http::HttpSpec;
use crate::checks::spec::CheckSpec;
use crate::checks::target_health::TargetHealthSpec;
use crate::checks::task_definition::TaskDefinitionSpec;

/// What the defaults may use from the function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultOptions {
    /// The health path of the http checks (`HEALTH_PATH`, default `/health`).
    pub health_path: String,
    /// Alarms that must not be in `ALARM` around production traffic
    /// (`ALARM_NAMES`).
    pub alarm_names: Vec<String>,
    /// An alarm name prefix, likewise (`ALARM_PREFIX`).
    pub alarm_prefix: Option<String>,
}

impl Default for DefaultOptions {
    fn default() -> Self {
        DefaultOptions {
            health_path: "/health".to_owned(),
            alarm_names: Vec::new(),
            alarm_prefix: None,
        }
    }
}

impl DefaultOptions {
    fn alarms(&self) -> Option<CheckSpec> {
        (!self.alarm_names.is_empty() || self.alarm_prefix.is_some()).then(|| {
            CheckSpec::Alarms(AlarmsSpec {
                names: self.alarm_names.clone(),
                name_prefix: self.alarm_prefix.clone(),
                ..AlarmsSpec::default()
            })
        })
    }

    fn health(&self, listener: TrafficRole) -> CheckSpec {
        CheckSpec::Http(HttpSpec {
            attempts: Some(3),
            interval_ms: Some(2000),
            ..HttpSpec::listener_path(listener, &self.health_path)
        })
    }
}

/// `target-health` of the replacement target group, looking `attempts`
/// times 5 s apart (its timeout fits the looks).
pub fn replacement_health(attempts: u32) -> CheckSpec {
    CheckSpec::TargetHealth(TargetHealthSpec {
        target_group: Some(TargetGroupRole::Replacement),
        attempts: Some(attempts),
        interval_ms: Some(5000),
        timeout_seconds: Some(f64::from(attempts) * 5.0 + 10.0),
        ..TargetHealthSpec::default()
    })
}

/// The default checks of `hook`.
pub fn for_hook(hook: Hook, options: &DefaultOptions) -> Vec<CheckSpec> {
    match hook {
        Hook::BeforeInstall => vec![CheckSpec::TaskDefinition(TaskDefinitionSpec {
            forbid_latest: Some(true),
            ..TaskDefinitionSpec::default()
        })],
        Hook::AfterInstall => vec![replacement_health(12)],
        Hook::AfterAllowTestTraffic => vec![options.health(TrafficRole::Test)],
        Hook::BeforeAllowTraffic => vec![options.alarms().unwrap_or_else(|| replacement_health(1))],
        Hook::AfterAllowTraffic => options
            .alarms()
            .into_iter()
            .chain([options.health(TrafficRole::Production)])
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::spec::unique_names;

    #[test]
    fn defaults_per_hook() {
        let plain = DefaultOptions::default();
        let with_alarms = DefaultOptions {
            health_path: "/ready".into(),
            alarm_names: vec!["api-5xx".into()],
            alarm_prefix: Some("api-".into()),
        };
        let cases: Vec<(Hook, &DefaultOptions, Vec<&str>)> = vec![
            (Hook::BeforeInstall, &plain, vec!["task-definition"]),
            (
                Hook::AfterInstall,
                &plain,
                vec!["target-health replacement"],
            ),
            (
                Hook::AfterAllowTestTraffic,
                &plain,
                vec!["http GET /health via test listener"],
            ),
            (
                Hook::AfterAllowTestTraffic,
                &with_alarms,
                vec!["http GET /ready via test listener"],
            ),
            (
                Hook::BeforeAllowTraffic,
                &plain,
                vec!["target-health replacement"],
            ),
            (
                Hook::BeforeAllowTraffic,
                &with_alarms,
                vec!["alarms api-5xx + api-*"],
            ),
            (
                Hook::AfterAllowTraffic,
                &plain,
                vec!["http GET /health via production listener"],
            ),
            (
                Hook::AfterAllowTraffic,
                &with_alarms,
                vec![
                    "alarms api-5xx + api-*",
                    "http GET /ready via production listener",
                ],
            ),
        ];
        for (hook, options, names) in cases {
            let specs = for_hook(hook, options);
            assert_eq!(unique_names(&specs), names, "{hook}");
            for spec in &specs {
                spec.validate().unwrap_or_else(|e| panic!("{hook}: {e}"));
            }
        }
    }
}
