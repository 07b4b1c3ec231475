"""Amazon ECS service revisions and service deployments, which moto 5.2.5 lacks.

Models these parts of the Amazon ECS API reference (awsJson 1.1, camelCase
members as in botocore's ``ecs`` 2014-11-13 model; timestamps are epoch seconds;
errors ``{"__type": "InvalidParameterException", "message": ...}`` with HTTP 400,
as moto's other ECS errors):

* ``DescribeServiceRevisions(serviceRevisionArns)`` -> ``{"serviceRevisions":
  [ServiceRevision], "failures": [{"arn", "reason": "MISSING"}]}``, in request
  order. ``serviceRevisionArns`` is required and holds 1 to 20 ARNs ("You can
  specify a maximum of 20 ARNs"), else ``InvalidParameterException``; an ARN that
  names no revision (or is not an ARN) is a failure, not an error.
* ``DescribeServiceDeployments(serviceDeploymentArns)`` -> ``{"serviceDeployments":
  [ServiceDeployment], "failures": [...]}``, same rules.

Where they come from: ``CreateService`` and ``UpdateService`` (moto's response
methods, wrapped) record them once moto has accepted the call.

* A ``ServiceRevision`` ("a version of the service that includes the values for
  the Amazon ECS resources ... and the environment resources") on every
  ``CreateService``, and on an ``UpdateService`` that changes the revision or
  forces a deployment: ``forceNewDeployment: true`` ("By default, deployments
  aren't forced. You can use this option to start a new deployment with no
  service definition changes"), or a ``taskDefinition``, ``loadBalancers`` or
  ``networkConfiguration`` that differs from the current revision's (the task
  definition compared as the full ARN it resolves to, so naming the family or
  the ARN the service already runs starts nothing). One that only changes
  ``desiredCount`` or ``deploymentConfiguration``, or repeats the current
  values, makes none. ARN ``arn:aws:ecs:{region}:{account}:service-revision/{cluster}/{service}/{id}``
  with a 19-digit, increasing id. Members: ``serviceRevisionArn``, ``serviceArn``,
  ``clusterArn``, ``taskDefinition`` (the full ARN the service now uses),
  ``launchType``, ``platformVersion`` (when set), ``loadBalancers`` and
  ``networkConfiguration`` (the request's, else the previous revision's, kept
  verbatim with each load balancer's ``advancedConfiguration``),
  ``containerImages`` (``containerName``, ``image`` of each container of the task
  definition), ``guardDutyEnabled: false``, ``createdAt`` and
  ``resolvedConfiguration.loadBalancers`` (``targetGroupArn``,
  ``productionListenerRule``): per load balancer with a target group, the one
  this revision's tasks serve. With ``deploymentConfiguration.strategy``
  ``BLUE_GREEN``, ``LINEAR`` or ``CANARY`` and an
  ``advancedConfiguration.alternateTargetGroupArn``, the service's first revision
  serves ``targetGroupArn`` and each later one the target group of the pair that
  the previous revision did not (ECS alternates blue and green); otherwise
  (``ROLLING``, or no alternate) ``targetGroupArn``.
* A ``ServiceDeployment`` for each new revision: ARN
  ``arn:aws:ecs:{region}:{account}:service-deployment/{cluster}/{service}/{id}``
  (21 random URL-safe characters), ``status`` ``IN_PROGRESS``, ``lifecycleStage``
  ``RECONCILE_SERVICE``, ``createdAt``/``startedAt``/``updatedAt``,
  ``targetServiceRevision`` (the new revision) and ``sourceServiceRevisions``
  (``[]`` on ``CreateService``, else the previous revision), both
  ``ServiceRevisionSummary`` (``arn``, ``requestedTaskCount`` = the desired count,
  ``runningTaskCount``/``pendingTaskCount`` 0, and for the blue/green-like
  strategies ``requestedTestTrafficWeight``/``requestedProductionTrafficWeight``:
  target 100/0, source 0/100), and the service's ``deploymentConfiguration``.
  An earlier deployment of the service still ``PENDING`` or ``IN_PROGRESS``
  becomes ``STOPPED`` (``stoppedAt``, ``statusReason``): the newer one supersedes it.

moto keeps a service's ``loadBalancers`` (with ``advancedConfiguration``) but
drops ``deploymentConfiguration`` on ``CreateService``, so this module keeps the
service's own: the defaults ECS reports (``maximumPercent`` 200,
``minimumHealthyPercent`` 100, circuit breaker off, ``strategy`` ``ROLLING``),
overlaid member by member with each ``deploymentConfiguration`` a
``CreateService`` or ``UpdateService`` gives (``strategy``,
``bakeTimeInMinutes``, ``lifecycleHooks``, ...).

Test-only endpoints (served by the middleware, see ``middleware.py``):
``GET /_autopilot/ecs/service-deployments[?serviceArn=X]`` (full documents,
newest first) and ``POST /_autopilot/ecs/service-deployment
{"serviceDeploymentArn", "status"?, "lifecycleStage"?, "rollback"?: {"reason",
"serviceRevisionArn"}, "targetWeights"?: {"test", "production"}}``, which sets
those members (``rollback.startedAt`` = now; the target's requested weights, and
100 minus them on the sources; ``stoppedAt`` on ``STOPPED``, ``finishedAt`` on
``SUCCESSFUL``, ``ROLLBACK_SUCCESSFUL`` or ``ROLLBACK_FAILED``) and ``updatedAt``.

State lives on moto's ECS backend objects, so ``POST /moto-api/reset`` clears it
with the rest of moto.
"""

