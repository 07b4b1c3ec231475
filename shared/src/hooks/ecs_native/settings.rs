//! What a hook invocation runs with: the function's environment, overridden
//! per service by the `hookDetails` of the service's lifecycle hook
//! configuration.
//!
//! # `hookDetails` (and the environment variables it overrides)
//! | `hookDetails` key | environment | meaning | default |
//! |---|---|---|---|
//! | `checks` | `CHECKS` | the checks: one plan for every stage, or a plan per stage | each stage's defaults |
//! | `maxWaitSeconds` | `MAX_WAIT_SECONDS` | the longest one hook execution may take, over all its invocations | 1800 |
//! | `callBackDelaySeconds` | `CALLBACK_DELAY_SECONDS` | the wait between two looks while checks are failing (`IN_PROGRESS`) | 30 |
//! | `healthPath` | `HEALTH_PATH` | the default http checks' path | `/health` |
//! | `alarmNames` | `ALARM_NAMES` (comma-separated) | alarms the default production checks watch | none |
//! | `alarmPrefix` | `ALARM_PREFIX` | likewise, by name prefix | none |
//!
//! A plan is what the CodeDeploy hook takes in `CHECKS` (an array of checks,
//! or `{"checks": [...], "bakeSeconds": n, "bakeIntervalSeconds": m}`), plus
//! `waitSeconds`: how long failing checks are looked at again before the
//! hook fails. Per stage: `{"POST_SCALE_UP": plan, "POST_TEST_TRAFFIC_SHIFT":
//! plan}`; a stage left out runs its defaults.
//!
//! The function writes `progress` and `verdict` into the `hookDetails` it
//! returns (ECS hands them back on the next invocation); any other key is a
//! mistake, reported with its name.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::checks::{Bake, CheckPlan, CheckSpec};
use crate::config::{ConfigError, Env, ranged_seconds_value};
use crate::hooks::codedeploy::defaults::DefaultOptions;
use serde_json::{Map, Value};

use super::progress::Progress;
use super::stage::{self, Stage};

/// `maxWaitSeconds` when nothing sets it.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(1800);
/// The most `maxWaitSeconds` may be: ECS's longest hook timeout, 20,160
/// minutes (14 days; the API model's range of
/// `timeoutConfiguration.timeoutInMinutes`, which the guide still gives as
/// 1,440).
pub const MAX_MAX_WAIT_SECONDS: f64 = 1_209_600.0;
/// `callBackDelaySeconds` when nothing sets it (ECS's own default).
pub const DEFAULT_CALLBACK: Duration = Duration::from_secs(30);
/// The longest `callBackDelaySeconds`.
pub const MAX_CALLBACK_SECONDS: f64 = 3600.0;

/// The `hookDetails` keys that configure the function.
pub const CONFIG_KEYS: [&str; 6] = [
    "checks",
    "maxWaitSeconds",
    "callBackDelaySeconds",
    "healthPath",
    "alarmNames",
    "alarmPrefix",
];
/// The `hookDetails` key of the state carried between invocations.
pub const PROGRESS_KEY: &str = "progress";
/// The `hookDetails` key of the verdict and its evidence.
pub const VERDICT_KEY: &str = "verdict";

/// What one stage runs.
#[derive(Debug, Clone, PartialEq)]
pub struct StagePlan {
    /// The checks.
    pub checks: Vec<CheckSpec>,
    /// Re-evaluating them over a window once they pass.
    pub bake: Option<Bake>,
    /// How long failing checks are looked at again before the hook fails.
    pub wait: Duration,
}

impl StagePlan {
    /// A plan from a JSON value (`name` prefixes error paths).
    pub fn from_value(name: &str, value: Value) -> Result<StagePlan, ConfigError> {
        let (value, wait) = match value {
            Value::Object(mut object) => {
                let wait = seconds(name, &mut object, "waitSeconds", MAX_MAX_WAIT_SECONDS, true)?;
                (Value::Object(object), wait)
            }
            other => (other, None),
        };
        let plan = CheckPlan::from_value(name, value).map_err(ConfigError::into_setting)?;
        Ok(StagePlan {
            checks: plan.checks,
            bake: plan.bake,
            wait: wait.unwrap_or_default(),
        })
    }
}

/// The checks configuration: one plan for every stage, or one per stage.
#[derive(Debug, Clone, PartialEq)]
pub enum StageChecks {
    /// The same plan at every stage the hook is configured for.
    Every(StagePlan),
    /// A plan per stage; the others run their defaults.
    PerStage(BTreeMap<Stage, StagePlan>),
}

