"""The `keyfob` command: run the operator, write the CRDs, list requests (status), preview, approve, rotate or
break-glass revoke. Installed twice: as `keyfob` and as `kubectl-keyfob`, which kubectl runs as `kubectl keyfob ...`
(the same commands). The commands that talk to a cluster follow kubectl's conventions: --kubeconfig, KUBECONFIG,
--context, -n/--namespace (default: the context's namespace), -A/--all-namespaces where they list. kubectl passes
the arguments after `kubectl keyfob` unchanged and refuses flags before the plugin's name: `kubectl keyfob status
-A`, not `kubectl -A keyfob status`.

The local demo lives in the test bed (`keyfob-demo`), which the product never imports."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from keyfob.commands import connection

PLUGIN = "kubectl-keyfob"  # kubectl runs an executable of this name on PATH for `kubectl keyfob`


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
    from keyfob.lifecycle.request_view import ROTATE_ANNOTATION

    token = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {"metadata": {"annotations": {ROTATE_ANNOTATION: token}}}
    api = client.CustomObjectsApi(connection.api_client(args))
    namespace = connection.namespace(args)
    api.patch_namespaced_custom_object(GROUP, VERSION, namespace, "accesskeyrequests", args.name, body)
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
    from keyfob.kube import KubeCluster, whoami
    from keyfob.lifecycle.fingerprint import scope_hash, scope_lines
    from keyfob.lifecycle.request_view import parse_request

    api_client = connection.api_client(args)
    api = client.CustomObjectsApi(api_client)
    namespace = connection.namespace(args)
    obj = api.get_namespaced_custom_object(GROUP, VERSION, namespace, "accesskeyrequests", args.name)
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
    api.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, "accesskeyrequests", args.name, body)
    print(f"accesskeyrequest/{args.name} scope {scope} {decision.value.lower()} by {approval.by}")
    return 0


def parser(prog: str = "keyfob") -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    connection.add_cluster_options(top)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    rotate = sub.add_parser("rotate", help="ask keyfob to rotate a request's key now (keyfob.dev/rotate annotation)")
    rotate.add_argument("name")
    connection.add_options(rotate)
    rotate.set_defaults(func=cmd_rotate)

    approve = sub.add_parser("approve", help="approve (or --deny) a request whose provider requires approval")
    approve.add_argument("name")
    connection.add_options(approve)
    approve.add_argument("--deny", action="store_true", help="deny the scope instead")
    approve.add_argument("--reason", default="", help="why (recorded with your username in status.approval)")
    approve.set_defaults(func=cmd_approve)

    from keyfob.commands import preview, revoke, status

    status.add_parser(sub)
    preview.add_parser(sub)
    revoke.add_parser(sub)
    return top


def prog_name(argv0: str) -> str:
    """'kubectl keyfob' when run as the kubectl plugin (kubectl execs it by its path), else 'keyfob'."""
    return "kubectl keyfob" if Path(argv0).name.startswith(PLUGIN) else "keyfob"


def main(argv: list[str] | None = None) -> int:
    top = parser(prog_name(sys.argv[0]))
    args = top.parse_args(argv)
    if args.command in ("run", "crds") and {"kubeconfig", "context"} & set(vars(args)):
        top.error(f"--kubeconfig and --context are for the client commands; {args.command} "
                  + ("uses in-cluster config or KUBECONFIG" if args.command == "run" else "needs no cluster"))
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
