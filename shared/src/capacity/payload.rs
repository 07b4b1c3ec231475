//! The payload: what a schedule asks for, parsed once into a [`ScalingRequest`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::calendar::CalendarName;
use crate::events::{EventError, parse_event};

/// The event name used in payload errors.
const EVENT: &str = "scheduled-scaling";

/// What a schedule asks for, parsed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalingRequest {
    /// What to do.
    pub action: Action,
    /// To which services.
    pub selection: Selection,
    /// Change calendars that, while `CLOSED`, skip the action or replace it.
    pub calendar: Option<CalendarGate>,
    /// `accounts`: the workload accounts (12-digit IDs) to act in, each one
    /// of `TARGET_ROLE_ARNS`; empty: every target account (or the
    /// function's own, without targets).
    pub accounts: Vec<String>,
}

/// `calendar` and `whenClosed`: what a schedule does while a change
/// calendar is `CLOSED` (a public holiday, an event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarGate {
    /// The calendars (names or document ARNs); any one closed counts.
    pub calendars: Vec<CalendarName>,
    /// What to do while one is closed.
    pub when_closed: WhenClosed,
}

/// `whenClosed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenClosed {
    /// `"skip"` (the default): do nothing.
    Skip,
    /// `{"action": ..., "min": ..., ...}`: this action instead, on the same services.
    Apply(Action),
}

/// A schedule's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `set-capacity`: a range for the desired count, and optionally the count.
    SetCapacity {
        /// Lowest desired count (the scalable target's minimum).
        min: i32,
        /// Highest desired count (the scalable target's maximum).
        max: i32,
        /// The desired count to set now, within `[min, max]`.
        desired: Option<i32>,
    },
    /// `scale-to-zero`: remember the capacity, then bring the service to 0.
    ScaleToZero,
    /// `restore`: bring back exactly the remembered capacity, then forget it.
    Restore,
}

impl Action {
    /// The action's name in the payload.
    pub fn name(&self) -> &'static str {
        match self {
            Action::SetCapacity { .. } => "set-capacity",
            Action::ScaleToZero => "scale-to-zero",
            Action::Restore => "restore",
        }
    }
}

/// Which services a schedule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These services, each named `cluster/service` (deduplicated, sorted).
    Services(Vec<ServiceName>),
    /// Services found by cluster and tags.
    Selector(Selector),
}

/// A service named `cluster/service`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceName {
    /// The cluster's name.
    pub cluster: String,
    /// The service's name.
    pub service: String,
}

impl ServiceName {
    /// Parses `cluster/service`: exactly one `/`, neither side empty.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_once('/') {
            Some((cluster, service))
                if !cluster.trim().is_empty()
                    && !service.trim().is_empty()
                    && !service.contains('/') =>
            {
                Ok(ServiceName {
                    cluster: cluster.trim().to_owned(),
                    service: service.trim().to_owned(),
                })
            }
            _ => Err(format!(
                "expected a service named cluster/service, got {text:?}"
            )),
        }
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.cluster, self.service)
    }
}

/// Services selected by cluster and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Clusters to search (names or ARNs); empty means every cluster.
    pub clusters: Vec<String>,
    /// Tags a service must all carry, with these exact values.
    pub tags: BTreeMap<String, String>,
}

impl Selector {
    /// Whether a service carries every tag of the selector.
    pub fn matches(&self, tags: &BTreeMap<String, String>) -> bool {
        self.tags.iter().all(|(k, v)| tags.get(k) == Some(v))
    }
}

// The payload as written in a schedule, before validation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a scaling payload object")]
struct RawRequest {
    action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    services: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    selector: Option<RawSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    desired: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    calendar: Option<RawCalendars>,
    #[serde(
        default,
        rename = "whenClosed",
        skip_serializing_if = "Option::is_none"
    )]
    when_closed: Option<RawWhenClosed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    accounts: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged, expecting = "a calendar name or ARN, or a list of them")]
enum RawCalendars {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "\"skip\", or an action object such as {\"action\": \"set-capacity\", \"min\": 1, \"max\": 2}"
)]
enum RawWhenClosed {
    Word(String),
    Action(RawAction),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    desired: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a selector object with clusters and/or tags"
)]
struct RawSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    clusters: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<BTreeMap<String, String>>,
}

