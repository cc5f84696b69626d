"""AccessKeyRequest handlers: reconcile on create/update/resume, check due work on a timer, revoke on delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import kopf
from pydantic import ValidationError

from keyfob.api.common import ConditionStatus
from keyfob.api.request import AccessKeyRequestSpec
from keyfob.api.request_status import AccessKeyRequestStatus, ApprovalDecision
from keyfob.api.vocabulary import GROUP, VERSION
from keyfob.config import Settings
from keyfob.handlers.reporting import ensure_leading, report
from keyfob.lifecycle.conditions import READY, Reason, set_condition
from keyfob.lifecycle.fingerprint import scope_hash
from keyfob.lifecycle.plan import next_due, settled
from keyfob.lifecycle.ports import SecretConflict, StatusConflict
from keyfob.lifecycle.request_view import ROTATE_ANNOTATION, InvalidRequest, parse_request, parse_status
from keyfob.runtime import Runtime, utcnow

PLURAL = "accesskeyrequests"


def _invalid(runtime: Runtime, body: Mapping[str, Any], message: str) -> None:
    status = parse_status(body.get("status"))
    generation = body["metadata"].get("generation")
    status.conditions = set_condition(
        status.conditions, READY, ConditionStatus.FALSE, Reason.INVALID, message, utcnow(), generation
    )
    status.observed_generation = generation
    runtime.kube.patch_request_status(
        body["metadata"]["namespace"], body["metadata"]["name"], status.model_dump(mode="json", by_alias=True)
    )
    kopf.event(cast(kopf.Body, body), type="Warning", reason=Reason.INVALID, message=message)


def _reconcile(body: kopf.Body, memo: kopf.Memo, logger: Any) -> None:
    runtime: Runtime = memo.runtime
    meta = body["metadata"]
    with runtime.exclusive(meta["uid"]):
        ensure_leading(runtime.fence)  # checked again under the lock: waiting for it may have taken a while
        # Kopf hands handlers and timers the body of the last watch event, which may predate our own status
        # writes; acting on it could issue a key twice. Read the object fresh under the per-object lock.
        fresh = runtime.kube.get_request(meta["namespace"], meta["name"])
        if fresh is None or fresh["metadata"]["uid"] != meta["uid"] or fresh["metadata"].get("deletionTimestamp"):
            return
        try:
            view = parse_request(fresh)
        except InvalidRequest as err:
            _invalid(runtime, fresh, str(err))
            return
        try:
            outcome = runtime.reconciler.reconcile(view)
        except SecretConflict as err:
            raise kopf.TemporaryError(str(err), delay=30) from None
        except StatusConflict as err:
            raise kopf.TemporaryError(str(err), delay=1) from None
    runtime.metrics.observe(view.namespace, view.name, outcome)
    report(body, outcome, logger)


def awaiting_decision(body: Mapping[str, Any], status: AccessKeyRequestStatus) -> bool:
    """An approver answered for the scope the request waits on (status changes do not wake Kopf's change
    handlers, so the timer looks: a pure check, no API call)."""
    ready, approval = status.condition(READY), status.approval
    if ready is None or approval is None or ready.reason not in (Reason.AWAITING_APPROVAL, Reason.APPROVAL_DENIED):
        return False
    if ready.reason == Reason.APPROVAL_DENIED and approval.decision is not ApprovalDecision.APPROVED:
        return False
    try:
        return approval.scope_hash == scope_hash(AccessKeyRequestSpec.model_validate(body.get("spec") or {}))
    except ValidationError:
        return False


def reconcile_request(body: kopf.Body, memo: kopf.Memo, logger: Any, reason: str, **_: Any) -> None:
    if reason == kopf.Reason.RESUME:
        # Restart costs nothing: a request whose own object shows it settled is not read or written now; the
        # resync (at a random point of its window) re-checks its Secret, provider and guardrails later.
        meta = body["metadata"]
        rotate = (meta.get("annotations") or {}).get(ROTATE_ANNOTATION) or None
        if settled(parse_status(body.get("status")), meta.get("generation"), rotate, utcnow()):
            memo.runtime.defer_resync(meta["uid"])
            return
    _reconcile(body, memo, logger)


def check_due(body: kopf.Body, memo: kopf.Memo, logger: Any, **_: Any) -> None:
    """Cheap unless something is due: renewal, a grace period's end, expiry, or the periodic resync."""
    runtime: Runtime = memo.runtime
    if body["metadata"].get("deletionTimestamp"):
        return
    status = parse_status(body.get("status"))
    due = next_due(status, utcnow())
    waiting = awaiting_decision(body, status)
    if (due is None or due > utcnow()) and not waiting and not runtime.resync_due(body["metadata"]["uid"]):
        return
    _reconcile(body, memo, logger)


def revoke_request(body: kopf.Body, memo: kopf.Memo, logger: Any, **_: Any) -> None:
    """Only ever raises TemporaryError: the finalizer stays until the provider confirms revocation."""
    runtime: Runtime = memo.runtime
    meta = body["metadata"]
    with runtime.exclusive(meta["uid"]):
        ensure_leading(runtime.fence)
        fresh = runtime.kube.get_request(meta["namespace"], meta["name"]) or dict(body)
        try:
            view = parse_request(fresh)
        except InvalidRequest as err:
            raise kopf.TemporaryError(f"cannot revoke, spec unreadable: {err}", delay=60) from None
        outcome = runtime.reconciler.finalize(view)
    runtime.metrics.observe_revoked(f"{view.spec.provider_ref.kind.value}/{view.spec.provider_ref.name}",
                                    outcome.revoked)
    if outcome.retry_after is None:
        runtime.forget(view.uid)
        runtime.metrics.forget(view.namespace, view.name)
    report(body, outcome, logger)


def register(settings: Settings) -> None:
    labels = settings.shard_labels or None
    for on in (kopf.on.resume, kopf.on.create, kopf.on.update):
        on(GROUP, VERSION, PLURAL, labels=labels)(reconcile_request)
    tick = settings.tick_seconds
    kopf.timer(GROUP, VERSION, PLURAL, interval=tick, initial_delay=tick, labels=labels)(check_due)
    kopf.on.delete(GROUP, VERSION, PLURAL, labels=labels)(revoke_request)
