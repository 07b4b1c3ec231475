//! Valid events, payloads and configurations, generated, each with its
//! fields and the values out of their range: what the property tests of
//! the parsers start from before breaking one field (see `json.rs`).
//!
//! Used by `shared/tests/properties.rs` and by each function's
//! `tests/bad_input.rs`.

use autopilot_shared::image::EcrRegistry;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use crate::json::{Field, Kind};

/// A repository path component: `[a-z0-9]+` joined by `.`, `_`, `__` or `-`s.
pub fn component(dots: bool) -> impl Strategy<Value = String> {
    let pattern = if dots {
        "[a-z0-9]{1,6}(([._]|__|-{1,3})[a-z0-9]{1,6}){0,2}"
    } else {
        "[a-z0-9]{1,6}((_|__|-{1,3})[a-z0-9]{1,6}){0,2}"
    };
    pattern.prop_filter("localhost is a registry", |c| c != "localhost")
}

/// An ECR registry: a 12-digit account and a region.
pub fn ecr_registry() -> impl Strategy<Value = EcrRegistry> {
    ("[0-9]{12}", "(us|eu|ap|cn|sa)-[a-z]{4,9}-[1-9]")
        .prop_map(|(account_id, region)| EcrRegistry { account_id, region })
}

/// An image tag.
pub fn tag() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_][A-Za-z0-9_.-]{0,40}"
}

/// A digest: sha256, sha512, or another algorithm.
pub fn digest() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-f]{64}".prop_map(|hex| format!("sha256:{hex}")),
        "[0-9a-f]{128}".prop_map(|hex| format!("sha512:{hex}")),
        (
            "[a-z0-9]{1,6}([+._-][a-z0-9]{1,6}){0,2}",
            "[a-zA-Z0-9=_-]{32,48}"
        )
            .prop_filter("sha256 and sha512 have fixed lengths", |(algorithm, _)| {
                algorithm != "sha256" && algorithm != "sha512"
            })
            .prop_map(|(algorithm, encoded)| format!("{algorithm}:{encoded}")),
    ]
}

/// Keys the check configuration knows, for arbitrary documents.
pub const CHECK_KEYS: &[&str] = &[
    "kind",
    "name",
    "timeoutSeconds",
    "checks",
    "bakeSeconds",
    "bakeIntervalSeconds",
    "listener",
    "url",
    "path",
    "method",
    "headers",
    "status",
    "jsonPointer",
    "equals",
    "attempts",
    "intervalMs",
    "names",
    "namePrefix",
    "namespace",
    "metricName",
    "comparison",
    "threshold",
    "stat",
    "periodSeconds",
    "windowSeconds",
    "dimensions",
    "severity",
    "requiredSecrets",
];

/// Puts the optional fields that are `Some` into `object`.
pub fn with_optional(mut object: Value, fields: Vec<(&str, Option<Value>)>) -> Value {
    for (key, value) in fields {
        if let Some(value) = value {
            object[key] = value;
        }
    }
    object
}

/// `Some` of `strategy`, or `None`.
pub fn opt<T: std::fmt::Debug + Clone>(
    strategy: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    proptest::option::of(strategy)
}

/// The fields every kind shares.
pub fn common_fields() -> Vec<Field> {
    vec![
        Field::new(
            "name",
            "name",
            Kind::Str,
            false,
            vec![json!(""), json!("  "), json!("n".repeat(101))],
        ),
        Field::new(
            "timeoutSeconds",
            "timeoutSeconds",
            Kind::Num,
            false,
            vec![json!(0), json!(-1), json!(900.5)],
        ),
        // A typo is an unknown field, named.
        Field::new("treshold", "treshold", Kind::Int, false, vec![json!(1)]),
    ]
}

