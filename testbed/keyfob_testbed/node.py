"""A real node for the e2e tier: the test bed's control plane (with the Node authorizer, ServiceAccount
admission, the deployment / replicaset / service-account controllers and a kube-scheduler) plus a kubelet on a
private containerd + runc, pods on host networking over loopback.

What it takes on our machines (hybrid cgroup v1, root without CAP_SYS_RESOURCE, no systemd): kubelet
``failCgroupV1: false``, ``cgroupDriver: cgroupfs``, ``cgroupsPerQOS: false``, ``enforceNodeAllocatable: []``;
see :mod:`keyfob_testbed.containerd` for containerd's side. The kubelet serves on 127.0.0.1 only and the node's
IP cannot be loopback, so the API server cannot reach the kubelet: no ``kubectl logs``/``exec``. Tests judge
pods by status and exit codes, or read the pod log files the kubelet writes under :attr:`E2ECluster.pod_logs_dir`.

Everything is started by :func:`start_e2e_cluster` and stopped by PID (:meth:`E2ECluster.stop`): the kubelet,
then every container (by containerd), containerd, the scheduler, the control plane; then the mounts the kubelet
made under the work directory are unmounted and the directory removed. :func:`unavailable_reason` says in one
line why a host cannot run it.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import yaml

from . import binaries as _binaries
from . import images as _images
from .certs import write_private
from .containerd import Containerd, missing_node_tools, start_containerd
from .envtest import ControlPlaneOptions, TestCluster, launch_cluster
from .kubeconfig import render_kubeconfig, write_kubeconfig
from .ports import LOOPBACK, free_ports
from .processes import ManagedProcess, stop_all
from .waiting import wait_for
from .workdirs import OWNER_FILE, make_workdir, pid_alive

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

NODE_NAME = "keyfob-e2e-node"
TEMP_PREFIX = "keyfob-node-"
ENV_KEEP = "KEYFOB_TESTBED_KEEP"
#: How often the kubelet resyncs pods, and so how soon a changed Secret reaches a mounted file (~1.5x this).
SYNC_FREQUENCY = "10s"
NODE_READY_TIMEOUT = 120.0
#: The kubelet keeps some state at fixed paths (/var/lib/kubelet/device-plugins/kubelet.sock), so one e2e node
#: runs per machine at a time: a second run waits for this lock.
NODE_LOCK = Path("/run/keyfob-e2e-node.lock")
NODE_LOCK_TIMEOUT = 1800.0

E2E_CONTROLLERS = ",".join(
    (
        "garbage-collector-controller",
        "namespace-controller",
        "deployment-controller",
        "replicaset-controller",
        "serviceaccount-controller",
        "serviceaccount-token-controller",
        "root-ca-certificate-publisher-controller",
        "endpointslice-controller",
        "node-lifecycle-controller",  # lifts the not-ready taint the kubelet registers with
    )
)
E2E_OPTIONS = ControlPlaneOptions(
    authorization_modes="Node,RBAC",
    admission=("--enable-admission-plugins=NodeRestriction",),
    controllers=E2E_CONTROLLERS,
    controller_manager_args=(
        "--service-account-private-key-file={pki}/sa.key",
        "--root-ca-file={pki}/ca.crt",
        "--concurrent-deployment-syncs=2",
        "--node-monitor-grace-period=40s",
    ),
)


class NodeUnavailable(RuntimeError):
    """This host cannot run the e2e node; the message says what is missing, in one line."""


def unavailable_reason() -> str | None:
    """None when this host can run the node, else one line naming what is missing."""
    if not sys.platform.startswith("linux"):
        return "the e2e node needs Linux"
    if os.geteuid() != 0:
        return "the e2e node needs root (containerd, runc and the kubelet run as root)"
    missing = missing_node_tools()
    if missing:
        return f"missing Debian packages for the e2e node: apt-get install {' '.join(missing)}"
    if not Path("/sys/fs/cgroup").is_dir() or not any(Path("/sys/fs/cgroup").iterdir()):
        return "no cgroup file system mounted at /sys/fs/cgroup"
    if shutil.which("go") is None:
        cache = _binaries.cache_root() / _binaries.kubernetes_version(_binaries.find_module_dir())
        if not all(os.access(cache / name, os.X_OK) for name in (*_binaries.BUILT, *_binaries.NODE)):
            return f"no `go` to build kubelet/kube-scheduler/pause and they are not in {cache}"
    return None


@dataclass(eq=False)
class E2ECluster:
    """The control plane, a scheduler, containerd and a kubelet; a context manager that stops them."""

    control_plane: TestCluster
    workdir: Path
    scheduler: ManagedProcess
    containerd: Containerd
    kubelet: ManagedProcess
    images: dict[str, _images.Image]
    node_name: str = NODE_NAME
    timings: dict[str, float] = field(default_factory=dict)
    _stopped: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _machine_lock: int | None = None  # fd holding NODE_LOCK

    __test__ = False

    @property
    def kubeconfig(self) -> Path:
        return self.control_plane.kubeconfig

    @property
    def api_host_port(self) -> tuple[str, int]:
        """Where pods on host networking reach the API server (``KUBERNETES_SERVICE_HOST``/``_PORT``)."""
        hostport = self.control_plane.server.removeprefix("https://")
        host, port = hostport.rsplit(":", 1)
        return host, int(port)

    @property
    def pod_logs_dir(self) -> Path:
        return self.workdir / "pod-logs"

    def api_client(self) -> ApiClient:
        return self.control_plane.api_client()

    def image(self, kind: str) -> str:
        return self.images[kind].name

    def pod_log(self, namespace: str, pod: str, container: str | None = None) -> str:
        """Everything the kubelet logged for a pod's containers (all restarts), read from its log files."""
        texts = []
        for pod_dir in sorted(self.pod_logs_dir.glob(f"{namespace}_{pod}_*")):
            for log in sorted(pod_dir.glob(f"{container or '*'}/*.log")):
                texts.append(log.read_text(errors="replace"))
        return "".join(texts)

    def assert_alive(self) -> None:
        self.control_plane.assert_alive()
        for proc in (self.scheduler, self.containerd.process, self.kubelet):
            if not proc.alive():
                raise NodeUnavailable(f"{proc.name} exited with {proc.returncode}:\n{proc.log_tail()}")

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            started = time.monotonic()
            try:
                self.kubelet.stop(timeout=10.0)
                self.containerd.stop(timeout=10.0)
                stop_all([self.scheduler], timeout=5.0)
            finally:
                self.control_plane.stop()
                unmount_below(self.workdir)
                if not os.environ.get(ENV_KEEP):
                    shutil.rmtree(self.workdir, ignore_errors=True)
                self.timings["stop"] = time.monotonic() - started
                _running.discard(self)
                if self._machine_lock is not None:
                    os.close(self._machine_lock)  # releases the flock
                    self._machine_lock = None

    def __enter__(self) -> E2ECluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


