"""AWS Systems Manager Change Calendar, evaluated for real, which moto 5.2.5 lacks.

moto 5.2.5 lists ``ChangeCalendar`` among the document types but parses every
document's content as JSON or YAML (``DocumentFormat`` ``TEXT`` is refused), so
a real Change Calendar document cannot be created, and it has no
``GetCalendarState``. This module models (awsJson 1.1, PascalCase members as in
botocore's ``ssm`` 2014-11-06 model; errors ``{"__type": ..., "message": ...}``
with HTTP 400, as moto's other SSM errors):

What a Change Calendar is
-------------------------

"When you create a Change Calendar entry, you're creating a Systems Manager
document of the type ChangeCalendar. In Change Calendar, the document stores
iCalendar 2.0 data in plaintext format" (user guide, "AWS Systems Manager Change
Calendar", https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-change-calendar.html).
Its type is ``DEFAULT_OPEN`` ("All actions can run by default, except during
calendar events. During events, the state of a DEFAULT_OPEN calendar is
CLOSED") or ``DEFAULT_CLOSED`` ("All actions are blocked by default, except
during calendar events. During events, the state of a DEFAULT_CLOSED calendar
is OPEN"), written ``X-CALENDAR-TYPE:DEFAULT_OPEN`` in the content (AWS's own
example, the ``AWS::SSM::Document`` resource's "Create a Systems Manager Change
Calendar document", https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ssm-document.html:
``BEGIN:VCALENDAR\\r\\nPRODID:-//AWS//Change Calendar 1.0//EN\\r\\nVERSION:2.0\\r\\n
X-CALENDAR-TYPE:DEFAULT_OPEN\\r\\nX-WR-CALDESC:test\\r\\nBEGIN:VTODO ... END:VCALENDAR``
with ``"DocumentType": "ChangeCalendar", "DocumentFormat": "TEXT"``).

Documents (moto stores them; only the parse is replaced)
--------------------------------------------------------

A ``ChangeCalendar`` document stays a moto ``Document`` in moto's ``Documents``
(versions, default version, tags, permissions, ``ListDocuments``,
``DeleteDocument`` as moto has them): ``Document.__init__`` is wrapped so that
for ``DocumentType`` ``ChangeCalendar`` it checks the calendar (below) instead
of parsing JSON/YAML, and moto's document-format check lets ``TEXT`` through
(botocore's ``DocumentFormat`` is ``YAML``, ``JSON``, ``TEXT``). Other document
types keep moto's behaviour and answers exactly (a ``TEXT`` one still answers
moto's ``ValidationException`` "Invalid document format TEXT", in moto's order).
Why this way: moto's create, update, describe, delete, default-version and
sharing logic is reused unchanged, so a calendar is a document like any other
and ``POST /moto-api/reset`` clears it with the rest of moto.

* ``CreateDocument`` with ``DocumentType: ChangeCalendar``: ``DocumentFormat``
  must be ``TEXT`` (the API reference, ``DocumentFormat``: "The document format
  can be JSON, YAML, or TEXT. JSON is the default format", so an absent one is
  ``JSON``) and the
  content an iCalendar object (RFC 5545, parsed with ``icalendar``): one
  ``VCALENDAR`` whose components parse without errors, with
  ``X-CALENDAR-TYPE`` ``DEFAULT_OPEN`` or ``DEFAULT_CLOSED``, each ``VEVENT``
  with a ``DTSTART`` (RFC 5545 3.6.1: required when the object has no
  ``METHOD``), a ``DTEND`` not before it, and every ``TZID`` naming a time zone
  (a ``VTIMEZONE`` of the object, or a name ``icalendar`` resolves: IANA and
  Windows names). Anything else answers ``InvalidDocumentContent`` ("The content
  for the document isn't valid", the closest of the errors
  https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateDocument.html
  lists; a wrong format included: the reference lists no format error). The
  name rules are moto's (``ValidationException``, ``DocumentAlreadyExists``).
  The answer is moto's ``DocumentDescription``: ``Name``, ``DocumentType``
  ``ChangeCalendar``, ``DocumentFormat`` ``TEXT``, ``Status`` ``Active``,
  ``DocumentVersion`` ``"1"``, ``LatestVersion``, ``DefaultVersion``,
  ``CreatedDate``, ``Owner``, ``Hash`` (SHA-256 of the content), ``HashType``
  ``Sha256``, ``PlatformTypes`` ``[]``, ``Tags`` when given; no
  ``SchemaVersion``, ``Description`` or ``Parameters`` (what AWS answers for
  them for a calendar is not documented).
* ``UpdateDocument`` (moto's: "Currently, Systems Manager supports updating
  only the latest version of the document. You can specify the version number
  of the latest version or use the $LATEST variable", else
  ``InvalidDocumentVersion``; ``DuplicateDocumentContent``,
  ``DuplicateDocumentVersionName``) makes version N+1 with the same checks
  (``DocumentFormat`` ``TEXT``, else ``InvalidDocumentContent``); it becomes
  the default only through ``UpdateDocumentDefaultVersion`` (moto's).
* ``GetDocument`` answers a calendar's content as ``TEXT`` when no
  ``DocumentFormat`` is asked for (moto would convert it to ``JSON``); asking
  ``JSON`` or ``YAML`` of a calendar answers ``ValidationException`` (the text
  cannot be converted; what AWS answers is not documented).
  ``DescribeDocument``, ``DeleteDocument``: moto's.

``GetCalendarState(CalendarNames, AtTime?)``
--------------------------------------------

-> ``{"State": "OPEN" | "CLOSED", "AtTime", "NextTransitionTime"}`` (API
reference, https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCalendarState.html;
user guide, https://docs.aws.amazon.com/systems-manager/latest/userguide/change-calendar-getstate.html):

* ``CalendarNames``: "The names of Amazon Resource Names (ARNs) of the Systems
  Manager documents": a name in the caller's account and Region, or
  ``arn:<partition>:ssm:<region>:<account>:document/<name>``. An ARN of another
  account finds the document only when it is shared with the caller
  (``ModifyDocumentPermission``: "owned by or shared with your account", the
  user guide); an ARN of another Region finds nothing (documents are regional).
  The default version of each document is evaluated (not documented: SSM's rule
  for a document named without a version).
* "If you specify more than one calendar in a request, the command returns the
  status of OPEN only if all calendars in the request are open." A calendar is
  open, at an instant, when it is ``DEFAULT_OPEN`` and the instant is in none of
  its events, or ``DEFAULT_CLOSED`` and the instant is in one of them; an event
  covers [start, end).
* ``AtTime``: "(Optional) The specific time ... in ISO 8601 format. If you
  don't specify a value or AtTime, the current time is used": here the harness
  clock (below). Any ISO 8601 form Python reads (``2020-07-30T11:05:14-0700``,
  the guide's example, ``...Z``, ``...+02:00``, fractions); one without an
  offset is UTC. Answered, as ``NextTransitionTime``, as UTC to the second, the
  guide's ``"2020-07-30T16:18:18Z"``.
* ``NextTransitionTime``: "the calendar state will change. If the current
  calendar state is OPEN, NextTransitionTime indicates when the calendar state
  changes to CLOSED, and vice-versa": the first instant after ``AtTime`` at
  which the combined state differs. Overlapping and back-to-back events of a
  calendar make one closed (or open) stretch: no transition inside it; a
  calendar opening at the instant another closes is no transition. Omitted when
  the state does not change within ``HORIZON`` (10 years; a local limit, AWS
  documents none).
* Errors, of the four the reference lists: ``InvalidDocument`` ("The specified
  SSM document doesn't exist") for an unknown calendar, ``InvalidDocumentType``
  ("The SSM document type isn't valid") for a document that is not a
  ``ChangeCalendar``, ``UnsupportedCalendarException`` ("The calendar entry
  contained in the specified SSM document isn't supported") when the stored
  calendar cannot be evaluated. The reference lists no error for a bad
  ``AtTime`` or an empty ``CalendarNames`` (what AWS answers is not
  documented): both answer ``ValidationException``, SSM's own error for an
  invalid request (botocore's ``ssm`` model: "The request isn't valid. Verify
  that you entered valid contents for the command and try again"; modelled for
  other operations, and one of the errors ``conformance.py`` lets any
  operation answer).

How the iCalendar is evaluated
------------------------------

With ``icalendar`` (parsing, time zones: ``VTIMEZONE``, IANA and Windows names)
and ``recurring-ical-events`` (expansion: ``RRULE``, ``RDATE``, ``EXDATE``,
``RECURRENCE-ID`` overrides, ``DURATION``), pinned in ``requirements.txt``.
Strict RFC 5545: ``X-WR-TIMEZONE`` (a non-standard property) is not applied.
Not documented for Change Calendar, modelled: floating times (no ``TZID``, no
``Z``) and all-day ``DATE`` events are in UTC (a holiday on 2024-12-25 covers
2024-12-25T00:00:00Z to 2024-12-26T00:00:00Z); an event without ``DTEND`` or
``DURATION`` lasts one day when all-day, else nothing (RFC 5545 3.6.1);
``VTODO`` and other components are ignored (the CloudFormation example's
calendar holds only a ``VTODO``: no events, always its default state).

The clock
---------

When ``AtTime`` is omitted AWS uses its current time; here that is the harness
clock: real UTC now, unless a test fixes it with ``POST /_autopilot/clock
{"now": "<ISO 8601>"}`` (it then stays at that instant until set again;
``{"now": null}`` goes back to real time). With ``"accessKey": K`` the time is
fixed only for the ``GetCalendarState`` calls signed with access key K (a
function process's own), so tests that move their time run side by side; K's
``null`` makes it follow the default clock again. ``GET
/_autopilot/clock[?accessKey=K]`` -> ``{"now", "fixed"}`` (and ``"accessKey"``
when given). ``POST /moto-api/reset`` puts every clock back to real time.

Calendar state-change events
----------------------------

"Calendar State Change" events, in the shape of the user guide's "AWS Systems
Manager Change Calendar Events"
(https://docs.aws.amazon.com/systems-manager/latest/userguide/monitoring-systems-manager-event-examples.html):
``{"version": "0", "id", "detail-type": "Calendar State Change", "source":
"aws.ssm", "account", "time", "region", "resources": [the document ARN],
"detail": {"state", "atTime", "nextTransitionTime"}}``, one per change of a
calendar's own state (not per iCalendar event: back-to-back events make no
event between them), per ``ChangeCalendar`` document of every account and
Region. ``time`` and ``atTime`` are the transition (the guide's examples show
``time`` a few seconds after ``atTime``; modelled as the same instant);
``nextTransitionTime`` is the calendar's next one after it (omitted when there
is none within ``HORIZON``); ``id`` is a UUID derived from the document, the
instant and the state, so the same transition has the same id however it is
asked for. "State changes for calendars shared from other AWS accounts are not
currently supported": each event goes to the owner's account only. They are
not put on EventBridge (moto's) here; the test-only endpoints serve them:

* ``POST /_autopilot/clock {"accessKey"?, "now": ISO | null}`` -> ``{"now",
  "fixed", "accessKey"?, "events": [...]}``: every event (of every calendar)
  whose transition is in (that clock's old now, its new now], in time order
  (then by ARN); ``[]`` when the clock moves back.
* ``GET /_autopilot/ssm/calendar-events?from=ISO&to=ISO`` -> ``{"events":
  [...]}``: the same for any window (from, to], without moving the clock.

Bad requests answer 400 ``{"error"}`` naming the field (``now``,
``accessKey``, ``from``, ``to``); a stored calendar that cannot be evaluated 500
naming it.

State lives on moto's SSM backend objects (the documents) and on the clocks,
which the wrapped ``MotoAPIBackend.reset`` puts back, so ``POST /moto-api/reset``
clears both.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import os
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import icalendar
from recurring_ical_events import CalendarQuery

import conformance
import counting
import moto.ssm.models as ssm_models
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.moto_api._internal.models import MotoAPIBackend
from moto.ssm.exceptions import InvalidDocumentContent, SSMException, ValidationException
from moto.ssm.models import Document, SimpleSystemManagerBackend, ssm_backends
from moto.ssm.responses import SimpleSystemManagerResponse
from moto.utilities.utils import get_partition

CALENDAR_DOCUMENT = "ChangeCalendar"
CALENDAR_TYPES = ("DEFAULT_OPEN", "DEFAULT_CLOSED")
OPEN, CLOSED = "OPEN", "CLOSED"
FORMATS = ("YAML", "JSON", "TEXT")  # botocore's DocumentFormat
HORIZON = dt.timedelta(days=3653)  # how far ahead a next transition is looked for
FIRST_WINDOW = dt.timedelta(days=1)  # the first window events are expanded in
UTC = dt.timezone.utc
EVENT_NAMESPACE = uuid.UUID("6f1c4f0e-6a57-4b4e-9d57-2f1f3c0d7a11")
DOCUMENT_ARN = re.compile(
    r"^arn:(?P<partition>[^:]+):ssm:(?P<region>[^:]+):(?P<account>\d{12}):document/(?P<name>.+)$"
)
# Properties whose TZID must name a time zone (RFC 5545 3.2.19).
ZONED_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE")
# The document operations a calendar's request goes to this module for (conformance).
DOCUMENT_OPERATIONS = (
    "GetDocument",
    "DescribeDocument",
    "UpdateDocument",
    "UpdateDocumentDefaultVersion",
    "DeleteDocument",
)

_lock = threading.RLock()


def _error(code: str, message: str) -> SSMException:
    return SSMException(code, message)


def iso(value: dt.datetime) -> str:
    """UTC to the second, as the user guide's ``"2020-07-30T16:18:18Z"``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any) -> dt.datetime:
    """An ISO 8601 time (ValueError otherwise); one without an offset is UTC."""
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO 8601 time string, got {text!r}")
    value = dt.datetime.fromisoformat(text.strip())
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value > dt.datetime.max.replace(tzinfo=UTC) - HORIZON:
        raise ValueError(f"{text!r} is too far ahead to look {HORIZON.days} days beyond")
    return value


