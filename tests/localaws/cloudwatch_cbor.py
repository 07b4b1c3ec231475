"""Amazon CloudWatch over the Smithy RPC v2 CBOR protocol.

Models the wire protocol the current AWS SDKs (``aws-sdk-cloudwatch`` for Rust
from 1.100 on) use for CloudWatch, ``smithy.protocols#rpcv2Cbor``:

* request: ``POST /service/GraniteServiceVersion20100801/operation/<Operation>``
  with ``smithy-protocol: rpc-v2-cbor`` and the operation's input structure as a
  CBOR map (an empty body is an empty input);
* response: ``smithy-protocol: rpc-v2-cbor``; when the operation has an output
  structure, ``Content-Type: application/cbor`` and the output structure as a
  CBOR map whose member names are the API reference's (``MetricAlarms``,
  ``StateValue``, ``Timestamps``, ...); an operation without output (for example
  ``PutMetricAlarm``) answers 200 with an empty body and no Content-Type, as the
  Smithy protocol tests require; timestamps are CBOR tag 1 (epoch seconds,
  integer or floating), ``double`` members are CBOR floats, integers CBOR ints;
* errors: the modelled HTTP status (400 for ``InvalidParameterValue``, 404 for
  ``ResourceNotFound``, as CloudWatch's ``awsQueryError`` traits say), a CBOR map
  ``{"__type": <code>, "message": ...}`` and, since CloudWatch is
  ``@awsQueryCompatible``, the header ``x-amzn-query-error: <code>;Sender`` from
  which the SDKs take the error code. An operation CloudWatch does not have, or
  one the local AWS does not implement, answers 400
  ``{"__type": "UnknownOperationException"}``.

moto serves CloudWatch over awsQuery and awsJson 1.0 only, so each CBOR request
is transcoded, using the CloudWatch service model shipped with botocore, into an
awsJson 1.0 request (``X-Amz-Target: GraniteServiceVersion20100801.<Operation>``)
handled by moto's own CloudWatch handler and backend
(``moto.cloudwatch.models.cloudwatch_backends[account][region]``; the account is
derived by moto from the access key as for every other service, 123456789012 by
default; the region is the one in the credential scope), and the JSON answer is
transcoded back to CBOR along the operation's output shape.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import math
from collections.abc import Callable, Iterable
from typing import Any

import cbor2
from botocore.model import OperationNotFoundError, Shape
from botocore.session import get_session

from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.utils import camelcase_to_underscores

SERVICE_NAME = "GraniteServiceVersion20100801"
SIGNING_NAME = "monitoring"
SMITHY_PROTOCOL = "rpc-v2-cbor"
CBOR_CONTENT_TYPE = "application/cbor"
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"

_model = get_session().get_service_model("cloudwatch")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class CborError(Exception):
    def __init__(self, status: int, code: str, message: str | None = None):
        super().__init__(message or code)
        self.status = status
        self.code = code
        self.message = message


# --- CBOR (request) -> awsJson ------------------------------------------------


def _epoch(value: Any) -> float | int:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return (value - _EPOCH).total_seconds()
    if isinstance(value, cbor2.CBORTag) and value.tag == 1:
        return value.value
    if isinstance(value, (int, float)):
        return value
    raise CborError(400, "SerializationException", f"expected a timestamp, got {value!r}")


def _json_float(value: Any) -> Any:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def input_to_json(shape: Shape | None, value: Any) -> Any:
    """Convert a decoded CBOR value to its awsJson form along ``shape``."""
    if value is None or shape is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise CborError(400, "SerializationException", f"{shape.name} must be a map")
        members = shape.members
        return {
            name: input_to_json(members[name], member)
            for name, member in value.items()
            if name in members and member is not None
        }
    if kind == "list":
        return [input_to_json(shape.member, item) for item in value]
    if kind == "map":
        return {key: input_to_json(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        return _epoch(value)
    if kind == "blob":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind in ("double", "float"):
        return _json_float(value)
    return value


# --- awsJson (moto's answer) -> CBOR --------------------------------------------


def _timestamp_tag(value: Any) -> cbor2.CBORTag:
    if isinstance(value, str):
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        value = _epoch(parsed)
    value = float(value)
    if value.is_integer():
        return cbor2.CBORTag(1, int(value))
    return cbor2.CBORTag(1, value)


def _cbor_float(value: Any) -> float:
    if isinstance(value, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(
            value, float(value) if value else 0.0
        )
    return float(value)


def output_to_cbor(shape: Shape | None, value: Any) -> Any:
    """Convert moto's awsJson output value to CBOR-typed Python values."""
    if value is None or shape is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        return {
            name: output_to_cbor(members[name], member)
            for name, member in value.items()
            if name in members and member is not None
        }
    if kind == "list":
        return [output_to_cbor(shape.member, item) for item in value]
    if kind == "map":
        return {key: output_to_cbor(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        return _timestamp_tag(value)
    if kind == "blob":
        return base64.b64decode(value)
    if kind in ("double", "float"):
        return _cbor_float(value)
    if kind in ("integer", "long", "short", "byte"):
        return int(value)
    if kind == "boolean":
        return bool(value)
    return value


# --- the WSGI handler ----------------------------------------------------------


def _respond(
    start_response: Callable,
    status: int,
    body: bytes,
    extra_headers: Iterable[tuple[str, str]] = (),
    content_type: bool = True,
) -> list[bytes]:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}
    headers = [("smithy-protocol", SMITHY_PROTOCOL), ("Content-Length", str(len(body)))]
    if content_type:
        headers.append(("Content-Type", CBOR_CONTENT_TYPE))
    headers.extend(extra_headers)
    start_response(f"{status} {reason.get(status, 'Error')}", headers)
    return [body]


def _error(start_response: Callable, err: CborError, extra=()) -> list[bytes]:
    payload: dict[str, Any] = {"__type": err.code}
    if err.message:
        payload["message"] = err.message
    return _respond(start_response, err.status, cbor2.dumps(payload), extra)


def _call_moto(moto_app: Callable, environ: dict, operation: str, body: bytes):
    sub = dict(environ)
    sub.update(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/",
            "RAW_URI": "/",
            "REQUEST_URI": "/",
            "QUERY_STRING": "",
            "CONTENT_TYPE": JSON_CONTENT_TYPE,
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_X_AMZ_TARGET": f"{SERVICE_NAME}.{operation}",
            "wsgi.input": io.BytesIO(body),
        }
    )
    sub.pop("HTTP_SMITHY_PROTOCOL", None)
    sub.pop("HTTP_ACCEPT", None)
    if "Credential=" not in sub.get("HTTP_AUTHORIZATION", ""):
        # moto routes on the credential scope; give unsigned requests one.
        sub["HTTP_AUTHORIZATION"] = (
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/19700101/us-east-1/"
            f"{SIGNING_NAME}/aws4_request, SignedHeaders=host, Signature=0"
        )
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list, exc_info=None):
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = headers
        return lambda data: None

    chunks = moto_app(sub, start_response)
    try:
        payload = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    headers = {k.lower(): v for k, v in captured.get("headers", [])}
    return captured.get("status", 500), headers, payload


