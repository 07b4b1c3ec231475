"""Fault injection: make the local AWS misbehave per operation, per access key.

The harness gives each function process its own access key ID (the first part
of the SigV4 credential scope, see ``counting.access_key``), so rules are kept
per access key and concurrent tests never see each other's faults. Rules under
``"*"`` apply to every request whose key has no rules of its own (and to
unsigned requests).

A rule::

    {"service": "ecs", "operation": "UpdateService",   # optional; omitted = any
     "fault": "throttle" | "error" | "latency" | "reset" | "hang",
     "status": 429, "code": "TooManyRequestsException",  # throttle and error
     "ms": 250,                                           # latency
     "seconds": 300,                                      # hang
     "after": 0, "count": 2, "fraction": 0.3, "seed": 7}  # selection

``service`` is the SigV4 signing name (``ecs``, ``ecr``, ``codedeploy``,
``elasticloadbalancing``, ``monitoring``, ``application-autoscaling``, ...),
``operation`` the wire operation name (``counting.operation_name``).

Selection. Among the requests a rule matches, the first ``after`` are skipped;
of the rest (the eligible ones, numbered n = 1, 2, ...) the n-th is faulted iff
``floor(n*f) > floor((n-1)*f)`` for ``fraction`` f (default 1; evenly spread
and deterministic: f = 0.3 faults eligible requests 4, 7 and 10 of the first
ten, computed in exact decimal arithmetic), or, when the rule has an
integer ``seed``, iff ``random.Random(seed).random() < f`` (one draw per
eligible request). Once ``count`` faults are injected the rule is spent. Every
rule whose filter matches a request counts it (``matched``) and decides on it
independently of the other rules; rules are evaluated in order and the first
that decides to fault wins (only its ``injected`` goes up). Every request,
faulted or not, is still counted by the call counter; the fault is decided
after counting and before the latency knob and moto.

How each fault looks on the wire (the protocol is the request's):

* ``throttle``: HTTP ``status`` 400 (default) or 429 with the protocol's
  throttling error, code overridable with ``code`` (``TooManyRequestsException``,
  ``RequestLimitExceeded``, ...). Defaults model what the services answer when
  a request rate quota is exceeded (AWS general reference, "Common Errors":
  ``ThrottlingException``, "The request was denied due to request throttling",
  HTTP 400; awsQuery services such as Elastic Load Balancing and CloudWatch's
  query API answer ``Throttling``, "Rate exceeded"; Amazon EC2 answers
  ``RequestLimitExceeded``, see "Request throttling for the Amazon EC2 API";
  to send a throttling code with HTTP 503 instead, inject ``error`` with
  status 503 and that ``code``):

  - awsJson 1.0/1.1 (``X-Amz-Target``; ECS, ECR, CodeDeploy, Application Auto
    Scaling, Secrets Manager, SSM): ``Content-Type`` the request's
    (``application/x-amz-json-1.1`` or ``-1.0``), ``x-amzn-ErrorType: <code>``,
    ``x-amzn-RequestId``, body ``{"__type": "<code>", "message": "Rate exceeded"}``;
    default code ``ThrottlingException``;
  - awsQuery (``Action=`` in a form body or the query string; ELBv2):
    ``Content-Type: text/xml``, ``<ErrorResponse><Error><Type>Sender</Type>
    <Code>Throttling</Code><Message>Rate exceeded</Message></Error>
    <RequestId>..</RequestId></ErrorResponse>``; default code ``Throttling``;
  - ec2Query (awsQuery signed for ``ec2``): ``<Response><Errors><Error><Code>
    RequestLimitExceeded</Code><Message>..</Message></Error></Errors>
    <RequestID>..</RequestID></Response>``; default code ``RequestLimitExceeded``;
  - Smithy RPC v2 CBOR (``/service/<Service>/operation/<Operation>``;
    CloudWatch): ``smithy-protocol: rpc-v2-cbor``, ``Content-Type:
    application/cbor``, CBOR map ``{"__type": "<code>", "message": ...}`` and,
    CloudWatch being ``@awsQueryCompatible``, ``x-amzn-query-error:
    <code>;Sender`` (as ``cloudwatch_cbor.py`` encodes modelled errors);
    default code ``ThrottlingException``;
  - anything else (REST protocols): JSON as awsJson with
    ``Content-Type: application/json``.

* ``error``: HTTP ``status`` 500 (default; code ``InternalFailure``, "The
  request processing has failed because of an unknown error, exception or
  failure."; ``InternalError`` for awsQuery and ec2Query) or 503
  (``ServiceUnavailable``, "The request has failed due to a temporary failure
  of the server."), code overridable; same bodies as above (``Type`` Receiver
  in the XML, ``;Receiver`` in ``x-amzn-query-error``).
* ``latency``: sleeps ``ms`` milliseconds, then serves the request as usual.
* ``reset``: no answer at all: the TCP connection is closed with ``SO_LINGER``
  0, which sends an RST (what a client sees when a load balancer or the
  service front end drops the connection). The SDKs report an IO/dispatch error.
* ``hang``: no answer for ``seconds`` (default 300) or until that key's rules
  are replaced or cleared (or every rule is reset), whichever comes first; then
  the connection is reset as for ``reset``. Other requests are served
  meanwhile (one thread per request). Models a service that accepts the
  connection and never answers; the SDK's attempt timeout is what ends it.

Test-only endpoints (served by the middleware, see ``middleware.py``):
``POST /_autopilot/faults {"accessKey": K | "*", "rules": [...]}`` replaces K's
rules (``[]`` clears them and releases K's hung requests; 400 with a message
naming the bad field, e.g. ``rules[1].fraction: must be in (0, 1]``),
``GET /_autopilot/faults[?accessKey=K]`` reports the rules with per-rule
``matched`` and ``injected`` counts, ``POST /_autopilot/faults/reset`` clears
every key's rules and releases every hung request.
"""

