"""AWS CodeDeploy operations moto 5.2.5 lacks, for ECS blue/green deployments.

Models these operations of the AWS CodeDeploy API reference (awsJson 1.1,
camelCase members; errors ``{"__type": ..., "message": ...}`` with HTTP 400):

* ``PutLifecycleEventHookExecutionStatus(deploymentId, lifecycleEventHookExecutionId,
  status)`` -> ``{"lifecycleEventHookExecutionId"}``. Errors, as the API reference
  lists them (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_PutLifecycleEventHookExecutionStatus.html,
  "Errors"; it has no "ID required" error for the execution id):
  ``DeploymentIdRequiredException``, ``DeploymentDoesNotExistException``,
  ``InvalidLifecycleEventHookExecutionStatusException`` (any status but
  ``Succeeded`` or ``Failed``: "The values listed in Valid Values are valid for
  lifecycle statuses in general; however, only Succeeded and Failed can be passed
  successfully in your API call"), ``InvalidLifecycleEventHookExecutionIdException``
  (an id missing, or never issued for this deployment by this local CodeDeploy:
  ids come only from ``POST /_autopilot/codedeploy/lifecycle``, as real ones come
  only in CodeDeploy's invocation of the hook) and
  ``LifecycleEventAlreadyCompletedException`` (a second report for one
  execution: its lifecycle event already ended). The lifecycle event takes the
  reported status; ``Failed`` also fails the deployment, as CodeDeploy does.
* ``ListDeploymentTargets(deploymentId)`` -> ``{"targetIds": ["<cluster>:<service>"]}``
  for ECS deployments: the deployment group's ``ecsServices`` that ECS has
  (``ACTIVE`` or ``DRAINING``); a deleted or never created service is no target.
* ``GetDeploymentTarget(deploymentId, targetId)`` -> ``{"deploymentTarget":
  {"deploymentTargetType": "ECSTarget", "ecsTarget": {...}}}`` with the nine ECS
  lifecycle events in order and the Blue/Green task sets. Blue (original) is on
  the target group of ``targetGroupPairInfoList`` the service routes to now (its
  PRIMARY task set's load balancer, else the service's own ``loadBalancers``);
  Green (replacement) on the other one of the pair, whichever order the pair
  lists them in. When the service routes to neither, the task sets name no
  target group (nothing is made up). Blue is PRIMARY at weight 100 and Green
  ACTIVE at 0, swapped once ``AllowTraffic`` has succeeded. Both target
  operations answer ``DeploymentNotStartedException`` while the deployment is
  ``Created`` or ``Queued``; ``GetDeploymentTarget`` answers
  ``DeploymentTargetDoesNotExistException`` ("The provided target ID does not
  belong to the attempted deployment", one of the errors
  https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_GetDeploymentTarget.html
  lists) for an unknown target id, and for the target of a service ECS does not
  have: there is no such target to describe.
* ``StopDeployment(deploymentId, autoRollbackEnabled)`` -> ``{"status": "Pending",
  "statusMessage"}``; the deployment becomes ``Stopped``
  (``DeploymentAlreadyCompletedException`` if it had already ended).
* ``CreateDeployment``: moto implements it; added the API's rule of one active
  deployment per deployment group: while the group has a deployment in
  ``Created``, ``Queued``, ``InProgress``, ``Baking`` or ``Ready``, another
  answers ``DeploymentLimitExceededException`` ("The Deployment Group '<group>'
  already has an active Deployment '<id>'", HTTP 400). A deployment that
  reaches ``Succeeded``, ``Failed`` or ``Stopped`` (``StopDeployment``, a
  ``Failed`` hook, or ``POST /_autopilot/codedeploy/status``) frees the group.
* ``ListDeployments``: moto implements it; added the API's errors for an unknown
  application (``ApplicationDoesNotExistException``) or deployment group
  (``DeploymentGroupDoesNotExistException``) and for an invalid status filter
  (``InvalidDeploymentStatusException``).

Test-only endpoints (served by the middleware, see ``middleware.py``):
``GET /_autopilot/codedeploy/hook-statuses[?deploymentId=X]``,
``POST /_autopilot/codedeploy/lifecycle {"deploymentId", "hook"}`` and
``POST /_autopilot/codedeploy/status {"deploymentId", "status"}``.

State lives on moto's backend and deployment objects, so ``POST /moto-api/reset``
clears it with the rest of moto.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import json
import secrets
import threading
from typing import Any

from moto.codedeploy.exceptions import CodeDeployException
from moto.codedeploy.models import CodeDeployBackend, DeploymentInfo, codedeploy_backends
from moto.codedeploy.responses import CodeDeployResponse
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

LIFECYCLE_EVENTS = [
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "BeforeAllowTestTraffic",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
]
# The events a Lambda hook can be attached to in an ECS AppSpec.
HOOKS = [
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
]
# LifecycleEventStatus: every value a lifecycle event can have...
HOOK_STATUSES = ["Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Unknown"]
# ...of which a hook may report only these (PutLifecycleEventHookExecutionStatus, `status`).
REPORTABLE_STATUSES = ["Succeeded", "Failed"]
ENDED = {"Succeeded", "Failed", "Skipped"}
DEPLOYMENT_STATUSES = [
    "Created",
    "Queued",
    "InProgress",
    "Baking",
    "Succeeded",
    "Failed",
    "Stopped",
    "Ready",
]
COMPLETED_DEPLOYMENT = {"Succeeded", "Failed", "Stopped"}
ACTIVE_DEPLOYMENT = {"Created", "Queued", "InProgress", "Baking", "Ready"}
NOT_STARTED = {"Created", "Queued"}

_lock = threading.RLock()
_sequence = itertools.count(1)


def _error(name: str, message: str) -> CodeDeployException:
    err = CodeDeployException(name, message)
    err.code = 400
    return err


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.replace(tzinfo=dt.timezone.utc).isoformat()


# --- per-deployment state --------------------------------------------------------


def _state(deployment: DeploymentInfo) -> dict[str, Any]:
    state = getattr(deployment, "_autopilot", None)
    if state is None:
        state = {
            "events": {
                name: {"status": "Pending", "startTime": None, "endTime": None}
                for name in LIFECYCLE_EVENTS
            },
            "issued": {},  # hook execution id -> lifecycle event name
            "reported": set(),  # the issued ids a status was recorded for
            "lastUpdatedAt": deployment.create_time,
        }
        deployment._autopilot = state  # type: ignore[attr-defined]
    return state


def _set_event(deployment: DeploymentInfo, name: str, status: str) -> None:
    now = utcnow()
    event = _state(deployment)["events"][name]
    if status != "Pending" and event["startTime"] is None:
        event["startTime"] = now
    if status in ENDED:
        event["endTime"] = now
    event["status"] = status
    _state(deployment)["lastUpdatedAt"] = now


def _set_deployment_status(deployment: DeploymentInfo, status: str) -> None:
    now = utcnow()
    if status not in NOT_STARTED and deployment.start_time is None:
        deployment.start_time = now
    if status in COMPLETED_DEPLOYMENT:
        deployment.complete_time = now
    deployment.status = status
    _state(deployment)["lastUpdatedAt"] = now


def _hook_calls(backend: CodeDeployBackend) -> list[dict[str, Any]]:
    calls = getattr(backend, "_autopilot_hook_calls", None)
    if calls is None:
        calls = []
        backend._autopilot_hook_calls = calls  # type: ignore[attr-defined]
    return calls


def _all_backends():
    for account_backends in list(codedeploy_backends.values()):
        for backend in list(account_backends.values()):
            yield backend


def find_deployment(deployment_id: str) -> tuple[CodeDeployBackend, DeploymentInfo] | None:
    for backend in _all_backends():
        deployment = backend.deployments.get(deployment_id)
        if deployment is not None:
            return backend, deployment
    return None


def _new_hook_execution_id() -> str:
    # Opaque, shaped like the ids CodeDeploy hands to hooks.
    blob = {
        "encryptedData": secrets.token_urlsafe(48),
        "ivParameterSpec": secrets.token_urlsafe(12),
        "materialSetSerial": 1,
    }
    return base64.b64encode(json.dumps(blob, separators=(",", ":")).encode()).decode()


# --- backend methods ---------------------------------------------------------------


def _require_deployment(backend: CodeDeployBackend, deployment_id: str | None) -> DeploymentInfo:
    if not deployment_id:
        raise _error("DeploymentIdRequiredException", "At least one deployment ID must be specified.")
    deployment = backend.deployments.get(deployment_id)
    if deployment is None:
        raise _error(
            "DeploymentDoesNotExistException",
            f"The deployment {deployment_id} could not be found.",
        )
    return deployment


def put_lifecycle_event_hook_execution_status(
    self: CodeDeployBackend, deployment_id: str, hook_execution_id: str, status: str
) -> str:
    with _lock:
        record: dict[str, Any] = {
            "sequence": next(_sequence),
            "deploymentId": deployment_id,
            "lifecycleEventHookExecutionId": hook_execution_id or "",
            "status": status,
            "time": _iso(utcnow()),
            "lifecycleEventName": None,
            "error": None,
        }
        try:
            deployment = _require_deployment(self, deployment_id)
            if status not in REPORTABLE_STATUSES:
                raise _error(
                    "InvalidLifecycleEventHookExecutionStatusException",
                    f"The lifecycle event hook execution status {status} is invalid: "
                    f"only {' and '.join(REPORTABLE_STATUSES)} can be reported.",
                )
            event_name = _state(deployment)["issued"].get(hook_execution_id or "")
            if event_name is None:
                raise _error(
                    "InvalidLifecycleEventHookExecutionIdException",
                    "A lifecycle event hook execution ID must be specified."
                    if not hook_execution_id
                    else f"The lifecycle event hook execution ID {hook_execution_id} "
                    f"is not valid for deployment {deployment_id}.",
                )
            record["lifecycleEventName"] = event_name
            reported = _state(deployment)["reported"]
            if (
                hook_execution_id in reported
                or _state(deployment)["events"][event_name]["status"] in ENDED
            ):
                raise _error(
                    "LifecycleEventAlreadyCompletedException",
                    f"The lifecycle event {event_name} of deployment "
                    f"{deployment_id} has already completed.",
                )
            reported.add(hook_execution_id)
            _set_event(deployment, event_name, status)
            if status == "Failed" and deployment.status not in COMPLETED_DEPLOYMENT:
                _set_deployment_status(deployment, "Failed")
            return hook_execution_id
        except CodeDeployException as err:
            record["error"] = err.error_type
            raise
        finally:
            _hook_calls(self).append(record)


def _group_target_ids(deployment: DeploymentInfo) -> list[str]:
    # CodeDeploy names an ECS deployment target <cluster>:<service>.
    services = deployment.deployment_group.ecs_services or []
    return [f"{s.get('clusterName')}:{s.get('serviceName')}" for s in services]


def _ecs_service(backend: CodeDeployBackend, target_id: str):
    """The ECS service of target ``<cluster>:<service>``, or None when ECS has
    none (never created, or deleted: moto keeps a deleted one as INACTIVE)."""
    from moto.ecs.models import ecs_backends

    cluster, service_name = target_id.split(":", 1)
    try:
        ecs = ecs_backends[backend.account_id][backend.region_name]
    except KeyError:
        return None
    service = ecs.services.get(f"{cluster.split('/')[-1]}:{service_name.split('/')[-1]}")
    if service is None or service.status not in ("ACTIVE", "DRAINING"):
        return None
    return service


def _ecs_target_ids(backend: CodeDeployBackend, deployment: DeploymentInfo) -> list[str]:
    return [t for t in _group_target_ids(deployment) if _ecs_service(backend, t) is not None]


def list_deployment_targets(self: CodeDeployBackend, deployment_id: str) -> list[str]:
    with _lock:
        deployment = _require_deployment(self, deployment_id)
        _require_started(deployment)
        return _ecs_target_ids(self, deployment)


def _require_started(deployment: DeploymentInfo) -> None:
    if deployment.status in NOT_STARTED:
        raise _error(
            "DeploymentNotStartedException",
            f"The deployment {deployment.deployment_id} has not started.",
        )


def _task_set_id(deployment_id: str, label: str) -> str:
    digest = hashlib.sha256(f"{deployment_id}/{label}".encode()).hexdigest()
    return f"ecs-svc/{int(digest[:15], 16):019d}"


def _routed_target_group(service) -> str | None:
    """The name of the target group the service routes production traffic to
    now: its PRIMARY task set's (after a blue/green deployment, the one that
    won), else the service's own ``loadBalancers``."""
    load_balancers = service.load_balancers
    for task_set in service.task_sets or []:
        if task_set.status == "PRIMARY":
            load_balancers = task_set.load_balancers
            break
    for load_balancer in load_balancers or []:
        # arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>
        arn = load_balancer.get("targetGroupArn") or ""
        if ":targetgroup/" in arn:
            return arn.split(":targetgroup/", 1)[1].split("/", 1)[0]
    return None


