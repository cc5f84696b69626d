"""Invariant 8: an approval approves a scope, not a moment. With requireApproval, no key is issued for a scope
that status.approval does not approve, whatever the reason (first issue, Secret lost, rotate requested,
provider changed, a crash resumed). Rotations of an approved scope need no new approval: the scope hash is
the same. Who may write status.approval is enforced at the API server (the chart's admission policy: only
holders of the `approve` verb on the provider, with their own username in `by`)."""

from __future__ import annotations

from keyfob.api.request_status import ApprovalDecision
from keyfob.lifecycle.conditions import Reason
from keyfob.lifecycle.fingerprint import scope_hash
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.policies.verdict import Verdict


def unapproved(inputs: Inputs) -> Verdict | None:
    provider = inputs.provider
    if provider is None or not provider.spec.guardrails.require_approval:
        return None
    view = inputs.view
    scope = scope_hash(view.spec)
    approval = view.status.approval
    same_provider = approval is not None and approval.provider_ref.wire() == view.spec.provider_ref.wire()
    if approval is not None and same_provider and approval.scope_hash == scope:
        if approval.decision is ApprovalDecision.APPROVED:
            return None
        return Verdict(Reason.APPROVAL_DENIED, f"scope {scope} denied by {approval.by}: {approval.reason}".rstrip(": "))
    return Verdict(
        Reason.AWAITING_APPROVAL,
        f"{provider.label} requires approval of scope {scope}: an approver runs "
        f"`keyfob approve {view.name} -n {view.namespace}`",
    )
