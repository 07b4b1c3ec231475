//! Property tests of every parser of outside input in the shared crate:
//! image references, digests and ECR registries, the `autopilot:redeploy`
//! policy and versions, the check configuration, `RESOLVE` pins, the
//! scaling payload and the remembered-capacity tag, and the ECR image
//! action event.
//!
//! For each parser: no input makes it panic (arbitrary text, arbitrary
//! JSON); valid inputs, generated, parse to what they say and round-trip
//! through their `Display` or serialisation; a valid input with one field
//! removed, retyped or set out of range is rejected by an error that names
//! that field.

use std::net::IpAddr;

use autopilot_shared::capacity::{
    Action, REMEMBERED_CAPACITY_TAG, Remembered, ScalingRequest, Selection, Suspended,
    TargetCapacity,
};
use autopilot_shared::checks::resolve::Pins;
use autopilot_shared::checks::{CheckPlan, CheckSpec};
use autopilot_shared::events::{EcrImageEvent, parse_event};
use autopilot_shared::image::{DEFAULT_REGISTRY, Digest, EcrRegistry, ImageRef, ImageRefError};
use autopilot_shared::redeploy::policy::{Admission, Policy, REDEPLOY_TAG, parse_version};
use autopilot_test_support::events::{
    CHECK_KEYS, ECR_KEYS, SCALING_KEYS, check, component, digest, ecr_event, ecr_registry, opt,
    scaling_payload, tag,
};
use autopilot_test_support::json::{Change, Field, Kind, Mutant, any_json, any_string, mutant};
use autopilot_test_support::{cases, json};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::Config;
use serde_json::{Value, json};

/// Every property runs this many cases (`PROPTEST_CASES` overrides it, and
/// must ask for at least one: [`cases::config`] fails the property
/// otherwise, where proptest would pass it unrun): enough to find the bugs
/// these found, few enough for a debug build to run the whole file in
/// seconds.
fn cases(n: u32) -> Config {
    cases::config(n)
}

/// A run that asks for no case fails instead of passing every property.
#[test]
fn a_property_run_must_ask_for_at_least_one_case() {
    assert_eq!(cases::case_count(None, 256), Ok(256));
    assert_eq!(cases::case_count(Some("1000"), 256), Ok(1000));
    assert_eq!(cases::case_count(Some(" 1 "), 256), Ok(1));
    for asked in ["0", "-1", "", "many", "1.5"] {
        let error = cases::case_count(Some(asked), 256).unwrap_err();
        assert!(
            error.starts_with(&format!("PROPTEST_CASES={asked:?} ")),
            "{error}"
        );
    }
    assert!(
        cases::case_count(None, 0).is_err(),
        "nor may a test ask for none"
    );
    // The count this run uses (whatever PROPTEST_CASES says) runs a case.
    assert!(cases(256).cases >= cases::MIN_CASES);
}

// ---------------------------------------------------------------------------
// Image references
// ---------------------------------------------------------------------------

/// A registry host, with an optional port.
fn registry() -> impl Strategy<Value = String> {
    let label = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?";
    prop_oneof![
        Just("localhost".to_owned()),
        (1u32..=65535).prop_map(|port| format!("localhost:{port}")),
        (
            proptest::collection::vec(label, 2..4),
            proptest::option::of(0u32..=99999)
        )
            .prop_map(|(labels, port)| {
                let host = labels.join(".");
                match port {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                }
            }),
        ecr_registry().prop_map(|r| r.host()),
    ]
}

/// The parts of a valid reference.
#[derive(Debug, Clone)]
struct Parts {
    registry: Option<String>,
    repository: Vec<String>,
    tag: Option<String>,
    digest: Option<String>,
}

impl Parts {
    fn text(&self) -> String {
        let mut text = String::new();
        if let Some(registry) = &self.registry {
            text.push_str(registry);
            text.push('/');
        }
        text.push_str(&self.repository.join("/"));
        if let Some(tag) = &self.tag {
            text.push(':');
            text.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            text.push('@');
            text.push_str(digest);
        }
        text
    }
}

