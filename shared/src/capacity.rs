//! Capacity on a schedule: business-hours ranges, scale to zero at night,
//! restore in the morning.
//!
//! The domain of the `scheduled-scaling` function, in the house's steps:
//!
//! - **parse**: [`ScalingRequest::parse`] turns the schedule's payload (the
//!   `Input` EventBridge Scheduler delivers verbatim) into a typed request,
//!   or an [`EventError`] naming the bad field;
//! - **gather**: [`apply_schedule`] selects the services (explicit
//!   `cluster/service` names or a tag selector, through
//!   [`crate::discovery`]), and reads their Application Auto Scaling scalable
//!   targets in batches of 50;
//! - **decide**: [`capacity_change`] is a pure function of the action and
//!   what was observed ([`Observed`]), giving the [`Step`]s to take;
//! - **act**: [`apply_schedule`] takes those steps for each service,
//!   concurrently within a bound, skipping every write on dry run, and
//!   reports each service in a [`Summary`].
//!
//! The capacity `scale-to-zero` remembers lives on the service itself, in the
//! tag [`REMEMBERED_CAPACITY_TAG`], in the compact encoding of
//! [`Remembered`] (ECS tag values allow no braces, quotes or commas).
//!
//! IAM, in all: `ecs:ListClusters`, `ecs:ListServices`,
//! `ecs:DescribeServices`, `ecs:UpdateService`, `ecs:TagResource`,
//! `ecs:UntagResource`, `application-autoscaling:DescribeScalableTargets`,
//! `application-autoscaling:RegisterScalableTarget`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use aws_config::SdkConfig;
use aws_sdk_applicationautoscaling::types::{
    ScalableDimension, ScalableTarget, ServiceNamespace, SuspendedState,
};
use aws_sdk_ecs::types::{Service, Tag};
use futures::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{info, warn};

use crate::aws::AwsError;
use crate::discovery::{
    ClusterScope, DiscoveryLimits, cluster_name, describe_named, find_services, service_label,
    service_tags,
};
use crate::error::{Classify, ErrorKind};
use crate::events::{EventError, parse_event};
use crate::throttle::RateLimiter;

/// The service tag holding the capacity `scale-to-zero` remembered.
pub const REMEMBERED_CAPACITY_TAG: &str = "autopilot:remembered-capacity";

/// The event name used in payload errors.
const EVENT: &str = "scheduled-scaling";

// Application Auto Scaling: DescribeScalableTargets takes at most 50 ResourceIds a call.
const DESCRIBE_SCALABLE_TARGETS_BATCH: usize = 50;

// ---------------------------------------------------------------------------
// The payload
// ---------------------------------------------------------------------------

/// What a schedule asks for, parsed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalingRequest {
    /// What to do.
    pub action: Action,
    /// To which services.
    pub selection: Selection,
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

impl ScalingRequest {
    /// Parses and validates a schedule's payload.
    ///
    /// Every error is `InvalidInput` and names the field: an unknown action,
    /// an unknown field (a typo such as `mni`), `min` greater than `max`, a
    /// negative count, `desired` outside `[min, max]`, both or neither of
    /// `services` and `selector`, an empty selector, or a service not named
    /// `cluster/service`. An EventBridge "Scheduled Event" envelope (a rule
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
        let min = count("min", raw.min)?;
        let max = count("max", raw.max)?;
        let desired = count("desired", raw.desired)?;
        let action = match raw.action.as_str() {
            "set-capacity" => {
                let min = min.ok_or_else(|| invalid("min", "required by set-capacity"))?;
                let max = max.ok_or_else(|| invalid("max", "required by set-capacity"))?;
                if min > max {
                    return Err(invalid(
                        "min",
                        format!("must not be greater than max ({min} > {max})"),
                    ));
                }
                if let Some(d) = desired
                    && !(min..=max).contains(&d)
                {
                    return Err(invalid(
                        "desired",
                        format!("must be between min ({min}) and max ({max}), got {d}"),
                    ));
                }
                Action::SetCapacity { min, max, desired }
            }
            "scale-to-zero" | "restore" => {
                let what = if raw.action == "restore" {
                    "restore brings back the remembered capacity"
                } else {
                    "scale-to-zero brings the service to 0"
                };
                for (field, value) in [("min", min), ("max", max), ("desired", desired)] {
                    if value.is_some() {
                        return Err(invalid(field, format!("not allowed: {what}")));
                    }
                }
                if raw.action == "restore" {
                    Action::Restore
                } else {
                    Action::ScaleToZero
                }
            }
            other => {
                return Err(invalid(
                    "action",
                    format!(
                        "unknown action {other:?}: expected one of set-capacity, scale-to-zero, restore"
                    ),
                ));
            }
        };
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
        Ok(ScalingRequest { action, selection })
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

// ---------------------------------------------------------------------------
// Capacity and its remembered encoding
// ---------------------------------------------------------------------------

/// Which scaling of a scalable target is suspended
/// (Application Auto Scaling's `SuspendedState`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Suspended {
    /// `DynamicScalingInSuspended`: policies may not scale in.
    pub dynamic_scaling_in: bool,
    /// `DynamicScalingOutSuspended`: policies may not scale out.
    pub dynamic_scaling_out: bool,
    /// `ScheduledScalingSuspended`: scheduled actions do not run.
    pub scheduled_scaling: bool,
}

impl Suspended {
    /// Reads the SDK's state (an absent flag is `false`).
    pub fn from_sdk(state: Option<&SuspendedState>) -> Self {
        let Some(state) = state else {
            return Suspended::default();
        };
        Suspended {
            dynamic_scaling_in: state.dynamic_scaling_in_suspended().unwrap_or(false),
            dynamic_scaling_out: state.dynamic_scaling_out_suspended().unwrap_or(false),
            scheduled_scaling: state.scheduled_scaling_suspended().unwrap_or(false),
        }
    }

    /// The SDK's state, every flag set explicitly.
    pub fn to_sdk(self) -> SuspendedState {
        SuspendedState::builder()
            .dynamic_scaling_in_suspended(self.dynamic_scaling_in)
            .dynamic_scaling_out_suspended(self.dynamic_scaling_out)
            .scheduled_scaling_suspended(self.scheduled_scaling)
            .build()
    }

    fn parse(text: &str) -> Result<Self, String> {
        let mut suspended = Suspended::default();
        if text == "none" {
            return Ok(suspended);
        }
        for part in text.split('+') {
            let flag = match part {
                "in" => &mut suspended.dynamic_scaling_in,
                "out" => &mut suspended.dynamic_scaling_out,
                "scheduled" => &mut suspended.scheduled_scaling,
                _ => {
                    return Err(format!(
                        "suspend: expected none or in, out, scheduled joined by +, got {text:?}"
                    ));
                }
            };
            if *flag {
                return Err(format!("suspend: {part} given twice"));
            }
            *flag = true;
        }
        Ok(suspended)
    }
}

impl fmt::Display for Suspended {
    /// `none`, or the suspended kinds joined by `+` (`in+out+scheduled`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<&str> = [
            (self.dynamic_scaling_in, "in"),
            (self.dynamic_scaling_out, "out"),
            (self.scheduled_scaling, "scheduled"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join("+"))
        }
    }
}

/// A scalable target's range and suspended state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetCapacity {
    /// `MinCapacity`.
    pub min: i32,
    /// `MaxCapacity`.
    pub max: i32,
    /// `SuspendedState`.
    pub suspended: Suspended,
}

/// The capacity `scale-to-zero` remembers, to be restored exactly.
///
/// Encoded in the [`REMEMBERED_CAPACITY_TAG`] tag as space-separated
/// `key=value` words after a version: `v1 desired=3` for a service without a
/// scalable target, `v1 min=2 max=6 desired=3 suspend=none` (or
/// `suspend=in+out+scheduled`) with one. Only letters, digits, spaces and
/// `= + .` are used: ECS tag values allow letters, digits, spaces and
/// `_ . : / = + - @`, at most 256 characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remembered {
    /// The desired count.
    pub desired: i32,
    /// The scalable target, if the service had one.
    pub target: Option<TargetCapacity>,
}

