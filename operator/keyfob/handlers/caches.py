"""Watches that feed the caches (keyfob.watch_cache): keyfob's own Secrets (server-side label selector, metadata
kept, data dropped) and the provider objects.

No Kopf index here on purpose: Kopf holds every object's handlers until all indexed objects are listed, and each
listed object wakes every waiting one (measured: an operator restarted over 10,000 requests and their 10,000
Secrets spun a core for minutes before its first handler). The caches need no barrier: their entries come only
from watch events, so they are never staler than the watch, and a miss is read from the API server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from keyfob.api.common import ObjectKind
from keyfob.api.vocabulary import GROUP, VERSION
from keyfob.lifecycle.secret_manifest import MANAGED_BY
from keyfob.provider_access import PLURALS
from keyfob.runtime import Runtime
from keyfob.watch_cache import secret_metadata

MANAGED_SELECTOR = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())


def _secret_key(body: Mapping[str, Any]) -> tuple[str, str]:
    meta = body["metadata"]
    return meta["namespace"], meta["name"]


def _owner_uid(body: Mapping[str, Any]) -> str | None:
    for ref in body["metadata"].get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "AccessKeyRequest":
            return str(ref.get("uid"))
    return None


def secret_seen(runtime: Runtime, event_type: str | None, body: Mapping[str, Any]) -> None:
    """Keep the Secret cache current; a change keyfob did not make (deleted, edited) re-checks its request now."""
    key = _secret_key(body)
    if event_type == "DELETED":
        runtime.secrets.store(key, None)
    else:
        runtime.secrets.store(key, secret_metadata(body))
    if event_type is None or runtime.cluster.own.consume(f"secret:{key[0]}/{key[1]}",
                                                         body["metadata"].get("resourceVersion")):
        return
    owner = _owner_uid(body)
    if owner is not None:
        runtime.scheduler.wake([owner], namespace=key[0])


def register_secrets() -> None:
    @kopf.on.event("v1", "secrets", labels=MANAGED_BY, id="watch-keyfob-secrets")
    async def secret_event(event: Mapping[str, Any], memo: kopf.Memo, **_: Any) -> None:
        secret_seen(memo.runtime, event.get("type"), event["object"])


def _provider_key(kind: ObjectKind, body: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = body["metadata"]
    return kind.value, meta.get("namespace") or "", meta["name"]


def register_providers() -> None:
    for kind, plural in PLURALS.items():
        _register_provider(kind, plural)


def _register_provider(kind: ObjectKind, plural: str) -> None:
    @kopf.on.event(GROUP, VERSION, plural, id=f"watch-{plural}")
    async def provider_event(event: Mapping[str, Any], memo: kopf.Memo, **_: Any) -> None:
        body = event["object"]
        memo.runtime.providers.store(_provider_key(kind, body), None if event.get("type") == "DELETED" else body)


def register() -> None:
    register_secrets()
    register_providers()
