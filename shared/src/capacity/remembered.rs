//! A scalable target's capacity, and the compact encoding in which
//! `scale-to-zero` remembers a service's capacity in its
//! [`REMEMBERED_CAPACITY_TAG`] tag.

use std::collections::BTreeMap;
use std::fmt;

use aws_sdk_applicationautoscaling::types::SuspendedState;
use serde::Serialize;

/// The service tag holding the capacity `scale-to-zero` remembered.
pub const REMEMBERED_CAPACITY_TAG: &str = "autopilot:remembered-capacity";

/// Which scaling of a scalable target is suspended
/// (Application Auto Scaling's `SuspendedState`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Suspended {
    /// `DynamicScalingInSuspended`: policies may not scale in.
    pub dynamic_scaling_in: bool,
    /// `DynamicScalingOutSuspended`: policies may not scale out.
    pub dynamic_scaling_out: bool,
    /// `ScheduledScalingSuspended`: scheduled actions do not run.
    pub scheduled_scaling: bool,
}

impl Suspended {
    /// Reads the SDK's state (an absent flag is `false`).
    pub fn from_sdk(state: Option<&SuspendedState>) -> Self {
        let Some(state) = state else {
            return Suspended::default();
        };
        Suspended {
            dynamic_scaling_in: state.dynamic_scaling_in_suspended().unwrap_or(false),
            dynamic_scaling_out: state.dynamic_scaling_out_suspended().unwrap_or(false),
            scheduled_scaling: state.scheduled_scaling_suspended().unwrap_or(false),
        }
    }

    /// The SDK's state, every flag set explicitly.
    pub fn to_sdk(self) -> SuspendedState {
        SuspendedState::builder()
            .dynamic_scaling_in_suspended(self.dynamic_scaling_in)
            .dynamic_scaling_out_suspended(self.dynamic_scaling_out)
            .scheduled_scaling_suspended(self.scheduled_scaling)
            .build()
    }

    pub(super) fn parse(text: &str) -> Result<Self, String> {
        let mut suspended = Suspended::default();
        if text == "none" {
            return Ok(suspended);
        }
        for part in text.split('+') {
            let flag = match part {
                "in" => &mut suspended.dynamic_scaling_in,
                "out" => &mut suspended.dynamic_scaling_out,
                "scheduled" => &mut suspended.scheduled_scaling,
                _ => {
                    return Err(format!(
                        "suspend: expected none or in, out, scheduled joined by +, got {text:?}"
                    ));
                }
            };
            if *flag {
                return Err(format!("suspend: {part} given twice"));
            }
            *flag = true;
        }
        Ok(suspended)
    }
}

impl fmt::Display for Suspended {
    /// `none`, or the suspended kinds joined by `+` (`in+out+scheduled`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<&str> = [
            (self.dynamic_scaling_in, "in"),
            (self.dynamic_scaling_out, "out"),
            (self.scheduled_scaling, "scheduled"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join("+"))
        }
    }
}

/// A scalable target's range and suspended state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetCapacity {
    /// `MinCapacity`.
    pub min: i32,
    /// `MaxCapacity`.
    pub max: i32,
    /// `SuspendedState`.
    pub suspended: Suspended,
}

/// The capacity `scale-to-zero` remembers, to be restored exactly.
///
/// Encoded in the [`REMEMBERED_CAPACITY_TAG`] tag as space-separated
/// `key=value` words after a version: `v1 desired=3` for a service without a
/// scalable target, `v1 min=2 max=6 desired=3 suspend=none` (or
/// `suspend=in+out+scheduled`) with one. Only letters, digits, spaces and
/// `= + .` are used: ECS tag values allow letters, digits, spaces and
/// `_ . : / = + - @`, at most 256 characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remembered {
    /// The desired count.
    pub desired: i32,
    /// The scalable target, if the service had one.
    pub target: Option<TargetCapacity>,
}

/// A remembered-capacity tag value that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable {REMEMBERED_CAPACITY_TAG} tag value {value:?}: {reason}")]
pub struct RememberedError {
    /// The tag value.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Remembered {
    /// The tag value.
    pub fn encode(&self) -> String {
        match self.target {
            None => format!("v1 desired={}", self.desired),
            Some(t) => format!(
                "v1 min={} max={} desired={} suspend={}",
                t.min, t.max, self.desired, t.suspended
            ),
        }
    }

