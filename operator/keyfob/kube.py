"""The Kubernetes side of the lifecycle ports, on the official (blocking) client. Called from sync handlers only."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from keyfob.api.vocabulary import GROUP, VERSION
from keyfob.lifecycle.ports import SecretConflict, SecretSnapshot, StatusConflict

REQUESTS = "accesskeyrequests"


def load_api_client(pool_size: int | None = None) -> client.ApiClient:
    """In-cluster config when running in a pod, else KUBECONFIG / ~/.kube/config. `pool_size`: HTTP connections
    kept open (the operator sizes it to its worker threads)."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    configuration = client.Configuration.get_default_copy()
    if pool_size is not None:
        configuration.connection_pool_maxsize = pool_size
    return client.ApiClient(configuration)


def _controller_uid(meta: Any) -> str | None:
    for ref in meta.owner_references or []:
        if ref.controller:
            return str(ref.uid)
    return None


def _decode(data: Mapping[str, str] | None) -> dict[str, str]:
    return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (data or {}).items()}


def _encode(data: Mapping[str, str]) -> dict[str, str]:
    return {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}


def _no_guard() -> None:
    return None


def snapshot_of(secret: Any, *, with_data: bool = True) -> SecretSnapshot:
    """A Secret (client model) as the lifecycle sees it; `with_data=False` keeps no key material."""
    meta = secret.metadata
    return SecretSnapshot(
        name=meta.name,
        controller_uid=_controller_uid(meta),
        annotations=dict(meta.annotations or {}),
        resource_version=meta.resource_version,
        data=_decode(secret.data) if with_data else {},
    )