fn parts() -> impl Strategy<Value = Parts> {
    (
        proptest::option::of(registry()),
        // Without a registry, a first component with a dot would be taken for one.
        component(false),
        proptest::collection::vec(component(true), 0..3),
        proptest::option::of(tag()),
        proptest::option::of(digest()),
    )
        .prop_map(|(registry, first, rest, tag, digest)| Parts {
            registry,
            repository: std::iter::once(first).chain(rest).collect(),
            tag,
            digest,
        })
}

/// Which part a mutation breaks, and the error that must name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Registry,
    Repository,
    Tag,
    Digest,
}

fn broken_parts() -> impl Strategy<Value = (Parts, Part)> {
    let bad_tags = select(vec![
        "".to_owned(),
        ".hidden".to_owned(),
        "-dash".to_owned(),
        "a+b".to_owned(),
        "semi;colon".to_owned(),
        "é".to_owned(),
        "a".repeat(129),
    ]);
    let bad_digests = select(vec![
        "".to_owned(),
        "sha256".to_owned(),
        format!("sha256:{}", "a".repeat(63)),
        format!("sha256:{}", "A".repeat(64)),
        format!("sha256:{}", "g".repeat(64)),
        format!("sha512:{}", "0".repeat(64)),
        format!("SHA256:{}", "a".repeat(64)),
        "md5:abc".to_owned(),
        format!(":{}", "a".repeat(64)),
    ]);
    let bad_registries = select(vec![
        "bad_host.io".to_owned(),
        "host.io:80a".to_owned(),
        "host.io:123456".to_owned(),
        "-lead.io".to_owned(),
        "trail-.io".to_owned(),
        "a..io".to_owned(),
        "localhost:".to_owned(),
        ".io".to_owned(),
    ]);
    (
        parts(),
        0..4usize,
        bad_tags,
        bad_digests,
        bad_registries,
        0..4usize,
    )
        .prop_map(
            |(mut parts, which, bad_tag, bad_digest, bad_registry, how)| {
                let part = match which {
                    0 => {
                        parts.registry = Some(bad_registry);
                        Part::Registry
                    }
                    1 => {
                        let last = parts.repository.len() - 1;
                        let component = &mut parts.repository[last];
                        match how {
                            0 => *component = component.to_ascii_uppercase() + "X",
                            1 => component.push('-'),
                            2 => component.insert(0, '_'),
                            _ => component.push_str("___x"),
                        }
                        Part::Repository
                    }
                    2 => {
                        parts.tag = Some(bad_tag);
                        Part::Tag
                    }
                    _ => {
                        parts.digest = Some(bad_digest);
                        Part::Digest
                    }
                };
                (parts, part)
            },
        )
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn image_refs_never_panic_and_what_parses_round_trips(
        text in prop_oneof![any_string(), "[a-zA-Z0-9:/@._ +-]{0,60}"],
    ) {
        if let Ok(image) = ImageRef::parse(&text) {
            prop_assert_eq!(ImageRef::parse(&image.to_string()), Ok(image));
        }
        let _ = Digest::parse(&text);
        let _ = EcrRegistry::from_host(&text);
    }

    #[test]
    fn valid_image_refs_parse_to_their_parts_and_round_trip(parts in parts()) {
        let text = parts.text();
        let image = ImageRef::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(image.registry(), parts.registry.as_deref().unwrap_or(DEFAULT_REGISTRY));
        prop_assert_eq!(image.repository(), parts.repository.join("/"));
        prop_assert_eq!(image.tag(), parts.tag.as_deref());
        prop_assert_eq!(image.digest().map(Digest::as_str), parts.digest.as_deref());
        prop_assert_eq!(image.to_string(), text.clone());
        prop_assert_eq!(text.parse::<ImageRef>(), Ok(image));
    }

    #[test]
    fn a_broken_part_is_named_by_the_error((parts, part) in broken_parts()) {
        let text = parts.text();
        let error = ImageRef::parse(&text).expect_err(&text);
        let (matches, name) = match (&error, part) {
            (ImageRefError::Registry { .. }, Part::Registry) => (true, "invalid registry"),
            (ImageRefError::Repository { .. }, Part::Repository) => (true, "invalid repository"),
            (ImageRefError::Tag { .. }, Part::Tag) => (true, "invalid tag"),
            (ImageRefError::Digest { .. }, Part::Digest) => (true, "invalid digest"),
            _ => (false, ""),
        };
        prop_assert!(matches, "{text}: {part:?} broken, got {error:?}");
        prop_assert!(error.to_string().contains(name), "{error}");
    }

    #[test]
    fn valid_digests_parse_as_written(digest in digest()) {
        let parsed = Digest::parse(&digest).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.as_str(), digest.as_str());
        prop_assert_eq!(parsed.to_string(), digest);
    }

    #[test]
    fn ecr_registries_round_trip_through_their_host(
        registry in ecr_registry(),
        repository in component(true),
        fips in any::<bool>(),
    ) {
        prop_assert_eq!(EcrRegistry::from_host(&registry.host()), Some(registry.clone()));
        let fips_host = registry.host().replacen(".ecr.", ".ecr-fips.", 1);
        prop_assert_eq!(EcrRegistry::from_host(&fips_host), Some(registry.clone()));
        let host = if fips { fips_host } else { registry.host() };
        let image = ImageRef::parse(&format!("{host}/{repository}:latest")).unwrap();
        prop_assert!(image.is_in(&registry, &repository));
        let image = ImageRef::ecr(&registry, &repository).unwrap();
        prop_assert_eq!(image.ecr_registry(), Some(registry.clone()));
        // Not an ECR host: a shorter account, another suffix.
        let short = format!("{}.dkr.ecr.{}.amazonaws.com", &registry.account_id[1..], registry.region);
        prop_assert_eq!(EcrRegistry::from_host(&short), None);
        let evil = format!("{host}.evil.io");
        prop_assert_eq!(EcrRegistry::from_host(&evil), None);
    }
}