/// A valid check of any kind, and its fields with their bad values; http
/// checks by `url` only when `urls` (a function under test must never send
/// a request anywhere).
pub fn check(urls: bool) -> impl Strategy<Value = (Value, Vec<Field>)> {
    let common = (
        opt("[a-z][a-z0-9 -]{0,20}"),
        opt((1u32..=9000).prop_map(|t| f64::from(t) / 10.0)),
    );
    let http = (
        select(vec!["test", "production"]),
        opt("/[a-z0-9/._-]{0,16}"),
        opt(select(vec![
            "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
        ])),
        opt(100u16..=599),
        opt(1u32..=100),
        opt(0u64..=600_000),
        opt(1u64..=60_000),
        opt(proptest::collection::btree_map(
            "X-[A-Za-z]{1,8}",
            "[ -~]{0,12}",
            0..3,
        )),
    )
        .prop_map(
            |(listener, path, method, status, attempts, interval, latency, headers)| {
                let check = with_optional(
                    json!({"kind": "http", "listener": listener}),
                    vec![
                        ("path", path.map(Value::from)),
                        ("method", method.map(Value::from)),
                        ("status", status.map(Value::from)),
                        ("attempts", attempts.map(Value::from)),
                        ("intervalMs", interval.map(Value::from)),
                        ("maxLatencyMs", latency.map(Value::from)),
                        ("headers", headers.map(|h| json!(h))),
                    ],
                );
                let fields = vec![
                    Field::new("listener", "listener", Kind::Str, true, vec![json!("blue")]),
                    Field::new(
                        "path",
                        "path",
                        Kind::Str,
                        false,
                        vec![json!("health"), json!("")],
                    ),
                    Field::new(
                        "method",
                        "method",
                        Kind::Str,
                        false,
                        vec![json!("get"), json!("TRACE")],
                    ),
                    Field::new(
                        "status",
                        "status",
                        Kind::Int,
                        false,
                        vec![json!(99), json!(600), json!(70_000)],
                    ),
                    Field::new(
                        "attempts",
                        "attempts",
                        Kind::Int,
                        false,
                        vec![json!(0), json!(101), json!(-1)],
                    ),
                    Field::new(
                        "intervalMs",
                        "intervalMs",
                        Kind::Int,
                        false,
                        vec![json!(600_001)],
                    ),
                    Field::new(
                        "maxLatencyMs",
                        "maxLatencyMs",
                        Kind::Int,
                        false,
                        vec![json!(0)],
                    ),
                    Field::new(
                        "headers",
                        "headers",
                        Kind::Obj,
                        false,
                        vec![json!({"bad name": "x"}), json!({"X-A": "a\nb"})],
                    ),
                ];
                (check, fields)
            },
        );
    let http_url =
        ("(http|https)://[a-z]{1,8}\\.example(:[1-9][0-9]{0,3})?/[a-z]{0,8}").prop_map(|url| {
            let check = json!({"kind": "http", "url": url});
            let fields = vec![
                Field::new(
                    "url",
                    "url",
                    Kind::Str,
                    true,
                    vec![
                        json!("ftp://x.example/"),
                        json!("not a url"),
                        json!("http://"),
                    ],
                ),
                Field::new("path", "path", Kind::Str, false, vec![json!("/health")]),
            ];
            (check, fields)
        });
    let target_health = (
        opt(select(vec!["replacement", "original"])),
        opt(0u32..=1000),
        opt(1u32..=100),
        opt(0u64..=600_000),
    )
        .prop_map(|(group, min, attempts, interval)| {
            let check = with_optional(
                json!({"kind": "target-health"}),
                vec![
                    ("targetGroup", group.map(Value::from)),
                    ("minHealthy", min.map(Value::from)),
                    ("attempts", attempts.map(Value::from)),
                    ("intervalMs", interval.map(Value::from)),
                ],
            );
            let fields = vec![
                Field::new(
                    "targetGroup",
                    "targetGroup",
                    Kind::Str,
                    false,
                    vec![json!("blue")],
                ),
                Field::new(
                    "minHealthy",
                    "minHealthy",
                    Kind::Int,
                    false,
                    vec![json!(1001), json!(-1)],
                ),
                Field::new(
                    "attempts",
                    "attempts",
                    Kind::Int,
                    false,
                    vec![json!(0), json!(101)],
                ),
                Field::new(
                    "intervalMs",
                    "intervalMs",
                    Kind::Int,
                    false,
                    vec![json!(600_001)],
                ),
            ];
            (check, fields)
        });
    let alarms = (
        proptest::collection::vec("[A-Za-z0-9_./-]{1,20}", 0..4),
        opt("[A-Za-z0-9_-]{1,10}"),
    )
        .prop_filter("names and/or a prefix", |(names, prefix)| {
            !names.is_empty() || prefix.is_some()
        })
        .prop_map(|(names, prefix)| {
            let mut check = json!({"kind": "alarms"});
            if !names.is_empty() {
                check["names"] = json!(names);
            }
            let check = with_optional(check, vec![("namePrefix", prefix.map(Value::from))]);
            let fields = vec![
                // Removing the only one of names and namePrefix names both.
                Field::new(
                    "names",
                    "names",
                    Kind::Arr,
                    false,
                    vec![json!([""]), json!([" "]), json!(["a".repeat(256)])],
                ),
                Field::new(
                    "namePrefix",
                    "namePrefix",
                    Kind::Str,
                    false,
                    vec![json!(""), json!("a".repeat(256))],
                ),
            ];
            (check, fields)
        });
    let metric = (
        "[A-Za-z0-9/_]{1,20}",
        "[A-Za-z0-9_]{1,20}",
        select(vec!["<", "<=", ">", ">="]),
        (-1e9f64..1e9),
        opt(select(vec![
            "SampleCount",
            "Average",
            "Sum",
            "Minimum",
            "Maximum",
            "IQM",
            "p99",
            "p99.9",
            "tm90",
            "wm(10%:90%)",
        ])),
        opt((select(vec![1u32, 5, 10, 30, 60, 300, 3600]), 1u32..=20)),
        opt(proptest::collection::btree_map(
            "[A-Za-z]{1,10}",
            prop_oneof![
                "[a-z0-9/-]{1,20}",
                select(vec![
                    "{replacementTargetGroup}",
                    "{originalTargetGroup}",
                    "{loadBalancer}"
                ])
                .prop_map(str::to_owned),
            ],
            1..4,
        )),
        opt(select(vec!["pass", "fail"])),
    )
        .prop_map(
            |(namespace, metric_name, comparison, threshold, stat, period, dimensions, missing)| {
                let (period, window) = match period {
                    Some((period, n)) => (Some(period), Some(period * n)),
                    // The defaults (60 and 300) fit together.
                    None => (None, None),
                };
                let check = with_optional(
                    json!({
                        "kind": "metric",
                        "namespace": namespace,
                        "metricName": metric_name,
                        "comparison": comparison,
                        "threshold": threshold,
                    }),
                    vec![
                        ("stat", stat.map(Value::from)),
                        ("periodSeconds", period.map(Value::from)),
                        ("windowSeconds", window.map(Value::from)),
                        ("dimensions", dimensions.map(|d| json!(d))),
                        ("missingData", missing.map(Value::from)),
                    ],
                );
                let fields = vec![
                    Field::new(
                        "namespace",
                        "namespace",
                        Kind::Str,
                        true,
                        vec![json!(""), json!("n".repeat(256))],
                    ),
                    Field::new(
                        "metricName",
                        "metricName",
                        Kind::Str,
                        true,
                        vec![json!(" ")],
                    ),
                    Field::new(
                        "comparison",
                        "comparison",
                        Kind::Str,
                        true,
                        vec![json!("=="), json!("lt")],
                    ),
                    Field::new("threshold", "threshold", Kind::Num, true, vec![]),
                    Field::new(
                        "stat",
                        "stat",
                        Kind::Str,
                        false,
                        vec![json!("Mean"), json!("p101"), json!("p"), json!("p(1:2)")],
                    ),
                    // Without periodSeconds, the window is checked against the
                    // default period: the message names both.
                    Field::new(
                        "periodSeconds",
                        "periodSeconds",
                        Kind::Int,
                        false,
                        vec![json!(7), json!(90), json!(0), json!(172_800)],
                    ),
                    Field::new(
                        "windowSeconds",
                        "windowSeconds",
                        Kind::Int,
                        false,
                        vec![json!(700_000)],
                    ),
                    Field::new(
                        "dimensions",
                        "dimensions",
                        Kind::Obj,
                        false,
                        vec![
                            json!({"": "x"}),
                            json!({"TargetGroup": ""}),
                            json!({"TargetGroup": "{targetGroup}"}),
                        ],
                    ),
                    Field::new(
                        "missingData",
                        "missingData",
                        Kind::Str,
                        false,
                        vec![json!("ignore")],
                    ),
                ];
                (check, fields)
            },
        );
    let image_scan = opt(select(vec![
        "INFORMATIONAL",
        "LOW",
        "MEDIUM",
        "HIGH",
        "CRITICAL",
    ]))
    .prop_map(|severity| {
        let check = with_optional(
            json!({"kind": "image-scan"}),
            vec![("severity", severity.map(Value::from))],
        );
        let fields = vec![Field::new(
            "severity",
            "severity",
            Kind::Str,
            false,
            vec![json!("high"), json!("SEVERE")],
        )];
        (check, fields)
    });
    let task_definition = (
        opt(any::<bool>()),
        opt(any::<bool>()),
        proptest::collection::vec("[A-Z_]{1,12}", 0..3),
        opt(any::<bool>()),
    )
        .prop_map(|(digest, latest, secrets, health)| {
            let mut check = with_optional(
                json!({"kind": "task-definition"}),
                vec![
                    ("requireDigest", digest.map(Value::from)),
                    ("forbidLatest", latest.map(Value::from)),
                    ("essentialHealthChecks", health.map(Value::from)),
                ],
            );
            if !secrets.is_empty() {
                check["requiredSecrets"] = json!(secrets);
            }
            let fields = vec![
                Field::new("requireDigest", "requireDigest", Kind::Bool, false, vec![]),
                Field::new("forbidLatest", "forbidLatest", Kind::Bool, false, vec![]),
                Field::new(
                    "essentialHealthChecks",
                    "essentialHealthChecks",
                    Kind::Bool,
                    false,
                    vec![],
                ),
                Field::new(
                    "requiredSecrets",
                    "requiredSecrets",
                    Kind::Arr,
                    false,
                    vec![json!([""]), json!(["A", " "])],
                ),
            ];
            (check, fields)
        });
    let mut kinds = vec![
        http.boxed(),
        target_health.boxed(),
        alarms.boxed(),
        metric.boxed(),
        image_scan.boxed(),
        task_definition.boxed(),
    ];
    if urls {
        kinds.push(http_url.boxed());
    }
    let kind = proptest::strategy::Union::new(kinds);
    (kind, common).prop_map(|((check, mut fields), (name, timeout))| {
        let check = with_optional(
            check,
            vec![
                ("name", name.map(Value::from)),
                ("timeoutSeconds", timeout.map(Value::from)),
            ],
        );
        fields.extend(common_fields());
        fields.push(Field::new(
            "kind",
            "kind",
            Kind::Str,
            true,
            vec![json!("dns"), json!("HTTP")],
        ));
        (check, fields)
    })
}

