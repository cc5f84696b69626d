"""Restart with N Ready requests held: stop the operator (SIGTERM), start a new one, and measure how long until
every request has been resumed (Kopf logs "Handler 'reconcile_request' succeeded" once per resumed request at
INFO) and which calls it made meanwhile: provider calls from moto's request recorder (reset just before the
start), API-server requests from the audit log (marked just before the start), by verb and resource. The
window goes on past the first timer tick (30 s) and the first orphan sweep (production default: 30 s after start),
until moto has been quiet for 10 s (at most 5 minutes), and both are reported: the resume, and everything."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import sampling as prof
from .bed import Bed
from .keyfob_process import PRODUCTION, RESUMED_LINE, BenchOperator
from .machine import CpuMeter

QUIET_S = 10.0
STOP_TIMEOUT_S = 90.0
WINDOW_CAP_S = 300.0


class LogCounter:
    """Counts a line in a growing log file without rereading it."""

    def __init__(self, path: Path, needle: bytes = RESUMED_LINE) -> None:
        self.path = path
        self.needle = needle
        self.offset = 0
        self.count = 0
        self._tail = b""

    def poll(self) -> int:
        try:
            with open(self.path, "rb") as log:
                log.seek(self.offset)
                data = log.read()
        except FileNotFoundError:
            return self.count
        self.offset += len(data)
        data = self._tail + data
        cut = data.rfind(b"\n") + 1
        self.count += data[:cut].count(self.needle)
        self._tail = data[cut:]
        return self.count


def _iam(bed: Bed) -> dict[str, Any]:
    actions = bed.moto.iam_actions()
    writes = bed.moto.iam_write_actions()
    return {"calls": len(actions), "writes": len(writes), "by_action": dict(Counter(actions)),
            "write_actions": dict(Counter(writes))}


def scenario_restart(bed: Bed, population: dict[str, Any], *, profile: bool = False, log: Any = print) -> dict:
    namespace, count = population["namespace"], population["count"]
    old: BenchOperator = population["operator"]
    t = time.monotonic()
    old.stop(timeout=STOP_TIMEOUT_S)  # SIGTERM, SIGKILL after the timeout
    stopped_in = time.monotonic() - t
    log(f"  old operator stopped in {stopped_in:.1f} s (SIGKILL after {STOP_TIMEOUT_S:g} s)")

    bed.moto.reset_counts()
    mark = bed.audit.mark()
    operator = BenchOperator(bed.cluster.kubeconfig, bed.run_dir / "keyfob-restart.log", (namespace,), env=PRODUCTION)
    counter = LogCounter(operator.log_path)
    profile_out = bed.run_dir / "profiles" / "restart.pyspy.txt"
    profile_out.parent.mkdir(exist_ok=True)
    operator.start()
    meter = CpuMeter(bed.pids(keyfob=operator.pid)).start()
    sampler = prof.sampling(operator.pid, profile_out) if profile and prof.available() else None
    if sampler is not None:
        sampler.__enter__()
    deadline = operator.started_at + 900
    resumed_at = None
    last_report = time.monotonic()
    try:
        while time.monotonic() < deadline and operator.alive():
            if counter.poll() >= count:
                resumed_at = time.monotonic()
                break
            if time.monotonic() - last_report > 30:
                log(f"    {counter.count}/{count} resumed")
                last_report = time.monotonic()
            time.sleep(0.25)
    finally:
        if sampler is not None:
            sampler.__exit__(None, None, None)
    resume_cpu = meter.stop()
    result: dict[str, Any] = {
        "held": count,
        "settings": PRODUCTION,
        "stop_s": round(stopped_in, 1),
        "stop_killed": stopped_in >= STOP_TIMEOUT_S,
        "resumed": counter.count,
        "all_resumed_s": round(resumed_at - operator.started_at, 1) if resumed_at else None,
        "memory_at_resumed_mib": operator.memory() if operator.alive() else None,
        "resume_cpu_s": resume_cpu,
        "during_resume": {"iam": _iam(bed), "api": bed.audit.counts(mark).summary("operator")},
    }
    log(f"  resumed {counter.count}/{count} in {result['all_resumed_s']} s; IAM writes "
        f"{result['during_resume']['iam']['writes']}, API writes {result['during_resume']['api']['writes']}")

    # Then the rest of the window: first timer ticks and the first orphan sweep.
    window_start = time.monotonic()
    last_calls, quiet_since = -1, time.monotonic()
    while time.monotonic() - window_start < WINDOW_CAP_S:
        calls = len(bed.moto.calls())
        if calls != last_calls:
            last_calls, quiet_since = calls, time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_S and time.monotonic() - operator.started_at > 45:
            break
        time.sleep(1.0)
    result["window_s"] = round(time.monotonic() - operator.started_at, 1)
    result["whole_window"] = {"iam": _iam(bed), "api": bed.audit.counts(mark).summary("operator")}
    result["memory_after_window_mib"] = operator.memory()
    log(f"  whole window {result['window_s']} s: IAM writes {result['whole_window']['iam']['writes']} "
        f"(calls {result['whole_window']['iam']['calls']}), API writes {result['whole_window']['api']['writes']}")
    if sampler is not None and profile_out.exists():
        result["profile"] = prof.summarize(profile_out)
    operator.stop()
    if profile:
        result["memory_profile"] = _memory_profile(bed, namespace, count, log)
    return result


def _memory_profile(bed: Bed, namespace: str, count: int, log: Any) -> dict[str, Any]:
    """A third operator, started through the memtrace wrapper, resumes the same N requests; after one timer tick,
    SIGUSR2 makes it write a census of its live objects (see memtrace.py)."""
    import json

    out = bed.run_dir / "profiles" / "memtrace.json"
    out.unlink(missing_ok=True)
    operator = BenchOperator(bed.cluster.kubeconfig, bed.run_dir / "keyfob-memtrace.log", (namespace,),
                             env={**PRODUCTION, "KEYFOB_BENCH_MEMTRACE_OUT": str(out)}, tracemalloc=True)
    counter = LogCounter(operator.log_path)
    operator.start()
    try:
        deadline = time.monotonic() + 900
        while counter.poll() < count and time.monotonic() < deadline and operator.alive():
            time.sleep(1)
        time.sleep(35)  # one tick of every timer
        rss = operator.memory()
        operator.signal(signal.SIGUSR2)
        for _ in range(180):
            if out.exists():
                break
            time.sleep(1)
        report = json.loads(out.read_text()) if out.exists() else {}
        report["resumed"] = counter.count
        report["rss_mib"] = rss
        census = report.get("census", {})
        log(f"  census: {census.get('gc_objects')} objects, {census.get('gc_shallow_mib')} MiB shallow, RSS {rss}")
        return report
    finally:
        operator.stop()
