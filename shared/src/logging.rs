//! Tracing set up the way Lambda expects it, with the AWS SDK's payload
//! logging kept out.

use std::str::FromStr;

use lambda_runtime::tracing::subscriber::filter::{Directive, EnvFilter, LevelFilter};

/// Crates that log whole requests and responses at `TRACE`: the SDK's
/// orchestrator prints every operation's output (a task definition with its
/// environment values and command, say) and the HTTP stack its frames. They
/// are held at `DEBUG` at most, whatever the level asked for.
const PAYLOAD_LOGGERS: &[&str] = &[
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_smithy_types",
    "aws_sdk_ecs",
    "aws_sdk_ecr",
    "aws_sdk_codedeploy",
    "aws_sdk_cloudwatch",
    "aws_sdk_elasticloadbalancingv2",
    "aws_sdk_applicationautoscaling",
    "aws_sdk_ssm",
    "aws_sdk_resourcegroupstagging",
    // STS's AssumeRole answers with credentials.
    "aws_sdk_sts",
    "aws_credential_types",
    "aws_config",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "reqwest",
    "lambda_runtime",
    "lambda_runtime_api_client",
];

/// Installs the global `tracing` subscriber for a Lambda function.
///
/// Honours Lambda's advanced logging controls: `AWS_LAMBDA_LOG_FORMAT=JSON`
/// gives one JSON object per line, `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`)
/// sets the level, INFO by default. Timestamps are left to CloudWatch Logs.
/// Even at `TRACE`, the SDK and the HTTP stack log at `DEBUG` at most: at
/// `TRACE` they print the payloads of AWS calls, task definitions included.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let mut filter = EnvFilter::builder()
        .with_default_directive(default_level(level.as_deref()).into())
        .from_env_lossy();
    if asks_for_trace(level.as_deref()) {
        for directive in payload_caps() {
            filter = filter.add_directive(directive);
        }
    }
    let collector = lambda_runtime::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        collector.json().init();
    } else {
        collector.init();
    }
}

/// The level of every target not named otherwise: `AWS_LAMBDA_LOG_LEVEL`'s
/// (a bare level), else `INFO`. `RUST_LOG`'s directives are read by the filter.
fn default_level(level: Option<&str>) -> LevelFilter {
    level
        .and_then(|l| LevelFilter::from_str(l).ok())
        .unwrap_or(LevelFilter::INFO)
}

/// Whether the level (or a `RUST_LOG` directive) asks for `TRACE` anywhere.
fn asks_for_trace(level: Option<&str>) -> bool {
    level.is_some_and(|l| l.to_ascii_lowercase().contains("trace"))
}

/// `<crate>=debug` for each payload logger. A directive for a target wins
/// over the default level and over `RUST_LOG`'s less specific directives, so
/// these hold them at `DEBUG` when `TRACE` is asked for (below it they are
/// not added: they would raise these crates to `DEBUG`).
fn payload_caps() -> Vec<Directive> {
    PAYLOAD_LOGGERS
        .iter()
        .filter_map(|target| Directive::from_str(&format!("{target}=debug")).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_comes_from_the_variable_or_is_info() {
        let cases = [
            (None, LevelFilter::INFO),
            (Some("TRACE"), LevelFilter::TRACE),
            (Some("debug"), LevelFilter::DEBUG),
            (Some("WARN"), LevelFilter::WARN),
            (Some("nonsense"), LevelFilter::INFO),
        ];
        for (level, expected) in cases {
            assert_eq!(default_level(level), expected, "{level:?}");
        }
    }

    #[test]
    fn caps_apply_only_when_trace_is_asked_for() {
        for (level, expected) in [
            (None, false),
            (Some("INFO"), false),
            (Some("debug"), false),
            (Some("TRACE"), true),
            (Some("info,autopilot_shared=trace"), true),
        ] {
            assert_eq!(asks_for_trace(level), expected, "{level:?}");
        }
    }

    #[test]
    fn every_payload_logger_is_capped_at_debug() {
        let caps: Vec<String> = payload_caps().iter().map(ToString::to_string).collect();
        assert_eq!(caps.len(), PAYLOAD_LOGGERS.len());
        assert!(
            caps.contains(&"aws_smithy_runtime=debug".to_owned()),
            "{caps:?}"
        );
    }
}
