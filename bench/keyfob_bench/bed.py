"""The bench's test bed: an audited API server, moto with IAM auth on, keyfob's CRDs, and helpers to create
namespaces, providers and requests as a user would."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keyfob.api.vocabulary import GROUP, VERSION
from keyfob_testbed.crds import install_crds
from keyfob_testbed.envtest import TestCluster
from keyfob_testbed.moto_peer import MotoPeer

from .audit import AuditLog
from .cluster import start_audited_cluster

REQUESTS = "accesskeyrequests"
PROVIDERS = "accesskeyproviders"
BUCKET = "bench-data"
ADMIN_SECRET = "aws-admin"
PROVIDER = "aws"
USER_AGENT = "keyfob-bench"


def request_spec(name: str, **overrides: Any) -> dict[str, Any]:
    """The request every scenario applies: one bucket, three permissions, 24h keys, env-format Secret."""
    spec: dict[str, Any] = {
        "providerRef": {"name": PROVIDER},
        "buckets": [{"name": BUCKET}],
        "permissions": ["read", "write", "list"],
        "ttl": "24h",
        "secretName": f"{name}-s3",
    }
    spec.update(overrides)
    return spec


def request_body(name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "AccessKeyRequest", "metadata": meta, "spec": spec}


@dataclass
class Bed:
    run_dir: Path
    cluster: TestCluster
    audit: AuditLog
    moto: MotoPeer
    timings: dict[str, float] = field(default_factory=dict)

    # -- clients ------------------------------------------------------------------------------------------------
    def api_client(self, role: str) -> Any:
        """A kubernetes ApiClient whose User-Agent names the bench role, so the audit log tells it apart."""
        api = self.cluster.api_client()
        api.user_agent = f"{USER_AGENT}/{role}"
        api.configuration.connection_pool_maxsize = 32
        return api

    def clients(self, role: str) -> tuple[Any, Any]:
        from kubernetes import client

        api = self.api_client(role)
        return client.CoreV1Api(api), client.CustomObjectsApi(api)

    # -- objects ------------------------------------------------------------------------------------------------
    def namespace(self, name: str) -> str:
        from kubernetes import client

        core, _ = self.clients("setup")
        try:
            core.create_namespace({"metadata": {"name": name}})
        except client.ApiException as err:
            if err.status != 409:
                raise
        return name

    def aws_provider(self, namespace: str, iam_endpoint: str | None = None) -> None:
        """Admin Secret + AccessKeyProvider ``aws`` at moto (or at ``iam_endpoint``, e.g. the throttling proxy)."""
        core, custom = self.clients("setup")
        core.create_namespaced_secret(
            namespace,
            {
                "metadata": {"name": ADMIN_SECRET},
                "stringData": {
                    "AWS_ACCESS_KEY_ID": self.moto.admin_access_key,
                    "AWS_SECRET_ACCESS_KEY": self.moto.admin_secret_key,
                },
            },
        )
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "AccessKeyProvider",
            "metadata": {"name": PROVIDER},
            "spec": {
                "aws": {
                    "iamEndpoint": iam_endpoint or self.moto.endpoint,
                    "s3Endpoint": self.moto.endpoint,
                    "credentialsSecretRef": {"name": ADMIN_SECRET},
                }
            },
        }
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PROVIDERS, body)

    def list_requests(self, namespace: str) -> list[dict[str, Any]]:
        _, custom = self.clients("observer")
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, REQUESTS, limit=500, _continue=token
            )
            items.extend(page["items"])
            token = page["metadata"].get("continue")
            if not token:
                return items

    def pids(self, **extra: int) -> dict[str, int]:
        """The processes whose CPU the bench accounts for: the control plane, moto, this process, ``extra``."""
        import os

        pids = {p.name: p.pid for p in self.cluster.processes}
        moto_proc = getattr(self.moto, "_proc", None)  # the test bed keeps moto's ManagedProcess private
        if moto_proc is not None:
            pids["moto"] = moto_proc.pid
        pids["bench"] = os.getpid()
        pids.update(extra)
        return pids


@contextlib.contextmanager
def bed(run_dir: Path) -> Iterator[Bed]:
    t0 = time.monotonic()
    cluster, audit_path = start_audited_cluster(run_dir)
    moto: MotoPeer | None = None
    try:
        timings = {"cluster_start_s": time.monotonic() - t0}
        moto = MotoPeer()
        moto.client("s3").create_bucket(Bucket=BUCKET)
        install_crds(cluster.api_client())
        timings["ready_s"] = time.monotonic() - t0
        yield Bed(run_dir, cluster, AuditLog(audit_path), moto, timings)
    finally:
        if moto is not None:
            with contextlib.suppress(Exception):
                moto.stop()
        cluster.stop()
