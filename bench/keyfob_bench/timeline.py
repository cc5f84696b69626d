"""Where one issue's time goes, from the API server's audit log: per request, the moments of the calls that can be
attributed to it by name (its AccessKeyRequest and its Secret), and the median gap between consecutive ones.

keyfob's milestones: apply (bench create) -> Kopf adds the finalizer (first kopf patch) -> the handler's fresh
read (first GET of the request) -> the pending-record status patch (after the Secret, provider, admin Secret and
namespace reads) -> the Secret read just before writing it (the IAM issue happened in between) -> Secret create ->
the Ready status patch (end of that request) -> Kopf's diff-base annotation patch.
The floor's: apply -> Secret create (the IAM issue happened in between) -> Ready status patch.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from .stats import percentile


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _events(audit: Path, since: int, namespace: str) -> dict[str, list[tuple[float, float, str]]]:
    """name of the request -> [(received, completed, step)] in arrival order."""
    needle = f'"namespace":"{namespace}"'.encode()
    per: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    with open(audit, "rb") as log:
        log.seek(since)
        for line in log:
            if needle not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            ref = event.get("objectRef") or {}
            resource, name = ref.get("resource"), ref.get("name") or ""
            if resource == "secrets" and name.endswith("-s3"):
                owner = name[: -len("-s3")]
            elif resource == "accesskeyrequests":
                owner = name
            else:
                continue
            agent = str(event.get("userAgent", ""))
            who = "bench" if agent.startswith("keyfob-bench") else "kopf" if agent.startswith("kopf/") else "keyfob"
            step = f"{who} {event.get('verb')} {resource}{'/' + ref['subresource'] if ref.get('subresource') else ''}"
            per[owner].append((_ts(event["requestReceivedTimestamp"]), _ts(event["stageTimestamp"]), step))
    return per


KEYFOB_STEPS = [
    ("apply", "bench create accesskeyrequests", 1),
    ("Kopf adds the finalizer", "kopf patch accesskeyrequests", 1),
    ("handler starts (fresh GET)", "keyfob get accesskeyrequests", 1),
    ("pending patch (after 4 reads)", "keyfob patch accesskeyrequests/status", 1),
    ("Secret read (after the IAM issue)", "keyfob get secrets", 2),
    ("Secret create", "keyfob create secrets", 1),
    ("Ready patch done", "keyfob patch accesskeyrequests/status", 2),
]
FLOOR_STEPS = [
    ("apply", "bench create accesskeyrequests", 1),
    ("Secret create (after the IAM issue)", "bench create secrets", 1),
    ("Ready patch done", "bench patch accesskeyrequests/status", 1),
]


def breakdown(audit: Path, since: int, namespace: str, floor: bool = False) -> dict[str, Any]:
    """Median and p95 (ms) of each gap between milestones, over the requests where all milestones were found."""
    steps = FLOOR_STEPS if floor else KEYFOB_STEPS
    gaps: dict[str, list[float]] = defaultdict(list)
    complete = 0
    for calls in _events(audit, since, namespace).values():
        times: list[float] = []
        for label, step, nth in steps:
            matches = [c for c in calls if c[2] == step]
            if len(matches) < nth:
                break
            received, completed, _ = matches[nth - 1]
            times.append(completed if label == "Ready patch done" else received)
        if len(times) != len(steps):
            continue
        complete += 1
        for i in range(1, len(steps)):
            gaps[f"{steps[i - 1][0]} -> {steps[i][0]}"].append(1000 * (times[i] - times[i - 1]))
        gaps["total"].append(1000 * (times[-1] - times[0]))
    return {
        "requests": complete,
        "gaps_ms": {k: {"p50": round(percentile(v, 50), 1), "p95": round(percentile(v, 95), 1)}
                    for k, v in gaps.items()},
    }
