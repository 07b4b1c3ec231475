//! The push: an EventBridge event from ECR read, once, into the image to roll
//! out, or the reason there is nothing to do.
//!
//! Every error is an [`EventError`] naming the event's field (`account`,
//! `detail.image-digest`, ...), made where the field is checked.

use serde_json::Value;

use super::plan::PushedImage;
use crate::events::{EcrImageAction, EventBridgeEvent, EventError, parse_event};
use crate::image::{Digest, EcrRegistry, ImageRef, ImageRefError};

/// The detail-type of an ECR push (and delete) event.
const IMAGE_ACTION: &str = "ECR Image Action";
/// The detail-type of an ECR replication event, in the destination Region.
const REPLICATION_ACTION: &str = "ECR Replication Action";
/// The event name in errors.
const EVENT: &str = "ECR image action";

/// What an event asks for, as [`parse_push`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Push {
    /// Not a successful ECR push: nothing to deploy, and why.
    Ignored(String),
    /// A successful push of this image.
    Image(PushedImage),
}

/// Reads an EventBridge event before any AWS call: the envelope, the
/// detail, and the image (`account`, `region`, repository, tag and digest
/// checked). Errors are `InvalidInput` and name the field
/// (`detail.image-digest`, `account`, ...).
///
/// Deployed: a successful push (`ECR Image Action`, `action-type` `PUSH`),
/// and a successful replication into this event's Region (`ECR Replication
/// Action`, `action-type` `REPLICATE`, emitted in each destination Region
/// with the `source-account` and `source-region` it came from): the image
/// is then in this account's registry in this Region, and the services here
/// that track its tag roll out, with the same guarantees as a push.
///
/// [`Push::Ignored`], with the reason: events of another source or kind
/// (pull-through cache, scans, ...), other actions (`DELETE`, ...), results
/// other than `SUCCESS`, and pushes by digest (`image-tag` absent or empty,
/// as for by-digest pushes and the children of an image index): no service
/// tracks a digest, and an error would only retry into the dead-letter
/// queue.
pub fn parse_push(payload: Value) -> Result<Push, EventError> {
    let envelope: EventBridgeEvent<Value> = parse_event(EVENT, payload)?;
    let (action, action_name) = match (envelope.source.as_str(), envelope.detail_type.as_str()) {
        ("aws.ecr", IMAGE_ACTION) => ("PUSH", "push"),
        ("aws.ecr", REPLICATION_ACTION) => ("REPLICATE", "replication"),
        _ => {
            return Ok(Push::Ignored(format!(
                "not an ECR push or replication (source {:?}, detail-type {:?})",
                envelope.source, envelope.detail_type
            )));
        }
    };
    let detail: EcrImageAction = parse_event(EVENT, envelope.detail).map_err(under_detail)?;
    if detail.action_type != action || detail.result != "SUCCESS" {
        return Ok(Push::Ignored(format!(
            "{} {} of {}: only successful pushes and replications are deployed",
            detail.result, detail.action_type, detail.repository_name
        )));
    }
    let registry = registry(envelope.account.as_deref(), envelope.region.as_deref())?;
    // ECR writes an empty `image-tag` as well as none for a push by digest.
    let tag = detail.image_tag.as_deref().filter(|t| !t.is_empty());
    let pushed = pushed_image(registry, &detail.repository_name, tag, &detail.image_digest)?;
    if pushed.tag.is_none() {
        return Ok(Push::Ignored(format!(
            "{action_name} of {}@{} carries no tag (a push by digest, or a child of an image index): services track tags, so there is nothing to deploy",
            detail.repository_name, detail.image_digest
        )));
    }
    if let (Some(source_account), Some(source_region)) =
        (&detail.source_account, &detail.source_region)
    {
        tracing::info!(
            repository = %pushed.repository,
            source_account = %source_account,
            source_region = %source_region,
            region = %pushed.registry.region,
            "image replicated into this Region"
        );
    }
    Ok(Push::Image(pushed))
}

