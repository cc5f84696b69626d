"""The `keyfob` command: run the operator, write the CRDs, request a rotation or approve a request.

The local demo lives in the test bed (`keyfob-demo`), which the product never imports."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path


def cmd_run(args: argparse.Namespace) -> int:
    import threading

    import kopf

    from keyfob import config, elected, handlers, leadership, logsetup

    logsetup.configure(verbose=args.verbose, debug=args.debug, json=args.log_format == "json")
    settings = config.from_env()
    election = leadership.election_from_env()
    namespaces = list(args.namespace or settings.namespaces)

    def run_kopf(stop_flag: threading.Event | None = None) -> None:
        kopf.run(
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces,
            liveness_endpoint=args.liveness,
            stop_flag=stop_flag,
        )

    if not election.enabled:
        handlers.register(settings)
        run_kopf()
        return 0
    fence = leadership.Fence(election.renew_deadline)
    handlers.register(settings, fence)  # registering starts nothing: Kopf runs only once leading
    return elected.run_elected(election, fence, run_kopf, args.liveness)


def cmd_crds(args: argparse.Namespace) -> int:
    from keyfob.api import crd

    if args.write:
        for path in crd.write_all(Path(args.write)):
            print(path)
    else:
        print("---\n".join(crd.render_yaml(d) for d in crd.definitions()), end="")
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    from kubernetes import client

    from keyfob.api.vocabulary import GROUP, VERSION
    from keyfob.kube import load_api_client
    from keyfob.lifecycle.request_view import ROTATE_ANNOTATION

    token = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {"metadata": {"annotations": {ROTATE_ANNOTATION: token}}}
    api = client.CustomObjectsApi(load_api_client())
    api.patch_namespaced_custom_object(GROUP, VERSION, args.namespace, "accesskeyrequests", args.name, body)
    print(f"accesskeyrequest/{args.name} rotation requested ({ROTATE_ANNOTATION}={token})")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    """Approve (or deny) the scope the request asks for now: writes status.approval with the scope's hash and the
    caller's own username (the chart's admission policy refuses any other `by`, and callers without the
    `approve` verb on the provider)."""
    from kubernetes import client

    from keyfob.api.request_status import Approval, ApprovalDecision
    from keyfob.api.vocabulary import GROUP, VERSION
    from keyfob.commands.preview import preview_text, scope_diff
    from keyfob.kube import KubeCluster, load_api_client, whoami
    from keyfob.lifecycle.fingerprint import scope_hash, scope_lines
    from keyfob.lifecycle.request_view import parse_request

    api_client = load_api_client()
    api = client.CustomObjectsApi(api_client)
    obj = api.get_namespaced_custom_object(GROUP, VERSION, args.namespace, "accesskeyrequests", args.name)
    view = parse_request(obj)
    spec = view.spec
    scope = scope_hash(spec)
    decision = ApprovalDecision.DENIED if args.deny else ApprovalDecision.APPROVED
    approval = Approval(scope_hash=scope, provider_ref=spec.provider_ref, decision=decision, by=whoami(api_client),
                        reason=args.reason or "", time=datetime.now(UTC).replace(microsecond=0),
                        scope=scope_lines(spec))
    lines, _ = preview_text(KubeCluster(api_client), view)  # what the approver approves, at the provider
    print("\n".join([*lines, *scope_diff(view)]))
    body = {
        "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},  # never approve a newer spec blindly
        "status": {"approval": approval.wire()},
    }
    api.patch_namespaced_custom_object_status(GROUP, VERSION, args.namespace, "accesskeyrequests", args.name, body)
    print(f"accesskeyrequest/{args.name} scope {scope} {decision.value.lower()} by {approval.by}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="keyfob", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the operator (uses in-cluster config or KUBECONFIG)")
    run.add_argument("-n", "--namespace", action="append", help="watch only this namespace (repeatable)")
    run.add_argument("--verbose", action="store_true", help="INFO-level logs")
    run.add_argument("--debug", action="store_true", help="DEBUG-level logs (secrets are still never logged)")
    run.add_argument("--log-format", choices=["text", "json"], default="text")
    run.add_argument("--liveness", default=None, help="liveness endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.set_defaults(func=cmd_run)

    crds = sub.add_parser("crds", help="print the CRDs generated from the models, or --write them to a dir")
    crds.add_argument("--write", metavar="DIR")
    crds.set_defaults(func=cmd_crds)

    rotate = sub.add_parser("rotate", help="ask keyfob to rotate a request's key now")
    rotate.add_argument("name")
    rotate.add_argument("-n", "--namespace", default="default")
    rotate.set_defaults(func=cmd_rotate)

    approve = sub.add_parser("approve", help="approve (or --deny) a request whose provider requires approval")
    approve.add_argument("name")
    approve.add_argument("-n", "--namespace", default="default")
    approve.add_argument("--deny", action="store_true")
    approve.add_argument("--reason", default="")
    approve.set_defaults(func=cmd_approve)

    from keyfob.commands import preview, revoke

    preview.add_parser(sub)
    revoke.add_parser(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