# --- the calendar: parsing and checking (CreateDocument, UpdateDocument) ------------------


@dataclass(frozen=True)
class Calendar:
    """A parsed Change Calendar: its type and its expandable events."""

    default_open: bool
    query: CalendarQuery


def _invalid(detail: str) -> InvalidDocumentContent:
    # moto's message for invalid content, and what is wrong with it.
    return InvalidDocumentContent(f"The content for the document is not valid: {detail}")


def _parse_ical(content: Any) -> icalendar.Calendar:
    """The content as one iCalendar object (RFC 5545 3.4), or InvalidDocumentContent."""
    if not isinstance(content, str) or not content.strip():
        raise _invalid("a Change Calendar document holds iCalendar text")
    try:
        calendar = icalendar.Calendar.from_ical(content)
    except ValueError as err:
        raise _invalid(f"not iCalendar: {err}") from None
    if not isinstance(calendar, icalendar.Calendar) or calendar.name != "VCALENDAR":
        raise _invalid("the content must be one VCALENDAR object")
    return calendar


def _calendar_type(calendar: icalendar.Calendar) -> str:
    # "X-CALENDAR-TYPE:DEFAULT_OPEN" (the CloudFormation example); the two types
    # the user guide names.
    value = str(calendar.get("X-CALENDAR-TYPE", "")).strip()
    if value not in CALENDAR_TYPES:
        shown = f"X-CALENDAR-TYPE:{value}" if value else "no X-CALENDAR-TYPE"
        raise _invalid(f"{shown}; a Change Calendar is DEFAULT_OPEN or DEFAULT_CLOSED")
    return value


