"""Container images for the e2e node, built without a daemon or a registry.

- ``pause``: the sandbox image, a static Go binary (``tests/envtest/cmd/pause``) in an image from scratch.
- ``debian-python``: a Debian bookworm root file system with Python made by ``mmdebstrap`` (the base the
  test bed passes to ``deploy/Dockerfile`` as ``BASE_IMAGE``; users keep the slim Python image).
- ``keyfob``: the operator, ``buildah bud -f deploy/Dockerfile`` over a context of exactly the files the
  recipe copies. pip inside the build installs ``requirements.lock`` with ``--require-hashes`` from wheels the
  host downloaded (a pip.conf mounted for the build says ``no-index``), so no network is used in the build and
  the hashes prove the bytes.
- ``consumer``: Debian with the aws CLI (boto3) and rclone, what the workload pods run.

Each image is an ``oci-archive`` under ``~/.cache/keyfob/images/``, named by a hash of its inputs, so a warm
run only imports it (``ctr -n k8s.io images import``). buildah runs with ``vfs`` storage in a throwaway
directory (nothing is left in ``/var/lib/containers``), ``--isolation chroot``.

``python -m keyfob_testbed.images build`` builds whatever is missing and prints the archives and sizes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import binaries as _binaries
from .binaries import _file_lock, cache_root

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"
LOCKFILE = REPO / "requirements.lock"
SUITE = "bookworm"
#: Bumped when a recipe below changes in a way its inputs do not show.
RECIPE_VERSION = "1"
PYTHON_PACKAGES = ("python3", "python3-venv", "ca-certificates")
CONSUMER_PACKAGES = ("awscli", "rclone", "ca-certificates")
IMAGE_PREFIX = "localhost/keyfob-testbed"
_DPKG_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*")
TOOLS = ("buildah", "mmdebstrap")


class ImageError(RuntimeError):
    """An image cannot be built here; the message says what is missing."""


@dataclass(frozen=True)
class Image:
    """An image as an oci-archive in the cache, and the name it carries once imported."""

    name: str  # e.g. localhost/keyfob-testbed/keyfob:3f2a...
    archive: Path
    built_seconds: float | None = None  # None: it was in the cache

    @property
    def size_bytes(self) -> int:
        return self.archive.stat().st_size


def images_dir() -> Path:
    return cache_root().parent / "images"


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def _digest(parts: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


def _run(argv: Sequence[str], *, what: str, cwd: Path | None = None, timeout: float = 1800) -> str:
    done = subprocess.run(list(argv), capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False)
    if done.returncode != 0:
        raise ImageError(f"{what} failed ({' '.join(argv[:3])} ...):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout


# -- buildah with throwaway storage -----------------------------------------------------------------------
class Buildah:
    """buildah with its own vfs storage in a temporary directory, removed by :meth:`close`."""

    def __init__(self, parent: Path) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=".buildah-", dir=parent))
        self.base = [
            "buildah",
            "--root", str(self.dir / "root"),
            "--runroot", str(self.dir / "run"),
            "--storage-driver", "vfs",
        ]

    def __call__(self, *args: str, what: str, cwd: Path | None = None) -> str:
        env_args = [*self.base, *args]
        return _run(env_args, what=f"buildah {what}", cwd=cwd).strip()

    def image_from_rootfs(self, rootfs_tar: Path, name: str, config: Sequence[str] = ()) -> None:
        container = self("from", "--quiet", "scratch", what="from scratch")
        self("add", container, str(rootfs_tar), "/", what="add rootfs")
        if config:
            self("config", *config, container, what="config")
        self("commit", "--quiet", "--rm", container, name, what="commit")

    def push_archive(self, name: str, archive: Path) -> None:
        tmp = archive.with_name(f".{archive.name}.tmp")
        tmp.unlink(missing_ok=True)
        self("push", "--quiet", name, f"oci-archive:{tmp}:{name}", what="push oci-archive")
        os.replace(tmp, archive)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# -- mmdebstrap --------------------------------------------------------------------------------------------
def host_apt_sources() -> list[str]:
    """The host's own apt sources (files), so the image uses the same mirror the host does."""
    sources = sorted(str(p) for p in Path("/etc/apt/sources.list.d").glob("*.sources"))
    legacy = Path("/etc/apt/sources.list")
    if legacy.is_file() and legacy.read_text().strip():
        sources.append(str(legacy))
    sources += sorted(str(p) for p in Path("/etc/apt/sources.list.d").glob("*.list"))
    if not sources:
        raise ImageError("the host has no apt sources to make a Debian root file system from")
    return sources


