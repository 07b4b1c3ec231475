//! Configuration from the environment into typed values, read once at cold start.
//!
//! [`Env`] is a snapshot of the variables, so parsing is a pure function of a
//! map and is unit-tested without touching the process environment. Errors
//! name the variable and say what is wrong, never echoing a value that might
//! be sensitive beyond what the parser reports.
//!
//! How AWS calls retry and time out ([`CallPolicy`]) is configuration too,
//! and lives here: [`crate::aws`] applies it to the SDK, so `aws` depends on
//! `config` and never the reverse.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Classify, ErrorKind};

mod calls;

pub use calls::{CallPolicy, Retries, RetryMode, Timeouts};

/// A configuration variable is missing or malformed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("missing required environment variable {name}")]
    Missing {
        /// The variable's name.
        name: String,
    },
    /// A variable is set but cannot be parsed.
    #[error("invalid environment variable {name}: {reason}")]
    Invalid {
        /// The variable's name (with a JSON path inside it where known).
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting named by its path rather than as an environment variable
    /// (`hookDetails.maxWaitSeconds`, `CHECKS.POST_SCALE_UP[0].kind`: the
    /// ECS hook's settings, which an event's `hookDetails` may override) is
    /// malformed.
    #[error("invalid {name}: {reason}")]
    Setting {
        /// The setting's path.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ConfigError {
    /// A variable that failed to parse, with the reason.
    pub fn invalid(name: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        ConfigError::Invalid {
            name: name.into(),
            reason: reason.to_string(),
        }
    }
}

impl ConfigError {
    /// A setting named by its path ([`ConfigError::Setting`]) that is wrong.
    pub fn setting(name: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        ConfigError::Setting {
            name: name.into(),
            reason: reason.to_string(),
        }
    }

    /// The same error, named by its path ([`ConfigError::Setting`]): how the
    /// ECS hook words an environment variable, since `hookDetails` overrides
    /// each of them.
    pub fn into_setting(self) -> Self {
        match self {
            ConfigError::Missing { name } => ConfigError::setting(name, "missing"),
            ConfigError::Invalid { name, reason } | ConfigError::Setting { name, reason } => {
                ConfigError::Setting { name, reason }
            }
        }
    }

    /// The variable or path the error names.
    pub fn name(&self) -> &str {
        match self {
            ConfigError::Missing { name }
            | ConfigError::Invalid { name, .. }
            | ConfigError::Setting { name, .. } => name,
        }
    }

    /// What is wrong (`missing` for a missing variable).
    pub fn reason(&self) -> &str {
        match self {
            ConfigError::Missing { .. } => "missing",
            ConfigError::Invalid { reason, .. } | ConfigError::Setting { reason, .. } => reason,
        }
    }
}

impl Classify for ConfigError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

/// A snapshot of environment variables.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// Snapshots the process environment (variables that are not valid UTF-8
    /// are left out).
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment made of the given pairs, for tests and embedding.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Every variable, as snapshotted.
    pub fn vars(&self) -> &HashMap<String, String> {
        &self.vars
    }

    /// The variable's value, trimmed; `None` when unset or blank.
    pub fn optional(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The trimmed value, or [`ConfigError::Missing`].
    pub fn required(&self, name: &str) -> Result<&str, ConfigError> {
        self.optional(name).ok_or_else(|| ConfigError::Missing {
            name: name.to_owned(),
        })
    }

    /// A boolean flag: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`
    /// (any case); `default` when unset.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        let Some(value) = self.optional(name) else {
            return Ok(default);
        };
        match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::invalid(
                name,
                format!("expected true or false, got {value:?}"),
            )),
        }
    }

    /// A comma-separated list, items trimmed, blanks dropped; empty when unset.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.optional(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A value parsed with [`FromStr`]; `None` when unset.
    pub fn parse<T>(&self, name: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.optional(name)
            .map(|v| v.parse::<T>().map_err(|e| ConfigError::invalid(name, e)))
            .transpose()
    }

    /// A duration given in (possibly fractional) seconds; `default` when unset.
    pub fn seconds(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        match self.parse::<f64>(name)? {
            None => Ok(default),
            Some(secs) if secs.is_finite() && secs > 0.0 => Ok(Duration::from_secs_f64(secs)),
            Some(_) => Err(ConfigError::invalid(
                name,
                "expected a positive number of seconds",
            )),
        }
    }

    /// A JSON document deserialised into `T`; `None` when unset. The error
    /// names the variable and the path inside the document.
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, ConfigError> {
        self.optional(name)
            .map(|v| {
                serde_json::from_str(v).map_err(|e| {
                    ConfigError::invalid(name, format!("not valid JSON for this setting: {e}"))
                })
            })
            .transpose()
    }
}

