"""Memory: the operator's RSS (VmRSS, and VmHWM = peak) with nothing, 1,000 and N (10,000) Ready requests held,
and its CPU while it merely holds them (with the in-process schedule nothing runs for a held request but its
resync, once per KEYFOB_RESYNC_SECONDS; before it, a Kopf timer per request ticked every 30 s)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from . import sampling as prof
from .bed import Bed
from .keyfob_process import NO_EARLY_SWEEP, BenchOperator, start_and_wait
from .load import burst, names_for
from .machine import CpuMeter
from .stats import summarize

NAMESPACE = "kb-mem"
IDLE_WINDOW_S = 60.0  # unchanged since the per-request timers (two of their 30 s ticks), so runs compare


def _held(operator: BenchOperator, bed: Bed, count: int, log: Any, profile: Path | None = None) -> dict[str, Any]:
    """Settle (35 s: the last watch events and workers wind down), then RSS and the CPU of an idle window."""
    time.sleep(35)
    meter = CpuMeter(bed.pids(keyfob=operator.pid)).start()
    with prof.sampling(operator.pid, profile) if profile is not None else contextlib.nullcontext():
        time.sleep(IDLE_WINDOW_S)
    cpu = meter.stop()
    memory = operator.memory()
    held = {"held": count, **memory, "threads": operator.threads(),
            "idle_cpu_pct_of_one_core": round(100 * cpu["keyfob"] / cpu["wall_s"], 1), "idle_window_cpu_s": cpu}
    log(f"  held {count}: RSS {memory['VmRSS']} MiB, peak {memory['VmHWM']} MiB, idle CPU "
        f"{held['idle_cpu_pct_of_one_core']}% of a core")
    if profile is not None and profile.exists():
        held["idle_profile"] = prof.summarize(profile)
    return held


def scenario_memory(bed: Bed, largest: int, *, profile: bool = False, log: Any = print) -> tuple[dict, dict]:
    bed.namespace(NAMESPACE)
    bed.aws_provider(NAMESPACE)
    _, custom = bed.clients("observer")
    # The orphan sweep (every 10 minutes, it lists every IAM user and its keys) is pushed out here so that the idle
    # CPU is the cost of holding requests; the restart scenario runs with the default and counts the sweep.
    env = {**NO_EARLY_SWEEP, "KEYFOB_SWEEP_SECONDS": "3600"}
    operator = BenchOperator(bed.cluster.kubeconfig, bed.run_dir / "keyfob-mem.log", (NAMESPACE,), env=env)
    start_and_wait(operator, custom, (NAMESPACE,))
    time.sleep(2)
    result: dict[str, Any] = {"settings": env, "points": [], "issue_runs": []}
    result["points"].append({"held": 0, **operator.memory(), "threads": operator.threads()})
    log(f"  held 0: {result['points'][0]}")
    steps = [n for n in (1000, largest) if n <= largest]
    have = 0
    for target in sorted(set(steps)):
        names = names_for("m", target)[have:]
        deadline = max(600.0, len(names) * 0.5)
        meter = CpuMeter(bed.pids(keyfob=operator.pid)).start()
        run = burst(bed, NAMESPACE, names, deadline, progress=lambda n, t=target, h=have: log(f"    {n + h}/{t} Ready"))
        cpu = meter.stop()
        have += len(run.ready)
        issue = {"from": target - len(names), "to": target, **summarize(run.from_submit(), run.wall()),
                 "errors": run.errors[:5], "cpu_s": cpu}
        result["issue_runs"].append(issue)
        log(f"  issued {len(run.ready)} more in {issue['wall_s']} s ({issue['throughput_per_s']}/s)")
        if run.errors:
            log(f"  errors: {run.errors[:3]}")
        idle_profile = None
        if profile and target == largest and prof.available():
            (bed.run_dir / "profiles").mkdir(exist_ok=True)
            idle_profile = bed.run_dir / "profiles" / f"idle-{target}.pyspy.txt"
        result["points"].append(_held(operator, bed, have, log, idle_profile))
    population = {"namespace": NAMESPACE, "count": have, "operator": operator}
    return result, population
