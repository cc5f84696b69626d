"""Orphan sweep, per provider object: at startup and then every KEYFOB_SWEEP_SECONDS."""

from __future__ import annotations

from typing import Any

import kopf

from keyfob.api.common import ObjectKind
from keyfob.api.vocabulary import GROUP, VERSION
from keyfob.config import Settings
from keyfob.contract import ProviderError
from keyfob.kube import list_all_requests, managed_secret_key_names
from keyfob.lifecycle.ports import ProviderLookupError
from keyfob.lifecycle.sweep import held_key_names, orphan_ref, orphans
from keyfob.provider_access import PLURALS
from keyfob.runtime import Runtime


def sweep(kind: ObjectKind, body: kopf.Body, runtime: Runtime, logger: Any) -> None:
    try:
        adapter = runtime.resolver.from_object(kind, dict(body)).adapter
    except ProviderLookupError:
        return  # the provider's own status already says why
    if not adapter.capabilities.revocable:
        return
    try:
        owned = adapter.list_owned()  # before listing requests: see keyfob.lifecycle.sweep
    except ProviderError as err:
        logger.warning(f"orphan sweep skipped: {err}")
        return
    if not owned:
        return
    held = held_key_names(list_all_requests(runtime.kube), managed_secret_key_names(runtime.kube))
    for key in orphans(owned, held):
        try:
            adapter.revoke(orphan_ref(key))
        except ProviderError as err:
            logger.warning(f"orphan {key.key_name} not revoked yet: {err}")
            continue
        message = f"{adapter.capabilities.revoked_word} orphaned key {key.key_name} (no request or Secret holds it)"
        kopf.event(body, type="Normal", reason="OrphanRevoked", message=message)
        logger.info(message)


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
