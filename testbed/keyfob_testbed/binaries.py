"""Where the control-plane comes from: an existing cluster, KUBEBUILDER_ASSETS, or a cached Go build."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

#: Used when the Go module cannot be found (an installed package): the cache is still looked up under it.
DEFAULT_KUBERNETES_VERSION = "v1.35.4"

ENV_KUBECONFIG = "KEYFOB_TEST_KUBECONFIG"
ENV_ASSETS = "KUBEBUILDER_ASSETS"
ENV_MODULE = "KEYFOB_ENVTEST_MODULE"

APISERVER = "kube-apiserver"
ETCD = "etcd"
CONTROLLER_MANAGER = "kube-controller-manager"
REQUIRED = (ETCD, APISERVER)
BUILT = (ETCD, APISERVER, CONTROLLER_MANAGER)
KUBELET = "kubelet"
SCHEDULER = "kube-scheduler"
PAUSE = "pause"
#: What a real node adds to the control plane (the e2e tier): same module, same version, same cache dir.
NODE = (KUBELET, SCHEDULER, PAUSE)


class BinariesError(RuntimeError):
    """The control-plane binaries cannot be found or built."""


@dataclass(frozen=True)
class ClusterSource:
    """Which of the three sources a test run uses.

    ``kind`` is ``existing`` (``path`` = kubeconfig), ``assets`` (``path`` = KUBEBUILDER_ASSETS directory)
    or ``build`` (``path`` = the cache root; the binaries go to ``path / <version>``).
    """

    kind: Literal["existing", "assets", "build"]
    path: Path


@dataclass(frozen=True)
class Binaries:
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path | None
    origin: str  # "assets" or "build"


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/keyfob/envtest`` (default ``~/.cache/keyfob/envtest``)."""
    env = os.environ if env is None else env
    xdg = _env(env, "XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        base = Path(xdg)
    else:
        home = _env(env, "HOME")
        base = (Path(home) if home else Path.home()) / ".cache"
    return base / "keyfob" / "envtest"


def select_source(env: Mapping[str, str] | None = None) -> ClusterSource:
    """Pick the source in order: KEYFOB_TEST_KUBECONFIG, KUBEBUILDER_ASSETS, Go build cache.

    Empty variables count as unset. A variable that is set but points at nothing is an error, never a
    silent fallback to the next source.
    """
    env = os.environ if env is None else env
    kubeconfig = _env(env, ENV_KUBECONFIG)
    if kubeconfig:
        path = Path(kubeconfig).expanduser()
        if not path.is_file():
            raise BinariesError(f"{ENV_KUBECONFIG}={kubeconfig} is not a file")
        return ClusterSource("existing", path)
    assets = _env(env, ENV_ASSETS)
    if assets:
        path = Path(assets).expanduser()
        missing = [name for name in REQUIRED if not _is_executable(path / name)]
        if missing:
            raise BinariesError(f"{ENV_ASSETS}={assets} lacks executable {', '.join(missing)}")
        return ClusterSource("assets", path)
    return ClusterSource("build", cache_root(env))


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_module_dir(env: Mapping[str, str] | None = None, start: Path | None = None) -> Path | None:
    """The envtest Go module: $KEYFOB_ENVTEST_MODULE, or tests/envtest/go.mod above this package."""
    env = os.environ if env is None else env
    explicit = _env(env, ENV_MODULE)
    if explicit:
        path = Path(explicit).expanduser()
        if not (path / "go.mod").is_file():
            raise BinariesError(f"{ENV_MODULE}={explicit} has no go.mod")
        return path
    here = (start or Path(__file__)).resolve()
    for parent in [here, *here.parents]:
        candidate = parent / "tests" / "envtest"
        if (candidate / "go.mod").is_file():
            return candidate
    return None


_REQUIRE_RE = re.compile(r"^\s*(?:require\s+)?k8s\.io/kubernetes\s+(v\d+\.\d+\.\d+\S*)", re.MULTILINE)


def kubernetes_version(module_dir: Path | None) -> str:
    """The k8s.io/kubernetes version the module requires (the cache key)."""
    if module_dir is None:
        return DEFAULT_KUBERNETES_VERSION
    text = (module_dir / "go.mod").read_text(encoding="utf-8")
    match = _REQUIRE_RE.search(text)
    if not match:
        raise BinariesError(f"{module_dir / 'go.mod'} does not require k8s.io/kubernetes")
    return match.group(1)


def _from_dir(directory: Path, origin: str) -> Binaries:
    kcm = directory / CONTROLLER_MANAGER
    return Binaries(
        etcd=directory / ETCD,
        kube_apiserver=directory / APISERVER,
        kube_controller_manager=kcm if _is_executable(kcm) else None,
        origin=origin,
    )


def _complete(directory: Path, names: Sequence[str] = BUILT) -> bool:
    return all(_is_executable(directory / name) for name in names)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def go_build_command(version: str, out_dir: Path, names: Sequence[str] | None = None) -> list[str]:
    """`go build` of the wrapper mains ``names`` (default: every main under ./cmd) into ``out_dir``."""
    minor = version.lstrip("v").split(".")
    ldflags = (
        f"-s -w -X k8s.io/component-base/version.gitVersion={version}"
        f" -X k8s.io/component-base/version.gitMajor={minor[0]}"
        f" -X k8s.io/component-base/version.gitMinor={minor[1]}"
    )
    packages = ["./cmd/..."] if names is None else [f"./cmd/{name}" for name in names]
    return ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", f"{out_dir}{os.sep}", *packages]


def build_binaries(
    module_dir: Path, version: str, target: Path, *, names: Sequence[str] = BUILT, log: bool = True
) -> Path:
    """Build those of ``names`` that ``target`` lacks (only those), each file moved into place atomically.

    Builds into a temporary sibling directory and renames each binary into ``target``, under a file lock, so
    a concurrent run waits for the first build instead of building twice or seeing a half-written file. The
    control plane (:data:`BUILT`) and the node (:data:`NODE`) share the cache directory of their version;
    asking for the node's binaries never rebuilds the control plane's, and the other way round.
    """
    with _file_lock(target.parent / f".{target.name}.lock"):
        missing = [name for name in names if not _is_executable(target / name)]
        if not missing:
            return target
        go = shutil.which("go")
        if go is None:
            raise BinariesError(
                f"no {', '.join(missing)} in {target} and no `go` on PATH to build them; "
                f"set {ENV_ASSETS} or {ENV_KUBECONFIG}"
            )
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.build-", dir=target.parent))
        try:
            cmd = go_build_command(version, tmp, missing)
            env = {**os.environ, "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
            if log:
                print(
                    f"keyfob_testbed: building {', '.join(missing)} {version} (minutes, once)",
                    file=sys.stderr,
                    flush=True,
                )
            started = time.monotonic()
            result = subprocess.run(cmd, cwd=module_dir, env=env, check=False)
            if result.returncode != 0:
                raise BinariesError(f"`{' '.join(cmd)}` in {module_dir} failed with {result.returncode}")
            if not _complete(tmp, missing):
                raise BinariesError(f"go build did not produce all of {missing} in {tmp}")
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(0o755)  # the cache may be shared (CI)
            for name in missing:
                os.replace(tmp / name, target / name)
            if log:
                print(
                    f"keyfob_testbed: built in {time.monotonic() - started:.0f}s into {target}",
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def ensure_binaries(source: ClusterSource, env: Mapping[str, str] | None = None) -> Binaries | None:
    """Return the binaries for ``source`` (building them if needed); None for an existing cluster."""
    if source.kind == "existing":
        return None
    if source.kind == "assets":
        return _from_dir(source.path, "assets")
    module_dir = find_module_dir(env)
    version = kubernetes_version(module_dir)
    target = source.path / version
    if not _complete(target):
        if module_dir is None:
            raise BinariesError(
                f"no control-plane binaries in {target} and no envtest Go module found "
                f"(set {ENV_MODULE}, {ENV_ASSETS} or {ENV_KUBECONFIG})"
            )
        build_binaries(module_dir, version, target)
    return _from_dir(target, "build")


@dataclass(frozen=True)
class NodeBinaries:
    kubelet: Path
    kube_scheduler: Path
    pause: Path  # the sandbox container's binary (an image from scratch is made of it)


def ensure_node_binaries(env: Mapping[str, str] | None = None) -> NodeBinaries:
    """kubelet and kube-scheduler from the envtest module, built (only those) into the version's cache dir."""
    env = os.environ if env is None else env
    assets = _env(env, ENV_ASSETS)
    if assets and _complete(Path(assets).expanduser(), NODE):
        directory = Path(assets).expanduser()
    else:
        module_dir = find_module_dir(env)
        version = kubernetes_version(module_dir)
        directory = cache_root(env) / version
        if not _complete(directory, NODE):
            if module_dir is None:
                raise BinariesError(f"no {', '.join(NODE)} in {directory} and no envtest Go module found")
            build_binaries(module_dir, version, directory, names=NODE)
    return NodeBinaries(
        kubelet=directory / KUBELET, kube_scheduler=directory / SCHEDULER, pause=directory / PAUSE
    )
