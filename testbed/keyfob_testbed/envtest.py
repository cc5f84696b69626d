"""A real Kubernetes control plane for tests: etcd + kube-apiserver + kube-controller-manager on loopback.

Use :func:`start_cluster`, which picks the source (existing cluster, KUBEBUILDER_ASSETS, cached Go build)
as described in :mod:`keyfob_testbed.binaries`.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import shutil
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from . import binaries as _binaries
from .certs import CertificateAuthority, service_account_key_pair, write_private
from .kubeconfig import read_target, render_kubeconfig, write_kubeconfig
from .ports import LOOPBACK, free_ports
from .processes import ManagedProcess, stop_all
from .waiting import wait_for
from .workdirs import make_workdir, sweep_stale_workdirs

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

ADMIN_USER = "keyfob-admin"
ADMIN_GROUP = "system:masters"
# clusterrole-aggregation fills the built-in edit/admin/view roles from labelled ClusterRoles (the chart's tenant
# roles aggregate into them, and the hostile-tenant tests bind the built-in `edit`); the admission policy status
# controller type-checks ValidatingAdmissionPolicies against the CRD schema (status.typeChecking).
CONTROLLERS = (
    "garbage-collector-controller,namespace-controller,clusterrole-aggregation-controller,"
    "validatingadmissionpolicy-status-controller"
)
TEMP_PREFIX = "keyfob-envtest-"
ENV_KEEP = "KEYFOB_TESTBED_KEEP"

ETCD_READY_TIMEOUT = 30.0
APISERVER_READY_TIMEOUT = 90.0
DEFAULT_NAMESPACE_TIMEOUT = 30.0
START_ATTEMPTS = 3


@dataclass(frozen=True)
class ControlPlaneOptions:
    """How the API server and controller manager run. The default is the integration tier's (no pods run);
    the e2e tier (:mod:`keyfob_testbed.node`) adds the Node authorizer, ServiceAccount admission and the
    controllers that make Deployments, ReplicaSets and ServiceAccount tokens work."""

    authorization_modes: str = "RBAC"
    admission: tuple[str, ...] = ("--disable-admission-plugins=ServiceAccount",)
    controllers: str = CONTROLLERS
    #: Extra controller-manager arguments; ``{pki}`` is replaced by the PKI directory.
    controller_manager_args: tuple[str, ...] = ()


class ClusterStartError(RuntimeError):
    """The control plane did not come up; the message carries the tail of the failing log."""


class TestCluster:
    """A Kubernetes API server to test against; a context manager that stops it on exit.

    ``source`` is ``existing`` (nothing was started; :meth:`stop` is a no-op), ``assets`` or ``build``.
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(
        self,
        *,
        kubeconfig: Path,
        server: str,
        ca_pem: bytes | None,
        source: str,
        has_controller_manager: bool,
        workdir: Path | None = None,
        processes: list[ManagedProcess] | None = None,
        timings: Mapping[str, float] | None = None,
        ca: CertificateAuthority | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.server = server
        self.ca_pem = ca_pem
        self.source = source
        self.has_controller_manager = has_controller_manager
        self.workdir = workdir
        self.processes: list[ManagedProcess] = list(processes or [])
        self.timings: dict[str, float] = dict(timings or {})
        #: The run's throwaway CA (None for an existing cluster): the e2e node issues its kubelet's certs with it.
        self.ca = ca
        self._stopped = False
        self._lock = threading.Lock()
        _clusters.add(self)

    # -- clients -------------------------------------------------------------------------------------
    def api_client(self) -> ApiClient:
        """A new ``kubernetes.client.ApiClient`` for the admin (``system:masters``)."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig), persist_config=False)

    def logs(self) -> dict[str, Path]:
        return {proc.name: proc.log_path for proc in self.processes}

    def assert_alive(self) -> None:
        """Raise :class:`ClusterStartError` with the log tail if a control-plane process has exited."""
        for proc in self.processes:
            if not proc.alive():
                raise ClusterStartError(f"{proc.name} exited with {proc.returncode}:\n{proc.log_tail()}")

    # -- faults --------------------------------------------------------------------------------------
    def stop_apiserver(self, timeout: float = 15.0) -> float:
        """Stop kube-apiserver alone (SIGTERM, SIGKILL after ``timeout``); etcd keeps the data. Returns the
        seconds it took."""
        t0 = time.monotonic()
        self._apiserver().stop(timeout)
        return time.monotonic() - t0

    def start_apiserver(self, timeout: float = APISERVER_READY_TIMEOUT) -> float:
        """Start kube-apiserver again with its original command line (same port, same etcd) and wait for
        ``/readyz``; returns the seconds that took."""
        old = self._apiserver()
        if old.alive():
            raise RuntimeError("kube-apiserver is still running: stop_apiserver() first")
        assert self.workdir is not None
        t0 = time.monotonic()
        new = ManagedProcess(old.name, old.argv, old.log_path)
        self.processes[self.processes.index(old)] = new
        port = int(self.server.rsplit(":", 1)[1])
        ssl_ctx = _client_ssl_context(self.workdir / "pki")
        _await_ready(new, lambda: _http_ok(LOOPBACK, port, "/readyz", ssl_ctx), timeout)
        return time.monotonic() - t0

    def restart_apiserver(self) -> float:
        """Stop and start kube-apiserver; returns the seconds it was unreachable."""
        t0 = time.monotonic()
        self.stop_apiserver()
        self.start_apiserver()
        return time.monotonic() - t0

    def _apiserver(self) -> ManagedProcess:
        if self.source == "existing":
            raise RuntimeError("an existing cluster's API server cannot be restarted by the test bed")
        return next(p for p in self.processes if p.name == "kube-apiserver")

    # -- lifecycle -----------------------------------------------------------------------------------
    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the processes (SIGTERM, then SIGKILL after ``timeout``) and remove the temp state."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            started = time.monotonic()
            # The controller manager and the API server first (in parallel), etcd last.
            front = [p for p in self.processes if p.name != "etcd"]
            back = [p for p in self.processes if p.name == "etcd"]
            try:
                stop_all(front, timeout=timeout)
                stop_all(back, timeout=timeout)
            finally:
                self.timings["stop"] = time.monotonic() - started
                if self.workdir is not None and not os.environ.get(ENV_KEEP):
                    shutil.rmtree(self.workdir, ignore_errors=True)
                _clusters.discard(self)

    def __enter__(self) -> TestCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<TestCluster {self.source} {self.server}{' stopped' if self._stopped else ''}>"


_clusters: set[TestCluster] = set()


@atexit.register
def _stop_clusters() -> None:
    for cluster in list(_clusters):
        with contextlib.suppress(Exception):
            cluster.stop(timeout=5.0)


# -- starting ----------------------------------------------------------------------------------------
def start_cluster(env: Mapping[str, str] | None = None) -> TestCluster:
    """Start (or attach to) a cluster from the first available source; see :func:`select_source`."""
    env = os.environ if env is None else env
    source = _binaries.select_source(env)
    if source.kind == "existing":
        return attach_cluster(source.path)
    bins = _binaries.ensure_binaries(source, env)
    assert bins is not None
    return launch_cluster(bins)


def attach_cluster(kubeconfig: Path) -> TestCluster:
    """Use an existing cluster as-is; nothing is started and :meth:`TestCluster.stop` is a no-op."""
    target = read_target(kubeconfig)
    return TestCluster(
        kubeconfig=kubeconfig,
        server=target.server,
        ca_pem=target.ca_pem,
        source="existing",
        has_controller_manager=True,
    )


def launch_cluster(bins: _binaries.Binaries, options: ControlPlaneOptions | None = None) -> TestCluster:
    """Start etcd, kube-apiserver and (if available) kube-controller-manager from ``bins``."""
    sweep_stale_workdirs()
    last_error: ClusterStartError | None = None
    for _attempt in range(START_ATTEMPTS):
        try:
            return _launch_once(bins, options or ControlPlaneOptions())
        except _PortTaken as exc:
            last_error = ClusterStartError(str(exc))
    assert last_error is not None
    raise last_error


class _PortTaken(ClusterStartError):
    pass


def _launch_once(bins: _binaries.Binaries, options: ControlPlaneOptions) -> TestCluster:
    t0 = time.monotonic()
    workdir = make_workdir(TEMP_PREFIX)
    processes: list[ManagedProcess] = []
    cluster: TestCluster | None = None
    try:
        timings: dict[str, float] = {}
        pki = workdir / "pki"
        pki.mkdir(mode=0o700)
        ca = CertificateAuthority()
        serving = ca.issue("kube-apiserver", server=True, ips=(LOOPBACK,), dns_names=("localhost",))
        admin = ca.issue(ADMIN_USER, organizations=(ADMIN_GROUP,), client=True)
        sa = service_account_key_pair()
        (pki / "ca.crt").write_bytes(ca.cert_pem)
        (pki / "apiserver.crt").write_bytes(serving.cert_pem)
        write_private(pki / "apiserver.key", serving.key_pem)
        (pki / "admin.crt").write_bytes(admin.cert_pem)
        write_private(pki / "admin.key", admin.key_pem)
        (pki / "sa.pub").write_bytes(sa.cert_pem)
        write_private(pki / "sa.key", sa.key_pem)
        timings["certs"] = time.monotonic() - t0

        etcd_client, etcd_peer, etcd_metrics, secure_port = free_ports(4)
        server = f"https://{LOOPBACK}:{secure_port}"
        kubeconfig = write_kubeconfig(
            workdir / "admin.kubeconfig",
            render_kubeconfig(
                server=server,
                ca_pem=ca.cert_pem,
                user=ADMIN_USER,
                client_cert_pem=admin.cert_pem,
                client_key_pem=admin.key_pem,
            ),
        )

        # etcd
        t = time.monotonic()
        etcd = ManagedProcess(
            "etcd",
            [
                str(bins.etcd),
                "--name=envtest",
                f"--data-dir={workdir / 'etcd'}",
                f"--listen-client-urls=http://{LOOPBACK}:{etcd_client}",
                f"--advertise-client-urls=http://{LOOPBACK}:{etcd_client}",
                f"--listen-peer-urls=http://{LOOPBACK}:{etcd_peer}",
                f"--initial-advertise-peer-urls=http://{LOOPBACK}:{etcd_peer}",
                f"--initial-cluster=envtest=http://{LOOPBACK}:{etcd_peer}",
                f"--listen-metrics-urls=http://{LOOPBACK}:{etcd_metrics}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            workdir / "etcd.log",
        )
        processes.append(etcd)
        _await_ready(etcd, lambda: _http_ok(LOOPBACK, etcd_client, "/health"), ETCD_READY_TIMEOUT)
        timings["etcd_ready"] = time.monotonic() - t

        # kube-apiserver
        t = time.monotonic()
        apiserver = ManagedProcess(
            "kube-apiserver",
            [
                str(bins.kube_apiserver),
                f"--etcd-servers=http://{LOOPBACK}:{etcd_client}",
                f"--bind-address={LOOPBACK}",
                f"--advertise-address={LOOPBACK}",
                f"--secure-port={secure_port}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--cert-dir={workdir / 'apiserver-certs'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                "--service-cluster-ip-range=10.0.0.0/24",
                f"--service-account-issuer={server}/",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--authorization-mode={options.authorization_modes}",
                "--allow-privileged=true",
                *options.admission,
                "--profiling=false",
            ],
            workdir / "kube-apiserver.log",
        )
        processes.append(apiserver)
        ssl_ctx = _client_ssl_context(pki)
        _await_ready(
            apiserver,
            lambda: _http_ok(LOOPBACK, secure_port, "/readyz", ssl_ctx),
            APISERVER_READY_TIMEOUT,
        )
        timings["apiserver_ready"] = time.monotonic() - t

        # kube-controller-manager (garbage collection, namespace deletion, ClusterRole aggregation)
        if bins.kube_controller_manager is not None:
            kcm = ManagedProcess(
                "kube-controller-manager",
                [
                    str(bins.kube_controller_manager),
                    f"--kubeconfig={kubeconfig}",
                    f"--controllers={options.controllers}",
                    *(arg.replace("{pki}", str(pki)) for arg in options.controller_manager_args),
                    "--leader-elect=false",
                    "--secure-port=0",
                    "--use-service-account-credentials=false",
                    "--profiling=false",
                ],
                workdir / "kube-controller-manager.log",
            )
            processes.append(kcm)

        # The `default` namespace is created by a loop in the API server shortly after /readyz.
        t = time.monotonic()
        wait_for(
            lambda: _http_ok(LOOPBACK, secure_port, "/api/v1/namespaces/default", ssl_ctx),
            DEFAULT_NAMESPACE_TIMEOUT,
            0.05,
            "the `default` namespace to exist",
        )
        timings["default_namespace"] = time.monotonic() - t
        timings["total"] = time.monotonic() - t0

        candidate = TestCluster(
            kubeconfig=kubeconfig,
            server=server,
            ca_pem=ca.cert_pem,
            source=bins.origin,
            has_controller_manager=bins.kube_controller_manager is not None,
            workdir=workdir,
            processes=processes,
            timings=timings,
            ca=ca,
        )
        try:
            candidate.assert_alive()
        except BaseException:
            candidate.stop(timeout=5.0)
            raise
        cluster = candidate
        return cluster
    finally:
        if cluster is None:
            stop_all(processes, timeout=5.0)
            if not os.environ.get(ENV_KEEP):
                shutil.rmtree(workdir, ignore_errors=True)


def _client_ssl_context(pki: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    return ctx


def _http_ok(host: str, port: int, path: str, ssl_ctx: ssl.SSLContext | None = None) -> bool:
    conn: http.client.HTTPConnection
    if ssl_ctx is None:
        conn = http.client.HTTPConnection(host, port, timeout=2)
    else:
        conn = http.client.HTTPSConnection(host, port, timeout=2, context=ssl_ctx)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _await_ready(proc: ManagedProcess, probe: Callable[[], bool], timeout: float) -> None:
    def ready() -> bool:
        if not proc.alive():
            tail = proc.log_tail()
            if "address already in use" in tail:
                raise _PortTaken(f"{proc.name}: a port was taken meanwhile:\n{tail}")
            raise ClusterStartError(f"{proc.name} exited with {proc.returncode}:\n{tail}")
        return probe()

    deadline = time.monotonic() + timeout
    while True:
        if ready():  # start-up errors propagate at once instead of being retried
            return
        if time.monotonic() >= deadline:
            raise ClusterStartError(f"{proc.name} not ready after {timeout:g}s:\n{proc.log_tail()}")
        time.sleep(0.05)
