"""Saying Ready when there is nothing to do at the provider (e.g. after a transient failure), and what a failed
provider call means for the request (throttling is back-pressure, not failure)."""

from __future__ import annotations

from keyfob.api.common import ConditionStatus
from keyfob.contract import OwnershipUnproven, ProviderError, ProviderRejected, ProviderThrottled
from keyfob.lifecycle.conditions import READY, Reason
from keyfob.lifecycle.jobs.book import StatusBook
from keyfob.lifecycle.policies.verdict import Verdict
from keyfob.lifecycle.redaction import tenant_safe

RETRY_PROVIDER = 10.0
RETRY_REJECTED = 300.0


def settle_ready(book: StatusBook) -> None:
    status = book.status
    if status.access_key_id is None:
        return
    message = f"revision {status.revision} issued, access key {status.access_key_id}"
    current = status.condition(READY)
    stale = book.view.generation != status.observed_generation
    if current is None or current.status != ConditionStatus.TRUE or stale:
        book.ready(ConditionStatus.TRUE, Reason.ISSUED, message)
        book.save()


def provider_failed(book: StatusBook, err: ProviderError) -> None:
    book.out.failures.append(type(err).__name__)
    detail = tenant_safe(str(err))
    if isinstance(err, OwnershipUnproven):
        book.fail(Verdict(Reason.STATUS_TAMPERED, f"nothing was changed at the provider: {detail}"))
        return
    retry = RETRY_REJECTED if isinstance(err, ProviderRejected) else RETRY_PROVIDER
    if isinstance(err, ProviderThrottled):
        retry = max(err.retry_after or RETRY_PROVIDER, 1.0)
        message = f"provider is throttling; retrying in {retry:.0f}s: {detail}"
        book.out.normal(Reason.THROTTLED, message)
        book.out.retry_after = retry
        if book.status.access_key_id is None:
            book.ready(ConditionStatus.FALSE, Reason.ISSUING, message)
        book.save()
        return
    book.hold(Verdict(Reason.PROVIDER_ERROR, f"provider call failed: {detail}", retry=retry))
    if book.status.access_key_id is not None:
        book.save()