_running: set[E2ECluster] = set()


@atexit.register
def _stop_running() -> None:
    for cluster in list(_running):
        with contextlib.suppress(Exception):
            cluster.stop()


def unmount_below(directory: Path) -> None:
    """Unmount (lazily, deepest first) everything mounted under ``directory``: the kubelet's tmpfs volumes."""
    prefix = str(directory.resolve()) + os.sep
    mounts = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as fh:
        for line in fh:
            mount_point = line.split()[4].replace("\\040", " ")
            if mount_point.startswith(prefix):
                mounts.append(mount_point)
    for mount_point in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", mount_point], capture_output=True, check=False)


def sweep_stale_node_workdirs() -> list[Path]:
    """Clean up after runs that were SIGKILLed (their owner PID is gone): containerd's shims and containers are
    daemons that outlive their containerd, so kill them by the PIDs recorded in that run's state directory,
    unmount what its kubelet mounted, and remove the directory. Never touches a directory of a live run."""
    removed = []
    for candidate in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"):
        try:
            owner = int((candidate / OWNER_FILE).read_text().strip())
        except (OSError, ValueError):
            continue
        if owner == os.getpid() or pid_alive(owner):
            continue
        tasks = candidate / "containerd" / "state" / "io.containerd.runtime.v2.task"
        for pid_file in [*tasks.glob("*/*/init.pid"), *tasks.glob("*/*/shim.pid")]:
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
        unmount_below(candidate)
        shutil.rmtree(candidate, ignore_errors=True)
        removed.append(candidate)
    return removed


