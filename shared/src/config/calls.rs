//! How a function's AWS calls are retried and timed out ([`CallPolicy`]): a
//! plain value read from the environment. Applying it to an `SdkConfig` is
//! [`crate::aws`]'s part.

use std::time::Duration;

use super::{ConfigError, Env};

/// How a function's AWS calls are retried and timed out: chosen per function
/// (each function's `CALL_POLICY`, documented in the README), overridable by
/// the standard `AWS_RETRY_MODE` and `AWS_MAX_ATTEMPTS` and by our
/// `AWS_*_TIMEOUT_SECS`.
///
/// The SDK's defaults (standard mode, 3 attempts, 1 s to 20 s backoff, no
/// timeouts) suit none of them: a deployment function must ride out ECS
/// throttling, and a hook must answer before its deadline however AWS
/// behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallPolicy {
    /// Retries of a failed attempt (throttling, 5xx, timeouts, broken connections).
    pub retries: Retries,
    /// Time limits of an attempt and of the whole call.
    pub timeouts: Timeouts,
}

/// The SDK's retry strategy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retries {
    /// `AWS_RETRY_MODE`: `standard`, or `adaptive` (which also slows the
    /// client down while it is being throttled).
    pub mode: RetryMode,
    /// `AWS_MAX_ATTEMPTS`: attempts per call, the first included (1 to 10; 1 = no retries).
    pub max_attempts: u32,
    /// The first backoff; it doubles with each retry, with full jitter.
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
}

/// The SDK's retry modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryMode {
    /// Exponential backoff with jitter, and a retry quota.
    Standard,
    /// Standard, plus client-side rate limiting when throttled.
    Adaptive,
}

/// The SDK's time limits. The SDK sets none by default, so a hung connection
/// would otherwise eat a whole Lambda timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The whole call, all attempts and backoffs included (`AWS_OPERATION_TIMEOUT_SECS`).
    pub operation: Duration,
    /// One attempt (`AWS_ATTEMPT_TIMEOUT_SECS`).
    pub attempt: Duration,
    /// Establishing a connection (`AWS_CONNECT_TIMEOUT_SECS`).
    pub connect: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        CallPolicy::default().timeouts
    }
}

impl Default for CallPolicy {
    /// The SDK's standard mode with our time limits: 3 attempts, 1 s to
    /// 20 s backoff, 6 s an attempt, 20 s a call, 3 s to connect.
    fn default() -> Self {
        CallPolicy {
            retries: Retries {
                mode: RetryMode::Standard,
                max_attempts: 3,
                initial_backoff: Duration::from_secs(1),
                max_backoff: Duration::from_secs(20),
            },
            timeouts: Timeouts {
                operation: Duration::from_secs(20),
                attempt: Duration::from_secs(6),
                connect: Duration::from_secs(3),
            },
        }
    }
}

impl CallPolicy {
    /// For functions that change AWS resources in bulk against ECS's write
    /// limits (redeploy-on-push, scheduled-scaling): standard mode, six
    /// attempts with full-jitter backoff from 0.5 s to 10 s (about 20 s of
    /// throttling ridden out; `RegisterTaskDefinition` refills at 1 a second,
    /// service updates at 5), 10 s an attempt, 40 s a call, 3 s to connect.
    pub const WRITER: CallPolicy = CallPolicy {
        retries: Retries {
            mode: RetryMode::Standard,
            max_attempts: 6,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
        },
        timeouts: Timeouts {
            operation: Duration::from_secs(40),
            attempt: Duration::from_secs(10),
            connect: Duration::from_secs(3),
        },
    };

    /// For hooks, which must answer before a deadline whatever AWS does:
    /// three quick attempts (0.2 s to 2 s backoff), 5 s an attempt, 15 s a
    /// call, 2 s to connect. Their reads are cut off by the run deadline
    /// anyway, and a look that fails is looked at again.
    pub const HOOK: CallPolicy = CallPolicy {
        retries: Retries {
            mode: RetryMode::Standard,
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
        },
        timeouts: Timeouts {
            operation: Duration::from_secs(15),
            attempt: Duration::from_secs(5),
            connect: Duration::from_secs(2),
        },
    };
}

/// The most attempts `AWS_MAX_ATTEMPTS` may ask for.
const MAX_ATTEMPTS_LIMIT: u32 = 10;

impl CallPolicy {
    /// `defaults` overridden by the environment; errors name the variable.
    pub fn from_env(env: &Env, defaults: CallPolicy) -> Result<Self, ConfigError> {
        let mode = match env.optional("AWS_RETRY_MODE") {
            None => defaults.retries.mode,
            Some(mode) => match mode.to_ascii_lowercase().as_str() {
                "standard" => RetryMode::Standard,
                "adaptive" => RetryMode::Adaptive,
                // The SDK's third mode is not offered by the Rust SDK.
                _ => {
                    return Err(ConfigError::invalid(
                        "AWS_RETRY_MODE",
                        format!("{mode:?}: expected standard or adaptive"),
                    ));
                }
            },
        };
        let max_attempts = match env.parse::<u32>("AWS_MAX_ATTEMPTS")? {
            None => defaults.retries.max_attempts,
            Some(n) if (1..=MAX_ATTEMPTS_LIMIT).contains(&n) => n,
            Some(n) => {
                return Err(ConfigError::invalid(
                    "AWS_MAX_ATTEMPTS",
                    format!("{n}: expected 1 to {MAX_ATTEMPTS_LIMIT}"),
                ));
            }
        };
        Ok(CallPolicy {
            retries: Retries {
                mode,
                max_attempts,
                ..defaults.retries
            },
            timeouts: Timeouts::from_env(env, defaults.timeouts)?,
        })
    }