fn invalid(path: impl Into<String>, reason: impl Into<String>) -> EventError {
    EventError {
        event: EVENT,
        path: path.into(),
        reason: reason.into(),
    }
}

fn count(field: &str, value: Option<i64>) -> Result<Option<i32>, EventError> {
    match value {
        None => Ok(None),
        Some(n) if n < 0 => Err(invalid(field, format!("must not be negative, got {n}"))),
        Some(n) => i32::try_from(n)
            .map(Some)
            .map_err(|_| invalid(field, format!("is too large, got {n}"))),
    }
}

/// An action from its fields; error paths start with `prefix`
/// (`whenClosed.` for the replacement action).
fn parse_action(
    prefix: &str,
    name: &str,
    min: Option<i64>,
    max: Option<i64>,
    desired: Option<i64>,
) -> Result<Action, EventError> {
    let field = |f: &str| format!("{prefix}{f}");
    let min = count(&field("min"), min)?;
    let max = count(&field("max"), max)?;
    let desired = count(&field("desired"), desired)?;
    match name {
        "set-capacity" => {
            let min = min.ok_or_else(|| invalid(field("min"), "required by set-capacity"))?;
            let max = max.ok_or_else(|| invalid(field("max"), "required by set-capacity"))?;
            if min > max {
                return Err(invalid(
                    field("min"),
                    format!("must not be greater than max ({min} > {max})"),
                ));
            }
            if let Some(d) = desired
                && !(min..=max).contains(&d)
            {
                return Err(invalid(
                    field("desired"),
                    format!("must be between min ({min}) and max ({max}), got {d}"),
                ));
            }
            Ok(Action::SetCapacity { min, max, desired })
        }
        "scale-to-zero" | "restore" => {
            let what = if name == "restore" {
                "restore brings back the remembered capacity"
            } else {
                "scale-to-zero brings the service to 0"
            };
            for (f, value) in [("min", min), ("max", max), ("desired", desired)] {
                if value.is_some() {
                    return Err(invalid(field(f), format!("not allowed: {what}")));
                }
            }
            Ok(if name == "restore" {
                Action::Restore
            } else {
                Action::ScaleToZero
            })
        }
        other => Err(invalid(
            field("action"),
            format!(
                "unknown action {other:?}: expected one of set-capacity, scale-to-zero, restore"
            ),
        )),
    }
}

