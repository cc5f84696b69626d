"""Poll a condition with a deadline instead of sleeping a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """Raised when a condition did not become true in time.

    It is an AssertionError so pytest shows it as a plain test failure.
    """


def wait_for(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Call ``predicate`` until it returns a truthy value and return that value.

    Exceptions raised by the predicate count as "not yet"; the last one is chained to the
    :class:`WaitTimeout` raised when ``timeout`` seconds pass, whose message names ``what``.
    """
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    if interval <= 0:
        raise ValueError("interval must be positive")
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    last_value: object = None
    attempts = 0
    while True:
        attempts += 1
        try:
            value = predicate()
        except Exception as exc:
            last_exc = exc
        else:
            if value:
                return value
            last_value = value
            last_exc = None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            detail = f"last error: {last_exc!r}" if last_exc is not None else f"last value: {last_value!r}"
            raise WaitTimeout(
                f"timed out after {timeout:g}s ({attempts} attempts) waiting for {what}; {detail}"
            ) from last_exc
        time.sleep(min(interval, remaining))
