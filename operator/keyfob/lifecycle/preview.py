"""What a reconcile would grant for a request, without issuing: the same admission policies the reconciler
runs (spec, guardrails, expressibility, approval), every refusal each names, the lifetime, who enforces
expiry, and the adapter's own rendering of the grant (`Provider.describe`). Pure: no provider call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keyfob.api.request import CredentialType
from keyfob.api.request_status import ExpiryEnforcement
from keyfob.contract import GrantPreview, describe
from keyfob.contract.naming import key_name
from keyfob.lifecycle.grants import grant_for
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.policies import approval, expressible, guardrails, spec, suspension
from keyfob.lifecycle.policies.verdict import Verdict
from keyfob.lifecycle.timing import lifetime

# Every policy is run (not only the first that answers): an approver sees every refusal at once.
POLICIES = (suspension.suspended, spec.invalid_spec, guardrails.denied, expressible.inexpressible,
            approval.unapproved)


@dataclass(frozen=True)
class Preview:
    provider: str
    refusals: tuple[Verdict, ...]
    expires_at: datetime | None
    renewal_time: datetime | None
    expiry_enforced_by: ExpiryEnforcement | None
    grant: GrantPreview | None

    @property
    def grantable(self) -> bool:
        return not self.refusals


def preview(inputs: Inputs) -> Preview:
    provider = inputs.provider
    assert provider is not None, "a preview needs a resolved provider"
    view = inputs.view
    refusals = tuple(v for v in (policy(inputs) for policy in POLICIES) if v is not None)
    if spec.spec_problems(view.spec):
        return Preview(provider.label, refusals, None, None, None, None)  # durations do not parse
    revision = view.status.revision + 1
    life = lifetime(view.spec, guardrails.effective_ttl(provider.spec.guardrails), inputs.now, view.uid, revision)
    grant = grant_for(view, key_name(view.uid, revision), revision, life.expires_at,
                      session_seconds=life.session_seconds)
    native = provider.adapter.capabilities.native_expiry or grant.is_session  # STS ends a session itself
    return Preview(
        provider=provider.label,
        refusals=refusals,
        expires_at=grant.expires_at,
        renewal_time=life.renewal_time,
        expiry_enforced_by=ExpiryEnforcement.PROVIDER if native else ExpiryEnforcement.OPERATOR,
        grant=describe(provider.adapter, grant),
    )


def render_text(inputs: Inputs, result: Preview) -> list[str]:
    """The preview for people: one fact a line, the provider-native grant last (as JSON by the caller)."""
    view = inputs.view
    lines = [f"request:     {view.namespace}/{view.name}", f"provider:    {result.provider}"]
    for bucket in view.spec.buckets:
        lines.append(f"bucket:      {bucket.name}" + (f"  prefix {bucket.prefix}" if bucket.prefix else "  (whole)"))
    lines.append(f"permissions: {', '.join(str(p) for p in view.spec.permissions)}")
    if view.spec.credential_type is CredentialType.STS:
        lines.append("credential:  STS session (AssumeRole; its session policy is the grant below), refreshed "
                     "before it ends; it cannot be revoked early where the provider has no call for it")
    if result.expires_at is not None:
        renew = result.renewal_time.isoformat() if result.renewal_time else "never (absolute expiresAt)"
        enforcer = "the provider (native expiry)" if result.expiry_enforced_by is ExpiryEnforcement.PROVIDER \
            else "keyfob (revokes at expiresAt)"
        lines += [f"expiresAt:   {result.expires_at.isoformat()}", f"renewal:     {renew}",
                  f"expiry:      enforced by {enforcer}"]
    for verdict in result.refusals:
        lines.append(f"REFUSED:     {verdict.reason}: {verdict.message}")
    lines.append(f"verdict:     {'would be granted' if result.grantable else 'would NOT be granted'}")
    if result.grant is not None:
        lines.append(f"grant:       {result.grant.summary}")
        lines += [f"  - {w}" for w in result.grant.words]
    return lines


def native_of(result: Preview) -> dict[str, Any]:
    return result.grant.native if result.grant is not None else {}
