"""A real MinIO server on loopback for integration tests, built from its Go module and cached by version.

Community MinIO ships as source only, so the binary is built with ``go install`` into
``$XDG_CACHE_HOME/keyfob/minio/<version>/minio`` (default ``~/.cache/keyfob/minio/...``) the first time it is
needed; later runs only start it. ``KEYFOB_MINIO_BINARY`` points at a prebuilt binary instead.

    python -m keyfob.testbed.minio_peer build   # prebuild (CI), prints the binary path
    python -m keyfob.testbed.minio_peer run     # start one, print endpoint + root credentials, Ctrl-C stops it
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

#: The pinned MinIO server: the newest revision the Go module proxy serves (the last RELEASE tag,
#: RELEASE.2025-10-15T17-29-55Z, plus the archive commits; it has service-account expiration and
#: name/description, which arrived in RELEASE.2023-02-27 / RELEASE.2023-05-18).
MINIO_MODULE = "github.com/minio/minio"
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"
ENV_BINARY = "KEYFOB_MINIO_BINARY"
LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


class MinioPeerError(RuntimeError):
    """The MinIO binary cannot be built or the server did not come up."""


def cache_dir(env: Mapping[str, str] | None = None, version: str = MINIO_VERSION) -> Path:
    """``$XDG_CACHE_HOME/keyfob/minio/<version>`` (default ``~/.cache/keyfob/minio/<version>``)."""
    env = os.environ if env is None else env
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path(env.get("HOME") or Path.home()) / ".cache"
    return base / "keyfob" / "minio" / version


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def go_install_command(version: str = MINIO_VERSION) -> list[str]:
    return ["go", "install", "-trimpath", "-ldflags=-s -w", f"{MINIO_MODULE}@{version}"]


def ensure_binary(env: Mapping[str, str] | None = None, *, version: str = MINIO_VERSION, log: bool = True) -> Path:
    """Path of a runnable ``minio``: ``$KEYFOB_MINIO_BINARY``, else the cache, else build into the cache.

    The build runs under a file lock into a temporary sibling directory and is renamed into place, so
    concurrent test runs build once and never see a half-written binary.
    """
    env = dict(os.environ if env is None else env)
    if env.get(ENV_BINARY):
        given = Path(env[ENV_BINARY])
        if not _executable(given):
            raise MinioPeerError(f"{ENV_BINARY}={given} is not an executable file")
        return given
    target_dir = cache_dir(env, version)
    target = target_dir / "minio"
    if _executable(target):
        return target
    with _file_lock(target_dir.parent / f".{version}.lock"):
        if _executable(target):  # another process built it while we waited for the lock
            return target
        if shutil.which("go") is None:
            raise MinioPeerError(
                f"no MinIO binary in {target_dir} and no Go toolchain to build it (or set {ENV_BINARY})"
            )
        work = Path(tempfile.mkdtemp(prefix=f".{version}.build-", dir=target_dir.parent))
        try:
            _go_install(work, env, version, log)
            target_dir.mkdir(parents=True, exist_ok=True)
            os.replace(work / "bin" / "minio", target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def _go_install(work: Path, env: dict[str, str], version: str, log: bool) -> None:
    build_env = {**env, "GOBIN": str(work / "bin"), "CGO_ENABLED": "0", "GOTOOLCHAIN": env.get("GOTOOLCHAIN", "local")}
    build_env.pop("GOFLAGS", None)  # e.g. -mod=vendor from the caller's module would break `go install pkg@v`
    if log:
        print(f"keyfob: building MinIO {version} into the cache (one time, ~2-4 min)...", file=sys.stderr, flush=True)
    started = time.monotonic()
    output = work / "go-install.log"
    with output.open("wb") as sink:
        done = subprocess.run(
            go_install_command(version), env=build_env, cwd=work, stdout=sink, stderr=subprocess.STDOUT
        )
    if done.returncode != 0 or not _executable(work / "bin" / "minio"):
        tail = output.read_text(errors="replace")[-4000:]
        raise MinioPeerError(f"go install {MINIO_MODULE}@{version} failed (exit {done.returncode}):\n{tail}")
    if log:
        print(f"keyfob: built MinIO in {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """A preexec_fn that makes the kernel SIGKILL the child when our (forking) thread dies."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((LOOPBACK, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


