"""AccessKeyProvider / ClusterAccessKeyProvider handlers: verify the admin credentials, say so in status."""

from __future__ import annotations

from typing import Any

import kopf

from keyfob.api.common import ConditionStatus, ObjectKind
from keyfob.api.provider import Guardrails, ProviderStatus
from keyfob.api.vocabulary import GROUP, VERSION
from keyfob.config import Settings
from keyfob.contract import ProviderError
from keyfob.handlers.reporting import ensure_leading
from keyfob.kube import list_all_requests
from keyfob.lifecycle.conditions import READY, Reason, set_condition
from keyfob.lifecycle.ports import ProviderLookupError
from keyfob.lifecycle.request_view import uses_provider
from keyfob.provider_access import PLURALS
from keyfob.runtime import Runtime, utcnow


def serves_nobody(kind: ObjectKind, guardrails: Guardrails) -> str | None:
    """Why a ClusterAccessKeyProvider serves no request yet (fail closed until the admin writes '*')."""
    if kind is not ObjectKind.CLUSTER_ACCESS_KEY_PROVIDER:
        return None
    missing = [name for name, value in (("allowedNamespaces", guardrails.allowed_namespaces),
                                        ("allowedBuckets", guardrails.allowed_buckets)) if not value]
    if not missing:
        return None
    return f"serves no request until guardrails set {' and '.join(missing)} (write '*' to allow all)"


def _check(kind: ObjectKind, body: kopf.Body, memo: kopf.Memo, patch: kopf.Patch) -> None:
    runtime: Runtime = memo.runtime
    ensure_leading(runtime.fence)  # Kopf writes the status patch this handler fills
    generation = body["metadata"].get("generation")
    try:
        resolved = runtime.resolver.from_object(kind, dict(body))
        resolved.adapter.check()
        state, reason, message = ConditionStatus.TRUE, Reason.CHECKED, "admin credentials verified"
        closed = serves_nobody(kind, resolved.spec.guardrails)
        if closed:
            message += f"; {closed}"
    except ProviderLookupError as err:
        state, reason, message = ConditionStatus.FALSE, err.reason, str(err)
    except ProviderError as err:
        state, reason, message = ConditionStatus.FALSE, Reason.PROVIDER_ERROR, f"credential check failed: {err}"
    status = ProviderStatus.model_validate(dict(body.get("status") or {}))
    before = status.model_dump(mode="json", by_alias=True)
    status.conditions = set_condition(status.conditions, READY, state, reason, message, utcnow(), generation)
    status.observed_generation = generation
    after = status.model_dump(mode="json", by_alias=True)
    if after != before:
        patch.status.update(after)
        kopf.event(body, type="Normal" if state is ConditionStatus.TRUE else "Warning", reason=reason, message=message)


def _register(kind: ObjectKind, interval: float) -> None:
    plural = PLURALS[kind]

    @kopf.on.resume(GROUP, VERSION, plural, id=f"check-{plural}")
    @kopf.on.create(GROUP, VERSION, plural, id=f"check-{plural}")
    @kopf.on.update(GROUP, VERSION, plural, id=f"check-{plural}")
    @kopf.timer(GROUP, VERSION, plural, interval=interval, initial_delay=interval, id=f"recheck-{plural}")
    def check(body: kopf.Body, memo: kopf.Memo, patch: kopf.Patch, **_: Any) -> None:
        _check(kind, body, memo, patch)


    @kopf.on.update(GROUP, VERSION, plural, field="spec", id=f"resync-requests-{plural}")
    def resync_requests(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        """Guardrails may have changed: every request using this provider is re-evaluated now (and its key
        revoked if no longer allowed)."""
        runtime: Runtime = memo.runtime
        meta = body["metadata"]
        runtime.scheduler.wake([
            r["metadata"]["uid"] for r in list_all_requests(runtime.kube)
            if uses_provider(r, kind, meta["name"], meta.get("namespace"))
        ])


def register(settings: Settings) -> None:
    for kind in PLURALS:
        _register(kind, settings.provider_check_seconds)
