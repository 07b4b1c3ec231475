//! `image-scan`: the ECR scan findings of the new revision's images have
//! nothing at or above a severity.
//!
//! Parameters: `severity` (default `HIGH`): the check fails when any image
//! has a finding at that severity or above (`INFORMATIONAL` < `LOW` <
//! `MEDIUM` < `HIGH` < `CRITICAL`; `UNDEFINED` findings are not ranked and
//! never fail it). Each container image in an ECR registry is looked up by
//! digest when pinned, else by tag (`latest` when it has none), in its own
//! account and Region; images outside ECR are skipped and named in the
//! evidence. An image without a completed scan fails the check.
//!
//! AWS calls: `ecr:DescribeImageScanFindings` (the severity counts of the
//! first page cover every finding), plus what the deployment needs to
//! describe the new revision (`ecs:DescribeTaskDefinition`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ecr::types::{ImageIdentifier, ScanStatus};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::common::{FieldError, plural, timeout_from, validate_common};
use super::context::CheckContext;
use super::engine::{Check, Outcome};
use crate::aws::AwsError;
use crate::image::ImageRef;

/// A finding's severity, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// `INFORMATIONAL`
    Informational,
    /// `LOW`
    Low,
    /// `MEDIUM`
    Medium,
    /// `HIGH`
    High,
    /// `CRITICAL`
    Critical,
}

impl Severity {
    /// The severity ECR names so; `None` for `UNDEFINED` and unknown names.
    pub fn parse(name: &str) -> Option<Severity> {
        match name {
            "INFORMATIONAL" => Some(Severity::Informational),
            "LOW" => Some(Severity::Low),
            "MEDIUM" => Some(Severity::Medium),
            "HIGH" => Some(Severity::High),
            "CRITICAL" => Some(Severity::Critical),
            _ => None,
        }
    }

    /// The name ECR uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "INFORMATIONAL",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `image-scan` check's parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageScanSpec {
    /// The check's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its time budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// The lowest severity that fails the check (default `HIGH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

impl ImageScanSpec {
    /// Checks the common fields.
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_common(self.name.as_deref(), self.timeout_seconds)
    }

    /// `image-scan HIGH`.
    pub fn default_name(&self) -> String {
        format!("image-scan {}", self.threshold())
    }

    fn threshold(&self) -> Severity {
        self.severity.unwrap_or(Severity::High)
    }
}

/// What ECR says about one image's scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanState {
    /// A completed scan: finding counts by severity name.
    Complete(BTreeMap<String, i64>),
    /// No usable scan, and why (`no scan`, `scan IN_PROGRESS`, ...).
    Unavailable(String),
}

/// One image and its scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageScan {
    /// The image, shortened for evidence (`team/api@sha256:0123456789ab`).
    pub image: String,
    /// Its scan.
    pub state: ScanState,
}

