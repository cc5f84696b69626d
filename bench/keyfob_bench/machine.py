"""What the numbers were measured on: machine, load, versions."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("kopf", "kubernetes", "boto3", "botocore", "moto", "pydantic", "aiohttp", "py-spy")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return 0.0


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _version(binary: str, *args: str) -> str:
    try:
        out = subprocess.run([binary, *args], capture_output=True, text=True, timeout=20, check=False)
    except OSError:
        return "unknown"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "unknown"


def describe(kube_apiserver: Path | None = None) -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    if kube_apiserver is not None:
        versions["kube-apiserver"] = _version(str(kube_apiserver), "--version")
    versions["python"] = platform.python_version()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _mem_total_gib(),
        "kernel": platform.release(),
        "load_average_at_start": load_average(),
        "versions": versions,
    }


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds; NaN if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine (all processes, all cores) from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by each named process between :meth:`start` and :meth:`stop`, and by everything else on
    the machine (``others``: the engineers' test runs sharing it)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = dict(pids)
        self._start: dict[str, float] = {}
        self._t0 = 0.0
        self._machine0 = 0.0

    def start(self) -> CpuMeter:
        import time

        self._t0 = time.monotonic()
        self._machine0 = machine_cpu_seconds()
        self._start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def stop(self) -> dict[str, float]:
        import time

        wall = time.monotonic() - self._t0
        used = {name: round(cpu_seconds(pid) - self._start[name], 1) for name, pid in self.pids.items()}
        used["total"] = round(sum(v for v in used.values() if v == v), 1)
        machine = machine_cpu_seconds() - self._machine0
        used["others"] = round(max(0.0, machine - used["total"]), 1)
        used["wall_s"] = round(wall, 1)
        cores = os.cpu_count() or 1
        used["bench_busy_pct"] = round(100 * used["total"] / (wall * cores), 1) if wall else 0.0
        used["machine_busy_pct"] = round(100 * machine / (wall * cores), 1) if wall else 0.0
        return used
