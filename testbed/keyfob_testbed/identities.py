"""Non-admin identities: ServiceAccount bearer tokens from the TokenRequest API."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .kubeconfig import render_kubeconfig, write_kubeconfig

if TYPE_CHECKING:
    from .envtest import TestCluster


def service_account_token(cluster: TestCluster, namespace: str, name: str, expiration_seconds: int = 3600) -> str:
    """Create the ServiceAccount ``namespace/name`` if missing and return a fresh bound token for it."""
    from kubernetes import client

    with cluster.api_client() as api:
        core = client.CoreV1Api(api)
        try:
            core.create_namespaced_service_account(
                namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
            )
        except client.ApiException as exc:
            if exc.status != 409:
                raise
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=expiration_seconds)
        )
        response = core.create_namespaced_service_account_token(name, namespace, request)
        token = response.status.token
        if not token:
            raise RuntimeError(f"TokenRequest for {namespace}/{name} returned no token")
        return str(token)


def service_account_kubeconfig(
    cluster: TestCluster,
    namespace: str,
    name: str,
    out_path: Path,
    expiration_seconds: int = 3600,
) -> Path:
    """Write a kubeconfig that authenticates as ServiceAccount ``namespace/name`` and return its path.

    The ServiceAccount is created if missing; the token comes from the TokenRequest API (what
    ``kubectl create token`` does), so RBAC is evaluated exactly as for a pod using that account.
    The context's default namespace is ``namespace``.
    """
    token = service_account_token(cluster, namespace, name, expiration_seconds)
    config = render_kubeconfig(
        server=cluster.server,
        ca_pem=cluster.ca_pem,
        user=f"system:serviceaccount:{namespace}:{name}",
        token=token,
        namespace=namespace,
    )
    return write_kubeconfig(out_path, config)