def _blue_green_target_groups(
    deployment: DeploymentInfo, service
) -> tuple[str | None, str | None]:
    """(original, replacement) target group names: the one of the pair the
    service routes to now, and the other one; (None, None) when it routes to
    neither, or the deployment group has no pair of two."""
    pairs = (deployment.deployment_group.load_balancer_info or {}).get(
        "targetGroupPairInfoList"
    ) or [{}]
    names = [g.get("name") for g in pairs[0].get("targetGroups") or []]
    original = _routed_target_group(service)
    if len(names) != 2 or original not in names:
        return None, None
    return original, names[1 - names.index(original)]


def get_deployment_target(
    self: CodeDeployBackend, deployment_id: str, target_id: str
) -> dict[str, Any]:
    with _lock:
        deployment = _require_deployment(self, deployment_id)
        if not target_id:
            raise _error("DeploymentTargetIdRequiredException", "A deployment target ID must be specified.")
        _require_started(deployment)
        if target_id not in _group_target_ids(deployment):
            raise _error(
                "DeploymentTargetDoesNotExistException",
                f"The deployment target {target_id} does not exist in deployment {deployment_id}.",
            )
        service = _ecs_service(self, target_id)
        if service is None:
            cluster, service_name = target_id.split(":", 1)
            raise _error(
                "DeploymentTargetDoesNotExistException",
                f"The deployment target {target_id} does not exist in deployment "
                f"{deployment_id}: ECS has no service {service_name} in cluster {cluster}.",
            )
        target_arn = service.arn
        state = _state(deployment)
        events = state["events"]
        lifecycle_events = []
        for name in LIFECYCLE_EVENTS:
            event = {"lifecycleEventName": name, "status": events[name]["status"]}
            if events[name]["startTime"] is not None:
                event["startTime"] = events[name]["startTime"]
            if events[name]["endTime"] is not None:
                event["endTime"] = events[name]["endTime"]
            lifecycle_events.append(event)

        original, replacement = _blue_green_target_groups(deployment, service)
        shifted = events["AllowTraffic"]["status"] == "Succeeded"
        desired = service.desired_count or 0
        running = service.running_count or 0
        pending = service.pending_count or 0
        task_sets = []
        for label, group in (("Blue", original), ("Green", replacement)):
            primary = (label == "Green") == shifted
            task_set: dict[str, Any] = {
                "identifer": _task_set_id(deployment_id, label),
                "desiredCount": desired,
                "pendingCount": pending,
                "runningCount": running,
                "status": "PRIMARY" if primary else "ACTIVE",
                "trafficWeight": 100.0 if primary else 0.0,
                "taskSetLabel": label,
            }
            if group:
                task_set["targetGroup"] = {"name": group}
            task_sets.append(task_set)

        status_map = {
            "Created": "Pending",
            "Queued": "Pending",
            "InProgress": "InProgress",
            "Baking": "InProgress",
            "Succeeded": "Succeeded",
            "Failed": "Failed",
            "Stopped": "Failed",
            "Ready": "Ready",
        }
        return {
            "deploymentTargetType": "ECSTarget",
            "ecsTarget": {
                "deploymentId": deployment_id,
                "targetId": target_id,
                "targetArn": target_arn,
                "lastUpdatedAt": state["lastUpdatedAt"],
                "lifecycleEvents": lifecycle_events,
                "status": status_map.get(deployment.status, "Unknown"),
                "taskSetsInfo": task_sets,
            },
        }