from __future__ import annotations

import json
import math
import os
import random
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, NoReturn

import cbor2

import counting

WILDCARD = "*"
KINDS = ("throttle", "error", "latency", "reset", "hang")
THROTTLE_STATUSES = (400, 429)
ERROR_STATUSES = (500, 503)
DEFAULT_HANG_SECONDS = 300.0
MAX_HANG_SECONDS = 3600.0
MAX_LATENCY_MS = 600_000
FIELDS = (
    "service", "operation", "fault", "status", "code", "ms", "seconds",
    "after", "count", "fraction", "seed",
)
# Fields only some kinds take.
KIND_FIELDS = {
    "status": ("throttle", "error"),
    "code": ("throttle", "error"),
    "ms": ("latency",),
    "seconds": ("hang",),
}

RATE_EXCEEDED = "Rate exceeded"
MESSAGES = {
    500: "The request processing has failed because of an unknown error, exception or failure.",
    503: "The request has failed due to a temporary failure of the server.",
}
REASONS = {
    400: "Bad Request",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class InvalidRules(ValueError):
    """A rule set the endpoint rejects; the message names the bad field."""


# --- rules --------------------------------------------------------------------------


@dataclass
class Rule:
    spec: dict[str, Any]  # as given, echoed in reports
    kind: str
    service: str | None
    operation: str | None
    status: int | None
    code: str | None
    ms: float
    seconds: float
    after: int
    count: int | None
    fraction: Fraction
    rng: random.Random | None
    matched: int = 0
    injected: int = 0

    def matches(self, service: str, operation: str) -> bool:
        return (self.service is None or self.service == service) and (
            self.operation is None or self.operation == operation
        )

    def decide(self) -> bool:
        """Count one matching request; True if this rule would fault it."""
        self.matched += 1
        eligible = self.matched - self.after
        if eligible <= 0:
            return False
        if self.rng is not None:
            chosen = self.rng.random() < self.fraction
        else:
            chosen = math.floor(eligible * self.fraction) > math.floor(
                (eligible - 1) * self.fraction
            )
        return chosen and (self.count is None or self.injected < self.count)

    def report(self) -> dict[str, Any]:
        return {**self.spec, "matched": self.matched, "injected": self.injected}


@dataclass
class RuleSet:
    rules: list[Rule]
    # Set when the rules are replaced or cleared: releases requests they hang.
    released: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Fault:
    """What to do to one request."""

    kind: str
    status: int | None
    code: str | None
    ms: float
    seconds: float
    released: threading.Event


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def parse_rule(where: str, raw: Any) -> Rule:
    """Validate one rule strictly; ``where`` (``rules[1]``) prefixes errors."""
    if not isinstance(raw, dict):
        raise InvalidRules(f"{where}: must be an object")
    for name in raw:
        if name not in FIELDS:
            raise InvalidRules(f"{where}.{name}: unknown field (known: {', '.join(FIELDS)})")
    kind = raw.get("fault")
    if kind not in KINDS:
        raise InvalidRules(f"{where}.fault: must be one of {', '.join(KINDS)}")
    for name, kinds in KIND_FIELDS.items():
        if name in raw and kind not in kinds:
            raise InvalidRules(f"{where}.{name}: only for fault {' or '.join(kinds)}")
    for name in ("service", "operation", "code"):
        if name in raw and (not isinstance(raw[name], str) or not raw[name]):
            raise InvalidRules(f"{where}.{name}: must be a non-empty string")

    status = raw.get("status")
    if kind == "throttle":
        status = THROTTLE_STATUSES[0] if status is None else status
        if not _is_int(status) or status not in THROTTLE_STATUSES:
            raise InvalidRules(f"{where}.status: must be 400 or 429 for throttle")
    elif kind == "error":
        status = ERROR_STATUSES[0] if status is None else status
        if not _is_int(status) or status not in ERROR_STATUSES:
            raise InvalidRules(f"{where}.status: must be 500 or 503 for error")

    ms = 0.0
    if kind == "latency":
        if "ms" not in raw:
            raise InvalidRules(f"{where}.ms: required for latency")
        if not _is_number(raw["ms"]) or not 0 <= raw["ms"] <= MAX_LATENCY_MS:
            raise InvalidRules(f"{where}.ms: must be a number from 0 to {MAX_LATENCY_MS}")
        ms = float(raw["ms"])
    seconds = DEFAULT_HANG_SECONDS
    if "seconds" in raw:
        if not _is_number(raw["seconds"]) or not 0 < raw["seconds"] <= MAX_HANG_SECONDS:
            raise InvalidRules(f"{where}.seconds: must be a number in (0, {MAX_HANG_SECONDS:g}]")
        seconds = float(raw["seconds"])

    after = raw.get("after", 0)
    if not _is_int(after) or after < 0:
        raise InvalidRules(f"{where}.after: must be an integer >= 0")
    count = raw.get("count")
    if count is not None and (not _is_int(count) or count < 1):
        raise InvalidRules(f"{where}.count: must be an integer >= 1")
    fraction = raw.get("fraction", 1)
    if not _is_number(fraction) or not 0 < fraction <= 1:
        raise InvalidRules(f"{where}.fraction: must be in (0, 1]")
    seed = raw.get("seed")
    if seed is not None and not _is_int(seed):
        raise InvalidRules(f"{where}.seed: must be an integer")

    return Rule(
        spec=dict(raw),
        kind=kind,
        service=raw.get("service"),
        operation=raw.get("operation"),
        status=status,
        code=raw.get("code"),
        ms=ms,
        seconds=seconds,
        after=after,
        count=count,
        # Exact decimal arithmetic, so 0.3 means 3/10 and the pattern is exact.
        fraction=Fraction(str(fraction)),
        rng=None if seed is None else random.Random(seed),
    )


def parse_request(request: Any) -> tuple[str, list[Rule]]:
    """Validate a ``POST /_autopilot/faults`` body."""
    if not isinstance(request, dict):
        raise InvalidRules("body: must be an object {accessKey, rules}")
    for name in request:
        if name not in ("accessKey", "rules"):
            raise InvalidRules(f"{name}: unknown field (known: accessKey, rules)")
    key = request.get("accessKey")
    if not isinstance(key, str) or not key:
        raise InvalidRules('accessKey: must be an access key ID or "*"')
    rules = request.get("rules")
    if not isinstance(rules, list):
        raise InvalidRules("rules: must be a list")
    return key, [parse_rule(f"rules[{i}]", raw) for i, raw in enumerate(rules)]


class FaultInjector:
    """Per-access-key fault rules; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sets: dict[str, RuleSet] = {}

    def replace(self, key: str, rules: list[Rule]) -> list[dict[str, Any]]:
        with self._lock:
            old = self._sets.pop(key, None)
            if rules:
                self._sets[key] = RuleSet(rules)
            reports = [rule.report() for rule in rules]
        if old is not None:
            old.released.set()
        return reports

    def reset(self) -> None:
        with self._lock:
            old = list(self._sets.values())
            self._sets.clear()
        for rule_set in old:
            rule_set.released.set()

    def report(self, key: str | None = None) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {
                k: [rule.report() for rule in s.rules]
                for k, s in sorted(self._sets.items())
                if key is None or k == key
            }

    def decide(self, key: str | None, service: str, operation: str) -> Fault | None:
        """The fault to inject into one request, if any (counts the request)."""
        with self._lock:
            rule_set = self._sets.get(key) if key else None
            if rule_set is None:
                rule_set = self._sets.get(WILDCARD)
            if rule_set is None:
                return None
            chosen: Rule | None = None
            for rule in rule_set.rules:
                if rule.matches(service, operation) and rule.decide() and chosen is None:
                    chosen = rule
            if chosen is None:
                return None
            chosen.injected += 1
            return Fault(
                chosen.kind, chosen.status, chosen.code, chosen.ms, chosen.seconds,
                rule_set.released,
            )


# --- the wire ---------------------------------------------------------------------------


def protocol(environ: dict[str, Any], service: str) -> str:
    """``json``, ``query``, ``ec2``, ``cbor`` or ``rest`` for a request."""
    if counting.CBOR_PATH.match(environ.get("PATH_INFO", "")) or (
        environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor"
    ):
        return "cbor"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if "Action=" in environ.get("QUERY_STRING", "") or environ.get("CONTENT_TYPE", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        return "ec2" if service == "ec2" else "query"
    return "rest"


def default_code(kind: str, status: int, wire: str) -> str:
    if kind == "throttle":
        defaults = {"query": "Throttling", "ec2": "RequestLimitExceeded"}
        return defaults.get(wire, "ThrottlingException")
    if status == 503:
        return "ServiceUnavailable"
    return "InternalError" if wire in ("query", "ec2") else "InternalFailure"


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def error_response(
    fault: Fault, environ: dict[str, Any], service: str, start_response
) -> list[bytes]:
    """Answer a ``throttle`` or ``error`` fault in the request's protocol."""
    wire = protocol(environ, service)
    status = fault.status or 400
    code = fault.code or default_code(fault.kind, status, wire)
    message = RATE_EXCEEDED if fault.kind == "throttle" else MESSAGES.get(status, code)
    request_id = str(uuid.uuid4())
    side = "Sender" if status < 500 else "Receiver"
    headers = [("x-amzn-RequestId", request_id)]
    if wire == "cbor":
        body = cbor2.dumps({"__type": code, "message": message})
        headers += [
            ("smithy-protocol", "rpc-v2-cbor"),
            ("Content-Type", "application/cbor"),
            ("x-amzn-query-error", f"{code};{side}"),
        ]
    elif wire == "query":
        body = (
            "<ErrorResponse><Error>"
            f"<Type>{side}</Type><Code>{_xml_escape(code)}</Code>"
            f"<Message>{_xml_escape(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers.append(("Content-Type", "text/xml"))
    elif wire == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{_xml_escape(code)}</Code><Message>{_xml_escape(message)}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers.append(("Content-Type", "text/xml;charset=UTF-8"))
    else:
        content_type = environ.get("CONTENT_TYPE", "")
        if wire == "json" and not content_type.startswith("application/x-amz-json-1."):
            content_type = "application/x-amz-json-1.1"
        elif wire == "rest":
            content_type = "application/json"
        body = json.dumps({"__type": code, "message": message}).encode()
        headers += [("Content-Type", content_type), ("x-amzn-ErrorType", code)]
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{status} {REASONS.get(status, 'Error')}", headers)
    return [body]


def drop_connection(environ: dict[str, Any]) -> NoReturn:
    """Reset the request's TCP connection (RST) and end the request.

    With ``SO_LINGER`` 0, closing a TCP socket sends an RST instead of a FIN.
    Closing werkzeug's socket object is not enough (its buffered reader keeps
    the descriptor open), and closing the raw descriptor would let another
    request's socket take its number while werkzeug still uses it. So the
    descriptor is atomically replaced (``dup2``) by one end of a socket pair
    whose other end is closed: the TCP socket's last descriptor goes away
    (RST now), and werkzeug's own clean-up reads EOF from, and closes, the
    spare. What the reader had already buffered of the request body is read
    off (up to the spare's EOF), or werkzeug would parse it as a next request
    line and log a bogus 400. The ``ConnectionResetError`` raised then is one
    werkzeug treats as a dropped connection: no answer, no traceback.
    """
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        try:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            spare, peer = socket.socketpair()
            try:
                os.dup2(spare.fileno(), connection.fileno())
            finally:
                spare.close()
                peer.close()
            stream = environ.get("wsgi.input")
            if stream is not None:
                stream.read()
        except (OSError, ValueError):
            pass  # already gone
    raise ConnectionResetError("local AWS fault injection: connection reset")


def hang(fault: Fault, environ: dict[str, Any]) -> NoReturn:
    """Hold the request until released or ``seconds`` pass, then reset it."""
    fault.released.wait(fault.seconds)
    drop_connection(environ)


def apply(
    fault: Fault, environ: dict[str, Any], service: str, start_response
) -> list[bytes] | None:
    """Carry out a fault: the answer to give, or None to serve the request as usual."""
    if fault.kind == "latency":
        time.sleep(fault.ms / 1000.0)
        return None
    if fault.kind == "reset":
        drop_connection(environ)
    if fault.kind == "hang":
        hang(fault, environ)
    return error_response(fault, environ, service, start_response)