impl StageChecks {
    /// Parses `value`: an array or an object with `checks` is one plan; an
    /// object keyed by stage names is a plan per stage.
    pub fn from_value(name: &str, value: Value) -> Result<StageChecks, ConfigError> {
        match value {
            Value::Object(object) if !object.contains_key("checks") && !object.is_empty() => {
                let mut plans = BTreeMap::new();
                for (key, plan) in object {
                    let stage = Stage::parse(&key).ok_or_else(|| {
                        ConfigError::setting(
                            format!("{name}.{key}"),
                            format!(
                                "not a lifecycle stage (and a plan needs \"checks\"); expected one of {}",
                                Stage::names()
                            ),
                        )
                    })?;
                    plans.insert(
                        stage,
                        StagePlan::from_value(&format!("{name}.{key}"), plan)?,
                    );
                }
                Ok(StageChecks::PerStage(plans))
            }
            other => StagePlan::from_value(name, other).map(StageChecks::Every),
        }
    }

    /// The plan configured for `stage`, if any.
    pub fn for_stage(&self, stage: Stage) -> Option<&StagePlan> {
        match self {
            StageChecks::Every(plan) => Some(plan),
            StageChecks::PerStage(plans) => plans.get(&stage),
        }
    }
}

/// The function's environment, parsed once at cold start.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvSettings {
    /// `CHECKS`.
    pub checks: Option<StageChecks>,
    /// `MAX_WAIT_SECONDS`.
    pub max_wait: Duration,
    /// `CALLBACK_DELAY_SECONDS`.
    pub callback: Duration,
    /// `HEALTH_PATH`, `ALARM_NAMES`, `ALARM_PREFIX`.
    pub defaults: DefaultOptions,
}

impl EnvSettings {
    /// Reads the variables; errors name them.
    pub fn from_env(env: &Env) -> Result<EnvSettings, ConfigError> {
        let checks = env
            .optional("CHECKS")
            .map(|text| {
                let value: Value = serde_json::from_str(text)
                    .map_err(|e| ConfigError::setting("CHECKS", format!("not valid JSON: {e}")))?;
                StageChecks::from_value("CHECKS", value)
            })
            .transpose()?;
        let number = |name: &str, max: f64| {
            env.ranged_seconds(name, 1.0, max)
                .map_err(ConfigError::into_setting)
        };
        let health_path = env.optional("HEALTH_PATH").unwrap_or("/health").to_owned();
        check_health_path("HEALTH_PATH", &health_path)?;
        Ok(EnvSettings {
            checks,
            max_wait: number("MAX_WAIT_SECONDS", MAX_MAX_WAIT_SECONDS)?.unwrap_or(DEFAULT_MAX_WAIT),
            callback: number("CALLBACK_DELAY_SECONDS", MAX_CALLBACK_SECONDS)?
                .unwrap_or(DEFAULT_CALLBACK),
            defaults: DefaultOptions {
                health_path,
                alarm_names: env.list("ALARM_NAMES"),
                alarm_prefix: env.optional("ALARM_PREFIX").map(str::to_owned),
            },
        })
    }
}

/// The `hookDetails` of an invocation, parsed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HookDetails {
    /// `checks`.
    pub checks: Option<StageChecks>,
    /// `maxWaitSeconds`.
    pub max_wait: Option<Duration>,
    /// `callBackDelaySeconds`.
    pub callback: Option<Duration>,
    /// `healthPath`.
    pub health_path: Option<String>,
    /// `alarmNames`.
    pub alarm_names: Option<Vec<String>>,
    /// `alarmPrefix`.
    pub alarm_prefix: Option<String>,
    /// `progress`, from an earlier `IN_PROGRESS` answer.
    pub progress: Option<Progress>,
    /// The configuration keys as given, handed back in every answer so that
    /// they survive the `IN_PROGRESS` round trip.
    pub config: Map<String, Value>,
}