def stop_deployment(
    self: CodeDeployBackend, deployment_id: str, auto_rollback_enabled: bool | None
) -> tuple[str, str]:
    with _lock:
        deployment = _require_deployment(self, deployment_id)
        if deployment.status in COMPLETED_DEPLOYMENT:
            raise _error(
                "DeploymentAlreadyCompletedException",
                f"The deployment {deployment_id} has already completed.",
            )
        deployment._autopilot_auto_rollback_on_stop = auto_rollback_enabled  # type: ignore[attr-defined]
        _set_deployment_status(deployment, "Stopped")
        return "Pending", "Stopping Pending. Stopping to schedule commands in the deployment instances"


_original_create_deployment = CodeDeployBackend.create_deployment


def create_deployment(
    self: CodeDeployBackend,
    application_name: str,
    deployment_group_name: str,
    *args: Any,
    **kwargs: Any,
) -> str:
    # Under the lock, so two concurrent calls cannot both start one.
    with _lock:
        active = [
            d
            for d in self.deployments.values()
            if d.application_name == application_name
            and d.deployment_group_name == deployment_group_name
            and d.status in ACTIVE_DEPLOYMENT
        ]
        if active:
            raise _error(
                "DeploymentLimitExceededException",
                f"The Deployment Group '{deployment_group_name}' already has an active "
                f"Deployment '{active[0].deployment_id}'",
            )
        return _original_create_deployment(
            self, application_name, deployment_group_name, *args, **kwargs
        )


