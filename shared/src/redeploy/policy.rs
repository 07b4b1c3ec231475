//! The `autopilot:redeploy` tag: which pushed tags a service follows.

use globset::{Glob, GlobMatcher};
use semver::{Version, VersionReq};

use crate::error::{Classify, ErrorKind};

/// The service tag that opts a service in; its value is a [`Policy`].
pub const REDEPLOY_TAG: &str = "autopilot:redeploy";
/// The optional service tag narrowing the containers to update (comma-separated names).
pub const CONTAINERS_TAG: &str = "autopilot:containers";

/// A tag policy that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {REDEPLOY_TAG} policy {policy:?}: {reason}")]
pub struct PolicyError {
    /// The tag value.
    pub policy: String,
    /// What is wrong.
    pub reason: String,
}

impl Classify for PolicyError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

/// Which pushed tags a service follows.
#[derive(Debug, Clone)]
pub enum Policy {
    /// `tag:<name>`: exactly this tag.
    Tag(String),
    /// `glob:<pattern>`: tags matching the glob (`*`, `?`, `[...]`, `{a,b}`).
    Glob {
        /// The pattern as written.
        pattern: String,
        /// The compiled matcher.
        matcher: GlobMatcher,
    },
    /// `semver:<requirement>`: semantic versions (optional leading `v`) that
    /// satisfy the requirement and are newer than the running one.
    Semver(VersionReq),
}

impl PartialEq for Policy {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Policy::Tag(tag) => write!(f, "tag:{tag}"),
            Policy::Glob { pattern, .. } => write!(f, "glob:{pattern}"),
            Policy::Semver(req) => write!(f, "semver:{req}"),
        }
    }
}

/// Whether a pushed tag is for this service, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Deploy it.
    Admit,
    /// Not for this service; the reason is for the summary and the logs.
    Reject(String),
}

impl Policy {
    /// Parses a tag value such as `tag:latest`, `glob:release-*`, `semver:^1.4`.
    pub fn parse(value: &str) -> Result<Self, PolicyError> {
        let invalid = |reason: &str| PolicyError {
            policy: value.to_owned(),
            reason: reason.to_owned(),
        };
        let (kind, argument) = value.trim().split_once(':').ok_or_else(|| {
            invalid("expected tag:<name>, glob:<pattern> or semver:<requirement>")
        })?;
        let argument = argument.trim();
        if argument.is_empty() {
            return Err(invalid("nothing after the colon"));
        }
        match kind.trim() {
            "tag" => Ok(Policy::Tag(argument.to_owned())),
            "glob" => {
                let glob = Glob::new(argument).map_err(|e| invalid(&e.to_string()))?;
                Ok(Policy::Glob {
                    pattern: argument.to_owned(),
                    matcher: glob.compile_matcher(),
                })
            }
            "semver" => VersionReq::parse(argument)
                .map(Policy::Semver)
                .map_err(|e| invalid(&format!("not a semver requirement: {e}"))),
            other => Err(invalid(&format!(
                "unknown kind {other:?}: expected tag, glob or semver"
            ))),
        }
    }

    /// Decides whether `pushed_tag` should be deployed to a service running
    /// `running_versions` (the semantic versions of the image it runs now,
    /// empty when unknown).
    pub fn admits(&self, pushed_tag: Option<&str>, running_versions: &[Version]) -> Admission {
        let Some(pushed) = pushed_tag else {
            return Admission::Reject("the push has no tag".into());
        };
        match self {
            Policy::Tag(tag) if tag == pushed => Admission::Admit,
            Policy::Tag(tag) => Admission::Reject(format!("tag {pushed} is not {tag}")),
            Policy::Glob { matcher, pattern } if matcher.is_match(pushed) => {
                let _ = pattern;
                Admission::Admit
            }
            Policy::Glob { pattern, .. } => {
                Admission::Reject(format!("tag {pushed} does not match {pattern}"))
            }
            Policy::Semver(req) => {
                let Some(version) = parse_version(pushed) else {
                    return Admission::Reject(format!("tag {pushed} is not a semantic version"));
                };
                if !req.matches(&version) {
                    return Admission::Reject(format!("version {version} does not satisfy {req}"));
                }
                match running_versions.iter().max() {
                    Some(running) if *running >= version => Admission::Reject(format!(
                        "version {version} is not newer than the running {running}"
                    )),
                    _ => Admission::Admit,
                }
            }
        }
    }
}

