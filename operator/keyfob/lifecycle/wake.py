"""When a request next needs a reconcile, decided from its own object alone (a watch event's body) and what the
last reconcile of it saw. Pure: the scheduler calls it for every watch event, so it reads nothing else.

- `None`: nothing is due as far as the object shows (the periodic resync still re-checks Secret and provider).
- a time at or before `now`: reconcile now.
- a later time: the next renewal, grace end or expiry, or the end of a retry back-off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from keyfob.api.request import AccessKeyRequestSpec
from keyfob.api.request_status import AccessKeyRequestStatus, ApprovalDecision
from keyfob.lifecycle.conditions import READY, Reason
from keyfob.lifecycle.fingerprint import scope_hash
from keyfob.lifecycle.plan import next_due, settled
from keyfob.lifecycle.request_view import ROTATE_ANNOTATION, SUSPEND_ANNOTATION, parse_status

# Held on a request until every key of it is revoked. keyfob's own, not Kopf's: Kopf removes its finalizer
# (settings.persistence.finalizer, "keyfob.dev/revoke", still used on providers for their timers) from any
# object none of its handlers needs it on, and requests have no Kopf change handler any more.
FINALIZER = "keyfob.dev/revoke-keys"


@dataclass(frozen=True, slots=True)
class Handled:
    """What the last reconcile of a request saw, so a later event can tell news from noise."""

    generation: int | None
    rotate: str | None
    retry_at: datetime | None  # a failed reconcile's back-off: tenant edits do not cut it short
    suspend: str | None = None


def awaiting_decision(body: Mapping[str, Any], status: AccessKeyRequestStatus) -> bool:
    """An approver answered for the scope the request waits on."""
    ready, approval = status.condition(READY), status.approval
    if ready is None or approval is None or ready.reason not in (Reason.AWAITING_APPROVAL, Reason.APPROVAL_DENIED):
        return False
    if ready.reason == Reason.APPROVAL_DENIED and approval.decision is not ApprovalDecision.APPROVED:
        return False
    try:
        return approval.scope_hash == scope_hash(AccessKeyRequestSpec.model_validate(body.get("spec") or {}))
    except ValidationError:
        return False


def rotate_token(body: Mapping[str, Any]) -> str | None:
    return ((body.get("metadata") or {}).get("annotations") or {}).get(ROTATE_ANNOTATION) or None


def suspend_mark(body: Mapping[str, Any]) -> str | None:
    return ((body.get("metadata") or {}).get("annotations") or {}).get(SUSPEND_ANNOTATION) or None


def wake_time(body: Mapping[str, Any], handled: Handled | None, now: datetime) -> datetime | None:
    meta = body.get("metadata") or {}
    finalizers = meta.get("finalizers") or []
    if meta.get("deletionTimestamp"):
        return now if FINALIZER in finalizers else None  # ours to revoke, or not ours any more
    if FINALIZER not in finalizers:
        return now  # never seen by keyfob: it takes the request (finalizer first) before anything else
    status = parse_status(body.get("status"))
    generation, rotate, suspend = meta.get("generation"), rotate_token(body), suspend_mark(body)
    if awaiting_decision(body, status):
        return now
    if settled(status, generation, rotate, now):
        # break-glass on the request itself (`keyfob revoke --request`): an annotation, so no generation change
        return now if suspend is not None else next_due(status, now)
    if handled is not None and handled.retry_at is not None and (generation, rotate, suspend) == (
            handled.generation, handled.rotate, handled.suspend):
        return max(now, handled.retry_at)  # nothing new since the failure: keep its back-off
    return now


def is_settled(body: Mapping[str, Any], now: datetime) -> bool:
    meta = body.get("metadata") or {}
    return FINALIZER in (meta.get("finalizers") or []) and not meta.get("deletionTimestamp") and not suspend_mark(
        body) and settled(parse_status(body.get("status")), meta.get("generation"), rotate_token(body), now)


__all__ = ["FINALIZER", "Handled", "awaiting_decision", "is_settled", "rotate_token", "suspend_mark", "wake_time"]
