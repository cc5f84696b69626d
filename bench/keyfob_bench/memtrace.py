"""Run ``keyfob`` with a memory census on SIGUSR2, for the memory profile (``--profile``).

``python -m bench.keyfob_bench.memtrace run ...`` hands over to keyfob's own CLI unchanged. On SIGUSR2 it writes,
to the file named by KEYFOB_BENCH_MEMTRACE_OUT, the live objects the garbage collector tracks, counted and sized
(shallow ``sys.getsizeof``) per type, and the same for the objects reachable from Kopf's per-object state if it can
be found. With KEYFOB_BENCH_TRACE_FRAMES=N > 0 it also runs tracemalloc with N frames and adds the top allocation
sites by file, line and traceback. tracemalloc slows an operator resuming 10,000 requests to a crawl (about 50
resumed in two minutes on 2 cores), so the default is the census alone; tracing is for small populations.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import tracemalloc
from collections import Counter
from typing import Any


def _site(stat: tracemalloc.Statistic) -> dict[str, Any]:
    frames = [f"{f.filename.split('site-packages/')[-1].split('operator/')[-1]}:{f.lineno}" for f in stat.traceback]
    return {"size_mib": round(stat.size / 2**20, 2), "count": stat.count, "frames": frames}


def _census() -> dict[str, Any]:
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for obj in gc.get_objects():
        name = f"{type(obj).__module__}.{type(obj).__qualname__}"
        counts[name] += 1
        try:
            sizes[name] += sys.getsizeof(obj)
        except TypeError:
            continue
    return {
        "gc_objects": sum(counts.values()),
        "gc_shallow_mib": round(sum(sizes.values()) / 2**20, 1),
        "by_type_size": [(k, round(v / 2**20, 2), counts[k]) for k, v in sizes.most_common(40)],
    }


def dump(_signum: int, _frame: Any) -> None:
    out = os.environ.get("KEYFOB_BENCH_MEMTRACE_OUT", "memtrace.json")
    report: dict[str, Any] = {"census": _census()}
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        traced, peak = tracemalloc.get_traced_memory()
        report.update({
            "traced_mib": round(traced / 2**20, 1),
            "traced_peak_mib": round(peak / 2**20, 1),
            "by_file": [
                {"file": s.traceback[0].filename.split("site-packages/")[-1], "size_mib": round(s.size / 2**20, 2),
                 "count": s.count}
                for s in snapshot.statistics("filename")[:30]
            ],
            "by_line": [_site(s) for s in snapshot.statistics("lineno")[:40]],
            "by_traceback": [_site(s) for s in snapshot.statistics("traceback")[:25]],
        })
    with open(out + ".tmp", "w") as fh:
        json.dump(report, fh, indent=1)
    os.replace(out + ".tmp", out)


def main() -> int:
    frames = int(os.environ.get("KEYFOB_BENCH_TRACE_FRAMES", "0"))
    if frames > 0:
        tracemalloc.start(frames)
    signal.signal(signal.SIGUSR2, dump)
    from keyfob.cli import main as keyfob_main

    return keyfob_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
