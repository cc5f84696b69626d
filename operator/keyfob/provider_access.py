"""Resolve a providerRef to a ready adapter: read the provider object and its admin Secret, build the adapter.

Adapters are cached by the resourceVersions of both objects, so a reconcile with nothing to do builds none and
an edited provider or rotated admin Secret takes effect on the next lookup.
"""

from __future__ import annotations

import threading
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

PLURALS = {
    ObjectKind.ACCESS_KEY_PROVIDER: "accesskeyproviders",
    ObjectKind.CLUSTER_ACCESS_KEY_PROVIDER: "clusteraccesskeyproviders",
}


def admin_secret_ref(block: BaseModel) -> SecretKeySelector:
    ref = getattr(block, "credentials_secret_ref", None)
    if not isinstance(ref, SecretKeySelector):
        raise ProviderLookupError(Reason.PROVIDER_NOT_READY, "provider block names no credentialsSecretRef")
    return ref


class ProviderResolver:
    def __init__(self, kube: KubeCluster, settings: Settings) -> None:
        self.kube = kube
        self.settings = settings
        self._cache: dict[tuple[str, ...], ResolvedProvider] = {}
        self._lock = threading.Lock()

    def resolve(self, request_namespace: str, ref: ProviderRef) -> ResolvedProvider:
        namespace = request_namespace if ref.kind is ObjectKind.ACCESS_KEY_PROVIDER else None
        body = self.kube.get_object(PLURALS[ref.kind], ref.name, namespace)
        if body is None:
            where = f" in namespace {namespace!r}" if namespace else ""
            raise ProviderLookupError(Reason.PROVIDER_NOT_FOUND, f"{ref.kind.value} {ref.name!r} not found{where}")
        return self.from_object(ref.kind, body)

    def last_known(self, request_namespace: str, ref: ProviderRef) -> ResolvedProvider | None:
        """The adapter last built for this provider, even if the object or its Secret is gone since.

        Revocation uses it when a namespace is being deleted: the provider object and its admin Secret may be
        removed before the requests whose keys they must revoke.
        """
        namespace = request_namespace if ref.kind is ObjectKind.ACCESS_KEY_PROVIDER else ""
        with self._lock:
            for key, resolved in self._cache.items():
                if key[:3] == (ref.kind.value, namespace, ref.name):
                    return resolved
        return None

    def from_object(self, kind: ObjectKind, body: dict[str, Any]) -> ResolvedProvider:
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
        secret = self.kube.get_secret(secret_ns, secret_ref.name)
        if secret is None:
            raise ProviderLookupError(
                Reason.PROVIDER_NOT_READY, f"{label}: admin credentials Secret {secret_ns}/{secret_ref.name} not found"
            )
        # The provider's generation (its spec), not its resourceVersion: the operator's own status writes on the
        # provider must not throw away an adapter and its connection pool.
        versions = (str(meta.get("generation") or meta.get("resourceVersion", "")), secret.resource_version or "")
        key = (kind.value, namespace or "", meta["name"], *versions)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        try:
            adapter = factory_for(block_name)(block, secret.data, self.settings.cluster_id)
        except (ProviderError, LookupError) as err:
            raise ProviderLookupError(Reason.PROVIDER_NOT_READY, f"{label}: {err}") from None
        resolved = ResolvedProvider(kind=kind, namespace=namespace, name=meta["name"], spec=spec, adapter=adapter)
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if k[:3] != key[:3]}  # drop stale versions
            self._cache[key] = resolved
        return resolved