/// Whether no image has a finding at or above `threshold` and every image
/// has a completed scan; `Ok` and `Err` both carry the evidence.
pub fn judge_scans(
    scans: &[ImageScan],
    skipped: &[String],
    threshold: Severity,
) -> Result<String, String> {
    let mut problems = Vec::new();
    let mut below = Vec::new();
    for scan in scans {
        match &scan.state {
            ScanState::Unavailable(reason) => problems.push(format!("{}: {reason}", scan.image)),
            ScanState::Complete(counts) => {
                let mut ranked: Vec<(Severity, i64)> = counts
                    .iter()
                    .filter_map(|(name, count)| Some((Severity::parse(name)?, *count)))
                    .filter(|(_, count)| *count > 0)
                    .collect();
                ranked.sort_by_key(|(severity, _)| std::cmp::Reverse(*severity));
                let describe = |list: &[(Severity, i64)]| {
                    list.iter()
                        .map(|(s, n)| format!("{s} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let (at_or_above, lower): (Vec<_>, Vec<_>) =
                    ranked.into_iter().partition(|(s, _)| *s >= threshold);
                if !at_or_above.is_empty() {
                    problems.push(format!("{}: {}", scan.image, describe(&at_or_above)));
                } else if !lower.is_empty() {
                    below.push(format!("{}: {}", scan.image, describe(&lower)));
                }
            }
        }
    }
    let skipped_note = if skipped.is_empty() {
        String::new()
    } else {
        format!("; not in ECR, skipped: {}", skipped.join(", "))
    };
    if !problems.is_empty() {
        return Err(format!(
            "at or above {threshold} or unscanned: {}{skipped_note}",
            problems.join("; ")
        ));
    }
    if scans.is_empty() {
        return Ok(format!("no ECR image to check{skipped_note}"));
    }
    let mut evidence = format!(
        "{}, nothing at or above {threshold}",
        plural(scans.len(), "ECR image")
    );
    if !below.is_empty() {
        evidence.push_str(&format!(" ({})", below.join("; ")));
    }
    evidence.push_str(&skipped_note);
    Ok(evidence)
}

/// How an image is named in evidence: repository with its tag, or with the
/// first 12 hex digits of its digest.
pub fn short_image(image: &ImageRef) -> String {
    match (image.digest(), image.tag()) {
        (Some(digest), _) => {
            let text = digest.as_str();
            let cut = text.char_indices().nth(19).map_or(text.len(), |(at, _)| at);
            format!("{}@{}", image.repository(), &text[..cut])
        }
        (None, Some(tag)) => format!("{}:{tag}", image.repository()),
        (None, None) => image.repository().to_owned(),
    }
}

/// The scan of one ECR image.
///
/// IAM: `ecr:DescribeImageScanFindings`.
pub async fn scan_of(
    client: &aws_sdk_ecr::Client,
    registry_id: &str,
    image: &ImageRef,
) -> Result<ScanState, AwsError> {
    let id = match image.digest() {
        Some(digest) => ImageIdentifier::builder().image_digest(digest.as_str()),
        None => ImageIdentifier::builder().image_tag(image.tag().unwrap_or("latest")),
    };
    let answer = client
        .describe_image_scan_findings()
        .registry_id(registry_id)
        .repository_name(image.repository())
        .image_id(id.build())
        .max_results(1)
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => {
            if let Some(service) = error.as_service_error() {
                if service.is_scan_not_found_exception() {
                    return Ok(ScanState::Unavailable("no scan".to_owned()));
                }
                if service.is_image_not_found_exception() {
                    return Ok(ScanState::Unavailable("image not found".to_owned()));
                }
            }
            return Err(AwsError::new(
                "describe image scan findings of",
                image.to_string(),
                &error,
            ));
        }
    };
    let status = answer.image_scan_status().and_then(|s| s.status());
    if !matches!(status, Some(ScanStatus::Complete | ScanStatus::Active)) {
        let status = status.map_or("UNKNOWN", |s| s.as_str());
        return Ok(ScanState::Unavailable(format!("scan {status}")));
    }
    let counts = answer
        .image_scan_findings()
        .and_then(|f| f.finding_severity_counts())
        .map(|counts| {
            counts
                .iter()
                .map(|(severity, count)| (severity.as_str().to_owned(), i64::from(*count)))
                .collect()
        })
        .unwrap_or_default();
    Ok(ScanState::Complete(counts))
}

/// The runnable `image-scan` check.
pub struct ImageScanCheck {
    name: String,
    timeout: Duration,
    spec: ImageScanSpec,
    context: Arc<CheckContext>,
}

impl ImageScanCheck {
    /// The check named `name`.
    pub fn new(name: String, spec: ImageScanSpec, context: Arc<CheckContext>) -> Self {
        ImageScanCheck {
            name,
            timeout: timeout_from(spec.timeout_seconds),
            spec,
            context,
        }
    }

    async fn look(&self) -> Outcome {
        let revision = match self.context.deployment.revision().await {
            Ok(revision) => revision,
            Err(error) => return Outcome::fail(error.to_string()),
        };
        let mut scans = Vec::new();
        let mut skipped = Vec::new();
        let mut seen = Vec::new();
        for container in &revision.containers {
            if seen.contains(&container.image) {
                continue;
            }
            seen.push(container.image.clone());
            let image = match ImageRef::parse(&container.image) {
                Ok(image) => image,
                Err(error) => {
                    return Outcome::fail(format!("container {}: {error}", container.name));
                }
            };
            let Some(registry) = image.ecr_registry() else {
                skipped.push(short_image(&image));
                continue;
            };
            let client = self.context.clients.ecr_in(&registry.region);
            match scan_of(&client, &registry.account_id, &image).await {
                Ok(state) => scans.push(ImageScan {
                    image: short_image(&image),
                    state,
                }),
                Err(error) => return Outcome::fail(error.to_string()),
            }
        }
        match judge_scans(&scans, &skipped, self.spec.threshold()) {
            Ok(evidence) => Outcome::pass(format!("{}: {evidence}", revision.label())),
            Err(evidence) => Outcome::fail(format!("{}: {evidence}", revision.label())),
        }
    }
}

impl Check for ImageScanCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn run(&self, _deadline: Instant) -> BoxFuture<'_, Outcome> {
        Box::pin(self.look())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(image: &str, counts: &[(&str, i64)]) -> ImageScan {
        ImageScan {
            image: image.into(),
            state: ScanState::Complete(counts.iter().map(|(s, n)| ((*s).to_owned(), *n)).collect()),
        }
    }

    #[test]
    fn severities_are_ordered() {
        let ordered = ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"];
        let parsed: Vec<Severity> = ordered
            .iter()
            .map(|s| Severity::parse(s).unwrap())
            .collect();
        assert!(parsed.windows(2).all(|w| w[0] < w[1]));
        for (severity, name) in parsed.iter().zip(ordered) {
            assert_eq!(severity.as_str(), name);
        }
        assert_eq!(Severity::parse("UNDEFINED"), None);
        assert_eq!(Severity::parse("high"), None);
    }

    #[test]
    fn judging_scans() {
        let skipped = vec!["docker/library/redis:7".to_owned()];
        type Expected<'a> = Result<&'a str, &'a str>;
        let cases: Vec<(Vec<ImageScan>, &[String], Severity, Expected)> = vec![
            (
                vec![complete(
                    "api:v1",
                    &[("MEDIUM", 2), ("LOW", 5), ("UNDEFINED", 9)],
                )],
                &skipped,
                Severity::High,
                Ok(
                    "1 ECR image, nothing at or above HIGH (api:v1: MEDIUM 2, LOW 5); not in ECR, skipped: docker/library/redis:7",
                ),
            ),
            (
                vec![complete(
                    "api:v1",
                    &[("MEDIUM", 2), ("CRITICAL", 1), ("HIGH", 3)],
                )],
                &[],
                Severity::High,
                Err("at or above HIGH or unscanned: api:v1: CRITICAL 1, HIGH 3"),
            ),
            (
                vec![complete("api:v1", &[("MEDIUM", 2)])],
                &[],
                Severity::Medium,
                Err("at or above MEDIUM or unscanned: api:v1: MEDIUM 2"),
            ),
            (
                vec![complete("api:v1", &[("HIGH", 0)])],
                &[],
                Severity::High,
                Ok("1 ECR image, nothing at or above HIGH"),
            ),
            (
                vec![
                    complete("api:v1", &[]),
                    ImageScan {
                        image: "worker:v2".into(),
                        state: ScanState::Unavailable("no scan".into()),
                    },
                ],
                &[],
                Severity::Critical,
                Err("at or above CRITICAL or unscanned: worker:v2: no scan"),
            ),
            (
                vec![],
                &skipped,
                Severity::High,
                Ok("no ECR image to check; not in ECR, skipped: docker/library/redis:7"),
            ),
        ];
        for (scans, skipped, threshold, expected) in cases {
            let got = judge_scans(&scans, skipped, threshold);
            assert_eq!(
                got.as_ref().map(String::as_str).map_err(String::as_str),
                expected,
                "{scans:?}"
            );
        }
    }

    #[test]
    fn short_image_names() {
        let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
        let cases = [
            (
                format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api@{digest}"),
                "team/api@sha256:0123456789ab",
            ),
            (
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api:v1".to_owned(),
                "team/api:v1",
            ),
            ("redis".to_owned(), "redis"),
        ];
        for (reference, short) in cases {
            assert_eq!(short_image(&ImageRef::parse(&reference).unwrap()), short);
        }
    }
}
