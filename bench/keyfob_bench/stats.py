"""Latency summaries: nearest-rank percentiles in milliseconds, throughput, and ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of ``values``; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(latencies_s: Sequence[float], wall_s: float, *, expected: int | None = None) -> dict[str, Any]:
    """p50/p95/p99/max in ms, the count, and throughput (completed per second of wall time)."""
    ms = [x * 1000 for x in latencies_s]
    return {
        "n": len(ms),
        "missing": (expected - len(ms)) if expected is not None else 0,
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else math.nan,
        "mean_ms": round(sum(ms) / len(ms), 1) if ms else math.nan,
        "wall_s": round(wall_s, 2),
        "throughput_per_s": round(len(ms) / wall_s, 2) if wall_s > 0 else math.nan,
    }


def ratio(a: float, b: float) -> float:
    if not b or math.isnan(a) or math.isnan(b):
        return math.nan
    return round(a / b, 2)


def ratios(keyfob: dict[str, Any], floor: dict[str, Any]) -> dict[str, float]:
    return {
        "p50": ratio(keyfob["p50_ms"], floor["p50_ms"]),
        "p95": ratio(keyfob["p95_ms"], floor["p95_ms"]),
        "p99": ratio(keyfob["p99_ms"], floor["p99_ms"]),
        "throughput": ratio(keyfob["throughput_per_s"], floor["throughput_per_s"]),
    }