/// A remembered-capacity tag value that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable {REMEMBERED_CAPACITY_TAG} tag value {value:?}: {reason}")]
pub struct RememberedError {
    /// The tag value.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Remembered {
    /// The tag value.
    pub fn encode(&self) -> String {
        match self.target {
            None => format!("v1 desired={}", self.desired),
            Some(t) => format!(
                "v1 min={} max={} desired={} suspend={}",
                t.min, t.max, self.desired, t.suspended
            ),
        }
    }

    /// Reads a tag value written by [`Remembered::encode`] (or by hand in
    /// the same form). Rejects an unknown version, unknown or repeated keys,
    /// a negative or non-numeric count, `min` without `max` (or the reverse),
    /// `suspend` without a range, and `min` greater than `max`.
    pub fn parse(value: &str) -> Result<Self, RememberedError> {
        let fail = |reason: String| RememberedError {
            value: value.to_owned(),
            reason,
        };
        let mut words = value.split_whitespace();
        match words.next() {
            Some("v1") => {}
            Some(other) => return Err(fail(format!("unsupported version {other:?}"))),
            None => return Err(fail("empty".to_owned())),
        }
        let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
        for word in words {
            let (key, val) = word
                .split_once('=')
                .ok_or_else(|| fail(format!("expected key=value, got {word:?}")))?;
            if !matches!(key, "min" | "max" | "desired" | "suspend") {
                return Err(fail(format!("unknown key {key:?}")));
            }
            if fields.insert(key, val).is_some() {
                return Err(fail(format!("{key} given twice")));
            }
        }
        let number = |key: &str| -> Result<Option<i32>, RememberedError> {
            fields
                .get(key)
                .map(|v| {
                    v.parse::<i32>()
                        .ok()
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| fail(format!("{key}: expected a count, got {v:?}")))
                })
                .transpose()
        };
        let desired = number("desired")?.ok_or_else(|| fail("desired is missing".to_owned()))?;
        let target = match (number("min")?, number("max")?) {
            (None, None) => {
                if fields.contains_key("suspend") {
                    return Err(fail("suspend given without min and max".to_owned()));
                }
                None
            }
            (Some(min), Some(max)) => {
                if min > max {
                    return Err(fail(format!("min {min} is greater than max {max}")));
                }
                let suspended = match fields.get("suspend") {
                    None => Suspended::default(),
                    Some(text) => Suspended::parse(text).map_err(fail)?,
                };
                Some(TargetCapacity {
                    min,
                    max,
                    suspended,
                })
            }
            _ => return Err(fail("min and max go together".to_owned())),
        };
        Ok(Remembered { desired, target })
    }
}

// ---------------------------------------------------------------------------
// The decision
// ---------------------------------------------------------------------------

/// What the remembered-capacity tag of a service says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Memory {
    /// No tag.
    Nothing,
    /// A readable tag.
    Capacity(Remembered),
    /// A tag that cannot be read.
    Unreadable(RememberedError),
}

impl Memory {
    /// Reads a service's tags.
    pub fn from_tags(tags: &BTreeMap<String, String>) -> Self {
        match tags.get(REMEMBERED_CAPACITY_TAG) {
            None => Memory::Nothing,
            Some(value) => match Remembered::parse(value) {
                Ok(remembered) => Memory::Capacity(remembered),
                Err(error) => Memory::Unreadable(error),
            },
        }
    }
}

/// A service's capacity as observed before deciding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The service's `desiredCount`.
    pub desired: i32,
    /// Its scalable target on `ecs:service:DesiredCount`, if any.
    pub target: Option<TargetCapacity>,
    /// Its remembered capacity.
    pub memory: Memory,
}

impl Observed {
    /// The capacity as the summary reports it.
    pub fn capacity(&self) -> Capacity {
        Capacity::of(self.desired, self.target)
    }
}

/// A capacity as the summary reports it: `min`, `max` and `suspended` are
/// those of the scalable target (`null`/absent without one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capacity {
    /// The scalable target's minimum.
    pub min: Option<i32>,
    /// The scalable target's maximum.
    pub max: Option<i32>,
    /// The desired count.
    pub desired: i32,
    /// The scalable target's suspended state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended: Option<Suspended>,
}

impl Capacity {
    /// A desired count and an optional scalable target.
    pub fn of(desired: i32, target: Option<TargetCapacity>) -> Self {
        Capacity {
            min: target.map(|t| t.min),
            max: target.map(|t| t.max),
            desired,
            suspended: target.map(|t| t.suspended),
        }
    }
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Some(min), Some(max)) => write!(
                f,
                "min {min} max {max} desired {} (suspended: {})",
                self.desired,
                self.suspended.unwrap_or_default()
            ),
            _ => write!(f, "desired {} (no scalable target)", self.desired),
        }
    }
}

/// One write, in the order a [`Decision`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write the remembered capacity tag (`ecs:TagResource`).
    Remember(Remembered),
    /// Register the scalable target with this range and suspended state
    /// (`application-autoscaling:RegisterScalableTarget`).
    RegisterTarget(TargetCapacity),
    /// Set the service's desired count (`ecs:UpdateService`).
    SetDesired(i32),
    /// Remove the remembered capacity tag (`ecs:UntagResource`).
    Forget,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Remember(r) => write!(f, "remember {:?}", r.encode()),
            Step::RegisterTarget(t) => write!(
                f,
                "register the scalable target with min {} max {} (suspended: {})",
                t.min, t.max, t.suspended
            ),
            Step::SetDesired(n) => write!(f, "set the desired count to {n}"),
            Step::Forget => write!(f, "forget the remembered capacity"),
        }
    }
}

/// What to do to one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Take these steps, in order, to reach `after`.
    Change {
        /// The capacity once the steps are taken.
        after: Capacity,
        /// The writes, in order.
        steps: Vec<Step>,
        /// Why, for the summary.
        reason: String,
    },
    /// Already as requested.
    Unchanged {
        /// Why, for the summary.
        reason: String,
    },
    /// Nothing to do for this action (restore with nothing remembered).
    Skip {
        /// Why, for the summary.
        reason: String,
    },
    /// The service's state forbids acting (an unreadable remembered capacity).
    Refuse {
        /// Why, for the summary.
        reason: String,
    },
}

impl Decision {
    /// The outcome when no write is made: `planned` for a change on dry run,
    /// `None` for a change to be made.
    pub fn outcome_without_acting(&self, dry_run: bool) -> Option<Outcome> {
        match self {
            Decision::Change { .. } if dry_run => Some(Outcome::Planned),
            Decision::Change { .. } => None,
            Decision::Unchanged { .. } => Some(Outcome::Unchanged),
            Decision::Skip { .. } => Some(Outcome::Skipped),
            Decision::Refuse { .. } => Some(Outcome::Failed),
        }
    }
}

fn change(after: Capacity, steps: Vec<Step>, notes: Vec<String>, unchanged: &str) -> Decision {
    if steps.is_empty() {
        let mut reason = vec![unchanged.to_owned()];
        reason.extend(notes);
        return Decision::Unchanged {
            reason: reason.join("; "),
        };
    }
    let mut reason: Vec<String> = steps.iter().map(ToString::to_string).collect();
    reason.extend(notes);
    Decision::Change {
        after,
        steps,
        reason: reason.join("; "),
    }
}