    /// This policy for one call that must be over within `remaining` (a
    /// report before the invocation deadline): the whole call within
    /// `remaining`, each attempt within a third of it (so a hung attempt
    /// still leaves time for a retry), and backoffs short enough to fit.
    pub fn within(&self, remaining: Duration) -> CallPolicy {
        let floor = Duration::from_millis(100);
        let operation = remaining.min(self.timeouts.operation).max(floor);
        let attempt = (operation / 3).min(self.timeouts.attempt).max(floor);
        CallPolicy {
            retries: Retries {
                initial_backoff: self.retries.initial_backoff.min(attempt / 4),
                max_backoff: self.retries.max_backoff.min(attempt / 2),
                ..self.retries
            },
            timeouts: Timeouts {
                operation,
                attempt,
                connect: self.timeouts.connect.min(attempt),
            },
        }
    }
}

impl Timeouts {
    /// Reads the three timeouts, each in seconds, over `default`.
    pub fn from_env(env: &Env, default: Timeouts) -> Result<Self, ConfigError> {
        let timeouts = Timeouts {
            operation: env.seconds("AWS_OPERATION_TIMEOUT_SECS", default.operation)?,
            attempt: env.seconds("AWS_ATTEMPT_TIMEOUT_SECS", default.attempt)?,
            connect: env.seconds("AWS_CONNECT_TIMEOUT_SECS", default.connect)?,
        };
        if timeouts.attempt > timeouts.operation {
            return Err(ConfigError::invalid(
                "AWS_ATTEMPT_TIMEOUT_SECS",
                "must not exceed AWS_OPERATION_TIMEOUT_SECS",
            ));
        }
        Ok(timeouts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_from_env() {
        let env = Env::from_pairs([
            ("AWS_OPERATION_TIMEOUT_SECS", "10"),
            ("AWS_ATTEMPT_TIMEOUT_SECS", "2.5"),
        ]);
        let t = Timeouts::from_env(&env, Timeouts::default()).unwrap();
        assert_eq!(t.operation, Duration::from_secs(10));
        assert_eq!(t.attempt, Duration::from_millis(2500));
        assert_eq!(t.connect, Timeouts::default().connect);
        let bad = Env::from_pairs([
            ("AWS_OPERATION_TIMEOUT_SECS", "1"),
            ("AWS_ATTEMPT_TIMEOUT_SECS", "2"),
        ]);
        assert!(Timeouts::from_env(&bad, Timeouts::default()).is_err());
    }

    #[test]
    fn call_policy_from_env() {
        let defaults = CallPolicy::default();
        let ok = [
            (vec![], defaults),
            (
                vec![("AWS_MAX_ATTEMPTS", "1")],
                CallPolicy {
                    retries: Retries {
                        max_attempts: 1,
                        ..defaults.retries
                    },
                    ..defaults
                },
            ),
            (
                vec![("AWS_RETRY_MODE", "Adaptive"), ("AWS_MAX_ATTEMPTS", "10")],
                CallPolicy {
                    retries: Retries {
                        mode: RetryMode::Adaptive,
                        max_attempts: 10,
                        ..defaults.retries
                    },
                    ..defaults
                },
            ),
        ];
        for (pairs, expected) in ok {
            let env = Env::from_pairs(pairs.iter().copied());
            assert_eq!(
                CallPolicy::from_env(&env, defaults),
                Ok(expected),
                "{pairs:?}"
            );
        }
        let bad = [
            ("AWS_MAX_ATTEMPTS", "0"),
            ("AWS_MAX_ATTEMPTS", "11"),
            ("AWS_MAX_ATTEMPTS", "three"),
            ("AWS_RETRY_MODE", "legacy"),
            ("AWS_CONNECT_TIMEOUT_SECS", "-1"),
        ];
        for (name, value) in bad {
            let err =
                CallPolicy::from_env(&Env::from_pairs([(name, value)]), defaults).expect_err(value);
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn a_call_within_a_deadline_leaves_room_for_a_retry() {
        let policy = CallPolicy::default();
        let cases = [
            // remaining, operation, attempt
            (
                Duration::from_secs(60),
                Duration::from_secs(20),
                Duration::from_secs(6),
            ),
            (
                Duration::from_secs(9),
                Duration::from_secs(9),
                Duration::from_secs(3),
            ),
            (
                Duration::from_secs(3),
                Duration::from_secs(3),
                Duration::from_secs(1),
            ),
            (
                Duration::ZERO,
                Duration::from_millis(100),
                Duration::from_millis(100),
            ),
        ];
        for (remaining, operation, attempt) in cases {
            let within = policy.within(remaining);
            assert_eq!(within.timeouts.operation, operation, "{remaining:?}");
            assert_eq!(within.timeouts.attempt, attempt, "{remaining:?}");
            assert!(within.timeouts.connect <= attempt);
            assert!(within.retries.max_backoff <= attempt / 2);
            assert_eq!(within.retries.max_attempts, policy.retries.max_attempts);
        }
    }
}
