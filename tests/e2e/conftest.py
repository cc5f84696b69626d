"""Fixtures of the e2e tier: a real node (or KEYFOB_TEST_KUBECONFIG's cluster), moto reachable from pods, and
keyfob installed with `helm install` running as a pod under its own ServiceAccount.

Where the host cannot run the node, every e2e test skips with a one-line reason; with KEYFOB_E2E_REQUIRED=1
(CI sets it) that reason is a failure instead.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keyfob_testbed.binaries import ENV_KUBECONFIG
from keyfob_testbed.e2e import (
    ENV_REQUIRED,
    Release,
    Target,
    existing_target,
    helm_install,
    helm_uninstall,
    node_target,
    wait_ready_pod,
)
from keyfob_testbed.moto_peer import MotoPeer
from keyfob_testbed.node import E2ECluster, NodeUnavailable, start_e2e_cluster, unavailable_reason
from keyfob_testbed.objects import Objects
from keyfob_testbed.operator_fixtures import LeakWatch
from keyfob_testbed.ports import free_ports

RELEASE, RELEASE_NAMESPACE = "kf-e2e", "keyfob-e2e"
DEPLOY_OPERATOR = "system:serviceaccount:keyfob-system:keyfob"  # what `kubectl apply -k deploy/` runs as
#: The operator's settings in the test bed: short ticks so grace periods end on time, a bounded pool.
OPERATOR_ENV = {"KEYFOB_MAX_WORKERS": "4", "KEYFOB_SWEEP_INITIAL_DELAY": "3600"}
TIMINGS: dict[str, float] = {}


def _unavailable(reason: str) -> None:
    if os.environ.get(ENV_REQUIRED):
        pytest.fail(f"e2e node expected to work here ({ENV_REQUIRED}=1): {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def e2e_target() -> Iterator[Target]:
    kubeconfig = os.environ.get(ENV_KUBECONFIG, "").strip()
    if kubeconfig:
        target = existing_target(Path(kubeconfig))
        try:
            yield target
        finally:
            target.close()
        return
    reason = unavailable_reason()
    if reason:
        _unavailable(reason)
    started = time.monotonic()
    try:
        node: E2ECluster = start_e2e_cluster()
    except NodeUnavailable as exc:
        _unavailable(str(exc).splitlines()[0])
        raise
    TIMINGS.update({f"node_{k}": v for k, v in node.timings.items()})
    TIMINGS["node_start"] = time.monotonic() - started
    target = node_target(node)
    try:
        yield target
    finally:
        target.close()
        node.stop()


@pytest.fixture(scope="session")
def e2e_moto(e2e_target: Target) -> Iterator[MotoPeer]:
    peer = MotoPeer(host=e2e_target.peer_host)
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture(scope="session")
def e2e_secrets() -> LeakWatch:
    return LeakWatch()


@pytest.fixture(scope="session")
def keyfob_release(e2e_target: Target, e2e_secrets: LeakWatch) -> Iterator[Release]:
    """helm install of helm/keyfob; at the end every operator pod's log is scanned for every issued secret."""
    liveness, metrics = free_ports(2)
    started = time.monotonic()
    # The release's admission policy lets only its own operator write status; the deploy/ operator of
    # test_kubectl_apply_k (keyfob-system/keyfob) is a second operator of the same cluster, listed as the README
    # says for several releases.
    release = helm_install(e2e_target, release=RELEASE, namespace=RELEASE_NAMESPACE, liveness_port=liveness,
                           metrics_port=metrics, env=OPERATOR_ENV,
                           values=["--set-json", f"admission.operatorUsernames={json.dumps([DEPLOY_OPERATOR])}"])
    wait_ready_pod(e2e_target, RELEASE_NAMESPACE, release.selector, timeout=240)
    TIMINGS["helm_install_to_ready"] = time.monotonic() - started
    try:
        yield release
    finally:
        logs = e2e_target.pod_log(RELEASE_NAMESPACE, "*") if e2e_target.node else ""
        helm_uninstall(e2e_target, release)
        hits = e2e_secrets.found_in(logs)
        assert not hits, f"secret material found in the operator pods' logs: {hits}"


class AwsWorld:
    """A namespace with an admin Secret, an AccessKeyProvider at moto and two fresh buckets."""

    def __init__(self, target: Target, moto: MotoPeer, namespace: str) -> None:
        self.target, self.moto, self.namespace = target, moto, namespace
        self.objects = Objects(target.api(), namespace)
        suffix = secrets.token_hex(4)
        self.bucket, self.other_bucket = f"e2e-{suffix}", f"e2e-other-{suffix}"
        for name in (self.bucket, self.other_bucket):
            moto.client("s3").create_bucket(Bucket=name)
        self.objects.admin_secret("aws-admin", {"AWS_ACCESS_KEY_ID": moto.admin_access_key,
                                                "AWS_SECRET_ACCESS_KEY": moto.admin_secret_key})
        self.objects.provider("aws", {"aws": {"iamEndpoint": moto.endpoint, "s3Endpoint": moto.endpoint,
                                              "credentialsSecretRef": {"name": "aws-admin"}}})

    def request_spec(self, secret_name: str, **overrides: Any) -> dict[str, Any]:
        spec: dict[str, Any] = {"providerRef": {"name": "aws"}, "buckets": [{"name": self.bucket}],
                                "permissions": ["read", "write", "list"], "ttl": "1h", "secretName": secret_name}
        spec.update(overrides)
        return spec

    def keyfob_users(self) -> list[dict[str, Any]]:
        pages = self.moto.client("iam").get_paginator("list_users").paginate(PathPrefix="/keyfob/")
        return [u for page in pages for u in page["Users"]]


@pytest.fixture
def e2e_namespace(e2e_target: Target, request: pytest.FixtureRequest) -> Iterator[str]:
    from kubernetes import client

    from keyfob_testbed.pytest_plugin import namespace_name

    core = client.CoreV1Api(e2e_target.api())
    name = namespace_name(request.node.name)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


@pytest.fixture
def aws_world(
    e2e_target: Target, e2e_moto: MotoPeer, keyfob_release: Release, e2e_namespace: str
) -> Iterator[AwsWorld]:
    from keyfob_testbed.operator_fixtures import delete_requests_and_wait

    world = AwsWorld(e2e_target, e2e_moto, e2e_namespace)
    yield world
    delete_requests_and_wait(world.objects, timeout=120)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.write_line(
            "e2e timings: " + ", ".join(f"{k}={v:.1f}s" for k, v in sorted(TIMINGS.items()))
        )
