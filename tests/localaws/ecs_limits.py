"""Amazon ECS request limits that moto does not enforce.

Models these parts of the Amazon ECS API reference, so that code tested here
breaks here the way it would on a real account:

* ``DescribeServices``: "You may specify up to 10 services to describe in a single
  operation." More than 10 answers HTTP 400 ``InvalidParameterException`` with
  ECS's message ``service names can have at most 10 items.``
* ``ListServices``: pages; ``maxResults`` between 1 and 100, default 10
  ("If this parameter isn't used, then ListServices returns up to 10 results and
  a nextToken value if applicable").
* ``ListClusters``: pages; ``maxResults`` between 1 and 100, default 100 (the API
  reference's default for this operation).
* ``ListTaskDefinitions``: sorted by family and numeric revision, ``sort``
  ``ASC`` (default) or ``DESC`` ("the most recent revisions first"); pages with
  ``maxResults`` between 1 and 100, default 100. moto ignores all three.
* ``nextToken`` is opaque; a token that this server did not issue for the same
  operation answers ``InvalidParameterException``.

Implemented by wrapping moto's ECS response methods: moto builds the full,
unpaged list and this module slices it (ordered by ARN, so pages are stable).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable

from moto.core.responses import ActionResult
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.responses import EC2ContainerServiceResponse

DESCRIBE_SERVICES_MAX = 10
MAX_RESULTS_LIMIT = 100


def _encode_token(operation: str, after: str) -> str:
    raw = json.dumps({"op": operation, "after": after}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_token(operation: str, token: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data.get("op") == operation and isinstance(data.get("after"), str):
            return data["after"]
    except (binascii.Error, ValueError, AttributeError, TypeError):
        pass
    raise InvalidParameterException("Invalid token")


def _page(
    self: EC2ContainerServiceResponse,
    operation: str,
    items: list[str],
    default_max: int,
    key: Callable[[str], object] = lambda item: item,
) -> tuple[list[str], str | None]:
    max_results = self._get_param("maxResults")
    if max_results is None:
        max_results = default_max
    else:
        max_results = int(max_results)
        if max_results < 1 or max_results > MAX_RESULTS_LIMIT:
            raise InvalidParameterException(
                f"maxResults must be between 1 and {MAX_RESULTS_LIMIT}, got {max_results}."
            )
    reverse = operation == "ListTaskDefinitions" and self._get_param("sort") == "DESC"
    items = sorted(items, key=key, reverse=reverse)
    token = self._get_param("nextToken")
    if token:
        after = key(_decode_token(operation, token))
        items = [item for item in items if (key(item) < after if reverse else key(item) > after)]
    page = items[:max_results]
    next_token = _encode_token(operation, page[-1]) if len(items) > max_results else None
    return page, next_token


def _family_revision(arn: str) -> tuple[str, int]:
    """``arn:...:task-definition/family:7`` as ``("family", 7)``."""
    family, _, revision = arn.rsplit("/", 1)[-1].rpartition(":")
    return family, int(revision) if revision.isdigit() else 0


def _wrap_list(
    method: Callable,
    operation: str,
    key: str,
    default_max: int,
    sort_key: Callable[[str], object] = lambda item: item,
) -> Callable:
    @functools.wraps(method)
    def wrapper(self: EC2ContainerServiceResponse) -> ActionResult:
        result = method(self)
        items = list(result.result[key])  # type: ignore[index]
        page, next_token = _page(self, operation, items, default_max, sort_key)
        body = {key: page}
        if next_token:
            body["nextToken"] = next_token
        return ActionResult(body)

    wrapper._autopilot_wrapped = True  # type: ignore[attr-defined]
    return wrapper


def _wrap_describe_services(method: Callable) -> Callable:
    @functools.wraps(method)
    def wrapper(self: EC2ContainerServiceResponse) -> ActionResult:
        services = self._get_param("services", []) or []
        if len(services) > DESCRIBE_SERVICES_MAX:
            raise InvalidParameterException("service names can have at most 10 items.")
        return method(self)

    wrapper._autopilot_wrapped = True  # type: ignore[attr-defined]
    return wrapper


def install() -> None:
    cls = EC2ContainerServiceResponse
    if getattr(cls.describe_services, "_autopilot_wrapped", False):
        return
    cls.describe_services = _wrap_describe_services(cls.describe_services)
    cls.list_services = _wrap_list(cls.list_services, "ListServices", "serviceArns", 10)
    cls.list_clusters = _wrap_list(cls.list_clusters, "ListClusters", "clusterArns", 100)
    cls.list_task_definitions = _wrap_list(
        cls.list_task_definitions,
        "ListTaskDefinitions",
        "taskDefinitionArns",
        100,
        _family_revision,
    )
