"""The Python baseline of redeploy-on-push: the Lambda a team would write with boto3.

A faithful minimal equivalent of the Rust function for the benchmark, making
the same AWS calls in the same shape:

* ``ListClusters`` (100 a page) unless ``CLUSTERS`` names them, ``ListServices``
  (100 a page), ``DescribeServices`` 10 services a call with their tags;
* for the services tagged ``autopilot:redeploy``: ``DescribeTaskDefinition``
  once per task definition (with its tags), ``ListTaskDefinitions`` for each
  family's newest revision (and ``DescribeTaskDefinition`` of it when it is not
  the one running), ``DescribeImages`` of the pushed digest (and of the running
  digests);
* for each service to deploy: ``RegisterTaskDefinition`` (a copy of every
  registrable field and the tags, the matched containers pinned to the pushed
  digest; once per family) and ``UpdateService``.

Policies ``tag:`` and ``glob:`` are supported (``semver:`` is reported as
unsupported); only the ECS deployment controller is driven. Sequential, as
such functions usually are. Clients are created at init, as AWS recommends.
"""

import fnmatch
import os

import boto3

ecs = boto3.client("ecs")
ecr = boto3.client("ecr")

REDEPLOY_TAG = "autopilot:redeploy"
CONTAINERS_TAG = "autopilot:containers"
REGISTRABLE = [
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
]


def handler(event, context):
    if event.get("source") != "aws.ecr" or event.get("detail-type") != "ECR Image Action":
        return {"ignored": "not an ECR image action"}
    detail = event["detail"]
    if detail.get("action-type") != "PUSH" or detail.get("result") != "SUCCESS":
        return {"ignored": "only successful pushes are deployed"}
    account, region = event["account"], event["region"]
    repository = detail["repository-name"]
    tag = detail.get("image-tag")
    digest = detail["image-digest"]
    image = f"{account}.dkr.ecr.{region}.amazonaws.com/{repository}"

    services = [s for s in find_services() if tag_of(s, REDEPLOY_TAG) is not None]
    definitions = {}
    for service in services:
        arn = service["taskDefinition"]
        if arn not in definitions:
            definitions[arn] = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])

    candidates = []
    for service in services:
        described = definitions[service["taskDefinition"]]
        only = tag_of(service, CONTAINERS_TAG)
        only = [n.strip() for n in only.split(",")] if only else None
        updates = [
            c["name"]
            for c in described["taskDefinition"]["containerDefinitions"]
            if in_repository(c["image"], image) and (only is None or c["name"] in only)
        ]
        if updates:
            candidates.append((service, described, updates))
    if not candidates:
        return {"services": []}

    latest = {}
    for _, described, _ in candidates:
        family = described["taskDefinition"]["family"]
        if family not in latest:
            arns = ecs.list_task_definitions(familyPrefix=family, sort="DESC", maxResults=1)[
                "taskDefinitionArns"
            ]
            newest = None
            if arns and arns[0] != described["taskDefinition"]["taskDefinitionArn"]:
                newest = ecs.describe_task_definition(taskDefinition=arns[0])["taskDefinition"]
            latest[family] = newest

    running = {
        c["image"].split("@", 1)[1]
        for _, described, updates in candidates
        for c in described["taskDefinition"]["containerDefinitions"]
        if c["name"] in updates and "@" in c["image"]
    } - {digest}
    pushed_at = {}
    for ids in [[digest]] + chunks(sorted(running), 100):
        try:
            answer = ecr.describe_images(
                registryId=account,
                repositoryName=repository,
                imageIds=[{"imageDigest": d} for d in ids],
            )
        except ecr.exceptions.ImageNotFoundException:
            if ids == [digest]:
                raise
            continue
        for found in answer["imageDetails"]:
            pushed_at[found["imageDigest"]] = found.get("imagePushedAt")

    report = []
    registered = {}
    for service, described, updates in candidates:
        cluster = service["clusterArn"].rsplit("/", 1)[-1]
        entry = {"cluster": cluster, "service": service["serviceName"], "containers": updates}
        definition = described["taskDefinition"]
        policy = tag_of(service, REDEPLOY_TAG)
        images = {c["name"]: c["image"] for c in definition["containerDefinitions"]}
        if all(images[n].endswith("@" + digest) for n in updates):
            report.append({**entry, "outcome": "skipped", "reason": "already runs the digest"})
            continue
        if not admits(policy, tag):
            report.append({**entry, "outcome": "skipped", "reason": f"{policy} does not admit {tag}"})
            continue
        older = [
            d
            for d in (images[n].split("@", 1)[1] for n in updates if "@" in images[n])
            if d in pushed_at and pushed_at.get(digest) and pushed_at[d] > pushed_at[digest]
        ]
        if older:
            report.append({**entry, "outcome": "skipped", "reason": "an older push"})
            continue
        family = definition["family"]
        if family not in registered:
            desired = {k: definition[k] for k in REGISTRABLE if k in definition}
            desired["containerDefinitions"] = [
                {**c, "image": f"{image}@{digest}"} if c["name"] in updates else c
                for c in definition["containerDefinitions"]
            ]
            tags = [t for t in described.get("tags", []) if not t["key"].startswith("aws:")]
            if tags:
                desired["tags"] = tags
            registered[family] = ecs.register_task_definition(**desired)["taskDefinition"][
                "taskDefinitionArn"
            ]
        arn = registered[family]
        ecs.update_service(cluster=cluster, service=service["serviceName"], taskDefinition=arn)
        report.append({**entry, "outcome": "deployed", "taskDefinitionArn": arn})
    return {"repository": image, "tag": tag, "digest": digest, "services": report}


def find_services():
    """Every service of the clusters in scope, described with its tags."""
    clusters = [c.strip() for c in os.environ.get("CLUSTERS", "").split(",") if c.strip()]
    if not clusters:
        for page in ecs.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 100}):
            clusters.extend(page["clusterArns"])
    services = []
    for cluster in clusters:
        arns = []
        for page in ecs.get_paginator("list_services").paginate(
            cluster=cluster, PaginationConfig={"PageSize": 100}
        ):
            arns.extend(page["serviceArns"])
        # DescribeServices takes at most 10 services a call.
        for batch in chunks(arns, 10):
            services.extend(
                ecs.describe_services(cluster=cluster, services=batch, include=["TAGS"])["services"]
            )
    return services


def tag_of(service, key):
    return next((t.get("value", "") for t in service.get("tags", []) if t["key"] == key), None)


def in_repository(reference, image):
    name = reference.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return name == image


def admits(policy, tag):
    if tag is None:
        return False
    if policy.startswith("tag:"):
        return tag == policy[4:]
    if policy.startswith("glob:"):
        return fnmatch.fnmatchcase(tag, policy[5:])
    return False


def chunks(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)]
