"""keyfob as a child process for the bench: like the test bed's OperatorProcess, but at INFO (no flag; Kopf's
``--verbose`` is DEBUG for its own loggers, and a DEBUG log of 10,000 requests costs CPU that is not keyfob's),
production settings, and helpers that read the process's memory and CPU from /proc."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from keyfob_testbed.processes import ManagedProcess

_SCRUBBED = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "KUBECONFIG")
CLK_TCK = os.sysconf("SC_CLK_TCK")
RESUMED_LINE = b"Resumed: settled, nothing due"  # one per request found settled at start (keyfob.handlers.requests)
# Set by the CLI's --operator-env: added to every operator the bench starts (e.g. MALLOC_ARENA_MAX=2 for a variant).
EXTRA_ENV: dict[str, str] = {}


class BenchOperator:
    def __init__(
        self,
        kubeconfig: Path,
        log_path: Path,
        namespaces: tuple[str, ...],
        *,
        env: Mapping[str, str] | None = None,
        level: str = "info",
        tracemalloc: bool = False,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.namespaces = namespaces
        self.env = dict(env or {})
        self.level = level
        self.tracemalloc = tracemalloc
        self.process: ManagedProcess | None = None
        self.started_at = 0.0

    def start(self) -> BenchOperator:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        env.update({"KUBECONFIG": str(self.kubeconfig), "PYTHONUNBUFFERED": "1"})
        env.update(self.env)
        env.update(EXTRA_ENV)
        # The tracemalloc wrapper runs as a module of this package: the bench runs from the repository root.
        entry = ["-m", "bench.keyfob_bench.memtrace"] if self.tracemalloc else ["-m", "keyfob"]
        # Kopf's --verbose is DEBUG for its own loggers (every patch logged); the bench runs at INFO unless asked.
        argv = [sys.executable, *entry, "run", *([f"--{self.level}"] if self.level != "info" else [])]
        for namespace in self.namespaces:
            argv += ["--namespace", namespace]
        self.started_at = time.monotonic()
        self.process = ManagedProcess("keyfob", argv, self.log_path, env=env)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is not None:
            self.process.stop(timeout)

    def signal(self, sig: int = signal.SIGUSR2) -> None:
        assert self.process is not None
        self.process.signal(sig)

    # -- /proc ----------------------------------------------------------------------------------------------------
    def memory(self) -> dict[str, float]:
        """VmRSS and VmHWM (peak RSS) in MiB."""
        out: dict[str, float] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
        return out

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime

    def threads(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
        return 0

    # -- log ------------------------------------------------------------------------------------------------------
    def count_in_log(self, needle: bytes = RESUMED_LINE, since: int = 0) -> int:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(since)
                return log.read().count(needle)
        except FileNotFoundError:
            return 0

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# Settings the bench runs keyfob with: the production defaults (config.py), except that the latency runs push the
# first orphan sweep out of the measurement (the restart scenario keeps the default and counts the sweep).
PRODUCTION = {"KEYFOB_RESYNC_SECONDS": "3600", "KEYFOB_MAX_WORKERS": "20"}  # the chart's defaults
NO_EARLY_SWEEP = {**PRODUCTION, "KEYFOB_SWEEP_INITIAL_DELAY": "3600"}


def provider_ready(custom: object, namespace: str, name: str = "aws") -> bool:
    from keyfob.api.vocabulary import GROUP, VERSION

    try:
        obj = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "accesskeyproviders", name)  # type: ignore[attr-defined]
    except Exception:
        return False
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def start_and_wait(operator: BenchOperator, custom: object, namespaces: tuple[str, ...], timeout: float = 90) -> float:
    """Start the operator and wait until it has verified every namespace's provider (it is watching by then)."""
    operator.start()
    deadline = time.monotonic() + timeout
    while not all(provider_ready(custom, ns) for ns in namespaces):
        if not operator.alive():
            raise RuntimeError(f"keyfob exited:\n{operator.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"keyfob did not verify its providers in {timeout:g}s:\n{operator.log_tail()}")
        time.sleep(0.2)
    return time.monotonic() - operator.started_at
