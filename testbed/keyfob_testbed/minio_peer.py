"""A real MinIO server on loopback for integration tests, built from its Go module and cached by version.

Community MinIO ships as source only, so the binary is built with ``go install`` into
``$XDG_CACHE_HOME/keyfob/minio/<version>/minio`` (default ``~/.cache/keyfob/minio/...``) the first time it is
needed; later runs only start it. ``KEYFOB_MINIO_BINARY`` points at a prebuilt binary instead.

    python -m keyfob_testbed.minio_peer build   # prebuild (CI), prints the binary path
    python -m keyfob_testbed.minio_peer run     # start one, print endpoint + root credentials, Ctrl-C stops it
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from .go_tools import GoToolError, go_install
from .ports import free_ports
from .processes import ManagedProcess

#: The pinned MinIO server: the newest revision the Go module proxy serves (the last RELEASE tag,
#: RELEASE.2025-10-15T17-29-55Z, plus the archive commits; it has service-account expiration and
#: name/description, which arrived in RELEASE.2023-02-27 / RELEASE.2023-05-18).
MINIO_MODULE = "github.com/minio/minio"
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"
ENV_BINARY = "KEYFOB_MINIO_BINARY"
LOOPBACK = "127.0.0.1"


class MinioPeerError(RuntimeError):
    """The MinIO binary cannot be built or the server did not come up."""


def ensure_binary(env: Mapping[str, str] | None = None, *, version: str = MINIO_VERSION) -> Path:
    """Path of a runnable ``minio``: ``$KEYFOB_MINIO_BINARY``, else the cache, else build into the cache
    (once, under the test bed's build lock; see go_tools)."""
    env = dict(os.environ if env is None else env)
    if env.get(ENV_BINARY):
        given = Path(env[ENV_BINARY])
        if not (given.is_file() and os.access(given, os.X_OK)):
            raise MinioPeerError(f"{ENV_BINARY}={given} is not an executable file")
        return given
    try:
        return go_install(MINIO_MODULE, version, "minio", cache_name="minio")
    except GoToolError as err:
        raise MinioPeerError(f"{err} (or set {ENV_BINARY})") from None


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
        self._proc: ManagedProcess | None = None

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
        return self._proc is not None and self._proc.alive()

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
        last = ""
        try:
            for _ in range(self.attempts):  # a port picked free can be taken before MinIO binds it
                self.port, self.console_port = free_ports(2)
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
        # ManagedProcess: own session, SIGKILLed with its parent (PR_SET_PDEATHSIG), stopped by PID.
        self._proc = ManagedProcess("minio", args, self._root / "minio.log", env=env)

    def _wait_ready(self) -> str | None:
        """None once /minio/health/live answers and IAM serves admin calls; else why not."""
        deadline = time.monotonic() + self.startup_timeout
        url = f"{self.endpoint}/minio/health/live"
        last = "no answer yet"
        with httpx.Client(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if self._proc is None or not self._proc.alive():
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
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def _kill(self, grace: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.stop(grace)

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
    print("usage: python -m keyfob_testbed.minio_peer [build|run]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
