"""Run keyfob itself as a child process (`python -m keyfob run`), the way a user's Deployment runs it: its own
process, talking to the API server and the provider over loopback, logging at DEBUG into a file tests scan."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from .processes import ManagedProcess

# The operator must not inherit provider credentials from the test process: it reads them from Secrets.
_SCRUBBED = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "KUBECONFIG")


class OperatorProcess:
    def __init__(
        self,
        kubeconfig: Path,
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        namespaces: tuple[str, ...] = (),
        log_format: str = "text",
    ) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.env = dict(env or {})
        self.namespaces = namespaces
        self.log_format = log_format
        self.process: ManagedProcess | None = None

    def start(self) -> OperatorProcess:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        env.update(
            {
                "KUBECONFIG": str(self.kubeconfig),
                "KEYFOB_PROVIDER_CHECK_SECONDS": "30",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.env)
        argv = [sys.executable, "-m", "keyfob", "run", "--debug", f"--log-format={self.log_format}"]
        for namespace in self.namespaces:
            argv += ["--namespace", namespace]
        self.process = ManagedProcess("keyfob", argv, self.log_path, env=env)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is not None:
            self.process.stop(timeout)

    def kill(self) -> None:
        """SIGKILL, as a crashed or OOM-killed pod would end."""
        if self.process is not None:
            self.process.signal(signal.SIGKILL)
            self.process.wait(10)

    def wait_exit(self, timeout: float) -> int | None:
        if self.process is None or not self.process.wait(timeout):
            return None
        return self.process.returncode

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> OperatorProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
