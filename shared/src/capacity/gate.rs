//! The calendar gate: while a schedule's change calendar is `CLOSED` (a
//! public holiday, an event), its action is skipped or replaced, as its
//! `whenClosed` says. Pure: the calendars' states come in, the action to
//! take and the note for the summary go out.

use std::collections::BTreeMap;

use serde::Serialize;

use super::payload::{Action, CalendarGate, WhenClosed};
use crate::calendar::{self, CalendarName, CalendarState};

/// What the summary says about the calendars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarNote {
    /// Each calendar's state.
    pub states: Vec<CalendarState>,
    /// The scheduled action skipped while a calendar is closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<&'static str>,
    /// The scheduled action replaced by `whenClosed`'s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instead_of: Option<&'static str>,
    /// Why, in a sentence.
    pub reason: String,
}

/// The action to take, if any, and the note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gated {
    /// `None`: the action is skipped.
    pub action: Option<Action>,
    /// What the summary says.
    pub note: CalendarNote,
}

/// `action` as `gate` lets it run, given the calendars' states.
pub fn gated(
    action: Action,
    gate: &CalendarGate,
    states: &BTreeMap<CalendarName, CalendarState>,
) -> Gated {
    let states: Vec<CalendarState> = gate
        .calendars
        .iter()
        .filter_map(|c| states.get(c).cloned())
        .collect();
    let Some(closed) = calendar::closed(&states) else {
        let reason = format!("{}: {} runs", describe(&states), action.name());
        return Gated {
            action: Some(action),
            note: CalendarNote {
                states,
                skipped: None,
                instead_of: None,
                reason,
            },
        };
    };
    match gate.when_closed {
        WhenClosed::Skip => Gated {
            action: None,
            note: CalendarNote {
                states,
                skipped: Some(action.name()),
                instead_of: None,
                reason: format!("{closed}: {} skipped", action.name()),
            },
        },
        WhenClosed::Apply(instead) => Gated {
            action: Some(instead),
            note: CalendarNote {
                states,
                skipped: None,
                instead_of: Some(action.name()),
                reason: format!("{closed}: {} instead of {}", instead.name(), action.name()),
            },
        },
    }
}

fn describe(states: &[CalendarState]) -> String {
    states
        .iter()
        .map(CalendarState::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::State;

    #[test]
    fn a_closed_calendar_skips_or_replaces_the_action() {
        let holidays = CalendarName::parse("public-holidays").unwrap();
        let states = |state| {
            BTreeMap::from([(
                holidays.clone(),
                CalendarState {
                    calendar: holidays.clone(),
                    state,
                    next_transition: Some("2026-12-27T00:00:00Z".into()),
                },
            )])
        };
        let night = Action::SetCapacity {
            min: 1,
            max: 1,
            desired: Some(1),
        };
        let gate = |when_closed| CalendarGate {
            calendars: vec![holidays.clone()],
            when_closed,
        };
        // (when closed, state, expected action, skipped, instead of)
        let cases = [
            (
                WhenClosed::Skip,
                State::Open,
                Some(Action::Restore),
                None,
                None,
            ),
            (WhenClosed::Skip, State::Closed, None, Some("restore"), None),
            (
                WhenClosed::Apply(night),
                State::Closed,
                Some(night),
                None,
                Some("restore"),
            ),
            (
                WhenClosed::Apply(night),
                State::Open,
                Some(Action::Restore),
                None,
                None,
            ),
        ];
        for (when_closed, state, action, skipped, instead_of) in cases {
            let got = gated(Action::Restore, &gate(when_closed), &states(state));
            assert_eq!(got.action, action, "{when_closed:?} {state:?}");
            assert_eq!(got.note.skipped, skipped);
            assert_eq!(got.note.instead_of, instead_of);
            assert!(
                got.note.reason.contains("public-holidays"),
                "{}",
                got.note.reason
            );
        }
        let skipped = gated(
            Action::Restore,
            &gate(WhenClosed::Skip),
            &states(State::Closed),
        );
        assert_eq!(
            skipped.note.reason,
            "calendar public-holidays is CLOSED until 2026-12-27T00:00:00Z: restore skipped"
        );
    }
}
