"""Resolve a providerRef to a ready adapter: the provider object (from its watch, else read), its admin Secret,
the adapter built from both.

One adapter (one client, one connection pool) per provider, kept while the provider's generation and its admin
Secret's resourceVersion stay the same. Before a key is made both are read fresh; otherwise the Secret is re-read
at most every ADMIN_RECHECK_SECONDS (a rotated admin credential reaches revocations and checks within that).
Building is single-flight per provider: N concurrent first lookups build one adapter, not N.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from keyfob.api.common import ObjectKind, SecretKeySelector
from keyfob.api.provider import ProviderSpec
from keyfob.api.request import ProviderRef
from keyfob.config import Settings
from keyfob.contract import ProviderError
from keyfob.kube import KubeCluster
from keyfob.lifecycle.conditions import Reason
from keyfob.lifecycle.ports import ProviderLookupError, ResolvedProvider
from keyfob.providers.registry import factory_for
from keyfob.watch_cache import ProviderCache

ADMIN_RECHECK_SECONDS = 30.0

PLURALS = {
    ObjectKind.ACCESS_KEY_PROVIDER: "accesskeyproviders",
    ObjectKind.CLUSTER_ACCESS_KEY_PROVIDER: "clusteraccesskeyproviders",
}


def admin_secret_ref(block: BaseModel) -> SecretKeySelector:
    ref = getattr(block, "credentials_secret_ref", None)
    if not isinstance(ref, SecretKeySelector):
        raise ProviderLookupError(Reason.PROVIDER_NOT_READY, "provider block names no credentialsSecretRef")
    return ref


@dataclass
class _Built:
    generation: str
    secret_version: str
    checked: float
    resolved: ResolvedProvider


class ProviderResolver:
    def __init__(self, kube: KubeCluster, settings: Settings, providers: ProviderCache | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kube = kube
        self.settings = settings
        self.providers = providers or ProviderCache()
        self.clock = clock
        self._cache: dict[tuple[str, str, str], _Built] = {}
        self._building: dict[tuple[str, str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def resolve(self, request_namespace: str, ref: ProviderRef, *, fresh: bool = False) -> ResolvedProvider:
        namespace = request_namespace if ref.kind is ObjectKind.ACCESS_KEY_PROVIDER else None
        body = None if fresh else self.providers.get((ref.kind.value, namespace or "", ref.name))
        if body is None:
            body = self.kube.get_object(PLURALS[ref.kind], ref.name, namespace)
        if body is None:
            where = f" in namespace {namespace!r}" if namespace else ""
            raise ProviderLookupError(Reason.PROVIDER_NOT_FOUND, f"{ref.kind.value} {ref.name!r} not found{where}")
        return self.from_object(ref.kind, body, recheck=fresh)

    def last_known(self, request_namespace: str, ref: ProviderRef) -> ResolvedProvider | None:
        """The adapter last built for this provider, even if the object or its Secret is gone since.

        Revocation uses it when a namespace is being deleted: the provider object and its admin Secret may be
        removed before the requests whose keys they must revoke.
        """
        namespace = request_namespace if ref.kind is ObjectKind.ACCESS_KEY_PROVIDER else ""
        with self._lock:
            built = self._cache.get((ref.kind.value, namespace, ref.name))
        return built.resolved if built is not None else None

    def from_object(self, kind: ObjectKind, body: dict[str, Any], *, recheck: bool = False) -> ResolvedProvider:
        """`recheck`: read the admin Secret now whatever ADMIN_RECHECK_SECONDS says (before a key is made)."""
        meta = body["metadata"]
        namespace = meta.get("namespace") if kind is ObjectKind.ACCESS_KEY_PROVIDER else None
        label = f"{kind.value} {meta['name']!r}"
        try:
            spec = ProviderSpec.model_validate(body.get("spec") or {})
            block_name = spec.block_name()
        except (ValidationError, ValueError) as err:
            raise ProviderLookupError(Reason.PROVIDER_NOT_READY, f"{label} is invalid: {err}") from None
        block = getattr(spec, block_name)
        secret_ref = admin_secret_ref(block)
        if namespace is not None and secret_ref.namespace not in (None, namespace):
            raise ProviderLookupError(
                Reason.PROVIDER_NOT_READY,
                f"{label}: an AccessKeyProvider reads its admin Secret only from its own namespace",
            )
        home = self.settings.cluster_resource_namespace
        if namespace is None and secret_ref.namespace not in (None, home):
            raise ProviderLookupError(
                Reason.PROVIDER_NOT_READY,
                f"{label}: a ClusterAccessKeyProvider reads its admin Secret only from the cluster resource "
                f"namespace {home!r}, not {secret_ref.namespace!r}",
            )
        secret_ns = namespace or home
        # The provider's generation (its spec), not its resourceVersion: the operator's own status writes on the
        # provider must not throw away an adapter and its connection pool.
        generation = str(meta.get("generation") or meta.get("resourceVersion", ""))
        key = (kind.value, namespace or "", meta["name"])
        with self._lock:
            lock = self._building.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                built = self._cache.get(key)
            now = self.clock()
            if (built is not None and built.generation == generation and not recheck
                    and now - built.checked < ADMIN_RECHECK_SECONDS):
                return built.resolved
            secret = self.kube.get_secret(secret_ns, secret_ref.name)
            if secret is None:
                raise ProviderLookupError(
                    Reason.PROVIDER_NOT_READY,
                    f"{label}: admin credentials Secret {secret_ns}/{secret_ref.name} not found",
                )
            version = secret.resource_version or ""
            if built is not None and (built.generation, built.secret_version) == (generation, version):
                built.checked = now
                return built.resolved
            try:
                adapter = factory_for(block_name)(block, secret.data, self.settings.cluster_id)
            except (ProviderError, LookupError) as err:
                raise ProviderLookupError(Reason.PROVIDER_NOT_READY, f"{label}: {err}") from None
            resolved = ResolvedProvider(kind=kind, namespace=namespace, name=meta["name"], spec=spec,
                                        adapter=adapter)
            with self._lock:
                self._cache[key] = _Built(generation, version, now, resolved)
            return resolved
