"""Build a Go command from the Go module proxy into keyfob's cache, once: `go install module@version` into a
temporary directory renamed into place under a file lock, so concurrent runs wait instead of building twice."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .binaries import _file_lock, cache_root


class GoToolError(RuntimeError):
    pass


def tool_dir(name: str, version: str) -> Path:
    return cache_root().parent / name / version


def go_install(package: str, version: str, binary: str, *, cache_name: str) -> Path:
    """Path of `binary` built from `package@version`, building it on first use."""
    target = tool_dir(cache_name, version)
    path = target / binary
    if os.access(path, os.X_OK):
        return path
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target.parent / f".{version}.lock"):
        if os.access(path, os.X_OK):
            return path
        go = shutil.which("go")
        if go is None:
            raise GoToolError(f"{binary} is not in {target} and there is no `go` on PATH to build it")
        tmp = Path(tempfile.mkdtemp(prefix=f".{version}.build-", dir=target.parent))
        env = {**os.environ, "GOBIN": str(tmp), "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
        print(f"[keyfob testbed] building {package}@{version} with Go (first use only)", file=sys.stderr)
        done = subprocess.run([go, "install", f"{package}@{version}"], env=env, capture_output=True, text=True,
                              check=False, timeout=1800)
        if done.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise GoToolError(f"go install {package}@{version} failed:\n{done.stderr[-4000:]}")
        os.chmod(tmp, 0o755)  # noqa: S103 - a directory of executables other users of the cache run
        os.replace(tmp, target)
    return path
