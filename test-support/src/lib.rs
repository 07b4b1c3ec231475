//! Test support for ecs-autopilot, as one library instead of files
//! included with `#[path]`: what the property tests of the parsers
//! (`shared/tests/properties.rs`) and each function's `tests/bad_input.rs`
//! share.
//!
//! - [`cases`]: how many cases a property runs (`PROPTEST_CASES`, never none).
//! - [`json`]: arbitrary JSON, and valid documents with one field broken.
//! - [`events`]: valid events, payloads and configurations, with their fields.
//! - [`counting`]: an `SdkConfig` that counts requests and sends none.
//! - [`bad_input`]: the driver of every function's bad-input properties.

pub mod bad_input;
pub mod cases;
pub mod counting;
pub mod events;
pub mod json;