/// Keys of a scaling payload, for arbitrary documents.
pub const SCALING_KEYS: &[&str] = &[
    "action",
    "services",
    "selector",
    "clusters",
    "tags",
    "min",
    "max",
    "desired",
    "source",
    "detail-type",
];

/// A valid payload, and its fields with their bad values.
pub fn scaling_payload() -> impl Strategy<Value = (Value, Vec<Field>)> {
    let action = prop_oneof![
        (0i64..1000, 0i64..1000, opt(0i64..1000)).prop_map(|(min, span, desired)| {
            let max = min + span;
            let mut payload = json!({"action": "set-capacity", "min": min, "max": max});
            if let Some(d) = desired {
                payload["desired"] = json!(min + d.min(span));
            }
            payload
        }),
        Just(json!({"action": "scale-to-zero"})),
        Just(json!({"action": "restore"})),
    ];
    let selection = prop_oneof![
        proptest::collection::vec(
            ("[A-Za-z0-9_-]{1,12}", "[A-Za-z0-9_-]{1,12}", any::<bool>()).prop_map(
                |(cluster, service, padded)| if padded {
                    format!(" {cluster} / {service} ")
                } else {
                    format!("{cluster}/{service}")
                }
            ),
            1..5
        )
        .prop_map(|services| json!({"services": services})),
        (
            opt(proptest::collection::vec("[a-z0-9-]{1,12}", 1..3)),
            opt(proptest::collection::btree_map(
                "[A-Za-z0-9:_-]{1,16}",
                "[ -~]{0,12}",
                1..3
            )),
        )
            .prop_filter("clusters and/or tags", |(c, t)| c.is_some() || t.is_some())
            .prop_map(|(clusters, tags)| {
                let mut selector = json!({});
                if let Some(clusters) = clusters {
                    selector["clusters"] = json!(clusters);
                }
                if let Some(tags) = tags {
                    selector["tags"] = json!(tags);
                }
                json!({"selector": selector})
            }),
    ];
    (action, selection).prop_map(|(mut payload, selection)| {
        for (key, value) in selection.as_object().unwrap() {
            payload[key] = value.clone();
        }
        let set_capacity = payload["action"] == "set-capacity";
        let min = payload["min"].as_i64().unwrap_or(0);
        let max = payload["max"].as_i64().unwrap_or(0);
        let by_services = payload.get("services").is_some();
        let mut fields = vec![
            Field::new(
                "action",
                "action",
                Kind::Str,
                true,
                vec![json!("scale-up"), json!("SET-CAPACITY"), json!("")],
            ),
            Field::new(
                "min",
                "min",
                Kind::Int,
                set_capacity,
                if set_capacity {
                    vec![json!(-1), json!(max + 1), json!(i64::from(i32::MAX) + 1)]
                } else {
                    vec![json!(0)]
                },
            ),
            Field::new(
                "max",
                "max",
                Kind::Int,
                set_capacity,
                if set_capacity {
                    // A max below min is reported on min.
                    vec![json!(-1), json!(u64::MAX)]
                } else {
                    vec![json!(3)]
                },
            ),
            Field::new(
                "desired",
                "desired",
                Kind::Int,
                false,
                if set_capacity {
                    let mut bad = vec![json!(-1), json!(max + 1)];
                    if min > 0 {
                        bad.push(json!(min - 1));
                    }
                    bad
                } else {
                    vec![json!(1)]
                },
            ),
            Field::new("mni", "mni", Kind::Int, false, vec![json!(1)]),
        ];
        if by_services {
            fields.extend([
                Field::new(
                    "services",
                    "services",
                    Kind::Arr,
                    true,
                    vec![
                        json!([]),
                        json!(["nocluster"]),
                        json!(["a/b/c"]),
                        json!(["/s"]),
                        json!([" /s"]),
                        json!(["c/ "]),
                        json!(["c/s", 7]),
                    ],
                ),
                Field::new(
                    "selector",
                    "selector",
                    Kind::Obj,
                    false,
                    vec![json!({"tags": {"a": "b"}})],
                ),
            ]);
        } else {
            fields.extend([
                Field::new(
                    "selector",
                    "selector",
                    Kind::Obj,
                    true,
                    vec![
                        json!({}),
                        json!({"clusters": [], "tags": {}}),
                        json!({"cluster": ["x"]}),
                    ],
                ),
                // Removing the only one of clusters and tags: "give clusters, tags or both".
                Field::new(
                    "selector.clusters",
                    "clusters",
                    Kind::Arr,
                    false,
                    vec![json!([""]), json!(["a", " "])],
                ),
                Field::new(
                    "selector.tags",
                    "tags",
                    Kind::Obj,
                    false,
                    vec![json!({"": "x"}), json!({" ": "x"})],
                ),
                Field::new(
                    "services",
                    "services",
                    Kind::Arr,
                    false,
                    vec![json!(["c/s"])],
                ),
            ]);
        }
        (payload, fields)
    })
}