_original_list_deployments = CodeDeployBackend.list_deployments


def list_deployments(
    self: CodeDeployBackend,
    application_name: str | None,
    deployment_group_name: str | None,
    external_id: str | None,
    include_only_statuses: list[str] | None,
    create_time_range: dict[str, Any],
) -> list[str]:
    for status in include_only_statuses or []:
        if status not in DEPLOYMENT_STATUSES:
            raise _error("InvalidDeploymentStatusException", f"The deployment status {status} is invalid.")
    if application_name:
        self.get_application(application_name)  # ApplicationDoesNotExistException
        if deployment_group_name:
            self.get_deployment_group(application_name, deployment_group_name)
    return _original_list_deployments(
        self,
        application_name=application_name,
        deployment_group_name=deployment_group_name,
        external_id=external_id,
        include_only_statuses=include_only_statuses,
        create_time_range=create_time_range,
    )


# --- response methods (dispatched from X-Amz-Target CodeDeploy_20141006.<Op>) --------


def _r_put_lifecycle_event_hook_execution_status(self: CodeDeployResponse) -> ActionResult:
    hook_id = self.codedeploy_backend.put_lifecycle_event_hook_execution_status(
        self._get_param("deploymentId"),
        self._get_param("lifecycleEventHookExecutionId"),
        self._get_param("status"),
    )
    return ActionResult({"lifecycleEventHookExecutionId": hook_id})


