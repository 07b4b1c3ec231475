//! Container image references: `[registry/]repository[:tag][@digest]`.
//!
//! Parsed once into an [`ImageRef`]; the rest of the code never handles the
//! raw string. The grammar follows the OCI distribution reference
//! (`docker/distribution/reference`), with Amazon ECR registry host names
//! (`<account>.dkr.ecr.<region>.amazonaws.com[.cn]`, and the `-fips` form)
//! understood as such.

use std::fmt;

use crate::error::{Classify, ErrorKind};

/// The registry Docker uses when a reference names none.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// Why an image reference or digest does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    /// The reference is empty.
    #[error("image reference is empty")]
    Empty,
    /// The registry host is malformed.
    #[error("invalid registry {registry:?} in image reference {reference:?}")]
    Registry {
        /// The whole reference.
        reference: String,
        /// The registry part.
        registry: String,
    },
    /// The repository path is malformed (repositories are lower case).
    #[error("invalid repository {repository:?} in image reference {reference:?}")]
    Repository {
        /// The whole reference.
        reference: String,
        /// The repository part.
        repository: String,
    },
    /// The tag is malformed (at most 128 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`).
    #[error("invalid tag {tag:?} in image reference {reference:?}")]
    Tag {
        /// The whole reference.
        reference: String,
        /// The tag part.
        tag: String,
    },
    /// The digest is malformed.
    #[error("invalid digest {digest:?}: {reason}")]
    Digest {
        /// The digest.
        digest: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl Classify for ImageRefError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

/// A content digest such as `sha256:<64 hex digits>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses `algorithm:encoded`. A `sha256` or `sha512` digest must have
    /// 64 or 128 lower-case hex digits; other algorithms follow the OCI
    /// grammar.
    pub fn parse(value: &str) -> Result<Self, ImageRefError> {
        let invalid = |reason| ImageRefError::Digest {
            digest: value.to_owned(),
            reason,
        };
        let (algorithm, encoded) = value
            .split_once(':')
            .ok_or_else(|| invalid("expected algorithm:hex"))?;
        let algorithm_ok = !algorithm.is_empty()
            && algorithm.split(['+', '.', '_', '-']).all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if !algorithm_ok {
            return Err(invalid("invalid algorithm"));
        }
        let expected_hex = match algorithm {
            "sha256" => Some(64),
            "sha512" => Some(128),
            _ => None,
        };
        match expected_hex {
            Some(len) => {
                if encoded.len() != len
                    || !encoded
                        .bytes()
                        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                {
                    return Err(invalid(if len == 64 {
                        "a sha256 digest has 64 lower-case hex digits"
                    } else {
                        "a sha512 digest has 128 lower-case hex digits"
                    }));
                }
            }
            None => {
                if encoded.len() < 32
                    || !encoded
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
                {
                    return Err(invalid("invalid encoded part"));
                }
            }
        }
        Ok(Digest(value.to_owned()))
    }

    /// The digest as written, `sha256:...`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An Amazon ECR private registry: one per account and Region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EcrRegistry {
    /// The 12-digit account ID.
    pub account_id: String,
    /// The Region, such as `eu-west-1`.
    pub region: String,
}

impl EcrRegistry {
    /// Recognises an ECR host name: `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`.
    pub fn from_host(host: &str) -> Option<Self> {
        let mut parts = host.split('.');
        let account_id = parts.next()?;
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if parts.next()? != "dkr" || !matches!(parts.next()?, "ecr" | "ecr-fips") {
            return None;
        }
        let region = parts.next()?;
        let valid_region = !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let suffix: Vec<&str> = parts.collect();
        let valid_suffix = suffix == ["amazonaws", "com"] || suffix == ["amazonaws", "com", "cn"];
        (valid_region && valid_suffix).then(|| EcrRegistry {
            account_id: account_id.to_owned(),
            region: region.to_owned(),
        })
    }