def _host_apt_options() -> list[str]:
    """Options of the host's apt that a mirror snapshot needs (e.g. no Valid-Until check)."""
    options = []
    for key in ("Acquire::Check-Valid-Until", "Acquire::Check-Date"):
        done = subprocess.run(["apt-config", "dump", key], capture_output=True, text=True, check=False)
        line = done.stdout.strip()
        if line.startswith(key):
            options.append(f"--aptopt={line}")
    return options


def make_rootfs(packages: Sequence[str], out: Path) -> None:
    argv = [
        "mmdebstrap",
        "--variant=essential",
        f"--include={','.join(packages)}",
        *(f"--dpkgopt=path-exclude={p}" for p in _DPKG_EXCLUDES),
        *_host_apt_options(),
        "--format=tar",
        SUITE,
        str(out),
        *host_apt_sources(),
    ]
    _run(argv, what=f"mmdebstrap {SUITE} with {', '.join(packages)}")


# -- the images ---------------------------------------------------------------------------------------------
def _cached(kind: str, key: str, build: Callable[[Buildah, str, Path], None]) -> Image:
    directory = images_dir()
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{IMAGE_PREFIX}/{kind}:{key}"
    archive = directory / f"{kind}-{key}.oci.tar"
    if archive.is_file():
        return Image(name, archive)
    with _file_lock(directory / f".{kind}.lock"):
        if archive.is_file():
            return Image(name, archive)
        print(f"[keyfob testbed] building image {name} (first use only)", file=sys.stderr, flush=True)
        started = time.monotonic()
        buildah = Buildah(directory)
        try:
            build(buildah, name, archive)
        finally:
            buildah.close()
        return Image(name, archive, built_seconds=time.monotonic() - started)



def pause_image() -> Image:
    bins = _binaries.ensure_node_binaries()
    pause = bins.pause
    key = _digest([pause.read_bytes(), RECIPE_VERSION.encode()])

    def build(buildah: Buildah, name: str, archive: Path) -> None:
        with tempfile.TemporaryDirectory(dir=images_dir()) as tmp:
            rootfs = Path(tmp) / "rootfs.tar"
            with tarfile.open(rootfs, "w") as tar:
                info = tar.gettarinfo(str(pause), arcname="pause")
                info.uid = info.gid = 0
                info.mode = 0o755
                with open(pause, "rb") as fh:
                    tar.addfile(info, fh)
            buildah.image_from_rootfs(rootfs, name, ["--entrypoint", '["/pause"]', "--user", "65535:65535"])
        buildah.push_archive(name, archive)

    return _cached("pause", key, build)


def _rootfs_image(kind: str, packages: Sequence[str], config: Sequence[str]) -> Image:
    key = _digest([SUITE.encode(), " ".join(packages).encode(), RECIPE_VERSION.encode(), " ".join(config).encode()])

    def build(buildah: Buildah, name: str, archive: Path) -> None:
        with tempfile.TemporaryDirectory(dir=images_dir()) as tmp:
            rootfs = Path(tmp) / "rootfs.tar"
            make_rootfs(packages, rootfs)
            buildah.image_from_rootfs(rootfs, name, config)
        buildah.push_archive(name, archive)

    return _cached(kind, key, build)


