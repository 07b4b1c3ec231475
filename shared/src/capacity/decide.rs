//! The decision: [`capacity_change`], a pure function of the action and
//! what was observed of a service, giving the [`Step`]s to take.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::payload::Action;
use super::remembered::{
    REMEMBERED_CAPACITY_TAG, Remembered, RememberedError, Suspended, TargetCapacity,
};

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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

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

    fn target(min: i32, max: i32, suspended: &str) -> Option<TargetCapacity> {
        Some(TargetCapacity {
            min,
            max,
            suspended: Suspended::parse(suspended).unwrap(),
        })
    }

    pub(in crate::capacity) fn observed(
        desired: i32,
        target: Option<TargetCapacity>,
        memory: Option<&str>,
    ) -> Observed {
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

    pub(in crate::capacity) fn set(min: i32, max: i32, desired: Option<i32>) -> Action {
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
}