class KubeCluster:
    def __init__(self, api: client.ApiClient, guard: Callable[[], None] = _no_guard) -> None:
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.guard = guard  # called before every write: raises when this replica lost its lease (fencing)

    def get_secret(self, namespace: str, name: str) -> SecretSnapshot | None:
        return self.read_secret(namespace, name)

    def read_secret(self, namespace: str, name: str) -> SecretSnapshot | None:
        try:
            secret = self.core.read_namespaced_secret(name, namespace)
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        return snapshot_of(secret)

    def write_secret(self, namespace: str, manifest: dict[str, Any], previous: SecretSnapshot | None) -> SecretSnapshot:
        """Create, or replace `previous` at its resourceVersion; returns what was written (without its data)."""
        self.guard()
        body = {k: v for k, v in manifest.items() if k != "stringData"}
        body["data"] = _encode(manifest["stringData"])
        try:
            if previous is None:
                written = self.core.create_namespaced_secret(namespace, body)
            else:
                body["metadata"] = {**body["metadata"], "resourceVersion": previous.resource_version}
                written = self.core.replace_namespaced_secret(previous.name, namespace, body)
        except ApiException as err:
            if err.status == 409:  # one appeared, or changed, since it was checked: never overwritten
                raise SecretConflict(f"Secret {manifest['metadata']['name']!r} changed since it was read") from None
            raise
        return snapshot_of(written, with_data=False)

    def delete_secret(self, namespace: str, name: str, owner_uid: str) -> None:
        self.guard()
        current = self.get_secret(namespace, name)
        if current is None or current.controller_uid != owner_uid:
            return
        try:
            self.core.delete_namespaced_secret(
                name,
                namespace,
                body=client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version=current.resource_version)),
            )
        except ApiException as err:
            if err.status != 404:
                raise

    def release_secret(self, namespace: str, name: str, owner_uid: str) -> None:
        self.guard()
        try:
            secret = self.core.read_namespaced_secret(name, namespace)
        except ApiException as err:
            if err.status == 404:
                return
            raise
        refs = secret.metadata.owner_references or []
        kept = [r for r in refs if str(r.uid) != owner_uid]
        if len(kept) == len(refs):
            return
        serialize = client.ApiClient().sanitize_for_serialization
        patch = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": secret.metadata.resource_version},
            {"op": "replace", "path": "/metadata/ownerReferences", "value": [serialize(r) for r in kept]},
        ]
        self.core.patch_namespaced_secret(name, namespace, patch)

    def patch_request_status(
        self, namespace: str, name: str, status: dict[str, Any], resource_version: str | None = None
    ) -> str | None:
        self.guard()
        body: dict[str, Any] = {"status": status}
        if resource_version is not None:
            body["metadata"] = {"resourceVersion": resource_version}  # optimistic concurrency: 409 if stale
        try:
            done = self.custom.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, REQUESTS, name, body)
        except ApiException as err:
            if err.status == 409:
                raise StatusConflict(f"{namespace}/{name} changed since it was read") from None
            raise
        return str((done.get("metadata") or {}).get("resourceVersion") or "") or None

    def add_finalizer(self, body: Mapping[str, Any], finalizer: str) -> dict[str, Any]:
        """Take the request: add keyfob's finalizer at the resourceVersion read (StatusConflict if it moved)."""
        return self._set_finalizers(body, [*(body["metadata"].get("finalizers") or []), finalizer])

    def remove_finalizer(self, body: Mapping[str, Any], finalizer: str) -> None:
        """Release a request whose keys are all revoked (StatusConflict if it changed since it was read)."""
        kept = [f for f in body["metadata"].get("finalizers") or [] if f != finalizer]
        try:
            self._set_finalizers(body, kept)
        except ApiException as err:
            if err.status != 404:
                raise

    def _set_finalizers(self, body: Mapping[str, Any], finalizers: list[str]) -> dict[str, Any]:
        self.guard()
        meta = body["metadata"]
        patch = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
            {"op": "add", "path": "/metadata/finalizers", "value": finalizers},
        ]
        try:
            done: dict[str, Any] = self.custom.patch_namespaced_custom_object(
                GROUP, VERSION, meta["namespace"], REQUESTS, meta["name"], patch,
                _content_type="application/json-patch+json")
        except ApiException as err:
            if err.status in (409, 422):  # the test op failed: the object moved on
                raise StatusConflict(f"{meta['namespace']}/{meta['name']} changed since it was read") from None
            raise
        return done

    def post_event(self, involved: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """A core v1 Event about `involved` (a request body); text is already safe (no secret material)."""
        self.guard()
        meta = involved["metadata"]
        now = datetime.now(UTC)
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{meta['name']}.", namespace=meta["namespace"]),
            involved_object=client.V1ObjectReference(
                api_version=involved.get("apiVersion") or f"{GROUP}/{VERSION}",
                kind=involved.get("kind") or "AccessKeyRequest", name=meta["name"], namespace=meta["namespace"],
                uid=meta.get("uid"), resource_version=meta.get("resourceVersion")),
            type=type_, reason=reason, message=message[:1024], source=client.V1EventSource(component="keyfob"),
            reporting_component="keyfob", first_timestamp=now, last_timestamp=now, count=1,
        )
        self.core.create_namespaced_event(meta["namespace"], event)

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        return dict(self.core.read_namespace(namespace).metadata.labels or {})

    def annotate_pod_template(self, namespace: str, kind: str, name: str, key: str, value: str) -> bool:
        self.guard()
        apps = client.AppsV1Api(self.core.api_client)
        patch = {"spec": {"template": {"metadata": {"annotations": {key: value}}}}}
        try:
            if kind == "Deployment":
                apps.patch_namespaced_deployment(name, namespace, patch)
            else:
                apps.patch_namespaced_stateful_set(name, namespace, patch)
        except ApiException as err:
            if err.status == 404:
                return False
            raise
        return True

    def list_requests(self, namespace: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self.custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, REQUESTS, limit=500, _continue=token
            )
            items.extend(page.get("items", []))
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    def get_request(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.get_object(REQUESTS, name, namespace)

    def get_object(self, plural: str, name: str, namespace: str | None) -> dict[str, Any] | None:
        try:
            if namespace is None:
                found: dict[str, Any] = self.custom.get_cluster_custom_object(GROUP, VERSION, plural, name)
            else:
                found = self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
            return found
        except ApiException as err:
            if err.status == 404:
                return None
            raise


def whoami(api: client.ApiClient) -> str:
    """The caller's username as the API server sees it (SelfSubjectReview)."""
    review = client.AuthenticationV1Api(api).create_self_subject_review({"apiVersion": "authentication.k8s.io/v1",
                                                                          "kind": "SelfSubjectReview"})
    return str(review.status.user_info.username)


def list_all_requests(kube: KubeCluster) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = kube.custom.list_cluster_custom_object(GROUP, VERSION, REQUESTS, limit=500, _continue=token)
        items.extend(page.get("items", []))
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return items


def managed_secret_key_names(kube: KubeCluster) -> set[str]:
    """Key names recorded on Secrets keyfob wrote, in every namespace (their data is read but not kept)."""
    names: set[str] = set()
    token: str | None = None
    while True:
        page = kube.core.list_secret_for_all_namespaces(
            label_selector="app.kubernetes.io/managed-by=keyfob", limit=500, _continue=token
        )
        for secret in page.items:
            name = (secret.metadata.annotations or {}).get("keyfob.dev/key-name")
            if name:
                names.add(name)
        token = page.metadata._continue
        if not token:
            return names