def _zoned_values(prop: Any) -> Iterator[tuple[str | None, Any]]:
    """(TZID, value) of each date of a property: one or several lines, each one
    value or a list (EXDATE, RDATE: the TZID is the line's)."""
    for line in prop if isinstance(prop, list) else [prop]:
        tzid = getattr(line, "params", {}).get("TZID")
        for value in getattr(line, "dts", None) or [line]:
            yield tzid, getattr(value, "dt", None)


def _check_zones(component: icalendar.cal.Component) -> None:
    # RFC 5545 3.2.19: a TZID names a VTIMEZONE of the object; icalendar
    # leaves a time whose TZID it cannot resolve without a zone (floating).
    for name in ZONED_PROPERTIES:
        for tzid, moment in _zoned_values(component.get(name, [])):
            if tzid and isinstance(moment, dt.datetime) and moment.tzinfo is None:
                raise _invalid(f"{name};TZID={tzid}: no such time zone (and no VTIMEZONE for it)")


def _check_event(event: icalendar.cal.Component) -> None:
    """One VEVENT: a DTSTART (RFC 5545 3.6.1), known zones, no end before start."""
    uid = event.get("UID", "(no UID)")
    if event.get("DTSTART") is None:
        raise _invalid(f"VEVENT {uid} has no DTSTART")
    _check_zones(event)
    try:
        start, end = event.start, event.end
    except Exception as err:  # noqa: BLE001 - icalendar raises several kinds
        raise _invalid(f"VEVENT {uid}: {err}") from None
    if _utc(end) < _utc(start):
        raise _invalid(f"VEVENT {uid} ends before it starts")


