//! Change calendars in the local AWS: SSM `ChangeCalendar` documents of
//! iCalendar text, and the calendars' clock.
//!
//! The local AWS evaluates a calendar from its document with a real
//! iCalendar library (recurrences, time zones, all-day events), at the time
//! its clock says: real time, unless a test moved the clock for the calls
//! signed with one access key (a function process's own), so tests that
//! travel in time run side by side. Moving the clock answers with the
//! "Calendar State Change" events Change Calendar would have emitted on the
//! way, in their documented shape.

use aws_config::SdkConfig;
use aws_sdk_ssm::types::{DocumentFormat, DocumentType};
use serde_json::{Value, json};

use super::localaws::LocalAws;

/// A calendar's default state, as `X-CALENDAR-TYPE` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    /// Open except during its events (freezes, holidays).
    Open,
    /// Closed except during its events (change windows).
    Closed,
}

/// One iCalendar event of a calendar, as text lines (`DTSTART...`, `RRULE...`).
pub struct Event<'a> {
    /// Its summary.
    pub summary: &'a str,
    /// Its property lines, such as `DTSTART;TZID=Europe/Berlin:20261204T170000`.
    pub lines: &'a [&'a str],
}

/// The Europe/Berlin time zone, as calendar apps export it (CET/CEST).
pub const BERLIN: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n\
BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n\
DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n\
BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n\
DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n\
END:VTIMEZONE\r\n";

/// The document content of a calendar: AWS's own skeleton (the
/// AWS::SSM::Document example) with `events` and the time zone.
pub fn content(default: Default, events: &[Event<'_>]) -> String {
    let kind = match default {
        Default::Open => "DEFAULT_OPEN",
        Default::Closed => "DEFAULT_CLOSED",
    };
    let mut text = format!(
        "BEGIN:VCALENDAR\r\nPRODID:-//AWS//Change Calendar 1.0//EN\r\nVERSION:2.0\r\n\
X-CALENDAR-TYPE:{kind}\r\nX-WR-CALDESC:ecs-autopilot tests\r\n{BERLIN}"
    );
    for (i, event) in events.iter().enumerate() {
        text.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:event-{i}@ecs-autopilot\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:{}\r\n",
            event.summary
        ));
        for line in event.lines {
            text.push_str(line);
            text.push_str("\r\n");
        }
        text.push_str("END:VEVENT\r\n");
    }
    text.push_str("END:VCALENDAR\r\n");
    text
}

/// The weekend freeze: closed every Friday 17:00 to Monday 08:00 in Berlin.
pub fn weekend_freeze() -> String {
    content(
        Default::Open,
        &[Event {
            summary: "Weekend freeze",
            lines: &[
                "DTSTART;TZID=Europe/Berlin:20261127T170000",
                "DTEND;TZID=Europe/Berlin:20261130T080000",
                "RRULE:FREQ=WEEKLY;BYDAY=FR",
            ],
        }],
    )
}

/// Public holidays: closed all day on 25 and 26 December 2026.
pub fn public_holidays() -> String {
    content(
        Default::Open,
        &[
            Event {
                summary: "Christmas Day",
                lines: &["DTSTART;VALUE=DATE:20261225", "DTEND;VALUE=DATE:20261226"],
            },
            Event {
                summary: "Boxing Day",
                lines: &["DTSTART;VALUE=DATE:20261226", "DTEND;VALUE=DATE:20261227"],
            },
        ],
    )
}

/// Creates the calendar `name` with `content`; returns its document ARN.
pub async fn create(sdk: &SdkConfig, name: &str, content: &str) -> String {
    aws_sdk_ssm::Client::new(sdk)
        .create_document()
        .name(name)
        .document_type(DocumentType::ChangeCalendar)
        .document_format(DocumentFormat::Text)
        .content(content)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create calendar {name}: {e:?}"));
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    format!(
        "arn:aws:ssm:{region}:{}:document/{name}",
        super::localaws::ACCOUNT_ID
    )
}

impl LocalAws {
    /// Moves the calendars' clock for the calls signed with `access_key`
    /// (`None` for `now`: back to real time); returns the Calendar State
    /// Change events of every calendar between its old time and the new.
    pub async fn set_calendar_clock(&self, access_key: &str, now: Option<&str>) -> Vec<Value> {
        let answer = self
            .post_json(
                "/_autopilot/clock",
                json!({ "accessKey": access_key, "now": now }),
            )
            .await;
        answer["events"].as_array().cloned().unwrap_or_default()
    }

    /// As [`LocalAws::set_calendar_clock`], for a function process's calls.
    pub async fn set_clock_of(&self, process: &crate::LambdaProcess, now: &str) -> Vec<Value> {
        self.set_calendar_clock(process.access_key(), Some(now))
            .await
    }
}

/// The events among `events` about the calendar `name`.
pub fn events_of(events: &[Value], name: &str) -> Vec<Value> {
    let suffix = format!(":document/{name}");
    events
        .iter()
        .filter(|e| {
            e["resources"].as_array().is_some_and(|r| {
                r.iter()
                    .any(|r| r.as_str().is_some_and(|r| r.ends_with(&suffix)))
            })
        })
        .cloned()
        .collect()
}