def handle(
    environ: dict, operation: str, body: bytes, moto_app: Callable, start_response: Callable
) -> list[bytes]:
    """Serve one rpcv2Cbor CloudWatch request."""
    if environ.get("REQUEST_METHOD") != "POST":
        return _error(start_response, CborError(400, "UnknownOperationException"))
    try:
        op_model = _model.operation_model(operation)
    except OperationNotFoundError:
        return _error(start_response, CborError(400, "UnknownOperationException"))
    if camelcase_to_underscores(operation) not in dir(CloudWatchResponse):
        return _error(
            start_response,
            CborError(400, "UnknownOperationException", f"{operation} is not implemented by the local AWS"),
        )
    try:
        decoded = cbor2.loads(body) if body else {}
        request = input_to_json(op_model.input_shape, decoded) if op_model.input_shape else {}
    except CborError as err:
        return _error(start_response, err)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as err:
        return _error(start_response, CborError(400, "SerializationException", str(err)))

    status, headers, payload = _call_moto(
        moto_app, environ, operation, json.dumps(request).encode("utf-8")
    )
    passthrough = [
        (name, headers[name.lower()])
        for name in ("x-amzn-RequestId",)
        if name.lower() in headers
    ]
    if 200 <= status < 300:
        if op_model.output_shape is None:
            return _respond(start_response, 200, b"", passthrough, content_type=False)
        result = json.loads(payload) if payload.strip() else {}
        encoded = cbor2.dumps(output_to_cbor(op_model.output_shape, result))
        return _respond(start_response, 200, encoded, passthrough)

    try:
        error = json.loads(payload) if payload.strip() else {}
    except ValueError:
        error = {}
    if not isinstance(error, dict) or not error:
        return _error(start_response, CborError(500, "InternalFailure", payload[:200].decode("utf-8", "replace")))
    query_error = headers.get("x-amzn-query-error")
    code = (error.get("__type") or "InternalFailure").split(":", 1)[0].rsplit("#", 1)[-1]
    if query_error:
        code = query_error.split(";", 1)[0]
        passthrough.append(("x-amzn-query-error", query_error))
    message = error.get("message") or error.get("Message")
    return _error(start_response, CborError(status, code, message), passthrough)