def _check_components(calendar: icalendar.Calendar) -> None:
    """No component with a value icalendar could not parse; every VEVENT checked."""
    for component in calendar.walk():
        errors = getattr(component, "errors", None)
        if errors:
            name, message = errors[0]
            raise _invalid(f"{component.name} {name}: {message}")
        if component.name == "VEVENT":
            _check_event(component)


def parse_calendar(content: Any) -> Calendar:
    """Check a Change Calendar's content and make it evaluable (InvalidDocumentContent)."""
    calendar = _parse_ical(content)
    kind = _calendar_type(calendar)
    _check_components(calendar)
    try:
        # Strict RFC 5545: CalendarQuery itself, not recurring_ical_events.of,
        # which would apply X-WR-TIMEZONE.
        query = CalendarQuery(calendar)
    except Exception as err:  # noqa: BLE001 - the library raises several kinds
        raise _invalid(f"cannot expand the events: {err}") from None
    return Calendar(default_open=kind == "DEFAULT_OPEN", query=query)


# --- the calendar: evaluation ---------------------------------------------------------------


def _utc(value: dt.date | dt.datetime) -> dt.datetime:
    """An event time as UTC: a DATE is midnight UTC, a floating time UTC (modelled)."""
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _occurrences(
    calendar: Calendar, since: dt.datetime, until: dt.datetime
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """(start, end) of each occurrence happening in [since, until), by start.

    Asked of ``recurring-ical-events`` in windows that double (1 day, 2, 4,
    ...), so that a near answer costs one small expansion and the horizon a
    dozen. An occurrence reaching into the next window is given once.
    """
    low, span = since, FIRST_WINDOW
    previous: set[tuple[dt.datetime, dt.datetime, str]] = set()
    while low < until:
        high = min(low + span, until)
        window = {
            (_utc(event.start), _utc(event.end), str(event.get("UID", "")))
            for event in calendar.query.between(low, high)
        }
        for start, end, _ in sorted(window - previous):
            if start < until:
                yield start, end
        previous, low, span = window, high, span * 2


def _blocks(
    calendar: Calendar, since: dt.datetime, until: dt.datetime
) -> Iterator[tuple[dt.datetime, dt.datetime | None]]:
    """The calendar's events as merged stretches [start, end) ending after ``since``.

    Overlapping and back-to-back occurrences are one stretch (the calendar's
    state does not change inside it). Occurrences starting at or after
    ``until`` are not looked at, so a stretch still going at ``until`` may go
    on: its end is None (unknown within the horizon).
    """
    current: list[dt.datetime] | None = None
    for start, end in _occurrences(calendar, since, until):
        if end <= start or end <= since:
            continue  # no instant in it, or over before since
        if current is not None and start <= current[1]:
            current[1] = max(current[1], end)
            continue
        if current is not None:
            yield current[0], current[1]
        current = [start, end]
    if current is not None:
        yield current[0], (None if current[1] >= until else current[1])


def is_open(calendar: Calendar, in_event: bool) -> bool:
    # User guide: a DEFAULT_OPEN calendar is CLOSED during its events, a
    # DEFAULT_CLOSED one OPEN during them.
    return in_event != calendar.default_open


def _timeline(
    calendar: Calendar, since: dt.datetime, until: dt.datetime
) -> tuple[bool, Iterator[tuple[dt.datetime, bool]]]:
    """Whether ``since`` is in an event, and each later (instant, in an event?) change."""
    blocks = _blocks(calendar, since, until)
    first = next(blocks, None)
    in_event = first is not None and first[0] <= since

    def changes() -> Iterator[tuple[dt.datetime, bool]]:
        for start, end in itertools.chain([first] if first else [], blocks):
            if start > since:
                yield start, True
            if end is None:
                return
            yield end, False

    return in_event, changes()


def _push_next(
    pending: list[tuple[dt.datetime, int, bool]],
    streams: list[Iterator[tuple[dt.datetime, bool]]],
    index: int,
) -> bool:
    """Queue calendar ``index``'s next change; False when it has no more."""
    change = next(streams[index], None)
    if change is None:
        return False
    heapq.heappush(pending, (change[0], index, change[1]))
    return True


def combined_state(
    calendars: list[Calendar], at: dt.datetime
) -> tuple[bool, dt.datetime | None]:
    """(open?, next transition) of calendars taken together: "OPEN only if all
    calendars in the request are open" (API reference).

    Changes at one instant are applied together, so one calendar opening as
    another closes is no transition. A calendar closed with no change left
    keeps the whole closed: the others are not expanded further.
    """
    until = at + HORIZON
    states: list[bool] = []
    streams: list[Iterator[tuple[dt.datetime, bool]]] = []
    pending: list[tuple[dt.datetime, int, bool]] = []
    live: set[int] = set()
    for index, calendar in enumerate(calendars):
        in_event, changes = _timeline(calendar, at, until)
        states.append(is_open(calendar, in_event))
        streams.append(changes)
        if _push_next(pending, streams, index):
            live.add(index)
    open_now = all(states)
    while pending and all(states[i] or i in live for i in range(len(calendars))):
        when = pending[0][0]
        while pending and pending[0][0] == when:
            _, index, in_event = heapq.heappop(pending)
            states[index] = is_open(calendars[index], in_event)
            if not _push_next(pending, streams, index):
                live.discard(index)
        if all(states) != open_now:
            return open_now, when
    return open_now, None


def state_changes(
    calendar: Calendar, after: dt.datetime, through: dt.datetime
) -> Iterator[tuple[dt.datetime, bool, dt.datetime | None]]:
    """(instant, open?, next change) of each change of one calendar's state in (after, through]."""
    _, changes = _timeline(calendar, after, through + HORIZON)
    pending = next(changes, None)
    while pending is not None and pending[0] <= through:
        following = next(changes, None)
        yield pending[0], is_open(calendar, pending[1]), following[0] if following else None
        pending = following


# --- documents ---------------------------------------------------------------------------------


def calendar_of(document: Document) -> Calendar | None:
    """The parsed calendar of a ChangeCalendar document (None for other documents)."""
    return getattr(document, "_autopilot_calendar", None)


_original_document_init = Document.__init__


def _document_init(
    self: Document,
    account_id: str,
    name: str,
    version_name: str,
    content: str,
    document_type: str,
    document_format: str,
    requires: list[dict[str, str]],
    attachments: list[dict[str, Any]],
    target_type: str,
    document_version: str = "1",
) -> None:
    """moto's Document, except that a ChangeCalendar is checked as a calendar."""
    if document_type != CALENDAR_DOCUMENT:
        _original_document_init(
            self, account_id, name, version_name, content, document_type, document_format,
            requires, attachments, target_type, document_version,
        )
        return
    # The members moto's Document sets, then the calendar in place of JSON/YAML.
    self.name, self.version_name, self.content = name, version_name, content
    self.document_type, self.document_format = document_type, document_format
    self.requires, self.attachments, self.target_type = requires, attachments, target_type
    self.status, self.document_version = "Active", document_version
    self.owner, self.created_date = account_id, utcnow()
    if document_format != "TEXT":
        # API reference, CreateDocument: "JSON is the default format".
        raise _invalid(f"a ChangeCalendar document's DocumentFormat is TEXT, not {document_format}")
    self._autopilot_calendar = parse_calendar(content)  # type: ignore[attr-defined]
    self.content_json = None
    self.schema_version = self.description = self.outputs = self.files = None
    self.platform_types: list[str] = []
    self.parameter_list = None


def _validate_document_format(document_format: str) -> None:
    # botocore's DocumentFormat: YAML, JSON, TEXT (moto's check knows the first two).
    if document_format not in FORMATS:
        raise ValidationException("Invalid document format " + str(document_format))


def _default_document(backend: SimpleSystemManagerBackend, name: Any) -> Document | None:
    documents = backend._documents.get(name) if isinstance(name, str) else None
    return documents.get_default_version() if documents else None


def _is_calendar(backend: SimpleSystemManagerBackend, name: Any) -> bool:
    document = _default_document(backend, name)
    return document is not None and document.document_type == CALENDAR_DOCUMENT


_original_update_document = SimpleSystemManagerBackend.update_document


def update_document(self: SimpleSystemManagerBackend, *args: Any, **kwargs: Any) -> dict[str, Any]:
    # moto refused TEXT before anything else; so it still does, but for a calendar.
    if kwargs.get("document_format") == "TEXT" and not _is_calendar(self, kwargs.get("name")):
        raise ValidationException("Invalid document format TEXT")
    return _original_update_document(self, *args, **kwargs)


_original_document_content = SimpleSystemManagerBackend._get_document_content


def _get_document_content(document_format: str, ssm_document: Document) -> str:
    # A calendar is text: it cannot be answered as JSON or YAML (not documented).
    if calendar_of(ssm_document) is not None and document_format != "TEXT":
        raise ValidationException(
            f"The document {ssm_document.name} is a ChangeCalendar document in TEXT "
            f"format; it cannot be returned as {document_format}."
        )
    return _original_document_content(document_format, ssm_document)


_original_r_get_document = SimpleSystemManagerResponse.get_document


def _r_get_document(self: SimpleSystemManagerResponse) -> ActionResult:
    # moto defaults DocumentFormat to JSON; a calendar asked for without one is
    # answered in its own format, TEXT.
    name = self._get_param("Name")
    if self._get_param("DocumentFormat") is None and _is_calendar(self.ssm_backend, name):
        return ActionResult(self.ssm_backend.get_document(
            name=name,
            document_version=self._get_param("DocumentVersion"),
            version_name=self._get_param("VersionName"),
            document_format=None,
        ))
    return _original_r_get_document(self)


# --- GetCalendarState --------------------------------------------------------------------------


def _find_document(
    backend: SimpleSystemManagerBackend, name_or_arn: str
) -> tuple[str, Document | None]:
    """(the name, its default version) of a calendar named in a request.

    An ARN finds a document of the caller's Region: the caller's own, or one
    another account shares with it ("owned by or shared with your account").
    """
    match = DOCUMENT_ARN.match(name_or_arn)
    if match is None:
        return name_or_arn, _default_document(backend, name_or_arn)
    name, account = match.group("name"), match.group("account")
    if match.group("region") != backend.region_name:
        return name, None
    if account == backend.account_id:
        return name, _default_document(backend, name)
    owner = ssm_backends[account][backend.region_name]
    documents = owner._documents.get(name)
    shared = documents is not None and (
        backend.account_id in documents.permissions or "all" in documents.permissions
    )
    return name, documents.get_default_version() if shared else None


def _calendar_named(backend: SimpleSystemManagerBackend, name_or_arn: Any) -> Calendar:
    if not isinstance(name_or_arn, str) or not name_or_arn:
        raise ValidationException("CalendarNames holds document names or ARNs")
    name, document = _find_document(backend, name_or_arn)
    if document is None:
        # API reference: "InvalidDocument: The specified SSM document doesn't exist."
        raise _error("InvalidDocument", f"The specified document does not exist: {name_or_arn}")
    calendar = calendar_of(document)
    if calendar is None:
        # "InvalidDocumentType: The SSM document type isn't valid."
        raise _error(
            "InvalidDocumentType",
            f"The document {name} is of type {document.document_type}, not ChangeCalendar.",
        )
    return calendar


def _at_time(at_time: Any, access_key: str | None) -> dt.datetime:
    if at_time is None:
        # "If you don't specify a value or AtTime, the current time is used."
        return CLOCK.now(access_key)
    try:
        return parse_time(at_time)
    except ValueError as err:
        raise ValidationException(
            f"AtTime {at_time!r} is not a valid ISO 8601 time (e.g. 2020-07-30T16:18:18Z): {err}"
        ) from None


def get_calendar_state(
    self: SimpleSystemManagerBackend, calendar_names: Any, at_time: Any,
    access_key: str | None = None,
) -> dict[str, str]:
    if not isinstance(calendar_names, list) or not calendar_names:
        raise ValidationException("CalendarNames must name at least one calendar")
    calendars = [_calendar_named(self, name) for name in calendar_names]
    at = _at_time(at_time, access_key)
    with _lock:
        try:
            open_now, next_transition = combined_state(calendars, at)
        except Exception as err:  # noqa: BLE001 - the library raises several kinds
            # "UnsupportedCalendarException: The calendar entry contained in the
            # specified SSM document isn't supported."
            raise _error("UnsupportedCalendarException", f"The calendar cannot be evaluated: {err}")
    answer = {"State": OPEN if open_now else CLOSED, "AtTime": iso(at)}
    if next_transition is not None:
        answer["NextTransitionTime"] = iso(next_transition)
    return answer


def _r_get_calendar_state(self: SimpleSystemManagerResponse) -> ActionResult:
    return ActionResult(self.ssm_backend.get_calendar_state(
        self._get_param("CalendarNames"), self._get_param("AtTime"), self.get_access_key()
    ))


# --- the clock -----------------------------------------------------------------------------------


class Clock:
    """The harness's current time: real UTC now, or an instant a test fixed.

    One clock for all (the default), and one per access key that a test
    fixed (a function process signs with its own key), so that tests moving
    their time run side by side; a key without its own follows the default.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._default: dt.datetime | None = None
        self._keys: dict[str, dt.datetime] = {}

    def _fixed(self, key: str | None) -> dt.datetime | None:
        return self._keys.get(key or "") or self._default

    def now(self, key: str | None = None) -> dt.datetime:
        with self._lock:
            return self._fixed(key) or dt.datetime.now(UTC)

    def set(
        self, fixed: dt.datetime | None, key: str | None = None
    ) -> tuple[dt.datetime, dt.datetime]:
        """Fix the default clock or ``key``'s (None: back to real time, or for a
        key back to the default); (its time before, its time after)."""
        with self._lock:
            before = self._fixed(key) or dt.datetime.now(UTC)
            if key is None:
                self._default = fixed
            elif fixed is None:
                self._keys.pop(key, None)
            else:
                self._keys[key] = fixed
            return before, self._fixed(key) or dt.datetime.now(UTC)

    def reset(self) -> None:
        with self._lock:
            self._default = None
            self._keys.clear()

    def report(self, key: str | None = None) -> dict[str, Any]:
        with self._lock:
            fixed = self._fixed(key)
            answer = {"now": iso(fixed or dt.datetime.now(UTC)), "fixed": fixed is not None}
        return answer if key is None else {"accessKey": key, **answer}


CLOCK = Clock()

_original_moto_api_reset = MotoAPIBackend.reset


def _moto_api_reset(self: MotoAPIBackend) -> None:
    # POST /moto-api/reset: moto's state, and every clock back to real time.
    _original_moto_api_reset(self)
    CLOCK.reset()


# --- Calendar State Change events ----------------------------------------------------------------


def _all_calendars() -> Iterator[tuple[SimpleSystemManagerBackend, str, Calendar]]:
    """(backend, name, calendar) of every ChangeCalendar document's default version."""
    for account_backends in list(ssm_backends.values()):
        for backend in list(account_backends.values()):
            for name, documents in list(backend._documents.items()):
                calendar = calendar_of(documents.get_default_version())
                if calendar is not None:
                    yield backend, name, calendar