/// The registry of the event's `account` and `region`. They make the
/// registry host, so a bad one is named here rather than reported later as
/// an invalid registry of the repository.
fn registry(account: Option<&str>, region: Option<&str>) -> Result<EcrRegistry, EventError> {
    let account = account.ok_or_else(|| invalid("account", "missing".into()))?;
    let region = region.ok_or_else(|| invalid("region", "missing".into()))?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            "account",
            format!("{account:?} is not a 12-digit AWS account ID"),
        ));
    }
    let region_chars = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    if region.is_empty() || !region.bytes().all(region_chars) {
        return Err(invalid(
            "region",
            format!("{region:?} is not a Region such as eu-west-1"),
        ));
    }
    Ok(EcrRegistry {
        account_id: account.to_owned(),
        region: region.to_owned(),
    })
}

/// The pushed image, each part checked against its own field.
fn pushed_image(
    registry: EcrRegistry,
    repository: &str,
    tag: Option<&str>,
    digest: &str,
) -> Result<PushedImage, EventError> {
    let digest =
        Digest::parse(digest).map_err(|e| invalid("detail.image-digest", e.to_string()))?;
    let not_a_repository = |reason: String| invalid("detail.repository-name", reason);
    let image =
        ImageRef::ecr(&registry, repository).map_err(|e| not_a_repository(e.to_string()))?;
    // `a:b` or `a@sha256:...` parse as a repository with a tag or a digest,
    // and `a ` as `a`: the repository must be exactly a repository.
    if image.repository() != repository || image.tag().is_some() || image.digest().is_some() {
        let error = ImageRefError::Repository {
            reference: image.to_string(),
            repository: repository.to_owned(),
        };
        return Err(not_a_repository(error.to_string()));
    }
    if let Some(tag) = tag {
        // Likewise the tag, exactly a tag: whatever makes the tagged
        // reference fail (`a/b`, `v1@sha256:...`) is the tag's fault.
        let reference = format!("{image}:{tag}");
        let exact = ImageRef::parse(&reference)
            .is_ok_and(|tagged| tagged.tag() == Some(tag) && tagged.digest().is_none());
        if !exact {
            let error = ImageRefError::Tag {
                reference,
                tag: tag.to_owned(),
            };
            return Err(invalid("detail.image-tag", error.to_string()));
        }
    }
    Ok(PushedImage {
        registry,
        repository: image.repository().to_owned(),
        tag: tag.map(str::to_owned),
        digest,
        pushed_at: None,
    })
}

/// An error inside `detail`, with its path from the event's root.
fn under_detail(error: EventError) -> EventError {
    let path = match error.path.as_str() {
        "" | "." => "detail".to_owned(),
        inner => format!("detail.{inner}"),
    };
    EventError { path, ..error }
}