def kubelet_config(workdir: Path, ca_file: Path, cert: Path, key: Path, containerd: Containerd,
                   port: int, healthz_port: int) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # hybrid cgroup v1, no systemd, root without CAP_SYS_RESOURCE
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupsPerQOS": False,
        "enforceNodeAllocatable": [],
        "failSwapOn": False,
        "makeIPTablesUtilChains": False,
        "localStorageCapacityIsolation": False,
        "protectKernelDefaults": False,
        # the kubelet's server on loopback only, client certs from the run's CA
        "address": LOOPBACK,
        "port": port,
        "readOnlyPort": 0,
        "healthzBindAddress": LOOPBACK,
        "healthzPort": healthz_port,
        "tlsCertFile": str(cert),
        "tlsPrivateKeyFile": str(key),
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(ca_file)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "containerRuntimeEndpoint": containerd.endpoint,
        "podLogsDir": str(workdir / "pod-logs"),
        # Secrets reach mounted files at the next pod resync (the test bed waits on it)
        "syncFrequency": SYNC_FREQUENCY,
        "nodeStatusUpdateFrequency": "5s",
        "nodeStatusReportFrequency": "30s",
        # images are imported, never pulled: never garbage-collect them, never evict on a busy disk
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "50Mi",
            "nodefs.available": "1%",
            "nodefs.inodesFree": "1%",
            "imagefs.available": "1%",
        },
        "serializeImagePulls": False,
        "maxPods": 30,
        "staticPodPath": "",
        "resolvConf": "/etc/resolv.conf",
        "kubeAPIQPS": 50,
        "kubeAPIBurst": 100,
        "shutdownGracePeriod": "0s",
        "volumePluginDir": str(workdir / "kubelet" / "volume-plugins"),
    }


def _healthz(port: int) -> bool:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _node_ready(api: ApiClient, name: str) -> bool:
    from kubernetes import client

    try:
        node = client.CoreV1Api(api).read_node(name)
    except client.ApiException:
        return False
    ready = any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or []))
    untainted = not [t for t in (node.spec.taints or []) if t.effect in ("NoSchedule", "NoExecute")]
    return ready and untainted


