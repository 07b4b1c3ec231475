"""WSGI middleware in front of moto's server app.

Adds, and otherwise leaves moto as it is:

* call counting of every AWS request (``counting.py``), served at
  ``GET /_autopilot/calls[?accessKey=AKID]`` and cleared by ``POST /_autopilot/calls/reset``;
* CloudWatch over Smithy RPC v2 CBOR (``cloudwatch_cbor.py``), for paths
  ``/service/GraniteServiceVersion20100801/operation/<Operation>``;
* ``POST /_autopilot/latency {"ms": N}``: a delay added to every AWS request,
  for benchmarks that model a real Region's API latency (0 turns it off);
* fault injection per access key (``faults.py``; how each fault looks on the
  wire is documented there): ``POST /_autopilot/faults {"accessKey": K | "*",
  "rules": [...]}`` replaces K's rules (``[]`` clears them and releases K's hung
  requests; 400 naming the bad field), ``GET /_autopilot/faults[?accessKey=K]``
  reports them with per-rule ``matched`` and ``injected`` counts
  (``{"accessKey": K, "rules": [...]}``, or ``{"faults": {K: [...]}}`` for every
  key), ``POST /_autopilot/faults/reset`` clears every key's rules and releases
  every hung request. A request is counted, then its fault (if any) decided,
  then the latency knob applies, then moto serves it;
* the CodeDeploy test-only endpoints (``codedeploy_ext.py``):
  ``GET /_autopilot/codedeploy/hook-statuses[?deploymentId=X]``,
  ``POST /_autopilot/codedeploy/lifecycle`` and ``POST /_autopilot/codedeploy/status``;
* the ECS service-deployment test-only endpoints (``ecs_deployments.py``):
  ``GET /_autopilot/ecs/service-deployments[?serviceArn=X]`` (newest first) and
  ``POST /_autopilot/ecs/service-deployment {"serviceDeploymentArn", "status"?,
  "lifecycleStage"?, "rollback"?, "targetWeights"?}`` (answers the updated deployment;
  404 for an unknown ARN, 400 for a bad status);
* the ECS deployment driver, ECS's side of the lifecycle hooks (``ecs_deployments.py``
  documents each): ``POST /_autopilot/ecs/hook-invocation``,
  ``POST /_autopilot/ecs/hook-answer``, ``POST /_autopilot/ecs/hook-options``,
  ``POST /_autopilot/ecs/hook-timeout`` and ``POST /_autopilot/ecs/hook-payload``,
  each with a JSON object naming the ``serviceDeploymentArn`` (400 naming the bad
  field, 404 for an unknown deployment, 409 for an answer no invocation awaits);
* the harness clock and SSM Change Calendar's state-change events
  (``ssm_calendar.py``): ``GET /_autopilot/clock[?accessKey=K]`` (``{"now",
  "fixed"}``, with ``"accessKey"`` when given), ``POST /_autopilot/clock
  {"accessKey"?: K, "now": ISO 8601 | null}`` (fixes the time
  ``GetCalendarState`` uses without ``AtTime``, for the calls signed with K or,
  without K, for all others; null: back to real time, or K back to the default;
  answers ``{"now", "fixed", "accessKey"?, "events"}``, the "Calendar State
  Change" events of every calendar in (old now, new now], in time order) and
  ``GET /_autopilot/ssm/calendar-events?from=ISO&to=ISO`` (``{"events"}`` in
  (from, to], no clock moved); 400 naming the bad field;
* the accounts' principals (``sts_trust.py``): ``POST /_autopilot/accounts/admin
  {"account"}`` (an administrator's access keys in that account) and ``POST
  /_autopilot/lambda/credentials {"roleArn"}`` (a function's credentials for
  its execution role, as Lambda issues them: 403 unless the trust policy lets
  ``lambda.amazonaws.com`` assume it, 404 for no such role) and ``GET
  /_autopilot/sts/sessions?roleArn=ARN`` (the role's sessions);
* conformance to AWS's API models (``conformance.py``; botocore's pinned
  ``service-2`` models): every AWS request of the awsJson, rpcv2Cbor, awsQuery
  and ec2 protocols is checked against its operation's input shape (one that
  does not conform answers HTTP 400 as AWS rejects a malformed request, e.g.
  awsJson ``ValidationException`` naming the path), and every response of the
  operations the extensions answer themselves (``conformance.extension``)
  against its output shape (one that does not conform answers HTTP 500
  ``InternalFailure`` naming service, operation and path). Violations are served
  at ``GET /_autopilot/conformance[?accessKey=K]`` (``{"violations": [{"service",
  "operation", "direction": "input" | "output", "path", "message", "accessKey"}],
  "checked": {"requests": N, "responses": M}, "unchecked": {"requests": U},
  "dropped": D, "models": "botocore X.Y.Z"}``) and cleared by
  ``POST /_autopilot/conformance/reset``. A request is counted, then checked,
  then its fault (if any) decided: a faulted request is checked (and a
  violation recorded) all the same.

The body of a request the conformance check reads (awsJson, CBOR, or a form
body) is read whole and then put back as a fresh ``BytesIO`` so moto still
sees all of it.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import cloudwatch_cbor
import codedeploy_ext
import conformance
import counting
import ecs_deployments
import faults
import ssm_calendar
import sts_trust

PREFIX = "/_autopilot/"
# The ECS deployment driver's endpoints: route -> handler(request) -> answer.
ECS_DRIVER_ROUTES = {
    "ecs/hook-invocation": ecs_deployments.next_hook_invocation,
    "ecs/hook-answer": ecs_deployments.hook_answer,
    "ecs/hook-options": ecs_deployments.hook_options,
    "ecs/hook-timeout": ecs_deployments.expire_hook,
    "ecs/hook-payload": ecs_deployments.stage_payload,
}


def buffer_body(environ: dict[str, Any]) -> bytes:
    """Read the whole request body and replace ``wsgi.input`` with a copy."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            body = stream.read(int(length))
        except ValueError:
            body = b""
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _json(start_response: Callable, status: int, payload: Any) -> list[bytes]:
    body = json.dumps(payload, default=str).encode("utf-8")
    reasons = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
               409: "Conflict", 500: "Internal Server Error"}
    start_response(
        f"{status} {reasons.get(status, 'Error')}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


class AutopilotMiddleware:
    def __init__(self, moto_app: Callable) -> None:
        self.moto_app = moto_app
        self.calls = counting.CallCounter()
        self.conformance = conformance.Recorder()
        self.faults = faults.FaultInjector()
        # Added to every AWS request when set (POST /_autopilot/latency), so
        # benchmarks can model a real Region's API latency.
        self.latency_seconds = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Callable):
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX):
            return self._autopilot(environ, start_response, path)
        if path.startswith("/moto-api") or path == "/favicon.ico":
            return self.moto_app(environ, start_response)

        cbor = counting.CBOR_PATH.match(path)
        body = None
        if cbor or counting.needs_body(environ) or conformance.wire_of(environ):
            body = buffer_body(environ)
        service = counting.service_name(environ)
        access_key = counting.access_key(environ)
        operation = counting.operation_name(environ, body)
        self.calls.record(service, operation, access_key)
        verdict = self._check_request(environ, body or b"", access_key)

        fault = self.faults.decide(access_key, service, operation)
        if fault is not None:
            answer = faults.apply(fault, environ, service, start_response)
            if answer is not None:
                return answer

        if self.latency_seconds:
            time.sleep(self.latency_seconds)

        if verdict is not None and verdict.rejected:
            return conformance.reject(verdict, start_response)

        def serve(respond: Callable):
            if cbor and cbor.group("service") == cloudwatch_cbor.SERVICE_NAME:
                return cloudwatch_cbor.handle(
                    environ, cbor.group("operation"), body or b"", self.moto_app, respond
                )
            return self.moto_app(environ, respond)

        if verdict is not None and verdict.extension:
            return self._checked_response(verdict, serve, start_response)
        return serve(start_response)

    # --- conformance (conformance.py) ---------------------------------------------

    def _check_request(
        self, environ: dict[str, Any], body: bytes, access_key: str | None
    ) -> conformance.Verdict | None:
        """Check a request against its model; record what does not conform."""
        try:
            verdict = conformance.check_request(environ, body, access_key)
        except Exception as err:  # noqa: BLE001 - a bug in the check must not fail the call
            service = counting.service_name(environ)
            operation = counting.operation_name(environ, body)
            self.conformance.record_crash(service, operation, "input", access_key, err)
            return None
        if verdict is None:
            self.conformance.unchecked()
            return None
        self.conformance.checked("input")
        if verdict.problems:
            self.conformance.record(verdict, "input")
        return verdict

    def _checked_response(
        self, verdict: conformance.Verdict, serve: Callable, start_response: Callable
    ) -> list[bytes]:
        """Serve an extension's answer, checked against the model's output shape."""
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = serve(capture)
        try:
            payload = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        status = captured.get("status", "500 Internal Server Error")
        self.conformance.checked("output")
        try:
            problems = conformance.check_response(verdict, int(status.split(" ", 1)[0]), payload)
        except Exception as err:  # noqa: BLE001 - a bug in the check must not fail the call
            self.conformance.record_crash(
                verdict.service, verdict.operation, "output", verdict.access_key, err
            )
            problems = []
        if problems:
            self.conformance.record(verdict, "output", problems)
            return conformance.server_error(verdict, problems, start_response)
        start_response(status, captured.get("headers", []))
        return [payload]

    # --- test-only endpoints ------------------------------------------------------

    def _autopilot(self, environ: dict[str, Any], start_response: Callable, path: str):
        method = environ.get("REQUEST_METHOD", "GET")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        route = path[len(PREFIX) :].rstrip("/")

        if route == "calls" and method == "GET":
            key = query.get("accessKey", [None])[0]
            return _json(start_response, 200, {"calls": self.calls.snapshot(key)})
        if route == "calls/reset" and method == "POST":
            self.calls.reset()
            return _json(start_response, 200, {"calls": {}})
        if route == "latency" and method == "POST":
            try:
                milliseconds = float(json.loads(buffer_body(environ) or b"{}")["ms"])
            except (ValueError, KeyError, TypeError) as err:
                return _json(start_response, 400, {"error": f"bad request: {err!r}"})
            self.latency_seconds = max(0.0, milliseconds) / 1000.0
            return _json(start_response, 200, {"ms": milliseconds})
        if route == "faults" and method == "GET":
            key = query.get("accessKey", [None])[0]
            report = self.faults.report(key)
            if key is None:
                return _json(start_response, 200, {"faults": report})
            return _json(start_response, 200, {"accessKey": key, "rules": report.get(key, [])})
        if route == "faults" and method == "POST":
            try:
                key, rules = faults.parse_request(json.loads(buffer_body(environ) or b"{}"))
            except ValueError as err:  # faults.InvalidRules, or not JSON
                return _json(start_response, 400, {"error": str(err)})
            return _json(
                start_response, 200, {"accessKey": key, "rules": self.faults.replace(key, rules)}
            )
        if route == "faults/reset" and method == "POST":
            self.faults.reset()
            return _json(start_response, 200, {"faults": {}})
        if route == "conformance" and method == "GET":
            key = query.get("accessKey", [None])[0]
            return _json(start_response, 200, self.conformance.report(key))
        if route == "conformance/reset" and method == "POST":
            self.conformance.reset()
            return _json(start_response, 200, self.conformance.report())
        if route == "codedeploy/hook-statuses" and method == "GET":
            deployment_id = query.get("deploymentId", [None])[0]
            return _json(start_response, 200, codedeploy_ext.hook_statuses(deployment_id))
        if route in ("codedeploy/lifecycle", "codedeploy/status") and method == "POST":
            try:
                request = json.loads(buffer_body(environ) or b"{}")
                deployment_id = request["deploymentId"]
                if route == "codedeploy/lifecycle":
                    hook_id = codedeploy_ext.start_lifecycle_hook(deployment_id, request["hook"])
                    return _json(start_response, 200, {"lifecycleEventHookExecutionId": hook_id})
                result = codedeploy_ext.set_deployment_status(deployment_id, request["status"])
                return _json(start_response, 200, result)
            except (ValueError, KeyError, TypeError) as err:
                return _json(start_response, 400, {"error": f"bad request: {err!r}"})
            except codedeploy_ext.EndpointError as err:
                return _json(start_response, err.status, {"error": err.message})
        if route == "ecs/service-deployments" and method == "GET":
            service_arn = query.get("serviceArn", [None])[0]
            return _json(start_response, 200, ecs_deployments.service_deployments(service_arn))
        if route == "ecs/service-deployment" and method == "POST":
            try:
                request = json.loads(buffer_body(environ) or b"{}")
                if not isinstance(request, dict):
                    raise TypeError("expected a JSON object")
                result = ecs_deployments.update_service_deployment(request)
                return _json(start_response, 200, result)
            except (ValueError, KeyError, TypeError) as err:
                return _json(start_response, 400, {"error": f"bad request: {err!r}"})
            except ecs_deployments.EndpointError as err:
                return _json(start_response, err.status, {"error": err.message})
        if route == "clock" and method in ("GET", "POST"):
            try:
                if method == "GET":
                    return _json(start_response, 200, ssm_calendar.clock_report(query))
                request = json.loads(buffer_body(environ) or b"{}")
                return _json(start_response, 200, ssm_calendar.set_clock(request))
            except ValueError as err:
                return _json(start_response, 400, {"error": f"bad request: {err!r}"})
            except ssm_calendar.EndpointError as err:
                return _json(start_response, err.status, {"error": err.message})
        if route == "ssm/calendar-events" and method == "GET":
            try:
                return _json(start_response, 200, ssm_calendar.events_between(query))
            except ssm_calendar.EndpointError as err:
                return _json(start_response, err.status, {"error": err.message})
        if route == "sts/sessions" and method == "GET":
            try:
                return _json(start_response, 200, sts_trust.sessions(query))
            except sts_trust.EndpointError as err:
                return _json(start_response, err.status, {"error": err.message})
        if route in ("accounts/admin", "lambda/credentials") and method == "POST":
            try:
                request = json.loads(buffer_body(environ) or b"{}")
                answer = (
                    sts_trust.admin_credentials
                    if route == "accounts/admin"
                    else sts_trust.lambda_credentials
                )(request)
                return _json(start_response, 200, answer)
            except ValueError as err:
                return _json(start_response, 400, {"error": f"bad request: {err!r}"})
            except sts_trust.EndpointError as err:
                return _json(start_response, err.status, {"error": err.message})
        if route in ECS_DRIVER_ROUTES and method == "POST":
            try:
                request = json.loads(buffer_body(environ) or b"{}")
                return _json(start_response, 200, ECS_DRIVER_ROUTES[route](request))
            except ValueError as err:
                return _json(start_response, 400, {"error": f"bad request: {err!r}"})
            except ecs_deployments.EndpointError as err:
                return _json(start_response, err.status, {"error": err.message})
        known = {
            "calls": "GET",
            "calls/reset": "POST",
            "latency": "POST",
            "faults": "GET or POST",
            "faults/reset": "POST",
            "conformance": "GET",
            "conformance/reset": "POST",
            "codedeploy/hook-statuses": "GET",
            "codedeploy/lifecycle": "POST",
            "codedeploy/status": "POST",
            "ecs/service-deployments": "GET",
            "ecs/service-deployment": "POST",
            **{route: "POST" for route in ECS_DRIVER_ROUTES},
            "clock": "GET or POST",
            "ssm/calendar-events": "GET",
            "accounts/admin": "POST",
            "lambda/credentials": "POST",
            "sts/sessions": "GET",
        }
        if route in known:
            return _json(start_response, 405, {"error": f"use {known[route]}"})
        return _json(start_response, 404, {"error": f"no such endpoint: {path}"})