/// A tag as a semantic version, with an optional leading `v`.
pub fn parse_version(tag: &str) -> Option<Version> {
    let bare = tag.strip_prefix(['v', 'V']).unwrap_or(tag);
    Version::parse(bare).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn parses_policies() {
        let ok = [
            ("tag:latest", "tag:latest"),
            (" tag: main ", "tag:main"),
            ("glob:release-*", "glob:release-*"),
            ("glob:{main,develop}", "glob:{main,develop}"),
            ("semver:^1.4", "semver:^1.4"),
            ("semver:*", "semver:*"),
            ("semver:>=2.0.0, <3", "semver:>=2.0.0, <3"),
        ];
        for (input, shown) in ok {
            assert_eq!(Policy::parse(input).unwrap().to_string(), shown, "{input}");
        }
        let bad = [
            "latest",
            "tag:",
            "glob:",
            "glob:[a",
            "semver:not-a-req",
            "semver:",
            "regex:.*",
            "",
        ];
        for input in bad {
            let error = Policy::parse(input).unwrap_err();
            assert!(error.to_string().contains(REDEPLOY_TAG), "{input}: {error}");
        }
    }

    #[test]
    fn admission_table() {
        // (policy, pushed tag, running versions, admitted)
        let cases: &[(&str, Option<&str>, &[&str], bool)] = &[
            ("tag:latest", Some("latest"), &[], true),
            ("tag:latest", Some("main"), &[], false),
            ("tag:latest", None, &[], false),
            ("glob:release-*", Some("release-2026.11"), &[], true),
            ("glob:release-*", Some("hotfix-1"), &[], false),
            ("glob:{main,develop}", Some("develop"), &[], true),
            ("semver:^1.4", Some("v1.5.0"), &["1.4.2"], true),
            ("semver:^1.4", Some("1.5.0"), &[], true),
            ("semver:^1.4", Some("v1.4.2"), &["1.5.0"], false),
            ("semver:^1.4", Some("v1.5.0"), &["1.5.0"], false),
            ("semver:^1.4", Some("v2.0.0"), &["1.5.0"], false),
            ("semver:^1.4", Some("v1.3.9"), &[], false),
            ("semver:*", Some("v3.0.0-rc.1"), &["2.9.0"], false),
            ("semver:>=3.0.0-rc.0", Some("v3.0.0-rc.1"), &["2.9.0"], true),
            ("semver:*", Some("latest"), &[], false),
            ("semver:*", Some("v10.0.0"), &["9.99.0", "1.0.0"], true),
            ("semver:*", Some("v9.0.0"), &["9.99.0", "1.0.0"], false),
        ];
        for &(policy, pushed, running, admitted) in cases {
            let running: Vec<Version> = running.iter().map(|s| v(s)).collect();
            let got = Policy::parse(policy).unwrap().admits(pushed, &running);
            assert_eq!(
                got == Admission::Admit,
                admitted,
                "{policy} {pushed:?} over {running:?}: {got:?}"
            );
        }
    }

    #[test]
    fn versions_accept_a_leading_v() {
        assert_eq!(parse_version("v1.2.3"), Some(v("1.2.3")));
        assert_eq!(parse_version("V1.2.3"), Some(v("1.2.3")));
        assert_eq!(
            parse_version("1.2.3-rc.1+build.5"),
            Some(v("1.2.3-rc.1+build.5"))
        );
        assert_eq!(parse_version("1.2"), None);
        assert_eq!(parse_version("vv1.2.3"), None);
        assert_eq!(parse_version("latest"), None);
    }
}
