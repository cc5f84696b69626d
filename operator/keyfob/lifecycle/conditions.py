"""Kubernetes-style conditions: set one, keeping lastTransitionTime when the status does not change."""

from __future__ import annotations

from datetime import datetime

from keyfob.api.common import Condition, ConditionStatus

READY = "Ready"
APPROVED = "Approved"


class Reason:
    """The reasons keyfob writes on the Ready condition (CamelCase, stable: automation matches on them)."""

    ISSUED = "Issued"
    ISSUING = "Issuing"
    ROTATING = "Rotating"
    EXPIRED = "Expired"
    DENIED = "Denied"
    INVALID = "InvalidSpec"
    UNSUPPORTED = "Unsupported"
    PROVIDER_NOT_FOUND = "ProviderNotFound"
    PROVIDER_NOT_READY = "ProviderNotReady"
    PROVIDER_ERROR = "ProviderError"
    THROTTLED = "Throttled"
    SECRET_CONFLICT = "SecretConflict"
    REVOKED = "Revoked"
    CHECKED = "CredentialsValid"
    AWAITING_APPROVAL = "AwaitingApproval"
    APPROVAL_DENIED = "ApprovalDenied"
    STATUS_TAMPERED = "StatusTampered"
    QUOTA_EXCEEDED = "QuotaExceeded"
    SUSPENDED = "Suspended"


def set_condition(
    conditions: list[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    now: datetime,
    generation: int | None,
) -> list[Condition]:
    """A new list with `type_` set; lastTransitionTime moves only when status changes."""
    previous = next((c for c in conditions if c.type == type_), None)
    since = previous.last_transition_time if previous and previous.status == status else now
    updated = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message[:2000],
        last_transition_time=since,
        observed_generation=generation,
    )
    return [*(c for c in conditions if c.type != type_), updated]