from __future__ import annotations

import copy
import functools
import itertools
import secrets
import string
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend, Service, ecs_backends
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.utilities.utils import get_partition

DESCRIBE_MAX = 20
BLUE_GREEN_LIKE = {"BLUE_GREEN", "LINEAR", "CANARY"}
STATUSES = [
    "PENDING",
    "SUCCESSFUL",
    "STOPPED",
    "STOP_REQUESTED",
    "IN_PROGRESS",
    "ROLLBACK_REQUESTED",
    "ROLLBACK_IN_PROGRESS",
    "ROLLBACK_SUCCESSFUL",
    "ROLLBACK_FAILED",
]
LIFECYCLE_STAGES = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
]
SUPERSEDED = {"PENDING", "IN_PROGRESS"}
FINISHED = {"SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}
SUPERSEDED_REASON = "a newer deployment started"
DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
    "strategy": "ROLLING",
}
# UpdateService members that start a new service revision (and deployment).
REVISION_MEMBERS = ("taskDefinition", "loadBalancers", "networkConfiguration")
DEPLOYMENT_ID_ALPHABET = string.ascii_letters + string.digits

_lock = threading.RLock()
_sequence = itertools.count(1)
_last_revision_id = 0


def _now() -> float:
    return round(time.time(), 3)


def _new_revision_id() -> str:
    global _last_revision_id
    with _lock:
        _last_revision_id = max(_last_revision_id + 1, time.time_ns())
        return f"{_last_revision_id:019d}"


def _new_deployment_id() -> str:
    return "".join(secrets.choice(DEPLOYMENT_ID_ALPHABET) for _ in range(21))


# --- per-backend state ------------------------------------------------------------


def _state(backend: EC2ContainerServiceBackend) -> dict[str, Any]:
    state = getattr(backend, "_autopilot_service_deployments", None)
    if state is None:
        state = {
            "revisions": {},  # serviceRevisionArn -> ServiceRevision
            "deployments": {},  # serviceDeploymentArn -> ServiceDeployment
            "sequence": {},  # serviceDeploymentArn -> creation order
            # "<cluster>:<service>" -> {"revisionArn", "deploymentConfiguration"}
            "services": {},
        }
        backend._autopilot_service_deployments = state  # type: ignore[attr-defined]
    return state


def _all_states():
    for account_backends in list(ecs_backends.values()):
        for backend in list(account_backends.values()):
            state = getattr(backend, "_autopilot_service_deployments", None)
            if state is not None:
                yield state


# --- recording ------------------------------------------------------------------------