/// Decides what `action` means for a service in state `observed`.
///
/// - `set-capacity` with a scalable target registers `min`/`max` (keeping
///   the suspended state) and sets the desired count only when `desired` is
///   given; Application Auto Scaling moves the count into the new range.
///   Without a scalable target it sets the desired count: `desired`, or the
///   current count clamped to `[min, max]`.
/// - `scale-to-zero` remembers the capacity unless a capacity is already
///   remembered (a second run never overwrites it), registers min 0 max 0
///   with dynamic scaling in and out suspended (scheduled scaling as it was),
///   and sets the desired count to 0.
/// - `restore` re-registers exactly the remembered range and suspended
///   state, sets the remembered desired count, then forgets; with nothing
///   remembered it skips the service.
///
/// A remembered capacity that cannot be read refuses `scale-to-zero` and
/// `restore` (never overwritten, never guessed); `set-capacity` ignores it.
pub fn capacity_change(action: &Action, observed: &Observed) -> Decision {
    let current = observed.desired;
    match *action {
        Action::SetCapacity { min, max, desired } => match observed.target {
            Some(target) => {
                let wanted = TargetCapacity {
                    min,
                    max,
                    suspended: target.suspended,
                };
                let mut steps = Vec::new();
                let mut notes = Vec::new();
                if (target.min, target.max) != (min, max) {
                    steps.push(Step::RegisterTarget(wanted));
                }
                let after_desired = match desired {
                    Some(d) => {
                        if d != current {
                            steps.push(Step::SetDesired(d));
                        }
                        d
                    }
                    None => {
                        let clamped = current.clamp(min, max);
                        if clamped != current {
                            notes.push(format!(
                                "Application Auto Scaling moves the desired count from {current} to {clamped}"
                            ));
                        }
                        clamped
                    }
                };
                change(
                    Capacity::of(after_desired, Some(wanted)),
                    steps,
                    notes,
                    &format!("already min {min} max {max}"),
                )
            }
            None => {
                let wanted = desired.unwrap_or_else(|| current.clamp(min, max));
                let steps = if wanted != current {
                    vec![Step::SetDesired(wanted)]
                } else {
                    vec![]
                };
                change(
                    Capacity::of(wanted, None),
                    steps,
                    vec![format!(
                        "no scalable target: the desired count is kept within [{min}, {max}] directly"
                    )],
                    &format!("desired count {current} already within [{min}, {max}]"),
                )
            }
        },
        Action::ScaleToZero => {
            let mut steps = Vec::new();
            let mut notes = Vec::new();
            match &observed.memory {
                Memory::Unreadable(error) => {
                    return Decision::Refuse {
                        reason: format!("{error}: fix or remove the tag"),
                    };
                }
                Memory::Capacity(remembered) => notes.push(format!(
                    "the capacity remembered earlier ({}) is kept",
                    remembered.encode()
                )),
                Memory::Nothing => steps.push(Step::Remember(Remembered {
                    desired: current,
                    target: observed.target,
                })),
            }
            let zero_target = observed.target.map(|t| TargetCapacity {
                min: 0,
                max: 0,
                suspended: Suspended {
                    dynamic_scaling_in: true,
                    dynamic_scaling_out: true,
                    scheduled_scaling: t.suspended.scheduled_scaling,
                },
            });
            if let (Some(target), Some(zero)) = (observed.target, zero_target)
                && target != zero
            {
                steps.push(Step::RegisterTarget(zero));
            }
            if current != 0 {
                steps.push(Step::SetDesired(0));
            }
            change(
                Capacity::of(0, zero_target),
                steps,
                notes,
                "already scaled to zero",
            )
        }
        Action::Restore => {
            let remembered = match &observed.memory {
                Memory::Unreadable(error) => {
                    return Decision::Refuse {
                        reason: format!("{error}: fix or remove the tag"),
                    };
                }
                Memory::Nothing => {
                    return Decision::Skip {
                        reason: format!(
                            "nothing remembered (no {REMEMBERED_CAPACITY_TAG} tag): \
                             scale-to-zero has not run on this service, or it was restored already"
                        ),
                    };
                }
                Memory::Capacity(remembered) => *remembered,
            };
            let mut steps = Vec::new();
            let mut notes = Vec::new();
            let (after_target, wanted) = match (remembered.target, observed.target) {
                (Some(old), Some(now)) => {
                    if old != now {
                        steps.push(Step::RegisterTarget(old));
                    }
                    (Some(old), remembered.desired)
                }
                (Some(_), None) => {
                    notes.push(
                        "the scalable target is gone: only the desired count is restored"
                            .to_owned(),
                    );
                    (None, remembered.desired)
                }
                (None, Some(now)) => {
                    let clamped = remembered.desired.clamp(now.min, now.max);
                    notes.push(format!(
                        "a scalable target was added since: the remembered desired count {} is kept within [{}, {}]",
                        remembered.desired, now.min, now.max
                    ));
                    (Some(now), clamped)
                }
                (None, None) => (None, remembered.desired),
            };
            if wanted != current {
                steps.push(Step::SetDesired(wanted));
            }
            steps.push(Step::Forget);
            change(Capacity::of(wanted, after_target), steps, notes, "")
        }
    }
}

// ---------------------------------------------------------------------------
// The summary
// ---------------------------------------------------------------------------

/// What happened to one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Its capacity was changed.
    Changed,
    /// It was already as requested.
    Unchanged,
    /// Nothing to do for this action.
    Skipped,
    /// A change was needed; dry run made none.
    Planned,
    /// It could not be read or changed.
    Failed,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 5] = [
        Outcome::Changed,
        Outcome::Unchanged,
        Outcome::Skipped,
        Outcome::Planned,
        Outcome::Failed,
    ];

    /// The outcome's name, as in the summary and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Changed => "changed",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
            Outcome::Planned => "planned",
            Outcome::Failed => "failed",
        }
    }
}

/// One service in the [`Summary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceReport {
    /// `cluster/service`.
    pub service: String,
    /// What happened.
    pub outcome: Outcome,
    /// Why, or what failed.
    pub reason: String,
    /// The capacity before, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Capacity>,
    /// The capacity after (planned, on dry run); absent for a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Capacity>,
    /// For a failure: `Retryable`, `NotFound` or `Unexpected`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<&'static str>,
    #[serde(skip)]
    kind: Option<ErrorKind>,
}

impl ServiceReport {
    fn failed(service: String, before: Option<Capacity>, kind: ErrorKind, reason: String) -> Self {
        ServiceReport {
            service,
            outcome: Outcome::Failed,
            reason,
            before,
            after: None,
            error_type: Some(kind.error_type()),
            kind: Some(kind),
        }
    }
}

/// Everything one invocation did, as the function returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The action's name.
    pub action: &'static str,
    /// Whether `DRY_RUN` was set.
    pub dry_run: bool,
    /// Each selected service, sorted by name.
    pub services: Vec<ServiceReport>,
    /// Services per outcome.
    pub counts: BTreeMap<&'static str, usize>,
    /// Clusters or batches that could not be read while selecting services.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    #[serde(skip)]
    error_kinds: Vec<ErrorKind>,
}

/// An invocation in which a service failed or a cluster could not be read.
///
/// Its kind follows the one rule for batches ([`ErrorKind::of_batch`]):
/// `Retryable` when any failure is (a retry of the same, idempotent payload
/// finishes the job), else the first failure's kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ScheduleFailed {
    kind: ErrorKind,
    message: String,
}

impl Classify for ScheduleFailed {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

// Failures listed in full in the error message; the rest are counted.
const FAILURES_IN_MESSAGE: usize = 5;

impl Summary {
    fn new(action: &'static str, dry_run: bool) -> Self {
        Summary {
            action,
            dry_run,
            services: Vec::new(),
            counts: BTreeMap::new(),
            errors: Vec::new(),
            error_kinds: Vec::new(),
        }
    }

    fn finish(&mut self) {
        self.services.sort_by(|a, b| a.service.cmp(&b.service));
        self.counts = Outcome::ALL
            .into_iter()
            .map(|o| {
                (
                    o.as_str(),
                    self.services.iter().filter(|s| s.outcome == o).count(),
                )
            })
            .collect();
    }