def document_arn(backend: SimpleSystemManagerBackend, name: str) -> str:
    partition = get_partition(backend.region_name)
    return f"arn:{partition}:ssm:{backend.region_name}:{backend.account_id}:document/{name}"


def state_change_event(
    backend: SimpleSystemManagerBackend, arn: str, at: dt.datetime, open_: bool,
    next_transition: dt.datetime | None,
) -> dict[str, Any]:
    """A "Calendar State Change" event, as the user guide's examples have it."""
    state = OPEN if open_ else CLOSED
    detail = {"state": state, "atTime": iso(at)}
    if next_transition is not None:
        detail["nextTransitionTime"] = iso(next_transition)
    return {
        "version": "0",
        "id": str(uuid.uuid5(EVENT_NAMESPACE, f"{arn}|{iso(at)}|{state}")),
        "detail-type": "Calendar State Change",
        "source": "aws.ssm",
        "account": backend.account_id,
        "time": iso(at),
        "region": backend.region_name,
        "resources": [arn],
        "detail": detail,
    }


class EndpointError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def calendar_events(after: dt.datetime, through: dt.datetime) -> list[dict[str, Any]]:
    """Every calendar's state-change events in (after, through], in time order."""
    found: list[tuple[dt.datetime, str, dict[str, Any]]] = []
    with _lock:
        for backend, name, calendar in _all_calendars():
            arn = document_arn(backend, name)
            try:
                changes = list(state_changes(calendar, after, through))
            except Exception as err:  # noqa: BLE001 - the library raises several kinds
                raise EndpointError(500, f"calendar {arn} cannot be evaluated: {err}") from None
            for at, open_, next_transition in changes:
                event = state_change_event(backend, arn, at, open_, next_transition)
                found.append((at, arn, event))
    found.sort(key=lambda item: (item[0], item[1]))
    return [event for _, _, event in found]


