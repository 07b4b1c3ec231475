//! Strategies for the property tests of every parser of outside input:
//! arbitrary JSON documents, and valid documents with one field removed,
//! retyped or set to a value out of its range.
//!
//! Used by `shared/tests/properties.rs` and by each function's
//! `tests/bad_input.rs`, so that every parser is fed the same kinds of bad
//! input.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Strings that reach past a parser's first checks: the names and values
/// the events and configurations use, and the shapes that trip parsers
/// (blank, very long, non-ASCII, separators).
pub const INTERESTING_STRINGS: &[&str] = &[
    "",
    " ",
    "\t\n",
    "x",
    "latest",
    "PUSH",
    "DELETE",
    "SUCCESS",
    "FAILURE",
    "aws.ecr",
    "ECR Image Action",
    "123456789012",
    "us-east-1",
    "backend",
    "team/backend",
    "sha256:f98d67af8e53a536502bfc600de3266556b06ed635a32d60aa7a5fe6d7e609d7",
    "sha256:",
    "v1.2.3",
    "set-capacity",
    "scale-to-zero",
    "restore",
    "cluster/service",
    "a/b/c",
    "/",
    "POST_TEST_TRAFFIC_SHIFT",
    "POST_SCALE_UP",
    "RECONCILE_SERVICE",
    "http",
    "target-health",
    "alarms",
    "metric",
    "image-scan",
    "task-definition",
    "test",
    "production",
    "/health",
    "<",
    ">=",
    "tag:latest",
    "semver:^1.4",
    "glob:[a",
    "d-8Q1J2K3L4",
    "arn:aws:ecs:us-east-1:123456789012:service/c/s",
    "\u{0}",
    "\u{feff}é漢🦀",
    "%s%n{}[]\\\"",
    "-1",
    "1e400",
    "NaN",
];

/// Numbers at the edges of the parsers' integer and float ranges.
pub fn edge_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(0)),
        Just(json!(1)),
        Just(json!(-1)),
        Just(json!(i32::MAX)),
        Just(json!(i64::from(i32::MAX) + 1)),
        Just(json!(i64::MIN)),
        Just(json!(u64::MAX)),
        Just(json!(0.5)),
        Just(json!(-0.0)),
        Just(json!(1e300)),
        Just(json!(f64::MIN_POSITIVE)),
        any::<i64>().prop_map(Value::from),
        any::<u32>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
    ]
}

/// A string: one the parsers know, or arbitrary text.
pub fn any_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(INTERESTING_STRINGS).prop_map(str::to_owned),
        2 => "\\PC{0,24}",
        1 => "[ -~]{0,300}",
    ]
}

/// A JSON scalar.
pub fn any_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        edge_number(),
        any_string().prop_map(Value::String),
    ]
}

/// Any JSON document (nested up to four levels), whose object keys are
/// often one of `keys`, so that it reaches the fields a parser knows.
pub fn any_json(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        3 => proptest::sample::select(keys).prop_map(str::to_owned),
        1 => any_string(),
    ];
    any_scalar().prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// The JSON type a field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Str,
    /// An integer (a float is wrong too).
    Int,
    /// Any number.
    Num,
    /// `true` or `false`.
    Bool,
    /// An array.
    Arr,
    /// An object.
    Obj,
}

impl Kind {
    /// Values of every other type (never `null`, which an optional field takes as absent).
    fn wrong_values(self) -> Vec<Value> {
        let all = [
            (Kind::Str, json!("7")),
            (Kind::Int, json!(7)),
            (Kind::Num, json!(1.5)),
            (Kind::Bool, json!(true)),
            (Kind::Arr, json!([1, "x"])),
            (Kind::Obj, json!({"x": 1})),
        ];
        all.into_iter()
            .filter(|(kind, _)| match self {
                // An integer is a number; a float is not an integer, and is wrong for it.
                Kind::Num => !matches!(kind, Kind::Int | Kind::Num),
                other => *kind != other,
            })
            .map(|(_, value)| value)
            .collect()
    }
}

/// A field of a document, and what a parser must say about it.
#[derive(Debug, Clone)]
pub struct Field {
    /// Where it is (object keys; a number is an array index).
    pub path: Vec<String>,
    /// What a rejection's message must contain to name it.
    pub name: String,
    /// Its type.
    pub kind: Kind,
    /// Whether removing it must be rejected.
    pub required: bool,
    /// Values of the right type out of its range: each must be rejected.
    pub bad: Vec<Value>,
}

