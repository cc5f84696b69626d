"""The lifecycle's ClusterPort over the API server, reading through the watch-fed caches.

Reads: a managed Secret's metadata from the Secret watch, namespace labels for 30 s; misses (and names where
no keyfob Secret is known: someone else's may stand there) go to the API server. Writes go to the API server as
before (each guarded by a resourceVersion) and update the caches from the server's answer, and every request
write is remembered so its own watch event is not mistaken for news."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keyfob.kube import KubeCluster
from keyfob.lifecycle.ports import SecretConflict, SecretSnapshot
from keyfob.watch_cache import OwnWrites, SecretCache, TtlCache

NAMESPACE_LABELS_TTL = 30.0


def name_of(manifest: Mapping[str, Any]) -> str:
    return str(manifest["metadata"]["name"])


class CachedCluster:
    def __init__(self, kube: KubeCluster, secrets: SecretCache, own: OwnWrites,
                 namespaces: TtlCache | None = None) -> None:
        self.kube = kube
        self.secrets = secrets
        self.own = own
        self.namespaces = namespaces or TtlCache(NAMESPACE_LABELS_TTL)

    def get_secret(self, namespace: str, name: str) -> SecretSnapshot | None:
        known, snapshot = self.secrets.lookup((namespace, name))
        if known:
            return snapshot
        found = self.kube.get_secret(namespace, name)
        if found is None:
            self.secrets.mark_absent((namespace, name))
        return found

    def read_secret(self, namespace: str, name: str) -> SecretSnapshot | None:
        return self.kube.read_secret(namespace, name)

    def write_secret(
        self, namespace: str, manifest: dict[str, Any], previous: SecretSnapshot | None
    ) -> SecretSnapshot | None:
        key = (namespace, name_of(manifest))
        try:
            written = self.kube.write_secret(namespace, manifest, previous)
        except SecretConflict:
            self.secrets.mark_unknown(key)  # someone else's Secret the cache cannot see: read it fresh next time
            raise
        self.secrets.store(key, written)
        if written is not None:
            self.own.add(f"secret:{namespace}/{name_of(manifest)}", written.resource_version)
        return written

    def delete_secret(self, namespace: str, name: str, owner_uid: str) -> None:
        self.kube.delete_secret(namespace, name, owner_uid)
        self.secrets.store((namespace, name), None)

    def release_secret(self, namespace: str, name: str, owner_uid: str) -> None:
        self.kube.release_secret(namespace, name, owner_uid)

    def patch_request_status(
        self, namespace: str, name: str, status: dict[str, Any], resource_version: str | None = None
    ) -> str | None:
        written = self.kube.patch_request_status(namespace, name, status, resource_version)
        self.own.add(f"{namespace}/{name}", written)
        return written

    def add_finalizer(self, body: Mapping[str, Any], finalizer: str) -> dict[str, Any]:
        taken = self.kube.add_finalizer(body, finalizer)
        meta = taken["metadata"]
        self.own.add(f"{meta['namespace']}/{meta['name']}", meta.get("resourceVersion"))
        return taken

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        return self.namespaces.get(namespace, lambda: self.kube.namespace_labels(namespace))

    def list_requests(self, namespace: str) -> list[dict[str, Any]]:
        return self.kube.list_requests(namespace)

    def annotate_pod_template(self, namespace: str, kind: str, name: str, key: str, value: str) -> bool:
        return self.kube.annotate_pod_template(namespace, kind, name, key, value)
