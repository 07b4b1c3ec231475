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
"serviceRevisionArn"}, "targetWeights"?: {"test", "production"}, "unresolved"?:
["target", "sources"]}``, which sets those members (``rollback.startedAt`` = now;
the target's requested weights, and 100 minus them on the sources; ``stoppedAt``
on ``STOPPED``, ``finishedAt`` on ``SUCCESSFUL``, ``ROLLBACK_SUCCESSFUL`` or
``ROLLBACK_FAILED``) and ``updatedAt``; ``unresolved`` drops the (optional)
``resolvedConfiguration`` of the target or source revisions, as of revisions
ECS has not resolved yet.

Validation (``CreateService``/``UpdateService``, before moto sees the call;
``InvalidParameterException``, messages ours): each ``lifecycleHooks[]`` entry
has ``targetType`` ``AWS_LAMBDA`` (the default) or ``PAUSE``, 1 or more
``lifecycleStages`` of ``DeploymentLifecycleHookStage``, a ``hookTargetArn``
when ``AWS_LAMBDA`` ("You must provide this parameter when configuring an
AWS_LAMBDA lifecycle hook"), no ``PAUSE`` at ``TEST_TRAFFIC_SHIFT`` or
``PRODUCTION_TRAFFIC_SHIFT``, at most 10 hooks of each type, and
``timeoutConfiguration.timeoutInMinutes`` 1 to 20,160 with ``action``
``ROLLBACK`` or ``CONTINUE`` (botocore's ``DeploymentLifecycleHookDuration``
min 1 max 20160; the Lambda hooks page still says 1 to 1,440);
``linearConfiguration.stepPercent`` a multiple of 0.1 from 3.0 to 100.0,
``canaryConfiguration.canaryPercent`` a multiple of 0.1 from 0.1 to 100.0, and
their bake times 0 to 1,440 (API reference ``LinearConfiguration``,
``CanaryConfiguration``).

Deployment driver: ECS's side of the lifecycle hooks
----------------------------------------------------

For a ``BLUE_GREEN``, ``LINEAR`` or ``CANARY`` deployment the module plans what
ECS does from the deployment's ``deploymentConfiguration`` (``strategy``,
``linearConfiguration``, ``canaryConfiguration``, ``lifecycleHooks``) and the
test harness plays the Lambda service: it asks for the next invocation, invokes
the real function binary with the payload, and reports the answer back. Sources
(ECS developer guide): "Lambda hooks for Amazon ECS service deployments"
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/lambda-lifecycle-hooks.html),
"Lifecycle hooks for Amazon ECS service deployments"
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-lifecycle-hooks.html,
mirrored at docs.amazonaws.cn), "Pause hooks ..." (pause-lifecycle-hooks.html),
"Amazon ECS linear deployments" (deployment-type-linear.html), "Amazon ECS
canary deployments" (deployment-type-canary.html); API reference
``DeploymentLifecycleHook``, ``DeploymentLifecycleHookDetail``,
``ServiceDeployment``, ``LinearConfiguration``, ``CanaryConfiguration``; and
botocore's ``ecs`` model (member names, enums, ranges).