    /// The registry host name for this account and Region (China Regions use `.amazonaws.com.cn`).
    pub fn host(&self) -> String {
        let suffix = if self.region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("{}.dkr.ecr.{}.{suffix}", self.account_id, self.region)
    }
}

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    registry: Option<String>,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl ImageRef {
    /// Parses `[registry/]repository[:tag][@digest]`.
    ///
    /// The first path component is a registry when it contains a `.` or a
    /// `:` or is `localhost`, as Docker decides.
    pub fn parse(reference: &str) -> Result<Self, ImageRefError> {
        let reference = reference.trim();
        if reference.is_empty() {
            return Err(ImageRefError::Empty);
        }
        let (name_and_tag, digest) = match reference.split_once('@') {
            Some((rest, digest)) => (rest, Some(Digest::parse(digest)?)),
            None => (reference, None),
        };
        let (registry, path) = match name_and_tag.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (Some(first), rest)
            }
            _ => (None, name_and_tag),
        };
        // A tag follows the last ':' after the last '/' (a ':' in the registry is a port).
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag)),
            _ => (path, None),
        };
        if let Some(registry) = registry
            && !valid_registry(registry)
        {
            return Err(ImageRefError::Registry {
                reference: reference.to_owned(),
                registry: registry.to_owned(),
            });
        }
        if !valid_repository(repository) {
            return Err(ImageRefError::Repository {
                reference: reference.to_owned(),
                repository: repository.to_owned(),
            });
        }
        if let Some(tag) = tag
            && !valid_tag(tag)
        {
            return Err(ImageRefError::Tag {
                reference: reference.to_owned(),
                tag: tag.to_owned(),
            });
        }
        Ok(ImageRef {
            registry: registry.map(str::to_owned),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// An image in an ECR registry, by repository name.
    pub fn ecr(registry: &EcrRegistry, repository: &str) -> Result<Self, ImageRefError> {
        ImageRef::parse(&format!("{}/{repository}", registry.host()))
    }

    /// The registry host, [`DEFAULT_REGISTRY`] when the reference names none.
    pub fn registry(&self) -> &str {
        self.registry.as_deref().unwrap_or(DEFAULT_REGISTRY)
    }

    /// The ECR registry, when the image lives in one.
    pub fn ecr_registry(&self) -> Option<EcrRegistry> {
        self.registry.as_deref().and_then(EcrRegistry::from_host)
    }

    /// The repository path, such as `team/backend`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// Whether this image is in `repository` of `registry` (ECR hosts compare
    /// by account and Region, so the FIPS host matches the plain one).
    pub fn is_in(&self, registry: &EcrRegistry, repository: &str) -> bool {
        self.repository == repository && self.ecr_registry().as_ref() == Some(registry)
    }

    /// The same image pinned to `digest`: `registry/repository@digest`, the
    /// tag dropped (ECS resolves a tag-plus-digest reference by digest only,
    /// and a tag there would only mislead readers).
    pub fn pinned(&self, digest: &Digest) -> ImageRef {
        ImageRef {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: None,
            digest: Some(digest.clone()),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ImageRef {
    type Err = ImageRefError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

fn valid_registry(registry: &str) -> bool {
    let (host, port) = match registry.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// Path components: `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn valid_repository(repository: &str) -> bool {
    !repository.is_empty()
        && repository.len() <= 256
        && repository.split('/').all(|component| {
            let bytes = component.as_bytes();
            let mut previous_separator: Option<u8> = None;
            let mut separator_run = 0;
            if bytes.is_empty()
                || !is_alnum_lower(bytes[0])
                || !is_alnum_lower(bytes[bytes.len() - 1])
            {
                return false;
            }
            for &b in bytes {
                if is_alnum_lower(b) {
                    previous_separator = None;
                    separator_run = 0;
                    continue;
                }
                match (b, previous_separator) {
                    (b'.', None) => {}
                    (b'_', None) => {}
                    (b'_', Some(b'_')) if separator_run == 1 => {}
                    (b'-', None | Some(b'-')) => {}
                    _ => return false,
                }
                previous_separator = Some(b);
                separator_run += 1;
            }
            true
        })
}

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:f98d67af8e53a536502bfc600de3266556b06ed635a32d60aa7a5fe6d7e609d7";
    const ECR: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

    #[test]
    fn parses_the_reference_forms() {
        // (input, registry, repository, tag, digest)
        let cases: &[(&str, &str, &str, Option<&str>, bool)] = &[
            ("nginx", "docker.io", "nginx", None, false),
            ("nginx:1.27", "docker.io", "nginx", Some("1.27"), false),
            (
                "library/redis:7-alpine",
                "docker.io",
                "library/redis",
                Some("7-alpine"),
                false,
            ),
            (
                "public.ecr.aws/docker/library/redis:7",
                "public.ecr.aws",
                "docker/library/redis",
                Some("7"),
                false,
            ),
            ("ghcr.io/org/app@SHA", "ghcr.io", "org/app", None, true),
            (
                "localhost:5000/app:dev",
                "localhost:5000",
                "app",
                Some("dev"),
                false,
            ),
            ("localhost/app", "localhost", "app", None, false),
            ("ECR/backend:latest", ECR, "backend", Some("latest"), false),
            ("ECR/team/backend@SHA", ECR, "team/backend", None, true),
            (
                "ECR/team/backend:v1.4.2@SHA",
                ECR,
                "team/backend",
                Some("v1.4.2"),
                true,
            ),
            (
                "registry.example.com:443/a/b/c:tag_1",
                "registry.example.com:443",
                "a/b/c",
                Some("tag_1"),
                false,
            ),
            (
                "my-app__v2/api-server:0",
                "docker.io",
                "my-app__v2/api-server",
                Some("0"),
                false,
            ),
        ];
        for &(input, registry, repository, tag, has_digest) in cases {
            let input = input.replace("SHA", SHA).replace("ECR", ECR);
            let image = ImageRef::parse(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(image.registry(), registry, "{input}");
            assert_eq!(image.repository(), repository, "{input}");
            assert_eq!(image.tag(), tag, "{input}");
            assert_eq!(
                image.digest().map(Digest::as_str),
                has_digest.then_some(SHA),
                "{input}"
            );
            assert_eq!(image.to_string(), input, "round trip");
        }
    }

    #[test]
    fn rejects_malformed_references() {
        type IsExpected = fn(&ImageRefError) -> bool;
        let cases: &[(&str, IsExpected)] = &[
            ("", |e| matches!(e, ImageRefError::Empty)),
            ("   ", |e| matches!(e, ImageRefError::Empty)),
            ("Backend", |e| matches!(e, ImageRefError::Repository { .. })),
            ("app//api", |e| {
                matches!(e, ImageRefError::Repository { .. })
            }),
            ("app/-api", |e| {
                matches!(e, ImageRefError::Repository { .. })
            }),
            ("app/api.", |e| {
                matches!(e, ImageRefError::Repository { .. })
            }),
            ("app/a..b", |e| {
                matches!(e, ImageRefError::Repository { .. })
            }),
            ("app/a___b", |e| {
                matches!(e, ImageRefError::Repository { .. })
            }),
            ("example.com/", |e| {
                matches!(e, ImageRefError::Repository { .. })
            }),
            ("app:", |e| matches!(e, ImageRefError::Tag { .. })),
            ("app:.hidden", |e| matches!(e, ImageRefError::Tag { .. })),
            ("app:-x", |e| matches!(e, ImageRefError::Tag { .. })),
            ("app:a+b", |e| matches!(e, ImageRefError::Tag { .. })),
            ("exa_mple.com/app", |e| {
                matches!(e, ImageRefError::Registry { .. })
            }),
            ("example.com:port/app", |e| {
                matches!(e, ImageRefError::Registry { .. })
            }),
            ("-bad.com/app", |e| {
                matches!(e, ImageRefError::Registry { .. })
            }),
            ("app@sha256:abc", |e| {
                matches!(e, ImageRefError::Digest { .. })
            }),
            ("app@latest", |e| matches!(e, ImageRefError::Digest { .. })),
        ];
        for &(input, is_expected) in cases {
            let error = ImageRef::parse(input).expect_err(input);
            assert!(is_expected(&error), "{input}: got {error:?}");
            assert_eq!(error.kind(), ErrorKind::InvalidInput);
        }
        let long_tag = format!("app:{}", "a".repeat(129));
        assert!(matches!(
            ImageRef::parse(&long_tag),
            Err(ImageRefError::Tag { .. })
        ));
        assert!(ImageRef::parse(&format!("app:{}", "a".repeat(128))).is_ok());
    }

    #[test]
    fn digests() {
        let cases = [
            (SHA, true),
            (
                "sha256:F98D67AF8E53A536502BFC600DE3266556B06ED635A32D60AA7A5FE6D7E609D7",
                false,
            ),
            // The AWS documentation's sample push event has a 60-digit digest.
            (
                "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234",
                false,
            ),
            ("sha256:", false),
            (":abc", false),
            ("sha256", false),
            (&format!("sha512:{}", "0a".repeat(64)), true),
            ("sha512:0a", false),
            (
                "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
                true,
            ),
            ("Sha256:abc", false),
        ];
        for (input, ok) in cases {
            assert_eq!(Digest::parse(input).is_ok(), ok, "{input}");
        }
    }

    #[test]
    fn ecr_hosts() {
        let cases = [
            (ECR, Some(("123456789012", "eu-west-1"))),
            (
                "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
                Some(("123456789012", "us-east-1")),
            ),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
                Some(("123456789012", "cn-north-1")),
            ),
            ("12345678901.dkr.ecr.eu-west-1.amazonaws.com", None),
            ("123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.io", None),
            ("123456789012.dkr.ecr.eu-west-1.example.com", None),
            ("public.ecr.aws", None),
            ("docker.io", None),
        ];
        for (host, expected) in cases {
            let got = EcrRegistry::from_host(host);
            assert_eq!(
                got.as_ref()
                    .map(|r| (r.account_id.as_str(), r.region.as_str())),
                expected,
                "{host}"
            );
        }
        let cn = EcrRegistry {
            account_id: "123456789012".into(),
            region: "cn-north-1".into(),
        };
        assert_eq!(
            cn.host(),
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"
        );
    }

    #[test]
    fn membership_is_by_registry_and_repository() {
        let registry = EcrRegistry::from_host(ECR).unwrap();
        let cases = [
            (format!("{ECR}/backend:latest"), "backend", true),
            (format!("{ECR}/backend@{SHA}"), "backend", true),
            (
                "123456789012.dkr.ecr-fips.eu-west-1.amazonaws.com/backend:1".to_owned(),
                "backend",
                true,
            ),
            (format!("{ECR}/backend-worker:latest"), "backend", false),
            (format!("{ECR}/team/backend:latest"), "backend", false),
            (
                "210987654321.dkr.ecr.eu-west-1.amazonaws.com/backend:1".to_owned(),
                "backend",
                false,
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/backend:1".to_owned(),
                "backend",
                false,
            ),
            ("backend:latest".to_owned(), "backend", false),
            ("redis:7".to_owned(), "backend", false),
        ];
        for (image, repository, expected) in cases {
            let image = ImageRef::parse(&image).unwrap();
            assert_eq!(image.is_in(&registry, repository), expected, "{image}");
        }
    }

    #[test]
    fn pinning_replaces_tag_and_digest() {
        let digest = Digest::parse(SHA).unwrap();
        let image = ImageRef::parse(&format!("{ECR}/backend:latest")).unwrap();
        assert_eq!(
            image.pinned(&digest).to_string(),
            format!("{ECR}/backend@{SHA}")
        );
        let registry = EcrRegistry::from_host(ECR).unwrap();
        assert_eq!(
            ImageRef::ecr(&registry, "team/api")
                .unwrap()
                .pinned(&digest)
                .to_string(),
            format!("{ECR}/team/api@{SHA}")
        );
    }
}
