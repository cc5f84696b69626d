"""Test-only kill points: with KEYFOB_TEST_CRASH_AT=<name> the operator SIGKILLs itself at that step.

The crash-safety tests use them to stop the process exactly between two writes, without sleeps or races.
Unset in production, where crashpoint() is a dictionary lookup and nothing else.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

POINTS = (
    "after-pending",  # status says an issue is in flight, provider not called yet
    "after-provider-issue",  # provider holds a new key, the Secret does not
    "after-secret-write",  # Secret holds the new key, status does not
    "after-provider-revoke",  # provider revoked a previous key, status still lists it
)


def _kill_if_asked(name: str) -> None:
    if os.environ.get("KEYFOB_TEST_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


# Unit tests replace the hook to raise instead of dying (tests/unit/test_reconciler.py).
hook: Callable[[str], None] = _kill_if_asked


def crashpoint(name: str) -> None:
    hook(name)