# --- test-only endpoints (served by the middleware) ---------------------------------------------


def _time_field(request: dict[str, Any], name: str, nullable: bool = False) -> dt.datetime | None:
    if name not in request:
        what = "an ISO 8601 time" + (" or null" if nullable else "")
        raise EndpointError(400, f"{name} is required ({what})")
    if request[name] is None and nullable:
        return None
    try:
        return parse_time(request[name])
    except ValueError as err:
        raise EndpointError(400, f"{name}: {err}") from None


def _access_key(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise EndpointError(400, "accessKey must be an access key ID (or absent: the default clock)")
    return value


def clock_report(query: dict[str, list[str]]) -> dict[str, Any]:
    """``GET /_autopilot/clock[?accessKey=K]``."""
    return CLOCK.report(_access_key((query.get("accessKey") or [None])[0]))


def set_clock(request: Any) -> dict[str, Any]:
    """``POST /_autopilot/clock {"accessKey"?, "now": ISO | null}``: the new
    time, and the calendar state changes in (old now, new now]."""
    if not isinstance(request, dict):
        raise EndpointError(400, 'expected a JSON object {"accessKey"?, "now": ISO 8601 | null}')
    key = _access_key(request.get("accessKey"))
    fixed = _time_field(request, "now", nullable=True)
    with _lock:
        before, after = CLOCK.set(fixed, key)
        events = calendar_events(before, after) if after > before else []
    return {**CLOCK.report(key), "events": events}


def events_between(query: dict[str, list[str]]) -> dict[str, Any]:
    """``GET /_autopilot/ssm/calendar-events?from=ISO&to=ISO``."""
    request = {name: values[0] for name, values in query.items() if values}
    start = _time_field(request, "from")
    stop = _time_field(request, "to")
    if stop < start:
        raise EndpointError(400, "to must not be before from")
    return {"events": calendar_events(start, stop)}


# --- conformance: which requests this module answers ---------------------------------------------


def _caller_backend(environ: dict[str, Any]) -> SimpleSystemManagerBackend | None:
    """The SSM backend a request goes to: moto's account rule, the signed Region."""
    from moto.iam.models import get_account_id_from

    scope = counting.credential_scope(environ)
    if scope is None:
        return None
    account = os.environ.get("MOTO_ACCOUNT_ID") or environ.get("HTTP_X_MOTO_ACCOUNT_ID")
    account = account or get_account_id_from(counting.access_key(environ) or "")
    try:
        return ssm_backends[account][scope[0]]
    except KeyError:  # a Region moto does not know: moto answers that request itself
        return None


def _creates_calendar(environ: dict[str, Any], request: Any) -> bool:
    return isinstance(request, dict) and request.get("DocumentType") == CALENDAR_DOCUMENT


def _names_calendar(environ: dict[str, Any], request: Any) -> bool:
    if not isinstance(request, dict):
        return False
    backend = _caller_backend(environ)
    return backend is not None and _is_calendar(backend, request.get("Name"))


def install() -> None:
    """Attach the calendar to moto's SSM backend, response and Document classes."""
    Document.__init__ = _document_init  # type: ignore[method-assign]
    ssm_models._validate_document_format = _validate_document_format
    SimpleSystemManagerBackend.update_document = update_document  # type: ignore[method-assign]
    SimpleSystemManagerBackend._get_document_content = staticmethod(_get_document_content)  # type: ignore[method-assign]
    SimpleSystemManagerBackend.get_calendar_state = get_calendar_state  # type: ignore[attr-defined]
    SimpleSystemManagerResponse.get_document = _r_get_document  # type: ignore[method-assign]
    SimpleSystemManagerResponse.get_calendar_state = _r_get_calendar_state  # type: ignore[attr-defined]
    MotoAPIBackend.reset = _moto_api_reset  # type: ignore[method-assign]
    # The answers that are this module's are held to the model (conformance.py).
    conformance.extension("ssm", "GetCalendarState")
    conformance.extension("ssm", "CreateDocument", when=_creates_calendar)
    for operation in DOCUMENT_OPERATIONS:
        conformance.extension("ssm", operation, when=_names_calendar)