* Stages, in order: ``RECONCILE_SERVICE`` (only "when you start a new service
  deployment with more than 1 service revision in an ACTIVE state": here, when
  the deployment superseded one still in progress, whose source and target
  revisions were both active), ``PRE_SCALE_UP``, ``SCALE_UP`` (no hook),
  ``POST_SCALE_UP``, ``TEST_TRAFFIC_SHIFT``, ``POST_TEST_TRAFFIC_SHIFT``, then
  per production traffic step ``PRE_PRODUCTION_TRAFFIC_SHIFT`` and
  ``PRODUCTION_TRAFFIC_SHIFT`` ("For linear and canary deployments, Lambda hooks
  configured at PRODUCTION_TRAFFIC_SHIFT or PRE_PRODUCTION_TRAFFIC_SHIFT are
  invoked at each traffic shift step"), ``POST_PRODUCTION_TRAFFIC_SHIFT`` once,
  ``BAKE_TIME`` and ``CLEAN_UP`` (no hooks), then ``SUCCESSFUL``. A stage without
  a hook is passed through (``lifecycleStage`` advances).
* Steps: ``BLUE_GREEN`` one (100); ``CANARY`` two, ``canaryPercent`` (default
  5.0) then 100 (the canary page: "Step 1: 10.0% to green, 90.0% to blue; Step
  2: 100.0% to green"); ``LINEAR`` ``stepPercent`` (default 10.0) and its
  multiples, "and so on until 100% reaches green" (the linear page). Not
  documented, modelled: a last step that overshoots is cut to 100 (33.3 gives
  33.3, 66.6, 99.9, 100.0). Weights are computed in tenths, so 97.5 is 97.5.
* Payload (the guide's "Common payload structure"): ``{"executionId",
  "lifecycleStage", "resourceArn": the service deployment, "executionDetails":
  {"serviceArn", "targetServiceRevisionArn", "testTrafficWeights",
  "productionTrafficWeights"}, "hookDetails"}``; ``hookDetails`` only when the
  hook configuration has some or an ``IN_PROGRESS`` answer gave some (the
  guide's stage examples have none). Weights are maps from service-revision ARN
  to a percentage, written as JSON doubles (``100.0``, ``2.5``: the API models
  traffic weights as doubles; the guide's examples print ``100`` and ``0``).
  Per stage, as the guide's examples show them (T the target revision, S the
  source): ``RECONCILE_SERVICE`` test and production {T: 100, S: 0} (the
  deployment-lifecycle-hooks page's example); ``PRE_SCALE_UP``,
  ``POST_SCALE_UP``, ``POST_TEST_TRAFFIC_SHIFT``, ``POST_PRODUCTION_TRAFFIC_SHIFT``
  both ``{}``; ``TEST_TRAFFIC_SHIFT`` test {T: 100, S: 0}, production ``{}``;
  ``PRE_PRODUCTION_TRAFFIC_SHIFT`` test ``{}``, production {T: 0, S: 100};
  ``PRODUCTION_TRAFFIC_SHIFT`` test ``{}``, production {T: 100, S: 0}. For the
  linear and canary steps (not shown by the guide, modelled): step k's
  ``PRODUCTION_TRAFFIC_SHIFT`` carries {T: w_k, S: 100 - w_k} and its
  ``PRE_PRODUCTION_TRAFFIC_SHIFT`` the weights before it, {T: w_k-1, S: 100 -
  w_k-1} (canary 2.5: 0/100, 2.5/97.5, then 2.5/97.5, 100/0).
* Answers ("hookStatus values"): ``SUCCEEDED`` completes the hook (the stage
  advances once every hook at it has completed: "All hooks configured at the
  same lifecycle stage run in parallel", the pause page; here they are invoked
  one after the other); ``IN_PROGRESS`` invokes the same hook again after
  ``callBackDelay`` seconds (default 30; a missing or negative one is the
  default, not documented), with the answer's ``hookDetails`` merged into what
  ECS passes next ("Amazon ECS merges this data and passes it back on the next
  invocation"; merged here key by key over the last payload's ``hookDetails``;
  runtime data "only persists between invocations of the same hook within a
  single deployment": every new hook execution, each traffic step's included,
  starts from the configured ``hookDetails``); ``FAILED``, an answer without a
  valid ``hookStatus``, or a function error ("If your function doesn't return a
  valid hookStatus, or if it fails, Amazon ECS rolls back the deployment")
  starts the rollback.
* Not documented, options per deployment (``POST /_autopilot/ecs/hook-options``):
  ``hookDetailsOnInProgress`` ``merge`` (default) or ``replace`` (the next
  payload carries the answer's ``hookDetails`` alone, or the configured ones
  when the answer has none), and ``executionIdOnReinvoke`` ``same`` (default) or
  ``new`` (a fresh UUID on every re-invocation). A first invocation always has a
  fresh UUID ``executionId``.
* Rollback ("Lifecycle hooks during rollback"): "There is no dedicated ROLLBACK
  lifecycle stage"; ECS "re-invokes hooks registered at the
  PRODUCTION_TRAFFIC_SHIFT and TEST_TRAFFIC_SHIFT stages", the weights showing
  traffic back on the source: ``PRODUCTION_TRAFFIC_SHIFT`` test ``{}``,
  production {T: 0, S: 100} (the guide's example; ``targetServiceRevisionArn``
  "remains the green revision ARN"), then ``TEST_TRAFFIC_SHIFT`` test {T: 0, S:
  100}, production ``{}`` (by symmetry; the guide shows no example). Both are
  re-invoked whatever stage failed, production first (the order the
  deployment-lifecycle-hooks page lists them in; not documented), once each
  (also for linear and canary). The deployment turns ``ROLLBACK_IN_PROGRESS``
  with ``statusReason`` and ``rollback {reason, startedAt,
  serviceRevisionArn: the source}``, the revisions' requested weights go back
  to the source, and then ``ROLLBACK_SUCCESSFUL`` (``finishedAt``), the
  service's current revision being the source again. Not documented, modelled:
  a hook failing during the rollback makes it ``ROLLBACK_FAILED``; the other
  hooks' executions at the stage that failed are abandoned (no longer invoked,
  their ``lifecycleHookDetails`` status left as it was). While hooks run going
  forward the deployment is ``IN_PROGRESS`` at every stage (the
  deployment-lifecycle-hooks page's "Deployment status during lifecycle hooks").
* ``lifecycleHookDetails`` (``DeploymentLifecycleHookDetail``): one entry per
  hook execution (each traffic step's its own, as pause hooks get "a unique
  hookId" per step), appended when it starts: ``hookId`` (``ecs-lambda-`` and 43
  URL-safe characters: the format of Lambda hook ids is not documented; pause
  hooks' look like ``ecs-pause-e7tK9G_...``), ``targetType`` ``AWS_LAMBDA``,
  ``targetArn``, ``status`` ``IN_PROGRESS`` then ``SUCCEEDED``, ``FAILED`` or
  ``TIMED_OUT``, ``expiresAt`` (start + ``timeoutInMinutes``, default 1,440) and
  ``timeoutAction`` (default ``ROLLBACK``). On a timeout ("If the Lambda
  function does not return SUCCEEDED or FAILED before the timeout expires,
  Amazon ECS takes the configured timeout action") ``ROLLBACK`` rolls back and
  ``CONTINUE`` "Proceeds the deployment to the next lifecycle stage". The clock
  is checked whenever the driver is asked; ``POST /_autopilot/ecs/hook-timeout``
  expires the current hook now.
* ``lifecycleStage`` is the stage being run; botocore's
  ``ServiceDeploymentLifecycleStage`` has no ``PRE_PRODUCTION_TRAFFIC_SHIFT``
  (1.44.8), so while that stage runs the deployment reports
  ``PRODUCTION_TRAFFIC_SHIFT`` unless the installed model lists it. The target
  revision's ``requestedProductionTrafficWeight`` follows each step (the
  sources' the rest) and its ``runningTaskCount`` is its requested count from
  ``SCALE_UP`` on. Bake times (``bakeTimeInMinutes``, the step and canary bake
  times) are not waited: the local clock is compressed.
* Not modelled: ``PAUSE`` hooks (the driver answers 400 for a deployment that
  has one), ``ContinueServiceDeployment``, alarms and the circuit breaker,
  EventBridge events.

Driver endpoints (test-only, served by the middleware; JSON bodies; 400 naming
the field for a bad request, 404 for an unknown deployment, 409 for an answer
no invocation awaits):

* ``POST /_autopilot/ecs/hook-invocation {"serviceDeploymentArn"}`` ->
  ``{"invocation": {"hookTargetArn", "hookId", "attempt", "rollback",
  "callBackDelay": seconds to wait before invoking (0 for a first invocation),
  "payload"}, "deployment"}``, or ``{"invocation": null, "deployment"}`` when no
  hook invocation remains. Asking again before answering gives the same one.
* ``POST /_autopilot/ecs/hook-answer {"serviceDeploymentArn", "executionId",
  "answer": the function's response | null, "functionError"?: "..."}`` ->
  the updated deployment.
* ``POST /_autopilot/ecs/hook-options {"serviceDeploymentArn",
  "hookDetailsOnInProgress"?, "executionIdOnReinvoke"?}`` -> the options.
* ``POST /_autopilot/ecs/hook-timeout {"serviceDeploymentArn"}`` -> the updated
  deployment, the current hook ``TIMED_OUT`` and its action taken.
* ``POST /_autopilot/ecs/hook-payload {"serviceDeploymentArn",
  "lifecycleStage", "step"?: 1.., "rollback"?: bool, "executionId"?,
  "hookDetails"?}`` -> ``{"payload"}``: the payload of that stage as the driver
  builds it, for tests that invoke one stage by hand.

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
import uuid
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
            # serviceDeploymentArn -> the driver's state (see _new_driver)
            "drivers": {},
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

        # The revisions active when this deployment starts: the service's
        # current one, and those of a deployment still in progress.
        active = {previous["serviceRevisionArn"]} if previous is not None else set()
        for earlier in state["deployments"].values():
            if earlier["serviceArn"] == service.arn and earlier["status"] in SUPERSEDED:
                active.add(earlier["targetServiceRevision"]["arn"])
                active.update(source["arn"] for source in earlier["sourceServiceRevisions"])
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
        state["drivers"][deployment_arn] = _new_driver(key, len(active))


def _wrap(method: Callable, created: bool) -> Callable:
    @functools.wraps(method)
    def wrapper(self: EC2ContainerServiceResponse) -> ActionResult:
        validate_deployment_configuration(self._get_param("deploymentConfiguration"))
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
    if rollback is not None and (
        not isinstance(rollback, dict)
        or not all(isinstance(rollback.get(k, ""), str) for k in ("reason", "serviceRevisionArn"))
    ):
        raise EndpointError(400, "rollback must be an object {reason, serviceRevisionArn} of strings")
    # ``resolvedConfiguration`` is optional in the ServiceRevision shape (botocore
    # ecs model): ``"unresolved": ["target"|"sources"...]`` leaves it out of those
    # revisions, as for a revision ECS has not resolved yet.
    unresolved = request.get("unresolved", [])
    if not isinstance(unresolved, list) or not set(unresolved) <= {"target", "sources"}:
        raise EndpointError(400, 'unresolved must be a list of "target" and "sources"')
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
        arns = []
        if "target" in unresolved:
            arns.append(document["targetServiceRevision"]["arn"])
        if "sources" in unresolved:
            arns.extend(source["arn"] for source in document["sourceServiceRevisions"])
        for state in _all_states():
            for revision_arn in arns:
                state["revisions"].get(revision_arn, {}).pop("resolvedConfiguration", None)
        document["updatedAt"] = now
        return copy.deepcopy(document)


# --- validation of deploymentConfiguration (CreateService/UpdateService) -----------

# botocore ecs model: DeploymentLifecycleHookStage, DeploymentLifecycleHookDuration
# (min 1, max 20160), DeploymentLifecycleHookAction; the pause hooks page: "a maximum
# of 10 pause hooks and 10 Lambda hooks per service", "Pause hooks cannot be
# configured at the TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages".
HOOK_STAGES = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
]
HOOK_TARGET_TYPES = ("AWS_LAMBDA", "PAUSE")
HOOK_ACTIONS = ("ROLLBACK", "CONTINUE")
NO_PAUSE_STAGES = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
HOOKS_PER_TYPE = 10
TIMEOUT_MINUTES = (1, 20160)
DEFAULT_TIMEOUT_MINUTES = 1440  # DeploymentLifecycleHookTimeoutConfiguration: "Default: 1440"
BAKE_MINUTES = (0, 1440)  # LinearConfiguration/CanaryConfiguration bake times
STEP_PERCENT = (30, 1000)  # LinearConfiguration.stepPercent 3.0..100.0, in tenths
CANARY_PERCENT = (1, 1000)  # CanaryConfiguration.canaryPercent 0.1..100.0, in tenths
DEFAULT_STEP_PERCENT = 100  # "The default value is 10.0."
DEFAULT_CANARY_PERCENT = 50  # "The default value is 5.0."


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _tenths(value: Any, member: str, bounds: tuple[int, int]) -> int:
    """A percentage that must be a multiple of 0.1 within ``bounds`` (tenths)."""
    low, high = bounds
    if not _number(value):
        raise InvalidParameterException(f"{member} must be a number.")
    tenths = round(value * 10)
    if abs(value * 10 - tenths) > 1e-6 or not low <= tenths <= high:
        raise InvalidParameterException(
            f"{member} must be a multiple of 0.1 from {low / 10} to {high / 10}."
        )
    return tenths


def _minutes(value: Any, member: str, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidParameterException(f"{member} must be an integer from {low} to {high}.")


def validate_deployment_configuration(given: Any) -> None:
    """Raise InvalidParameterException for a deploymentConfiguration ECS refuses."""
    if not isinstance(given, dict):
        return
    member = "deploymentConfiguration"
    linear = given.get("linearConfiguration")
    if isinstance(linear, dict):
        if "stepPercent" in linear:
            _tenths(linear["stepPercent"], f"{member}.linearConfiguration.stepPercent",
                    STEP_PERCENT)
        if "stepBakeTimeInMinutes" in linear:
            _minutes(linear["stepBakeTimeInMinutes"],
                     f"{member}.linearConfiguration.stepBakeTimeInMinutes", BAKE_MINUTES)
    canary = given.get("canaryConfiguration")
    if isinstance(canary, dict):
        if "canaryPercent" in canary:
            _tenths(canary["canaryPercent"], f"{member}.canaryConfiguration.canaryPercent",
                    CANARY_PERCENT)
        if "canaryBakeTimeInMinutes" in canary:
            _minutes(canary["canaryBakeTimeInMinutes"],
                     f"{member}.canaryConfiguration.canaryBakeTimeInMinutes", BAKE_MINUTES)
    hooks = given.get("lifecycleHooks")
    if hooks is None:
        return
    if not isinstance(hooks, list):
        raise InvalidParameterException(f"{member}.lifecycleHooks must be a list.")
    counts = {kind: 0 for kind in HOOK_TARGET_TYPES}
    for index, hook in enumerate(hooks):
        name = f"{member}.lifecycleHooks[{index}]"
        if not isinstance(hook, dict):
            raise InvalidParameterException(f"{name} must be an object.")
        kind = hook.get("targetType", "AWS_LAMBDA")
        if kind not in HOOK_TARGET_TYPES:
            raise InvalidParameterException(
                f"{name}.targetType must be one of {', '.join(HOOK_TARGET_TYPES)}.")
        counts[kind] += 1
        if counts[kind] > HOOKS_PER_TYPE:
            raise InvalidParameterException(
                f"{member}.lifecycleHooks can have at most {HOOKS_PER_TYPE} {kind} hooks.")
        stages = hook.get("lifecycleStages")
        if not isinstance(stages, list) or not stages:
            raise InvalidParameterException(f"{name}.lifecycleStages must have at least 1 item.")
        for stage in stages:
            if stage not in HOOK_STAGES:
                raise InvalidParameterException(
                    f"{name}.lifecycleStages: {stage!r} is not one of {', '.join(HOOK_STAGES)}.")
            if kind == "PAUSE" and stage in NO_PAUSE_STAGES:
                raise InvalidParameterException(
                    f"{name}: PAUSE hooks cannot be configured at {stage}.")
        if kind == "AWS_LAMBDA" and not hook.get("hookTargetArn"):
            raise InvalidParameterException(
                f"{name}.hookTargetArn is required for an AWS_LAMBDA lifecycle hook.")
        timeout = hook.get("timeoutConfiguration")
        if timeout is not None:
            if not isinstance(timeout, dict):
                raise InvalidParameterException(f"{name}.timeoutConfiguration must be an object.")
            if "timeoutInMinutes" in timeout:
                _minutes(timeout["timeoutInMinutes"],
                         f"{name}.timeoutConfiguration.timeoutInMinutes", TIMEOUT_MINUTES)
            if "action" in timeout and timeout["action"] not in HOOK_ACTIONS:
                raise InvalidParameterException(
                    f"{name}.timeoutConfiguration.action must be one of {', '.join(HOOK_ACTIONS)}.")


# --- the deployment driver: ECS's side of the lifecycle hooks ----------------------------

HOOK_STATUSES = ("SUCCEEDED", "FAILED", "IN_PROGRESS")
DEFAULT_CALLBACK_DELAY = 30  # "By default, the delay is 30 seconds."
DRIVEN = {"IN_PROGRESS", "ROLLBACK_IN_PROGRESS"}
OPTIONS = {
    "hookDetailsOnInProgress": ("merge", "replace"),
    "executionIdOnReinvoke": ("same", "new"),
}
HOOK_ID_PREFIX = "ecs-lambda-"
_ABSENT = object()


@functools.cache
def _deployment_stages() -> frozenset[str]:
    """ServiceDeploymentLifecycleStage in the installed botocore model."""
    try:
        from botocore.loaders import Loader

        model = Loader().load_service_model("ecs", "service-2")
        return frozenset(model["shapes"]["ServiceDeploymentLifecycleStage"]["enum"])
    except Exception:  # noqa: BLE001 - the model as of botocore 1.44.8
        return frozenset(LIFECYCLE_STAGES)


def _reported_stage(stage: str) -> str:
    """The deployment's lifecycleStage while ``stage`` runs (see the module docstring)."""
    if stage in _deployment_stages():
        return stage
    return "PRODUCTION_TRAFFIC_SHIFT"


def _new_driver(service_key: str, active_at_start: int) -> dict[str, Any]:
    return {
        "serviceKey": service_key,
        "activeAtStart": active_at_start,
        "options": {"hookDetailsOnInProgress": "merge", "executionIdOnReinvoke": "same"},
        "plan": None,  # built on first use: the stages, in order
        "position": -1,  # index in plan of the stage being run
        "phase": "forward",  # forward, rollback, done
        "executions": [],  # the hook executions of the stage being run
    }


def _weights(document: dict[str, Any], target_tenths: int) -> dict[str, float]:
    """Target revision at ``target_tenths``/10 percent, the (first) source the rest."""
    weights = {document["targetServiceRevision"]["arn"]: target_tenths / 10}
    for index, source in enumerate(document["sourceServiceRevisions"]):
        weights[source["arn"]] = (1000 - target_tenths) / 10 if index == 0 else 0.0
    return weights


def _steps(configuration: dict[str, Any]) -> list[int]:
    """The production traffic steps, in tenths of a percent of the target's weight."""
    strategy = configuration.get("strategy")
    if strategy == "CANARY":
        canary = (configuration.get("canaryConfiguration") or {}).get("canaryPercent")
        tenths = DEFAULT_CANARY_PERCENT if not _number(canary) else round(canary * 10)
        tenths = min(max(tenths, 1), 1000)
        return [tenths, 1000] if tenths < 1000 else [1000]
    if strategy == "LINEAR":
        step = (configuration.get("linearConfiguration") or {}).get("stepPercent")
        tenths = DEFAULT_STEP_PERCENT if not _number(step) else round(step * 10)
        tenths = min(max(tenths, 1), 1000)
        count = -(-1000 // tenths)
        return [min(k * tenths, 1000) for k in range(1, count + 1)]
    return [1000]


def _entry(stage: str, test: dict | None = None, production: dict | None = None,
           **extra: Any) -> dict[str, Any]:
    return {"stage": stage, "test": test or {}, "production": production or {}, **extra}


def _plan(document: dict[str, Any], active_at_start: int) -> list[dict[str, Any]]:
    """The forward stages of a deployment, with the weights each one's payload carries."""
    full = _weights(document, 1000)
    plan = []
    if active_at_start > 1:
        plan.append(_entry("RECONCILE_SERVICE", full, copy.deepcopy(full)))
    plan += [
        _entry("PRE_SCALE_UP"),
        _entry("SCALE_UP", hooks=False, scaleUp=True),
        _entry("POST_SCALE_UP"),
        _entry("TEST_TRAFFIC_SHIFT", test=_weights(document, 1000), targetTest=1000),
        _entry("POST_TEST_TRAFFIC_SHIFT"),
    ]
    before = 0
    for number, tenths in enumerate(_steps(document["deploymentConfiguration"]), start=1):
        plan.append(_entry("PRE_PRODUCTION_TRAFFIC_SHIFT",
                           production=_weights(document, before), step=number))
        plan.append(_entry("PRODUCTION_TRAFFIC_SHIFT", production=_weights(document, tenths),
                           step=number, targetProduction=tenths))
        before = tenths
    plan += [
        _entry("POST_PRODUCTION_TRAFFIC_SHIFT"),
        _entry("BAKE_TIME", hooks=False),
        _entry("CLEAN_UP", hooks=False),
    ]
    return plan


def _rollback_plan(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _entry("PRODUCTION_TRAFFIC_SHIFT", production=_weights(document, 0)),
        _entry("TEST_TRAFFIC_SHIFT", test=_weights(document, 0)),
    ]


def _find(arn: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(state, deployment document, driver) of a recorded deployment; call with _lock held."""
    if not isinstance(arn, str) or not arn:
        raise EndpointError(400, "serviceDeploymentArn must be a service deployment ARN")
    for state in _all_states():
        document = state["deployments"].get(arn)
        if document is not None:
            driver = state["drivers"].get(arn)
            if driver is None:  # recorded before the driver existed
                driver = state["drivers"][arn] = _new_driver("", 0)
            return state, document, driver
    raise EndpointError(404, f"service deployment {arn} not found")


def _ensure_plan(document: dict[str, Any], driver: dict[str, Any]) -> None:
    if driver["plan"] is not None:
        return
    configuration = document.get("deploymentConfiguration") or {}
    strategy = configuration.get("strategy") or "ROLLING"
    if strategy not in BLUE_GREEN_LIKE:
        raise EndpointError(
            400, f"the deployment's strategy is {strategy}: lifecycle hooks are modelled for "
                 f"{', '.join(sorted(BLUE_GREEN_LIKE))} deployments")
    for hook in configuration.get("lifecycleHooks") or []:
        if hook.get("targetType", "AWS_LAMBDA") != "AWS_LAMBDA":
            raise EndpointError(400, "PAUSE lifecycle hooks are not modelled")
    driver["plan"] = _plan(document, driver["activeAtStart"])


def _hooks_at(document: dict[str, Any], stage: str) -> list[dict[str, Any]]:
    hooks = (document.get("deploymentConfiguration") or {}).get("lifecycleHooks") or []
    return [hook for hook in hooks if stage in (hook.get("lifecycleStages") or [])]


def _set_target_weights(document: dict[str, Any], test: int | None, production: int | None
                        ) -> None:
    for name, tenths in (("requestedTestTrafficWeight", test),
                         ("requestedProductionTrafficWeight", production)):
        if tenths is None:
            continue
        document["targetServiceRevision"][name] = tenths / 10
        for source in document["sourceServiceRevisions"]:
            source[name] = (1000 - tenths) / 10


def _start_executions(document: dict[str, Any], driver: dict[str, Any], now: float) -> None:
    """Start one execution per hook at the current stage; record it in lifecycleHookDetails."""
    entry = _current(driver)
    executions = []
    for hook in _hooks_at(document, entry["stage"]):
        timeout = hook.get("timeoutConfiguration") or {}
        minutes = timeout.get("timeoutInMinutes", DEFAULT_TIMEOUT_MINUTES)
        detail = {
            "hookId": HOOK_ID_PREFIX + secrets.token_urlsafe(32),
            "targetType": "AWS_LAMBDA",
            "targetArn": hook.get("hookTargetArn", ""),
            "status": "IN_PROGRESS",
            "expiresAt": round(now + 60 * minutes, 3),
            "timeoutAction": timeout.get("action", "ROLLBACK"),
        }
        document.setdefault("lifecycleHookDetails", []).append(detail)
        configured = hook["hookDetails"] if "hookDetails" in hook else _ABSENT
        executions.append({
            "hook": hook,
            "detail": detail,
            "executionId": str(uuid.uuid4()),
            "configured": configured,
            "hookDetails": copy.deepcopy(configured),
            "attempt": 0,
            "callBackDelay": 0,
            "outstanding": False,
            "done": False,
        })
    driver["executions"] = executions


def _current(driver: dict[str, Any]) -> dict[str, Any]:
    return driver["plan"][driver["position"]] if driver["phase"] == "forward" \
        else driver["rollbackPlan"][driver["position"]]


def _finish(document: dict[str, Any], driver: dict[str, Any], status: str, now: float,
            reason: str | None = None) -> None:
    driver["phase"] = "done"
    driver["executions"] = []
    document["status"] = status
    document["finishedAt"] = now
    if reason:
        document["statusReason"] = reason
    if status == "ROLLBACK_SUCCESSFUL":
        document["targetServiceRevision"]["runningTaskCount"] = 0
        # The service runs its source revision again.
        rollback = document.get("rollback") or {}
        for state in _all_states():
            if document["serviceDeploymentArn"] in state["deployments"]:
                service = state["services"].get(driver["serviceKey"])
                if service is not None and rollback.get("serviceRevisionArn") \
                        and service["revisionArn"] == document["targetServiceRevision"]["arn"]:
                    service["revisionArn"] = rollback["serviceRevisionArn"]


def _advance(document: dict[str, Any], driver: dict[str, Any], now: float) -> None:
    """Move on from the current stage until one has a hook execution to run, or the end."""
    while driver["phase"] != "done":
        if driver["executions"] and not all(e["done"] for e in driver["executions"]):
            return
        plan = driver["plan"] if driver["phase"] == "forward" else driver["rollbackPlan"]
        driver["position"] += 1
        driver["executions"] = []
        if driver["position"] >= len(plan):
            if driver["phase"] == "forward":
                _finish(document, driver, "SUCCESSFUL", now)
            else:
                _finish(document, driver, "ROLLBACK_SUCCESSFUL", now)
            return
        entry = plan[driver["position"]]
        document["lifecycleStage"] = _reported_stage(entry["stage"])
        document["updatedAt"] = now
        if entry.get("scaleUp"):
            target = document["targetServiceRevision"]
            target["runningTaskCount"] = target.get("requestedTaskCount", 0)
        if driver["phase"] == "forward":
            _set_target_weights(document, entry.get("targetTest"), entry.get("targetProduction"))
        if entry.get("hooks", True):
            _start_executions(document, driver, now)


def _start_rollback(document: dict[str, Any], driver: dict[str, Any], reason: str,
                    now: float) -> None:
    if driver["phase"] == "rollback":
        _finish(document, driver, "ROLLBACK_FAILED", now, reason)
        document["updatedAt"] = now
        return
    driver["phase"] = "rollback"
    driver["rollbackPlan"] = _rollback_plan(document)
    driver["position"] = -1
    driver["executions"] = []
    document["status"] = "ROLLBACK_IN_PROGRESS"
    document["statusReason"] = reason
    rollback: dict[str, Any] = {"reason": reason, "startedAt": now}
    if document["sourceServiceRevisions"]:
        rollback["serviceRevisionArn"] = document["sourceServiceRevisions"][0]["arn"]
    document["rollback"] = rollback
    _set_target_weights(document, 0, 0)
    document["updatedAt"] = now
    _advance(document, driver, now)


def _complete(document: dict[str, Any], driver: dict[str, Any], execution: dict[str, Any],
              status: str, reason: str, now: float) -> None:
    """An execution ends: SUCCEEDED/CONTINUE advance; anything else rolls back."""
    execution["done"] = True
    execution["outstanding"] = False
    execution["detail"]["status"] = status
    document["updatedAt"] = now
    proceed = status == "SUCCEEDED" or (
        status == "TIMED_OUT" and execution["detail"]["timeoutAction"] == "CONTINUE")
    if proceed:
        _advance(document, driver, now)
    else:
        _start_rollback(document, driver, reason, now)


def _expire_due(document: dict[str, Any], driver: dict[str, Any], now: float) -> None:
    for execution in list(driver["executions"]):
        if driver["phase"] == "done":
            return
        if execution in driver["executions"] and not execution["done"] \
                and execution["detail"]["expiresAt"] <= now:
            _timed_out(document, driver, execution, now)


def _timed_out(document: dict[str, Any], driver: dict[str, Any], execution: dict[str, Any],
               now: float) -> None:
    stage = _current(driver)["stage"]
    _complete(document, driver, execution, "TIMED_OUT",
              f"lifecycle hook {execution['detail']['targetArn']} timed out at {stage}", now)


def _payload(document: dict[str, Any], entry: dict[str, Any], execution_id: str,
             hook_details: Any) -> dict[str, Any]:
    payload = {
        "executionId": execution_id,
        "lifecycleStage": entry["stage"],
        "resourceArn": document["serviceDeploymentArn"],
        "executionDetails": {
            "serviceArn": document["serviceArn"],
            "targetServiceRevisionArn": document["targetServiceRevision"]["arn"],
            "testTrafficWeights": copy.deepcopy(entry["test"]),
            "productionTrafficWeights": copy.deepcopy(entry["production"]),
        },
    }
    if hook_details is not _ABSENT:
        payload["hookDetails"] = copy.deepcopy(hook_details)
    return payload


def _request_arn(request: Any) -> Any:
    if not isinstance(request, dict):
        raise EndpointError(400, "the request must be a JSON object")
    return request.get("serviceDeploymentArn")


def next_hook_invocation(request: Any) -> dict[str, Any]:
    """``POST /_autopilot/ecs/hook-invocation``: the next invocation ECS would make."""
    arn = _request_arn(request)
    with _lock:
        _, document, driver = _find(arn)
        now = _now()
        invocation = None
        if document["status"] in DRIVEN and driver["phase"] != "done":
            _ensure_plan(document, driver)
            if driver["position"] < 0 and driver["phase"] == "forward":
                _advance(document, driver, now)
            _expire_due(document, driver, now)
            pending = [e for e in driver["executions"] if not e["done"]]
            if driver["phase"] != "done" and pending:
                execution = next((e for e in pending if e["outstanding"]), pending[0])
                if not execution["outstanding"]:
                    execution["outstanding"] = True
                    execution["attempt"] += 1
                invocation = {
                    "hookTargetArn": execution["detail"]["targetArn"],
                    "hookId": execution["detail"]["hookId"],
                    "attempt": execution["attempt"],
                    "rollback": driver["phase"] == "rollback",
                    "callBackDelay": execution["callBackDelay"],
                    "payload": _payload(document, _current(driver), execution["executionId"],
                                        execution["hookDetails"]),
                }
        return {"invocation": invocation, "deployment": copy.deepcopy(document)}


def _call_back_delay(answer: dict[str, Any]) -> float | int:
    delay = answer.get("callBackDelay")
    if _number(delay) and delay >= 0:
        return delay
    return DEFAULT_CALLBACK_DELAY


def hook_answer(request: Any) -> dict[str, Any]:
    """``POST /_autopilot/ecs/hook-answer``: what ECS does with the function's answer."""
    arn = _request_arn(request)
    execution_id = request.get("executionId")
    if not isinstance(execution_id, str) or not execution_id:
        raise EndpointError(400, "executionId must be the invocation's executionId")
    if "answer" not in request:
        raise EndpointError(400, "answer must be the function's response, or null")
    answer = request["answer"]
    function_error = request.get("functionError")
    if function_error is not None and not isinstance(function_error, str):
        raise EndpointError(400, "functionError must be a string")
    with _lock:
        _, document, driver = _find(arn)
        execution = next((e for e in driver["executions"]
                          if e["outstanding"] and e["executionId"] == execution_id), None)
        if execution is None or driver["phase"] == "done" or document["status"] not in DRIVEN:
            raise EndpointError(409, f"no invocation with executionId {execution_id} awaits "
                                     f"an answer in {arn}")
        now = _now()
        stage = _current(driver)["stage"]
        target = execution["detail"]["targetArn"]
        status = answer.get("hookStatus") if isinstance(answer, dict) else None
        if function_error is not None:
            _complete(document, driver, execution, "FAILED",
                      f"lifecycle hook {target} failed at {stage}: function error: "
                      f"{function_error}", now)
        elif status not in HOOK_STATUSES:
            _complete(document, driver, execution, "FAILED",
                      f"lifecycle hook {target} returned no valid hookStatus at {stage}", now)
        elif status == "SUCCEEDED":
            _complete(document, driver, execution, "SUCCEEDED", "", now)
        elif status == "FAILED":
            _complete(document, driver, execution, "FAILED",
                      f"lifecycle hook {target} returned FAILED at {stage}", now)
        else:  # IN_PROGRESS: the same hook again after callBackDelay
            execution["outstanding"] = False
            execution["callBackDelay"] = _call_back_delay(answer)
            returned = answer.get("hookDetails", _ABSENT)
            if driver["options"]["hookDetailsOnInProgress"] == "replace":
                execution["hookDetails"] = copy.deepcopy(
                    returned if returned is not _ABSENT else execution["configured"])
            elif isinstance(returned, dict):
                current = execution["hookDetails"]
                merged = dict(current) if isinstance(current, dict) else {}
                merged.update(copy.deepcopy(returned))
                execution["hookDetails"] = merged
            if driver["options"]["executionIdOnReinvoke"] == "new":
                execution["executionId"] = str(uuid.uuid4())
            document["updatedAt"] = now
        return copy.deepcopy(document)


def hook_options(request: Any) -> dict[str, Any]:
    """``POST /_autopilot/ecs/hook-options``: what the guide leaves open, per deployment."""
    arn = _request_arn(request)
    changes = {}
    for name, allowed in OPTIONS.items():
        if name in request:
            if request[name] not in allowed:
                raise EndpointError(400, f"{name} must be one of {', '.join(allowed)}")
            changes[name] = request[name]
    with _lock:
        _, _, driver = _find(arn)
        driver["options"].update(changes)
        return {"serviceDeploymentArn": arn, **driver["options"]}


def expire_hook(request: Any) -> dict[str, Any]:
    """``POST /_autopilot/ecs/hook-timeout``: the current hook's timeout expires now."""
    arn = _request_arn(request)
    with _lock:
        _, document, driver = _find(arn)
        pending = [e for e in driver["executions"] if not e["done"]]
        if driver["phase"] == "done" or document["status"] not in DRIVEN or not pending:
            raise EndpointError(409, f"no lifecycle hook of {arn} is running")
        execution = next((e for e in pending if e["outstanding"]), pending[0])
        now = _now()
        execution["detail"]["expiresAt"] = now
        _timed_out(document, driver, execution, now)
        return copy.deepcopy(document)


def stage_payload(request: Any) -> dict[str, Any]:
    """``POST /_autopilot/ecs/hook-payload``: the payload of one stage, as the driver builds it."""
    arn = _request_arn(request)
    stage = request.get("lifecycleStage")
    if stage not in HOOK_STAGES:
        raise EndpointError(400, f"lifecycleStage must be one of {', '.join(HOOK_STAGES)}")
    step = request.get("step", 1)
    if not isinstance(step, int) or isinstance(step, bool) or step < 1:
        raise EndpointError(400, "step must be an integer from 1")
    rollback = request.get("rollback", False)
    if not isinstance(rollback, bool):
        raise EndpointError(400, "rollback must be true or false")
    if rollback and stage not in ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"):
        raise EndpointError(400, "rollback re-invokes TEST_TRAFFIC_SHIFT and "
                                 "PRODUCTION_TRAFFIC_SHIFT only")
    execution_id = request.get("executionId") or str(uuid.uuid4())
    if not isinstance(execution_id, str):
        raise EndpointError(400, "executionId must be a string")
    with _lock:
        _, document, driver = _find(arn)
        _ensure_plan(document, driver)
        if rollback:
            entries = [e for e in _rollback_plan(document) if e["stage"] == stage]
        elif stage == "RECONCILE_SERVICE":
            entries = [e for e in _plan(document, 2) if e["stage"] == stage]
        else:
            entries = [e for e in driver["plan"] if e["stage"] == stage]
        if len(entries) > 1:
            if step > len(entries):
                raise EndpointError(400, f"step must be from 1 to {len(entries)}")
            entries = [entries[step - 1]]
        hook_details = request["hookDetails"] if "hookDetails" in request else _ABSENT
        return {"payload": _payload(document, entries[0], execution_id, hook_details)}


def install() -> None:
    """Wrap CreateService/UpdateService and add the two Describe operations."""
    cls = EC2ContainerServiceResponse
    if getattr(cls.create_service, "_autopilot_wrapped", False):
        return
    cls.create_service = _wrap(cls.create_service, created=True)
    cls.update_service = _wrap(cls.update_service, created=False)
    cls.describe_service_deployments = _r_describe_service_deployments
    cls.describe_service_revisions = _r_describe_service_revisions
