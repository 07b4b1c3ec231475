//! The pure decision: given what was pushed and what a service runs, what to do.

use aws_smithy_types::DateTime;
use semver::Version;

use super::policy::{Admission, Policy, PolicyError, parse_version};
use super::taskdef::ImageUpdate;
use crate::image::{Digest, EcrRegistry};

/// The image an ECR push event announced, with what ECR says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct PushedImage {
    /// The registry (account and Region of the event).
    pub registry: EcrRegistry,
    /// The repository.
    pub repository: String,
    /// The pushed tag, if any.
    pub tag: Option<String>,
    /// The manifest digest.
    pub digest: Digest,
    /// When ECR says it was pushed.
    pub pushed_at: Option<DateTime>,
}

/// How a service is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    /// ECS rolling update: `UpdateService`.
    Ecs,
    /// CodeDeploy blue/green: `CreateDeployment`.
    CodeDeploy,
    /// A third-party controller: not ours to drive.
    External,
}

/// What ECR says about an image a container runs now, when it is pinned by digest.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunningImageFacts {
    /// When it was pushed.
    pub pushed_at: Option<DateTime>,
    /// The semantic versions among its tags.
    pub versions: Vec<Version>,
}

/// Everything the decision needs about one service.
#[derive(Debug, Clone)]
pub struct ServiceFacts {
    /// The parsed `autopilot:redeploy` tag.
    pub policy: Result<Policy, PolicyError>,
    /// Its deployment controller.
    pub controller: Controller,
    /// The containers that run the pushed repository, with their new images.
    pub updates: Vec<ImageUpdate>,
    /// ECR facts for each update's current image (same order), when known.
    pub running: Vec<RunningImageFacts>,
    /// ECR facts for the images of the family's newest revision, when it is
    /// not the one running (a rollout already on its way).
    pub registered: Vec<RunningImageFacts>,
}

/// What to do with one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No container runs the pushed repository: not a matched service.
    NotMatched,
    /// Roll the new images out.
    Deploy,
    /// Leave it; the reason goes into the summary.
    Skip(String),
    /// The service is misconfigured; reported, never acted on.
    Fail(String),
}

