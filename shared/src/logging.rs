//! Tracing set up the way Lambda expects it.

/// Installs the global `tracing` subscriber for a Lambda function.
///
/// Honours Lambda's advanced logging controls: `AWS_LAMBDA_LOG_FORMAT=JSON`
/// gives one JSON object per line, `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`)
/// sets the level, INFO by default. Timestamps are left to CloudWatch Logs.
pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}