impl HookDetails {
    /// Parses `hookDetails` (absent or `null`: nothing configured).
    pub fn parse(value: &Value) -> Result<HookDetails, ConfigError> {
        let object = match value {
            Value::Null => return Ok(HookDetails::default()),
            Value::Object(object) => object,
            _ => return Err(ConfigError::setting("hookDetails", "must be a JSON object")),
        };
        let mut details = HookDetails::default();
        for (key, value) in object {
            let name = format!("hookDetails.{key}");
            match key.as_str() {
                "checks" => details.checks = Some(StageChecks::from_value(&name, value.clone())?),
                "maxWaitSeconds" => {
                    details.max_wait = Some(positive_seconds(&name, value, MAX_MAX_WAIT_SECONDS)?);
                }
                "callBackDelaySeconds" => {
                    details.callback = Some(positive_seconds(&name, value, MAX_CALLBACK_SECONDS)?);
                }
                "healthPath" => {
                    let path = string(&name, value)?;
                    check_health_path(&name, &path)?;
                    details.health_path = Some(path);
                }
                "alarmNames" => {
                    let names = value
                        .as_array()
                        .and_then(|items| {
                            items
                                .iter()
                                .map(|v| v.as_str().map(str::to_owned))
                                .collect::<Option<Vec<_>>>()
                        })
                        .ok_or_else(|| {
                            ConfigError::setting(&name, "must be an array of alarm names")
                        })?;
                    details.alarm_names = Some(names);
                }
                "alarmPrefix" => details.alarm_prefix = Some(string(&name, value)?),
                PROGRESS_KEY => {
                    details.progress = Some(
                        serde_json::from_value(value.clone())
                            .map_err(|e| ConfigError::setting(&name, e))?,
                    );
                }
                VERDICT_KEY => {}
                _ => {
                    return Err(ConfigError::setting(
                        name,
                        format!(
                            "unknown key; expected one of {} (and {PROGRESS_KEY} and {VERDICT_KEY}, which the function writes)",
                            CONFIG_KEYS.join(", ")
                        ),
                    ));
                }
            }
            if CONFIG_KEYS.contains(&key.as_str()) {
                details.config.insert(key.clone(), value.clone());
            }
        }
        Ok(details)
    }
}

/// What one invocation runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The stage's plan.
    pub plan: StagePlan,
    /// Where the plan came from: `hookDetails.checks`, `CHECKS` or `defaults`.
    pub source: &'static str,
    /// The longest the hook execution may take.
    pub max_wait: Duration,
    /// The wait between looks at failing checks.
    pub callback: Duration,
}

/// The settings of `stage`: `hookDetails` over the environment over the
/// stage's defaults. A wait or bake longer than `maxWaitSeconds` could never
/// finish, and is an error naming the field.
pub fn resolve(
    stage: Stage,
    env: &EnvSettings,
    details: &HookDetails,
) -> Result<Settings, ConfigError> {
    let max_wait = details.max_wait.unwrap_or(env.max_wait);
    let callback = details.callback.unwrap_or(env.callback);
    let options = DefaultOptions {
        health_path: details
            .health_path
            .clone()
            .unwrap_or_else(|| env.defaults.health_path.clone()),
        alarm_names: details
            .alarm_names
            .clone()
            .unwrap_or_else(|| env.defaults.alarm_names.clone()),
        alarm_prefix: details
            .alarm_prefix
            .clone()
            .or_else(|| env.defaults.alarm_prefix.clone()),
    };
    let configured = [
        (details.checks.as_ref(), "hookDetails.checks"),
        (env.checks.as_ref(), "CHECKS"),
    ]
    .into_iter()
    .find_map(|(checks, source)| {
        let checks = checks?;
        let per_stage = matches!(checks, StageChecks::PerStage(_));
        checks
            .for_stage(stage)
            .map(|plan| (plan.clone(), source, per_stage))
    });
    let (plan, source, per_stage) = configured.unwrap_or_else(|| {
        let (checks, wait) = stage::default_checks(stage, &options);
        (
            StagePlan {
                checks,
                bake: None,
                wait: wait.min(max_wait),
            },
            "defaults",
            false,
        )
    });
    let field = |what: &str| {
        if per_stage {
            format!("{source}.{stage}.{what}")
        } else {
            format!("{source}.{what}")
        }
    };
    if plan.wait > max_wait {
        return Err(ConfigError::setting(
            field("waitSeconds"),
            format!(
                "{} s is longer than maxWaitSeconds ({} s)",
                plan.wait.as_secs_f64(),
                max_wait.as_secs_f64()
            ),
        ));
    }
    if let Some(bake) = plan.bake
        && bake.window > max_wait
    {
        return Err(ConfigError::setting(
            field("bakeSeconds"),
            format!(
                "{} s is longer than maxWaitSeconds ({} s)",
                bake.window.as_secs_f64(),
                max_wait.as_secs_f64()
            ),
        ));
    }
    Ok(Settings {
        plan,
        source,
        max_wait,
        callback,
    })
}

