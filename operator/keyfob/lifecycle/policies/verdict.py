"""What a policy returns when it stops a reconcile, and the chain that runs policies in order."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Verdict:
    """Why nothing (more) may be done for a request now. `retry` is seconds until it is worth another look
    (None: only a change wakes it); `revoke_held` revokes every key the request holds (a guardrail that no
    longer allows them)."""

    reason: str
    message: str
    retry: float | None = None
    revoke_held: bool = False


def first(policies: Iterable[Callable[[T], Verdict | None]], subject: T) -> Verdict | None:
    """The first verdict of the chain, or None when every policy lets the request through."""
    for policy in policies:
        verdict = policy(subject)
        if verdict is not None:
            return verdict
    return None
