"""Hostile tenants for integration tests: ServiceAccounts with TokenRequest tokens, so the API server's RBAC
judges them exactly as it would a pod.

- `edit_tenant`: holds only the built-in `edit` role in its namespace, which the chart's `<release>-edit`
  ClusterRole fills by aggregation (requests yes, their status never);
- `status_tenant`: a tenant whose admin wrote a Role with `resources: ["*"]` on keyfob.dev, so it can write
  its requests' status (the case the operator itself must survive when no admission policy stands in front).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keyfob.api.vocabulary import GROUP, VERSION

from . import helm_tool
from .envtest import TestCluster
from .identities import service_account_kubeconfig
from .objects import REQUESTS
from .waiting import wait_for


@dataclass
class Tenant:
    username: str
    api: Any  # kubernetes ApiClient authenticated as the tenant
    namespace: str

    def custom(self) -> Any:
        from kubernetes import client

        return client.CustomObjectsApi(self.api)

    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api)

    def patch_request(self, name: str, body: dict[str, Any]) -> None:
        self.custom().patch_namespaced_custom_object(GROUP, VERSION, self.namespace, REQUESTS, name, body)

    def patch_status(self, name: str, status: dict[str, Any]) -> None:
        self.custom().patch_namespaced_custom_object_status(
            GROUP, VERSION, self.namespace, REQUESTS, name, {"status": status}
        )


def apply_tenant_roles(admin: Any) -> None:
    """The chart's aggregated tenant ClusterRoles (`-edit`, `-view`), as `helm install` would create them."""
    from kubernetes import client

    rbac = client.RbacAuthorizationV1Api(admin)
    docs = helm_tool.documents(helm_tool.template(values={"admission": {"enabled": False}}))
    for doc in docs:
        labels = (doc.get("metadata") or {}).get("labels") or {}
        if doc.get("kind") != "ClusterRole" or not any(k.startswith("rbac.authorization.k8s.io/aggregate-to")
                                                       for k in labels):
            continue
        try:
            rbac.create_cluster_role(doc)
        except client.ApiException as err:
            if err.status != 409:
                raise
            rbac.replace_cluster_role(doc["metadata"]["name"], doc)

    def aggregated() -> bool:
        rules = rbac.read_cluster_role("edit").rules or []
        return any(GROUP in (r.api_groups or []) and REQUESTS in (r.resources or []) for r in rules)

    wait_for(aggregated, 60, 0.5, "the chart's edit role aggregated into 'edit'")


def _actor(cluster: TestCluster, namespace: str, name: str, out: Path) -> Tenant:
    from kubernetes import config

    kubeconfig = service_account_kubeconfig(cluster, namespace, name, out / f"{namespace}-{name}.kubeconfig")
    return Tenant(f"system:serviceaccount:{namespace}:{name}",
                  config.new_client_from_config(config_file=str(kubeconfig), persist_config=False), namespace)


def edit_tenant(cluster: TestCluster, admin: Any, namespace: str, out: Path) -> Tenant:
    from kubernetes import client

    apply_tenant_roles(admin)
    name = f"tenant-{secrets.token_hex(3)}"
    tenant = _actor(cluster, namespace, name, out)
    client.RbacAuthorizationV1Api(admin).create_namespaced_role_binding(namespace, {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    })
    return tenant


def status_tenant(cluster: TestCluster, admin: Any, namespace: str, out: Path) -> Tenant:
    from kubernetes import client

    name = f"star-{secrets.token_hex(3)}"
    tenant = _actor(cluster, namespace, name, out)
    rbac = client.RbacAuthorizationV1Api(admin)
    rbac.create_namespaced_role(namespace, {
        "metadata": {"name": name},
        "rules": [{"apiGroups": [GROUP], "resources": ["*"], "verbs": ["*"]},
                  {"apiGroups": [""], "resources": ["secrets"], "verbs": ["*"]}],
    })
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    })
    return tenant
