"""Should we issue a key, and why? One small policy per reason, tried in order; the first that answers wins.

Every policy reads only the gathered Inputs. The order matters only for the reason reported: every issue,
whatever its reason, passes the same gates afterwards (guardrails, expressibility, quota, approval).
"""

from __future__ import annotations

from collections.abc import Callable

from keyfob.lifecycle.fingerprint import scope_hash
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.issuer import current_issuer
from keyfob.lifecycle.plan_types import IssueReason
from keyfob.lifecycle.secret_manifest import secret_state

IssuePolicy = Callable[[Inputs], str | None]


def resume_pending(inputs: Inputs) -> str | None:
    """An issue a crash interrupted is always due: it is finished (re-issued under the same name) now."""
    return IssueReason.RESUMED if inputs.view.status.pending is not None else None


def no_key(inputs: Inputs) -> str | None:
    return IssueReason.INITIAL if inputs.view.status.access_key_id is None else None


def provider_changed(inputs: Inputs) -> str | None:
    spec_ref = inputs.view.spec.provider_ref
    changed = current_issuer(inputs.view.status, spec_ref).wire() != spec_ref.wire()
    return IssueReason.PROVIDER_CHANGED if changed else None


def scope_changed(inputs: Inputs) -> str | None:
    changed = inputs.view.status.scope_hash != scope_hash(inputs.view.spec)
    return IssueReason.SCOPE_CHANGED if changed else None


def secret_lost(inputs: Inputs) -> str | None:
    return IssueReason.SECRET_LOST if secret_is_lost(inputs) else None


def rotate_requested(inputs: Inputs) -> str | None:
    view = inputs.view
    asked = view.rotate_token is not None and view.rotate_token != view.status.rotate_request_handled
    return IssueReason.ROTATE_REQUESTED if asked else None


def renewal_due(inputs: Inputs) -> str | None:
    renewal = inputs.view.status.renewal_time
    return IssueReason.RENEWAL if renewal is not None and inputs.now >= renewal else None


CHAIN: tuple[IssuePolicy, ...] = (
    resume_pending,
    no_key,
    provider_changed,
    scope_changed,
    secret_lost,
    rotate_requested,
    renewal_due,
)


def secret_is_lost(inputs: Inputs) -> bool:
    """The Secret no longer holds the current key (deleted, or its annotation names another key)."""
    if inputs.view.status.access_key_id is None:
        return False
    state = secret_state(inputs.secret) if inputs.secret is not None else None
    return state is None or state.access_key_id != inputs.view.status.access_key_id


def issue_reason(inputs: Inputs) -> str | None:
    for policy in CHAIN:
        reason = policy(inputs)
        if reason is not None:
            return reason
    return None