/// `calendar` and `whenClosed`, checked together.
fn calendar_gate(
    calendars: Option<RawCalendars>,
    when_closed: Option<RawWhenClosed>,
) -> Result<Option<CalendarGate>, EventError> {
    let Some(calendars) = calendars else {
        if when_closed.is_some() {
            return Err(invalid("whenClosed", "needs a calendar"));
        }
        return Ok(None);
    };
    let names = match calendars {
        RawCalendars::One(name) => vec![(String::from("calendar"), name)],
        RawCalendars::Many(names) => names
            .into_iter()
            .enumerate()
            .map(|(i, n)| (format!("calendar[{i}]"), n))
            .collect(),
    };
    if names.is_empty() {
        return Err(invalid("calendar", "must not be empty"));
    }
    let calendars = names
        .into_iter()
        .map(|(path, name)| CalendarName::parse(&name).map_err(|e| invalid(path, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let when_closed = match when_closed {
        None => WhenClosed::Skip,
        Some(RawWhenClosed::Word(word)) if word == "skip" => WhenClosed::Skip,
        Some(RawWhenClosed::Word(word)) => {
            return Err(invalid(
                "whenClosed",
                format!("unknown {word:?}: expected \"skip\" or an action object"),
            ));
        }
        Some(RawWhenClosed::Action(raw)) => WhenClosed::Apply(parse_action(
            "whenClosed.",
            &raw.action,
            raw.min,
            raw.max,
            raw.desired,
        )?),
    };
    Ok(Some(CalendarGate {
        calendars,
        when_closed,
    }))
}

fn raw_action(action: &Action) -> RawAction {
    let mut raw = RawAction {
        action: action.name().to_owned(),
        ..RawAction::default()
    };
    if let Action::SetCapacity { min, max, desired } = *action {
        raw.min = Some(min.into());
        raw.max = Some(max.into());
        raw.desired = desired.map(i64::from);
    }
    raw
}

impl ScalingRequest {
    /// Parses and validates a schedule's payload.
    ///
    /// Every error is `InvalidInput` and names the field: an unknown action,
    /// an unknown field (a typo such as `mni`), `min` greater than `max`, a
    /// negative count, `desired` outside `[min, max]`, both or neither of
    /// `services` and `selector`, an empty selector, a service not named
    /// `cluster/service`, a bad `calendar`, or a `whenClosed` without one
    /// (or with a bad action, named `whenClosed.min` and so on). An EventBridge "Scheduled Event" envelope (a rule
    /// or schedule without a constant `Input`) is rejected with a hint.
    pub fn parse(payload: Value) -> Result<Self, EventError> {
        if let Value::Object(fields) = &payload
            && !fields.contains_key("action")
        {
            let envelope = fields.contains_key("detail-type") || fields.contains_key("source");
            return Err(invalid(
                "action",
                if envelope {
                    "missing: this is an EventBridge event envelope, not a scaling payload; \
                     give the schedule (or rule) a constant Input such as \
                     {\"action\": \"scale-to-zero\", \"selector\": {\"tags\": {\"autopilot:schedule\": \"office-hours\"}}}"
                } else {
                    "missing: expected one of set-capacity, scale-to-zero, restore"
                },
            ));
        }
        let raw: RawRequest = parse_event(EVENT, payload)?;
        let action = parse_action("", &raw.action, raw.min, raw.max, raw.desired)?;
        let calendar = calendar_gate(raw.calendar, raw.when_closed)?;
        let selection = match (raw.services, raw.selector) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "services",
                    "give either services or selector, not both",
                ));
            }
            (None, None) => {
                return Err(invalid(
                    "services",
                    "no selection: give services (a list of cluster/service) or a selector (clusters and/or tags)",
                ));
            }
            (Some(services), None) => {
                if services.is_empty() {
                    return Err(invalid("services", "must not be empty"));
                }
                let mut names = BTreeSet::new();
                for (i, text) in services.iter().enumerate() {
                    let name = ServiceName::parse(text)
                        .map_err(|e| invalid(format!("services[{i}]"), e))?;
                    names.insert(name);
                }
                Selection::Services(names.into_iter().collect())
            }
            (None, Some(selector)) => {
                let clusters = selector.clusters.unwrap_or_default();
                let tags = selector.tags.unwrap_or_default();
                if clusters.is_empty() && tags.is_empty() {
                    return Err(invalid(
                        "selector",
                        "give clusters, tags or both: an empty selector would select every service of every cluster",
                    ));
                }
                for (i, cluster) in clusters.iter().enumerate() {
                    if cluster.trim().is_empty() {
                        return Err(invalid(
                            format!("selector.clusters[{i}]"),
                            "must not be empty",
                        ));
                    }
                }
                if tags.keys().any(|k| k.trim().is_empty()) {
                    return Err(invalid("selector.tags", "a tag key must not be empty"));
                }
                let clusters: BTreeSet<String> =
                    clusters.iter().map(|c| c.trim().to_owned()).collect();
                Selection::Selector(Selector {
                    clusters: clusters.into_iter().collect(),
                    tags,
                })
            }
        };
        let accounts = match raw.accounts {
            None => Vec::new(),
            Some(list) if list.is_empty() => {
                return Err(invalid(
                    "accounts",
                    "must not be empty: leave it out for every target account",
                ));
            }
            Some(list) => {
                let mut seen = BTreeSet::new();
                for (i, account) in list.iter().enumerate() {
                    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(invalid(
                            format!("accounts[{i}]"),
                            format!("{account:?} is not a 12-digit account ID"),
                        ));
                    }
                    if !seen.insert(account.clone()) {
                        return Err(invalid(format!("accounts[{i}]"), "listed twice"));
                    }
                }
                list
            }
        };
        Ok(ScalingRequest {
            action,
            selection,
            calendar,
            accounts,
        })
    }

    /// The request as a payload [`ScalingRequest::parse`] accepts.
    pub fn to_json(&self) -> Value {
        let mut raw = RawRequest {
            action: self.action.name().to_owned(),
            ..RawRequest::default()
        };
        if let Action::SetCapacity { min, max, desired } = self.action {
            raw.min = Some(min.into());
            raw.max = Some(max.into());
            raw.desired = desired.map(i64::from);
        }
        if !self.accounts.is_empty() {
            raw.accounts = Some(self.accounts.clone());
        }
        if let Some(gate) = &self.calendar {
            raw.calendar = Some(RawCalendars::Many(
                gate.calendars
                    .iter()
                    .map(|c| c.as_str().to_owned())
                    .collect(),
            ));
            raw.when_closed = Some(match &gate.when_closed {
                WhenClosed::Skip => RawWhenClosed::Word("skip".into()),
                WhenClosed::Apply(action) => RawWhenClosed::Action(raw_action(action)),
            });
        }
        match &self.selection {
            Selection::Services(names) => {
                raw.services = Some(names.iter().map(ToString::to_string).collect());
            }
            Selection::Selector(selector) => {
                raw.selector = Some(RawSelector {
                    clusters: (!selector.clusters.is_empty()).then(|| selector.clusters.clone()),
                    tags: (!selector.tags.is_empty()).then(|| selector.tags.clone()),
                });
            }
        }
        serde_json::to_value(raw).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    use crate::error::{Classify, ErrorKind};

    fn fixture(name: &str) -> Value {
        let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn sample_payloads_parse_and_round_trip() {
        for name in [
            "business-hours.json",
            "night.json",
            "dev-office-hours.json",
            "scale-to-zero.json",
            "restore.json",
            "morning-unless-holiday.json",
        ] {
            let parsed = ScalingRequest::parse(fixture(&format!("scheduled-scaling/{name}")))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let reparsed = ScalingRequest::parse(parsed.to_json()).unwrap();
            assert_eq!(parsed, reparsed, "{name}");
        }
        let business =
            ScalingRequest::parse(fixture("scheduled-scaling/business-hours.json")).unwrap();
        assert_eq!(
            business,
            ScalingRequest {
                action: Action::SetCapacity {
                    min: 5,
                    max: 10,
                    desired: None
                },
                selection: Selection::Services(vec![ServiceName {
                    cluster: "vahanhelp-production".into(),
                    service: "vahanhelp-backend-service".into(),
                }]),
                calendar: None,
                accounts: Vec::new(),
            }
        );
        let dev =
            ScalingRequest::parse(fixture("scheduled-scaling/dev-office-hours.json")).unwrap();
        assert_eq!(
            dev,
            ScalingRequest {
                action: Action::SetCapacity {
                    min: 1,
                    max: 2,
                    desired: Some(1)
                },
                selection: Selection::Selector(Selector {
                    clusters: vec!["dev".into()],
                    tags: [("autopilot:schedule".to_owned(), "office-hours".to_owned())].into(),
                }),
                calendar: None,
                accounts: Vec::new(),
            }
        );
        let zero = ScalingRequest::parse(fixture("scheduled-scaling/scale-to-zero.json")).unwrap();
        assert_eq!(zero.action, Action::ScaleToZero);
        assert!(matches!(zero.selection, Selection::Selector(ref s) if s.clusters.is_empty()));
    }

    #[test]
    fn calendars_skip_or_replace_the_action() {
        let morning =
            ScalingRequest::parse(fixture("scheduled-scaling/morning-unless-holiday.json"))
                .unwrap();
        let gate = morning.calendar.unwrap();
        assert_eq!(gate.calendars[0].as_str(), "public-holidays");
        assert_eq!(gate.when_closed, WhenClosed::Skip);
        let instead = ScalingRequest::parse(json!({
            "action": "scale-to-zero",
            "services": ["prod/api"],
            "calendar": ["launch-event", "arn:aws:ssm:eu-west-1:123456789012:document/sale"],
            "whenClosed": {"action": "set-capacity", "min": 1, "max": 2}
        }))
        .unwrap();
        let gate = instead.calendar.clone().unwrap();
        assert_eq!(gate.calendars.len(), 2);
        assert_eq!(
            gate.when_closed,
            WhenClosed::Apply(Action::SetCapacity {
                min: 1,
                max: 2,
                desired: None
            })
        );
        assert_eq!(ScalingRequest::parse(instead.to_json()).unwrap(), instead);

        let base = || json!({"action": "restore", "services": ["prod/api"]});
        let with = |extra: Value| {
            let mut payload = base();
            for (k, v) in extra.as_object().unwrap() {
                payload[k] = v.clone();
            }
            payload
        };
        let cases = [
            (
                json!({"whenClosed": "skip"}),
                "whenClosed",
                "needs a calendar",
            ),
            (json!({"calendar": "x"}), "calendar", "not a calendar name"),
            (json!({"calendar": []}), "calendar", "must not be empty"),
            (
                json!({"calendar": ["good-one", "a b"]}),
                "calendar[1]",
                "not a calendar name",
            ),
            (
                json!({"calendar": "holidays", "whenClosed": "wait"}),
                "whenClosed",
                "unknown \"wait\"",
            ),
            (
                json!({"calendar": "holidays", "whenClosed": {"action": "set-capacity", "min": 3, "max": 1}}),
                "whenClosed.min",
                "greater than max",
            ),
            (
                json!({"calendar": "holidays", "whenClosed": {"action": "restore", "desired": 1}}),
                "whenClosed.desired",
                "not allowed",
            ),
            (
                json!({"calendar": "holidays", "whenClosed": {"action": "nap"}}),
                "whenClosed.action",
                "unknown action",
            ),
            (json!({"accounts": []}), "accounts", "must not be empty"),
            (
                json!({"accounts": ["222222222222", "2222"]}),
                "accounts[1]",
                "not a 12-digit account ID",
            ),
            (
                json!({"accounts": ["222222222222", "222222222222"]}),
                "accounts[1]",
                "listed twice",
            ),
        ];
        for (extra, path, reason) in cases {
            let error = ScalingRequest::parse(with(extra.clone())).unwrap_err();
            assert!(
                error.path.starts_with(path) && error.reason.contains(reason),
                "{extra}: {error}"
            );
        }
    }

    #[test]
    fn accounts_round_trip() {
        let request = ScalingRequest::parse(json!({
            "action": "scale-to-zero",
            "selector": {"tags": {"autopilot:schedule": "office-hours"}},
            "accounts": ["222222222222", "333333333333"]
        }))
        .unwrap();
        assert_eq!(request.accounts, ["222222222222", "333333333333"]);
        assert_eq!(ScalingRequest::parse(request.to_json()).unwrap(), request);
    }

    #[test]
    fn explicit_services_are_deduplicated_and_sorted() {
        let request = ScalingRequest::parse(json!({
            "action": "restore",
            "services": ["b/x", "a/y", "b/x", " a / z "]
        }))
        .unwrap();
        let Selection::Services(names) = request.selection else {
            panic!("expected services");
        };
        let names: Vec<String> = names.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["a/y", "a/z", "b/x"]);
    }

    #[test]
    fn malformed_payloads_name_their_field() {
        let sel = json!({"tags": {"autopilot:schedule": "office-hours"}});
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                json!({"action": "scale-up", "selector": sel}),
                "action",
                "unknown action",
            ),
            (
                json!({"action": 3, "selector": sel}),
                "action",
                "invalid type",
            ),
            (json!({"selector": sel}), "action", "missing"),
            (
                json!({"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}),
                "action",
                "constant Input",
            ),
            (json!("scale-to-zero"), ".", "invalid type"),
            (
                json!({"action": "set-capacity", "selector": sel, "mni": 1, "max": 2}),
                "mni",
                "unknown field `mni`",
            ),
            (
                json!({"action": "set-capacity", "selector": sel, "max": 2}),
                "min",
                "required",
            ),
            (
                json!({"action": "set-capacity", "selector": sel, "min": 2}),
                "max",
                "required",
            ),
            (
                json!({"action": "set-capacity", "selector": sel, "min": 5, "max": 3}),
                "min",
                "greater than max",
            ),
            (
                json!({"action": "set-capacity", "selector": sel, "min": -1, "max": 3}),
                "min",
                "negative",
            ),
            (
                json!({"action": "set-capacity", "selector": sel, "min": 1, "max": -3}),
                "max",
                "negative",
            ),
            (
                json!({"action": "set-capacity", "selector": sel, "min": 1, "max": 3, "desired": -1}),
                "desired",
                "negative",
            ),
            (
                json!({"action": "set-capacity", "selector": sel, "min": 1, "max": 3, "desired": 4}),
                "desired",
                "between min (1) and max (3)",
            ),
            (
                json!({"action": "set-capacity", "selector": sel, "min": 1.5, "max": 3}),
                "min",
                "invalid type",
            ),
            (
                json!({"action": "set-capacity", "selector": sel, "min": 1, "max": 3_000_000_000i64}),
                "max",
                "too large",
            ),
            (
                json!({"action": "scale-to-zero", "selector": sel, "min": 1}),
                "min",
                "not allowed",
            ),
            (
                json!({"action": "restore", "selector": sel, "desired": 1}),
                "desired",
                "not allowed",
            ),
            (json!({"action": "restore"}), "services", "no selection"),
            (
                json!({"action": "restore", "services": ["a/b"], "selector": sel}),
                "services",
                "not both",
            ),
            (
                json!({"action": "restore", "services": []}),
                "services",
                "must not be empty",
            ),
            (
                json!({"action": "restore", "services": ["a/b", "just-a-service"]}),
                "services[1]",
                "cluster/service",
            ),
            (
                json!({"action": "restore", "services": ["a/b/c"]}),
                "services[0]",
                "cluster/service",
            ),
            (
                json!({"action": "restore", "services": ["/b"]}),
                "services[0]",
                "cluster/service",
            ),
            (
                json!({"action": "restore", "services": "a/b"}),
                "services",
                "invalid type",
            ),
            (
                json!({"action": "restore", "selector": {}}),
                "selector",
                "empty selector",
            ),
            (
                json!({"action": "restore", "selector": {"clusters": [], "tags": {}}}),
                "selector",
                "empty selector",
            ),
            (
                json!({"action": "restore", "selector": {"clusters": [""]}}),
                "selector.clusters[0]",
                "must not be empty",
            ),
            (
                json!({"action": "restore", "selector": {"tags": {"": "x"}}}),
                "selector.tags",
                "key",
            ),
            (
                json!({"action": "restore", "selector": {"cluster": ["dev"]}}),
                "selector.cluster",
                "unknown field `cluster`",
            ),
            (
                json!({"action": "restore", "selector": {"tags": {"a": 1}}}),
                "selector.tags.a",
                "invalid type",
            ),
        ];
        for (payload, path, reason) in cases {
            let error = ScalingRequest::parse(payload.clone())
                .expect_err(&format!("{payload} should be rejected"));
            assert_eq!(error.path, path, "{payload}: {error}");
            assert!(error.reason.contains(reason), "{payload}: {error}");
            assert_eq!(error.kind(), ErrorKind::InvalidInput);
            assert!(
                error
                    .to_string()
                    .starts_with("malformed scheduled-scaling event: "),
                "{error}"
            );
        }
    }

    #[test]
    fn valid_edge_payloads() {
        let ok = [
            json!({"action": "set-capacity", "services": ["a/b"], "min": 0, "max": 0}),
            json!({"action": "set-capacity", "services": ["a/b"], "min": 2, "max": 2, "desired": 2}),
            json!({"action": "set-capacity", "services": ["a/b"], "min": 1, "max": 3, "desired": null}),
            json!({"action": "scale-to-zero", "selector": {"clusters": ["dev"]}}),
            json!({"action": "restore", "selector": {"clusters": ["arn:aws:ecs:eu-west-1:123456789012:cluster/dev"]}}),
        ];
        for payload in ok {
            ScalingRequest::parse(payload.clone()).unwrap_or_else(|e| panic!("{payload}: {e}"));
        }
    }

    #[test]
    fn selector_matching() {
        let selector = Selector {
            clusters: vec![],
            tags: [("autopilot:schedule".to_owned(), "office-hours".to_owned())].into(),
        };
        let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert!(selector.matches(&tags(&[("autopilot:schedule", "office-hours"), ("x", "y")])));
        assert!(!selector.matches(&tags(&[("autopilot:schedule", "always")])));
        assert!(!selector.matches(&tags(&[])));
    }
}
