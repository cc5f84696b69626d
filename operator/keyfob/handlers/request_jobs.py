"""One scheduled job for one request (run in the scheduler's thread pool): take it (finalizer), reconcile it, or
revoke its keys and release it once it is being deleted. Returns when the request is next due."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from kubernetes.client.exceptions import ApiException

from keyfob.api.common import ConditionStatus
from keyfob.handlers.reporting import object_log, post_outcome
from keyfob.leadership import Fenced
from keyfob.lifecycle.conditions import READY, Reason, set_condition
from keyfob.lifecycle.outcome import Event, Outcome
from keyfob.lifecycle.plan import next_due
from keyfob.lifecycle.ports import SecretConflict, StatusConflict
from keyfob.lifecycle.request_view import InvalidRequest, parse_request, parse_status
from keyfob.lifecycle.wake import FINALIZER, Handled, rotate_token, suspend_mark
from keyfob.runtime import Runtime, utcnow
from keyfob.scheduler import JobResult, Target

NOT_LEADING_RETRY = 60.0
SECRET_CONFLICT_RETRY = 30.0
INVALID_RETRY = None  # an invalid spec waits for the next edit


def run_request_job(runtime: Runtime, target: Target) -> JobResult:
    if not runtime.fence.leading():
        return JobResult(retry_after=NOT_LEADING_RETRY)  # fencing: this replica lost its lease; it exits soon
    body = target.body if target.body is not None else runtime.kube.get_request(target.namespace, target.name)
    if body is None or body["metadata"].get("uid") != target.uid:
        return JobResult(gone=True)
    meta = body["metadata"]
    finalizers = meta.get("finalizers") or []
    object_log(body, logging.DEBUG, "Job: " + ("release" if meta.get("deletionTimestamp") else "reconcile"))
    try:
        if meta.get("deletionTimestamp"):
            return _release(runtime, body) if FINALIZER in finalizers else JobResult(gone=True)
        if FINALIZER not in finalizers:
            body = runtime.cluster.add_finalizer(body, FINALIZER)  # before any provider call
        return _reconcile(runtime, body)
    except StatusConflict:
        return JobResult(retry_after=0.0)  # changed since read (an approver, a tenant, a stale event): re-read
    except Fenced:
        return JobResult(retry_after=NOT_LEADING_RETRY)  # the lease went mid-job: no further write was made
    except ApiException as err:
        if err.status == 404:
            return JobResult(gone=True)  # deleted meanwhile; its DELETED event follows
        raise


def _reconcile(runtime: Runtime, body: Mapping[str, Any]) -> JobResult:
    meta = body["metadata"]
    handled = Handled(meta.get("generation"), rotate_token(body), None, suspend_mark(body))
    try:
        view = parse_request(body)
    except InvalidRequest as err:
        _invalid(runtime, body, str(err))
        return JobResult(handled=handled, retry_after=INVALID_RETRY)
    try:
        outcome = runtime.reconciler.reconcile(view)
    except SecretConflict as err:
        outcome = Outcome(events=[Event("Warning", Reason.SECRET_CONFLICT, str(err))],
                          retry_after=SECRET_CONFLICT_RETRY)
    runtime.metrics.observe(view.namespace, view.name, outcome)
    post_outcome(runtime, body, outcome)
    now = utcnow()
    due = next_due(outcome.status, now) if outcome.status is not None else None
    retry = outcome.retry_after
    if retry is not None:
        handled = Handled(handled.generation, handled.rotate, now + timedelta(seconds=retry), handled.suspend)
    return JobResult(due=due, retry_after=retry, handled=handled)


def _release(runtime: Runtime, body: Mapping[str, Any]) -> JobResult:
    """Revoke every key; only then remove the finalizer (it stays until the provider confirms)."""
    try:
        view = parse_request(body)
    except InvalidRequest as err:
        post_outcome(runtime, body, Outcome(events=[Event("Warning", Reason.INVALID,
                                                          f"cannot revoke, spec unreadable: {err}")]))
        return JobResult(retry_after=60.0)
    outcome = runtime.reconciler.finalize(view)
    runtime.metrics.observe_revoked(f"{view.spec.provider_ref.kind.value}/{view.spec.provider_ref.name}",
                                    outcome.revoked)
    post_outcome(runtime, body, outcome)
    if outcome.retry_after is not None:
        return JobResult(retry_after=outcome.retry_after)
    runtime.kube.remove_finalizer(body, FINALIZER)
    runtime.metrics.forget(view.namespace, view.name)
    return JobResult(gone=True)


def _invalid(runtime: Runtime, body: Mapping[str, Any], message: str) -> None:
    status = parse_status(body.get("status"))
    generation = body["metadata"].get("generation")
    before = status.condition(READY)
    status.conditions = set_condition(
        status.conditions, READY, ConditionStatus.FALSE, Reason.INVALID, message, utcnow(), generation
    )
    status.observed_generation = generation
    runtime.cluster.patch_request_status(
        body["metadata"]["namespace"], body["metadata"]["name"], status.model_dump(mode="json", by_alias=True)
    )
    if before is None or (before.reason, before.message) != (Reason.INVALID, message):
        post_outcome(runtime, body, Outcome(events=[Event("Warning", Reason.INVALID, message)]))
