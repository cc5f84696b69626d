"""What a reconcile does, and nothing else decides it: two pure plans.

- retirement(status, spec, now): keys to take out of service whatever else happens (an expired current key,
  previous keys whose grace is over, a pending key at a provider the request no longer names). It needs no
  provider lookup of the spec's provider, so expiry holds when the spec changes, breaks or dangles.
- decide(inputs): whether to issue (and why), re-render the Secret, or say the request has expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from keyfob.api.request import AccessKeyRequestSpec
from keyfob.api.request_status import AccessKeyRequestStatus, KeyRecord
from keyfob.lifecycle.fingerprint import render_hash
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.plan_types import IssueReason
from keyfob.lifecycle.policies.issuance import issue_reason, secret_is_lost
from keyfob.lifecycle.secret_manifest import secret_state


@dataclass(frozen=True)
class Retirement:
    expire_current: bool = False  # the current key is past its expiry: revoke it, no successor from here
    abandon_pending: bool = False  # a pending key at a provider the spec no longer names: revoke it there
    revoke_due: tuple[KeyRecord, ...] = ()  # previous keys whose grace period is over

    @property
    def any(self) -> bool:
        return self.expire_current or self.abandon_pending or bool(self.revoke_due)


def retirement(status: AccessKeyRequestStatus, spec: AccessKeyRequestSpec, now: datetime) -> Retirement:
    pending = status.pending
    return Retirement(
        expire_current=status.access_key_id is not None and status.expires_at is not None and now >= status.expires_at,
        abandon_pending=pending is not None and pending.provider_ref is not None
        and pending.provider_ref.wire() != spec.provider_ref.wire(),
        revoke_due=tuple(k for k in status.previous_keys if k.revoke_after is None or k.revoke_after <= now),
    )


@dataclass(frozen=True)
class Plan:
    issue: str | None = None  # why a key is issued now (IssueReason), None: no issue
    immediate_grace: bool = False  # the Secret lost the current key: nobody can use it, revoke it at once
    rerender: bool = False  # Secret layout changed, same key
    expired: bool = False  # the request's absolute expiresAt has passed: nothing to issue


def decide(inputs: Inputs) -> Plan:
    spec, status = inputs.view.spec, inputs.view.status
    reason = issue_reason(inputs)
    if spec.expires_at is not None and spec.expires_at <= inputs.now:
        return Plan(expired=True)  # a successor would be born expired
    if reason is not None:
        return Plan(issue=reason, immediate_grace=secret_is_lost(inputs))
    state = secret_state(inputs.secret) if inputs.secret is not None else None
    rerender = state is not None and status.access_key_id is not None and state.render_hash != render_hash(spec)
    return Plan(rerender=rerender)


def next_due(status: AccessKeyRequestStatus, now: datetime) -> datetime | None:
    """The earliest time a reconcile has work to do without any change to the object (a pending issue: now)."""
    if status.pending is not None:
        return now
    times = [k.revoke_after or now for k in status.previous_keys]
    if status.access_key_id is not None:
        times += [t for t in (status.renewal_time, status.expires_at) if t is not None]
    return min(times) if times else None


def settled(
    status: AccessKeyRequestStatus, generation: int | None, rotate_token: str | None, now: datetime
) -> bool:
    """Nothing to do for this request as far as its own object shows: Ready, current generation, nothing in
    flight, nothing due, no unanswered rotate request. (The Secret, the provider object and the guardrails are
    checked by the periodic resync.)"""
    ready = status.condition("Ready")
    due = next_due(status, now)
    return (
        ready is not None
        and ready.status.value == "True"
        and status.observed_generation == generation
        and (due is None or due > now)
        and (rotate_token is None or rotate_token == status.rotate_request_handled)
    )


__all__ = ["IssueReason", "Plan", "Retirement", "decide", "next_due", "retirement", "settled"]