/// Keys of an ECR image action event, for arbitrary documents.
pub const ECR_KEYS: &[&str] = &[
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
    "action-type",
    "result",
    "repository-name",
    "image-digest",
    "image-tag",
    "manifest-media-type",
    "artifact-media-type",
];

/// A valid ECR image action event, and its fields with their bad values.
pub fn ecr_event() -> impl Strategy<Value = (Value, Vec<Field>)> {
    (
        ecr_registry(),
        (
            2000u32..2100,
            1u32..=12,
            1u32..=28,
            0u32..24,
            0u32..60,
            0u32..60,
        ),
        select(vec!["PUSH", "DELETE"]),
        select(vec!["SUCCESS", "FAILURE"]),
        (
            component(false),
            proptest::collection::vec(component(true), 0..2),
        ),
        digest(),
        opt(tag()),
        opt(select(vec![
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        ])),
    )
        .prop_map(
            |(
                registry,
                (y, mo, d, h, mi, s),
                action,
                result,
                (first, rest),
                digest,
                tag,
                media,
            )| {
                let repository: Vec<String> = std::iter::once(first).chain(rest).collect();
                let mut detail = json!({
                    "action-type": action,
                    "result": result,
                    "repository-name": repository.join("/"),
                    "image-digest": digest,
                });
                if let Some(tag) = tag {
                    detail["image-tag"] = json!(tag);
                }
                if let Some(media) = media {
                    detail["manifest-media-type"] = json!(media);
                }
                let event = json!({
                    "version": "0",
                    "id": "13cde686-328b-6117-af20-0e5566167482",
                    "detail-type": "ECR Image Action",
                    "source": "aws.ecr",
                    "account": registry.account_id,
                    "time": format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
                    "region": registry.region,
                    "resources": [],
                    "detail": detail,
                });
                let string = |path: &str, required: bool| {
                    let name = path.rsplit('.').next().unwrap();
                    Field::new(path, name, Kind::Str, required, vec![])
                };
                let mut fields = vec![
                    string("version", false),
                    string("id", false),
                    string("detail-type", true),
                    string("source", true),
                    string("account", false),
                    Field::new(
                        "time",
                        "time",
                        Kind::Str,
                        false,
                        vec![json!("yesterday"), json!("2026-13-01T00:00:00Z"), json!("")],
                    ),
                    string("region", false),
                    Field::new("resources", "resources", Kind::Arr, false, vec![json!([1])]),
                    Field::new("detail", "detail", Kind::Obj, true, vec![]),
                    string("detail.action-type", true),
                    string("detail.result", true),
                    string("detail.repository-name", true),
                    string("detail.image-digest", true),
                    string("detail.image-tag", false),
                    string("detail.manifest-media-type", false),
                    string("detail.artifact-media-type", false),
                ];
                // The envelope parser checks types only.
                for field in &mut fields {
                    field.bad.retain(|v| !v.is_string() || field.name == "time");
                }
                (event, fields)
            },
        )
}

