"""Per-run temporary directories that a later run can clean up if their owner was killed."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

OWNER_FILE = "owner.pid"
PREFIXES = ("keyfob-envtest-", "keyfob-moto-")


def make_workdir(prefix: str) -> Path:
    """A new private temp directory recording our PID as its owner."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    (path / OWNER_FILE).write_text(f"{os.getpid()}\n")
    return path


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_workdirs(prefixes: Iterable[str] = PREFIXES, tmp_root: Path | None = None) -> list[Path]:
    """Remove work directories of earlier runs whose owning process is gone (e.g. it was SIGKILLed)."""
    root = Path(tmp_root or tempfile.gettempdir())
    removed = []
    for prefix in prefixes:
        for candidate in root.glob(f"{prefix}*"):
            try:
                owner = int((candidate / OWNER_FILE).read_text().strip())
            except (OSError, ValueError):
                continue
            if owner == os.getpid() or pid_alive(owner):
                continue
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed
