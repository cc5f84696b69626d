"""Run ``keyfob`` under tracemalloc, for the memory profile (``--profile`` of the memory scenario).

``python -m bench.keyfob_bench.memtrace run ...`` starts tracemalloc (frames from
KEYFOB_BENCH_TRACE_FRAMES, default 12), then hands over to keyfob's own CLI unchanged. On SIGUSR2 it writes, to
the file named by KEYFOB_BENCH_MEMTRACE_OUT, the top allocation sites grouped by file, by line and by traceback
(site inside keyfob/kopf/libraries), and the live object count per type from the garbage collector. Tracing
roughly doubles memory and slows the process: numbers from it explain where memory goes, they are not the RSS
figures reported by the memory scenario.
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


def dump(_signum: int, _frame: Any) -> None:
    out = os.environ.get("KEYFOB_BENCH_MEMTRACE_OUT", "memtrace.json")
    snapshot = tracemalloc.take_snapshot()
    snapshot = snapshot.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    traced, peak = tracemalloc.get_traced_memory()
    types = Counter(type(o).__name__ for o in gc.get_objects())
    report = {
        "traced_mib": round(traced / 2**20, 1),
        "traced_peak_mib": round(peak / 2**20, 1),
        "by_file": [
            {"file": s.traceback[0].filename.split("site-packages/")[-1], "size_mib": round(s.size / 2**20, 2),
             "count": s.count}
            for s in snapshot.statistics("filename")[:30]
        ],
        "by_line": [_site(s) for s in snapshot.statistics("lineno")[:40]],
        "by_traceback": [_site(s) for s in snapshot.statistics("traceback")[:25]],
        "gc_types": types.most_common(40),
    }
    with open(out, "w") as fh:
        json.dump(report, fh, indent=1)


def main() -> int:
    tracemalloc.start(int(os.environ.get("KEYFOB_BENCH_TRACE_FRAMES", "12")))
    signal.signal(signal.SIGUSR2, dump)
    from keyfob.cli import main as keyfob_main

    return keyfob_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
