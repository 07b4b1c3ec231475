"""Self-test of the local AWS harness (server.py and its extensions).

    .venv/bin/python tests/localaws/selftest.py

Starts server.py on a free loopback port, exercises every extension with boto3
(dummy credentials) and with raw SigV4-signed CBOR requests, prints one line per
check and ``N passed, M failed`` at the end; exits non-zero on any failure.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import errno
import json
import os
import random
import socket
import threading
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import boto3
import botocore.exceptions
import cbor2
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from botocore.session import get_session

HERE = Path(__file__).resolve().parent
REGION = "us-east-1"
ACCOUNT = "123456789012"
SAMPLE_HOOK_ID = (
    "eyJlbmNyeXB0ZWREYXRhIjoiZXhhbXBsZSIsIml2UGFyYW1ldGVyU3BlYyI6ImV4YW1wbGUi"
    "LCJtYXRlcmlhbFNldFNlcmlhbCI6MX0="
)

CHECKS: list[tuple[str, Callable[[], None]]] = []


def check(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    def register(fn: Callable[[], None]) -> Callable[[], None]:
        CHECKS.append((name, fn))
        return fn

    return register


def expect_error(code: str, fn: Callable[[], object], status: int = 400) -> ClientError:
    try:
        fn()
    except ClientError as err:
        got = err.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {err}"
        got_status = err.response["ResponseMetadata"]["HTTPStatusCode"]
        assert got_status == status, f"expected HTTP {status}, got {got_status}"
        return err
    raise AssertionError(f"expected {code}, call succeeded")


# --- server -----------------------------------------------------------------------


class Server:
    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="localaws-selftest-")
        port_file = Path(self.tmp.name) / "port"
        self.log = open(Path(self.tmp.name) / "log", "w+b")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "server.py"), "--host", "127.0.0.1", "--port", "0",
             "--port-file", str(port_file)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise RuntimeError("server did not start:\n" + self.log.read().decode())
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port_file.read_text().strip()}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        self.tmp.cleanup()

    def http(self, method: str, path: str, payload: object | None = None):
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


SERVER: Server


def client(service: str):
    return boto3.client(
        service,
        endpoint_url=SERVER.url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


# --- CloudWatch over CBOR: raw signed requests --------------------------------------

CW_MODEL = get_session().get_service_model("cloudwatch")
CBOR_PARSER = create_parser("smithy-rpc-v2-cbor")


class CborResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes, operation: str):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body
        self.operation = operation

    @property
    def data(self):
        return cbor2.loads(self.body) if self.body else None

    def sdk_parse(self):
        """Parse as botocore's own rpcv2Cbor client does (proves SDK compatibility)."""
        shape = CW_MODEL.operation_model(self.operation).output_shape
        return CBOR_PARSER.parse(
            {"status_code": self.status, "headers": self.headers, "body": self.body}, shape
        )


def cbor_call(
    operation: str, payload: dict | None, sign: bool = True, key: str = "testing"
) -> CborResponse:
    url = f"{SERVER.url}/service/GraniteServiceVersion20100801/operation/{operation}"
    body = cbor2.dumps(payload) if payload is not None else b""
    headers = {"smithy-protocol": "rpc-v2-cbor", "Accept": "application/cbor"}
    if payload is not None:
        headers["Content-Type"] = "application/cbor"
    if sign:
        request = AWSRequest(method="POST", url=url, data=body, headers=headers)
        SigV4Auth(Credentials(key, "testing"), "monitoring", REGION).add_auth(request)
        headers = dict(request.headers.items())
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return CborResponse(resp.status, dict(resp.headers), resp.read(), operation)
    except urllib.error.HTTPError as err:
        return CborResponse(err.code, dict(err.headers), err.read(), operation)


def ts(value: dt.datetime) -> cbor2.CBORTag:
    return cbor2.CBORTag(1, value.timestamp())


ALARM = {
    "AlarmName": "selftest-cpu",
    "MetricName": "CPUUtilization",
    "Namespace": "AWS/ECS",
    "Statistic": "Average",
    "Dimensions": [{"Name": "ClusterName", "Value": "c1"}, {"Name": "ServiceName", "Value": "s1"}],
    "Period": 60,
    "EvaluationPeriods": 2,
    "Threshold": 80.0,
    "ComparisonOperator": "GreaterThanThreshold",
}


@check("counting: per service.operation for JSON, query-form and CBOR calls; reset")
def _counting():
    status, _ = SERVER.http("POST", "/_autopilot/calls/reset", {})
    assert status == 200
    ecs, elb = client("ecs"), client("elbv2")
    ecs.list_clusters()
    ecs.list_clusters()
    elb.describe_target_groups()  # awsQuery: Action in a form body
    cbor_call("ListMetrics", {})
    status, data = SERVER.http("GET", "/_autopilot/calls")
    assert status == 200, status
    calls = data["calls"]
    assert calls.get("ecs.ListClusters") == 2, calls
    assert calls.get("elasticloadbalancing.DescribeTargetGroups") == 1, calls
    assert calls.get("monitoring.ListMetrics") == 1, calls
    assert sum(calls.values()) == 4, calls
    status, data = SERVER.http("POST", "/_autopilot/calls/reset", {})
    assert status == 200
    assert SERVER.http("GET", "/_autopilot/calls")[1] == {"calls": {}}


@check("cbor: PutMetricAlarm answers 200, empty body, smithy-protocol header")
def _put_alarm():
    resp = cbor_call("PutMetricAlarm", ALARM)
    assert resp.status == 200, (resp.status, resp.body)
    assert resp.headers.get("smithy-protocol") == "rpc-v2-cbor", resp.headers
    assert resp.body == b"", resp.body