class MinioPeer:
    """One throwaway MinIO server: fresh data dir, random root credentials, loopback ports.

    Use as a context manager (or call start()/stop()). Attributes: ``endpoint`` (http URL), ``host_port``,
    ``root_user``, ``root_password``; ``client(access, secret)`` gives a boto3 S3 client for it.
    """

    def __init__(self, binary: Path | None = None, *, startup_timeout: float = 60.0, attempts: int = 3) -> None:
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.attempts = attempts
        self.root_user = "kfroot" + secrets.token_hex(4)
        self.root_password = secrets.token_urlsafe(24)
        self.port = 0
        self.console_port = 0
        self._root: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __repr__(self) -> str:  # never the root password
        return f"MinioPeer(endpoint={self.endpoint!r}, running={self.running})"

    @property
    def host_port(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"http://{self.host_port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path | None:
        return self._root / "minio.log" if self._root else None

    def __enter__(self) -> MinioPeer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> MinioPeer:
        if self._proc is not None:
            raise MinioPeerError("already started")
        binary = self.binary or ensure_binary()
        self._root = Path(tempfile.mkdtemp(prefix="keyfob-minio-"))
        self._log = (self._root / "minio.log").open("ab")
        last = ""
        try:
            for _ in range(self.attempts):  # a port picked free can be taken before MinIO binds it
                self.port, self.console_port = _free_ports(2)
                self._spawn(binary)
                problem = self._wait_ready()
                if problem is None:
                    return self
                last = problem
                self._kill()
        except BaseException:
            self.stop()
            raise
        tail = self.log_tail()
        self.stop()
        raise MinioPeerError(f"MinIO did not become ready: {last}\n{tail}")

    def _spawn(self, binary: Path) -> None:
        assert self._root is not None
        data = self._root / "data"
        data.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIO_", "AWS_", "_MINIO"))}
        env.update(
            MINIO_ROOT_USER=self.root_user,
            MINIO_ROOT_PASSWORD=self.root_password,
            MINIO_BROWSER="off",
            MINIO_UPDATE="off",
            MINIO_CI_CD="1",  # a drive on the root disk is fine for tests
        )
        args = [
            str(binary), "server", str(data), "--quiet",
            "--address", f"{LOOPBACK}:{self.port}",
            "--console-address", f"{LOOPBACK}:{self.console_port}",
            "--certs-dir", str(self._root / "certs"),
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # PDEATHSIG fires when the forking *thread* exits: fixtures and the CLI start it from the main thread.
            preexec_fn=_pdeathsig_preexec(),
        )

    def _wait_ready(self) -> str | None:
        """None once /minio/health/live answers and IAM serves admin calls; else why not."""
        deadline = time.monotonic() + self.startup_timeout
        url = f"{self.endpoint}/minio/health/live"
        last = "no answer yet"
        with httpx.Client(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if self._proc is None or self._proc.poll() is not None:
                    return f"exited with {self._proc.returncode if self._proc else '?'}"
                try:
                    if http.get(url).status_code == 200 and self._iam_ready():
                        return None
                    last = "not ready"
                except (httpx.HTTPError, OSError) as err:
                    last = type(err).__name__
                time.sleep(0.1)
        return f"timed out after {self.startup_timeout:.0f}s ({last})"

    def _iam_ready(self) -> bool:
        try:
            self.admin().list_service_account(self.root_user)
        except Exception:
            return False
        return True

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL after a deadline, then remove the data dir."""
        self._kill()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def _kill(self, grace: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=grace)

    def log_tail(self, size: int = 4000) -> str:
        path = self.log_path
        if path is None or not path.exists():
            return ""
        return path.read_bytes()[-size:].decode(errors="replace")

    def client(self, access_key: str, secret_key: str) -> Any:
        """A boto3 S3 client for this server (path-style, no retries: a denial must show at once)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name="us-east-1",
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
            ),
        )

    def root_client(self) -> Any:
        return self.client(self.root_user, self.root_password)

    def admin(self, access_key: str | None = None, secret_key: str | None = None) -> Any:
        """A minio-py MinioAdmin for this server (root credentials by default), without HTTP retries.

        minio-py's default pool retries 500s five times; MinIO answers 500 to some permanent errors
        (an out-of-window expiration), so tests see the first answer instead.
        """
        import urllib3
        from minio.credentials.providers import StaticProvider
        from minio.minioadmin import MinioAdmin

        creds = StaticProvider(access_key or self.root_user, secret_key or self.root_password)
        pool = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=30), retries=False)
        return MinioAdmin(endpoint=self.host_port, credentials=creds, secure=False, http_client=pool)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "build"
    if command == "build":
        print(ensure_binary())
        return 0
    if command == "run":
        with MinioPeer() as peer:
            print(
                f"endpoint={peer.endpoint}\nMINIO_ROOT_USER={peer.root_user}\nMINIO_ROOT_PASSWORD={peer.root_password}"
            )
            print("Ctrl-C stops it.", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
        return 0
    print("usage: python -m keyfob.testbed.minio_peer [build|run]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
