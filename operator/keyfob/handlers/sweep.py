"""Orphan sweep, per provider object: at startup and then every KEYFOB_SWEEP_SECONDS."""

from __future__ import annotations

from typing import Any

import kopf

from keyfob.api.common import ObjectKind
from keyfob.api.vocabulary import GROUP, VERSION
from keyfob.config import Settings
from keyfob.handlers.reporting import ensure_leading
from keyfob.kube import list_all_requests, managed_secret_key_names
from keyfob.lifecycle.jobs.sweep import sweep_orphans
from keyfob.lifecycle.ports import ProviderLookupError
from keyfob.provider_access import PLURALS
from keyfob.runtime import Runtime


def sweep(kind: ObjectKind, body: kopf.Body, runtime: Runtime, logger: Any) -> None:
    ensure_leading(runtime.fence)  # the sweep revokes keys at the provider
    try:
        adapter = runtime.resolver.from_object(kind, dict(body)).adapter
    except ProviderLookupError:
        return  # the provider's own status already says why
    outcome = sweep_orphans(
        adapter, lambda: list_all_requests(runtime.kube), lambda: managed_secret_key_names(runtime.kube)
    )
    for event in outcome.events:
        if event.reason == "OrphanRevoked":
            kopf.event(body, type=event.type, reason=event.reason, message=event.message)
        (logger.warning if event.type == "Warning" else logger.info)(event.message)


def _register(kind: ObjectKind, settings: Settings) -> None:
    plural = PLURALS[kind]

    @kopf.timer(
        GROUP, VERSION, plural, interval=settings.sweep_seconds, initial_delay=settings.sweep_initial_delay,
        id=f"sweep-{plural}",
    )
    def sweep_orphans(body: kopf.Body, memo: kopf.Memo, logger: Any, **_: Any) -> None:
        sweep(kind, body, memo.runtime, logger)


def register(settings: Settings) -> None:
    for kind in PLURALS:
        _register(kind, settings)
