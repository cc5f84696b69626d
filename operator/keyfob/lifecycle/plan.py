"""What a reconcile must do: a pure function of spec, status, the Secret's state and the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from keyfob.api.request import AccessKeyRequestStatus, KeyRecord


class IssueReason:
    INITIAL = "Initial"
    RENEWAL = "Renewal"
    SCOPE_CHANGED = "ScopeChanged"
    ROTATE_REQUESTED = "RotateRequested"
    SECRET_LOST = "SecretLost"


@dataclass(frozen=True)
class SecretState:
    """keyfob's annotations on a Secret it owns (public data only)."""

    revision: int | None
    access_key_id: str | None
    render_hash: str | None


@dataclass(frozen=True)
class Plan:
    adopt_pending: bool = False  # the Secret already holds the pending key: only finish the status
    resume_pending: bool = False  # re-issue the pending revision under the same name (adopt-or-replace)
    issue: str | None = None  # reason for a new revision
    rerender: bool = False  # Secret layout changed, same key
    expire_current: bool = False  # absolute expiry reached: revoke the current key, no successor
    expired: bool = False  # nothing to issue: the request's absolute expiry has passed
    revoke_due: tuple[KeyRecord, ...] = ()

    @property
    def writes(self) -> bool:
        return bool(
            self.adopt_pending or self.resume_pending or self.issue or self.rerender or self.expire_current
            or self.revoke_due
        )


def decide(
    *,
    status: AccessKeyRequestStatus,
    secret: SecretState | None,
    scope: str,
    render: str,
    absolute_expiry: datetime | None,
    rotate_token: str | None,
    now: datetime,
) -> Plan:
    revoke_due = tuple(k for k in status.previous_keys if k.revoke_after is None or k.revoke_after <= now)
    if status.pending is not None:
        if secret is not None and secret.revision == status.pending.revision:
            return Plan(adopt_pending=True, revoke_due=revoke_due)
        return Plan(resume_pending=True, revoke_due=revoke_due)
    if status.access_key_id is None:
        if absolute_expiry is not None and absolute_expiry <= now:
            return Plan(expired=True, revoke_due=revoke_due)
        return Plan(issue=IssueReason.INITIAL, revoke_due=revoke_due)
    # Expiry is enforced whatever else happens: a key past expiresAt is revoked even if its successor fails.
    expire = status.expires_at is not None and now >= status.expires_at
    reason: str | None = None
    if secret is None or secret.access_key_id != status.access_key_id:
        reason = IssueReason.SECRET_LOST
    elif status.scope_hash != scope:
        reason = IssueReason.SCOPE_CHANGED
    elif rotate_token and rotate_token != status.rotate_request_handled:
        reason = IssueReason.ROTATE_REQUESTED
    elif status.renewal_time is not None and now >= status.renewal_time:
        reason = IssueReason.RENEWAL
    if reason is not None and absolute_expiry is not None and absolute_expiry <= now:
        reason = None  # a successor would be born expired
    rerender = reason is None and not expire and secret is not None and secret.render_hash != render
    return Plan(issue=reason, expire_current=expire, rerender=rerender, revoke_due=revoke_due)


def next_due(status: AccessKeyRequestStatus) -> datetime | None:
    """The earliest time a reconcile has work to do without any change to the object."""
    times = [k.revoke_after for k in status.previous_keys if k.revoke_after is not None]
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
    due = next_due(status)
    return (
        ready is not None
        and ready.status.value == "True"
        and status.observed_generation == generation
        and status.pending is None
        and (due is None or due > now)
        and (rotate_token is None or rotate_token == status.rotate_request_handled)
    )