@check("cbor: DescribeAlarms returns MetricAlarms with typed members (SDK parser too)")
def _describe_alarms():
    resp = cbor_call("DescribeAlarms", {"AlarmNames": ["selftest-cpu"]})
    assert resp.status == 200, (resp.status, resp.body)
    assert resp.headers.get("content-type") == "application/cbor", resp.headers
    alarms = resp.data["MetricAlarms"]
    assert len(alarms) == 1, alarms
    alarm = alarms[0]
    for key in ("AlarmName", "MetricName", "Namespace", "Statistic", "ComparisonOperator"):
        assert alarm[key] == ALARM[key], (key, alarm[key])
    assert alarm["AlarmArn"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:selftest-cpu"
    assert alarm["StateValue"] == "OK" and alarm["StateReason"], alarm
    assert alarm["Dimensions"] == ALARM["Dimensions"], alarm["Dimensions"]
    assert alarm["Period"] == 60 and type(alarm["Period"]) is int
    assert alarm["EvaluationPeriods"] == 2 and type(alarm["EvaluationPeriods"]) is int
    assert alarm["Threshold"] == 80.0 and type(alarm["Threshold"]) is float
    assert isinstance(alarm["StateUpdatedTimestamp"], dt.datetime), alarm["StateUpdatedTimestamp"]
    parsed = resp.sdk_parse()
    assert parsed["MetricAlarms"][0]["AlarmName"] == "selftest-cpu", parsed
    assert cbor_call("DescribeAlarms", {"AlarmNamePrefix": "selftest-"}).data["MetricAlarms"]
    assert cbor_call("DescribeAlarms", {"AlarmNamePrefix": "other-"}).data["MetricAlarms"] == []


@check("cbor: SetAlarmState then DescribeAlarms by StateValue")
def _set_alarm_state():
    resp = cbor_call(
        "SetAlarmState",
        {"AlarmName": "selftest-cpu", "StateValue": "ALARM", "StateReason": "selftest"},
    )
    assert resp.status == 200 and resp.body == b"", (resp.status, resp.body)
    alarms = cbor_call("DescribeAlarms", {"StateValue": "ALARM"}).data["MetricAlarms"]
    assert [a["AlarmName"] for a in alarms] == ["selftest-cpu"], alarms
    assert alarms[0]["StateReason"] == "selftest"
    assert cbor_call("DescribeAlarms", {"StateValue": "OK"}).data["MetricAlarms"] == []


@check("cbor: PutMetricData then GetMetricData (Timestamps tag 1, Values floats)")
def _metric_data():
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    point = now - dt.timedelta(seconds=90)
    resp = cbor_call(
        "PutMetricData",
        {
            "Namespace": "Selftest",
            "MetricData": [
                {"MetricName": "Requests", "Value": 3.0, "Timestamp": ts(point),
                 "Dimensions": [{"Name": "ServiceName", "Value": "s1"}]},
                {"MetricName": "Requests", "Value": 4.0, "Timestamp": ts(point),
                 "Dimensions": [{"Name": "ServiceName", "Value": "s1"}]},
            ],
        },
    )
    assert resp.status == 200 and resp.body == b"", (resp.status, resp.body)
    query = {
        "Id": "req",
        "MetricStat": {
            "Metric": {"Namespace": "Selftest", "MetricName": "Requests",
                       "Dimensions": [{"Name": "ServiceName", "Value": "s1"}]},
            "Period": 60,
            "Stat": "Sum",
        },
    }
    resp = cbor_call(
        "GetMetricData",
        {"MetricDataQueries": [query], "StartTime": ts(now - dt.timedelta(minutes=10)),
         "EndTime": ts(now + dt.timedelta(minutes=1))},
    )
    assert resp.status == 200, (resp.status, resp.body)
    result = resp.data["MetricDataResults"][0]
    assert result["Id"] == "req" and result["StatusCode"] == "Complete", result
    assert result["Label"], result
    assert result["Values"] == [7.0] and type(result["Values"][0]) is float, result
    assert len(result["Timestamps"]) == 1
    stamp = result["Timestamps"][0]  # cbor2 decodes tag 1 (epoch seconds) to datetime
    assert isinstance(stamp, dt.datetime), stamp
    assert b"\xc1" in resp.body, "no CBOR tag 1 in the body"
    assert abs((stamp - point).total_seconds()) < 60, (stamp, point)
    parsed = resp.sdk_parse()
    assert parsed["MetricDataResults"][0]["Values"] == [7.0], parsed

    stats = cbor_call(
        "GetMetricStatistics",
        {"Namespace": "Selftest", "MetricName": "Requests",
         "Dimensions": [{"Name": "ServiceName", "Value": "s1"}],
         "StartTime": ts(now - dt.timedelta(minutes=10)),
         "EndTime": ts(now + dt.timedelta(minutes=1)), "Period": 60,
         "Statistics": ["Sum", "Maximum"]},
    )
    assert stats.status == 200, (stats.status, stats.body)
    points = stats.data["Datapoints"]
    assert len(points) == 1 and points[0]["Sum"] == 7.0 and points[0]["Maximum"] == 4.0, points
    assert isinstance(points[0]["Timestamp"], dt.datetime)
    metrics = cbor_call("ListMetrics", {"Namespace": "Selftest"}).data["Metrics"]
    assert metrics and metrics[0]["MetricName"] == "Requests", metrics


@check("cbor: metric queries match dimensions in any order; percentile statistics")
def _metric_stats():
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    point = now - dt.timedelta(seconds=90)
    dims = [{"Name": "TargetGroup", "Value": "targetgroup/tg/1"},
            {"Name": "LoadBalancer", "Value": "app/lb/2"}]
    data = [
        {"MetricName": "TargetResponseTime", "Value": float(v), "Timestamp": ts(point),
         "Dimensions": dims}
        for v in range(1, 101)
    ]
    resp = cbor_call("PutMetricData", {"Namespace": "SelftestStats", "MetricData": data})
    assert resp.status == 200, (resp.status, resp.body)

    def query(stat: str, dimensions: list) -> list:
        result = cbor_call(
            "GetMetricData",
            {"MetricDataQueries": [{"Id": "q", "MetricStat": {
                "Metric": {"Namespace": "SelftestStats", "MetricName": "TargetResponseTime",
                           "Dimensions": dimensions},
                "Period": 60, "Stat": stat}}],
             "StartTime": ts(now - dt.timedelta(minutes=10)),
             "EndTime": ts(now + dt.timedelta(minutes=1))},
        )
        assert result.status == 200, (result.status, result.body)
        return result.sdk_parse()["MetricDataResults"][0]["Values"]

    assert query("Sum", dims) == [5050.0]
    assert query("Sum", list(reversed(dims))) == [5050.0], "dimensions are a set"
    assert query("Sum", dims[:1]) == [], "a subset of the dimensions is another metric"
    assert query("p99", list(reversed(dims))) == [99.0]
    assert query("p50", dims) == [50.0]
    assert query("P100", dims) == [100.0]
    assert query("p99.9", dims) == [100.0]


@check("cbor: errors carry __type, message, x-amzn-query-error; unknown operation")
def _cbor_errors():
    resp = cbor_call("SetAlarmState", {"AlarmName": "missing", "StateValue": "OK", "StateReason": "x"})
    assert resp.status == 404, resp.status  # CloudWatch models ResourceNotFound as 404
    assert resp.data["__type"] == "ResourceNotFound", resp.data
    assert "message" in resp.data, resp.data
    assert resp.headers.get("x-amzn-query-error") == "ResourceNotFound;Sender", resp.headers
    assert resp.headers.get("smithy-protocol") == "rpc-v2-cbor"
    resp = cbor_call(
        "PutMetricData",
        {"Namespace": "Selftest", "MetricData": [{"MetricName": "M", "Value": 1.0, "Values": [1.0]}]},
    )
    assert resp.status == 400, resp.status
    assert resp.data["__type"] == "InvalidParameterValue", resp.data
    assert "mutually exclusive" in resp.data["message"], resp.data
    resp = cbor_call("FrobnicateWidgets", {})
    assert resp.status == 400 and resp.data == {"__type": "UnknownOperationException"}, resp.data


@check("cbor: unsigned request still served; DeleteAlarms removes the alarm")
def _delete_alarms():
    resp = cbor_call("DeleteAlarms", {"AlarmNames": ["selftest-cpu"]}, sign=False)
    assert resp.status == 200, (resp.status, resp.body)
    assert cbor_call("DescribeAlarms", {}).data["MetricAlarms"] == []
    assert cbor_call("DescribeAlarms", None).status == 200  # empty body = empty input


# --- CodeDeploy -------------------------------------------------------------------------

CD: dict[str, str] = {}


def setup_codedeploy() -> None:
    ecs, elb, ec2, cd = client("ecs"), client("elbv2"), client("ec2"), client("codedeploy")
    ecs.create_cluster(clusterName="cd-cluster")
    ecs.register_task_definition(
        family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128,
                                             "portMappings": [{"containerPort": 80}]}]
    )
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    for name in ("web-blue", "web-green"):
        elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")
    service = ecs.create_service(
        cluster="cd-cluster", serviceName="web", taskDefinition="web", desiredCount=2,
        deploymentController={"type": "CODE_DEPLOY"},
    )["service"]
    CD["serviceArn"] = service["serviceArn"]
    cd.create_application(applicationName="web-app", computePlatform="ECS")
    cd.create_deployment_group(
        applicationName="web-app",
        deploymentGroupName="web-dg",
        serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/codedeploy",
        deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
        deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        ecsServices=[{"clusterName": "cd-cluster", "serviceName": "web"}],
        loadBalancerInfo={"targetGroupPairInfoList": [{
            "targetGroups": [{"name": "web-blue"}, {"name": "web-green"}],
            "prodTrafficRoute": {"listenerArns": ["arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/1/prod"]},
            "testTrafficRoute": {"listenerArns": ["arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/1/test"]},
        }]},
    )
    CD["appspec"] = json.dumps({"version": 0.0, "Resources": [{"TargetService": {
        "Type": "AWS::ECS::Service", "Properties": {
            "TaskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
            "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}}}],
        "Hooks": [{"AfterAllowTestTraffic": "CodeDeployHook_smoke"}]})
    CD["deploymentId"] = cd.create_deployment(
        applicationName="web-app", deploymentGroupName="web-dg",
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": CD["appspec"]}},
    )["deploymentId"]


@check("codedeploy: GetDeployment has revision.appSpecContent.content and status")
def _get_deployment():
    setup_codedeploy()
    info = client("codedeploy").get_deployment(deploymentId=CD["deploymentId"])["deploymentInfo"]
    assert info["revision"]["appSpecContent"]["content"] == CD["appspec"], info["revision"]
    assert info["status"] == "Created", info["status"]


@check("codedeploy: target operations before start -> DeploymentNotStartedException")
def _not_started():
    cd = client("codedeploy")
    expect_error("DeploymentNotStartedException",
                 lambda: cd.list_deployment_targets(deploymentId=CD["deploymentId"]))
    expect_error("DeploymentNotStartedException",
                 lambda: cd.get_deployment_target(deploymentId=CD["deploymentId"],
                                                  targetId="cd-cluster:web"))


@check("codedeploy: lifecycle endpoint + ListDeploymentTargets + GetDeploymentTarget shape")
def _deployment_target():
    cd = client("codedeploy")
    status, body = SERVER.http("POST", "/_autopilot/codedeploy/lifecycle",
                               {"deploymentId": CD["deploymentId"], "hook": "AfterAllowTestTraffic"})
    assert status == 200, (status, body)
    CD["hookId"] = body["lifecycleEventHookExecutionId"]
    assert CD["hookId"] and CD["hookId"] != SAMPLE_HOOK_ID
    assert cd.list_deployment_targets(deploymentId=CD["deploymentId"])["targetIds"] == ["cd-cluster:web"]
    target = cd.get_deployment_target(deploymentId=CD["deploymentId"],
                                      targetId="cd-cluster:web")["deploymentTarget"]
    assert target["deploymentTargetType"] == "ECSTarget", target
    ecs_target = target["ecsTarget"]
    assert ecs_target["deploymentId"] == CD["deploymentId"]
    assert ecs_target["targetId"] == "cd-cluster:web"
    assert ecs_target["targetArn"] == CD["serviceArn"], ecs_target["targetArn"]
    assert ecs_target["status"] == "InProgress", ecs_target["status"]
    assert isinstance(ecs_target["lastUpdatedAt"], dt.datetime)
    events = [(e["lifecycleEventName"], e["status"]) for e in ecs_target["lifecycleEvents"]]
    assert events == [
        ("BeforeInstall", "Succeeded"), ("Install", "Succeeded"), ("AfterInstall", "Succeeded"),
        ("BeforeAllowTestTraffic", "Succeeded"), ("AllowTestTraffic", "Succeeded"),
        ("AfterAllowTestTraffic", "InProgress"), ("BeforeAllowTraffic", "Pending"),
        ("AllowTraffic", "Pending"), ("AfterAllowTraffic", "Pending"),
    ], events
    in_progress = ecs_target["lifecycleEvents"][5]
    assert "startTime" in in_progress and "endTime" not in in_progress, in_progress
    assert "startTime" not in ecs_target["lifecycleEvents"][6]
    sets = {s["taskSetLabel"]: s for s in ecs_target["taskSetsInfo"]}
    assert sets["Blue"]["targetGroup"] == {"name": "web-blue"}, sets
    assert sets["Blue"]["status"] == "PRIMARY" and sets["Blue"]["trafficWeight"] == 100.0
    assert sets["Green"]["targetGroup"] == {"name": "web-green"}, sets
    assert sets["Green"]["status"] == "ACTIVE" and sets["Green"]["trafficWeight"] == 0.0
    assert sets["Blue"]["identifer"].startswith("ecs-svc/") and sets["Blue"]["desiredCount"] == 2
    expect_error("DeploymentTargetDoesNotExistException",
                 lambda: cd.get_deployment_target(deploymentId=CD["deploymentId"], targetId="x:y"))
    expect_error("DeploymentDoesNotExistException",
                 lambda: cd.get_deployment_target(deploymentId="d-NOPE12345", targetId="x:y"))
    expect_error("DeploymentDoesNotExistException",
                 lambda: cd.list_deployment_targets(deploymentId="d-NOPE12345"))


@check("codedeploy: PutLifecycleEventHookExecutionStatus validation, update, recording")
def _hook_status():
    cd = client("codedeploy")
    dep = CD["deploymentId"]
    out = cd.put_lifecycle_event_hook_execution_status(
        deploymentId=dep, lifecycleEventHookExecutionId=CD["hookId"], status="Succeeded")
    assert out["lifecycleEventHookExecutionId"] == CD["hookId"], out
    target = cd.get_deployment_target(deploymentId=dep, targetId="cd-cluster:web")
    event = target["deploymentTarget"]["ecsTarget"]["lifecycleEvents"][5]
    assert event["status"] == "Succeeded" and "endTime" in event, event
    expect_error("LifecycleEventAlreadyCompletedException",
                 lambda: cd.put_lifecycle_event_hook_execution_status(
                     deploymentId=dep, lifecycleEventHookExecutionId=CD["hookId"], status="Failed"))
    # An id never issued (the sample event's) is accepted and recorded.
    out = cd.put_lifecycle_event_hook_execution_status(
        deploymentId=dep, lifecycleEventHookExecutionId=SAMPLE_HOOK_ID, status="Succeeded")
    assert out["lifecycleEventHookExecutionId"] == SAMPLE_HOOK_ID
    expect_error("InvalidLifecycleEventHookExecutionStatusException",
                 lambda: cd.put_lifecycle_event_hook_execution_status(
                     deploymentId=dep, lifecycleEventHookExecutionId=SAMPLE_HOOK_ID, status="Done"))
    expect_error("DeploymentDoesNotExistException",
                 lambda: cd.put_lifecycle_event_hook_execution_status(
                     deploymentId="d-NOPE12345", lifecycleEventHookExecutionId="x", status="Succeeded"))
    status, calls = SERVER.http("GET", f"/_autopilot/codedeploy/hook-statuses?deploymentId={dep}")
    assert status == 200
    summary = [(c["lifecycleEventHookExecutionId"], c["status"], c["lifecycleEventName"], c["error"])
               for c in calls]
    assert summary == [
        (CD["hookId"], "Succeeded", "AfterAllowTestTraffic", None),
        (CD["hookId"], "Failed", "AfterAllowTestTraffic", "LifecycleEventAlreadyCompletedException"),
        (SAMPLE_HOOK_ID, "Succeeded", None, None),
        (SAMPLE_HOOK_ID, "Done", None, "InvalidLifecycleEventHookExecutionStatusException"),
    ], summary
    assert all(c["deploymentId"] == dep and c["time"] for c in calls)
    _, every = SERVER.http("GET", "/_autopilot/codedeploy/hook-statuses")
    assert len(every) == 5 and every[-1]["deploymentId"] == "d-NOPE12345", every


@check("codedeploy: raw JSON error shape {__type, message} with HTTP 400")
def _raw_codedeploy_error():
    body = json.dumps({"deploymentId": "d-NOPE12345", "targetId": "a:b"}).encode()
    url = SERVER.url + "/"
    request = AWSRequest(method="POST", url=url, data=body, headers={
        "X-Amz-Target": "CodeDeploy_20141006.GetDeploymentTarget",
        "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials("testing", "testing"), "codedeploy", REGION).add_auth(request)
    req = urllib.request.Request(url, data=body, headers=dict(request.headers.items()), method="POST")
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("expected an error")
    except urllib.error.HTTPError as err:
        assert err.code == 400, err.code
        data = json.loads(err.read())
        assert data["__type"] == "DeploymentDoesNotExistException" and data["message"], data


@check("codedeploy: status endpoint, ListDeployments filters, StopDeployment")
def _status_and_stop():
    cd = client("codedeploy")
    dep = CD["deploymentId"]
    status, body = SERVER.http("POST", "/_autopilot/codedeploy/status",
                               {"deploymentId": dep, "status": "InProgress"})
    assert status == 200 and body["status"] == "InProgress", body
    listed = cd.list_deployments(applicationName="web-app", deploymentGroupName="web-dg",
                                 includeOnlyStatuses=["InProgress"])["deployments"]
    assert listed == [dep], listed
    assert cd.list_deployments(applicationName="web-app", deploymentGroupName="web-dg",
                               includeOnlyStatuses=["Succeeded"])["deployments"] == []
    expect_error("ApplicationDoesNotExistException",
                 lambda: cd.list_deployments(applicationName="nope", deploymentGroupName="web-dg"))
    expect_error("DeploymentGroupDoesNotExistException",
                 lambda: cd.list_deployments(applicationName="web-app", deploymentGroupName="nope"))
    expect_error("InvalidDeploymentStatusException",
                 lambda: cd.list_deployments(includeOnlyStatuses=["Bogus"]))
    out = cd.stop_deployment(deploymentId=dep, autoRollbackEnabled=True)
    assert out["status"] == "Pending" and out["statusMessage"], out
    assert cd.get_deployment(deploymentId=dep)["deploymentInfo"]["status"] == "Stopped"
    expect_error("DeploymentAlreadyCompletedException", lambda: cd.stop_deployment(deploymentId=dep))
    expect_error("DeploymentDoesNotExistException",
                 lambda: cd.stop_deployment(deploymentId="d-NOPE12345"))
    status, _ = SERVER.http("POST", "/_autopilot/codedeploy/lifecycle",
                            {"deploymentId": dep, "hook": "Install"})
    assert status == 400, status


@check("codedeploy: one active deployment per group -> DeploymentLimitExceededException")
def _deployment_limit():
    cd = client("codedeploy")
    revision = {"revisionType": "AppSpecContent", "appSpecContent": {"content": CD["appspec"]}}

    def create(group: str = "web-dg") -> str:
        return cd.create_deployment(applicationName="web-app", deploymentGroupName=group,
                                    revision=revision)["deploymentId"]

    # CD["deploymentId"] was stopped above, which freed the group.
    first = create()
    err = expect_error("DeploymentLimitExceededException", create)
    assert err.response["Error"]["Message"] == (
        f"The Deployment Group 'web-dg' already has an active Deployment '{first}'"
    ), err.response["Error"]
    for status in ("Queued", "InProgress", "Baking", "Ready"):
        assert SERVER.http("POST", "/_autopilot/codedeploy/status",
                           {"deploymentId": first, "status": status})[0] == 200
        expect_error("DeploymentLimitExceededException", create)
    # Another group of the application is not held up.
    cd.create_deployment_group(
        applicationName="web-app", deploymentGroupName="web-dg-2",
        serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/codedeploy",
        ecsServices=[{"clusterName": "cd-cluster", "serviceName": "web"}],
    )
    other = create("web-dg-2")
    cd.stop_deployment(deploymentId=other)
    # Each completed status frees the group.
    previous = first
    for status in ("Succeeded", "Failed", "Stopped"):
        assert SERVER.http("POST", "/_autopilot/codedeploy/status",
                           {"deploymentId": previous, "status": status})[0] == 200
        previous = create()
    expect_error("DeploymentLimitExceededException", create)
    # StopDeployment frees it too; concurrent creates: exactly one wins.
    cd.stop_deployment(deploymentId=previous)
    def attempt(_: int) -> str:
        try:
            return create()
        except ClientError as error:
            return error.response["Error"]["Code"]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(attempt, range(4)))
    assert sorted(r == "DeploymentLimitExceededException" for r in results) == [
        False, True, True, True], results
    winner = next(r for r in results if r != "DeploymentLimitExceededException")
    cd.stop_deployment(deploymentId=winner)


# --- ECS limits -------------------------------------------------------------------------


@check("ecs: DescribeServices > 10 -> InvalidParameterException; ListServices pages")
def _ecs_limits():
    ecs = client("ecs")
    ecs.create_cluster(clusterName="many")
    ecs.register_task_definition(family="t", containerDefinitions=[{"name": "t", "image": "busybox", "memory": 64}])
    names = [f"svc-{i:02d}" for i in range(12)]
    for name in names:
        ecs.create_service(cluster="many", serviceName=name, taskDefinition="t", desiredCount=0)
    err = expect_error("InvalidParameterException",
                       lambda: ecs.describe_services(cluster="many", services=names[:11]))
    assert "at most 10" in err.response["Error"]["Message"], err.response["Error"]
    assert len(ecs.describe_services(cluster="many", services=names[:10])["services"]) == 10

    first = ecs.list_services(cluster="many")
    assert len(first["serviceArns"]) == 10 and first.get("nextToken"), first
    second = ecs.list_services(cluster="many", nextToken=first["nextToken"])
    assert len(second["serviceArns"]) == 2 and "nextToken" not in second, second
    arns = first["serviceArns"] + second["serviceArns"]
    assert sorted(a.rsplit("/", 1)[-1] for a in arns) == names, arns

    pages, token = [], None
    while True:
        kwargs = {"cluster": "many", "maxResults": 5}
        if token:
            kwargs["nextToken"] = token
        page = ecs.list_services(**kwargs)
        pages.append(len(page["serviceArns"]))
        token = page.get("nextToken")
        if not token:
            break
    assert pages == [5, 5, 2], pages
    paginated = [a for p in ecs.get_paginator("list_services").paginate(cluster="many")
                 for a in p["serviceArns"]]
    assert len(paginated) == 12, paginated
    expect_error("InvalidParameterException", lambda: ecs.list_services(cluster="many", maxResults=101))
    expect_error("InvalidParameterException", lambda: ecs.list_services(cluster="many", maxResults=0))
    expect_error("InvalidParameterException",
                 lambda: ecs.list_services(cluster="many", nextToken="not-a-token"))
    assert len(ecs.list_services(cluster="many", maxResults=100)["serviceArns"]) == 12


@check("ecs: ListClusters pages with maxResults and nextToken")
def _list_clusters():
    ecs = client("ecs")
    everything = ecs.list_clusters()
    assert "nextToken" not in everything and len(everything["clusterArns"]) >= 2, everything
    seen, token = [], None
    while True:
        kwargs = {"maxResults": 1}
        if token:
            kwargs["nextToken"] = token
        page = ecs.list_clusters(**kwargs)
        assert len(page["clusterArns"]) == 1, page
        seen += page["clusterArns"]
        token = page.get("nextToken")
        if not token:
            break
    assert sorted(seen) == sorted(everything["clusterArns"]), (seen, everything)
    expect_error("InvalidParameterException", lambda: ecs.list_clusters(maxResults=101))


@check("ecs: ListTaskDefinitions sorts by numeric revision, DESC first, and pages")
def _list_task_definitions():
    ecs = client("ecs")
    for _ in range(11):
        ecs.register_task_definition(
            family="sorted", containerDefinitions=[{"name": "a", "image": "nginx", "memory": 64}]
        )
    ascending = ecs.list_task_definitions(familyPrefix="sorted")["taskDefinitionArns"]
    assert [a.rsplit(":", 1)[1] for a in ascending] == [str(i) for i in range(1, 12)], ascending
    newest = ecs.list_task_definitions(familyPrefix="sorted", sort="DESC", maxResults=1)
    assert newest["taskDefinitionArns"][0].endswith(":11"), newest
    second = ecs.list_task_definitions(
        familyPrefix="sorted", sort="DESC", maxResults=1, nextToken=newest["nextToken"]
    )
    assert second["taskDefinitionArns"][0].endswith(":10"), second


# --- ECS service revisions and deployments ----------------------------------------------

BG: dict[str, str] = {}
ECS_TARGET = "AmazonEC2ContainerServiceV20141113"


def setup_blue_green() -> None:
    ecs, elb, ec2 = client("ecs"), client("elbv2"), client("ec2")
    ecs.create_cluster(clusterName="bg-cluster")
    for tag in ("v1", "v2"):
        BG[f"task_{tag}"] = ecs.register_task_definition(
            family="bg-web",
            containerDefinitions=[
                {"name": "web", "image": f"nginx:{tag}", "memory": 128,
                 "portMappings": [{"containerPort": 80}]},
                {"name": "log-router", "image": "fluent-bit:latest", "memory": 64},
            ],
        )["taskDefinition"]["taskDefinitionArn"]
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]
    BG["subnet"] = subnets[0]
    BG["securityGroup"] = ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}],
    )["SecurityGroups"][0]["GroupId"]
    lb_arn = elb.create_load_balancer(Name="bg-alb", Subnets=subnets, Type="application",
                                      Scheme="internet-facing")["LoadBalancers"][0]["LoadBalancerArn"]
    for colour in ("blue", "green"):
        BG[colour] = elb.create_target_group(
            Name=f"bg-{colour}", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
    for name, port in (("production", 80), ("test", 8080)):
        listener = elb.create_listener(
            LoadBalancerArn=lb_arn, Protocol="HTTP", Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": BG["blue"]}],
        )["Listeners"][0]["ListenerArn"]
        BG[f"{name}_rule"] = elb.create_rule(
            ListenerArn=listener, Priority=1,
            Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
            Actions=[{"Type": "forward", "TargetGroupArn": BG["blue"]}],
        )["Rules"][0]["RuleArn"]
    BG["loadBalancers"] = [{
        "targetGroupArn": BG["blue"], "containerName": "web", "containerPort": 80,
        "advancedConfiguration": {
            "alternateTargetGroupArn": BG["green"],
            "productionListenerRule": BG["production_rule"],
            "testListenerRule": BG["test_rule"],
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/ecs-infrastructure",
        },
    }]
    BG["hooks"] = [{
        "hookTargetArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:hook",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/ecs-hooks",
        "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
    }]
    service = ecs.create_service(
        cluster="bg-cluster", serviceName="bg-web", taskDefinition=BG["task_v1"], desiredCount=3,
        launchType="FARGATE", loadBalancers=BG["loadBalancers"],
        networkConfiguration={"awsvpcConfiguration": {
            "subnets": [BG["subnet"]], "securityGroups": [BG["securityGroup"]],
            "assignPublicIp": "DISABLED"}},
        deploymentController={"type": "ECS"},
        deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5,
                                 "lifecycleHooks": BG["hooks"]},
    )["service"]
    BG["serviceArn"] = service["serviceArn"]


def service_deployments(service_arn: str | None = None) -> list[dict]:
    query = f"?serviceArn={urllib.parse.quote(service_arn, safe='')}" if service_arn else ""
    status, body = SERVER.http("GET", f"/_autopilot/ecs/service-deployments{query}")
    assert status == 200, (status, body)
    return body["serviceDeployments"]


@check("ecs deployments: CreateService records a revision and an IN_PROGRESS deployment")
def _deployment_on_create():
    setup_blue_green()
    ecs = client("ecs")
    listed = service_deployments(BG["serviceArn"])
    assert len(listed) == 1, listed
    arn = listed[0]["serviceDeploymentArn"]
    prefix = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/bg-cluster/bg-web/"
    assert arn.startswith(prefix), arn
    deployment_id = arn[len(prefix):]
    assert len(deployment_id) == 21 and deployment_id.isalnum(), deployment_id
    out = ecs.describe_service_deployments(serviceDeploymentArns=[arn])
    assert out["failures"] == [], out
    (deployment,) = out["serviceDeployments"]
    assert deployment["serviceArn"] == BG["serviceArn"], deployment
    assert deployment["clusterArn"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/bg-cluster"
    assert deployment["status"] == "IN_PROGRESS", deployment
    assert deployment["lifecycleStage"] == "RECONCILE_SERVICE", deployment
    assert deployment["sourceServiceRevisions"] == [], deployment
    for stamp in ("createdAt", "startedAt", "updatedAt"):
        assert isinstance(deployment[stamp], dt.datetime), (stamp, deployment)
    assert "stoppedAt" not in deployment and "finishedAt" not in deployment, deployment
    config = deployment["deploymentConfiguration"]
    assert config["strategy"] == "BLUE_GREEN" and config["bakeTimeInMinutes"] == 5, config
    assert config["lifecycleHooks"] == BG["hooks"], config
    assert config["maximumPercent"] == 200 and config["minimumHealthyPercent"] == 100, config
    target = deployment["targetServiceRevision"]
    assert target["requestedTaskCount"] == 3, target
    assert target["runningTaskCount"] == 0 and target["pendingTaskCount"] == 0, target
    assert target["requestedTestTrafficWeight"] == 100.0, target
    assert target["requestedProductionTrafficWeight"] == 0.0, target
    assert listed[0]["createdAt"] == deployment["createdAt"].timestamp(), listed[0]

    revision_prefix = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/bg-cluster/bg-web/"
    assert target["arn"].startswith(revision_prefix), target["arn"]
    revision_id = target["arn"][len(revision_prefix):]
    assert len(revision_id) == 19 and revision_id.isdigit(), revision_id
    out = ecs.describe_service_revisions(serviceRevisionArns=[target["arn"]])
    assert out["failures"] == [], out
    (revision,) = out["serviceRevisions"]
    assert revision["serviceRevisionArn"] == target["arn"], revision
    assert revision["serviceArn"] == BG["serviceArn"]
    assert revision["clusterArn"] == deployment["clusterArn"]
    assert revision["taskDefinition"] == BG["task_v1"], revision
    assert revision["launchType"] == "FARGATE", revision
    assert revision["loadBalancers"] == BG["loadBalancers"], revision["loadBalancers"]
    assert revision["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == [BG["subnet"]]
    assert revision["containerImages"] == [
        {"containerName": "web", "image": "nginx:v1"},
        {"containerName": "log-router", "image": "fluent-bit:latest"},
    ], revision["containerImages"]
    assert revision["guardDutyEnabled"] is False, revision
    assert isinstance(revision["createdAt"], dt.datetime), revision
    assert revision["resolvedConfiguration"] == {"loadBalancers": [
        {"targetGroupArn": BG["blue"], "productionListenerRule": BG["production_rule"]}
    ]}, revision["resolvedConfiguration"]
    BG["deployment1"], BG["revision1"] = arn, target["arn"]


@check("ecs deployments: UpdateService taskDefinition -> alternate target group, old one STOPPED")
def _deployment_on_update():
    ecs = client("ecs")
    ecs.update_service(cluster="bg-cluster", service="bg-web", taskDefinition=BG["task_v2"])
    listed = service_deployments(BG["serviceArn"])
    assert [d["serviceDeploymentArn"] for d in listed][1:] == [BG["deployment1"]], listed
    new, old = ecs.describe_service_deployments(
        serviceDeploymentArns=[listed[0]["serviceDeploymentArn"], BG["deployment1"]]
    )["serviceDeployments"]
    assert old["status"] == "STOPPED", old
    assert old["statusReason"] == "a newer deployment started", old
    assert isinstance(old["stoppedAt"], dt.datetime), old
    assert new["status"] == "IN_PROGRESS" and new["lifecycleStage"] == "RECONCILE_SERVICE", new
    sources = new["sourceServiceRevisions"]
    assert [s["arn"] for s in sources] == [BG["revision1"]], sources
    assert sources[0]["requestedTestTrafficWeight"] == 0.0, sources
    assert sources[0]["requestedProductionTrafficWeight"] == 100.0, sources
    assert new["deploymentConfiguration"]["strategy"] == "BLUE_GREEN", new
    revision_arn = new["targetServiceRevision"]["arn"]
    assert revision_arn != BG["revision1"]
    assert int(revision_arn.rsplit("/", 1)[1]) > int(BG["revision1"].rsplit("/", 1)[1])
    revision = ecs.describe_service_revisions(serviceRevisionArns=[revision_arn])["serviceRevisions"][0]
    assert revision["taskDefinition"] == BG["task_v2"], revision
    assert revision["containerImages"][0] == {"containerName": "web", "image": "nginx:v2"}
    assert revision["loadBalancers"] == BG["loadBalancers"], "carried from the previous revision"
    assert revision["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == [BG["subnet"]]
    assert revision["resolvedConfiguration"]["loadBalancers"] == [
        {"targetGroupArn": BG["green"], "productionListenerRule": BG["production_rule"]}
    ], revision["resolvedConfiguration"]
    BG["deployment2"], BG["revision2"] = new["serviceDeploymentArn"], revision_arn


@check("ecs deployments: desiredCount-only update makes none; forceNewDeployment alternates back")
def _deployment_desired_count():
    ecs = client("ecs")
    ecs.update_service(cluster="bg-cluster", service="bg-web", desiredCount=5)
    listed = service_deployments(BG["serviceArn"])
    assert [d["serviceDeploymentArn"] for d in listed] == [BG["deployment2"], BG["deployment1"]]
    assert listed[0]["status"] == "IN_PROGRESS", listed[0]
    ecs.update_service(cluster="bg-cluster", service="bg-web", forceNewDeployment=True)
    listed = service_deployments(BG["serviceArn"])
    assert len(listed) == 3 and listed[1]["status"] == "STOPPED", listed
    third = listed[0]
    assert third["targetServiceRevision"]["requestedTaskCount"] == 5, third
    assert [s["arn"] for s in third["sourceServiceRevisions"]] == [BG["revision2"]], third
    revision = ecs.describe_service_revisions(
        serviceRevisionArns=[third["targetServiceRevision"]["arn"]])["serviceRevisions"][0]
    assert revision["taskDefinition"] == BG["task_v2"], revision
    assert revision["resolvedConfiguration"]["loadBalancers"][0]["targetGroupArn"] == BG["blue"]
    BG["deployment3"] = third["serviceDeploymentArn"]
    # A rolling service: target group unchanged, no traffic weights.
    ecs.create_service(cluster="bg-cluster", serviceName="rolling", taskDefinition="bg-web",
                       desiredCount=1, loadBalancers=BG["loadBalancers"])
    ecs.update_service(cluster="bg-cluster", service="rolling", taskDefinition=BG["task_v1"])
    rolling = service_deployments(BG["serviceArn"].replace("/bg-web", "/rolling"))
    assert len(rolling) == 2, rolling
    assert rolling[0]["deploymentConfiguration"]["strategy"] == "ROLLING", rolling[0]
    assert "requestedTestTrafficWeight" not in rolling[0]["targetServiceRevision"], rolling[0]
    revisions = ecs.describe_service_revisions(serviceRevisionArns=[
        d["targetServiceRevision"]["arn"] for d in rolling])["serviceRevisions"]
    assert [r["resolvedConfiguration"]["loadBalancers"][0]["targetGroupArn"] for r in revisions] \
        == [BG["blue"], BG["blue"]], revisions
    assert revisions[0]["taskDefinition"] == BG["task_v1"], revisions[0]
    assert revisions[1]["taskDefinition"] == BG["task_v2"], "family resolved to its latest revision"


@check("ecs deployments: UpdateService repeating the current revision starts no deployment")
def _deployment_no_op_update():
    ecs = client("ecs")
    rolling_arn = BG["serviceArn"].replace("/bg-web", "/rolling")
    before = service_deployments(rolling_arn)
    # The service runs task_v1 (bg-web:1) with BG["loadBalancers"].
    for same in ({"taskDefinition": BG["task_v1"]}, {"taskDefinition": "bg-web:1"},
                 {"loadBalancers": BG["loadBalancers"]},
                 {"taskDefinition": BG["task_v1"], "loadBalancers": BG["loadBalancers"],
                  "desiredCount": 2},
                 {"deploymentConfiguration": {"maximumPercent": 150}}):
        ecs.update_service(cluster="bg-cluster", service="rolling", **same)
        assert service_deployments(rolling_arn) == before, same
    (latest,) = service_deployments(rolling_arn)[:1]
    assert latest["status"] == "IN_PROGRESS", latest

    # forceNewDeployment, or a member that differs, starts one.
    ecs.update_service(cluster="bg-cluster", service="rolling", taskDefinition=BG["task_v1"],
                       forceNewDeployment=True)
    after = service_deployments(rolling_arn)
    assert len(after) == len(before) + 1, after
    assert after[0]["deploymentConfiguration"]["maximumPercent"] == 150, after[0]
    assert after[1]["status"] == "STOPPED", after[1]
    other = [{**BG["loadBalancers"][0], "containerPort": 8080}]
    ecs.update_service(cluster="bg-cluster", service="rolling", loadBalancers=other)
    assert len(service_deployments(rolling_arn)) == len(before) + 2
    ecs.update_service(cluster="bg-cluster", service="rolling", loadBalancers=other)
    ecs.update_service(cluster="bg-cluster", service="rolling", taskDefinition="bg-web")  # v2
    assert len(service_deployments(rolling_arn)) == len(before) + 3
    ecs.update_service(cluster="bg-cluster", service="rolling", taskDefinition=BG["task_v2"])
    assert len(service_deployments(rolling_arn)) == len(before) + 3


@check("ecs deployments: Describe* failures for unknown ARNs; 0 and 21 ARNs rejected")
def _deployment_describe_errors():
    ecs = client("ecs")
    unknown = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/bg-cluster/bg-web/AAAAAAAAAAAAAAAAAAAAA"
    out = ecs.describe_service_deployments(
        serviceDeploymentArns=[unknown, BG["deployment2"], "not-an-arn"])
    assert [d["serviceDeploymentArn"] for d in out["serviceDeployments"]] == [BG["deployment2"]]
    assert out["failures"] == [{"arn": unknown, "reason": "MISSING"},
                               {"arn": "not-an-arn", "reason": "MISSING"}], out["failures"]
    out = ecs.describe_service_revisions(serviceRevisionArns=[BG["revision1"], BG["deployment1"]])
    assert [r["serviceRevisionArn"] for r in out["serviceRevisions"]] == [BG["revision1"]], out
    assert out["failures"] == [{"arn": BG["deployment1"], "reason": "MISSING"}], out
    for operation, member in ((ecs.describe_service_deployments, "serviceDeploymentArns"),
                              (ecs.describe_service_revisions, "serviceRevisionArns")):
        expect_error("InvalidParameterException", lambda: operation(**{member: []}))
        err = expect_error("InvalidParameterException",
                           lambda: operation(**{member: [unknown] * 21}))
        assert "at most 20" in err.response["Error"]["Message"], err.response["Error"]
        assert not operation(**{member: [unknown] * 20})[
            "serviceDeployments" if "Deployment" in member else "serviceRevisions"]

    # The raw awsJson 1.1 error shape.
    body = json.dumps({"serviceRevisionArns": []}).encode()
    url = SERVER.url + "/"
    request = AWSRequest(method="POST", url=url, data=body, headers={
        "X-Amz-Target": f"{ECS_TARGET}.DescribeServiceRevisions",
        "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials("testing", "testing"), "ecs", REGION).add_auth(request)
    req = urllib.request.Request(url, data=body, headers=dict(request.headers.items()), method="POST")
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("expected an error")
    except urllib.error.HTTPError as err:
        assert err.code == 400, err.code
        data = json.loads(err.read())
        assert data["__type"] == "InvalidParameterException", data
        assert data["message"] == "serviceRevisionArns must have at least 1 item.", data


@check("ecs deployments: test-only endpoint sets status/stage/rollback/weights; Describe sees it")
def _deployment_endpoint():
    ecs = client("ecs")
    arn = BG["deployment3"]
    status, body = SERVER.http("POST", "/_autopilot/ecs/service-deployment", {
        "serviceDeploymentArn": arn, "status": "ROLLBACK_IN_PROGRESS",
        "lifecycleStage": "PRODUCTION_TRAFFIC_SHIFT",
        "rollback": {"reason": "alarm fired", "serviceRevisionArn": BG["revision2"]},
        "targetWeights": {"test": 100, "production": 25},
    })
    assert status == 200, (status, body)
    assert body["status"] == "ROLLBACK_IN_PROGRESS", body
    assert body["rollback"]["reason"] == "alarm fired", body
    assert isinstance(body["rollback"]["startedAt"], float), body
    assert body["updatedAt"] >= body["createdAt"], body
    (deployment,) = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"]
    assert deployment["status"] == "ROLLBACK_IN_PROGRESS", deployment
    assert deployment["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT", deployment
    rollback = deployment["rollback"]
    assert rollback["reason"] == "alarm fired", rollback
    assert rollback["serviceRevisionArn"] == BG["revision2"], rollback
    assert isinstance(rollback["startedAt"], dt.datetime), rollback
    target = deployment["targetServiceRevision"]
    assert target["requestedTestTrafficWeight"] == 100.0, target
    assert target["requestedProductionTrafficWeight"] == 25.0, target
    source = deployment["sourceServiceRevisions"][0]
    assert source["requestedTestTrafficWeight"] == 0.0, source
    assert source["requestedProductionTrafficWeight"] == 75.0, source

    status, body = SERVER.http("POST", "/_autopilot/ecs/service-deployment",
                               {"serviceDeploymentArn": arn, "status": "ROLLBACK_SUCCESSFUL"})
    assert status == 200 and body["status"] == "ROLLBACK_SUCCESSFUL" and body["finishedAt"], body
    assert body["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT", "untouched members stay"
    status, body = SERVER.http("POST", "/_autopilot/ecs/service-deployment",
                               {"serviceDeploymentArn": arn, "status": "DONE"})
    assert status == 400 and "status must be one of" in body["error"], (status, body)
    status, body = SERVER.http("POST", "/_autopilot/ecs/service-deployment",
                               {"serviceDeploymentArn": arn + "x", "status": "STOPPED"})
    assert status == 404, (status, body)
    status, body = SERVER.http("POST", "/_autopilot/ecs/service-deployment", {"status": "STOPPED"})
    assert status == 400, (status, body)
    status, body = SERVER.http("POST", "/_autopilot/ecs/service-deployment",
                               {"serviceDeploymentArn": arn, "targetWeights": {"test": 101}})
    assert status == 400, (status, body)
    assert SERVER.http("GET", "/_autopilot/ecs/service-deployment")[0] == 405
    assert SERVER.http("POST", "/_autopilot/ecs/service-deployments", {})[0] == 405


@check("ecs deployments: GET without serviceArn lists all, newest first; reset clears them")
def _deployment_reset():
    everything = service_deployments()
    arns = [d["serviceDeploymentArn"] for d in everything]
    assert "service-deployment/cd-cluster/web/" in arns[-1], arns[-1]  # the oldest service
    assert arns.index(BG["deployment3"]) < arns.index(BG["deployment1"]), arns
    assert len(everything) >= 12 + 1 + 3 + 2, len(everything)
    status, _ = SERVER.http("POST", "/moto-api/reset", {})
    assert status == 200, status
    assert service_deployments() == []
    ecs = client("ecs")
    out = ecs.describe_service_deployments(serviceDeploymentArns=[BG["deployment1"]])
    assert out["serviceDeployments"] == [] and out["failures"][0]["reason"] == "MISSING", out
    out = ecs.describe_service_revisions(serviceRevisionArns=[BG["revision1"]])
    assert out["serviceRevisions"] == [] and len(out["failures"]) == 1, out


# --- fault injection ----------------------------------------------------------------------

ECS_JSON = "application/x-amz-json-1.1"


def new_key() -> str:
    return "AKIA" + os.urandom(8).hex().upper()


def keyed(service: str, key: str, attempts: int = 1, read_timeout: float = 10):
    return boto3.client(
        service,
        endpoint_url=SERVER.url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key="testing",
        # total_max_attempts counts the first attempt (max_attempts would not).
        config=Config(retries={"total_max_attempts": attempts, "mode": "standard"},
                      read_timeout=read_timeout, connect_timeout=5),
    )


def set_faults(key: str, rules: list) -> list:
    status, body = SERVER.http("POST", "/_autopilot/faults", {"accessKey": key, "rules": rules})
    assert status == 200, (status, body)
    assert body["accessKey"] == key and len(body["rules"]) == len(rules), body
    return body["rules"]


def fault_report(key: str) -> list:
    status, body = SERVER.http("GET", f"/_autopilot/faults?accessKey={urllib.parse.quote(key)}")
    assert status == 200, (status, body)
    return body["rules"]


def signed_headers(service: str, key: str, body: bytes, headers: dict, path: str = "/") -> dict:
    request = AWSRequest(method="POST", url=SERVER.url + path, data=body, headers=headers)
    SigV4Auth(Credentials(key, "testing"), service, REGION).add_auth(request)
    return dict(request.headers.items())


def raw_post(service: str, key: str, body: bytes, headers: dict, path: str = "/"):
    """POST a signed request; (status, lower-cased headers, body)."""
    req = urllib.request.Request(SERVER.url + path, data=body, method="POST",
                                 headers=signed_headers(service, key, body, headers, path))
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def ecs_json(key: str, operation: str, payload: dict | None = None,
             content_type: str = ECS_JSON):
    return raw_post("ecs", key, json.dumps(payload or {}).encode(),
                    {"X-Amz-Target": f"{ECS_TARGET}.{operation}", "Content-Type": content_type})


def socket_call(key: str, operation: str = "ListClusters", timeout: float = 10) -> tuple[str, float]:
    """A signed ECS call over a bare socket: ("reset" | "eof" | "answered", seconds)."""
    body = b"{}"
    headers = signed_headers("ecs", key, body, {"X-Amz-Target": f"{ECS_TARGET}.{operation}",
                                                "Content-Type": ECS_JSON})
    host = SERVER.url.split("//", 1)[1]
    head = [f"POST / HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    hostname, port = host.split(":")
    started = time.monotonic()
    with socket.create_connection((hostname, int(port)), timeout=timeout) as sock:
        sock.sendall(raw)
        try:
            data = sock.recv(65536)
        except ConnectionResetError as err:
            assert err.errno == errno.ECONNRESET, err
            return "reset", time.monotonic() - started
    return ("answered" if data else "eof"), time.monotonic() - started


def faulted(fn: Callable[[], object]) -> bool:
    try:
        fn()
    except ClientError:
        return True
    return False


def server_log() -> str:
    SERVER.log.flush()
    return (Path(SERVER.tmp.name) / "log").read_text(errors="replace")


@check("faults: throttle on awsJson (ECS): 400 ThrottlingException, JSON 1.1 and 1.0 bodies")
def _fault_throttle_json():
    key = new_key()
    set_faults(key, [{"service": "ecs", "operation": "ListClusters", "fault": "throttle"}])
    status, headers, body = ecs_json(key, "ListClusters")
    assert status == 400, (status, body)
    assert json.loads(body) == {"__type": "ThrottlingException", "message": "Rate exceeded"}, body
    assert headers["x-amzn-errortype"] == "ThrottlingException", headers
    assert headers["content-type"] == ECS_JSON, headers
    assert headers.get("x-amzn-requestid"), headers
    status, headers, _ = ecs_json(key, "ListClusters", content_type="application/x-amz-json-1.0")
    assert status == 400 and headers["content-type"] == "application/x-amz-json-1.0", headers
    ecs = keyed("ecs", key)
    expect_error("ThrottlingException", ecs.list_clusters)
    ecs.describe_clusters()  # another operation of the service
    keyed("elbv2", key).describe_target_groups()  # another service
    client("ecs").list_clusters()  # another key
    (rule,) = fault_report(key)
    assert rule == {"service": "ecs", "operation": "ListClusters", "fault": "throttle",
                    "matched": 3, "injected": 3}, rule
    status, calls = SERVER.http("GET", f"/_autopilot/calls?accessKey={key}")
    assert calls["calls"]["ecs.ListClusters"] == 3, calls  # faulted calls are still counted
    set_faults(key, [])
    ecs.list_clusters()
    assert fault_report(key) == []


@check("faults: throttle 429 TooManyRequestsException; code override")
def _fault_throttle_429():
    key = new_key()
    set_faults(key, [{"operation": "ListClusters", "fault": "throttle", "status": 429,
                      "code": "TooManyRequestsException"}])
    status, headers, body = ecs_json(key, "ListClusters")
    assert status == 429, status
    assert json.loads(body)["__type"] == "TooManyRequestsException", body
    assert headers["x-amzn-errortype"] == "TooManyRequestsException", headers
    expect_error("TooManyRequestsException", keyed("ecs", key).list_clusters, status=429)


@check("faults: throttle on awsQuery (ELBv2) and ec2Query; 500 InternalError on awsQuery")
def _fault_throttle_query():
    key = new_key()
    set_faults(key, [{"service": "elasticloadbalancing", "fault": "throttle", "count": 1},
                     {"service": "elasticloadbalancing", "fault": "error"},
                     {"service": "ec2", "fault": "throttle", "count": 1}])
    body = b"Action=DescribeTargetGroups&Version=2015-12-01"
    status, headers, payload = raw_post(
        "elasticloadbalancing", key, body,
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert status == 400, (status, payload)
    assert headers["content-type"].startswith("text/xml"), headers
    text = payload.decode()
    for part in ("<ErrorResponse>", "<Type>Sender</Type>", "<Code>Throttling</Code>",
                 "<Message>Rate exceeded</Message>", "<RequestId>"):
        assert part in text, text
    elb = keyed("elbv2", key)
    err = expect_error("InternalError", elb.describe_target_groups, status=500)
    assert err.response["Error"]["Type"] == "Receiver", err.response
    set_faults(key, [{"service": "elasticloadbalancing", "fault": "throttle"},
                     {"service": "ec2", "fault": "throttle", "count": 1}])
    expect_error("Throttling", elb.describe_target_groups)
    ec2 = keyed("ec2", key)
    expect_error("RequestLimitExceeded", ec2.describe_vpcs)
    assert ec2.describe_vpcs()["Vpcs"], "count 1: the second call passes"


@check("faults: throttle on Smithy RPC v2 CBOR (CloudWatch); botocore's CBOR parser reads it")
def _fault_throttle_cbor():
    key = new_key()
    set_faults(key, [{"service": "monitoring", "operation": "ListMetrics", "fault": "throttle"},
                     {"service": "monitoring", "operation": "DescribeAlarms", "fault": "error",
                      "status": 503}])
    resp = cbor_call("ListMetrics", {}, key=key)
    assert resp.status == 400, (resp.status, resp.body)
    assert resp.headers["smithy-protocol"] == "rpc-v2-cbor", resp.headers
    assert resp.headers["content-type"] == "application/cbor", resp.headers
    assert resp.headers["x-amzn-query-error"] == "ThrottlingException;Sender", resp.headers
    assert resp.data == {"__type": "ThrottlingException", "message": "Rate exceeded"}, resp.data
    parsed = resp.sdk_parse()
    assert parsed["Error"]["Code"] == "ThrottlingException", parsed
    resp = cbor_call("DescribeAlarms", {}, key=key)
    assert resp.status == 503 and resp.data["__type"] == "ServiceUnavailable", resp.data
    assert resp.headers["x-amzn-query-error"] == "ServiceUnavailable;Receiver", resp.headers
    assert cbor_call("ListMetrics", {}).status == 200, "another key is not faulted"


@check("faults: error 500 InternalFailure / 503 ServiceUnavailable; retried, then served")
def _fault_errors():
    key = new_key()
    set_faults(key, [{"operation": "ListClusters", "fault": "error", "count": 1},
                     {"operation": "ListClusters", "fault": "error", "status": 503, "count": 1}])
    status, headers, body = ecs_json(key, "ListClusters")
    assert status == 500, status
    assert json.loads(body) == {
        "__type": "InternalFailure",
        "message": "The request processing has failed because of an unknown error, "
                   "exception or failure."}, body
    expect_error("ServiceUnavailable", keyed("ecs", key).list_clusters, status=503)
    keyed("ecs", key).list_clusters()
    set_faults(key, [{"operation": "ListClusters", "fault": "error", "status": 503, "count": 2}])
    keyed("ecs", key, attempts=3).list_clusters()  # standard retries: 503, 503, 200
    (rule,) = fault_report(key)
    assert rule["matched"] == 3 and rule["injected"] == 2, rule


@check("faults: latency delays one key's calls, then serves them")
def _fault_latency():
    key = new_key()
    set_faults(key, [{"service": "ecs", "fault": "latency", "ms": 400}])
    started = time.monotonic()
    keyed("ecs", key).list_clusters()
    assert time.monotonic() - started >= 0.4, time.monotonic() - started
    started = time.monotonic()
    client("ecs").list_clusters()
    assert time.monotonic() - started < 0.4, "another key is not delayed"
    (rule,) = fault_report(key)
    assert rule["injected"] == 1, rule


@check("faults: reset answers with a TCP RST; boto3 sees a connection error; server unharmed")
def _fault_reset():
    key = new_key()
    set_faults(key, [{"operation": "ListClusters", "fault": "reset", "count": 2}])
    outcome, seconds = socket_call(key)
    assert outcome == "reset" and seconds < 2, (outcome, seconds)
    try:
        keyed("ecs", key).list_clusters()
        raise AssertionError("expected a connection error")
    except botocore.exceptions.ConnectionClosedError:
        pass  # "Connection was closed before we received a valid response"
    assert socket_call(key)[0] == "answered", "count 2: the third call is served"
    keyed("ecs", key).list_clusters()
    assert "Traceback" not in server_log() and "Error on request" not in server_log()


@check("faults: hang holds one request, serves the rest, released at once by clearing")
def _fault_hang():
    key = new_key()
    set_faults(key, [{"operation": "ListClusters", "fault": "hang"}])  # 300 s by default
    results: list = []
    hung = threading.Thread(target=lambda: results.append(socket_call(key, timeout=30)))
    hung.start()
    time.sleep(0.5)
    assert hung.is_alive() and not results, results
    keyed("ecs", key).describe_clusters()  # same key, another operation
    client("ecs").list_clusters()  # another key
    started = time.monotonic()
    set_faults(key, [])  # releases it
    hung.join(5)
    assert not hung.is_alive(), "not released"
    assert results[0][0] == "reset", results
    assert time.monotonic() - started < 2, time.monotonic() - started
    # Its own timeout ends a hang too; and POST /_autopilot/faults/reset releases.
    set_faults(key, [{"operation": "ListClusters", "fault": "hang", "seconds": 0.5}])
    outcome, seconds = socket_call(key)
    assert outcome == "reset" and 0.5 <= seconds < 3, (outcome, seconds)
    set_faults(key, [{"operation": "ListClusters", "fault": "hang", "seconds": 60}])
    results.clear()
    hung = threading.Thread(target=lambda: results.append(socket_call(key, timeout=30)))
    hung.start()
    time.sleep(0.3)
    assert SERVER.http("POST", "/_autopilot/faults/reset", {}) == (200, {"faults": {}})
    hung.join(5)
    assert results and results[0][0] == "reset", results
    assert SERVER.http("GET", "/_autopilot/faults") == (200, {"faults": {}})
    assert "Traceback" not in server_log()


@check("faults: after, count, fraction (4, 7, 10 of 10 at 0.3), seed; first deciding rule wins")
def _fault_selection():
    key = new_key()
    ecs = keyed("ecs", key)
    set_faults(key, [{"operation": "ListClusters", "fault": "throttle", "after": 2, "count": 2}])
    pattern = [faulted(ecs.list_clusters) for _ in range(6)]
    assert pattern == [False, False, True, True, False, False], pattern
    assert fault_report(key)[0]["matched"] == 6 and fault_report(key)[0]["injected"] == 2

    set_faults(key, [{"operation": "ListClusters", "fault": "throttle", "fraction": 0.3}])
    pattern = [faulted(ecs.list_clusters) for _ in range(10)]
    assert [i + 1 for i, hit in enumerate(pattern) if hit] == [4, 7, 10], pattern

    set_faults(key, [{"operation": "ListClusters", "fault": "throttle", "fraction": 0.5,
                      "after": 1}])
    pattern = [faulted(ecs.list_clusters) for _ in range(7)]
    assert [i + 1 for i, hit in enumerate(pattern) if hit] == [3, 5, 7], pattern

    rng = random.Random(42)
    expected = [rng.random() < 0.4 for _ in range(20)]
    for _ in range(2):  # the same seed gives the same pattern
        set_faults(key, [{"operation": "ListClusters", "fault": "throttle", "fraction": 0.4,
                          "seed": 42}])
        assert [faulted(ecs.list_clusters) for _ in range(20)] == expected

    set_faults(key, [{"operation": "ListClusters", "fault": "throttle", "count": 1},
                     {"fault": "error", "status": 503, "count": 1},
                     {"service": "ecs", "fault": "error"}])
    codes = []
    for _ in range(4):
        try:
            ecs.list_clusters()
            codes.append(None)
        except ClientError as err:
            codes.append(err.response["Error"]["Code"])
    assert codes == ["ThrottlingException", "ServiceUnavailable", "InternalFailure",
                     "InternalFailure"], codes
    report = [(r["matched"], r["injected"]) for r in fault_report(key)]
    assert report == [(4, 1), (4, 1), (4, 2)], report
    set_faults(key, [])


@check("faults: rules are per access key; '*' covers keys without rules of their own")
def _fault_isolation():
    one, two, three = new_key(), new_key(), new_key()
    set_faults(one, [{"service": "ecs", "operation": "ListClusters", "fault": "throttle"}])
    set_faults(two, [{"service": "ecs", "fault": "error", "status": 503}])
    expect_error("ThrottlingException", keyed("ecs", one).list_clusters)
    expect_error("ServiceUnavailable", keyed("ecs", two).list_clusters, status=503)
    keyed("ecs", three).list_clusters()
    try:
        set_faults("*", [{"service": "ecs", "operation": "DescribeClusters",
                          "fault": "throttle", "status": 429}])
        expect_error("ThrottlingException", keyed("ecs", three).describe_clusters, status=429)
        keyed("ecs", three).list_clusters()  # the "*" rule is DescribeClusters only
        keyed("ecs", one).describe_clusters()  # own rules, so "*" does not apply
        status, everything = SERVER.http("GET", "/_autopilot/faults")
        assert status == 200 and {one, two, "*"} <= set(everything["faults"]), everything
        assert everything["faults"]["*"][0]["injected"] == 1, everything
        set_faults(one, [])  # now "*" applies to it
        expect_error("ThrottlingException", keyed("ecs", one).describe_clusters, status=429)
    finally:
        set_faults("*", [])
        set_faults(two, [])
    keyed("ecs", three).describe_clusters()


@check("faults: the endpoint validates strictly and names the bad field")
def _fault_validation():
    def rejected(body: object, message: str) -> None:
        status, answer = SERVER.http("POST", "/_autopilot/faults", body)
        assert status == 400, (status, answer, body)
        assert answer["error"].startswith(message), (answer, message)

    key = new_key()

    def rule(**fields) -> dict:
        return {"accessKey": key, "rules": [{"fault": "throttle"}, fields]}

    rejected(rule(fault="throttle", fraction=0), "rules[1].fraction: must be in (0, 1]")
    rejected(rule(fault="throttle", fraction=1.5), "rules[1].fraction: must be in (0, 1]")
    rejected(rule(fault="throttle", fraction="half"), "rules[1].fraction:")
    rejected(rule(fault="explode"), "rules[1].fault: must be one of")
    rejected(rule(), "rules[1].fault:")
    rejected(rule(fault="throttle", colour="red"), "rules[1].colour: unknown field")
    rejected(rule(fault="throttle", status=500), "rules[1].status: must be 400 or 429")
    rejected(rule(fault="error", status=502), "rules[1].status: must be 500 or 503")
    rejected(rule(fault="error", status=True), "rules[1].status:")
    rejected(rule(fault="throttle", ms=5), "rules[1].ms: only for fault latency")
    rejected(rule(fault="latency"), "rules[1].ms: required for latency")
    rejected(rule(fault="latency", ms=-1), "rules[1].ms:")
    rejected(rule(fault="hang", seconds=0), "rules[1].seconds:")
    rejected(rule(fault="reset", code="X"), "rules[1].code: only for fault")
    rejected(rule(fault="throttle", code=""), "rules[1].code: must be a non-empty string")
    rejected(rule(fault="throttle", service=3), "rules[1].service:")
    rejected(rule(fault="throttle", count=0), "rules[1].count: must be an integer >= 1")
    rejected(rule(fault="throttle", count=True), "rules[1].count:")
    rejected(rule(fault="throttle", after=-1), "rules[1].after: must be an integer >= 0")
    rejected(rule(fault="throttle", seed=1.5), "rules[1].seed: must be an integer")
    rejected({"accessKey": key, "rules": ["throttle"]}, "rules[0]: must be an object")
    rejected({"rules": []}, "accessKey:")
    rejected({"accessKey": "", "rules": []}, "accessKey:")
    rejected({"accessKey": key}, "rules: must be a list")
    rejected({"accessKey": key, "rules": {}}, "rules: must be a list")
    rejected({"accessKey": key, "rules": [], "extra": 1}, "extra: unknown field")
    rejected([], "body: must be an object")
    assert fault_report(key) == [], "a rejected request changes nothing"
    assert SERVER.http("GET", "/_autopilot/faults/reset")[0] == 405
    status, answer = SERVER.http("POST", "/_autopilot/faults", {"accessKey": key, "rules": [
        {"fault": "latency", "ms": 0}, {"fault": "hang", "seconds": 1.5},
        {"fault": "reset", "service": "ecr", "operation": "GetAuthorizationToken", "seed": 3,
         "fraction": 0.25, "after": 1, "count": 2}]})
    assert status == 200, answer
    assert answer["rules"][2] == {"fault": "reset", "service": "ecr",
                                  "operation": "GetAuthorizationToken", "seed": 3,
                                  "fraction": 0.25, "after": 1, "count": 2,
                                  "matched": 0, "injected": 0}, answer
    set_faults(key, [])


def main() -> int:
    global SERVER
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    SERVER = Server()
    passed = failed = 0
    try:
        for name, fn in CHECKS:
            try:
                fn()
            except Exception:  # noqa: BLE001
                failed += 1
                print(f"FAIL {name}")
                traceback.print_exc(file=sys.stdout)
            else:
                passed += 1
                print(f"ok   {name}")
    finally:
        SERVER.stop()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
