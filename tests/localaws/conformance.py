"""Conformance of the local AWS to AWS's own API models.

The source of truth is AWS's published service models as botocore ships them
(``botocore/data/<service>/<api-version>/service-2.json``, loaded with
``botocore.loaders.Loader().load_service_model(name, "service-2")``), from the
botocore version pinned in ``requirements.txt`` (the module refuses to load
with another one, so every run checks against the same models; see
``MODELS``). Two things are held to them:

* every AWS request that reaches the local AWS (from the function binaries, the
  Rust test harness or boto3), against the operation's input shape;
* every response of the local AWS's own extensions (the operations registered
  with ``extension(...)``: ``codedeploy_ext.py``, ``ecs_deployments.py``,
  ``cloudwatch_cbor.py``, ``ssm_calendar.py``, and any module that registers
  itself later; an extension may register for only the requests it answers,
  ``when=...``), against the operation's output shape, or for an error against
  the operation's modelled errors. moto's own responses are not checked.

What a shape check covers (``validate``), by the model's shape types:

* ``structure``: a member name the shape does not have is an error; every
  ``required`` member must be present (and not null); a ``union`` sets
  exactly one member; a ``document`` structure takes anything;
* ``list`` and ``map``: the container type, ``min``/``max`` entries, each item
  (map keys as their key shape);
* ``string``: a string, one of the ``enum`` values if the shape has them,
  ``min``/``max`` length (``pattern`` is not checked: the models' patterns are
  Java regular expressions);
* ``integer``, ``long``, ``short``, ``byte``: an integer (not a boolean, not
  ``3.0``), within ``min``/``max``; ``double``, ``float``: a number (awsJson
  also ``"NaN"``, ``"Infinity"``, ``"-Infinity"``), within ``min``/``max``;
  ``boolean``: a boolean;
* ``timestamp``: awsJson epoch seconds (a number), rpcv2Cbor CBOR tag 1
  (decoded to a ``datetime``), query protocols an ISO 8601 string;
* ``blob``: awsJson and query base64 text, rpcv2Cbor a byte string;
* null is never a value (the SDKs leave unset members out).

Member names are the wire names: awsJson the model's ``locationName`` where it
has one, else the member name; rpcv2Cbor the member name; awsQuery
``locationName`` or the member name; ec2 ``queryName``, else ``locationName``
capitalised, else the member name. Error paths use the member names
(``serviceDeployments[0].lifecycleHookDetails[0].status``, map entries as
``tags["env"]``).

How each protocol's requests are read (``check_request``):

* awsJson 1.0/1.1 (``X-Amz-Target: Prefix.Operation``; ECS, ECR, CodeDeploy,
  Application Auto Scaling, Secrets Manager, SSM): the operation must be in the
  model whose ``targetPrefix`` is ``Prefix``; the JSON body (empty = ``{}``) is
  checked in full against the input shape;
* Smithy RPC v2 CBOR (``POST /service/<Service>/operation/<Operation>``;
  CloudWatch): the model whose ``targetPrefix`` is ``<Service>``; the CBOR body
  (empty = ``{}``) is checked in full;
* awsQuery and ec2 (``Action=`` in a form body or the query string; ELBv2,
  EC2, CloudWatch's query API): ``Version`` must be the model's
  ``apiVersion``, ``Action`` an operation of it, and the flat
  ``Name.member.1.Key=value`` parameters are rebuilt along the input shape
  (awsQuery lists ``.member.N``, or ``.N`` when flattened, maps
  ``.entry.N.key``/``.value``, ec2 lists always ``.N``) and checked in full:
  every parameter name at every depth, list indexes ``1..N``, required members,
  and every scalar parsed from its text (integers, numbers, ``true``/``false``,
  ISO 8601 timestamps, base64) with the checks above (enums, ranges, lengths);
  a parameter given twice is an error, their order is not checked;
* anything else (REST protocols; none of the project's services uses one) is
  not checked, only counted (``unchecked`` in the report).

A request that does not conform is answered as AWS rejects a malformed request,
in its protocol (HTTP 400: awsJson ``{"__type": "ValidationException",
"message": ...}`` with ``x-amzn-ErrorType``, or ``UnknownOperationException`` /
``SerializationException``; rpcv2Cbor the same as a CBOR map, with
``x-amzn-query-error`` for ``@awsQueryCompatible`` services; awsQuery
``<ErrorResponse>`` with ``ValidationError``, ``MissingParameter`` or
``InvalidAction``; ec2 ``<Response><Errors>`` with ``InvalidParameterValue``,
``UnknownParameter``, ``MissingParameter`` or ``InvalidAction``), and the
violation is recorded. The exceptions are the members in ``SERVICE_ERRORS``,
for which the service's API reference documents an error of its own for a bad
value: such a request is recorded all the same and then served, so the
extension answers its modelled error. The message names the service, the
operation and the path, e.g. ``ecs ListServices request: launchType: 'EC3'
is not one of EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES``.

An extension response that does not conform is recorded and replaced by an
HTTP 500 ``InternalFailure`` whose message names the service, operation and
path (so the test that made the call sees it at once), e.g. ``ecs
DescribeServiceDeployments response: serviceDeployments[0].status: 'DONE'
is not one of PENDING, ...``.

Violations are served by the middleware at ``GET /_autopilot/conformance
[?accessKey=K]`` (``report``) and cleared by ``POST
/_autopilot/conformance/reset``. ``scripts/test`` runs the end-to-end tests and
the demo through ``python conformance.py run -- CMD...``, which fails the
suite on any violation and prints what was checked.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import botocore
from botocore.exceptions import DataNotFoundError
from botocore.loaders import Loader

import counting

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"


def pinned_botocore() -> str:
    """The botocore version ``requirements.txt`` pins (``botocore==X.Y.Z``)."""
    for line in REQUIREMENTS.read_text().splitlines():
        match = re.match(r"^\s*botocore\s*==\s*([^\s;#]+)", line)
        if match:
            return match.group(1)
    raise RuntimeError(f"{REQUIREMENTS} pins no botocore version (botocore==X.Y.Z)")


if botocore.__version__ != pinned_botocore():
    raise ImportError(
        f"conformance: botocore {botocore.__version__} is installed but "
        f"{REQUIREMENTS.name} pins {pinned_botocore()}; run scripts/localaws install"
    )

MODELS = f"botocore {botocore.__version__}"
DIRECTIONS = ("input", "output")
WORDS = {"input": "request", "output": "response"}
# A document is reported with at most this many problems; the store keeps at
# most MAX_RECORDED violations (and counts the rest).
MAX_PROBLEMS = 20
MAX_RECORDED = 2000
ROOT = ""

# --- which model a request is for -------------------------------------------------------

# awsJson X-Amz-Target prefix / rpcv2Cbor service name -> botocore model, for
# the services the project uses. Others are looked up by their signing name.
TARGET_PREFIXES = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
    "GraniteServiceVersion20100801": "cloudwatch",
    "CodeDeploy_20141006": "codedeploy",
    "AnyScaleFrontendService": "application-autoscaling",
    "secretsmanager": "secretsmanager",
    "AmazonSSM": "ssm",
    "ResourceGroupsTaggingAPI_20170126": "resourcegroupstaggingapi",
}
# (SigV4 signing name, Version) of an awsQuery/ec2 request -> botocore model.
QUERY_SERVICES = {
    ("elasticloadbalancing", "2015-12-01"): "elbv2",
    ("elasticloadbalancing", "2012-06-01"): "elb",
    ("monitoring", "2010-08-01"): "cloudwatch",
}
# Signing names that are not the botocore model's name.
SIGNING_ALIASES = {"monitoring": "cloudwatch", "elasticloadbalancing": "elbv2"}

# Members whose bad values the service answers with an error of its own, as
# its API reference documents (the extension implements it): the request is
# recorded as a violation and then served, so that error is what the caller
# sees. Keys: (model, operation, path with list indexes as []).
SERVICE_ERRORS: dict[tuple[str, str, str], str] = {
    # "InvalidLifecycleEventHookExecutionStatusException: The result of a
    # Lambda validation function that verifies a lifecycle event is invalid."
    (
        "codedeploy",
        "PutLifecycleEventHookExecutionStatus",
        "status",
    ): "InvalidLifecycleEventHookExecutionStatusException",
    # "InvalidDeploymentStatusException: The specified deployment status
    # doesn't exist or cannot be determined."
    ("codedeploy", "ListDeployments", "includeOnlyStatuses[]"): "InvalidDeploymentStatusException",
}

# Errors any operation may answer besides its modelled ones (the AWS general
# reference's common errors, and the protocols' own).
COMMON_ERRORS = frozenset(
    {
        "AccessDeniedException",
        "IncompleteSignature",
        "InternalFailure",
        "InvalidAction",
        "InvalidClientTokenId",
        "InvalidParameterCombination",
        "InvalidParameterValue",
        "InvalidQueryParameter",
        "MissingAction",
        "MissingAuthenticationToken",
        "MissingParameter",
        "NotAuthorized",
        "RequestExpired",
        "SerializationException",
        "ServiceUnavailable",
        "ThrottlingException",
        "UnknownOperationException",
        "UnrecognizedClientException",
        "ValidationError",
        "ValidationException",
    }
)

_loader = Loader()
_models_lock = threading.Lock()
_models: dict[str, Model | None] = {}


class Model:
    """One botocore service model (``service-2``), as raw JSON."""

    def __init__(self, name: str, raw: dict[str, Any]) -> None:
        self.name = name
        self.metadata: dict[str, Any] = raw["metadata"]
        self.operations: dict[str, Any] = raw["operations"]
        self.shapes: dict[str, Any] = raw["shapes"]
        self.protocol: str = self.metadata.get("protocol", "")
        self._names: dict[tuple[str, str], dict[str, tuple[str, dict[str, Any]]]] = {}

    def io_shape(self, operation: str, direction: str) -> dict[str, Any] | None:
        """The member reference of an operation's input or output, if it has one."""
        return self.operations[operation].get(direction)

    def errors(self, operation: str) -> set[str]:
        """The error codes an operation is modelled to answer (shape names and codes)."""
        codes: set[str] = set()
        for ref in self.operations[operation].get("errors", []):
            codes.add(ref["shape"])
            code = (self.shapes.get(ref["shape"], {}).get("error") or {}).get("code")
            if code:
                codes.add(code)
        return codes

    def wire_names(self, shape_name: str, wire: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """A structure's members by wire name: ``{wire name: (member name, ref)}``."""
        key = (shape_name, wire)
        names = self._names.get(key)
        if names is None:
            names = {}
            for member, ref in self.shapes[shape_name].get("members", {}).items():
                if ref.get("location"):
                    continue  # a header or URI member, not in the body
                names[self.wire_name(member, ref, wire)] = (member, ref)
            self._names[key] = names
        return names

    def wire_name(self, member: str, ref: dict[str, Any], wire: str) -> str:
        shape = self.shapes[ref["shape"]]
        if wire == "cbor":
            return member
        if wire == "ec2":
            if "queryName" in ref:
                return ref["queryName"]
            name = ref.get("locationName")
            return name[0].upper() + name[1:] if name else member
        if wire == "query" and shape["type"] == "list" and _flattened(ref, shape):
            # A flattened list is named after its member's locationName.
            return shape["member"].get("locationName") or ref.get("locationName") or member
        return ref.get("locationName", member)


def model(name: str) -> Model | None:
    """The botocore model ``name`` (newest API version), or None if botocore has none."""
    with _models_lock:
        if name not in _models:
            try:
                _models[name] = Model(name, _loader.load_service_model(name, "service-2"))
            except DataNotFoundError:
                _models[name] = None
        return _models[name]


def _flattened(ref: dict[str, Any], shape: dict[str, Any]) -> bool:
    return bool(ref.get("flattened") or shape.get("flattened"))


# --- the shape walk (decoded JSON and CBOR values) ----------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (bytes, bytearray)):
        return "a byte string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, dt.datetime):
        return "a timestamp"
    return type(value).__name__


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _sized(shape: dict[str, Any], size: int, what: str) -> Iterator[str]:
    if "min" in shape and size < shape["min"]:
        yield f"{what} {size} is less than the minimum {shape['min']}"
    if "max" in shape and size > shape["max"]:
        yield f"{what} {size} is greater than the maximum {shape['max']}"


def _ranged(shape: dict[str, Any], number: float) -> Iterator[str]:
    if "min" in shape and number < shape["min"]:
        yield f"{number!r} is less than the minimum {shape['min']}"
    if "max" in shape and number > shape["max"]:
        yield f"{number!r} is greater than the maximum {shape['max']}"


def _string(shape: dict[str, Any], value: str) -> Iterator[str]:
    enum = shape.get("enum")
    if enum and value not in enum:
        yield f"{value!r} is not one of {', '.join(enum)}"
    yield from _sized(shape, len(value), "length")


NON_FINITE = ("NaN", "Infinity", "-Infinity")
INTEGERS = ("integer", "long", "short", "byte")


class _Walk:
    """Checks one decoded value against a shape; collects ``(path, message)``."""

    def __init__(self, model: Model, wire: str) -> None:
        self.model = model
        self.wire = wire  # "json" or "cbor"
        self.problems: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def value(self, ref: dict[str, Any], value: Any, path: str) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            return
        shape_name = ref["shape"]
        shape = self.model.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure" and shape.get("document"):
            return
        if value is None:
            self.add(path, f"null is not a valid {kind} ({shape_name})")
            return
        check = getattr(self, f"_{kind}", None)
        if check is None:
            return  # a type this walk does not know takes anything
        check(shape_name, shape, ref, value, path)

    def _structure(self, name: str, shape: dict, ref: dict, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.add(path, f"expected an object ({name}), got {_kind(value)}")
            return
        names = self.model.wire_names(name, self.wire)
        present = 0
        for key, item in value.items():
            found = names.get(key)
            if found is None:
                self.add(_join(path, str(key)), f"unknown member of {name}")
                continue
            member, member_ref = found
            if item is not None:
                present += 1
            self.value(member_ref, item, _join(path, member))
        for member in shape.get("required", []):
            member_ref = shape["members"][member]
            if member_ref.get("location"):
                continue
            wire = self.model.wire_name(member, member_ref, self.wire)
            if value.get(wire) is None:
                self.add(_join(path, member), f"required member of {name} is missing")
        if shape.get("union") and present != 1:
            self.add(path, f"a union ({name}) sets exactly one member, got {present}")

    def _list(self, name: str, shape: dict, ref: dict, value: Any, path: str) -> None:
        if not isinstance(value, (list, tuple)):
            self.add(path, f"expected a list ({name}), got {_kind(value)}")
            return
        for problem in _sized(shape, len(value), "length"):
            self.add(path, problem)
        for index, item in enumerate(value):
            self.value(shape["member"], item, f"{path}[{index}]")

    def _map(self, name: str, shape: dict, ref: dict, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.add(path, f"expected a map ({name}), got {_kind(value)}")
            return
        for problem in _sized(shape, len(value), "entries"):
            self.add(path, problem)
        for key, item in value.items():
            where = f"{path}[{json.dumps(key) if isinstance(key, str) else _show(key)}]"
            self.value(shape["key"], key, where)
            self.value(shape["value"], item, where)

    def _string(self, name: str, shape: dict, ref: dict, value: Any, path: str) -> None:
        if not isinstance(value, str):
            self.add(path, f"expected a string ({name}), got {_kind(value)} {_show(value)}")
            return
        for problem in _string(shape, value):
            self.add(path, problem)

    def _integer(self, name: str, shape: dict, ref: dict, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, f"expected an integer ({name}), got {_kind(value)} {_show(value)}")
            return
        for problem in _ranged(shape, value):
            self.add(path, problem)

    _long = _short = _byte = _integer

    def _double(self, name: str, shape: dict, ref: dict, value: Any, path: str) -> None:
        if self.wire == "json" and value in NON_FINITE:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.add(path, f"expected a number ({name}), got {_kind(value)} {_show(value)}")
            return
        if math.isfinite(value):
            for problem in _ranged(shape, value):
                self.add(path, problem)

    _float = _double

    def _boolean(self, name: str, shape: dict, ref: dict, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            self.add(path, f"expected a boolean ({name}), got {_kind(value)} {_show(value)}")

    def _timestamp(self, name: str, shape: dict, ref: dict, value: Any, path: str) -> None:
        form = ref.get("timestampFormat") or shape.get("timestampFormat")
        if self.wire == "cbor":
            if not isinstance(value, dt.datetime):
                got = f"{_kind(value)} {_show(value)}"
                self.add(path, f"expected a timestamp (CBOR tag 1), got {got}")
            return
        if form in ("iso8601", "rfc822"):
            if not isinstance(value, str) or not _text_timestamp(value, form):
                self.add(path, f"expected an {form} timestamp string, got {_show(value)}")
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            got = f"{_kind(value)} {_show(value)}"
            self.add(path, f"expected a timestamp (epoch seconds), got {got}")

    def _blob(self, name: str, shape: dict, ref: dict, value: Any, path: str) -> None:
        if self.wire == "cbor":
            if not isinstance(value, (bytes, bytearray)):
                self.add(path, f"expected a byte string ({name}), got {_kind(value)}")
                return
            size = len(value)
        else:
            if not isinstance(value, str) or not _base64(value):
                self.add(path, f"expected base64 text ({name}), got {_show(value)}")
                return
            size = len(base64.b64decode(value))
        for problem in _sized(shape, size, "length"):
            self.add(path, problem)


def _base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


_RFC822 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")


def _text_timestamp(text: str, form: str = "iso8601") -> bool:
    if form == "rfc822":
        return bool(_RFC822.match(text))
    if "T" not in text:
        return False
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _problems(
    model_: Model, operation: str, direction: str, value: Any, wire: str
) -> list[tuple[str, str]]:
    if operation not in model_.operations:
        return [(ROOT, f"{model_.name} has no operation {operation}")]
    ref = model_.io_shape(operation, direction)
    if ref is None:
        if value in (None, {}, b""):
            return []
        return [(ROOT, f"{operation} has no {direction} shape, got {_kind(value)}")]
    walk = _Walk(model_, wire)
    walk.value(ref, value, ROOT)
    return walk.problems


def _lines(problems: list[tuple[str, str]]) -> list[str]:
    return [f"{path}: {message}" if path else message for path, message in problems]


def validate(
    service: str, operation: str, direction: str, value: Any, wire: str = "json"
) -> list[str]:
    """Problems of ``value`` as ``operation``'s input or output, as ``"path: message"``.

    ``service`` is the botocore model name (``ecs``, ``codedeploy``, ``cloudwatch``,
    ...); ``value`` the decoded body (JSON for ``wire`` ``json``, CBOR for
    ``cbor``). An empty list means it conforms.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}")
    found = model(service)
    if found is None:
        return [f"botocore has no model {service!r}"]
    return _lines(_problems(found, operation, direction, value, wire))


# --- awsQuery / ec2 parameters -------------------------------------------------------------


@dataclass
class _Node:
    value: str | None = None
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(pairs: list[tuple[str, str]], problems: list[tuple[str, str]]) -> _Node:
    root = _Node()
    for key, value in pairs:
        node = root
        for part in key.split("."):
            node = node.children.setdefault(part, _Node())
        if node.value is not None:
            problems.append((key, "parameter given more than once"))
        node.value = value
    return root


class _QueryWalk:
    """Checks rebuilt awsQuery/ec2 parameters against a shape."""

    def __init__(self, model: Model, wire: str) -> None:
        self.model = model
        self.wire = wire  # "query" or "ec2"
        self.problems: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def node(self, ref: dict[str, Any], node: _Node, path: str) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            return
        shape_name = ref["shape"]
        shape = self.model.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure":
            self._structure(shape_name, shape, node, path)
        elif kind == "list":
            self._list(shape_name, shape, ref, node, path)
        elif kind == "map":
            self._map(shape_name, shape, ref, node, path)
        elif node.children:
            first = _join(path, sorted(node.children)[0])
            self.add(path, f"expected a value ({shape_name}), got parameters {first}...")
        elif node.value is not None:
            self._scalar(shape_name, shape, ref, node.value, path)

    def _structure(self, name: str, shape: dict, node: _Node, path: str) -> None:
        if shape.get("document"):
            return
        if node.value is not None and not node.children and path:
            self.add(path, f"expected the members of {name}, got a value {_show(node.value)}")
            return
        names = self.model.wire_names(name, self.wire)
        for key, child in node.children.items():
            found = names.get(key)
            if found is None:
                self.add(_join(path, key), f"unknown parameter (not a member of {name})")
                continue
            member, member_ref = found
            self.node(member_ref, child, _join(path, member))
        for member in shape.get("required", []):
            member_ref = shape["members"][member]
            if self.model.wire_name(member, member_ref, self.wire) not in node.children:
                self.add(_join(path, member), f"required member of {name} is missing")

    def _items(self, node: _Node, path: str) -> list[tuple[int, _Node]]:
        items = []
        for key, child in node.children.items():
            if not key.isdigit() or int(key) < 1:
                self.add(f"{path}.{key}", "a list index must be an integer from 1")
                continue
            items.append((int(key), child))
        items.sort(key=lambda item: item[0])
        if [index for index, _ in items] != list(range(1, len(items) + 1)):
            self.add(path, f"list indexes must be 1..N, got {[index for index, _ in items]}")
        return items

    def _list(self, name: str, shape: dict, ref: dict, node: _Node, path: str) -> None:
        if node.value == "" and not node.children:
            items: list[tuple[int, _Node]] = []  # the query protocol's empty list
        elif self.wire == "ec2" or _flattened(ref, shape):
            items = self._items(node, path)
        else:
            member_name = shape["member"].get("locationName", "member")
            unexpected = sorted(set(node.children) - {member_name})
            if unexpected or node.value is not None:
                self.add(
                    f"{path}.{unexpected[0]}" if unexpected else path,
                    f"expected list items as {member_name}.N",
                )
                return
            items = self._items(node.children.get(member_name, _Node()), path)
        for problem in _sized(shape, len(items), "length"):
            self.add(path, problem)
        for index, child in items:
            self.node(shape["member"], child, f"{path}[{index - 1}]")

    def _map(self, name: str, shape: dict, ref: dict, node: _Node, path: str) -> None:
        entries = node if _flattened(ref, shape) else node.children.get("entry", _Node())
        if not _flattened(ref, shape) and set(node.children) - {"entry"}:
            self.add(path, "expected map entries as entry.N.key / entry.N.value")
            return
        key_name = shape["key"].get("locationName", "key")
        value_name = shape["value"].get("locationName", "value")
        items = self._items(entries, path)
        for problem in _sized(shape, len(items), "entries"):
            self.add(path, problem)
        for index, entry in items:
            key = entry.children.get(key_name)
            if key is None or key.value is None:
                self.add(f"{path}.{index}", f"map entry without {key_name}")
                continue
            where = f"{path}[{json.dumps(key.value)}]"
            self.node(shape["key"], key, where)
            if value_name in entry.children:
                self.node(shape["value"], entry.children[value_name], where)
            else:
                self.add(where, f"map entry without {value_name}")

    def _scalar(self, name: str, shape: dict, ref: dict, text: str, path: str) -> None:
        kind = shape["type"]
        if kind == "string":
            for problem in _string(shape, text):
                self.add(path, problem)
        elif kind in INTEGERS:
            if not re.fullmatch(r"-?\d+", text):
                self.add(path, f"expected an integer ({name}), got {_show(text)}")
                return
            for problem in _ranged(shape, int(text)):
                self.add(path, problem)
        elif kind in ("double", "float"):
            if text in NON_FINITE:
                return
            try:
                number = float(text)
            except ValueError:
                self.add(path, f"expected a number ({name}), got {_show(text)}")
                return
            for problem in _ranged(shape, number):
                self.add(path, problem)
        elif kind == "boolean":
            if text not in ("true", "false"):
                self.add(path, f"expected true or false ({name}), got {_show(text)}")
        elif kind == "timestamp":
            form = ref.get("timestampFormat") or shape.get("timestampFormat") or "iso8601"
            if form == "unixTimestamp":
                ok = bool(re.fullmatch(r"-?\d+(\.\d+)?", text))
            else:
                ok = _text_timestamp(text, form)
            if not ok:
                self.add(path, f"expected an {form} timestamp, got {_show(text)}")
        elif kind == "blob":
            if not _base64(text):
                self.add(path, f"expected base64 text ({name}), got {_show(text)}")


# --- requests, responses and the record ---------------------------------------------------


@dataclass
class Verdict:
    """What the check of one request found."""

    service: str  # the botocore model name, or the wire's name if none was found
    operation: str
    wire: str  # "json", "cbor", "query" or "ec2"
    problems: list[tuple[str, str]]
    access_key: str | None
    model: Model | None = None
    code: str = "ValidationException"  # the error code a rejection answers with
    extension: bool = False  # the operation's response is the local AWS's own

    @property
    def deferred(self) -> bool:
        """True when every problem is one the service answers with its own error."""
        return bool(self.problems) and all(
            (self.service, self.operation, re.sub(r"\[\d+\]", "[]", path)) in SERVICE_ERRORS
            for path, _ in self.problems
        )

    @property
    def rejected(self) -> bool:
        return bool(self.problems) and not self.deferred

    def message(self, direction: str, problems: list[tuple[str, str]] | None = None) -> str:
        lines = _lines(self.problems if problems is None else problems)
        return f"{self.service} {self.operation} {WORDS[direction]}: " + "; ".join(lines)


# (service, operation, wire) -> the predicates limiting it (None: every request).
_extensions: dict[tuple[str, str, str | None], list[Callable[[dict, Any], bool] | None]] = {}


def extension(
    service: str,
    operation: str = "*",
    wire: str | None = None,
    when: Callable[[dict, Any], bool] | None = None,
) -> None:
    """Declare that the local AWS itself answers ``service``'s ``operation``.

    Its responses are then checked against the model's output shape (and its
    errors against the modelled ones). ``service`` is the botocore model name,
    ``operation`` ``"*"`` for all of them, ``wire`` ``"json"`` or ``"cbor"`` to
    limit it to one protocol (None: any). Responses over awsQuery/ec2 (XML) are
    not checked. ``when(environ, request)`` (the decoded request body), if
    given, limits it to the requests it returns True for: for an extension
    that answers some of an operation's requests and leaves the rest to moto
    (``ssm_calendar.py``: ``DescribeDocument`` of a Change Calendar document).
    """
    _extensions.setdefault((service, operation, wire), []).append(when)


def is_extension(
    service: str, operation: str, wire: str, environ: dict | None = None, request: Any = None
) -> bool:
    return any(
        when is None or (environ is not None and when(environ, request))
        for op in (operation, "*")
        for w in (wire, None)
        for when in _extensions.get((service, op, w), [])
    )


# The operations the existing extensions answer themselves (their modules are
# edited by others; a new extension module calls ``extension`` itself).
for _operation in (
    "PutLifecycleEventHookExecutionStatus",
    "ListDeploymentTargets",
    "GetDeploymentTarget",
    "StopDeployment",
):
    extension("codedeploy", _operation)  # codedeploy_ext.py
extension("ecs", "DescribeServiceDeployments")  # ecs_deployments.py
extension("ecs", "DescribeServiceRevisions")
extension("cloudwatch", "*", wire="cbor")  # cloudwatch_cbor.py: every CBOR answer


CBOR_PATH = counting.CBOR_PATH


def wire_of(environ: dict[str, Any]) -> str | None:
    """``json``, ``cbor``, ``query`` or ``ec2`` for a request; None for any other protocol."""
    if CBOR_PATH.match(environ.get("PATH_INFO", "")):
        return "cbor"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    if "Action" in query or environ.get("CONTENT_TYPE", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        return "ec2" if _signing_name(environ) == "ec2" else "query"
    return None


def _signing_name(environ: dict[str, Any]) -> str | None:
    """The SigV4 signing name of the credential scope (``ecs``, ``monitoring``, ...)."""
    scope = counting.credential_scope(environ)
    return scope[1] if scope else None


def _model_for_target(prefix: str, signing: str | None) -> Model | None:
    for name in (TARGET_PREFIXES.get(prefix), SIGNING_ALIASES.get(signing or ""), signing):
        found = model(name) if name else None
        if found is not None and found.metadata.get("targetPrefix") == prefix:
            return found
    return None


def _model_for_query(signing: str | None, version: str | None) -> Model | None:
    for name in (
        QUERY_SERVICES.get((signing or "", version or "")),
        SIGNING_ALIASES.get(signing or ""),
        signing,
    ):
        found = model(name) if name else None
        if found is not None and found.metadata.get("apiVersion") == version:
            return found
    return None


def check_request(
    environ: dict[str, Any], body: bytes, access_key: str | None
) -> Verdict | None:
    """Check one AWS request against its operation's input shape (None: not checked)."""
    wire = wire_of(environ)
    if wire is None:
        return None
    signing = _signing_name(environ)
    if wire in ("json", "cbor"):
        if wire == "cbor":
            match = CBOR_PATH.match(environ.get("PATH_INFO", ""))
            if match is None:
                return None
            prefix, operation = match.group("service"), match.group("operation")
        else:
            prefix, _, operation = environ["HTTP_X_AMZ_TARGET"].partition(".")
        found = _model_for_target(prefix, signing)
        if found is None:
            problem = (
                f"no botocore model has targetPrefix {prefix!r} (signing name {signing!r}); "
                "add it to conformance.TARGET_PREFIXES"
            )
            return Verdict(
                signing or prefix, operation, wire, [(ROOT, problem)], access_key,
                code="UnknownOperationException",
            )
        verdict = Verdict(found.name, operation, wire, [], access_key, found)
        verdict.extension = is_extension(found.name, operation, wire)
        if operation not in found.operations:
            verdict.problems.append((ROOT, f"{found.name} has no operation {operation}"))
            verdict.code = "UnknownOperationException"
            return verdict
        try:
            value = _decode(body, wire)
        except ValueError as err:
            verdict.problems.append((ROOT, f"the body is not {wire.upper()}: {err}"))
            verdict.code = "SerializationException"
            return verdict
        verdict.problems = _problems(found, operation, "input", value, wire)
        if not verdict.rejected:
            # An extension limited to some requests (``when``) is asked about one it serves.
            verdict.extension = is_extension(found.name, operation, wire, environ, value)
        return verdict

    # awsQuery / ec2
    pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        pairs += parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    pairs = [(k, v) for k, v in pairs if not k.startswith("X-Amz-")]  # presigned auth
    params = dict(pairs)
    operation, version = params.get("Action", ""), params.get("Version")
    found = _model_for_query(signing, version)
    if found is None:
        problem = (
            f"no botocore model for signing name {signing!r} with Version {version!r}; "
            "add it to conformance.QUERY_SERVICES"
        )
        return Verdict(
            signing or "unknown", operation or "unknown", wire, [(ROOT, problem)], access_key,
            code="InvalidAction",
        )
    verdict = Verdict(found.name, operation, wire, [], access_key, found)
    if operation not in found.operations:
        named = operation or "(no Action)"
        verdict.problems.append((ROOT, f"{found.name} has no operation {named}"))
        verdict.code = "InvalidAction"
        return verdict
    ref = found.io_shape(operation, "input")
    rest = [(k, v) for k, v in pairs if k not in ("Action", "Version")]
    walk = _QueryWalk(found, wire)
    tree = _tree(rest, walk.problems)
    if ref is None:
        walk.problems += [(k, f"{operation} takes no parameters") for k, _ in rest]
    else:
        walk.node(ref, tree, ROOT)
    verdict.problems = walk.problems
    if verdict.problems:
        missing = all("is missing" in message for _, message in verdict.problems)
        unknown = all("unknown parameter" in message for _, message in verdict.problems)
        if missing:
            verdict.code = "MissingParameter"
        elif wire == "ec2":
            verdict.code = "UnknownParameter" if unknown else "InvalidParameterValue"
        else:
            verdict.code = "ValidationError"
    return verdict


def _decode(body: bytes, wire: str) -> Any:
    if not body.strip():
        return {}
    if wire == "cbor":
        import cbor2

        try:
            return cbor2.loads(body)
        except Exception as err:  # noqa: BLE001 - cbor2 raises several kinds
            raise ValueError(str(err)) from err
    return json.loads(body)


def check_response(verdict: Verdict, status: int, body: bytes) -> list[tuple[str, str]]:
    """Problems of an extension's response to a checked request."""
    found = verdict.model
    if found is None or verdict.operation not in found.operations:
        return []
    try:
        value = _decode(body, verdict.wire)
    except ValueError as err:
        return [(ROOT, f"the body is not {verdict.wire.upper()}: {err}")]
    if 200 <= status < 300:
        return _problems(found, verdict.operation, "output", value, verdict.wire)
    if not isinstance(value, dict):
        return [(ROOT, f"an error body must be an object, got {_kind(value)}")]
    code = str(value.get("__type") or "").split(":", 1)[0].rsplit("#", 1)[-1]
    if not code:
        return [("__type", "an error answer names no error code")]
    if code in COMMON_ERRORS:
        return []
    if code not in found.errors(verdict.operation):
        modelled = ", ".join(sorted(found.errors(verdict.operation))) or "none"
        problem = f"{code!r} is not an error of {verdict.operation} (modelled: {modelled})"
        return [("__type", problem)]
    if code not in found.shapes:
        return []
    # ``__type`` and the message are the protocol's (botocore's error parser
    # reads ``message`` or ``Message``), the rest are the error shape's members.
    names = found.wire_names(code, verdict.wire)
    members = {
        key: item
        for key, item in value.items()
        if key in names or (key != "__type" and key.lower() != "message")
    }
    walk = _Walk(found, verdict.wire)
    walk.value({"shape": code}, members, ROOT)
    return walk.problems


class Recorder:
    """The violations found, and what was checked; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._violations: list[dict[str, Any]] = []
            self._dropped = 0
            self._requests = 0
            self._responses = 0
            self._unchecked = 0

    def checked(self, direction: str) -> None:
        with self._lock:
            if direction == "input":
                self._requests += 1
            else:
                self._responses += 1

    def unchecked(self) -> None:
        with self._lock:
            self._unchecked += 1

    def record(
        self, verdict: Verdict, direction: str, problems: list[tuple[str, str]] | None = None
    ) -> None:
        problems = verdict.problems if problems is None else problems
        with self._lock:
            for path, message in problems:
                if len(self._violations) >= MAX_RECORDED:
                    self._dropped += 1
                    continue
                self._violations.append(
                    {
                        "service": verdict.service,
                        "operation": verdict.operation,
                        "direction": direction,
                        "path": path,
                        "message": message,
                        "accessKey": verdict.access_key,
                    }
                )

    def record_crash(
        self, service: str, operation: str, direction: str, access_key: str | None, err: Exception
    ) -> None:
        """Record that the check itself failed (a bug here): loud, but the request is served."""
        verdict = Verdict(service, operation, "", [], access_key)
        self.record(verdict, direction, [(ROOT, f"the conformance check failed: {err!r}")])

    def report(self, access_key: str | None = None) -> dict[str, Any]:
        with self._lock:
            violations = [
                dict(v)
                for v in self._violations
                if access_key is None or v["accessKey"] == access_key
            ]
            return {
                "violations": violations,
                "checked": {"requests": self._requests, "responses": self._responses},
                "unchecked": {"requests": self._unchecked},
                "dropped": self._dropped,
                "models": MODELS,
            }


# --- answers --------------------------------------------------------------------------------


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


REASONS = {400: "Bad Request", 500: "Internal Server Error"}


def answer(
    verdict: Verdict, status: int, code: str, message: str | None, start_response: Callable
) -> list[bytes]:
    """An error answer in the request's protocol."""
    request_id = str(uuid.uuid4())
    side = "Sender" if status < 500 else "Receiver"
    headers = [("x-amzn-RequestId", request_id)]
    if verdict.wire == "cbor":
        import cbor2

        payload: dict[str, str] = {"__type": code}
        if message:
            payload["message"] = message
        body = cbor2.dumps(payload)
        headers += [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor")]
        metadata = verdict.model.metadata if verdict.model is not None else {}
        if "awsQueryCompatible" in metadata and code != "UnknownOperationException":
            query_code = {"ValidationException": "ValidationError"}.get(code, code)
            headers.append(("x-amzn-query-error", f"{query_code};{side}"))
    elif verdict.wire == "query":
        body = (
            "<ErrorResponse><Error>"
            f"<Type>{side}</Type><Code>{_xml_escape(code)}</Code>"
            f"<Message>{_xml_escape(message or code)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers.append(("Content-Type", "text/xml"))
    elif verdict.wire == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{_xml_escape(code)}</Code><Message>{_xml_escape(message or code)}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers.append(("Content-Type", "text/xml;charset=UTF-8"))
    else:
        payload = {"__type": code}
        if message:
            payload["message"] = message
        body = json.dumps(payload).encode()
        version = (verdict.model.metadata.get("jsonVersion") if verdict.model else None) or "1.1"
        headers += [
            ("Content-Type", f"application/x-amz-json-{version}"),
            ("x-amzn-ErrorType", code),
        ]
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{status} {REASONS.get(status, 'Error')}", headers)
    return [body]


def reject(verdict: Verdict, start_response: Callable) -> list[bytes]:
    """Answer a non-conforming request as AWS answers a malformed one (HTTP 400)."""
    message = None
    if not (verdict.wire == "cbor" and verdict.code == "UnknownOperationException"):
        message = verdict.message("input")  # (rpcv2Cbor's unknown operation has none)
    return answer(verdict, 400, verdict.code, message, start_response)


def server_error(
    verdict: Verdict, problems: list[tuple[str, str]], start_response: Callable
) -> list[bytes]:
    """Answer in place of a non-conforming extension response (HTTP 500)."""
    message = "local AWS conformance: " + verdict.message("output", problems)
    return answer(verdict, 500, "InternalFailure", message, start_response)


# --- the command line: scripts/test's check -------------------------------------------------


def fetch_report(url: str) -> dict[str, Any]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{url.rstrip('/')}/_autopilot/conformance", timeout=30) as resp:
        return json.loads(resp.read())


def summary(report: dict[str, Any]) -> str:
    checked = report["checked"]
    count = len(report["violations"]) + report.get("dropped", 0)
    return (
        f"conformance: {checked['requests']} requests and {checked['responses']} extension "
        f"responses checked against {report['models']} models, {count} violation"
        f"{'' if count == 1 else 's'} ({report['unchecked']['requests']} requests of "
        "other protocols not checked)"
    )


def print_report(report: dict[str, Any], out=sys.stdout) -> bool:
    """Print every violation and the summary; True if there were none."""
    for v in report["violations"]:
        where = f"{v['path']}: " if v["path"] else ""
        print(
            f"conformance violation: {v['service']} {v['operation']} "
            f"{WORDS.get(v['direction'], v['direction'])}: {where}{v['message']}"
            f" (access key {v['accessKey']})",
            file=out,
        )
    if report.get("dropped"):
        print(f"conformance: {report['dropped']} more violations not recorded", file=out)
    print(summary(report), file=out)
    return not report["violations"] and not report.get("dropped")


def main(argv: list[str]) -> int:
    """``conformance.py report [URL]`` or ``conformance.py run -- CMD...``.

    ``run`` runs CMD (against the local AWS at ``$AWS_ENDPOINT_URL``, as
    ``scripts/localaws run`` sets it), then prints the server's conformance
    report; it exits with CMD's status if CMD failed, else 1 if there were
    violations, else 0. ``report`` only prints (and exits 1 on violations).
    """
    if argv[:1] == ["report"] and len(argv) <= 2:
        url = argv[1] if len(argv) == 2 else os.environ.get("AWS_ENDPOINT_URL", "")
        status = 0
    elif argv[:2] == ["run", "--"] and len(argv) > 2:
        url = os.environ.get("AWS_ENDPOINT_URL", "")
        try:
            status = subprocess.call(argv[2:])
        except KeyboardInterrupt:
            return 130
    else:
        print(main.__doc__, file=sys.stderr)
        return 2
    if not url:
        print("conformance: no URL (set AWS_ENDPOINT_URL)", file=sys.stderr)
        return status or 2
    try:
        report = fetch_report(url)
    except (OSError, ValueError, urllib.error.URLError) as err:
        print(f"conformance: cannot read {url}/_autopilot/conformance: {err}", file=sys.stderr)
        return status or 1
    sys.stdout.flush()
    ok = print_report(report)
    if status:
        return status
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
