"""The Python baseline of codedeploy-hook at AfterAllowTestTraffic: the Lambda a
team would write with boto3.

A faithful minimal equivalent of the Rust function with its default check for
this hook, making the same AWS calls: ``GetDeployment`` (application and
group), ``GetDeploymentGroup`` (the target group pair's listeners),
``DescribeListeners`` (port and protocol) and ``DescribeLoadBalancers`` (the
DNS name), then an HTTP GET of ``/health`` through the test listener expecting
200 (3 attempts, 2 s apart, 5 s each), and ``PutLifecycleEventHookExecutionStatus``
with the verdict, always.

``RESOLVE`` pins host names as the Rust function does (``host:port:address[:port]``,
comma-separated), so that the load balancer's name reaches the local app.
Clients are created at init, as AWS recommends.
"""

import http.client
import os
import time

import boto3

codedeploy = boto3.client("codedeploy")
elbv2 = boto3.client("elbv2")

HEALTH_PATH = os.environ.get("HEALTH_PATH", "/health")
PINS = {}
for entry in filter(None, (e.strip() for e in os.environ.get("RESOLVE", "").split(","))):
    host, port, address, *connect = entry.split(":")
    PINS[(host.lower(), int(port))] = (address, int(connect[0]) if connect else int(port))


def handler(event, context):
    deployment_id = event["DeploymentId"]
    execution_id = event["LifecycleEventHookExecutionId"]
    try:
        passed, evidence = check(deployment_id)
    except Exception as error:  # the hook must report whatever happens
        passed, evidence = False, f"check failed: {error}"
    status = "Succeeded" if passed else "Failed"
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status=status
    )
    return {"deploymentId": deployment_id, "status": status, "evidence": evidence}


def check(deployment_id):
    info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    group = codedeploy.get_deployment_group(
        applicationName=info["applicationName"],
        deploymentGroupName=info["deploymentGroupName"],
    )["deploymentGroupInfo"]
    pair = group["loadBalancerInfo"]["targetGroupPairInfoList"][0]
    arns = pair["prodTrafficRoute"]["listenerArns"] + pair["testTrafficRoute"]["listenerArns"]
    listeners = elbv2.describe_listeners(ListenerArns=arns)["Listeners"]
    balancers = elbv2.describe_load_balancers(
        LoadBalancerArns=sorted({l["LoadBalancerArn"] for l in listeners})
    )["LoadBalancers"]
    dns = {b["LoadBalancerArn"]: b["DNSName"] for b in balancers}
    test = next(l for l in listeners if l["ListenerArn"] in pair["testTrafficRoute"]["listenerArns"])
    host, port = dns[test["LoadBalancerArn"]], test["Port"]
    evidence = ""
    for attempt in range(3):
        if attempt:
            time.sleep(2)
        try:
            status = get(host, port, test["Protocol"] == "HTTPS")
        except OSError as error:
            evidence = f"GET http://{host}:{port}{HEALTH_PATH}: {error}"
            continue
        evidence = f"GET http://{host}:{port}{HEALTH_PATH}: {status}"
        if status == 200:
            return True, evidence
    return False, evidence


def get(host, port, tls):
    address, connect_port = PINS.get((host.lower(), port), (host, port))
    kind = http.client.HTTPSConnection if tls else http.client.HTTPConnection
    connection = kind(address, connect_port, timeout=5)
    try:
        connection.request("GET", HEALTH_PATH, headers={"Host": f"{host}:{port}"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()
