//! What every check kind shares: the fields every kind has (`name`,
//! `timeoutSeconds`), the error naming a field inside a check, and the text
//! helpers of evidence. The kinds import this module; [`super::spec`] only
//! aggregates the kinds.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// The largest `timeoutSeconds` (a Lambda function runs at most 900 s).
pub const MAX_TIMEOUT_SECONDS: f64 = 900.0;
/// A check's time budget when it sets no `timeoutSeconds`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// A field of one check that is wrong; `field` is relative to the check
/// (`threshold`, `dimensions.TargetGroup`, empty for the check itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path inside the check.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl FieldError {
    /// A wrong field.
    pub fn new(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.to_string(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.field, self.reason)
        }
    }
}

/// Validates the fields every kind has.
pub(crate) fn validate_common(
    name: Option<&str>,
    timeout_seconds: Option<f64>,
) -> Result<(), FieldError> {
    if let Some(name) = name
        && (name.trim().is_empty() || name.chars().count() > 100)
    {
        return Err(FieldError::new("name", "must be 1 to 100 characters"));
    }
    if let Some(seconds) = timeout_seconds
        && !(seconds.is_finite() && seconds > 0.0 && seconds <= MAX_TIMEOUT_SECONDS)
    {
        return Err(FieldError::new(
            "timeoutSeconds",
            format!("must be more than 0 and at most {MAX_TIMEOUT_SECONDS}"),
        ));
    }
    Ok(())
}

/// `timeoutSeconds` as a duration ([`DEFAULT_TIMEOUT`] when unset).
pub(crate) fn timeout_from(seconds: Option<f64>) -> Duration {
    seconds
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// Serde helper: a present JSON value, `null` included, is `Some`.
pub(crate) fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
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
