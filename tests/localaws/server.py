"""The local AWS: moto's server app, extended, on a loopback port.

    python server.py --host 127.0.0.1 --port 0 --port-file PATH

Binds (port 0: the OS picks a free port), writes the bound port to PATH once
the socket is listening (through a temporary file and a rename, so a reader
never sees a partial file), then serves until SIGTERM/SIGINT with one thread per
request. Only loopback hosts are accepted.

The app is the one ``moto.server.main`` builds
(``DomainDispatcherApplication(create_backend_app)`` with ``MotoRequestHandler``),
wrapped in ``middleware.AutopilotMiddleware``, after installing the extensions:

* ``counting.py``: per-(service, operation) call counts;
* ``faults.py``: fault injection (throttling, server errors, latency,
  connection resets, hangs) per access key and operation;
* ``cloudwatch_cbor.py``: CloudWatch over Smithy RPC v2 CBOR;
* ``cloudwatch_stats.py``: metric queries match dimensions in any order, and
  percentile statistics;
* ``codedeploy_ext.py``: CodeDeploy operations moto lacks;
* ``ecs_limits.py``: ECS request limits moto does not enforce;
* ``ecs_deployments.py``: ECS service revisions and service deployments
  (``DescribeServiceRevisions``, ``DescribeServiceDeployments``);
* ``ssm_calendar.py``: SSM Change Calendar documents (iCalendar, ``TEXT``) and
  ``GetCalendarState``, evaluated for real, on the harness clock;
* ``sts_trust.py``: ``AssumeRole`` held to the role's trust policy (external
  id included), and the test-only principals of each account.

moto itself already holds the Tagging API's ``GetResources`` to its documented
page sizes (``ResourcesPerPage`` 1 to 100, ``TagsPerPage`` 100 to 500) and
serves ECS services (resource type ``ecs:service``) with their tags.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from werkzeug.serving import make_server  # noqa: E402

from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

import cloudwatch_stats  # noqa: E402
import conformance  # noqa: E402
import codedeploy_ext  # noqa: E402
import ecs_deployments  # noqa: E402
import ecs_limits  # noqa: E402
import ssm_calendar  # noqa: E402
import sts_trust  # noqa: E402
from middleware import AutopilotMiddleware  # noqa: E402


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_app() -> AutopilotMiddleware:
    cloudwatch_stats.install()
    codedeploy_ext.install()
    ecs_limits.install()
    ecs_deployments.install()
    ssm_calendar.install()
    sts_trust.install()
    # moto answers GetResources itself; its answers are what tag discovery
    # reads, so they are held to the model's output shape like an extension's.
    conformance.extension("resourcegroupstaggingapi", "GetResources")
    moto_app = DomainDispatcherApplication(create_backend_app)
    moto_app.debug = True  # type: ignore[attr-defined]  # as moto.server.main does
    return AutopilotMiddleware(moto_app)


def write_port_file(path: Path, port: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{port}\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    args = parser.parse_args(argv)

    if not is_loopback(args.host):
        parser.error(f"refusing to bind {args.host!r}: only loopback addresses are allowed")

    server = make_server(
        args.host, args.port, build_app(), threaded=True, request_handler=MotoRequestHandler
    )
    port = server.server_port
    # moto builds some URLs (e.g. SQS queue URLs) from MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)

    def stop(signum, frame):  # noqa: ARG001
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    # The socket listens from make_server on; announce it.
    if args.port_file:
        write_port_file(args.port_file, port)
    print(f"localaws listening on http://{args.host}:{port}", flush=True)
    try:
        server.serve_forever()
    except SystemExit:
        pass
    finally:
        server.server_close()
        if args.port_file:
            try:
                if args.port_file.read_text().strip() == str(port):
                    args.port_file.unlink()
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
