"""Child processes that never outlive the test run.

Every child gets its own session (``start_new_session``) so it can be signalled as a group, and
``PR_SET_PDEATHSIG`` so the kernel kills it if our process dies without cleaning up (SIGKILL, OOM).
Note: Linux delivers the death signal when the *thread* that forked the child exits, so start children
from a long-lived thread (the main thread, as pytest fixtures and the CLI do).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _make_preexec(death_signal: int) -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    # Resolved in the parent: the child only calls an already loaded function between fork and exec.
    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class ManagedProcess:
    """A child process with its output in a log file, stopped by PID with a deadline."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=_make_preexec(signal.SIGKILL),
                close_fds=True,
            )
        self.started_at = time.monotonic()
        _register(self)

    @property
    def pid(self) -> int:
        return self._popen.pid

    def _exited(self) -> bool:
        """True once the child has exited. Does not reap it, so its PID (= process group) stays ours."""
        if self._popen.returncode is not None:
            return True
        try:
            return os.waitid(os.P_PID, self._popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def alive(self) -> bool:
        return not self._exited()

    @property
    def returncode(self) -> int | None:
        """The exit status (negative: killed by that signal); None while running. Reaps the child."""
        if not self._exited():
            return None
        return self._popen.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the child's process group (the child is its leader) unless it was reaped."""
        if self._popen.returncode is not None:
            return  # reaped: the PID may belong to someone else by now
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, sig)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the child to exit (without reaping it)."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while not self._exited():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.05)
        return True

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the group, wait up to ``timeout`` seconds, then SIGKILL; reap the child."""
        if not self._exited():
            self.signal(signal.SIGTERM)
            if not self.wait(timeout):
                self.signal(signal.SIGKILL)
                self.wait(30.0)
        # While the exited leader is not yet reaped its PID cannot be reused, so this reaches only our
        # group: grandchildren (none expected) must not survive either.
        self.signal(signal.SIGKILL)
        self._popen.wait()
        _unregister(self)

    def __repr__(self) -> str:
        return f"<ManagedProcess {self.name} pid={self.pid} rc={self.returncode}>"


def stop_all(processes: Sequence[ManagedProcess], timeout: float = 15.0) -> None:
    """Stop several processes in parallel: SIGTERM all, wait with one shared deadline, SIGKILL the rest."""
    for proc in processes:
        proc.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in processes:
        proc.wait(max(0.0, deadline - time.monotonic()))
    for proc in processes:
        proc.stop(timeout=0.0)


_live: set[ManagedProcess] = set()
_live_lock = threading.Lock()


def _register(proc: ManagedProcess) -> None:
    with _live_lock:
        _live.add(proc)


def _unregister(proc: ManagedProcess) -> None:
    with _live_lock:
        _live.discard(proc)


@atexit.register
def _stop_leftovers() -> None:
    with _live_lock:
        leftovers = list(_live)
    if leftovers:
        stop_all(leftovers, timeout=5.0)
