"""Per-(service, operation) call counting for the local AWS.

Models how an AWS request names its service and operation on the wire, so the
harness can count calls the way CloudTrail or the service quotas would:

* the service is the signing name in the SigV4 credential scope
  (``Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request``,
  or the ``X-Amz-Credential`` query parameter of a presigned request);
* the operation comes from the protocol: ``X-Amz-Target: Prefix.Operation``
  (awsJson 1.0/1.1), ``Action=Operation`` in the query string or the
  form-encoded body (awsQuery, ec2Query), or the path
  ``/service/<Service>/operation/<Operation>`` (Smithy RPC v2 CBOR).

Counts are kept as ``"service.Operation" -> n``, in all and per access key
ID (the first part of the credential scope), and served by the test-only
endpoints ``GET /_autopilot/calls[?accessKey=AKID]`` and
``POST /_autopilot/calls/reset``. The harness gives each function process its
own access key, so a test can tell exactly which calls one process made.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import parse_qs

CBOR_PATH = re.compile(r"^/service/(?P<service>[^/]+)/operation/(?P<operation>[^/]+)/?$")
_SCOPE = re.compile(r"Credential=([^,\s]+)")
UNKNOWN = "unknown"


class CallCounter:
    """Thread-safe counter of calls keyed by ``service.Operation``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._by_key: dict[str, dict[str, int]] = {}

    def record(self, service: str, operation: str, access_key: str | None = None) -> None:
        key = f"{service}.{operation}"
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            if access_key:
                counts = self._by_key.setdefault(access_key, {})
                counts[key] = counts.get(key, 0) + 1

    def snapshot(self, access_key: str | None = None) -> dict[str, int]:
        with self._lock:
            counts = self._counts if access_key is None else self._by_key.get(access_key, {})
            return dict(sorted(counts.items()))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._by_key.clear()


def access_key(environ: dict) -> str | None:
    """The access key ID of the SigV4 credential scope, if any."""
    scope = _scope(environ)
    return scope.split("/")[0] if scope else None


def _scope(environ: dict) -> str | None:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = _SCOPE.search(auth)
    if match:
        return match.group(1)
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if query.get("X-Amz-Credential"):
        return query["X-Amz-Credential"][0]
    return None


def credential_scope(environ: dict) -> tuple[str, str] | None:
    """Return (region, service) from the SigV4 credential scope, if any."""
    scope = None
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = _SCOPE.search(auth)
    if match:
        scope = match.group(1)
    else:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if query.get("X-Amz-Credential"):
            scope = query["X-Amz-Credential"][0]
    if not scope:
        return None
    parts = scope.split("/")
    # AKID/date/region/service/aws4_request
    if len(parts) != 5 or parts[4] != "aws4_request":
        return None
    return parts[2], parts[3]


def needs_body(environ: dict) -> bool:
    """True when only a form-encoded body can name the operation."""
    if environ.get("HTTP_X_AMZ_TARGET"):
        return False
    if "Action" in parse_qs(environ.get("QUERY_STRING", "")):
        return False
    content_type = environ.get("CONTENT_TYPE", "")
    return content_type.startswith("application/x-www-form-urlencoded")


def operation_name(environ: dict, body: bytes | None) -> str:
    """The operation a request calls, or ``unknown`` (e.g. REST protocols)."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.split(".", 1)[-1]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if query.get("Action"):
        return query["Action"][0]
    match = CBOR_PATH.match(environ.get("PATH_INFO", ""))
    if match:
        return match.group("operation")
    if body and environ.get("CONTENT_TYPE", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        form = parse_qs(body.decode("utf-8", errors="replace"))
        if form.get("Action"):
            return form["Action"][0]
    return UNKNOWN


def service_name(environ: dict) -> str:
    scope = credential_scope(environ)
    if scope:
        return scope[1]
    match = CBOR_PATH.match(environ.get("PATH_INFO", ""))
    if match:
        return match.group("service")
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.split(".", 1)[0]
    return UNKNOWN
