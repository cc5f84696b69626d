"""A rotation wave against a provider rate limit: N Ready requests all told to rotate at once (the annotation
``keyfob.dev/rotate: <value>``, patched onto every request as fast as the API server takes it), with the IAM
endpoint of their provider behind the throttling proxy (R requests/s, 429 Throttling beyond).

Measured: how long until every request is Ready at revision 2, the floor for that (N x 4 IAM calls / R: the
issue calls alone, at exactly the limit), whether any request failed (a Ready=False condition, or not at
revision 2 in the end), how many calls the proxy refused, and keyfob's retries (Warning events ProviderError).
The previous keys' revocation comes after rotationGracePeriod (10 minutes by default) and is not in the wave.
"""

from __future__ import annotations

import http.client
import json
import queue
import sys
import threading
import time
from collections import Counter
from typing import Any

from keyfob.api.vocabulary import GROUP, VERSION
from keyfob_testbed.processes import ManagedProcess
from keyfob_testbed.waiting import wait_for

from .bed import REQUESTS, Bed
from .keyfob_process import NO_EARLY_SWEEP, BenchOperator, start_and_wait
from .load import burst, names_for
from .machine import CpuMeter
from .watch import ReadyWatch

NAMESPACE = "kb-wave"
ROTATE = "keyfob.dev/rotate"
IAM_CALLS_PER_ISSUE = 4


class Throttle:
    def __init__(self, bed: Bed, rate: float = 0.0) -> None:
        log = bed.run_dir / "throttle.log"
        self.process = ManagedProcess(
            "throttle",
            [sys.executable, "-m", "bench.keyfob_bench.throttle", "--upstream", bed.moto.endpoint, "--rate", str(rate)],
            log,
        )

        def port() -> int | None:
            text = log.read_text().strip() if log.exists() else ""
            return int(text.splitlines()[0]) if text and text.splitlines()[0].isdigit() else None

        self.port = wait_for(port, 30, 0.1, "the throttling proxy to listen")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def control(self, path: str) -> dict[str, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", f"/_throttle/{path}", body=b"")
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def stop(self) -> None:
        self.process.stop(5)


def _annotate_all(custom: Any, names: list[str], value: str, threads: int = 8) -> None:
    jobs: queue.Queue[str] = queue.Queue()
    for name in names:
        jobs.put(name)

    def worker() -> None:
        while True:
            try:
                name = jobs.get_nowait()
            except queue.Empty:
                return
            custom.patch_namespaced_custom_object(
                GROUP, VERSION, NAMESPACE, REQUESTS, name, {"metadata": {"annotations": {ROTATE: value}}}
            )

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def scenario_wave(bed: Bed, size: int, rate: float, *, log: Any = print) -> dict[str, Any]:
    throttle = Throttle(bed)
    operator: BenchOperator | None = None
    try:
        bed.namespace(NAMESPACE)
        bed.aws_provider(NAMESPACE, iam_endpoint=throttle.endpoint)
        core, custom = bed.clients("wave")
        operator = BenchOperator(bed.cluster.kubeconfig, bed.run_dir / "keyfob-wave.log", (NAMESPACE,),
                                 env=NO_EARLY_SWEEP)
        start_and_wait(operator, custom, (NAMESPACE,))
        names = names_for("w", size)
        first = burst(bed, NAMESPACE, names, max(600.0, size * 0.5))
        log(f"  {len(first.ready)} Ready at revision 1 (unthrottled) in {first.wall():.1f} s")

        throttle.control(f"rate?value={rate}")
        throttle.control("reset")
        bed.moto.reset_counts()
        mark = bed.audit.mark()
        floor_s = size * IAM_CALLS_PER_ISSUE / rate
        deadline = max(900.0, 6 * floor_s)
        _, watch_api = bed.clients("watch")
        meter = CpuMeter(bed.pids(keyfob=operator.pid)).start()
        with ReadyWatch(watch_api, NAMESPACE) as watch:
            t0 = time.monotonic()
            _annotate_all(custom, names, "wave-1")
            annotated_s = time.monotonic() - t0
            done = watch.wait_count(size, 2, deadline, progress=lambda n: log(f"    {n}/{size} at revision 2"),
                                    names=frozenset(names))
            ends = [watch.ready_at[(n, 2)] for n in names if (n, 2) in watch.ready_at]
            wave_s = (max(ends) - t0) if ends else float("nan")
            failures = dict(watch.failures)
        cpu = meter.stop()
        stats = throttle.control("rate?value=0")
        time.sleep(2)
        final = bed.list_requests(NAMESPACE)
        not_ok = [
            o["metadata"]["name"] for o in final
            if (o.get("status") or {}).get("revision") != 2 or (o.get("status") or {}).get("pending")
            or not any(c.get("type") == "Ready" and c.get("status") == "True"
                       for c in (o.get("status") or {}).get("conditions") or [])
        ]
        warnings = Counter(
            e.reason for e in core.list_namespaced_event(NAMESPACE, field_selector="type=Warning").items
        )
        iam = bed.moto.iam_actions()
        api = bed.audit.counts(mark).summary("operator")
        result = {
            "keys": size,
            "rate_limit_per_s": rate,
            "annotate_s": round(annotated_s, 1),
            "all_at_revision_2": done and not not_ok,
            "wave_s": round(wave_s, 1),
            "floor_s": round(floor_s, 1),
            "ratio_to_floor": round(wave_s / floor_s, 2) if floor_s else None,
            "requests_not_ready_at_revision_2": not_ok[:20],
            "not_ok_count": len(not_ok),
            "ready_false_seen": failures,
            "warning_events": dict(warnings),
            "proxy": stats,
            "iam_forwarded_by_action": dict(Counter(iam)),
            "iam_attempts_per_key": round((stats["forwarded"] + stats["throttled"]) / size, 2),
            "api": api,
            "api_per_key": {"writes": round(api["writes"] / size, 2), "reads": round(api["reads"] / size, 2)},
            "cpu_s": cpu,
            "operator_memory_mib": operator.memory(),
        }
        log(f"  wave of {size} at {rate}/s: {result['wave_s']} s (floor {result['floor_s']} s), "
            f"not ok {len(not_ok)}, throttled {stats['throttled']}, warnings {dict(warnings)}")
        return result
    finally:
        if operator is not None:
            operator.stop()
        throttle.stop()