def _resolved_load_balancers(
    load_balancers: list[dict[str, Any]],
    strategy: str,
    previous: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    previously_served = {
        entry.get("targetGroupArn")
        for entry in ((previous or {}).get("resolvedConfiguration") or {}).get("loadBalancers", [])
    }
    resolved = []
    for entry in load_balancers:
        target_group = entry.get("targetGroupArn")
        if not target_group:
            continue
        advanced = entry.get("advancedConfiguration") or {}
        alternate = advanced.get("alternateTargetGroupArn")
        serves = target_group
        if strategy in BLUE_GREEN_LIKE and alternate and target_group in previously_served:
            serves = alternate
        item = {"targetGroupArn": serves}
        if advanced.get("productionListenerRule"):
            item["productionListenerRule"] = advanced["productionListenerRule"]
        resolved.append(item)
    return resolved


def _summary(
    revision_arn: str, desired_count: int, strategy: str, source: bool
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "arn": revision_arn,
        "requestedTaskCount": desired_count,
        "runningTaskCount": 0,
        "pendingTaskCount": 0,
    }
    if strategy in BLUE_GREEN_LIKE:
        summary["requestedTestTrafficWeight"] = 0.0 if source else 100.0
        summary["requestedProductionTrafficWeight"] = 100.0 if source else 0.0
    return summary


def _changes_revision(
    previous: dict[str, Any] | None, params: Callable[[str], Any], task_definition: Any
) -> bool:
    """True when an UpdateService gives a revision member that differs from ``previous``."""
    given = {name: params(name) for name in REVISION_MEMBERS}
    if all(value is None for value in given.values()):
        return False
    if previous is None:
        return True
    if given["taskDefinition"] is not None:
        # The request may name the family, family:revision or the ARN; moto
        # has resolved it to the ARN the service now has.
        current = task_definition.arn if task_definition is not None else None
        if current != previous.get("taskDefinition"):
            return True
    for name in ("loadBalancers", "networkConfiguration"):
        if given[name] is not None and given[name] != previous.get(name):
            return True
    return False


def record(
    backend: EC2ContainerServiceBackend,
    service: Service,
    params: Callable[[str], Any],
    created: bool,
) -> None:
    """Record what a successful CreateService/UpdateService started.

    ``params(name)`` reads a member of the request.
    """
    with _lock:
        state = _state(backend)
        key = f"{service.cluster_name}:{service.name}"
        service_state = None if created else state["services"].get(key)
        if service_state is None:
            service_state = {
                "revisionArn": None,
                "deploymentConfiguration": copy.deepcopy(DEFAULT_DEPLOYMENT_CONFIGURATION),
            }
            state["services"][key] = service_state
        given = params("deploymentConfiguration")
        if isinstance(given, dict):
            service_state["deploymentConfiguration"].update(copy.deepcopy(given))

        previous = state["revisions"].get(service_state["revisionArn"] or "")
        task_definition = (
            backend.describe_task_definition(service.task_definition)
            if service.task_definition
            else None
        )
        if not created and not (
            params("forceNewDeployment") is True
            or _changes_revision(previous, params, task_definition)
        ):
            return

        now = _now()
        partition = get_partition(backend.region_name)
        prefix = f"arn:{partition}:ecs:{backend.region_name}:{backend.account_id}"
        configuration = service_state["deploymentConfiguration"]
        strategy = configuration.get("strategy") or "ROLLING"

        def carried(member: str, fallback: Any) -> Any:
            value = params(member)
            if value is None:
                value = previous.get(member) if previous is not None else fallback
            return copy.deepcopy(value)

        load_balancers = carried("loadBalancers", service.load_balancers) or []
        network_configuration = carried("networkConfiguration", service.network_configuration)

        revision_arn = (
            f"{prefix}:service-revision/{service.cluster_name}/{service.name}/"
            f"{_new_revision_id()}"
        )
        revision: dict[str, Any] = {
            "serviceRevisionArn": revision_arn,
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
        }
        if task_definition is not None:
            revision["taskDefinition"] = task_definition.arn
        revision["launchType"] = service.launch_type
        if service.platform_version:
            revision["platformVersion"] = service.platform_version
        revision["loadBalancers"] = load_balancers
        if network_configuration:
            revision["networkConfiguration"] = network_configuration
        revision["containerImages"] = [
            {"containerName": container.get("name"), "image": container.get("image")}
            for container in (task_definition.container_definitions if task_definition else [])
        ]
        revision["guardDutyEnabled"] = False
        revision["createdAt"] = now
        revision["resolvedConfiguration"] = {
            "loadBalancers": _resolved_load_balancers(load_balancers, strategy, previous)
        }
        state["revisions"][revision_arn] = revision

        for earlier in state["deployments"].values():
            if earlier["serviceArn"] == service.arn and earlier["status"] in SUPERSEDED:
                earlier["status"] = "STOPPED"
                earlier["statusReason"] = SUPERSEDED_REASON
                earlier["stoppedAt"] = now
                earlier["updatedAt"] = now

        desired = service.desired_count or 0
        sources = []
        if previous is not None:
            sources.append(_summary(previous["serviceRevisionArn"], desired, strategy, source=True))
        deployment_arn = (
            f"{prefix}:service-deployment/{service.cluster_name}/{service.name}/"
            f"{_new_deployment_id()}"
        )
        state["deployments"][deployment_arn] = {
            "serviceDeploymentArn": deployment_arn,
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
            "createdAt": now,
            "startedAt": now,
            "updatedAt": now,
            "sourceServiceRevisions": sources,
            "targetServiceRevision": _summary(revision_arn, desired, strategy, source=False),
            "status": "IN_PROGRESS",
            "lifecycleStage": "RECONCILE_SERVICE",
            "deploymentConfiguration": copy.deepcopy(configuration),
        }
        state["sequence"][deployment_arn] = next(_sequence)
        service_state["revisionArn"] = revision_arn


def _wrap(method: Callable, created: bool) -> Callable:
    @functools.wraps(method)
    def wrapper(self: EC2ContainerServiceResponse) -> ActionResult:
        result = method(self)
        service = result.result["service"]  # type: ignore[index]
        record(self.ecs_backend, service, self._get_param, created)
        return result

    wrapper._autopilot_wrapped = True  # type: ignore[attr-defined]
    return wrapper


# --- response methods (X-Amz-Target AmazonEC2ContainerServiceV20141113.<Op>) -------


def _arns(self: EC2ContainerServiceResponse, member: str) -> list[str]:
    arns = self._get_param(member)
    if not isinstance(arns, list) or not arns:
        raise InvalidParameterException(f"{member} must have at least 1 item.")
    if len(arns) > DESCRIBE_MAX:
        raise InvalidParameterException(f"{member} can have at most {DESCRIBE_MAX} items.")
    return arns


def _describe(
    self: EC2ContainerServiceResponse, member: str, kind: str
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    arns = _arns(self, member)
    with _lock:
        documents = _state(self.ecs_backend)[kind]
        found, failures = [], []
        for arn in arns:
            document = documents.get(arn) if isinstance(arn, str) else None
            if document is None:
                failures.append({"arn": str(arn), "reason": "MISSING"})
            else:
                found.append(copy.deepcopy(document))
    return found, failures


def _r_describe_service_deployments(self: EC2ContainerServiceResponse) -> ActionResult:
    found, failures = _describe(self, "serviceDeploymentArns", "deployments")
    return ActionResult({"serviceDeployments": found, "failures": failures})


def _r_describe_service_revisions(self: EC2ContainerServiceResponse) -> ActionResult:
    found, failures = _describe(self, "serviceRevisionArns", "revisions")
    return ActionResult({"serviceRevisions": found, "failures": failures})


# --- test-only endpoints -------------------------------------------------------------


class EndpointError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def service_deployments(service_arn: str | None) -> dict[str, Any]:
    """All recorded deployments (of one service when ``service_arn`` is given), newest first."""
    with _lock:
        entries = [
            (state["sequence"][arn], copy.deepcopy(document))
            for state in _all_states()
            for arn, document in state["deployments"].items()
            if service_arn is None or document["serviceArn"] == service_arn
        ]
    entries.sort(key=lambda entry: entry[0], reverse=True)
    return {"serviceDeployments": [document for _, document in entries]}


def _weight(weights: dict[str, Any], name: str) -> float | None:
    if name not in weights:
        return None
    value = weights[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise EndpointError(400, f"targetWeights.{name} must be a number from 0 to 100")
    return float(value)


def update_service_deployment(request: dict[str, Any]) -> dict[str, Any]:
    """Set members of a recorded deployment (``POST /_autopilot/ecs/service-deployment``)."""
    arn = request["serviceDeploymentArn"]
    status = request.get("status")
    if status is not None and status not in STATUSES:
        raise EndpointError(400, f"status must be one of {', '.join(STATUSES)}")
    stage = request.get("lifecycleStage")
    if stage is not None and stage not in LIFECYCLE_STAGES:
        raise EndpointError(400, f"lifecycleStage must be one of {', '.join(LIFECYCLE_STAGES)}")
    rollback = request.get("rollback")
    if rollback is not None and not isinstance(rollback, dict):
        raise EndpointError(400, "rollback must be an object {reason, serviceRevisionArn}")
    weights = request.get("targetWeights")
    if weights is not None and not isinstance(weights, dict):
        raise EndpointError(400, "targetWeights must be an object {test, production}")
    test = _weight(weights or {}, "test")
    production = _weight(weights or {}, "production")

    with _lock:
        document = None
        for state in _all_states():
            document = state["deployments"].get(arn)
            if document is not None:
                break
        if document is None:
            raise EndpointError(404, f"service deployment {arn} not found")
        now = _now()
        if status is not None:
            document["status"] = status
            if status == "STOPPED":
                document["stoppedAt"] = now
            if status in FINISHED:
                document["finishedAt"] = now
        if stage is not None:
            document["lifecycleStage"] = stage
        if rollback is not None:
            document["rollback"] = {
                key: rollback[key] for key in ("reason", "serviceRevisionArn") if key in rollback
            }
            document["rollback"]["startedAt"] = now
        for name, value in (
            ("requestedTestTrafficWeight", test),
            ("requestedProductionTrafficWeight", production),
        ):
            if value is None:
                continue
            document["targetServiceRevision"][name] = value
            for source in document["sourceServiceRevisions"]:
                source[name] = 100.0 - value
        document["updatedAt"] = now
        return copy.deepcopy(document)


def install() -> None:
    """Wrap CreateService/UpdateService and add the two Describe operations."""
    cls = EC2ContainerServiceResponse
    if getattr(cls.create_service, "_autopilot_wrapped", False):
        return
    cls.create_service = _wrap(cls.create_service, created=True)
    cls.update_service = _wrap(cls.update_service, created=False)
    cls.describe_service_deployments = _r_describe_service_deployments
    cls.describe_service_revisions = _r_describe_service_revisions