fn check_health_path(name: &str, path: &str) -> Result<(), ConfigError> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(ConfigError::setting(name, "must start with /"))
    }
}

fn string(name: &str, value: &Value) -> Result<String, ConfigError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ConfigError::setting(name, "must be a string"))
}

fn positive_seconds(name: &str, value: &Value, max: f64) -> Result<Duration, ConfigError> {
    ranged_seconds_value(name, value, 1.0, max).map_err(ConfigError::into_setting)
}

fn seconds(
    name: &str,
    object: &mut Map<String, Value>,
    field: &str,
    max: f64,
    zero_allowed: bool,
) -> Result<Option<Duration>, ConfigError> {
    let min = if zero_allowed { 0.0 } else { 1.0 };
    match object.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => ranged_seconds_value(&format!("{name}.{field}"), &value, min, max)
            .map(Some)
            .map_err(ConfigError::into_setting),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::spec::unique_names;
    use serde_json::json;

    fn env(pairs: &[(&str, &str)]) -> EnvSettings {
        EnvSettings::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap()
    }

    fn names(settings: &Settings) -> Vec<String> {
        unique_names(&settings.plan.checks)
    }

    #[test]
    fn precedence_hook_details_then_environment_then_defaults() {
        let plain = env(&[]);
        let with_env = env(&[(
            "CHECKS",
            r#"{"POST_TEST_TRAFFIC_SHIFT": [{"kind": "alarms", "names": ["env"]}]}"#,
        )]);
        let details = HookDetails::parse(&json!({
            "checks": {"POST_TEST_TRAFFIC_SHIFT": [{"kind": "alarms", "names": ["details"]}]}
        }))
        .unwrap();
        let none = HookDetails::default();
        let stage = Stage::PostTestTrafficShift;
        let cases: [(&EnvSettings, &HookDetails, &str, &str); 4] = [
            (
                &plain,
                &none,
                "defaults",
                "http GET /health via test listener",
            ),
            (&with_env, &none, "CHECKS", "alarms env"),
            (&with_env, &details, "hookDetails.checks", "alarms details"),
            (&plain, &details, "hookDetails.checks", "alarms details"),
        ];
        for (env, details, source, name) in cases {
            let settings = resolve(stage, env, details).unwrap();
            assert_eq!(settings.source, source);
            assert_eq!(names(&settings), [name]);
        }
        // A stage the per-stage map leaves out runs its defaults.
        let settings = resolve(Stage::PreScaleUp, &with_env, &details).unwrap();
        assert_eq!(
            (settings.source, names(&settings)),
            ("defaults", vec!["task-definition".to_owned()])
        );
    }

    #[test]
    fn one_plan_for_every_stage_with_wait_and_bake() {
        let details = HookDetails::parse(&json!({
            "checks": {"checks": [{"kind": "target-health"}], "waitSeconds": 120, "bakeSeconds": 60},
            "maxWaitSeconds": 900,
            "callBackDelaySeconds": 10,
        }))
        .unwrap();
        for stage in Stage::ALL {
            let settings = resolve(stage, &env(&[]), &details).unwrap();
            assert_eq!(settings.plan.wait, Duration::from_secs(120));
            assert_eq!(settings.plan.bake.unwrap().window, Duration::from_secs(60));
            assert_eq!(settings.max_wait, Duration::from_secs(900));
            assert_eq!(settings.callback, Duration::from_secs(10));
        }
        assert_eq!(
            details.config.keys().collect::<Vec<_>>(),
            ["callBackDelaySeconds", "checks", "maxWaitSeconds"]
        );
    }

    #[test]
    fn default_options_come_from_details_over_environment() {
        let environment = env(&[("HEALTH_PATH", "/env"), ("ALARM_PREFIX", "env-")]);
        let details =
            HookDetails::parse(&json!({"healthPath": "/ready", "alarmNames": ["api-5xx"]}))
                .unwrap();
        let settings = resolve(Stage::PostProductionTrafficShift, &environment, &details).unwrap();
        assert_eq!(
            names(&settings),
            [
                "alarms api-5xx + env-*",
                "http GET /ready via production listener"
            ]
        );
        let settings = resolve(Stage::PostScaleUp, &environment, &HookDetails::default()).unwrap();
        assert_eq!(settings.plan.wait, stage::DEFAULT_SCALE_UP_WAIT);
        // The default wait never outlasts a shorter maxWaitSeconds.
        let short = HookDetails::parse(&json!({"maxWaitSeconds": 60})).unwrap();
        let settings = resolve(Stage::PostScaleUp, &environment, &short).unwrap();
        assert_eq!(settings.plan.wait, Duration::from_secs(60));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (json!([]), "hookDetails", "must be a JSON object"),
            (
                json!({"exampleKey": 1}),
                "hookDetails.exampleKey",
                "unknown key",
            ),
            (
                json!({"checks": {"POST_SCALE_UPP": []}}),
                "hookDetails.checks.POST_SCALE_UPP",
                "not a lifecycle stage",
            ),
            (
                json!({"checks": [{"kind": "nope"}]}),
                "hookDetails.checks[0].kind",
                "",
            ),
            (
                json!({"checks": {"POST_SCALE_UP": [{"kind": "http"}]}}),
                "hookDetails.checks.POST_SCALE_UP[0]",
                "",
            ),
            (
                json!({"checks": {"checks": [], "waitSeconds": -1}}),
                "hookDetails.checks.waitSeconds",
                "from 0",
            ),
            (
                json!({"maxWaitSeconds": 0}),
                "hookDetails.maxWaitSeconds",
                "from 1",
            ),
            (
                json!({"callBackDelaySeconds": "soon"}),
                "hookDetails.callBackDelaySeconds",
                "from 1",
            ),
            (
                json!({"healthPath": "health"}),
                "hookDetails.healthPath",
                "must start with /",
            ),
            (
                json!({"alarmNames": "a,b"}),
                "hookDetails.alarmNames",
                "array",
            ),
            (
                json!({"progress": {"executionId": 3}}),
                "hookDetails.progress",
                "",
            ),
        ];
        for (value, name, reason) in cases {
            let error = HookDetails::parse(&value).unwrap_err();
            assert!(error.name().starts_with(name), "{value}: {error}");
            assert!(error.reason().contains(reason), "{value}: {error}");
        }
    }

    #[test]
    fn waits_and_bakes_must_fit_the_total_limit() {
        let cases = [
            (
                json!({"maxWaitSeconds": 60, "checks": {"checks": [], "waitSeconds": 120}}),
                "hookDetails.checks.waitSeconds",
            ),
            (
                json!({"maxWaitSeconds": 60, "checks": {"POST_SCALE_UP": {"checks": [], "bakeSeconds": 120}}}),
                "hookDetails.checks.POST_SCALE_UP.bakeSeconds",
            ),
        ];
        for (value, name) in cases {
            let details = HookDetails::parse(&value).unwrap();
            let error = resolve(Stage::PostScaleUp, &env(&[]), &details).unwrap_err();
            assert_eq!(error.name(), name, "{error}");
            assert!(
                error.reason().contains("longer than maxWaitSeconds (60 s)"),
                "{error}"
            );
        }
    }

    #[test]
    fn waits_up_to_the_longest_hook_timeout_ecs_allows() {
        // 20,160 minutes: the API model's timeoutInMinutes range.
        let env = EnvSettings::from_env(&Env::from_pairs([("MAX_WAIT_SECONDS", "1209600")]))
            .expect("14 days is a valid MAX_WAIT_SECONDS");
        assert_eq!(env.max_wait, Duration::from_secs(20_160 * 60));
        let details = HookDetails::parse(&serde_json::json!({"maxWaitSeconds": 1_209_600}))
            .expect("14 days is a valid hookDetails.maxWaitSeconds");
        assert_eq!(details.max_wait, Some(Duration::from_secs(1_209_600)));
        let error =
            HookDetails::parse(&serde_json::json!({"maxWaitSeconds": 1_209_601})).unwrap_err();
        assert_eq!(error.name(), "hookDetails.maxWaitSeconds");
    }

    #[test]
    fn environment_errors_name_the_variable() {
        let cases = [
            (("CHECKS", "{"), "CHECKS"),
            (("CHECKS", r#"{"SOON": []}"#), "CHECKS.SOON"),
            (("MAX_WAIT_SECONDS", "0"), "MAX_WAIT_SECONDS"),
            (("MAX_WAIT_SECONDS", "1209601"), "MAX_WAIT_SECONDS"),
            (("CALLBACK_DELAY_SECONDS", "x"), "CALLBACK_DELAY_SECONDS"),
            (("HEALTH_PATH", "ready"), "HEALTH_PATH"),
        ];
        for ((name, value), expected) in cases {
            let error = EnvSettings::from_env(&Env::from_pairs([(name, value)])).unwrap_err();
            assert_eq!(error.name(), expected, "{error}");
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("invalid {expected}: "))
            );
        }
    }
}
