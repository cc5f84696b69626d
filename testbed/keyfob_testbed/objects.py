"""Helpers tests use to act as a user would: create keyfob objects, wait on their conditions, read Secrets."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from keyfob.api.vocabulary import GROUP, VERSION

from .waiting import wait_for

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

API_VERSION = f"{GROUP}/{VERSION}"
REQUESTS = "accesskeyrequests"
PROVIDERS = "accesskeyproviders"
CLUSTER_PROVIDERS = "clusteraccesskeyproviders"


class Objects:
    """Typed-enough access to keyfob's objects in one namespace, as the admin."""

    def __init__(self, api: ApiClient, namespace: str) -> None:
        from kubernetes import client

        self.namespace = namespace
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.api_exception = client.ApiException

    # -- writes -------------------------------------------------------------------------------------------
    def admin_secret(self, name: str, data: dict[str, str]) -> None:
        self.core.create_namespaced_secret(self.namespace, {"metadata": {"name": name}, "stringData": data})

    def provider(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {"apiVersion": API_VERSION, "kind": "AccessKeyProvider", "metadata": {"name": name}, "spec": spec}
        return self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PROVIDERS, body)

    def patch_provider(self, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, PROVIDERS, name, {"spec": spec})

    def request(self, name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, **({"annotations": annotations} if annotations else {})}
        body = {"apiVersion": API_VERSION, "kind": "AccessKeyRequest", "metadata": meta, "spec": spec}
        return self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, REQUESTS, body)

    def patch_request(self, name: str, patch: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, REQUESTS, name, patch)

    def delete_request(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, REQUESTS, name)

    # -- reads --------------------------------------------------------------------------------------------
    def get_request(self, name: str) -> dict[str, Any] | None:
        try:
            return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, REQUESTS, name)
        except self.api_exception as err:
            if err.status == 404:
                return None
            raise

    def get_provider(self, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PROVIDERS, name)

    def secret(self, name: str) -> Any | None:
        try:
            return self.core.read_namespaced_secret(name, self.namespace)
        except self.api_exception as err:
            if err.status == 404:
                return None
            raise

    def secret_data(self, name: str) -> dict[str, str]:
        secret = self.secret(name)
        assert secret is not None, f"Secret {self.namespace}/{name} does not exist"
        return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}

    def events_for(self, name: str) -> list[Any]:
        selector = f"involvedObject.name={name}"
        return list(self.core.list_namespaced_event(self.namespace, field_selector=selector).items)

    # -- waits --------------------------------------------------------------------------------------------
    def ready_condition(self, obj: dict[str, Any] | None) -> dict[str, Any] | None:
        conditions = ((obj or {}).get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c.get("type") == "Ready"), None)

    def wait_request(
        self, name: str, status: str = "True", reason: str | None = None, timeout: float = 60
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            obj = self.get_request(name)
            cond = self.ready_condition(obj)
            if cond and cond["status"] == status and (reason is None or cond["reason"] == reason):
                return obj
            return None

        return wait_for(check, timeout, 0.2, f"AccessKeyRequest {self.namespace}/{name} Ready={status} {reason or ''}")

    def wait_provider(self, name: str, status: str = "True", timeout: float = 60) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            obj = self.get_provider(name)
            cond = self.ready_condition(obj)
            return obj if cond and cond["status"] == status else None

        return wait_for(check, timeout, 0.2, f"AccessKeyProvider {self.namespace}/{name} Ready={status}")

    def wait_gone(self, name: str, timeout: float = 60) -> None:
        wait_for(lambda: self.get_request(name) is None, timeout, 0.2, f"AccessKeyRequest {name} deleted")