/// Keys of a CodeDeploy lifecycle hook event, for arbitrary documents.
pub const CODEDEPLOY_KEYS: &[&str] = &["DeploymentId", "LifecycleEventHookExecutionId"];

/// A valid CodeDeploy lifecycle hook event, and its fields with their bad values.
pub fn codedeploy_event() -> impl Strategy<Value = (Value, Vec<Field>)> {
    (
        "d-[A-Z0-9]{9}",
        "[A-Za-z0-9+/=]{1,80}",
        opt(("[A-Za-z]{1,10}", "[ -~]{0,10}")),
    )
        .prop_map(|(deployment, execution, extra)| {
            let mut event = json!({
                "DeploymentId": deployment,
                "LifecycleEventHookExecutionId": execution,
            });
            // Fields CodeDeploy may add are ignored.
            if let Some((key, value)) = extra
                && !CODEDEPLOY_KEYS.contains(&key.as_str())
            {
                event[key] = json!(value);
            }
            let blank = vec![json!(""), json!("  "), json!("\t\n")];
            let fields = vec![
                Field::new(
                    "DeploymentId",
                    "DeploymentId",
                    Kind::Str,
                    true,
                    blank.clone(),
                ),
                Field::new(
                    "LifecycleEventHookExecutionId",
                    "LifecycleEventHookExecutionId",
                    Kind::Str,
                    true,
                    blank,
                ),
            ];
            (event, fields)
        })
}

