"""pytest fixtures that run keyfob against the test bed: CRDs installed, the operator running as a process
(DEBUG logs in a file), a moto-backed AccessKeyProvider per test namespace, and a leak check that fails a test
whose issued secrets show up anywhere in the operator's log."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .crds import install_crds
from .moto_peer import MotoPeer
from .objects import Objects
from .operator_process import OperatorProcess

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from .envtest import TestCluster


@dataclass
class LeakWatch:
    """Secret values a test saw; the operator log must contain none of them, in any encoding."""

    values: set[str] = field(default_factory=set)
    parent: LeakWatch | None = None

    def add(self, value: str) -> None:
        self.values.add(value)
        if self.parent is not None:
            self.parent.add(value)

    def add_secret_data(self, data: dict[str, str]) -> None:
        for key in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            if key in data:
                self.add(data[key])

    def found_in(self, text: str) -> list[str]:
        hits = []
        for value in self.values:
            encoded = base64.b64encode(value.encode()).decode()
            if value in text or encoded in text:
                hits.append(value[:4] + "…")
        return hits


@pytest.fixture(scope="session")
def keyfob_crds(kube_api: ApiClient) -> None:
    install_crds(kube_api)


@pytest.fixture(scope="session")
def operator_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keyfob-operator")


@pytest.fixture(scope="session")
def session_secrets() -> LeakWatch:
    """Every secret any test saw during the session."""
    return LeakWatch()


@pytest.fixture(scope="session")
def keyfob_operator(
    test_cluster: TestCluster, keyfob_crds: None, operator_log_dir: Path, session_secrets: LeakWatch
) -> Iterator[OperatorProcess]:
    """One operator for the session, watching all namespaces, at DEBUG. At the end, everything every operator
    process logged during the session is scanned for every secret issued during the session."""
    operator = OperatorProcess(test_cluster.kubeconfig, operator_log_dir / "operator.log").start()
    try:
        yield operator
    finally:
        operator.stop()
        logs = "".join(p.read_text(errors="replace") for p in sorted(operator_log_dir.glob("*.log")))
        hits = session_secrets.found_in(logs)
        assert not hits, f"secret material found in the operator logs of the session: {hits}"


@pytest.fixture
def leak_watch(keyfob_operator: OperatorProcess, session_secrets: LeakWatch) -> Iterator[LeakWatch]:
    watch = LeakWatch(parent=session_secrets)
    yield watch
    hits = watch.found_in(keyfob_operator.log_text())
    assert not hits, f"secret material found in the operator log: {hits}"


@dataclass
class AwsSetup:
    objects: Objects
    moto: MotoPeer
    provider: str
    bucket: str
    other_bucket: str

    def request_spec(self, secret_name: str, **overrides: Any) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "providerRef": {"name": self.provider},
            "buckets": [{"name": self.bucket}],
            "permissions": ["read", "write", "list"],
            "ttl": "1h",
            "secretName": secret_name,
        }
        spec.update(overrides)
        return spec

    def iam_users(self) -> list[dict[str, Any]]:
        pages = self.moto.client("iam").get_paginator("list_users").paginate(PathPrefix="/keyfob/")
        return [u for page in pages for u in page["Users"]]

    def users_for(self, uid: str) -> list[str]:
        return [u["UserName"] for u in self.iam_users() if uid in u["UserName"]]


def delete_requests_and_wait(objects: Objects, timeout: float = 90) -> None:
    """Delete every AccessKeyRequest in the namespace while its provider still exists, and wait until the operator
    has revoked them (a namespace deletion would remove the provider and its admin Secret at the same time)."""
    from keyfob.api.vocabulary import GROUP, VERSION

    from .objects import REQUESTS
    from .waiting import wait_for

    def remaining() -> list[str]:
        items = objects.custom.list_namespaced_custom_object(GROUP, VERSION, objects.namespace, REQUESTS)["items"]
        return [item["metadata"]["name"] for item in items]

    for name in remaining():
        try:
            objects.delete_request(name)
        except objects.api_exception as err:
            if err.status != 404:
                raise
    wait_for(lambda: not remaining(), timeout, 0.2, f"requests in {objects.namespace} revoked and deleted")


@pytest.fixture
def aws_setup(
    namespace: str, kube_api: ApiClient, moto_peer: MotoPeer, keyfob_operator: OperatorProcess
) -> Iterator[AwsSetup]:
    """In the test namespace: an admin Secret, an AccessKeyProvider `aws` at moto, two fresh buckets."""
    objects = Objects(kube_api, namespace)
    suffix = secrets.token_hex(4)
    bucket, other = f"data-{suffix}", f"other-{suffix}"
    admin_s3 = moto_peer.client("s3")
    for name in (bucket, other):
        admin_s3.create_bucket(Bucket=name)
    objects.admin_secret(
        "aws-admin",
        {"AWS_ACCESS_KEY_ID": moto_peer.admin_access_key, "AWS_SECRET_ACCESS_KEY": moto_peer.admin_secret_key},
    )
    objects.provider(
        "aws",
        {
            "aws": {
                "iamEndpoint": moto_peer.endpoint,
                "s3Endpoint": moto_peer.endpoint,
                "credentialsSecretRef": {"name": "aws-admin"},
            }
        },
    )
    yield AwsSetup(objects, moto_peer, "aws", bucket, other)
    delete_requests_and_wait(objects)


class OperatorFactory:
    """Start operators scoped to one namespace with extra settings, while the session operator is paused."""

    def __init__(self, kubeconfig: Path, log_dir: Path, namespace: str) -> None:
        self.kubeconfig = kubeconfig
        self.log_dir = log_dir
        self.namespace = namespace
        self.started: list[OperatorProcess] = []

    def start(self, kubeconfig: Path | None = None, log_format: str = "text", **env: str) -> OperatorProcess:
        """An operator for this namespace; `kubeconfig` runs it under another identity (e.g. the chart's SA)."""
        log = self.log_dir / f"operator-{self.namespace}-{len(self.started)}.log"
        defaults = {"KEYFOB_SWEEP_INITIAL_DELAY": "3600"}
        process = OperatorProcess(
            kubeconfig or self.kubeconfig, log, env={**defaults, **env}, namespaces=(self.namespace,),
            log_format=log_format,
        ).start()
        self.started.append(process)
        return process

    def logs(self) -> str:
        return "".join(p.log_text() for p in self.started)

    def stop_all(self) -> None:
        for process in self.started:
            process.stop()


@pytest.fixture
def exclusive_operator(
    keyfob_operator: OperatorProcess, test_cluster: TestCluster, operator_log_dir: Path, namespace: str,
    leak_watch: LeakWatch,
) -> Iterator[OperatorFactory]:
    """For tests that kill, restart or reconfigure the operator: the session operator is stopped meanwhile."""
    keyfob_operator.stop()
    factory = OperatorFactory(test_cluster.kubeconfig, operator_log_dir, namespace)
    try:
        yield factory
    finally:
        factory.stop_all()
        hits = leak_watch.found_in(factory.logs())
        keyfob_operator.start()
        assert not hits, f"secret material found in the operator log: {hits}"
