"""`keyfob revoke`: break-glass. Marks a request, every request of a namespace (the keyfob.dev/suspend
annotation) or a provider (spec.suspend), then waits until the operator shows each affected request Suspended
with no key left at any provider, and prints what was revoked. `--lift` removes the marks (keys are re-issued).
The mark names who (SelfSubjectReview) and why; the operator's events repeat it."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from keyfob.api.common import ObjectKind
from keyfob.api.vocabulary import GROUP, VERSION
from keyfob.kube import REQUESTS, KubeCluster, list_all_requests, whoami
from keyfob.lifecycle.conditions import READY, Reason
from keyfob.lifecycle.request_view import SUSPEND_ANNOTATION, parse_status, uses_provider
from keyfob.provider_access import PLURALS

from . import connection

GROUP_VERSION = (GROUP, VERSION)
KINDS = {kind.value.lower(): kind for kind in ObjectKind if kind in PLURALS}


def _provider(text: str) -> tuple[ObjectKind, str | None, str]:
    """'ClusterAccessKeyProvider/NAME' or 'AccessKeyProvider/NS/NAME'."""
    parts = text.split("/")
    kind = KINDS.get(parts[0].lower())
    if kind is ObjectKind.CLUSTER_ACCESS_KEY_PROVIDER and len(parts) == 2:
        return kind, None, parts[1]
    if kind is ObjectKind.ACCESS_KEY_PROVIDER and len(parts) == 3:
        return kind, parts[1], parts[2]
    raise SystemExit("--provider: ClusterAccessKeyProvider/NAME or AccessKeyProvider/NAMESPACE/NAME")


def _key(body: dict[str, Any]) -> tuple[str, str]:
    return body["metadata"]["namespace"], body["metadata"]["name"]


def _held(body: dict[str, Any]) -> list[str]:
    status = parse_status(body.get("status"))
    held = [status.access_key_id] if status.access_key_id else []
    held += [k.access_key_id or k.key_name for k in status.previous_keys]
    return held + ([status.pending.key_name] if status.pending else [])


def _settled(body: dict[str, Any], lift: bool) -> bool:
    status = parse_status(body.get("status"))
    ready = status.condition(READY)
    if lift:
        return ready is not None and ready.reason != Reason.SUSPENDED
    return ready is not None and ready.reason == Reason.SUSPENDED and not _held(body)


def _targets(kube: KubeCluster, args: argparse.Namespace) -> tuple[list[dict[str, Any]], Callable[[str], None]]:
    """The affected requests, and how to mark (or unmark, with None) them."""
    custom = kube.custom
    if args.provider:
        kind, namespace, name = _provider(args.provider)
        found = [b for b in (kube.list_requests(namespace) if namespace else list_all_requests(kube))
                 if uses_provider(b, kind, name, namespace) or _issued_by(b, kind, name)]

        def mark(value: str) -> None:
            body = {"spec": {"suspend": not args.lift, "suspendReason": "" if args.lift else value}}
            if namespace:
                custom.patch_namespaced_custom_object(*GROUP_VERSION, namespace, PLURALS[kind], name, body)
            else:
                custom.patch_cluster_custom_object(*GROUP_VERSION, PLURALS[kind], name, body)
        return found, mark
    if args.request:
        namespace, _, name = args.request.partition("/")
        one = kube.get_request(namespace, name)
        if one is None:
            raise SystemExit(f"accesskeyrequest {args.request} not found")
        found = [one]
    else:
        found = kube.list_requests(args.namespace)

    def annotate(value: str) -> None:
        patch = {"metadata": {"annotations": {SUSPEND_ANNOTATION: None if args.lift else value}}}
        for body in found:
            namespace, name = _key(body)
            custom.patch_namespaced_custom_object(*GROUP_VERSION, namespace, REQUESTS, name, patch)
    return found, annotate


def _issued_by(body: dict[str, Any], kind: ObjectKind, name: str) -> bool:
    ref = parse_status(body.get("status")).provider_ref
    return ref is not None and ref.kind is kind and ref.name == name


def cmd_revoke(args: argparse.Namespace) -> int:
    if not args.lift and not args.reason.strip():
        raise SystemExit("keyfob revoke: --reason is required (it is recorded with your username)")
    api_client = connection.api_client(args)
    kube = KubeCluster(api_client)
    found, mark = _targets(kube, args)
    before = {_key(b): _held(b) for b in found}
    who = whoami(api_client)
    mark(f"{who}: {' '.join(args.reason.split())}")
    print(f"{'lifted' if args.lift else 'suspended'} by {who}: {len(found)} request(s) in scope")
    waiting = set(before)
    deadline = time.monotonic() + args.timeout
    while waiting and time.monotonic() < deadline:
        for namespace, name in sorted(waiting):
            body = kube.get_request(namespace, name)
            if body is None or _settled(body, args.lift):
                waiting.discard((namespace, name))
                done = "gone" if body is None else ("re-admitted" if args.lift else "Suspended, no key held")
                revoked = "" if args.lift else f"; revoked: {', '.join(before[(namespace, name)]) or 'nothing held'}"
                print(f"accesskeyrequest {namespace}/{name}: {done}{revoked}")
        if waiting:
            time.sleep(1.0)
    for namespace, name in sorted(waiting):
        print(f"accesskeyrequest {namespace}/{name}: NOT settled within {args.timeout:g}s (see its events)")
    return 1 if waiting else 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser("revoke", help="break-glass: revoke every key in scope now and hold the requests")
    scope = cmd.add_mutually_exclusive_group(required=True)
    scope.add_argument("-n", "--namespace", help="every request of this namespace")
    scope.add_argument("--provider", help="ClusterAccessKeyProvider/NAME or AccessKeyProvider/NAMESPACE/NAME")
    scope.add_argument("--request", help="NAMESPACE/NAME")
    cmd.add_argument("--reason", default="", help="why (recorded with your username in the mark and events)")
    cmd.add_argument("--lift", action="store_true", help="remove the suspension; keys are issued again")
    cmd.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the operator")
    connection.add_cluster_options(cmd)
    cmd.set_defaults(func=cmd_revoke)