impl Field {
    /// A field at `path` (dot-separated), named by `name` in messages.
    pub fn new(path: &str, name: &str, kind: Kind, required: bool, bad: Vec<Value>) -> Self {
        Field {
            path: path.split('.').map(str::to_owned).collect(),
            name: name.to_owned(),
            kind,
            required,
            bad,
        }
    }
}

/// How a field was changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Removed.
    Removed,
    /// Given a value of another type.
    Retyped(Value),
    /// Given a value out of its range.
    OutOfRange(Value),
}

/// A valid document with one field changed.
#[derive(Debug, Clone)]
pub struct Mutant {
    /// The changed document.
    pub doc: Value,
    /// What the rejection must name.
    pub name: String,
    /// What was done.
    pub change: Change,
    /// Whether the parser must reject it (an optional field removed need not be).
    pub must_reject: bool,
}

/// `doc` with one of `fields` removed, retyped or set out of range. A
/// field's parents are created when absent.
pub fn mutant(doc: Value, fields: Vec<Field>) -> impl Strategy<Value = Mutant> {
    proptest::sample::select(fields).prop_flat_map(move |field| {
        let doc = doc.clone();
        let mut changes: Vec<Change> = vec![Change::Removed];
        changes.extend(field.kind.wrong_values().into_iter().map(Change::Retyped));
        changes.extend(field.bad.iter().cloned().map(Change::OutOfRange));
        proptest::sample::select(changes).prop_map(move |change| {
            let mut doc = doc.clone();
            let value = match &change {
                Change::Removed => None,
                Change::Retyped(value) | Change::OutOfRange(value) => Some(value.clone()),
            };
            set_path(&mut doc, &field.path, value);
            Mutant {
                doc,
                name: field.name.clone(),
                must_reject: change != Change::Removed || field.required,
                change,
            }
        })
    })
}

/// Sets (or, with `None`, removes) the value at `path`.
pub fn set_path(doc: &mut Value, path: &[String], value: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        if let Some(value) = value {
            *doc = value;
        }
        return;
    };
    let mut at = doc;
    for key in parents {
        // A field removed from a parent that is not there is not there.
        if value.is_none() && at.get(key.as_str()).is_none() && !at.is_array() {
            return;
        }
        if at.is_null() {
            *at = json!({});
        }
        at = match at {
            Value::Array(items) => match key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(item) => item,
                None => return,
            },
            Value::Object(object) => object.entry(key.clone()).or_insert_with(|| json!({})),
            _ => return,
        };
    }
    if at.is_null() && value.is_some() {
        *at = json!({});
    }
    match (at, value) {
        (Value::Object(object), Some(value)) => {
            object.insert(last.clone(), value);
        }
        (Value::Object(object), None) => {
            object.remove(last);
        }
        (Value::Array(items), value) => {
            if let Some(i) = last.parse::<usize>().ok().filter(|i| *i < items.len()) {
                match value {
                    Some(value) => items[i] = value,
                    None => {
                        items.remove(i);
                    }
                }
            }
        }
        _ => {}
    }
}

/// `doc` with the value at one of its paths replaced by `replacement`: a
/// valid document broken somewhere deep.
pub fn graft(
    doc: Value,
    replacement: impl Strategy<Value = Value>,
) -> impl Strategy<Value = Value> {
    let paths = all_paths(&doc);
    (proptest::sample::select(paths), replacement).prop_map(move |(path, value)| {
        let mut doc = doc.clone();
        set_path(&mut doc, &path, Some(value));
        doc
    })
}

/// Every path in `doc`, the root (empty) included.
pub fn all_paths(doc: &Value) -> Vec<Vec<String>> {
    let mut paths = vec![Vec::new()];
    let children: Vec<(String, &Value)> = match doc {
        Value::Object(object) => object.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    for (key, child) in children {
        for mut rest in all_paths(child) {
            rest.insert(0, key.clone());
            paths.push(rest);
        }
    }
    paths
}

/// The sample event `events/<name>` of the repository.
pub fn sample_event(name: &str) -> Value {
    // This crate sits at the repository's root, beside events/.
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}