def debian_python_image() -> Image:
    """The base for deploy/Dockerfile in the test bed."""
    return _rootfs_image("debian-python", PYTHON_PACKAGES, ["--cmd", '["python3"]'])


def consumer_image() -> Image:
    """What workload pods run: the aws CLI (and boto3), rclone, a shell."""
    return _rootfs_image("consumer", CONSUMER_PACKAGES, ["--cmd", '["/bin/sh"]', "--env", "HOME=/tmp"])


def operator_context_files() -> list[Path]:
    """Exactly what deploy/Dockerfile copies (relative to the repository root)."""
    files = [Path("requirements.lock"), Path("pyproject.toml"), Path("README.md")]
    for path in sorted((REPO / "operator").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and ".egg-info" not in str(path):
            files.append(path.relative_to(REPO))
    return files


def download_wheels(target: Path) -> None:
    """Every locked library as the wheel whose hash the lockfile names (pip checks the hashes)."""
    argv = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--require-hashes", "--only-binary=:all:", "--no-deps", "-r", str(LOCKFILE), "-d", str(target),
    ]
    _run(argv, what="pip download of requirements.lock")


def operator_image() -> Image:
    base = debian_python_image()
    files = operator_context_files()
    key = _digest(
        [base.name.encode(), DOCKERFILE.read_bytes(), RECIPE_VERSION.encode()]
        + [str(f).encode() + b"\0" + (REPO / f).read_bytes() for f in files]
    )

    def build(buildah: Buildah, name: str, archive: Path) -> None:
        with tempfile.TemporaryDirectory(dir=images_dir()) as tmp:
            work = Path(tmp)
            context = work / "context"
            for rel in files:
                (context / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / rel, context / rel)
            wheels = work / "wheels"
            download_wheels(wheels)
            pip_conf = work / "pip.conf"
            pip_conf.write_text("[global]\nno-index = true\nfind-links = /wheels\n")
            # The base image goes into this build's storage under the name BASE_IMAGE refers to.
            buildah("pull", "--quiet", f"oci-archive:{base.archive}", what="pull the base from its archive")
            buildah(
                "bud", "--quiet", "--isolation", "chroot", "--layers=false",
                "--build-arg", f"BASE_IMAGE={base.name}",
                "--volume", f"{wheels}:/wheels:ro",
                "--volume", f"{pip_conf}:/etc/pip.conf:ro",
                "-f", str(DOCKERFILE), "-t", name, str(context),
                what="bud -f deploy/Dockerfile",
            )
        buildah.push_archive(name, archive)

    return _cached("keyfob", key, build)


def all_images() -> dict[str, Image]:
    missing = missing_tools()
    if missing:
        raise ImageError(f"cannot build images: apt-get install {' '.join(missing)}")
    return {
        "pause": pause_image(),
        "keyfob": operator_image(),
        "consumer": consumer_image(),
    }


def image_config_size(image: Image) -> int:
    """The uncompressed size of the image's layers (what it occupies once unpacked), from the archive."""
    total = 0
    with tarfile.open(image.archive) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        manifest_digest = index["manifests"][0]["digest"].split(":", 1)[1]
        manifest = json.load(tar.extractfile(f"blobs/sha256/{manifest_digest}"))  # type: ignore[arg-type]
        for layer in manifest["layers"]:
            total += int(layer["size"])
    return total


def main(argv: list[str]) -> int:
    if argv[:1] != ["build"]:
        print("usage: python -m keyfob_testbed.images build", file=sys.stderr)
        return 2
    built = all_images()
    for kind, image in {"debian-python": debian_python_image(), **built}.items():
        how = "cached" if image.built_seconds is None else f"built in {image.built_seconds:.0f}s"
        print(f"{kind:9} {image.size_bytes / 1e6:7.1f} MB  {how:16} {image.name}  {image.archive}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