// ---------------------------------------------------------------------------
// The `autopilot:redeploy` policy and versions
// ---------------------------------------------------------------------------

fn version() -> impl Strategy<Value = (String, semver::Version)> {
    (
        0u64..1000,
        0u64..1000,
        0u64..1000,
        proptest::option::of("(alpha|beta|rc)(\\.[1-9][0-9]{0,2})?"),
        proptest::option::of("build\\.[0-9a-z]{1,6}"),
        select(vec!["", "v", "V"]),
    )
        .prop_map(|(major, minor, patch, pre, build, prefix)| {
            let mut text = format!("{major}.{minor}.{patch}");
            if let Some(pre) = pre {
                text = format!("{text}-{pre}");
            }
            if let Some(build) = build {
                text = format!("{text}+{build}");
            }
            let version = semver::Version::parse(&text).unwrap();
            (format!("{prefix}{text}"), version)
        })
}

fn policy() -> impl Strategy<Value = String> {
    prop_oneof![
        tag().prop_map(|t| format!("tag:{t}")),
        // `**` is only allowed as a whole path component.
        "[a-z0-9.-]{0,5}[*?]?[a-z0-9.-]{0,5}"
            .prop_filter("a pattern", |g| !g.is_empty())
            .prop_map(|g| format!("glob:{g}")),
        (select(vec!["", "^", "~", "=", ">=", "<", "*"]), version()).prop_map(|(op, (_, v))| {
            let core = semver::Version {
                build: semver::BuildMetadata::EMPTY,
                ..v
            };
            if op == "*" {
                "semver:*".to_owned()
            } else {
                format!("semver:{op}{core}")
            }
        }),
    ]
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn policies_never_panic_and_what_parses_round_trips(
        text in prop_oneof![any_string(), "(tag|glob|semver|regex)?:?[ -~]{0,20}"],
        pushed in proptest::option::of(any_string()),
    ) {
        if let Ok(policy) = Policy::parse(&text) {
            let again = Policy::parse(&policy.to_string());
            prop_assert_eq!(again.as_ref().map(ToString::to_string), Ok(policy.to_string()));
            let _ = policy.admits(pushed.as_deref(), &[]);
        }
        if let Some(version) = parse_version(&text) {
            prop_assert_eq!(parse_version(&version.to_string()), Some(version));
        }
    }

    #[test]
    fn valid_policies_parse_and_round_trip(text in policy()) {
        let policy = Policy::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let again = Policy::parse(&policy.to_string()).unwrap();
        prop_assert_eq!(&again, &policy);
        if let Some(tag) = text.strip_prefix("tag:") {
            prop_assert_eq!(policy.admits(Some(tag), &[]), Admission::Admit);
        }
    }

    #[test]
    fn malformed_policies_name_the_tag(
        text in prop_oneof![
            "[a-z]{1,8}",
            "(tag|glob|semver): *",
            "(regex|Tag|sem ver):[a-z]{1,5}",
            // Not x: `x` is semver's wildcard.
            "semver:[a-wyz]{2,6}",
            "glob:[a-z]*\\[[a-z]*",
        ],
    ) {
        let error = Policy::parse(&text).expect_err(&text);
        prop_assert!(error.to_string().contains(REDEPLOY_TAG), "{}", error);
    }

    #[test]
    fn versions_parse_with_an_optional_v((text, version) in version()) {
        prop_assert_eq!(parse_version(&text), Some(version.clone()));
        prop_assert_eq!(parse_version(&version.to_string()), Some(version));
    }
}

