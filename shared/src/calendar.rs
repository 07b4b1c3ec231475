//! Change calendars: AWS Systems Manager Change Calendar's `OPEN` or
//! `CLOSED`, as the functions read it.
//!
//! A change calendar is an SSM document of type `ChangeCalendar` holding
//! iCalendar events; a `DEFAULT_OPEN` calendar is `CLOSED` during its events
//! (a freeze), a `DEFAULT_CLOSED` one `OPEN` during them (a change window).
//! `GetCalendarState` evaluates it at AWS's current time and says when the
//! state next changes
//! (<https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCalendarState.html>);
//! the functions never evaluate iCalendar themselves, so what they see is
//! what Change Calendar says.
//!
//! Used by redeploy-on-push (freeze windows), scheduled-scaling (holidays)
//! and the hooks' `calendar` check. [`CalendarStateChange`] is the
//! EventBridge event Change Calendar emits when a calendar's state changes.

use std::collections::BTreeMap;

use futures::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aws::AwsError;
use crate::events::{EventBridgeEvent, EventError, parse_event};

/// The detail-type of Change Calendar's state-change events.
pub const STATE_CHANGE: &str = "Calendar State Change";

/// A calendar as `GetCalendarState` takes it: a document name or ARN,
/// checked for shape.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CalendarName(String);

impl CalendarName {
    /// A document name (`[a-zA-Z0-9_.-]{3,128}`, the SSM document name rule)
    /// or a document ARN (`arn:<partition>:ssm:<region>:<account>:document/<name>`).
    pub fn parse(text: &str) -> Result<CalendarName, String> {
        let text = text.trim();
        let name = match text.strip_prefix("arn:") {
            Some(rest) => {
                let parts: Vec<&str> = rest.splitn(5, ':').collect();
                let [_partition, service, region, account, resource] = parts[..] else {
                    return Err(format!("{text:?} is not a document ARN"));
                };
                if service != "ssm" || region.is_empty() || account.len() != 12 {
                    return Err(format!(
                        "{text:?} is not an SSM document ARN (arn:aws:ssm:<region>:<account>:document/<name>)"
                    ));
                }
                resource
                    .strip_prefix("document/")
                    .ok_or_else(|| format!("{text:?} does not name a document"))?
            }
            None => text,
        };
        let valid = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
        if !(3..=128).contains(&name.len()) || !name.bytes().all(valid) {
            return Err(format!(
                "{name:?} is not a calendar name (3 to 128 letters, digits, _, - or .)"
            ));
        }
        Ok(CalendarName(text.to_owned()))
    }