def _r_list_deployment_targets(self: CodeDeployResponse) -> ActionResult:
    ids = self.codedeploy_backend.list_deployment_targets(self._get_param("deploymentId"))
    return ActionResult({"targetIds": ids})


def _r_get_deployment_target(self: CodeDeployResponse) -> ActionResult:
    target = self.codedeploy_backend.get_deployment_target(
        self._get_param("deploymentId"), self._get_param("targetId")
    )
    return ActionResult({"deploymentTarget": target})


def _r_stop_deployment(self: CodeDeployResponse) -> ActionResult:
    status, message = self.codedeploy_backend.stop_deployment(
        self._get_param("deploymentId"), self._get_param("autoRollbackEnabled")
    )
    return ActionResult({"status": status, "statusMessage": message})


# --- test-only endpoints -------------------------------------------------------------


class EndpointError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def hook_statuses(deployment_id: str | None) -> list[dict[str, Any]]:
    with _lock:
        calls = [c for b in _all_backends() for c in _hook_calls(b)]
    calls.sort(key=lambda c: c["sequence"])
    return [
        {k: v for k, v in c.items() if k != "sequence"}
        for c in calls
        if deployment_id is None or c["deploymentId"] == deployment_id
    ]


def start_lifecycle_hook(deployment_id: str, hook: str) -> str:
    if hook not in HOOKS:
        raise EndpointError(400, f"hook must be one of {', '.join(HOOKS)}")
    with _lock:
        found = find_deployment(deployment_id)
        if found is None:
            raise EndpointError(404, f"deployment {deployment_id} not found")
        _, deployment = found
        if deployment.status in NOT_STARTED:
            _set_deployment_status(deployment, "InProgress")
        for name in LIFECYCLE_EVENTS[: LIFECYCLE_EVENTS.index(hook)]:
            if _state(deployment)["events"][name]["status"] != "Succeeded":
                _set_event(deployment, name, "Succeeded")
        # A new execution of the hook: clear a previous end.
        _state(deployment)["events"][hook].update({"endTime": None, "startTime": None})
        _set_event(deployment, hook, "InProgress")
        hook_id = _new_hook_execution_id()
        _state(deployment)["issued"][hook_id] = hook
        return hook_id