// ---------------------------------------------------------------------------
// The check configuration
// ---------------------------------------------------------------------------

/// A valid plan: an array of checks, or the object form with a bake.
fn plan() -> impl Strategy<Value = (Value, Vec<Field>)> {
    (
        proptest::collection::vec(check(true), 0..5),
        any::<bool>(),
        opt((0u32..=3600, opt(0u32..=3600))),
    )
        .prop_map(|(checks, object_form, bake)| {
            let mut fields = Vec::new();
            let mut values = Vec::new();
            for (index, (mut check, check_fields)) in checks.into_iter().enumerate() {
                // Explicit names must not collide.
                if let Some(name) = check.get("name").and_then(Value::as_str) {
                    check["name"] = json!(format!("{name} {index}"));
                }
                let prefix = if object_form {
                    format!("checks.{index}")
                } else {
                    index.to_string()
                };
                for mut field in check_fields {
                    // Checks are named CHECKS[i]; a missing field is named in the reason.
                    field.name = format!("CHECKS[{index}]\u{0}{}", field.name);
                    field.path = prefix
                        .split('.')
                        .map(str::to_owned)
                        .chain(field.path)
                        .collect();
                    fields.push(field);
                }
                values.push(check);
            }
            if !object_form {
                return (Value::Array(values), fields);
            }
            let mut plan = json!({"checks": values});
            if let Some((window, interval)) = bake {
                plan["bakeSeconds"] = json!(window);
                if let Some(interval) = interval {
                    plan["bakeIntervalSeconds"] = json!(interval);
                }
            }
            fields.extend([
                Field::new("checks", "CHECKS.checks", Kind::Arr, true, vec![]),
                Field::new(
                    "bakeSeconds",
                    "bakeSeconds",
                    Kind::Num,
                    false,
                    vec![json!(-1), json!(3600.5)],
                ),
                Field::new(
                    "bakeIntervalSeconds",
                    "CHECKS.bakeIntervalSeconds",
                    Kind::Num,
                    false,
                    vec![json!(-0.5), json!(3601)],
                ),
                Field::new("bake", "CHECKS.bake", Kind::Int, false, vec![json!(60)]),
            ]);
            (plan, fields)
        })
}

