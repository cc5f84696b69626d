"""``python -m keyfob_testbed up [--with-moto]`` / ``build`` / ``demo`` (also the ``keyfob-demo`` command)."""

from __future__ import annotations

import argparse
import shlex
import shutil
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from . import binaries
from .envtest import start_cluster


def _log(message: str) -> None:
    print(f"keyfob_testbed: {message}", file=sys.stderr, flush=True)


def cmd_build(_args: argparse.Namespace) -> int:
    source = binaries.select_source()
    if source.kind == "existing":
        _log(f"{binaries.ENV_KUBECONFIG} is set ({source.path}): nothing to build")
        return 0
    bins = binaries.ensure_binaries(source)
    assert bins is not None
    _log(f"binaries ({bins.origin}): {bins.kube_apiserver.parent}")
    if bins.kube_controller_manager is None:
        _log("no kube-controller-manager: garbage collection and namespace deletion are off")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)

    cluster = start_cluster()
    peer = None
    try:
        exports = {"KUBECONFIG": str(cluster.kubeconfig)}
        if args.kubeconfig_out:
            out = Path(args.kubeconfig_out)
            shutil.copyfile(cluster.kubeconfig, out)
            out.chmod(0o600)
            exports["KUBECONFIG"] = str(out.resolve())
        timings = ", ".join(f"{k}={v:.2f}s" for k, v in cluster.timings.items())
        _log(f"cluster ({cluster.source}) at {cluster.server}" + (f" [{timings}]" if timings else ""))
        if args.with_moto:
            from .moto_peer import MotoPeer

            peer = MotoPeer()
            exports.update(peer.env())
            _log(f"moto at {peer.endpoint}, admin IAM user keyfob-admin, IAM auth enforced")
        for key, value in exports.items():
            print(f"export {key}={shlex.quote(value)}", flush=True)
        _log("running; Ctrl-C or SIGTERM stops everything")
        while not stop.wait(1.0):
            dead = [p for p in cluster.processes if not p.alive()]
            if dead:
                _log(f"{dead[0].name} exited unexpectedly:\n{dead[0].log_tail()}")
                return 1
        return 0
    finally:
        if peer is not None:
            peer.stop()
        cluster.stop()
        _log("stopped")


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(keep_running=args.keep_running)


def demo_main() -> int:
    """The `keyfob-demo` console script."""
    return main(["demo", *sys.argv[1:]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keyfob_testbed", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the test cluster (and moto) until Ctrl-C/SIGTERM")
    up.add_argument("--with-moto", action="store_true", help="also start the moto IAM/S3 peer")
    up.add_argument("--kubeconfig-out", metavar="PATH", help="also copy the admin kubeconfig to PATH")
    up.set_defaults(func=cmd_up)
    build = sub.add_parser("build", help="only make sure the control-plane binaries exist")
    build.set_defaults(func=cmd_build)
    demo = sub.add_parser("demo", help="local API server + moto + operator + a sample request, end to end")
    demo.add_argument("--keep-running", action="store_true", help="leave everything up until Ctrl-C")
    demo.set_defaults(func=cmd_demo)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