/// A number of seconds from `min` to `max`, as a duration: the one ranged
/// seconds parser of the hooks' settings (`BAKE_SECONDS`, `bakeSeconds`,
/// `waitSeconds`, `maxWaitSeconds`, ...). `seconds` is `None` when the value
/// is not a number. The error ([`ConfigError::Invalid`]) names `name` and
/// says the range: `must be a number of seconds from 1 to 3600`.
pub fn ranged_seconds(
    name: &str,
    seconds: Option<f64>,
    min: f64,
    max: f64,
) -> Result<Duration, ConfigError> {
    match seconds {
        Some(s) if s.is_finite() && s >= min && s <= max => Ok(Duration::from_secs_f64(s)),
        _ => Err(ConfigError::invalid(
            name,
            format!("must be a number of seconds from {min} to {max}"),
        )),
    }
}

/// [`ranged_seconds`] of a JSON value (a number, else an error).
pub fn ranged_seconds_value(
    name: &str,
    value: &serde_json::Value,
    min: f64,
    max: f64,
) -> Result<Duration, ConfigError> {
    ranged_seconds(name, value.as_f64(), min, max)
}

impl Env {
    /// A variable in seconds from `min` to `max` ([`ranged_seconds`]);
    /// `None` when unset.
    pub fn ranged_seconds(
        &self,
        name: &str,
        min: f64,
        max: f64,
    ) -> Result<Option<Duration>, ConfigError> {
        self.optional(name)
            .map(|value| ranged_seconds(name, value.parse::<f64>().ok(), min, max))
            .transpose()
    }
}

/// Settings every function shares.
#[derive(Debug, Clone, PartialEq)]
pub struct CommonConfig {
    /// `DRY_RUN`: log every change that would be made, make none.
    pub dry_run: bool,
    /// How AWS calls retry and time out: the function's policy, overridden by
    /// `AWS_RETRY_MODE`, `AWS_MAX_ATTEMPTS`, `AWS_OPERATION_TIMEOUT_SECS`,
    /// `AWS_ATTEMPT_TIMEOUT_SECS` and `AWS_CONNECT_TIMEOUT_SECS`.
    pub calls: CallPolicy,
}