/// Keys of an ECS lifecycle hook event and its `hookDetails`, for arbitrary
/// documents (not `url`: a check by URL would send a request).
pub const ECS_HOOK_KEYS: &[&str] = &[
    "executionId",
    "lifecycleStage",
    "resourceArn",
    "executionDetails",
    "serviceArn",
    "targetServiceRevisionArn",
    "testTrafficWeights",
    "productionTrafficWeights",
    "hookDetails",
    "checks",
    "maxWaitSeconds",
    "callBackDelaySeconds",
    "healthPath",
    "alarmNames",
    "alarmPrefix",
    "progress",
    "verdict",
    "waitSeconds",
    "bakeSeconds",
    "kind",
    "stage",
    "startedAtMs",
    "invocations",
    "samples",
    "passingSinceMs",
];

/// The lifecycle stages ECS names.
pub const STAGES: [&str; 8] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
];

/// A valid stage plan (no check by URL), as JSON: an array of checks, or
/// an object with a wait and a bake.
pub fn stage_plan() -> impl Strategy<Value = Value> {
    (
        proptest::collection::vec(check(false), 0..3),
        opt(0u32..=600),
        opt(0u32..=600),
    )
        .prop_map(|(checks, wait, bake)| {
            let checks: Vec<Value> = checks
                .into_iter()
                .enumerate()
                .map(|(index, (mut check, _))| {
                    if let Some(name) = check.get("name").and_then(Value::as_str) {
                        check["name"] = json!(format!("{name} {index}"));
                    }
                    check
                })
                .collect();
            match (wait, bake) {
                (None, None) => Value::Array(checks),
                _ => with_optional(
                    json!({"checks": checks}),
                    vec![
                        ("waitSeconds", wait.map(Value::from)),
                        ("bakeSeconds", bake.map(Value::from)),
                    ],
                ),
            }
        })
}