def set_deployment_status(deployment_id: str, status: str) -> dict[str, Any]:
    if status not in DEPLOYMENT_STATUSES:
        raise EndpointError(400, f"status must be one of {', '.join(DEPLOYMENT_STATUSES)}")
    with _lock:
        found = find_deployment(deployment_id)
        if found is None:
            raise EndpointError(404, f"deployment {deployment_id} not found")
        _, deployment = found
        _set_deployment_status(deployment, status)
        return {"deploymentId": deployment_id, "status": deployment.status}


def install() -> None:
    """Attach the operations to moto's CodeDeploy backend and response classes."""
    CodeDeployBackend.put_lifecycle_event_hook_execution_status = (
        put_lifecycle_event_hook_execution_status
    )
    CodeDeployBackend.list_deployment_targets = list_deployment_targets
    CodeDeployBackend.get_deployment_target = get_deployment_target
    CodeDeployBackend.stop_deployment = stop_deployment
    CodeDeployBackend.list_deployments = list_deployments
    CodeDeployBackend.create_deployment = create_deployment
    CodeDeployResponse.put_lifecycle_event_hook_execution_status = (
        _r_put_lifecycle_event_hook_execution_status
    )
    CodeDeployResponse.list_deployment_targets = _r_list_deployment_targets
    CodeDeployResponse.get_deployment_target = _r_get_deployment_target
    CodeDeployResponse.stop_deployment = _r_stop_deployment