    /// Reads a tag value written by [`Remembered::encode`] (or by hand in
    /// the same form). Rejects an unknown version, unknown or repeated keys,
    /// a negative or non-numeric count, `min` without `max` (or the reverse),
    /// `suspend` without a range, and `min` greater than `max`.
    pub fn parse(value: &str) -> Result<Self, RememberedError> {
        let fail = |reason: String| RememberedError {
            value: value.to_owned(),
            reason,
        };
        let mut words = value.split_whitespace();
        match words.next() {
            Some("v1") => {}
            Some(other) => return Err(fail(format!("unsupported version {other:?}"))),
            None => return Err(fail("empty".to_owned())),
        }
        let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
        for word in words {
            let (key, val) = word
                .split_once('=')
                .ok_or_else(|| fail(format!("expected key=value, got {word:?}")))?;
            if !matches!(key, "min" | "max" | "desired" | "suspend") {
                return Err(fail(format!("unknown key {key:?}")));
            }
            if fields.insert(key, val).is_some() {
                return Err(fail(format!("{key} given twice")));
            }
        }
        let number = |key: &str| -> Result<Option<i32>, RememberedError> {
            fields
                .get(key)
                .map(|v| {
                    v.parse::<i32>()
                        .ok()
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| fail(format!("{key}: expected a count, got {v:?}")))
                })
                .transpose()
        };
        let desired = number("desired")?.ok_or_else(|| fail("desired is missing".to_owned()))?;
        let target = match (number("min")?, number("max")?) {
            (None, None) => {
                if fields.contains_key("suspend") {
                    return Err(fail("suspend given without min and max".to_owned()));
                }
                None
            }
            (Some(min), Some(max)) => {
                if min > max {
                    return Err(fail(format!("min {min} is greater than max {max}")));
                }
                let suspended = match fields.get("suspend") {
                    None => Suspended::default(),
                    Some(text) => Suspended::parse(text).map_err(fail)?,
                };
                Some(TargetCapacity {
                    min,
                    max,
                    suspended,
                })
            }
            _ => return Err(fail("min and max go together".to_owned())),
        };
        Ok(Remembered { desired, target })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    // ECS tag values: at most 256 letters, digits, spaces and `_ . : / = + - @`.
    const TAG_VALUE_MAX: usize = 256;
    const TAG_VALUE_CHARS: &str = "_.:/=+-@ ";

    #[test]
    fn remembered_capacity_round_trips_in_tag_safe_characters() {
        let all = Suspended {
            dynamic_scaling_in: true,
            dynamic_scaling_out: true,
            scheduled_scaling: true,
        };
        let cases = [
            (
                Remembered {
                    desired: 3,
                    target: None,
                },
                "v1 desired=3",
            ),
            (
                Remembered {
                    desired: 3,
                    target: Some(TargetCapacity {
                        min: 2,
                        max: 6,
                        suspended: Suspended::default(),
                    }),
                },
                "v1 min=2 max=6 desired=3 suspend=none",
            ),
            (
                Remembered {
                    desired: 0,
                    target: Some(TargetCapacity {
                        min: 0,
                        max: 0,
                        suspended: Suspended {
                            scheduled_scaling: true,
                            ..Suspended::default()
                        },
                    }),
                },
                "v1 min=0 max=0 desired=0 suspend=scheduled",
            ),
            (
                Remembered {
                    desired: 7,
                    target: Some(TargetCapacity {
                        min: 1,
                        max: 10,
                        suspended: Suspended {
                            dynamic_scaling_in: true,
                            dynamic_scaling_out: true,
                            scheduled_scaling: false,
                        },
                    }),
                },
                "v1 min=1 max=10 desired=7 suspend=in+out",
            ),
            (
                Remembered {
                    desired: i32::MAX,
                    target: Some(TargetCapacity {
                        min: i32::MAX,
                        max: i32::MAX,
                        suspended: all,
                    }),
                },
                "v1 min=2147483647 max=2147483647 desired=2147483647 suspend=in+out+scheduled",
            ),
        ];
        for (remembered, encoded) in cases {
            assert_eq!(remembered.encode(), encoded);
            assert_eq!(Remembered::parse(encoded), Ok(remembered), "{encoded}");
            assert!(encoded.len() <= TAG_VALUE_MAX);
            assert!(
                encoded
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || TAG_VALUE_CHARS.contains(c)),
                "{encoded} has a character ECS tag values do not allow"
            );
        }
    }

    #[test]
    fn remembered_capacity_tolerates_order_spacing_and_missing_suspend() {
        assert_eq!(
            Remembered::parse("  v1  desired=3   max=6 min=2 "),
            Ok(Remembered {
                desired: 3,
                target: Some(TargetCapacity {
                    min: 2,
                    max: 6,
                    suspended: Suspended::default()
                })
            })
        );
        assert_eq!(
            Remembered::parse("v1 min=1 max=2 desired=1 suspend=out+in").map(|r| r.encode()),
            Ok("v1 min=1 max=2 desired=1 suspend=in+out".to_owned())
        );
    }

    #[test]
    fn remembered_capacity_rejects() {
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("v2 desired=3", "unsupported version"),
            ("desired=3", "unsupported version"),
            ("v1", "desired is missing"),
            ("v1 min=1 max=2", "desired is missing"),
            ("v1 desired=3 desired=4", "given twice"),
            ("v1 desired=-1", "expected a count"),
            ("v1 desired=x", "expected a count"),
            ("v1 desired=99999999999", "expected a count"),
            ("v1 desired", "expected key=value"),
            ("v1 desired=3 colour=blue", "unknown key"),
            ("v1 min=1 desired=3", "go together"),
            ("v1 max=1 desired=3", "go together"),
            ("v1 min=3 max=1 desired=3", "greater than max"),
            ("v1 desired=3 suspend=in", "without min and max"),
            ("v1 min=1 max=2 desired=1 suspend=up", "suspend: expected"),
            ("v1 min=1 max=2 desired=1 suspend=in+in", "given twice"),
            ("v1 min=1 max=2 desired=1 suspend=", "suspend: expected"),
            (
                "v1 min=1 max=2 desired=1 suspend=in,out",
                "suspend: expected",
            ),
            ("{\"min\":1}", "unsupported version"),
        ];
        for (value, reason) in cases {
            let error = Remembered::parse(value).expect_err(value);
            assert!(error.reason.contains(reason), "{value:?}: {error}");
            assert!(
                error.to_string().contains(REMEMBERED_CAPACITY_TAG),
                "{error}"
            );
        }
    }
}
