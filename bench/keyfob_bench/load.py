"""keyfob under load: apply requests as a user would and time each one from its apply to the watch event that
shows it Ready (revision 1).

Two shapes, each run against the floor in the same bed:
- closed loop at concurrency C: C users each apply one request, wait for Ready, apply the next. Latency is a
  request's own apply -> Ready; nothing queues beyond C in flight.
- burst: N requests applied at once (8 threads, as fast as the API server takes them); latency is from the burst's
  start to each Ready, queueing included, the way someone who ran ``kubectl apply -f`` on N objects sees it.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keyfob.api.vocabulary import GROUP, VERSION

from .bed import REQUESTS, Bed, request_body, request_spec
from .machine import CpuMeter
from .stats import ratios, summarize
from .timeline import breakdown
from .watch import ReadyWatch

APPLIERS = 8


@dataclass
class LoadRun:
    t0: float
    applied: dict[str, float] = field(default_factory=dict)  # name -> monotonic time its create was sent
    ready: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    applied_in_s: float = 0.0

    def own_latencies(self) -> list[float]:
        return [self.ready[n] - self.applied[n] for n in self.ready if n in self.applied]

    def from_submit(self) -> list[float]:
        return [t - self.t0 for t in self.ready.values()]

    def wall(self) -> float:
        return (max(self.ready.values()) - self.t0) if self.ready else 0.0


def names_for(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i:05d}" for i in range(n)]


class Applier:
    def __init__(self, bed: Bed, namespace: str, **spec_overrides: object) -> None:
        _, self.custom = bed.clients("apply")
        self.namespace = namespace
        self.spec_overrides = spec_overrides

    def apply(self, name: str) -> None:
        body = request_body(name, request_spec(name, **self.spec_overrides))
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, REQUESTS, body)

    def apply_many(self, names: list[str], run: LoadRun, threads: int = APPLIERS) -> None:
        jobs: queue.Queue[str] = queue.Queue()
        for name in names:
            jobs.put(name)
        lock = threading.Lock()

        def worker() -> None:
            while True:
                try:
                    name = jobs.get_nowait()
                except queue.Empty:
                    return
                sent = time.monotonic()
                try:
                    self.apply(name)
                except Exception as err:
                    with lock:
                        run.errors.append(f"apply {name}: {type(err).__name__}: {str(err)[:200]}")
                    continue
                with lock:
                    run.applied[name] = sent

        workers = [threading.Thread(target=worker, name=f"apply-{i}") for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()


def closed_loop(bed: Bed, namespace: str, names: list[str], concurrency: int, timeout_s: float) -> LoadRun:
    """C users, each: apply, wait for Ready, next."""
    _, custom = bed.clients("watch")
    applier = Applier(bed, namespace)
    jobs: queue.Queue[str] = queue.Queue()
    for name in names:
        jobs.put(name)
    run = LoadRun(t0=time.monotonic())
    deadline = run.t0 + timeout_s
    lock = threading.Lock()
    with ReadyWatch(custom, namespace) as watch:

        def user() -> None:
            while True:
                try:
                    name = jobs.get_nowait()
                except queue.Empty:
                    return
                sent = time.monotonic()
                try:
                    applier.apply(name)
                except Exception as err:
                    with lock:
                        run.errors.append(f"apply {name}: {type(err).__name__}: {str(err)[:200]}")
                    continue
                at = watch.wait_ready(name, 1, max(0.0, deadline - time.monotonic()))
                with lock:
                    run.applied[name] = sent
                    if at is None:
                        run.errors.append(f"{name}: not Ready in time")
                    else:
                        run.ready[name] = at

        users = [threading.Thread(target=user, name=f"user-{i}") for i in range(concurrency)]
        for u in users:
            u.start()
        for u in users:
            u.join()
        if watch.error is not None:
            run.errors.append(f"watch: {watch.error!r}")
    return run


def burst(bed: Bed, namespace: str, names: list[str], timeout_s: float, progress: object = None) -> LoadRun:
    """Apply all names at once, then wait until every one is Ready."""
    _, custom = bed.clients("watch")
    applier = Applier(bed, namespace)
    with ReadyWatch(custom, namespace) as watch:
        run = LoadRun(t0=time.monotonic())
        applier.apply_many(names, run)
        run.applied_in_s = time.monotonic() - run.t0
        watch.wait_count(len(run.applied), 1, timeout_s, progress, names=frozenset(run.applied))
        for name in names:
            at = watch.ready_at.get((name, 1))
            if at is not None:
                run.ready[name] = at
        missing = len(names) - len(run.ready)
        if missing:
            run.errors.append(f"{missing} not Ready within {timeout_s:g}s; failures seen: {dict(watch.failures)}")
        if watch.error is not None:
            run.errors.append(f"watch: {watch.error!r}")
    return run


# ---- the latency scenario ------------------------------------------------------------------------------------------

_issuer: Any = None


def floor_issuer(bed: Bed) -> Any:
    """One floor issuer per bed, warmed up (client construction, first connections) outside any measurement."""
    global _issuer
    from .floor import FloorIssuer

    if _issuer is None or _issuer.bed is not bed:
        _issuer = FloorIssuer(bed)
        bed.namespace("fl-warmup")
        _issuer.run("fl-warmup", names_for("w", 3), 1, 60)
    return _issuer


def _floor_result(bed: Bed, namespace: str, n: int, concurrency: int, shape: str, deadline_s: float) -> dict:
    issuer = floor_issuer(bed)
    bed.namespace(namespace)
    bed.moto.reset_counts()
    mark = bed.audit.mark()
    meter = CpuMeter(bed.pids()).start()
    run = issuer.run(namespace, names_for("f", n), concurrency, deadline_s)
    cpu = meter.stop()
    latencies = run.op_latencies() if shape == "closed" else run.from_submit()
    iam = bed.moto.iam_actions()
    counts = bed.audit.counts(mark).summary("keyfob-bench/floor")
    return {
        "who": "floor", "shape": shape, "n": n, "concurrency": concurrency,
        "timeline": breakdown(bed.audit.path, mark, namespace, floor=True),
        **summarize(latencies, run.wall(), expected=n),
        "errors": run.errors[:10],
        "cpu_s": cpu,
        "per_key": {"iam": round(len(iam) / max(1, len(run.ends)), 2),
                    "api_writes": round(counts["writes"] / max(1, len(run.ends)), 2),
                    "api_reads": round(counts["reads"] / max(1, len(run.ends)), 2)},
    }


def _keyfob_result(
    bed: Bed, namespace: str, n: int, concurrency: int, shape: str, deadline_s: float, profile_dir: Path | None
) -> dict:
    from . import sampling as prof
    from .keyfob_process import NO_EARLY_SWEEP, BenchOperator, start_and_wait

    bed.namespace(namespace)
    bed.aws_provider(namespace)
    _, custom = bed.clients("observer")
    operator = BenchOperator(bed.cluster.kubeconfig, bed.run_dir / f"keyfob-{namespace}.log", (namespace,),
                             env=NO_EARLY_SWEEP)
    start_s = start_and_wait(operator, custom, (namespace,))
    try:
        time.sleep(1.0)  # let the provider's own writes land before counting starts
        bed.moto.reset_counts()
        mark = bed.audit.mark()
        meter = CpuMeter(bed.pids(keyfob=operator.pid)).start()
        sampler = (prof.sampling(operator.pid, profile_dir / f"{namespace}.pyspy.txt")
                   if profile_dir is not None and prof.available() else contextlib.nullcontext())
        with sampler:
            if shape == "closed":
                run = closed_loop(bed, namespace, names_for("k", n), concurrency, deadline_s)
                latencies = run.own_latencies()
            else:
                run = burst(bed, namespace, names_for("k", n), deadline_s)
                latencies = run.from_submit()
        cpu = meter.stop()
        stages = {"run_s": round(time.monotonic() - run.t0, 1)}
        time.sleep(3.0)  # trailing bookkeeping (Kopf's annotation patches after the handler) belongs to the issue
        iam = bed.moto.iam_actions()
        counts = bed.audit.counts(mark).summary("operator")
        memory = operator.memory()
        stages["counted_s"] = round(time.monotonic() - run.t0, 1)
    finally:
        operator.stop()
    stages["stopped_s"] = round(time.monotonic() - run.t0, 1)
    done = max(1, len(run.ready))
    result = {
        "who": "keyfob", "shape": shape, "n": n, "concurrency": concurrency,
        **summarize(latencies, run.wall(), expected=n),
        "errors": run.errors[:10],
        "operator_start_s": round(start_s, 2),
        "stages": stages,
        "cpu_s": cpu,
        "operator_memory_mib": memory,
        "applied_in_s": round(run.applied_in_s, 2),
        "per_key": {"iam": round(len(iam) / done, 2), "api_writes": round(counts["writes"] / done, 2),
                    "api_reads": round(counts["reads"] / done, 2)},
        "iam_actions": dict(Counter(iam)),
        "api_calls": counts,
    }
    result["timeline"] = breakdown(bed.audit.path, mark, namespace)
    if shape == "burst":
        own = run.own_latencies()
        result["own_apply_to_ready"] = summarize(own, run.wall())
    if profile_dir is not None and (profile_dir / f"{namespace}.pyspy.txt").exists():
        result["profile"] = prof.summarize(profile_dir / f"{namespace}.pyspy.txt")
    return result


def plan_for(n: int, concurrency: int) -> list[tuple[str, int]]:
    if n == 1:
        return [("closed", 1)]
    if n <= 100:
        return [("closed", 1), ("closed", concurrency), ("burst", concurrency)]
    return [("closed", concurrency), ("burst", concurrency)]


def scenario_latency(
    bed: Bed, sizes: list[int], concurrency: int, *, profile: bool = False, log: Any = print, floor_only: bool = False
) -> dict:
    """For each N and shape: the floor, then keyfob, in fresh namespaces of the same bed; ratios side by side."""
    runs: list[dict] = []
    pairs: list[dict] = []
    profile_dir = bed.run_dir / "profiles" if profile else None
    if profile_dir is not None:
        profile_dir.mkdir(exist_ok=True)
    for n in sizes:
        deadline = max(180.0, n * 1.5)
        seq = None
        if n > 100:  # the sequential floor, as a throughput reference
            seq = _floor_result(bed, f"fl-closed1-{n}", n, 1, "closed", deadline)
            runs.append(seq)
            log(f"  floor sequential N={n}: {seq['throughput_per_s']}/s p50 {seq['p50_ms']} ms")
        for shape, c in plan_for(n, concurrency):
            floor = _floor_result(bed, f"fl-{shape}{c}-{n}", n, c, shape, deadline)
            log(f"  floor  {shape:6} N={n} C={c}: p50 {floor['p50_ms']} p99 {floor['p99_ms']} ms, "
                f"{floor['throughput_per_s']}/s")
            if floor_only:
                runs.append(floor)
                continue
            wants_profile = profile_dir if (profile and n == max(sizes) and shape == "burst") else None
            keyfob = _keyfob_result(bed, f"kb-{shape}{c}-{n}", n, c, shape, deadline, wants_profile)
            log(f"  keyfob {shape:6} N={n} C={c}: p50 {keyfob['p50_ms']} p99 {keyfob['p99_ms']} ms, "
                f"{keyfob['throughput_per_s']}/s, errors {keyfob['errors'][:2]}")
            runs += [floor, keyfob]
            pairs.append({"n": n, "shape": shape, "concurrency": c, "floor": floor, "keyfob": keyfob,
                          "ratio": ratios(keyfob, floor)})
    return {"pairs": pairs, "runs": runs}