fn invalid(field: &str, reason: String) -> EventError {
    EventError {
        event: EVENT,
        path: field.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::{Classify, ErrorKind};

    fn push(edit: impl FnOnce(&mut Value)) -> Result<Push, EventError> {
        sample("push-latest.json", edit)
    }

    fn sample(name: &str, edit: impl FnOnce(&mut Value)) -> Result<Push, EventError> {
        let path = format!(
            "{}/../events/redeploy-on-push/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut event: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        edit(&mut event);
        parse_push(event)
    }

    #[test]
    fn parse_push_reads_the_sample_event() {
        let Ok(Push::Image(pushed)) = push(|_| {}) else {
            panic!("the sample is a push");
        };
        assert_eq!(pushed.registry.account_id, "123456789012");
        assert_eq!(pushed.registry.region, "us-east-1");
        assert_eq!(pushed.repository, "vahanhelp-backend");
        assert_eq!(pushed.tag.as_deref(), Some("latest"));
        let ignored = push(|e| e["detail"]["action-type"] = json!("DELETE"));
        assert!(matches!(ignored, Ok(Push::Ignored(_))), "{ignored:?}");
    }

    #[test]
    fn the_samples_deploy_or_are_ignored() {
        let Ok(Push::Image(replicated)) = sample("replication.json", |_| {}) else {
            panic!("the replication sample deploys");
        };
        assert_eq!(replicated.registry.region, "eu-west-1");
        let ignored = sample("push-by-digest.json", |_| {});
        assert!(
            matches!(&ignored, Ok(Push::Ignored(r)) if r.contains("carries no tag")),
            "{ignored:?}"
        );
    }

    /// Which events deploy, and which are acknowledged and ignored with
    /// their reason (never an error, which would retry into the DLQ).
    #[test]
    fn pushes_replications_and_what_is_ignored() {
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let replication: Edit = Box::new(|e| {
            e["detail-type"] = json!("ECR Replication Action");
            e["region"] = json!("eu-west-1");
            e["detail"]["action-type"] = json!("REPLICATE");
            e["detail"]["source-account"] = json!("210987654321");
            e["detail"]["source-region"] = json!("us-east-1");
        });
        // (edit, deployed in this Region, or the ignored reason's part)
        let cases: Vec<(Edit, Result<&str, &str>)> = vec![
            (Box::new(|_| {}), Ok("us-east-1")),
            (replication, Ok("eu-west-1")),
            (
                Box::new(|e| {
                    e["detail"].as_object_mut().unwrap().remove("image-tag");
                }),
                Err("carries no tag"),
            ),
            (
                Box::new(|e| e["detail"]["image-tag"] = json!("")),
                Err("carries no tag"),
            ),
            (
                Box::new(|e| e["detail"]["action-type"] = json!("REPLICATE")),
                Err("only successful pushes and replications"),
            ),
            (
                Box::new(|e| {
                    e["detail-type"] = json!("ECR Replication Action");
                    e["detail"]["result"] = json!("FAILURE");
                    e["detail"]["action-type"] = json!("REPLICATE");
                }),
                Err("only successful pushes and replications"),
            ),
            (
                Box::new(|e| e["detail-type"] = json!("ECR Pull Through Cache Action")),
                Err("not an ECR push or replication"),
            ),
        ];
        for (index, (edit, expected)) in cases.into_iter().enumerate() {
            match (push(edit), expected) {
                (Ok(Push::Image(pushed)), Ok(region)) => {
                    assert_eq!(pushed.registry.region, region, "case {index}");
                    assert_eq!(pushed.tag.as_deref(), Some("latest"), "case {index}");
                }
                (Ok(Push::Ignored(reason)), Err(part)) => {
                    assert!(reason.contains(part), "case {index}: {reason}");
                }
                (got, expected) => panic!("case {index}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    /// Regressions found by tests/bad_input.rs: a bad account or Region was
    /// reported as an invalid registry of `detail.repository-name`; a tag
    /// with a `/` was blamed on the repository; a repository with a `:tag`
    /// and no `image-tag`, or a tag with an `@digest`, was accepted.
    #[test]
    fn parse_push_names_the_bad_field() {
        let digest = format!("sha256:{}", "0".repeat(64));
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(Edit, &str)> = vec![
            (Box::new(|e| e["region"] = json!("")), "region"),
            (Box::new(|e| e["region"] = json!("Eu West 1")), "region"),
            (Box::new(|e| e["account"] = json!("12345")), "account"),
            (
                Box::new(|e| e["account"] = json!("abcdefghijkl")),
                "account",
            ),
            (
                Box::new(|e| e["detail"]["image-tag"] = json!("a/b")),
                "detail.image-tag",
            ),
            (
                Box::new(|e| e["detail"]["image-tag"] = json!("a:b")),
                "detail.image-tag",
            ),
            (
                Box::new(|e| e["detail"]["image-tag"] = json!("latest ")),
                "detail.image-tag",
            ),
            (
                Box::new(move |e| e["detail"]["image-tag"] = json!(format!("v1@{digest}"))),
                "detail.image-tag",
            ),
            (
                Box::new(|e| {
                    e["detail"]["repository-name"] = json!("a:b");
                    e["detail"].as_object_mut().unwrap().remove("image-tag");
                }),
                "detail.repository-name",
            ),
            (
                Box::new(|e| e["detail"]["repository-name"] = json!("backend ")),
                "detail.repository-name",
            ),
        ];
        for (edit, field) in cases {
            let error = push(edit).unwrap_err();
            assert_eq!(error.path, field, "{error}");
            assert_eq!(error.kind(), ErrorKind::InvalidInput);
        }
    }
}