    /// A list separated by commas or spaces (a tag value cannot hold a
    /// comma); empty entries are ignored.
    pub fn parse_list(text: &str) -> Result<Vec<CalendarName>, String> {
        text.split([',', ' '])
            .filter(|s| !s.trim().is_empty())
            .map(CalendarName::parse)
            .collect()
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The document name (the last part of an ARN).
    pub fn document(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Whether `arn` (from a state-change event) is this calendar.
    pub fn is(&self, arn: &str) -> bool {
        if self.0.starts_with("arn:") {
            self.0 == arn
        } else {
            arn.rsplit_once(":document/").map(|(_, name)| name) == Some(self.0.as_str())
        }
    }
}

impl TryFrom<String> for CalendarName {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        CalendarName::parse(&text)
    }
}

impl From<CalendarName> for String {
    fn from(name: CalendarName) -> String {
        name.0
    }
}

impl std::fmt::Display for CalendarName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `OPEN` or `CLOSED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    /// Actions may proceed.
    Open,
    /// Actions may not proceed.
    Closed,
}

impl State {
    /// `OPEN` or `CLOSED`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "OPEN",
            State::Closed => "CLOSED",
        }
    }
}

/// One calendar's state, as Change Calendar answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarState {
    /// The calendar asked about.
    pub calendar: CalendarName,
    /// Its state.
    pub state: State,
    /// When the state next changes (ISO 8601), if ever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_transition: Option<String>,
}

impl CalendarState {
    /// `calendar release-freeze is CLOSED until 2026-12-07T07:00:00Z`.
    pub fn describe(&self) -> String {
        match &self.next_transition {
            Some(next) => format!(
                "calendar {} is {} until {next}",
                self.calendar,
                self.state.as_str()
            ),
            None => format!("calendar {} is {}", self.calendar, self.state.as_str()),
        }
    }
}

/// The closed ones among `states`, described in one sentence, or `None`
/// when every calendar is open.
pub fn closed(states: &[CalendarState]) -> Option<String> {
    let closed: Vec<String> = states
        .iter()
        .filter(|s| s.state == State::Closed)
        .map(CalendarState::describe)
        .collect();
    (!closed.is_empty()).then(|| closed.join("; "))
}

/// The state of one calendar now (AWS's clock).
///
/// IAM: `ssm:GetCalendarState` on the calendar document.
pub async fn state(
    client: &aws_sdk_ssm::Client,
    calendar: &CalendarName,
) -> Result<CalendarState, AwsError> {
    let resource = format!("change calendar {calendar}");
    let answer = client
        .get_calendar_state()
        .calendar_names(calendar.as_str())
        .send()
        .await
        .map_err(|e| AwsError::new("get the state of", &resource, &e))?;
    let state = match answer.state() {
        Some(aws_sdk_ssm::types::CalendarState::Open) => State::Open,
        Some(aws_sdk_ssm::types::CalendarState::Closed) => State::Closed,
        _ => {
            return Err(AwsError::missing_field(
                "get the state of",
                resource,
                "State",
            ));
        }
    };
    Ok(CalendarState {
        calendar: calendar.clone(),
        state,
        next_transition: answer
            .next_transition_time()
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
    })
}

/// The states of `calendars`, each asked separately (so that the summary
/// can name the closed one) and at once (a function names a few); the
/// first error wins.
///
/// IAM: `ssm:GetCalendarState`.
pub async fn states(
    client: &aws_sdk_ssm::Client,
    calendars: &[CalendarName],
) -> Result<BTreeMap<CalendarName, CalendarState>, AwsError> {
    let answers = join_all(calendars.iter().map(|calendar| state(client, calendar))).await;
    answers
        .into_iter()
        .map(|answer| answer.map(|s| (s.calendar.clone(), s)))
        .collect()
}

/// The `detail` of a "Calendar State Change" event
/// (<https://docs.aws.amazon.com/systems-manager/latest/userguide/monitoring-systems-manager-event-examples.html>,
/// "AWS Systems Manager Change Calendar Events").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateChangeDetail {
    /// The calendar's new state.
    pub state: State,
    /// When it changed.
    #[serde(default)]
    pub at_time: Option<String>,
    /// When it changes next.
    #[serde(default)]
    pub next_transition_time: Option<String>,
}

/// A calendar's state changed: the calendar's document ARN (the event's
/// only resource) and the new state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarStateChange {
    /// `arn:aws:ssm:<region>:<account>:document/<name>`.
    pub calendar_arn: String,
    /// The detail.
    pub detail: StateChangeDetail,
}

/// The event name in errors.
const EVENT: &str = "Calendar State Change";

/// Reads a "Calendar State Change" event, or `None` when `payload` is
/// another kind of event (source other than `aws.ssm`, or another
/// detail-type). Errors name the field (`resources`, `detail.state`).
pub fn parse_state_change(payload: &Value) -> Result<Option<CalendarStateChange>, EventError> {
    let is_calendar = payload.get("source").and_then(Value::as_str) == Some("aws.ssm")
        && payload.get("detail-type").and_then(Value::as_str) == Some(STATE_CHANGE);
    if !is_calendar {
        return Ok(None);
    }
    let envelope: EventBridgeEvent<Value> = parse_event(EVENT, payload.clone())?;
    let detail: StateChangeDetail =
        parse_event(EVENT, envelope.detail).map_err(|e| EventError {
            path: format!("detail.{}", e.path),
            ..e
        })?;
    let calendar_arn = envelope
        .resources
        .iter()
        .flatten()
        .find(|r| r.contains(":document/"))
        .cloned()
        .ok_or_else(|| EventError {
            event: EVENT,
            path: "resources".into(),
            reason: "names no calendar document ARN".into(),
        })?;
    Ok(Some(CalendarStateChange {
        calendar_arn,
        detail,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calendar_names_are_document_names_or_arns() {
        let cases: [(&str, Result<&str, &str>); 9] = [
            ("release-freeze", Ok("release-freeze")),
            (
                "arn:aws:ssm:eu-west-1:123456789012:document/release-freeze",
                Ok("release-freeze"),
            ),
            ("ab", Err("not a calendar name")),
            ("has space", Err("not a calendar name")),
            ("a/b/c", Err("not a calendar name")),
            ("arn:aws:s3:::bucket", Err("not an SSM document ARN")),
            ("arn:aws:ssm", Err("not a document ARN")),
            (
                "arn:aws:ssm:eu-west-1:123456789012:parameter/x",
                Err("does not name a document"),
            ),
            (
                "arn:aws:ecs:eu-west-1:123456789012:document/x1",
                Err("not an SSM document ARN"),
            ),
        ];
        for (text, expected) in cases {
            match (CalendarName::parse(text), expected) {
                (Ok(name), Ok(document)) => assert_eq!(name.document(), document, "{text}"),
                (Err(error), Err(part)) => assert!(error.contains(part), "{text}: {error}"),
                (got, _) => panic!("{text}: {got:?}"),
            }
        }
        let list = CalendarName::parse_list(
            "freeze, holidays  arn:aws:ssm:eu-west-1:123456789012:document/sale",
        )
        .unwrap();
        assert_eq!(list.len(), 3);
        assert!(CalendarName::parse_list("ok-name, x").is_err());
    }

    #[test]
    fn a_calendar_is_matched_to_an_event_arn() {
        let arn = "arn:aws:ssm:eu-west-1:123456789012:document/release-freeze";
        let cases = [
            ("release-freeze", true),
            ("release", false),
            ("freeze", false),
            (arn, true),
            (
                "arn:aws:ssm:us-east-1:123456789012:document/release-freeze",
                false,
            ),
        ];
        for (name, expected) in cases {
            assert_eq!(
                CalendarName::parse(name).unwrap().is(arn),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn closed_calendars_are_described() {
        let state = |name: &str, state, next: Option<&str>| CalendarState {
            calendar: CalendarName::parse(name).unwrap(),
            state,
            next_transition: next.map(str::to_owned),
        };
        assert_eq!(
            closed(&[state("freeze", State::Open, Some("2026-12-04T17:00:00Z"))]),
            None
        );
        assert_eq!(
            closed(&[
                state("freeze", State::Closed, Some("2026-12-07T07:00:00Z")),
                state("sale", State::Open, None),
                state("holidays", State::Closed, None),
            ])
            .as_deref(),
            Some(
                "calendar freeze is CLOSED until 2026-12-07T07:00:00Z; calendar holidays is CLOSED"
            )
        );
    }

    fn documented(state: &str) -> Value {
        // The documented example, Change Calendar Events (see the module docs).
        json!({
            "version": "0",
            "id": "47a3f03a-f30d-1011-ac9a-du3bdEXAMPLE",
            "detail-type": "Calendar State Change",
            "source": "aws.ssm",
            "account": "123456789012",
            "time": "2024-09-19T18:00:07Z",
            "region": "us-east-2",
            "resources": ["arn:aws:ssm:us-east-2:123456789012:document/MyCalendar"],
            "detail": {
                "state": state,
                "atTime": "2024-09-19T18:00:07Z",
                "nextTransitionTime": "2024-10-11T18:00:07Z"
            }
        })
    }

    #[test]
    fn state_change_events_are_read_as_documented() {
        let change = parse_state_change(&documented("OPEN")).unwrap().unwrap();
        assert_eq!(
            change.calendar_arn,
            "arn:aws:ssm:us-east-2:123456789012:document/MyCalendar"
        );
        assert_eq!(change.detail.state, State::Open);
        assert_eq!(
            change.detail.next_transition_time.as_deref(),
            Some("2024-10-11T18:00:07Z")
        );
        let closed = parse_state_change(&documented("CLOSED")).unwrap().unwrap();
        assert_eq!(closed.detail.state, State::Closed);

        let error = parse_state_change(&documented("AJAR")).unwrap_err();
        assert!(error.to_string().contains("detail.state"), "{error}");
        let mut no_resource = documented("OPEN");
        no_resource["resources"] = json!([]);
        let error = parse_state_change(&no_resource).unwrap_err();
        assert!(error.to_string().contains("resources"), "{error}");
        let mut other = documented("OPEN");
        other["detail-type"] = json!("Parameter Store Change");
        assert_eq!(parse_state_change(&other).unwrap(), None);
    }
}
