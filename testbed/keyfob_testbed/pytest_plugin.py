"""pytest fixtures for the test bed. Register with ``pytest_plugins = ["keyfob_testbed.pytest_plugin"]``.

Fixtures: ``test_cluster`` (session), ``kube_api`` (session, admin ApiClient), ``namespace`` (function,
a fresh namespace deleted afterwards), ``moto_peer`` (session), ``kubectl`` (function, runs kubectl with the
test kubeconfig; skips when kubectl is missing). Nothing starts unless a test asks for a fixture.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from .envtest import TestCluster, start_cluster
from .moto_peer import MotoPeer

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


class Kubectl(Protocol):
    def __call__(
        self,
        *args: str,
        kubeconfig: Path | None = None,
        check: bool = True,
        input: str | None = None,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]: ...


# -- SIGTERM -> KeyboardInterrupt, so a terminated pytest still runs fixture teardown -------------------
_previous_sigterm: Any = None


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    global _previous_sigterm
    if threading.current_thread() is threading.main_thread():
        current = signal.getsignal(signal.SIGTERM)
        if current in (signal.SIG_DFL, None):
            _previous_sigterm = current
            signal.signal(signal.SIGTERM, _sigterm)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _previous_sigterm
    if _previous_sigterm is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _previous_sigterm)
        _previous_sigterm = None


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def test_cluster() -> Iterator[TestCluster]:
    """The API server for this session (see :func:`keyfob_testbed.start_cluster` for the source order)."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def kube_api(test_cluster: TestCluster) -> Iterator[ApiClient]:
    """A ``kubernetes.client.ApiClient`` for the admin (``system:masters``)."""
    api = test_cluster.api_client()
    try:
        yield api
    finally:
        api.close()


def namespace_name(test_name: str, suffix: str | None = None) -> str:
    """A valid, unique namespace name (DNS label) derived from a test name."""
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:40].strip("-") or "test"
    return f"kf-{slug}-{suffix or secrets.token_hex(3)}"


@pytest.fixture
def namespace(test_cluster: TestCluster, kube_api: ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A freshly created namespace; deleted (without waiting) after the test."""
    from kubernetes import client

    test_cluster.assert_alive()  # a dead controller manager would otherwise only show up as timeouts
    core = client.CoreV1Api(kube_api)
    name = namespace_name(request.node.name)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise


@pytest.fixture(scope="session")
def moto_peer() -> Iterator[MotoPeer]:
    """moto (IAM + S3) in a subprocess with IAM authorization enforced; see :class:`MotoPeer`."""
    peer = MotoPeer()
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def kubectl(test_cluster: TestCluster, tmp_path: Path) -> Kubectl:
    """``kubectl(*args, kubeconfig=None, check=True, input=None)`` -> CompletedProcess (text).

    Uses the admin kubeconfig unless ``kubeconfig`` is given, and a private discovery cache.
    """
    exe = shutil.which("kubectl")
    if exe is None:
        pytest.skip("kubectl is not on PATH")
    cache_dir = tmp_path / "kubectl-cache"
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}

    def run(
        *args: str,
        kubeconfig: Path | None = None,
        check: bool = True,
        input: str | None = None,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        argv: Sequence[str] = [
            exe,
            f"--kubeconfig={kubeconfig or test_cluster.kubeconfig}",
            f"--cache-dir={cache_dir}",
            *args,
        ]
        result = subprocess.run(
            argv, input=input, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    return run
