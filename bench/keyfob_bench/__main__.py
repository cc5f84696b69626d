"""``python -m bench.keyfob_bench --scenario all|floor|latency|memory|restart|wave [--n ...]``"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import machine

RESULTS = Path(__file__).resolve().parent.parent / "results"
SCENARIOS = ("floor", "latency", "memory", "restart", "wave")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.keyfob_bench", description=__doc__)
    p.add_argument("--scenario", choices=("all", *SCENARIOS), action="append",
                   help="repeatable; 'all' = every scenario (default)")
    p.add_argument("--n", type=int, action="append",
                   help="repeatable; latency/floor: the request counts (default 1 100 1000); memory/restart: "
                        "the largest count held (default 10000); wave: keys in the wave (default 1000)")
    p.add_argument("--concurrency", type=int, default=20, help="C of the closed loop and the floor (default 20)")
    p.add_argument("--rate", type=float, default=25.0, help="wave: provider rate limit, IAM requests/s (default 25)")
    p.add_argument("--profile", action="store_true", help="py-spy the operator in the largest latency burst, the "
                   "idle window with the most held and the restart; a census of its live objects after the restart")
    p.add_argument("--run-dir", type=Path, default=None, help="logs, audit log, profiles (default /tmp/...)")
    p.add_argument("--label", default="", help="suffix of the results file name")
    p.add_argument("--no-readme", action="store_true", help="do not rewrite the table in bench/README.md")
    p.add_argument("--operator-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for every keyfob the bench starts (a variant, e.g. MALLOC_ARENA_MAX=2)")
    p.add_argument("--source", default="HEAD",
                   help="git ref of the operator code to measure (default HEAD: exported with git archive, so "
                        "uncommitted edits in the shared working tree do not leak in); 'worktree' = as it is")
    return p.parse_args(argv)


REPO = Path(__file__).resolve().parent.parent.parent
SRC_ENV = "KEYFOB_BENCH_SOURCE"


def pin_source(ref: str, run_dir: Path, argv: list[str]) -> None:
    """Re-exec with PYTHONPATH at ``git archive <ref> operator``: the bench and every keyfob it starts then run the
    same committed code, whatever else is being edited in the working tree meanwhile."""
    if ref == "worktree" or os.environ.get(SRC_ENV):
        return
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", ref], capture_output=True, text=True,
                            check=True).stdout.strip()
    src = run_dir / "src"
    src.mkdir(exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "operator"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    env = {**os.environ, SRC_ENV: commit, "PYTHONPATH": os.pathsep.join(
        [str(src / "operator"), str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    argv = [sys.executable, "-m", "bench.keyfob_bench", *argv, "--run-dir", str(run_dir)]
    os.execve(sys.executable, argv, env)  # noqa: S606 - replaces this process with itself, no shell involved


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    args = parse(raw)
    scenarios = set(args.scenario or ["all"])
    if "all" in scenarios:
        scenarios = set(SCENARIOS)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix=f"keyfob-bench-{stamp}-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    pin_source(args.source, run_dir, raw)
    print(f"run dir: {run_dir}", flush=True)
    import keyfob

    source = {"ref": args.source, "commit": os.environ.get(SRC_ENV, "worktree"), "keyfob_from": keyfob.__file__}
    print(f"measuring keyfob from {source['keyfob_from']} ({source['commit']})", flush=True)

    from .bed import bed
    from .keyfob_process import EXTRA_ENV

    EXTRA_ENV.update(dict(item.split("=", 1) for item in args.operator_env))

    results: dict[str, Any] = {"started": stamp, "argv": raw, "run_dir": str(run_dir), "source": source,
                               "operator_env": dict(EXTRA_ENV)}
    out = RESULTS / f"{stamp}{'-' + args.label if args.label else ''}.json"
    RESULTS.mkdir(exist_ok=True)

    def save() -> None:
        out.write_text(json.dumps(results, indent=1, default=str) + "\n")

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    with bed(run_dir) as b:
        apiserver = next((Path(p.argv[0]) for p in b.cluster.processes if p.name == "kube-apiserver"), None)
        results["machine"] = machine.describe(apiserver)
        results["bed_timings"] = b.timings
        if "floor" in scenarios or "latency" in scenarios:
            from .load import scenario_latency

            sizes = sorted(set(args.n or [1, 100, 1000]))
            floor_only = "latency" not in scenarios
            log(f"{'floor' if floor_only else 'latency'}: N={sizes} C={args.concurrency}")
            results["latency"] = scenario_latency(b, sizes, args.concurrency, profile=args.profile, log=log,
                                                  floor_only=floor_only)
            results["latency"]["load_average_after"] = machine.load_average()
            save()
        if "memory" in scenarios or "restart" in scenarios:
            from .memory import scenario_memory

            largest = max(args.n) if args.n else 10000
            log(f"memory: held 1000 and {largest}")
            results["memory"], population = scenario_memory(b, largest, profile=args.profile, log=log)
            save()
            if "restart" in scenarios:
                from .restart import scenario_restart

                log(f"restart with {population['count']} Ready")
                results["restart"] = scenario_restart(b, population, profile=args.profile, log=log)
                save()
            else:
                population["operator"].stop()
        if "wave" in scenarios:
            from .wave import scenario_wave

            size = max(args.n) if args.n else 1000
            log(f"wave: {size} keys, provider limit {args.rate}/s")
            results["wave"] = scenario_wave(b, size, args.rate, log=log)
            save()
    results["finished"] = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    results["load_average_at_end"] = machine.load_average()
    save()
    log(f"results: {out}")
    if not args.no_readme:
        from .report import update_readme

        update_readme(results, out)
        log("bench/README.md updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
