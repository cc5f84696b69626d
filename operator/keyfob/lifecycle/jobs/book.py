"""The status of one request as a reconcile rewrites it: conditions, guarded saves, events."""

from __future__ import annotations

from datetime import datetime

from keyfob.api.common import ConditionStatus
from keyfob.lifecycle.conditions import READY, set_condition
from keyfob.lifecycle.outcome import Outcome
from keyfob.lifecycle.policies.verdict import Verdict
from keyfob.lifecycle.ports import ClusterPort
from keyfob.lifecycle.request_view import RequestView


class StatusBook:
    def __init__(self, cluster: ClusterPort, view: RequestView, now: datetime, out: Outcome) -> None:
        self.cluster = cluster
        self.view = view
        self.now = now
        self.out = out
        self.status = view.status.model_copy(deep=True)
        self.resource_version = view.resource_version

    def save(self) -> None:
        self.status.observed_generation = self.view.generation
        # Guarded by the resourceVersion read at the start: a concurrent write (an approver's answer, a spec
        # change) makes this raise StatusConflict instead of being overwritten; the caller re-reads and retries.
        self.resource_version = self.cluster.patch_request_status(
            self.view.namespace, self.view.name, self.status.model_dump(mode="json", by_alias=True),
            self.resource_version,
        )

    def ready(self, status: ConditionStatus, reason: str, message: str) -> None:
        self.status.conditions = set_condition(
            self.status.conditions, READY, status, reason, message, self.now, self.view.generation
        )

    def ready_differs(self, status: ConditionStatus, reason: str, message: str) -> bool:
        current = self.status.condition(READY)
        return current is None or (current.status, current.reason, current.message) != (status, reason, message)

    def fail(self, verdict: Verdict) -> None:
        """Ready=False for this verdict; a Warning event only when that is news."""
        changed = self.ready_differs(ConditionStatus.FALSE, verdict.reason, verdict.message)
        self.ready(ConditionStatus.FALSE, verdict.reason, verdict.message)
        self.save()
        if changed:
            self.out.warning(verdict.reason, verdict.message)
        self._retry(verdict.retry)

    def _retry(self, seconds: float | None) -> None:
        """Keep the soonest retry any job of this reconcile asked for (a failed revocation's, say)."""
        if seconds is not None:
            current = self.out.retry_after
            self.out.retry_after = seconds if current is None else min(current, seconds)

    def hold(self, verdict: Verdict) -> None:
        """The current key keeps working but something it needs next is blocked: say so, stay Ready."""
        if self.status.access_key_id is None:
            self.fail(verdict)
            return
        self.out.warning(verdict.reason, verdict.message)
        self._retry(verdict.retry)