    /// The summary as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The error to report when a service failed or a cluster could not be
    /// read; `None` when all went well.
    pub fn failure(&self) -> Option<ScheduleFailed> {
        let failed: Vec<&ServiceReport> = self
            .services
            .iter()
            .filter(|s| s.outcome == Outcome::Failed)
            .collect();
        if failed.is_empty() && self.errors.is_empty() {
            return None;
        }
        let kind = ErrorKind::of_batch(
            failed
                .iter()
                .map(|s| s.kind.unwrap_or(ErrorKind::Unexpected))
                .chain(self.error_kinds.iter().copied()),
        )
        .unwrap_or(ErrorKind::Unexpected);
        let counts = self
            .counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut details: Vec<String> = self.errors.clone();
        details.extend(
            failed
                .iter()
                .map(|s| format!("{}: {}", s.service, s.reason)),
        );
        let more = details.len().saturating_sub(FAILURES_IN_MESSAGE);
        details.truncate(FAILURES_IN_MESSAGE);
        let mut message = format!(
            "{} failed for {} of {} services",
            self.action,
            failed.len(),
            self.services.len()
        );
        if !self.errors.is_empty() {
            message.push_str(&format!(" and {} selection error(s)", self.errors.len()));
        }
        message.push_str(&format!(" ({counts}): {}", details.join("; ")));
        if more > 0 {
            message.push_str(&format!("; and {more} more"));
        }
        Some(ScheduleFailed { kind, message })
    }
}

// ---------------------------------------------------------------------------
// Gather and act
// ---------------------------------------------------------------------------

/// The AWS clients the schedule needs.
#[derive(Debug, Clone)]
pub struct Clients {
    /// ECS: `ListClusters`, `ListServices`, `DescribeServices`,
    /// `UpdateService`, `TagResource`, `UntagResource`.
    pub ecs: aws_sdk_ecs::Client,
    /// Application Auto Scaling: `DescribeScalableTargets`,
    /// `RegisterScalableTarget`.
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
}

impl Clients {
    /// Both clients from one `SdkConfig`.
    pub fn new(sdk: &SdkConfig) -> Self {
        Clients {
            ecs: aws_sdk_ecs::Client::new(sdk),
            autoscaling: aws_sdk_applicationautoscaling::Client::new(sdk),
        }
    }
}

/// How to run a schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunOptions {
    /// Make no change; report `planned`.
    pub dry_run: bool,
    /// Services (and read batches) handled at once.
    pub concurrency: usize,
    /// ECS reads a second after the burst (see [`DiscoveryLimits::with_rate`]).
    pub read_rate: f64,
    /// ECS reads sent before pacing starts.
    pub read_burst: u32,
}

impl RunOptions {
    /// `concurrency` services at once, ECS reads paced at the defaults of
    /// [`crate::discovery`].
    pub fn new(dry_run: bool, concurrency: usize) -> Self {
        RunOptions {
            dry_run,
            concurrency,
            read_rate: crate::discovery::DEFAULT_READ_RATE,
            read_burst: crate::discovery::DEFAULT_READ_BURST,
        }
    }
}

// A selected, described service.
struct Selected {
    label: String,
    cluster: String,
    name: String,
    arn: String,
    desired: i32,
    memory: Memory,
}

impl Selected {
    fn resource_id(&self) -> String {
        format!("service/{}/{}", self.cluster, self.name)
    }
}

// What selection gave: services to handle, services already failed, errors
// that cannot be tied to a service.
#[derive(Default)]
struct Gathered {
    services: Vec<Selected>,
    failed: Vec<ServiceReport>,
    errors: Vec<AwsError>,
}

fn selected(service: &Service) -> Result<Selected, ServiceReport> {
    let label = service_label(service);
    let arn = service.service_arn().ok_or_else(|| {
        let error = AwsError::missing_field("describe", format!("service {label}"), "serviceArn");
        ServiceReport::failed(label.clone(), None, error.kind(), error.to_string())
    })?;
    Ok(Selected {
        cluster: cluster_name(service.cluster_arn().unwrap_or_default()).to_owned(),
        name: service.service_name().unwrap_or_default().to_owned(),
        arn: arn.to_owned(),
        desired: service.desired_count(),
        memory: Memory::from_tags(&service_tags(service)),
        label,
    })
}

fn is_active(service: &Service) -> bool {
    service.status() == Some("ACTIVE")
}

// Explicit names: described cluster by cluster, so that a cluster that cannot
// be read fails exactly its own services.
async fn select_named(
    ecs: &aws_sdk_ecs::Client,
    names: &[ServiceName],
    limits: &DiscoveryLimits,
) -> Gathered {
    let mut by_cluster: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
    for name in names {
        by_cluster
            .entry(&name.cluster)
            .or_default()
            .push((name.cluster.clone(), name.service.clone()));
    }
    let described: Vec<_> = stream::iter(by_cluster)
        .map(|(cluster, names)| async move {
            let found = describe_named(ecs, &names, limits).await;
            (cluster, names, found)
        })
        .buffer_unordered(limits.concurrency)
        .collect()
        .await;
    let mut selection = Gathered::default();
    for (cluster, names, found) in described {
        let by_label: HashMap<String, &Service> = found
            .services
            .iter()
            .map(|s| (service_label(s), s))
            .collect();
        let cluster_kind = if found.errors.iter().all(|e| e.kind().is_retryable()) {
            ErrorKind::Retryable
        } else if found.errors.iter().all(|e| e.kind() == ErrorKind::NotFound) {
            ErrorKind::NotFound
        } else {
            ErrorKind::Unexpected
        };
        let cluster_error = found
            .errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        for (_, service) in names {
            let label = format!("{cluster}/{service}");
            match by_label.get(&label) {
                Some(s) if is_active(s) => match selected(s) {
                    Ok(s) => selection.services.push(s),
                    Err(report) => selection.failed.push(report),
                },
                Some(s) => selection.failed.push(ServiceReport::failed(
                    label,
                    None,
                    ErrorKind::NotFound,
                    format!(
                        "service is {}, not ACTIVE",
                        s.status().unwrap_or("of unknown status")
                    ),
                )),
                None if found.missing.contains(&label) => {
                    selection.failed.push(ServiceReport::failed(
                        label,
                        None,
                        ErrorKind::NotFound,
                        format!("service not found in cluster {cluster}"),
                    ))
                }
                None if !found.errors.is_empty() => selection.failed.push(ServiceReport::failed(
                    label,
                    None,
                    cluster_kind,
                    cluster_error.clone(),
                )),
                None => selection.failed.push(ServiceReport::failed(
                    label,
                    None,
                    ErrorKind::Unexpected,
                    "DescribeServices returned neither the service nor a failure for it".to_owned(),
                )),
            }
        }
    }
    selection
}

async fn select_by_selector(
    ecs: &aws_sdk_ecs::Client,
    selector: &Selector,
    limits: &DiscoveryLimits,
) -> Gathered {
    let scope = ClusterScope::from_list(selector.clusters.clone());
    let mut selection = Gathered::default();
    let found = match find_services(ecs, &scope, limits, |s| {
        is_active(s) && selector.matches(&service_tags(s))
    })
    .await
    {
        Ok(found) => found,
        Err(error) => {
            selection.errors.push(error);
            return selection;
        }
    };
    if !found.missing.is_empty() {
        // Listed, then gone before being described: deleted meanwhile.
        tracing::debug!(missing = ?found.missing, "services disappeared during selection");
    }
    selection.errors = found.errors;
    for service in &found.services {
        match selected(service) {
            Ok(s) => selection.services.push(s),
            Err(report) => selection.failed.push(report),
        }
    }
    selection
}

// A batch of resource ids and what DescribeScalableTargets said about them.
type TargetBatch = (Vec<String>, Result<Vec<ScalableTarget>, AwsError>);

