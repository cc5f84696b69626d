"""A private containerd (Debian's, 1.6) for the e2e node: its own root, state and socket in the run's work
directory, the CRI plugin on runc with cgroupfs, and a CNI config holding only the loopback plugin (pods use
host networking). Nothing is shared with a containerd the host may run at ``/run/containerd``.

What this host needs, learnt on our machines: ``restrict_oom_score_adj`` (root here lacks CAP_SYS_RESOURCE),
runc (not crun), and a sandbox image that exists locally (``sandbox_image`` names the pause image the test
bed builds and imports; nothing is pulled).
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .processes import ManagedProcess
from .waiting import WaitTimeout, wait_for

#: Debian packages the e2e node needs; ``missing_node_tools`` names those a host lacks.
DEBIAN_PACKAGES = ("containerd", "runc", "containernetworking-plugins", "buildah", "mmdebstrap")
CNI_BIN_DIRS = (Path("/usr/lib/cni"), Path("/opt/cni/bin"))
NAMESPACE = "k8s.io"  # the containerd namespace the CRI plugin uses
START_TIMEOUT = 30.0


def cni_bin_dir() -> Path | None:
    return next((d for d in CNI_BIN_DIRS if (d / "loopback").is_file()), None)


def missing_node_tools() -> list[str]:
    """Debian packages (by name) whose programs are not installed."""
    missing = []
    for package, probe in (("containerd", "containerd"), ("runc", "runc"), ("buildah", "buildah"),
                           ("mmdebstrap", "mmdebstrap")):
        if shutil.which(probe) is None:
            missing.append(package)
    if cni_bin_dir() is None:
        missing.append("containernetworking-plugins")
    return missing


def render_config(workdir: Path, sandbox_image: str) -> str:
    cni = cni_bin_dir()
    runc = shutil.which("runc") or "runc"
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""\
version = 2
root = "{workdir / 'root'}"
state = "{workdir / 'state'}"
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = "{workdir / 'containerd.sock'}"

[ttrpc]
  address = "{workdir / 'containerd.sock.ttrpc'}"

[debug]
  address = ""

[metrics]
  address = ""

[{cri}]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        BinaryName = "{runc}"
        SystemdCgroup = false
  [{cri}.cni]
    bin_dir = "{cni}"
    conf_dir = "{workdir / 'cni'}"
    max_conf_num = 1
"""


LOOPBACK_CNI = {"cniVersion": "0.4.0", "name": "keyfob-loopback", "plugins": [{"type": "loopback"}]}


@dataclass
class Containerd:
    """A running private containerd; :meth:`ctr` talks to it."""

    workdir: Path
    process: ManagedProcess

    @property
    def socket(self) -> Path:
        return self.workdir / "containerd.sock"

    @property
    def endpoint(self) -> str:
        return f"unix://{self.socket}"

    def ctr(self, *args: str, timeout: float = 300.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = ["ctr", "--address", str(self.socket), "--namespace", NAMESPACE, *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"ctr {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
        return done

    def import_image(self, archive: Path, name: str) -> float:
        """Import (and unpack) an oci-archive whose ref name is ``name``; returns the seconds."""
        started = time.monotonic()
        self.ctr("images", "import", str(archive))  # named by its org.opencontainers.image.ref.name
        listed = self.ctr("images", "list", "--quiet").stdout.split()
        if name not in listed:
            raise RuntimeError(f"`ctr images import {archive}` did not create {name}; images: {listed}")
        return time.monotonic() - started

    def kill_container(self, container_id: str) -> None:
        """SIGKILL a container's task (what an OOM kill or a node problem does to a pod's process)."""
        self.ctr("tasks", "kill", "--signal", "SIGKILL", container_id)

    def remove_everything(self) -> None:
        """Kill and delete every task and container, so no shim or container outlives the run."""
        tasks = self.ctr("tasks", "list", "--quiet", check=False).stdout.split()
        for task in tasks:
            self.ctr("tasks", "kill", "--signal", "SIGKILL", task, check=False, timeout=30)
        for task in tasks:
            with contextlib.suppress(WaitTimeout):
                wait_for(functools.partial(self._delete_task, task), 20, 0.2, f"task {task} deleted")
        for container in self.ctr("containers", "list", "--quiet", check=False).stdout.split():
            self.ctr("containers", "delete", container, check=False, timeout=30)

    def _delete_task(self, task: str) -> bool:
        if self.ctr("tasks", "delete", "--force", task, check=False, timeout=30).returncode == 0:
            return True
        return task not in self.ctr("tasks", "list", "--quiet", check=False).stdout.split()

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.alive():
            try:
                self.remove_everything()
            finally:
                self.process.stop(timeout=timeout)


def start_containerd(workdir: Path, sandbox_image: str) -> Containerd:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "cni").mkdir(exist_ok=True)
    (workdir / "cni" / "10-loopback.conflist").write_text(json.dumps(LOOPBACK_CNI))
    config = workdir / "config.toml"
    config.write_text(render_config(workdir, sandbox_image))
    process = ManagedProcess("containerd", ["containerd", "--config", str(config)], workdir / "containerd.log")
    result = Containerd(workdir, process)

    def up() -> bool:
        if not process.alive():
            raise RuntimeError(f"containerd exited with {process.returncode}:\n{process.log_tail()}")
        return result.socket.exists() and result.ctr("version", check=False, timeout=10).returncode == 0

    try:
        wait_for(up, START_TIMEOUT, 0.1, "containerd to answer on its socket")
    except BaseException:
        process.stop(timeout=5.0)
        raise
    return result
