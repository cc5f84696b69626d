"""`keyfob status` (`kubectl keyfob status`): every AccessKeyRequest of a namespace (or -A: all) as a table of
provider, scope, revision, readiness, expiry and next rotation, with the previous keys still in their grace period.
Reads AccessKeyRequests only: no Secret, no provider."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from keyfob.kube import KubeCluster, list_all_requests

from . import connection
from .status_table import render, row_of

OUTPUTS = ("wide", "json", "yaml")


def cmd_status(args: argparse.Namespace) -> int:
    kube = KubeCluster(connection.api_client(args))
    namespace = None if args.all_namespaces else connection.namespace(args)
    bodies = list_all_requests(kube) if namespace is None else kube.list_requests(namespace)
    if args.names:
        wanted = set(args.names)
        missing = sorted(wanted - {b["metadata"]["name"] for b in bodies})
        for name in missing:
            print(f'Error from server (NotFound): accesskeyrequests "{name}" not found', file=sys.stderr)
        bodies = [b for b in bodies if b["metadata"]["name"] in wanted]
        if not bodies:
            return 1
    bodies.sort(key=lambda b: (b["metadata"].get("namespace", ""), b["metadata"]["name"]))
    now = datetime.now(UTC)
    rows = [row_of(b, now) for b in bodies]
    if not rows and args.output not in ("json", "yaml"):
        where = f" in {namespace} namespace" if namespace else ""
        print(f"No accesskeyrequests found{where}.", file=sys.stderr)  # as kubectl says it
        return 0
    print(render(rows, now, args.output or "", namespaces=namespace is None))
    return 1 if args.names and len(rows) < len(set(args.names)) else 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(
        "status", help="list requests: provider, scope, revision, Ready, expiry, next rotation, keys in grace",
        description="Every AccessKeyRequest of the namespace (-A: of all), one row each: NAME, PROVIDER (kind/name), "
        "SCOPE (permissions on buckets/prefixes: the spec the current key was issued for, else status.grant), "
        "REVISION, READY, REASON, EXPIRES, NEXT ROTATION (status.renewalTime; 'requested' for an unanswered "
        "keyfob.dev/rotate, 'issuing rN' while a key is being issued, 'never (expiresAt)'); under it one line per "
        "previous key still valid in its grace period, with the time keyfob revokes it. -o wide adds the access "
        "key id, issue time, next due work, the provider's grant line and the Ready message, with absolute times. "
        "Reads AccessKeyRequests only (no Secret, no provider); nothing secret is shown.",
    )
    cmd.add_argument("names", nargs="*", metavar="NAME", help="only these requests")
    connection.add_options(cmd, all_namespaces=True)
    cmd.add_argument("-o", "--output", choices=OUTPUTS, default=None, help="wide, json or yaml (default: a table)")
    cmd.set_defaults(func=cmd_status)