def start_e2e_cluster() -> E2ECluster:
    """Build what is missing (binaries, images), start everything, and wait until the node is Ready."""
    reason = unavailable_reason()
    if reason:
        raise NodeUnavailable(reason)
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    node_bins = _binaries.ensure_node_binaries()
    source = _binaries.select_source({k: v for k, v in os.environ.items() if k != _binaries.ENV_KUBECONFIG})
    bins = _binaries.ensure_binaries(source)
    assert bins is not None
    timings["binaries"] = time.monotonic() - t0
    t = time.monotonic()
    built = _images.all_images()
    timings["images"] = time.monotonic() - t

    lock_fd = _machine_lock()
    sweep_stale_node_workdirs()
    workdir = make_workdir(TEMP_PREFIX)
    started: list[Any] = []
    try:
        t = time.monotonic()
        control_plane = launch_cluster(bins, E2E_OPTIONS)
        started.append(control_plane)
        timings["control_plane"] = time.monotonic() - t
        assert control_plane.ca is not None

        scheduler = ManagedProcess(
            "kube-scheduler",
            [str(node_bins.kube_scheduler), f"--kubeconfig={control_plane.kubeconfig}", "--leader-elect=false",
             "--secure-port=0", "--profiling=false"],
            workdir / "kube-scheduler.log",
        )
        started.append(scheduler)

        t = time.monotonic()
        containerd = start_containerd(workdir / "containerd", built["pause"].name)
        started.append(containerd)
        for image in built.values():
            containerd.import_image(image.archive, image.name)
        timings["containerd_and_imports"] = time.monotonic() - t

        t = time.monotonic()
        pki = workdir / "pki"
        pki.mkdir(mode=0o700)
        ca_file = pki / "ca.crt"
        ca_file.write_bytes(control_plane.ca.cert_pem)
        client_pair = control_plane.ca.issue(f"system:node:{NODE_NAME}", organizations=("system:nodes",),
                                             client=True)
        serving = control_plane.ca.issue(NODE_NAME, server=True, ips=(LOOPBACK,), dns_names=(NODE_NAME,))
        (pki / "kubelet.crt").write_bytes(serving.cert_pem)
        write_private(pki / "kubelet.key", serving.key_pem)
        kubeconfig = write_kubeconfig(
            workdir / "kubelet.kubeconfig",
            render_kubeconfig(server=control_plane.server, ca_pem=control_plane.ca.cert_pem,
                              user=f"system:node:{NODE_NAME}", client_cert_pem=client_pair.cert_pem,
                              client_key_pem=client_pair.key_pem),
        )
        port, healthz_port = free_ports(2)
        config = workdir / "kubelet-config.yaml"
        (workdir / "pod-logs").mkdir()
        config.write_text(yaml.safe_dump(kubelet_config(workdir, ca_file, pki / "kubelet.crt",
                                                        pki / "kubelet.key", containerd, port, healthz_port)))
        kubelet = ManagedProcess(
            "kubelet",
            [str(node_bins.kubelet), f"--config={config}", f"--kubeconfig={kubeconfig}",
             f"--root-dir={workdir / 'kubelet'}", f"--cert-dir={pki}", f"--hostname-override={NODE_NAME}",
             "--v=1"],
            workdir / "kubelet.log",
        )
        started.append(kubelet)
        api = control_plane.api_client()
        try:
            def ready() -> bool:
                for proc in (kubelet, scheduler, containerd.process):
                    if not proc.alive():
                        raise NodeUnavailable(f"{proc.name} exited with {proc.returncode}:\n{proc.log_tail()}")
                return _healthz(healthz_port) and _node_ready(api, NODE_NAME)

            _wait_or_raise(ready, NODE_READY_TIMEOUT, f"node {NODE_NAME} Ready", kubelet)
        finally:
            api.close()
        timings["kubelet_ready"] = time.monotonic() - t
        timings["total"] = time.monotonic() - t0
        cluster = E2ECluster(control_plane, workdir, scheduler, containerd, kubelet, built, timings=timings,
                             _machine_lock=lock_fd)
        _running.add(cluster)
        return cluster
    except BaseException:
        for item in reversed(started):
            with contextlib.suppress(Exception):
                item.stop() if not isinstance(item, ManagedProcess) else item.stop(timeout=5.0)
        unmount_below(workdir)
        if not os.environ.get(ENV_KEEP):
            shutil.rmtree(workdir, ignore_errors=True)
        os.close(lock_fd)
        raise


def _machine_lock() -> int:
    """Hold NODE_LOCK (waiting for another run's node to stop); the fd is closed to release it."""
    fd = os.open(NODE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)

    def take() -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    if not take():
        print(f"[keyfob testbed] another e2e node runs on this machine; waiting for {NODE_LOCK}", file=sys.stderr)
        try:
            wait_for(take, NODE_LOCK_TIMEOUT, 1.0, f"{NODE_LOCK} (another e2e node on this machine)")
        except BaseException:
            os.close(fd)
            raise
    return fd


def _wait_or_raise(predicate: Any, timeout: float, what: str, proc: ManagedProcess) -> None:
    try:
        wait_for(predicate, timeout, 0.25, what)
    except NodeUnavailable:
        raise
    except AssertionError as exc:
        raise NodeUnavailable(f"{what}: not after {timeout:g}s; {proc.name} log:\n{proc.log_tail(30)}") from exc


@contextlib.contextmanager
def e2e_cluster() -> Iterator[E2ECluster]:
    cluster = start_e2e_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


def main(argv: list[str]) -> int:
    """``python -m keyfob_testbed.node build|up``: build what is missing, or start it and wait for Ctrl-C."""
    if argv[:1] == ["build"]:
        reason = unavailable_reason()
        if reason:
            print(f"e2e node unavailable: {reason}", file=sys.stderr)
            return 1
        t = time.monotonic()
        bins = _binaries.ensure_node_binaries()
        print(f"node binaries ready in {time.monotonic() - t:.0f}s: {bins.kubelet.parent}")
        return _images.main(["build"])
    if argv[:1] == ["up"]:
        with e2e_cluster() as cluster:
            print(f"export KUBECONFIG={cluster.kubeconfig}")
            print(f"# node {cluster.node_name} Ready; timings {({k: round(v, 1) for k, v in cluster.timings.items()})}",
                  flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
        return 0
    print("usage: python -m keyfob_testbed.node build|up", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