/// A valid `hookDetails` configuration (no check by URL), as JSON.
pub fn hook_details() -> impl Strategy<Value = Value> {
    let checks = prop_oneof![
        stage_plan(),
        (select(STAGES.to_vec()), stage_plan()).prop_map(|(stage, plan)| json!({ stage: plan })),
    ];
    (
        opt(checks),
        opt(600u32..=1_209_600),
        opt(1u32..=3600),
        opt("/[a-z0-9/]{0,12}"),
        opt(proptest::collection::vec("[A-Za-z0-9_-]{1,12}", 0..3)),
        opt("[A-Za-z0-9_-]{1,10}"),
    )
        .prop_map(|(checks, max_wait, callback, path, names, prefix)| {
            with_optional(
                json!({}),
                vec![
                    ("checks", checks),
                    ("maxWaitSeconds", max_wait.map(Value::from)),
                    ("callBackDelaySeconds", callback.map(Value::from)),
                    ("healthPath", path.map(Value::from)),
                    ("alarmNames", names.map(|n| json!(n))),
                    ("alarmPrefix", prefix.map(Value::from)),
                ],
            )
        })
}

/// A valid ECS lifecycle hook event, and its fields with their bad values.
/// Its `hookDetails` is absent, `null`, the sample's, or generated, and may
/// carry the `progress` of an earlier invocation of the same execution, its
/// counters anywhere in their range.
pub fn ecs_hook_event() -> impl Strategy<Value = (Value, Vec<Field>)> {
    let details = prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        Just(Some(
            json!({"healthPath": "/ready", "callBackDelaySeconds": 15, "maxWaitSeconds": 900}),
        )),
        hook_details().prop_map(Some),
    ];
    let progress = opt((
        select(vec![0u64, 1_700_000_000_000, 4_000_000_000_000, u64::MAX]),
        select(vec![0u32, 1, 2, 1000, u32::MAX - 1, u32::MAX]),
        select(vec![0u32, 3, u32::MAX]),
        opt(select(vec![0u64, 1_700_000_000_000, u64::MAX])),
    ));
    (
        "[a-zA-Z0-9-]{1,36}",
        select(STAGES.to_vec()),
        any::<bool>(),
        details,
        progress,
    )
        .prop_map(|(execution_id, stage, weights, details, progress)| {
            let revision =
                |n: &str| format!("arn:aws:ecs:us-east-1:123456789012:service-revision/c/s/{n}");
            let mut event = json!({
                "executionId": execution_id,
                "lifecycleStage": stage,
                "resourceArn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/s/r9Lx3bWq",
                "executionDetails": {
                    "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/c/s",
                    "targetServiceRevisionArn": revision("2"),
                },
            });
            if weights {
                // ECS models weights as doubles: a canary step of 2.5%.
                event["executionDetails"]["testTrafficWeights"] =
                    json!({ revision("2"): 100.0, revision("1"): 0.0 });
                event["executionDetails"]["productionTrafficWeights"] =
                    json!({ revision("2"): 2.5, revision("1"): 97.5 });
            }
            let mut details = details;
            if let Some((started, invocations, samples, passing)) = progress {
                let mut state = json!({
                    "executionId": execution_id,
                    "stage": stage,
                    "startedAtMs": started,
                    "invocations": invocations,
                    "samples": samples,
                });
                if let Some(passing) = passing {
                    state["passingSinceMs"] = json!(passing);
                }
                let mut object = details
                    .filter(Value::is_object)
                    .unwrap_or_else(|| json!({}));
                object["progress"] = state;
                details = Some(object);
            }
            let has_progress = details
                .as_ref()
                .is_some_and(|d| d.get("progress").is_some());
            if let Some(details) = details {
                event["hookDetails"] = details;
            }
            // Percentages from 0 to 100, as numbers (2.5 and 5.0 are valid).
            let weights = vec![
                json!({"x": -1}),
                json!({"x": 100.5}),
                json!({"x": 4_294_967_296u64}),
                json!({"x": "5"}),
            ];
            let mut fields = vec![
                Field::new(
                    "executionId",
                    "executionId",
                    Kind::Str,
                    true,
                    vec![json!(""), json!(" ")],
                ),
                Field::new(
                    "lifecycleStage",
                    "lifecycleStage",
                    Kind::Str,
                    true,
                    vec![json!("SCALE_UP"), json!("post_scale_up"), json!("")],
                ),
                Field::new(
                    "resourceArn",
                    "resourceArn",
                    Kind::Str,
                    true,
                    vec![json!(" ")],
                ),
                Field::new(
                    "executionDetails",
                    "executionDetails",
                    Kind::Obj,
                    true,
                    vec![],
                ),
                Field::new(
                    "executionDetails.serviceArn",
                    "serviceArn",
                    Kind::Str,
                    true,
                    vec![],
                ),
                Field::new(
                    "executionDetails.targetServiceRevisionArn",
                    "targetServiceRevisionArn",
                    Kind::Str,
                    true,
                    vec![json!(""), json!("\t")],
                ),
                Field::new(
                    "executionDetails.testTrafficWeights",
                    "testTrafficWeights",
                    Kind::Obj,
                    false,
                    weights.clone(),
                ),
                Field::new(
                    "executionDetails.productionTrafficWeights",
                    "productionTrafficWeights",
                    Kind::Obj,
                    false,
                    weights,
                ),
                Field::new("hookDetails", "hookDetails", Kind::Obj, false, vec![]),
                Field::new(
                    "hookDetails.healthPath",
                    "hookDetails.healthPath",
                    Kind::Str,
                    false,
                    vec![json!("ready"), json!("")],
                ),
                Field::new(
                    "hookDetails.callBackDelaySeconds",
                    "hookDetails.callBackDelaySeconds",
                    Kind::Num,
                    false,
                    vec![json!(0), json!(3601), json!(-1)],
                ),
                Field::new(
                    "hookDetails.maxWaitSeconds",
                    "hookDetails.maxWaitSeconds",
                    Kind::Num,
                    false,
                    vec![json!(0), json!(1_209_601), json!(0.5)],
                ),
                Field::new(
                    "hookDetails.alarmNames",
                    "hookDetails.alarmNames",
                    Kind::Arr,
                    false,
                    vec![json!([1]), json!(["a", null])],
                ),
                Field::new(
                    "hookDetails.alarmPrefix",
                    "hookDetails.alarmPrefix",
                    Kind::Str,
                    false,
                    vec![],
                ),
                // An object is a plan per stage: a wrong one is named too.
                Field::new(
                    "hookDetails.checks",
                    "hookDetails.checks",
                    Kind::Arr,
                    false,
                    vec![
                        json!({"POST_SCALE_UPP": []}),
                        json!([{"kind": "nope"}]),
                        json!([{"kind": "metric"}]),
                        json!({"checks": [], "waitSeconds": -1}),
                        // Past ECS's maxWaitSeconds limit (14 days), so out of
                        // range whatever maxWaitSeconds the event carries.
                        json!({"checks": [], "waitSeconds": 1_209_601}),
                        json!({"checks": [], "bakeSeconds": 3601}),
                    ],
                ),
                Field::new(
                    "hookDetails.exampleKey",
                    "hookDetails.exampleKey",
                    Kind::Int,
                    false,
                    vec![json!(1)],
                ),
                Field::new(
                    "hookDetails.progress",
                    "hookDetails.progress",
                    Kind::Obj,
                    false,
                    vec![json!({"executionId": 3}), json!({"unknown": 1})],
                ),
            ];
            if has_progress {
                for (key, kind, bad) in [
                    ("executionId", Kind::Str, vec![]),
                    ("stage", Kind::Str, vec![]),
                    ("startedAtMs", Kind::Int, vec![json!(-1)]),
                    (
                        "invocations",
                        Kind::Int,
                        vec![json!(-1), json!(4_294_967_296u64)],
                    ),
                    ("samples", Kind::Int, vec![json!(-1)]),
                ] {
                    let required = key != "samples";
                    fields.push(Field::new(
                        &format!("hookDetails.progress.{key}"),
                        "hookDetails.progress",
                        kind,
                        required,
                        bad,
                    ));
                }
            }
            (event, fields)
        })
}
