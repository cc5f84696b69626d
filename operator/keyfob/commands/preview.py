"""`keyfob preview`: what keyfob would grant for a request, at its provider, without issuing anything; and the
same preview plus the scope diff for `keyfob approve`. Read-only: the provider object and its admin Secret are
read (to build the adapter exactly as the operator does) but no provider is called and no secret is printed."""

from __future__ import annotations

import argparse
import difflib
import json

from keyfob.kube import KubeCluster
from keyfob.lifecycle.fingerprint import scope_lines
from keyfob.lifecycle.ports import ProviderLookupError
from keyfob.lifecycle.preview import native_of, preview, render_text
from keyfob.lifecycle.request_view import InvalidRequest, RequestView, parse_request

from . import connection
from .reading import gather, request_body


def preview_text(kube: KubeCluster, view: RequestView, cluster_id: str | None = None) -> tuple[list[str], bool]:
    """(lines to print, would it be granted)."""
    try:
        inputs = gather(kube, view, cluster_id)
    except ProviderLookupError as err:
        return [f"request:     {view.namespace}/{view.name}", f"REFUSED:     {err.reason}: {err}"], False
    result = preview(inputs)
    lines = render_text(inputs, result)
    native = native_of(result)
    if native:
        lines += ["provider-native grant:", json.dumps(native, indent=2, sort_keys=True)]
    return lines, result.grantable


def scope_diff(view: RequestView) -> list[str]:
    """The scope asked for now against the last approved one (status.approval.scope) and what was issued."""
    now = scope_lines(view.spec)
    approval, status = view.status.approval, view.status
    lines: list[str] = []
    if status.grant:
        lines.append(f"issued now:  {status.grant}")
    if approval is None or not approval.scope:
        return [*lines, "approved before: nothing (first approval)", *(f"+{line}" for line in now)]
    head = f"last {approval.decision.value.lower()} by {approval.by} (scope {approval.scope_hash})"
    diff = list(difflib.unified_diff(approval.scope, now, lineterm="", n=99))[2:]
    return [*lines, head + (":" if diff else ": the same scope"), *(d for d in diff if not d.startswith("@@"))]


def cmd_preview(args: argparse.Namespace) -> int:
    if (args.file is None) == (args.name is None):
        raise SystemExit("keyfob preview: give either -f FILE or NAME")
    kube = KubeCluster(connection.api_client(args))
    try:
        view = parse_request(request_body(kube, args.file, args.name, args.namespace, connection.namespace(args)))
    except InvalidRequest as err:
        print(f"REFUSED:     InvalidSpec: {err}")
        return 2
    lines, grantable = preview_text(kube, view, args.cluster_id)
    print("\n".join(lines))
    return 0 if grantable else 1


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser("preview", help="show what a request would be granted at its provider, without issuing",
                         description="What keyfob would grant for a request (-f FILE, or NAME in the cluster) at its "
                         "provider, and every refusal, without issuing anything or printing a secret. A file's "
                         "namespace wins over the context's; -n wins over both. Exit 0: would be granted; 1: refused; "
                         "2: the spec does not parse.")
    cmd.add_argument("name", nargs="?", help="a request in the cluster (or use -f)")
    cmd.add_argument("-f", "--file", help="an AccessKeyRequest manifest (YAML; '-' for stdin)")
    connection.add_options(cmd)
    cmd.add_argument("--cluster-id", default=None, help="the operator's cluster id (default: KEYFOB_CLUSTER_ID)")
    cmd.set_defaults(func=cmd_preview)