/// Decides whether `pushed` goes to a service.
///
/// In order: only services running the repository match; an unparseable
/// policy fails that service; an `EXTERNAL` controller is skipped; a service
/// already running the digest is skipped (a duplicate event); the policy must
/// admit the tag (for `semver`, only newer versions); and an image pushed
/// before the one running, or the one the family's newest revision already
/// rolls out, is never deployed over it (out-of-order events).
pub fn plan_redeploy(pushed: &PushedImage, facts: &ServiceFacts) -> Decision {
    if facts.updates.is_empty() {
        return Decision::NotMatched;
    }
    let policy = match &facts.policy {
        Ok(policy) => policy,
        Err(error) => return Decision::Fail(error.to_string()),
    };
    if facts.controller == Controller::External {
        return Decision::Skip(
            "the EXTERNAL deployment controller is not driven by ecs-autopilot".into(),
        );
    }
    if facts
        .updates
        .iter()
        .all(|u| u.from.digest() == Some(&pushed.digest))
    {
        return Decision::Skip(format!("already running {}", pushed.digest));
    }
    let running_versions: Vec<Version> = facts
        .updates
        .iter()
        .filter_map(|u| u.from.tag().and_then(parse_version))
        .chain(
            facts
                .running
                .iter()
                .flat_map(|r| r.versions.iter().cloned()),
        )
        .collect();
    if let Admission::Reject(reason) = policy.admits(pushed.tag.as_deref(), &running_versions) {
        return Decision::Skip(reason);
    }
    if let Some(pushed_at) = pushed.pushed_at {
        let newer_running = facts
            .running
            .iter()
            .filter_map(|r| r.pushed_at)
            .filter(|running_at| *running_at > pushed_at)
            .max();
        if let Some(running_at) = newer_running {
            return Decision::Skip(format!(
                "the running image was pushed later ({running_at}) than {} ({pushed_at})",
                pushed.digest
            ));
        }
        let newer_registered = facts
            .registered
            .iter()
            .filter_map(|r| r.pushed_at)
            .filter(|registered_at| *registered_at > pushed_at)
            .max();
        if let Some(registered_at) = newer_registered {
            return Decision::Skip(format!(
                "the family's newest revision already rolls out an image pushed later ({registered_at}) than {} ({pushed_at})",
                pushed.digest
            ));
        }
    }
    Decision::Deploy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ImageRef;

    const REGISTRY: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    const NEW: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const OLD: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn pushed(tag: Option<&str>, at: i64) -> PushedImage {
        PushedImage {
            registry: EcrRegistry::from_host(REGISTRY).unwrap(),
            repository: "api".into(),
            tag: tag.map(str::to_owned),
            digest: Digest::parse(NEW).unwrap(),
            pushed_at: Some(DateTime::from_secs(at)),
        }
    }

    fn update(from: &str) -> ImageUpdate {
        let from = ImageRef::parse(&format!("{REGISTRY}/api{from}")).unwrap();
        ImageUpdate {
            container: "app".into(),
            to: from.pinned(&Digest::parse(NEW).unwrap()),
            from,
        }
    }

    fn facts(
        policy: &str,
        controller: Controller,
        from: &[&str],
        running: Vec<RunningImageFacts>,
    ) -> ServiceFacts {
        ServiceFacts {
            policy: Policy::parse(policy),
            controller,
            updates: from.iter().map(|f| update(f)).collect(),
            running,
            registered: vec![],
        }
    }

    fn at(secs: i64, versions: &[&str]) -> RunningImageFacts {
        RunningImageFacts {
            pushed_at: Some(DateTime::from_secs(secs)),
            versions: versions
                .iter()
                .map(|v| Version::parse(v).unwrap())
                .collect(),
        }
    }

    #[test]
    fn decision_table() {
        use Controller::*;
        let new = format!("@{NEW}");
        let old = format!("@{OLD}");
        let deploy = || Decision::Deploy;
        let skip = |s: &str| Decision::Skip(s.to_owned());
        // (name, pushed tag, pushed at, facts, expected; a Skip/Fail reason is matched by prefix)
        let cases: Vec<(&str, Option<&str>, i64, ServiceFacts, Decision)> = vec![
            (
                "not matched",
                Some("latest"),
                100,
                facts("tag:latest", Ecs, &[], vec![]),
                Decision::NotMatched,
            ),
            (
                "tag follows",
                Some("latest"),
                100,
                facts("tag:latest", Ecs, &[":latest"], vec![]),
                deploy(),
            ),
            (
                "other tag",
                Some("main"),
                100,
                facts("tag:latest", Ecs, &[":latest"], vec![]),
                skip("tag main is not latest"),
            ),
            (
                "untagged push",
                None,
                100,
                facts("tag:latest", Ecs, &[":latest"], vec![]),
                skip("the push has no tag"),
            ),
            (
                "bad policy",
                Some("latest"),
                100,
                facts("latest", Ecs, &[":latest"], vec![]),
                Decision::Fail("invalid autopilot:redeploy policy".into()),
            ),
            (
                "external",
                Some("latest"),
                100,
                facts("tag:latest", External, &[":latest"], vec![]),
                skip("the EXTERNAL"),
            ),
            (
                "code deploy",
                Some("latest"),
                100,
                facts("tag:latest", CodeDeploy, &[":latest"], vec![]),
                deploy(),
            ),
            (
                "duplicate",
                Some("latest"),
                100,
                facts("tag:latest", Ecs, &[&new], vec![at(100, &[])]),
                skip("already running"),
            ),
            (
                "newer push",
                Some("latest"),
                200,
                facts("tag:latest", Ecs, &[&old], vec![at(100, &[])]),
                deploy(),
            ),
            (
                "out of order",
                Some("latest"),
                100,
                facts("tag:latest", Ecs, &[&old], vec![at(200, &[])]),
                skip("the running image was pushed later"),
            ),
            (
                "glob",
                Some("release-7"),
                100,
                facts("glob:release-*", Ecs, &[":release-6"], vec![]),
                deploy(),
            ),
            (
                "semver up from tag",
                Some("v1.5.0"),
                100,
                facts("semver:^1.4", Ecs, &[":v1.4.0"], vec![]),
                deploy(),
            ),
            (
                "semver down from tag",
                Some("v1.4.1"),
                300,
                facts("semver:^1.4", Ecs, &[":v1.5.0"], vec![]),
                skip("version 1.4.1 is not newer"),
            ),
            (
                "semver down from ECR tags",
                Some("v1.4.1"),
                300,
                facts("semver:^1.4", Ecs, &[&old], vec![at(100, &["1.5.0"])]),
                skip("version 1.4.1 is not newer"),
            ),
            (
                "semver out of range",
                Some("v2.0.0"),
                300,
                facts("semver:^1.4", Ecs, &[":v1.4.0"], vec![]),
                skip("version 2.0.0 does not satisfy"),
            ),
            (
                "one of two containers behind",
                Some("latest"),
                100,
                facts(
                    "tag:latest",
                    Ecs,
                    &[&new, &old],
                    vec![at(100, &[]), at(50, &[])],
                ),
                deploy(),
            ),
        ];
        for (name, tag, pushed_at, facts, expected) in cases {
            let got = plan_redeploy(&pushed(tag, pushed_at), &facts);
            let same = match (&got, &expected) {
                (Decision::Skip(g), Decision::Skip(e)) | (Decision::Fail(g), Decision::Fail(e)) => {
                    g.starts_with(e.as_str())
                }
                _ => got == expected,
            };
            assert!(same, "{name}: expected {expected:?}, got {got:?}");
        }
    }
}
