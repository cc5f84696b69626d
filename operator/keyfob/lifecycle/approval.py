"""The approval gate: a provider with requireApproval issues a new or re-scoped key only after an approver set
the request's Approved condition for its current generation."""

from __future__ import annotations

from keyfob.api.common import ConditionStatus
from keyfob.lifecycle.conditions import APPROVED, Reason
from keyfob.lifecycle.request_view import RequestView


def approval_gate(view: RequestView) -> tuple[str, str] | None:
    """(reason, message) while a new scope awaits approval or was denied; None once approved for this generation."""
    approved = view.status.condition(APPROVED)
    if approved is not None and approved.observed_generation == view.generation:
        if approved.status == ConditionStatus.TRUE:
            return None
        if approved.status == ConditionStatus.FALSE:
            return Reason.APPROVAL_DENIED, f"approval denied: {approved.message or approved.reason}"
    return (
        Reason.AWAITING_APPROVAL,
        f"the provider requires approval of generation {view.generation}: an approver runs "
        f"`keyfob approve {view.name} -n {view.namespace}`",
    )
