"""What one reconcile did: the events to post, when to retry, and the counts metrics need."""

from __future__ import annotations

from dataclasses import dataclass, field

from keyfob.api.request_status import AccessKeyRequestStatus


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Outcome:
    events: list[Event] = field(default_factory=list)
    retry_after: float | None = None  # None: nothing to retry (the timer still watches due times)
    # For metrics: what happened at the provider during this reconcile, and the status it left.
    provider: str = ""
    issued: list[str] = field(default_factory=list)  # issue reasons
    issue_seconds: list[float] = field(default_factory=list)
    revoked: int = 0
    suspended_revoked: int = 0  # of those, revoked by a break-glass suspension
    failures: list[str] = field(default_factory=list)  # failure kinds
    status: AccessKeyRequestStatus | None = None

    def normal(self, reason: str, message: str) -> None:
        self.events.append(Event("Normal", reason, message))

    def warning(self, reason: str, message: str) -> None:
        self.events.append(Event("Warning", reason, message))