/// Whether `message` names `name`: `CHECKS[2]\0threshold` is named by
/// `CHECKS[2].threshold`, or by `CHECKS[2]` with `threshold` in the reason
/// (serde's "missing field `threshold`"; removing the only one of `names`
/// and `namePrefix` is reported on `names`, naming both).
fn names(message: &str, name: &str) -> bool {
    match name.split_once('\u{0}') {
        Some((check, field)) => message.contains(check) && message.contains(field),
        None => message.contains(name),
    }
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn check_configurations_never_panic(value in any_json(CHECK_KEYS)) {
        let text = value.to_string();
        if let Ok(plan) = CheckPlan::from_value("CHECKS", value.clone()) {
            let again = CheckPlan::from_value("CHECKS", serde_json::to_value(&plan.checks).unwrap());
            prop_assert_eq!(again.map(|p| p.checks), Ok(plan.checks));
        }
        let _ = CheckSpec::from_value(value);
        let _ = CheckPlan::parse("CHECKS", &text);
        let half: String = text.chars().take(text.chars().count() / 2).collect();
        let _ = CheckPlan::parse("CHECKS", &half);
    }

    #[test]
    fn valid_plans_parse_and_round_trip((value, _) in plan()) {
        let plan = CheckPlan::from_value("CHECKS", value.clone())
            .map_err(|e| TestCaseError::fail(format!("{value}: {e}")))?;
        let checks = value.get("checks").unwrap_or(&value).as_array().unwrap();
        prop_assert_eq!(plan.checks.len(), checks.len());
        for (spec, check) in plan.checks.iter().zip(checks) {
            prop_assert_eq!(Some(spec.kind()), check["kind"].as_str());
            let again = CheckSpec::from_value(serde_json::to_value(spec).unwrap());
            prop_assert_eq!(again.as_ref(), Ok(spec));
        }
        // As text, the same plan (serde_json's quick float parsing may put a
        // 17-digit threshold one ulp away from the value's, so compare with
        // the text's own value).
        let text = value.to_string();
        prop_assert_eq!(
            CheckPlan::parse("CHECKS", &text).map(|p| p.checks),
            CheckPlan::from_value("CHECKS", serde_json::from_str(&text).unwrap()).map(|p| p.checks)
        );
    }

    #[test]
    fn a_bad_check_field_is_named(
        mutant in plan()
            .prop_filter("a field to break", |(_, fields)| !fields.is_empty())
            .prop_flat_map(|(doc, fields)| mutant(doc, fields)),
    ) {
        let Mutant { doc, name, change, must_reject } = mutant;
        match CheckPlan::from_value("CHECKS", doc.clone()) {
            Ok(_) => prop_assert!(!must_reject, "{doc}: {change:?} of {name} accepted"),
            Err(error) => {
                let message = error.to_string();
                prop_assert!(names(&message, &name), "{doc}: {change:?} of {name}: {message}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// RESOLVE pins
// ---------------------------------------------------------------------------

fn pin() -> impl Strategy<Value = (String, String)> {
    (
        "[a-z0-9][a-z0-9._-]{0,15}",
        1u16..=65535,
        prop_oneof![
            any::<[u8; 4]>().prop_map(|b| IpAddr::from(b).to_string()),
            any::<[u16; 8]>().prop_map(|s| format!("[{}]", IpAddr::from(s))),
        ],
        opt(1u16..=65535),
    )
        .prop_map(|(host, port, address, connect)| {
            let entry = match connect {
                Some(connect) => format!("{host}:{port}:{address}:{connect}"),
                None => format!("{host}:{port}:{address}"),
            };
            (host, entry)
        })
}

fn pins() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(pin(), 0..5).prop_map(|pins| {
        // One pin per host.
        let mut hosts = std::collections::BTreeSet::new();
        pins.into_iter()
            .filter(|(host, _)| hosts.insert(host.clone()))
            .map(|(_, entry)| entry)
            .collect()
    })
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn pins_never_panic_and_what_parses_round_trips(
        text in prop_oneof![any_string(), "[a-z0-9.:\\[\\], ]{0,40}"],
    ) {
        if let Ok(pins) = Pins::parse(&text) {
            let shown: Vec<String> = pins.iter().map(ToString::to_string).collect();
            prop_assert_eq!(Pins::parse(&shown.join(",")), Ok(pins));
        }
    }

    #[test]
    fn valid_pins_parse_and_round_trip(entries in pins(), spaces in any::<bool>()) {
        let separator = if spaces { " , " } else { "," };
        let pins = Pins::parse(&entries.join(separator))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let shown: Vec<String> = pins.iter().map(ToString::to_string).collect();
        prop_assert_eq!(&shown, &entries);
        prop_assert_eq!(Pins::parse(&shown.join(",")), Ok(pins));
    }

    #[test]
    fn a_bad_pin_entry_is_named_by_its_index(
        entries in pins().prop_filter("an entry to break", |e| !e.is_empty()),
        pick in any::<prop::sample::Index>(),
        bad in select(vec![
            ("port", "h:0:1.2.3.4"),
            ("port", "h:65536:1.2.3.4"),
            ("port", "h:http:1.2.3.4"),
            ("port", "h:80:1.2.3.4:0"),
            ("address", "h:80:localhost"),
            ("address", "h:80:1.2.3"),
            ("address", "h:80:[::g]"),
            ("address", "h:80:::1"),
            ("host", "ho st:80:1.2.3.4"),
            ("host", ":80:1.2.3.4"),
            ("host", "h/x:80:1.2.3.4"),
        ]),
    ) {
        let mut entries = entries;
        let index = pick.index(entries.len());
        let (what, entry) = bad;
        // A unique host, so that only the broken part is wrong.
        entries[index] = entry.replacen('h', "broken-host", 1);
        let error = Pins::parse(&entries.join(",")).expect_err("a broken entry");
        prop_assert_eq!(error.index, index);
        let message = error.to_string();
        prop_assert!(message.starts_with(&format!("entry {index} ")), "{message}");
        prop_assert!(error.reason.contains(what), "{what}: {message}");
    }
}

// ---------------------------------------------------------------------------
// The scaling payload and the remembered-capacity tag
// ---------------------------------------------------------------------------

fn remembered() -> impl Strategy<Value = Remembered> {
    (
        0..=i32::MAX,
        opt((0..=i32::MAX, 0..=i32::MAX, any::<[bool; 3]>())),
    )
        .prop_map(|(desired, target)| Remembered {
            desired,
            target: target.map(|(a, b, [i, o, s])| TargetCapacity {
                min: a.min(b),
                max: a.max(b),
                suspended: Suspended {
                    dynamic_scaling_in: i,
                    dynamic_scaling_out: o,
                    scheduled_scaling: s,
                },
            }),
        })
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn scaling_payloads_never_panic_and_what_parses_round_trips(
        payload in prop_oneof![any_json(SCALING_KEYS), json::graft(json::sample_event("scheduled-scaling/dev-office-hours.json"), any_json(SCALING_KEYS))],
    ) {
        if let Ok(request) = ScalingRequest::parse(payload) {
            prop_assert_eq!(ScalingRequest::parse(request.to_json()), Ok(request));
        }
    }

    #[test]
    fn valid_scaling_payloads_parse_and_round_trip((payload, _) in scaling_payload()) {
        let request = ScalingRequest::parse(payload.clone())
            .map_err(|e| TestCaseError::fail(format!("{payload}: {e}")))?;
        prop_assert_eq!(request.action.name(), payload["action"].as_str().unwrap());
        if let Action::SetCapacity { min, max, desired } = request.action {
            prop_assert_eq!(i64::from(min), payload["min"].as_i64().unwrap());
            prop_assert_eq!(i64::from(max), payload["max"].as_i64().unwrap());
            prop_assert_eq!(desired.map(i64::from), payload.get("desired").and_then(Value::as_i64));
        }
        match &request.selection {
            Selection::Services(names) => {
                prop_assert!(!names.is_empty() && names.len() <= payload["services"].as_array().unwrap().len());
            }
            Selection::Selector(selector) => {
                prop_assert!(!selector.clusters.is_empty() || !selector.tags.is_empty());
            }
        }
        prop_assert_eq!(ScalingRequest::parse(request.to_json()), Ok(request));
    }

    #[test]
    fn a_bad_scaling_field_is_named(mutant in scaling_payload().prop_flat_map(|(doc, fields)| mutant(doc, fields))) {
        let Mutant { doc, name, change, must_reject } = mutant;
        match ScalingRequest::parse(doc.clone()) {
            Ok(_) => prop_assert!(!must_reject, "{doc}: {change:?} of {name} accepted"),
            Err(error) => {
                let message = error.to_string();
                prop_assert!(message.starts_with("malformed scheduled-scaling event: "), "{message}");
                prop_assert!(message.contains(&name), "{doc}: {change:?} of {name}: {message}");
            }
        }
    }

    #[test]
    fn remembered_capacity_never_panics_and_what_parses_round_trips(
        text in prop_oneof![
            any_string(),
            "v1( (min|max|desired|suspend|x)=[0-9a-z+-]{0,6}){0,5}",
        ],
    ) {
        if let Ok(remembered) = Remembered::parse(&text) {
            prop_assert_eq!(Remembered::parse(&remembered.encode()), Ok(remembered));
        }
    }

    #[test]
    fn remembered_capacity_round_trips(remembered in remembered(), shuffle in any::<prop::sample::Index>()) {
        let encoded = remembered.encode();
        prop_assert!(encoded.len() <= 256, "an ECS tag value holds 256 characters: {encoded}");
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b" =+.".contains(&b)), "{encoded}");
        prop_assert_eq!(Remembered::parse(&encoded), Ok(remembered));
        // The words after the version may come in any order.
        let mut words: Vec<&str> = encoded.split(' ').collect();
        let rest = &mut words[1..];
        let n = rest.len();
        rest.rotate_left(shuffle.index(n));
        prop_assert_eq!(Remembered::parse(&words.join("  ")), Ok(remembered));
    }

    #[test]
    fn a_bad_remembered_word_is_named(
        remembered in remembered(),
        bad in select(vec![
            ("desired", "drop desired"),
            ("desired", "desired=-1"),
            ("desired", "desired=1.5"),
            ("desired", "desired=2147483648"),
            ("desired", "twice desired"),
            ("min", "min=x"),
            ("min", "min=-3"),
            ("min", "min>max"),
            ("min and max", "drop max"),
            ("suspend", "suspend=bogus"),
            ("suspend", "suspend=in+in"),
            ("suspend", "suspend without range"),
            ("foo", "foo=1"),
            ("version", "v2"),
            ("key=value", "junk"),
        ]),
    ) {
        let (name, how) = bad;
        let encoded = remembered.encode();
        let mut words: Vec<String> = encoded.split(' ').map(str::to_owned).collect();
        let target = remembered.target;
        let applies = match how {
            "drop desired" => { words.retain(|w| !w.starts_with("desired=")); true }
            "twice desired" => { words.push("desired=1".into()); true }
            "min=x" | "min=-3" => { words.retain(|w| !w.starts_with("min=")); words.push(how.into()); true }
            "min>max" => match target {
                Some(t) if t.max < i32::MAX => {
                    words.retain(|w| !w.starts_with("min="));
                    words.push(format!("min={}", t.max + 1));
                    true
                }
                _ => false,
            },
            "drop max" => { words.retain(|w| !w.starts_with("max=")); target.is_some() }
            "suspend=bogus" | "suspend=in+in" => {
                words.retain(|w| !w.starts_with("suspend="));
                words.push(how.into());
                target.is_some()
            }
            "suspend without range" => { words.push("suspend=none".into()); target.is_none() }
            "v2" => { words[0] = "v2".into(); true }
            "junk" => { words.push("junk".into()); true }
            other => {
                let key = other.split('=').next().unwrap();
                words.retain(|w| !w.starts_with(&format!("{key}=")));
                words.push(other.into());
                true
            }
        };
        prop_assume!(applies);
        let text = words.join(" ");
        let error = Remembered::parse(&text).expect_err(&text);
        let message = error.to_string();
        prop_assert!(message.contains(REMEMBERED_CAPACITY_TAG), "{message}");
        prop_assert!(error.reason.contains(name), "{text}: {message}");
    }
}

// ---------------------------------------------------------------------------
// The ECR image action event
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn ecr_events_never_panic(
        value in prop_oneof![
            any_json(ECR_KEYS),
            json::graft(json::sample_event("redeploy-on-push/push-latest.json"), any_json(ECR_KEYS)),
        ],
    ) {
        if let Ok(event) = parse_event::<EcrImageEvent>("ECR image action", value) {
            let again = parse_event::<EcrImageEvent>("ECR image action", serde_json::to_value(&event).unwrap());
            prop_assert_eq!(again, Ok(event));
        }
    }

    #[test]
    fn valid_ecr_events_parse_and_round_trip((value, _) in ecr_event()) {
        let event: EcrImageEvent = parse_event("ECR image action", value.clone())
            .map_err(|e| TestCaseError::fail(format!("{value}: {e}")))?;
        prop_assert_eq!(event.detail.repository_name.as_str(), value["detail"]["repository-name"].as_str().unwrap());
        prop_assert_eq!(event.detail.image_tag.as_deref(), value["detail"].get("image-tag").and_then(Value::as_str));
        let again = parse_event::<EcrImageEvent>("ECR image action", serde_json::to_value(&event).unwrap());
        prop_assert_eq!(again, Ok(event));
    }

    #[test]
    fn a_bad_ecr_event_field_is_named(mutant in ecr_event().prop_flat_map(|(doc, fields)| mutant(doc, fields))) {
        let Mutant { doc, name, change, must_reject } = mutant;
        match parse_event::<EcrImageEvent>("ECR image action", doc.clone()) {
            Ok(_) => prop_assert!(!must_reject, "{doc}: {change:?} of {name} accepted"),
            Err(error) => {
                let message = error.to_string();
                prop_assert!(message.starts_with("malformed ECR image action event: "), "{message}");
                prop_assert!(message.contains(&name), "{doc}: {change:?} of {name}: {message}");
                if let Change::Removed = change {
                    prop_assert!(error.reason.contains(&format!("missing field `{name}`")), "{message}");
                }
            }
        }
    }
}

/// The sample events parse, and name no field they lack.
#[test]
fn sample_events_are_valid() {
    for name in [
        "redeploy-on-push/push-latest.json",
        "redeploy-on-push/push-semver.json",
        "redeploy-on-push/delete.json",
    ] {
        let event: EcrImageEvent = parse_event("ECR image action", json::sample_event(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            ImageRef::parse(&format!(
                "{}/{}@{}",
                EcrRegistry {
                    account_id: event.account.clone().unwrap(),
                    region: event.region.clone().unwrap()
                }
                .host(),
                event.detail.repository_name,
                event.detail.image_digest
            ))
            .is_ok()
        );
    }
    for name in [
        "business-hours.json",
        "dev-office-hours.json",
        "night.json",
        "restore.json",
        "scale-to-zero.json",
    ] {
        let payload = json::sample_event(&format!("scheduled-scaling/{name}"));
        ScalingRequest::parse(payload).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