// The scalable targets of these resource ids, 50 ids a call, batches read
// concurrently. A batch that fails is reported for each of its ids.
async fn describe_targets(
    autoscaling: &aws_sdk_applicationautoscaling::Client,
    resource_ids: Vec<String>,
    concurrency: usize,
) -> HashMap<String, Result<Option<TargetCapacity>, AwsError>> {
    let batches: Vec<Vec<String>> = resource_ids
        .chunks(DESCRIBE_SCALABLE_TARGETS_BATCH)
        .map(<[String]>::to_vec)
        .collect();
    let answers: Vec<TargetBatch> = stream::iter(batches)
        .map(|ids| async move {
            let mut pages = autoscaling
                .describe_scalable_targets()
                .service_namespace(ServiceNamespace::Ecs)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .set_resource_ids(Some(ids.clone()))
                .into_paginator()
                .send();
            let mut targets = Vec::new();
            while let Some(page) = pages.next().await {
                match page {
                    Ok(page) => targets.extend(page.scalable_targets().iter().cloned()),
                    Err(e) => {
                        let error = AwsError::new(
                            "describe scalable targets of",
                            format!("{} ECS services", ids.len()),
                            &e,
                        );
                        return (ids, Err(error));
                    }
                }
            }
            (ids, Ok(targets))
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut by_id = HashMap::new();
    for (ids, answer) in answers {
        match answer {
            Ok(targets) => {
                let found: HashMap<&str, &ScalableTarget> =
                    targets.iter().map(|t| (t.resource_id(), t)).collect();
                for id in ids {
                    let target = found.get(id.as_str()).map(|t| TargetCapacity {
                        min: t.min_capacity(),
                        max: t.max_capacity(),
                        suspended: Suspended::from_sdk(t.suspended_state()),
                    });
                    by_id.insert(id, Ok(target));
                }
            }
            Err(error) => {
                for id in ids {
                    by_id.insert(id, Err(error.clone()));
                }
            }
        }
    }
    by_id
}

// Paces writes under the APIs' throttling limits.
struct WriteLimits {
    // ECS service modify (UpdateService): 50 burst, 5 per second per account
    // and Region; half the burst leaves room for deployments running meanwhile.
    update_service: RateLimiter,
    // TagResource / UntagResource, RegisterScalableTarget: no documented
    // rates in our contracts; paced the same, the SDK retries throttling.
    tagging: RateLimiter,
    autoscaling: RateLimiter,
}

impl WriteLimits {
    fn new() -> Self {
        WriteLimits {
            update_service: RateLimiter::new(5.0, 25),
            tagging: RateLimiter::new(5.0, 25),
            autoscaling: RateLimiter::new(5.0, 25),
        }
    }
}

async fn take_step(
    clients: &Clients,
    limits: &WriteLimits,
    service: &Selected,
    step: &Step,
) -> Result<(), AwsError> {
    let resource = format!("service {}", service.label);
    match step {
        Step::Remember(remembered) => {
            limits.tagging.acquire().await;
            clients
                .ecs
                .tag_resource()
                .resource_arn(&service.arn)
                .tags(
                    Tag::builder()
                        .key(REMEMBERED_CAPACITY_TAG)
                        .value(remembered.encode())
                        .build(),
                )
                .send()
                .await
                .map_err(|e| AwsError::new("remember the capacity of", &resource, &e))?;
        }
        Step::RegisterTarget(target) => {
            limits.autoscaling.acquire().await;
            clients
                .autoscaling
                .register_scalable_target()
                .service_namespace(ServiceNamespace::Ecs)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .resource_id(service.resource_id())
                .min_capacity(target.min)
                .max_capacity(target.max)
                .suspended_state(target.suspended.to_sdk())
                .send()
                .await
                .map_err(|e| AwsError::new("register the scalable target of", &resource, &e))?;
        }
        Step::SetDesired(desired) => {
            limits.update_service.acquire().await;
            clients
                .ecs
                .update_service()
                .cluster(&service.cluster)
                .service(&service.name)
                .desired_count(*desired)
                .send()
                .await
                .map_err(|e| AwsError::new("set the desired count of", &resource, &e))?;
        }
        Step::Forget => {
            limits.tagging.acquire().await;
            clients
                .ecs
                .untag_resource()
                .resource_arn(&service.arn)
                .tag_keys(REMEMBERED_CAPACITY_TAG)
                .send()
                .await
                .map_err(|e| AwsError::new("forget the remembered capacity of", &resource, &e))?;
        }
    }
    Ok(())
}

async fn scale_one(
    clients: &Clients,
    limits: &WriteLimits,
    action: &Action,
    dry_run: bool,
    service: Selected,
    target: Result<Option<TargetCapacity>, AwsError>,
) -> ServiceReport {
    let target = match target {
        Ok(target) => target,
        Err(error) => {
            return ServiceReport::failed(service.label, None, error.kind(), error.to_string());
        }
    };
    let observed = Observed {
        desired: service.desired,
        target,
        memory: service.memory.clone(),
    };
    let before = observed.capacity();
    let decision = capacity_change(action, &observed);
    let outcome = decision.outcome_without_acting(dry_run);
    let report = match (decision, outcome) {
        (Decision::Change { after, reason, .. }, Some(outcome)) => ServiceReport {
            service: service.label.clone(),
            outcome,
            reason: format!("would {reason}"),
            before: Some(before),
            after: Some(after),
            error_type: None,
            kind: None,
        },
        (
            Decision::Change {
                after,
                steps,
                reason,
            },
            None,
        ) => {
            let mut done: Vec<String> = Vec::new();
            let mut failure = None;
            for step in &steps {
                match take_step(clients, limits, &service, step).await {
                    Ok(()) => done.push(step.to_string()),
                    Err(error) => {
                        failure = Some(error);
                        break;
                    }
                }
            }
            match failure {
                None => ServiceReport {
                    service: service.label.clone(),
                    outcome: Outcome::Changed,
                    reason,
                    before: Some(before),
                    after: Some(after),
                    error_type: None,
                    kind: None,
                },
                Some(error) => {
                    let mut reason = error.to_string();
                    if !done.is_empty() {
                        reason.push_str(&format!(" (done before it: {})", done.join("; ")));
                    }
                    ServiceReport::failed(service.label.clone(), Some(before), error.kind(), reason)
                }
            }
        }
        (Decision::Refuse { reason }, _) => ServiceReport::failed(
            service.label.clone(),
            Some(before),
            ErrorKind::Unexpected,
            reason,
        ),
        (Decision::Unchanged { reason } | Decision::Skip { reason }, outcome) => ServiceReport {
            service: service.label.clone(),
            outcome: outcome.unwrap_or(Outcome::Unchanged),
            reason,
            before: Some(before),
            after: Some(before),
            error_type: None,
            kind: None,
        },
    };
    match report.outcome {
        Outcome::Failed => warn!(
            service = %report.service,
            action = action.name(),
            reason = %report.reason,
            "scaling failed"
        ),
        outcome => info!(
            service = %report.service,
            action = action.name(),
            outcome = outcome.as_str(),
            before = %before,
            after = %report.after.map(|a| a.to_string()).unwrap_or_default(),
            reason = %report.reason,
            "scaled"
        ),
    }
    report
}

/// Runs a schedule: selects the services, reads their scalable targets,
/// decides with [`capacity_change`] and acts, `options.concurrency` services
/// at a time. One service failing never stops the others; every service and
/// every selection error is in the [`Summary`] (see [`Summary::failure`]).
///
/// AWS calls, per invocation:
/// - selection by name: `ecs:DescribeServices` per cluster and 10 services;
///   by selector: `ecs:ListClusters` (without `clusters`), `ecs:ListServices`
///   per cluster and 100 services, `ecs:DescribeServices` per 10 services;
/// - `application-autoscaling:DescribeScalableTargets` per 50 services;
/// - per service, only as decided (none on dry run): `ecs:TagResource`
///   (remember), `application-autoscaling:RegisterScalableTarget`,
///   `ecs:UpdateService` (desired count), `ecs:UntagResource` (forget).
pub async fn apply_schedule(
    clients: &Clients,
    request: &ScalingRequest,
    options: RunOptions,
) -> Summary {
    let concurrency = options.concurrency.max(1);
    let limits = DiscoveryLimits::with_rate(concurrency, options.read_rate, options.read_burst);
    let mut summary = Summary::new(request.action.name(), options.dry_run);

    let selection = match &request.selection {
        Selection::Services(names) => select_named(&clients.ecs, names, &limits).await,
        Selection::Selector(selector) => select_by_selector(&clients.ecs, selector, &limits).await,
    };
    for error in &selection.errors {
        warn!(error = %error, "selection incomplete");
    }
    summary.error_kinds = selection.errors.iter().map(Classify::kind).collect();
    summary.errors = selection.errors.iter().map(ToString::to_string).collect();
    summary.services = selection.failed;

    let resource_ids = selection
        .services
        .iter()
        .map(Selected::resource_id)
        .collect();
    let mut targets = describe_targets(&clients.autoscaling, resource_ids, concurrency).await;

    let writes = WriteLimits::new();
    let action = request.action;
    let reports: Vec<ServiceReport> =
        stream::iter(selection.services)
            .map(|service| {
                let target = targets.remove(&service.resource_id()).unwrap_or(Ok(None));
                let writes = &writes;
                async move {
                    scale_one(clients, writes, &action, options.dry_run, service, target).await
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
    summary.services.extend(reports);
    summary.finish();
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    // ---- payload ----

    #[test]
    fn sample_payloads_parse_and_round_trip() {
        for name in [
            "business-hours.json",
            "night.json",
            "dev-office-hours.json",
            "scale-to-zero.json",
            "restore.json",
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
            }
        );
        let zero = ScalingRequest::parse(fixture("scheduled-scaling/scale-to-zero.json")).unwrap();
        assert_eq!(zero.action, Action::ScaleToZero);
        assert!(matches!(zero.selection, Selection::Selector(ref s) if s.clusters.is_empty()));
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

    // ---- remembered capacity encoding ----

    // ECS tag values: at most 256 letters, digits, spaces and `_ . : / = + - @`.
    const TAG_VALUE_MAX: usize = 256;
    const TAG_VALUE_CHARS: &str = "_.:/=+-@ ";

    #[test]
    fn remembered_capacity_round_trips_in_tag_safe_characters() {
        let all = Suspended {
            dynamic_scaling_in: true,
            dynamic_scaling_out: true,
            scheduled_scaling: true,
        };
        let cases = [
            (
                Remembered {
                    desired: 3,
                    target: None,
                },
                "v1 desired=3",
            ),
            (
                Remembered {
                    desired: 3,
                    target: Some(TargetCapacity {
                        min: 2,
                        max: 6,
                        suspended: Suspended::default(),
                    }),
                },
                "v1 min=2 max=6 desired=3 suspend=none",
            ),
            (
                Remembered {
                    desired: 0,
                    target: Some(TargetCapacity {
                        min: 0,
                        max: 0,
                        suspended: Suspended {
                            scheduled_scaling: true,
                            ..Suspended::default()
                        },
                    }),
                },
                "v1 min=0 max=0 desired=0 suspend=scheduled",
            ),
            (
                Remembered {
                    desired: 7,
                    target: Some(TargetCapacity {
                        min: 1,
                        max: 10,
                        suspended: Suspended {
                            dynamic_scaling_in: true,
                            dynamic_scaling_out: true,
                            scheduled_scaling: false,
                        },
                    }),
                },
                "v1 min=1 max=10 desired=7 suspend=in+out",
            ),
            (
                Remembered {
                    desired: i32::MAX,
                    target: Some(TargetCapacity {
                        min: i32::MAX,
                        max: i32::MAX,
                        suspended: all,
                    }),
                },
                "v1 min=2147483647 max=2147483647 desired=2147483647 suspend=in+out+scheduled",
            ),
        ];
        for (remembered, encoded) in cases {
            assert_eq!(remembered.encode(), encoded);
            assert_eq!(Remembered::parse(encoded), Ok(remembered), "{encoded}");
            assert!(encoded.len() <= TAG_VALUE_MAX);
            assert!(
                encoded
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || TAG_VALUE_CHARS.contains(c)),
                "{encoded} has a character ECS tag values do not allow"
            );
        }
    }

    #[test]
    fn remembered_capacity_tolerates_order_spacing_and_missing_suspend() {
        assert_eq!(
            Remembered::parse("  v1  desired=3   max=6 min=2 "),
            Ok(Remembered {
                desired: 3,
                target: Some(TargetCapacity {
                    min: 2,
                    max: 6,
                    suspended: Suspended::default()
                })
            })
        );
        assert_eq!(
            Remembered::parse("v1 min=1 max=2 desired=1 suspend=out+in").map(|r| r.encode()),
            Ok("v1 min=1 max=2 desired=1 suspend=in+out".to_owned())
        );
    }

    #[test]
    fn remembered_capacity_rejects() {
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("v2 desired=3", "unsupported version"),
            ("desired=3", "unsupported version"),
            ("v1", "desired is missing"),
            ("v1 min=1 max=2", "desired is missing"),
            ("v1 desired=3 desired=4", "given twice"),
            ("v1 desired=-1", "expected a count"),
            ("v1 desired=x", "expected a count"),
            ("v1 desired=99999999999", "expected a count"),
            ("v1 desired", "expected key=value"),
            ("v1 desired=3 colour=blue", "unknown key"),
            ("v1 min=1 desired=3", "go together"),
            ("v1 max=1 desired=3", "go together"),
            ("v1 min=3 max=1 desired=3", "greater than max"),
            ("v1 desired=3 suspend=in", "without min and max"),
            ("v1 min=1 max=2 desired=1 suspend=up", "suspend: expected"),
            ("v1 min=1 max=2 desired=1 suspend=in+in", "given twice"),
            ("v1 min=1 max=2 desired=1 suspend=", "suspend: expected"),
            (
                "v1 min=1 max=2 desired=1 suspend=in,out",
                "suspend: expected",
            ),
            ("{\"min\":1}", "unsupported version"),
        ];
        for (value, reason) in cases {
            let error = Remembered::parse(value).expect_err(value);
            assert!(error.reason.contains(reason), "{value:?}: {error}");
            assert!(
                error.to_string().contains(REMEMBERED_CAPACITY_TAG),
                "{error}"
            );
        }
    }

    #[test]
    fn memory_from_tags() {
        let tags = |v: Option<&str>| -> BTreeMap<String, String> {
            v.map(|v| (REMEMBERED_CAPACITY_TAG.to_owned(), v.to_owned()))
                .into_iter()
                .chain([("team".to_owned(), "payments".to_owned())])
                .collect()
        };
        assert_eq!(Memory::from_tags(&tags(None)), Memory::Nothing);
        assert_eq!(
            Memory::from_tags(&tags(Some("v1 desired=2"))),
            Memory::Capacity(Remembered {
                desired: 2,
                target: None
            })
        );
        assert!(matches!(
            Memory::from_tags(&tags(Some("garbage"))),
            Memory::Unreadable(_)
        ));
    }

    // ---- the decision ----

    fn target(min: i32, max: i32, suspended: &str) -> Option<TargetCapacity> {
        Some(TargetCapacity {
            min,
            max,
            suspended: Suspended::parse(suspended).unwrap(),
        })
    }

    fn observed(desired: i32, target: Option<TargetCapacity>, memory: Option<&str>) -> Observed {
        Observed {
            desired,
            target,
            memory: match memory {
                None => Memory::Nothing,
                Some(value) => match Remembered::parse(value) {
                    Ok(r) => Memory::Capacity(r),
                    Err(e) => Memory::Unreadable(e),
                },
            },
        }
    }

    fn set(min: i32, max: i32, desired: Option<i32>) -> Action {
        Action::SetCapacity { min, max, desired }
    }

    fn remember(value: &str) -> Step {
        Step::Remember(Remembered::parse(value).unwrap())
    }

    fn register(min: i32, max: i32, suspended: &str) -> Step {
        Step::RegisterTarget(target(min, max, suspended).unwrap())
    }

    // (name, action, observed, expected steps or the outcome kind, after)
    enum Want {
        Steps(Vec<Step>, Capacity),
        Unchanged,
        Skip,
        Refuse,
    }

    #[test]
    fn capacity_change_table() {
        use Want::*;
        let cases: Vec<(&str, Action, Observed, Want)> = vec![
            // set-capacity with a scalable target
            (
                "set: range changes, count left to Application Auto Scaling",
                set(5, 10, None),
                observed(3, target(2, 4, "none"), None),
                Steps(
                    vec![register(5, 10, "none")],
                    Capacity::of(5, target(5, 10, "none")),
                ),
            ),
            (
                "set: suspended state kept",
                set(1, 2, None),
                observed(1, target(0, 0, "in+out+scheduled"), None),
                Steps(
                    vec![register(1, 2, "in+out+scheduled")],
                    Capacity::of(1, target(1, 2, "in+out+scheduled")),
                ),
            ),
            (
                "set: desired given and different",
                set(1, 2, Some(1)),
                observed(3, target(1, 2, "none"), None),
                Steps(
                    vec![Step::SetDesired(1)],
                    Capacity::of(1, target(1, 2, "none")),
                ),
            ),
            (
                "set: range and desired",
                set(5, 10, Some(6)),
                observed(3, target(2, 4, "none"), None),
                Steps(
                    vec![register(5, 10, "none"), Step::SetDesired(6)],
                    Capacity::of(6, target(5, 10, "none")),
                ),
            ),
            (
                "set: same range, no desired",
                set(2, 4, None),
                observed(3, target(2, 4, "in"), None),
                Unchanged,
            ),
            (
                "set: same range, same desired",
                set(2, 4, Some(3)),
                observed(3, target(2, 4, "none"), None),
                Unchanged,
            ),
            (
                "set: a remembered capacity is ignored",
                set(2, 4, None),
                observed(
                    0,
                    target(0, 0, "in+out"),
                    Some("v1 min=2 max=6 desired=3 suspend=none"),
                ),
                Steps(
                    vec![register(2, 4, "in+out")],
                    Capacity::of(2, target(2, 4, "in+out")),
                ),
            ),
            (
                "set: an unreadable memory is ignored",
                set(2, 4, None),
                observed(3, target(2, 4, "none"), Some("junk")),
                Unchanged,
            ),
            // set-capacity without a scalable target
            (
                "set, no target: count clamped up",
                set(5, 10, None),
                observed(2, None, None),
                Steps(vec![Step::SetDesired(5)], Capacity::of(5, None)),
            ),
            (
                "set, no target: count clamped down",
                set(1, 2, None),
                observed(3, None, None),
                Steps(vec![Step::SetDesired(2)], Capacity::of(2, None)),
            ),
            (
                "set, no target: count within range",
                set(1, 4, None),
                observed(3, None, None),
                Unchanged,
            ),
            (
                "set, no target: desired given",
                set(1, 4, Some(1)),
                observed(3, None, None),
                Steps(vec![Step::SetDesired(1)], Capacity::of(1, None)),
            ),
            (
                "set, no target: desired already",
                set(1, 4, Some(3)),
                observed(3, None, None),
                Unchanged,
            ),
            // scale-to-zero
            (
                "zero: target, remember then zero",
                Action::ScaleToZero,
                observed(3, target(2, 6, "none"), None),
                Steps(
                    vec![
                        remember("v1 min=2 max=6 desired=3 suspend=none"),
                        register(0, 0, "in+out"),
                        Step::SetDesired(0),
                    ],
                    Capacity::of(0, target(0, 0, "in+out")),
                ),
            ),
            (
                "zero: scheduled scaling suspension kept as it was",
                Action::ScaleToZero,
                observed(3, target(2, 6, "scheduled"), None),
                Steps(
                    vec![
                        remember("v1 min=2 max=6 desired=3 suspend=scheduled"),
                        register(0, 0, "in+out+scheduled"),
                        Step::SetDesired(0),
                    ],
                    Capacity::of(0, target(0, 0, "in+out+scheduled")),
                ),
            ),
            (
                "zero: no target",
                Action::ScaleToZero,
                observed(3, None, None),
                Steps(
                    vec![remember("v1 desired=3"), Step::SetDesired(0)],
                    Capacity::of(0, None),
                ),
            ),
            (
                "zero: twice, nothing left to do",
                Action::ScaleToZero,
                observed(
                    0,
                    target(0, 0, "in+out"),
                    Some("v1 min=2 max=6 desired=3 suspend=none"),
                ),
                Unchanged,
            ),
            (
                "zero: twice without target",
                Action::ScaleToZero,
                observed(0, None, Some("v1 desired=3")),
                Unchanged,
            ),
            (
                "zero: memory kept, the rest finished (earlier run failed half-way)",
                Action::ScaleToZero,
                observed(
                    3,
                    target(0, 0, "in+out"),
                    Some("v1 min=2 max=6 desired=3 suspend=none"),
                ),
                Steps(
                    vec![Step::SetDesired(0)],
                    Capacity::of(0, target(0, 0, "in+out")),
                ),
            ),
            (
                "zero: memory kept even if scaled up since",
                Action::ScaleToZero,
                observed(
                    4,
                    target(2, 8, "none"),
                    Some("v1 min=2 max=6 desired=3 suspend=none"),
                ),
                Steps(
                    vec![register(0, 0, "in+out"), Step::SetDesired(0)],
                    Capacity::of(0, target(0, 0, "in+out")),
                ),
            ),
            (
                "zero: already at zero, remembered as zero",
                Action::ScaleToZero,
                observed(0, None, None),
                Steps(vec![remember("v1 desired=0")], Capacity::of(0, None)),
            ),
            (
                "zero: unreadable memory refuses",
                Action::ScaleToZero,
                observed(3, None, Some("v9 whatever")),
                Refuse,
            ),
            // restore
            (
                "restore: exactly what was remembered, then forget",
                Action::Restore,
                observed(
                    0,
                    target(0, 0, "in+out"),
                    Some("v1 min=2 max=6 desired=3 suspend=none"),
                ),
                Steps(
                    vec![register(2, 6, "none"), Step::SetDesired(3), Step::Forget],
                    Capacity::of(3, target(2, 6, "none")),
                ),
            ),
            (
                "restore: suspended state as it was before",
                Action::Restore,
                observed(
                    0,
                    target(0, 0, "in+out+scheduled"),
                    Some("v1 min=1 max=4 desired=2 suspend=out+scheduled"),
                ),
                Steps(
                    vec![
                        register(1, 4, "out+scheduled"),
                        Step::SetDesired(2),
                        Step::Forget,
                    ],
                    Capacity::of(2, target(1, 4, "out+scheduled")),
                ),
            ),
            (
                "restore: no target",
                Action::Restore,
                observed(0, None, Some("v1 desired=3")),
                Steps(
                    vec![Step::SetDesired(3), Step::Forget],
                    Capacity::of(3, None),
                ),
            ),
            (
                "restore: already at the remembered capacity, only forget",
                Action::Restore,
                observed(
                    3,
                    target(2, 6, "none"),
                    Some("v1 min=2 max=6 desired=3 suspend=none"),
                ),
                Steps(vec![Step::Forget], Capacity::of(3, target(2, 6, "none"))),
            ),
            (
                "restore: target gone since",
                Action::Restore,
                observed(0, None, Some("v1 min=2 max=6 desired=3 suspend=none")),
                Steps(
                    vec![Step::SetDesired(3), Step::Forget],
                    Capacity::of(3, None),
                ),
            ),
            (
                "restore: target added since, desired kept within it",
                Action::Restore,
                observed(0, target(4, 8, "none"), Some("v1 desired=2")),
                Steps(
                    vec![Step::SetDesired(4), Step::Forget],
                    Capacity::of(4, target(4, 8, "none")),
                ),
            ),
            (
                "restore: nothing remembered",
                Action::Restore,
                observed(3, target(2, 6, "none"), None),
                Skip,
            ),
            (
                "restore: unreadable memory refuses",
                Action::Restore,
                observed(0, None, Some("v1 desired=")),
                Refuse,
            ),
        ];
        for (name, action, observed, want) in cases {
            let decision = capacity_change(&action, &observed);
            match (want, &decision) {
                (
                    Steps(steps, after),
                    Decision::Change {
                        steps: got,
                        after: got_after,
                        reason,
                    },
                ) => {
                    assert_eq!(got, &steps, "{name}");
                    assert_eq!(got_after, &after, "{name}");
                    assert!(!reason.is_empty(), "{name}");
                }
                (Unchanged, Decision::Unchanged { .. })
                | (Skip, Decision::Skip { .. })
                | (Refuse, Decision::Refuse { .. }) => {}
                (_, other) => panic!("{name}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn applying_a_change_reaches_a_fixed_point() {
        // Idempotency: after the steps are taken, the same action decides Unchanged
        // (restore: Skip, as the memory is gone).
        let starts = [
            observed(3, target(2, 6, "none"), None),
            observed(3, target(2, 6, "scheduled"), None),
            observed(1, None, None),
            observed(
                0,
                target(0, 0, "in+out"),
                Some("v1 min=2 max=6 desired=3 suspend=none"),
            ),
            observed(0, None, Some("v1 desired=4")),
        ];
        let actions = [
            set(5, 10, None),
            set(1, 2, Some(2)),
            Action::ScaleToZero,
            Action::Restore,
        ];
        for start in &starts {
            for action in &actions {
                let mut state = start.clone();
                if let Decision::Change { steps, .. } = capacity_change(action, &state) {
                    for step in steps {
                        match step {
                            Step::Remember(r) => state.memory = Memory::Capacity(r),
                            Step::RegisterTarget(t) => {
                                state.target = Some(t);
                                // Application Auto Scaling moves the count into range.
                                state.desired = state.desired.clamp(t.min, t.max);
                            }
                            Step::SetDesired(n) => state.desired = n,
                            Step::Forget => state.memory = Memory::Nothing,
                        }
                    }
                }
                let again = capacity_change(action, &state);
                assert!(
                    matches!(again, Decision::Unchanged { .. } | Decision::Skip { .. }),
                    "{action:?} from {start:?}: second run decides {again:?}"
                );
            }
        }
    }

    #[test]
    fn scale_to_zero_then_restore_is_the_identity() {
        let starts = [
            observed(3, target(2, 6, "none"), None),
            observed(5, target(1, 9, "scheduled"), None),
            observed(2, target(2, 2, "in"), None),
            observed(4, None, None),
        ];
        for start in starts {
            let mut state = start.clone();
            for action in [Action::ScaleToZero, Action::ScaleToZero, Action::Restore] {
                if let Decision::Change { steps, .. } = capacity_change(&action, &state) {
                    for step in steps {
                        match step {
                            Step::Remember(r) => state.memory = Memory::Capacity(r),
                            Step::RegisterTarget(t) => state.target = Some(t),
                            Step::SetDesired(n) => state.desired = n,
                            Step::Forget => state.memory = Memory::Nothing,
                        }
                    }
                }
            }
            assert_eq!(state, start);
        }
    }

    #[test]
    fn outcomes_without_acting_and_dry_run() {
        let change = capacity_change(&Action::ScaleToZero, &observed(3, None, None));
        assert_eq!(change.outcome_without_acting(true), Some(Outcome::Planned));
        assert_eq!(change.outcome_without_acting(false), None);
        for dry_run in [true, false] {
            let unchanged = capacity_change(&set(1, 4, None), &observed(3, None, None));
            assert_eq!(
                unchanged.outcome_without_acting(dry_run),
                Some(Outcome::Unchanged)
            );
            let skip = capacity_change(&Action::Restore, &observed(3, None, None));
            assert_eq!(skip.outcome_without_acting(dry_run), Some(Outcome::Skipped));
            let refuse = capacity_change(&Action::Restore, &observed(3, None, Some("x")));
            assert_eq!(
                refuse.outcome_without_acting(dry_run),
                Some(Outcome::Failed)
            );
        }
    }

    // ---- the summary ----

    fn report(service: &str, outcome: Outcome, kind: Option<ErrorKind>) -> ServiceReport {
        ServiceReport {
            service: service.into(),
            outcome,
            reason: format!("{service} reason"),
            before: Some(Capacity::of(3, None)),
            after: (outcome != Outcome::Failed).then(|| Capacity::of(0, None)),
            error_type: kind.map(ErrorKind::error_type),
            kind,
        }
    }

    #[test]
    fn summary_json_and_failure_kinds() {
        let mut summary = Summary::new("scale-to-zero", false);
        summary.services = vec![
            report("b/two", Outcome::Changed, None),
            report("a/one", Outcome::Unchanged, None),
        ];
        summary.finish();
        assert!(summary.failure().is_none());
        let json = summary.to_json();
        assert_eq!(json["action"], "scale-to-zero");
        assert_eq!(json["dryRun"], false);
        assert_eq!(json["services"][0]["service"], "a/one");
        assert_eq!(
            json["services"][1]["before"],
            json!({"min": null, "max": null, "desired": 3})
        );
        assert_eq!(json["counts"]["changed"], 1);
        assert_eq!(json["counts"]["failed"], 0);
        assert!(json.get("errors").is_none());

        summary.services.push(report(
            "c/three",
            Outcome::Failed,
            Some(ErrorKind::Retryable),
        ));
        summary.finish();
        let failure = summary.failure().unwrap();
        assert_eq!(failure.kind(), ErrorKind::Retryable);
        let message = failure.to_string();
        assert!(
            message.starts_with("scale-to-zero failed for 1 of 3 services (changed 1, failed 1, planned 0, skipped 0, unchanged 1): c/three: c/three reason"),
            "{message}"
        );
        assert_eq!(summary.to_json()["services"][2]["errorType"], "Retryable");

        // One retryable failure makes the invocation retryable (the one rule
        // for batches), whatever else failed.
        summary
            .services
            .push(report("d/four", Outcome::Failed, Some(ErrorKind::NotFound)));
        summary.finish();
        assert_eq!(summary.failure().unwrap().kind(), ErrorKind::Retryable);
        summary.services.retain(|s| s.service != "c/three");
        summary.finish();
        assert_eq!(summary.failure().unwrap().kind(), ErrorKind::NotFound);

        let mut selection_only = Summary::new("restore", true);
        selection_only.errors = vec!["failed to list services in cluster x: boom".into()];
        selection_only.error_kinds = vec![ErrorKind::Retryable];
        selection_only.finish();
        let failure = selection_only.failure().unwrap();
        assert_eq!(failure.kind(), ErrorKind::Retryable);
        assert!(
            failure.to_string().contains("1 selection error"),
            "{failure}"
        );
    }

    #[test]
    fn long_failure_lists_are_cut() {
        let mut summary = Summary::new("restore", false);
        summary.services = (0..8)
            .map(|i| {
                report(
                    &format!("c/s{i}"),
                    Outcome::Failed,
                    Some(ErrorKind::Unexpected),
                )
            })
            .collect();
        summary.finish();
        let message = summary.failure().unwrap().to_string();
        assert!(message.ends_with("; and 3 more"), "{message}");
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