impl CommonConfig {
    /// Reads `DRY_RUN` and the call policy over the function's `calls`.
    pub fn from_env(env: &Env, calls: CallPolicy) -> Result<Self, ConfigError> {
        Ok(CommonConfig {
            dry_run: env.flag("DRY_RUN", false)?,
            calls: CallPolicy::from_env(env, calls)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn optional_trims_and_treats_blank_as_unset() {
        let e = env(&[("A", "  x "), ("B", "   "), ("C", "")]);
        assert_eq!(e.optional("A"), Some("x"));
        assert_eq!(e.optional("B"), None);
        assert_eq!(e.optional("C"), None);
        assert_eq!(e.optional("D"), None);
    }

    #[test]
    fn required_names_the_missing_variable() {
        let err = env(&[]).required("CLUSTERS").unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing required environment variable CLUSTERS"
        );
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn flags() {
        let cases = [
            (Some("true"), Ok(true)),
            (Some("TRUE"), Ok(true)),
            (Some("1"), Ok(true)),
            (Some("yes"), Ok(true)),
            (Some("on"), Ok(true)),
            (Some("false"), Ok(false)),
            (Some("0"), Ok(false)),
            (Some("No"), Ok(false)),
            (Some("off"), Ok(false)),
            (None, Ok(false)),
            (Some("maybe"), Err(())),
            (Some("2"), Err(())),
        ];
        for (value, expected) in cases {
            let e = match value {
                Some(v) => env(&[("DRY_RUN", v)]),
                None => env(&[]),
            };
            let got = e.flag("DRY_RUN", false).map_err(|err| {
                assert!(err.to_string().contains("DRY_RUN"), "{err}");
            });
            assert_eq!(got, expected, "DRY_RUN={value:?}");
        }
    }

    #[test]
    fn lists_are_trimmed_and_skip_blanks() {
        let e = env(&[("CLUSTERS", " prod, staging ,,dev ")]);
        assert_eq!(e.list("CLUSTERS"), ["prod", "staging", "dev"]);
        assert!(env(&[]).list("CLUSTERS").is_empty());
    }

    #[test]
    fn seconds_accept_fractions_and_reject_nonsense() {
        let d = Duration::from_secs(7);
        assert_eq!(env(&[]).seconds("T", d), Ok(d));
        assert_eq!(
            env(&[("T", "1.5")]).seconds("T", d),
            Ok(Duration::from_millis(1500))
        );
        for bad in ["0", "-1", "abc", "NaN", "inf"] {
            let err = env(&[("T", bad)]).seconds("T", d).unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { ref name, .. } if name == "T"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn json_errors_name_the_variable_and_position() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Checks {
            kind: String,
        }
        let err = env(&[("CHECKS", r#"{"kind": 3}"#)])
            .json::<Checks>("CHECKS")
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("invalid environment variable CHECKS"),
            "{message}"
        );
        assert!(message.contains("line 1 column"), "{message}");
        assert!(env(&[]).json::<Checks>("CHECKS").unwrap().is_none());
    }

    #[test]
    fn ranged_seconds_name_the_setting_and_the_range() {
        let e = env(&[
            ("BAKE", "1.5"),
            ("LONG", "901"),
            ("WORD", "soon"),
            ("NEG", "-1"),
        ]);
        assert_eq!(
            e.ranged_seconds("BAKE", 0.0, 900.0),
            Ok(Some(Duration::from_millis(1500)))
        );
        assert_eq!(e.ranged_seconds("UNSET", 0.0, 900.0), Ok(None));
        for name in ["LONG", "WORD", "NEG"] {
            let err = e.ranged_seconds(name, 0.0, 900.0).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "invalid environment variable {name}: must be a number of seconds from 0 to 900"
                )
            );
        }
        let value = serde_json::json!(0);
        assert!(ranged_seconds_value("x.waitSeconds", &value, 0.0, 10.0).is_ok());
        let err = ranged_seconds_value("x.maxWaitSeconds", &value, 1.0, 10.0).unwrap_err();
        assert_eq!(err.name(), "x.maxWaitSeconds");
        assert_eq!(err.reason(), "must be a number of seconds from 1 to 10");
        for bad in [f64::NAN, f64::INFINITY] {
            assert!(ranged_seconds("x", Some(bad), 0.0, 10.0).is_err());
        }
    }

    #[test]
    fn settings_are_named_by_their_path() {
        let err = ConfigError::invalid("CHECKS[0].kind", "unknown kind").into_setting();
        assert_eq!(err.to_string(), "invalid CHECKS[0].kind: unknown kind");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let missing = ConfigError::Missing { name: "X".into() }.into_setting();
        assert_eq!(missing.to_string(), "invalid X: missing");
    }

    #[test]
    fn common_config_defaults() {
        let policy = CallPolicy::default();
        let config = CommonConfig::from_env(&env(&[]), policy).unwrap();
        assert!(!config.dry_run);
        assert_eq!(config.calls, policy);
        assert!(
            CommonConfig::from_env(&env(&[("DRY_RUN", "true")]), policy)
                .unwrap()
                .dry_run
        );
    }
}
