"""A real single-node Ceph on loopback for integration tests, from the Debian packages (ceph-mon, ceph-osd,
radosgw, ceph-common): one mon, one memstore OSD (pool size 1), one radosgw with the beast frontend.

Everything lives under a temp dir: ceph.conf, throwaway cephx keyrings, the mon store, logs, admin sockets. No
daemon reads /etc/ceph. Readiness is polled (mon answers, the OSD is up, the gateway answers S3 and an
admin user exists), never slept for. Daemons are ManagedProcess children, stopped by PID.

    python -m keyfob_testbed.ceph_peer run   # start one, print endpoint + admin keys, Ctrl-C stops it
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import httpx

from .ports import free_ports
from .processes import ManagedProcess, stop_all
from .waiting import wait_for

LOOPBACK = "127.0.0.1"
BINARIES = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph", "ceph-authtool", "monmaptool")
PACKAGES = "ceph-mon ceph-osd radosgw ceph-common"
ADMIN_CAPS = "users=*;user-policy=*"


class CephPeerError(RuntimeError):
    """The Ceph packages are missing or the cluster did not come up."""


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if shutil.which(b) is None]


def _conf(root: Path, fsid: str, mon_port: int, rgw_port: int) -> str:
    return f"""[global]
fsid = {fsid}
mon host = [v2:{LOOPBACK}:{mon_port}]
mon initial members = a
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = {root}/keyring
run dir = {root}/run
admin socket = {root}/run/$name.asok
log file = {root}/log/$name.log
pid file = {root}/run/$name.pid
ms bind ipv4 = true
ms bind ipv6 = false
ms bind msgr1 = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
mon data = {root}/mon/$name
osd data = {root}/osd/$id
osd objectstore = memstore
memstore device bytes = 536870912
osd max object name len = 460
osd max object namespace len = 64
[osd]
keyring = {root}/osd/$id/keyring
[client.rgw.a]
rgw frontends = beast endpoint={LOOPBACK}:{rgw_port}
rgw data = {root}/rgw
keyring = {root}/rgw/keyring
"""


class CephPeer:
    """One throwaway Ceph cluster with a radosgw. Attributes after start(): ``endpoint``, ``admin_access_key`` /
    ``admin_secret_key`` (an RGW user with the users and user-policy caps, as Rook's admin ops user),
    ``owner_access_key`` / ``owner_secret_key`` (a plain user that owns the test buckets), ``startup_seconds``
    (mon start to gateway ready) and ``rss_kib()``."""

    def __init__(self, *, startup_timeout: float = 120.0) -> None:
        self.startup_timeout = startup_timeout
        self.admin_access_key = "KFADMIN" + secrets.token_hex(6).upper()
        self.admin_secret_key = secrets.token_urlsafe(30)
        self.owner_access_key = "KFOWNER" + secrets.token_hex(6).upper()
        self.owner_secret_key = secrets.token_urlsafe(30)
        self.mon_port = 0
        self.rgw_port = 0
        self.startup_seconds: float | None = None
        self._root: Path | None = None
        self._procs: dict[str, ManagedProcess] = {}

    def __repr__(self) -> str:  # never a secret
        return f"CephPeer(endpoint={self.endpoint!r}, running={self.running})"

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.rgw_port}"

    @property
    def running(self) -> bool:
        return bool(self._procs) and all(p.alive() for p in self._procs.values())

    def __enter__(self) -> CephPeer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- start -------------------------------------------------------------------------------------------------

    def start(self) -> CephPeer:
        missing = missing_binaries()
        if missing:
            raise CephPeerError(f"missing {', '.join(missing)}: apt-get install --no-install-recommends {PACKAGES}")
        self._root = Path(tempfile.mkdtemp(prefix="keyfob-ceph-"))
        try:
            self.mon_port, self.rgw_port = free_ports(2)
            self._bootstrap()
        except BaseException as err:
            tail = self.log_tail()
            self.stop()
            if isinstance(err, Exception) and not isinstance(err, CephPeerError):
                raise CephPeerError(f"Ceph did not come up: {err}\n{tail}") from err
            raise
        return self

    def _bootstrap(self) -> None:
        root = self._root
        assert root is not None
        for sub in ("run", "log", "mon", "osd/0", "rgw"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        fsid = str(uuid.uuid4())
        (root / "ceph.conf").write_text(_conf(root, fsid, self.mon_port, self.rgw_port))
        keyring = str(root / "keyring")
        self._run("ceph-authtool", "--create-keyring", keyring, "--gen-key", "-n", "mon.", "--cap", "mon", "allow *")
        self._run("ceph-authtool", keyring, "--gen-key", "-n", "client.admin", "--cap", "mon", "allow *",
                  "--cap", "osd", "allow *", "--cap", "mgr", "allow *")  # fmt: skip
        self._run("monmaptool", "--create", "--addv", "a", f"[v2:{LOOPBACK}:{self.mon_port}]", "--fsid", fsid,
                  str(root / "monmap"))  # fmt: skip
        self._run("ceph-mon", *self._c(), "--mkfs", "-i", "a", "--monmap", str(root / "monmap"), "--keyring", keyring)
        started = time.monotonic()
        self._spawn("mon", "ceph-mon", "-i", "a")
        self._poll(lambda: self._ceph_ok("mon", "stat"), "the mon to answer")
        osd_uuid = str(uuid.uuid4())
        osd_keyring = str(root / "osd/0/keyring")
        self._run("ceph-authtool", "--create-keyring", osd_keyring, "--gen-key", "-n", "osd.0")
        self._ceph("auth", "add", "osd.0", "osd", "allow *", "mon", "allow profile osd", "mgr", "allow profile osd",
                   "-i", osd_keyring)  # fmt: skip
        self._ceph("osd", "new", osd_uuid, "0")
        self._run("ceph-osd", *self._c(), "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)
        self._spawn("osd", "ceph-osd", "-i", "0")
        self._poll(self._osd_up, "the OSD to be up")
        rgw_key = self._ceph("auth", "get-or-create", "client.rgw.a", "mon", "allow rw", "osd", "allow rwx")
        (root / "rgw/keyring").write_text(rgw_key)
        self._spawn("rgw", "radosgw", "-n", "client.rgw.a")
        self._poll(self._gateway_answers, "radosgw to answer S3")
        self._user("keyfob-admin", "keyfob admin ops", self.admin_access_key, self.admin_secret_key, ADMIN_CAPS)
        self._user("bucket-owner", "test bucket owner", self.owner_access_key, self.owner_secret_key, None)
        self._poll(self._admin_works, "the Admin Ops API to accept the admin user")
        self.startup_seconds = time.monotonic() - started

    def _c(self) -> list[str]:
        assert self._root is not None
        return ["-c", str(self._root / "ceph.conf")]

    def _env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith(("CEPH_", "AWS_"))}

    def _run(self, *argv: str, timeout: float = 60.0) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=self._env(), check=False)
        if done.returncode != 0:
            raise CephPeerError(f"{argv[0]} {argv[1] if len(argv) > 1 else ''} failed ({done.returncode}): "
                                f"{done.stderr.strip()[-800:]}")  # fmt: skip
        return done.stdout

    def _ceph(self, *args: str) -> str:
        return self._run("ceph", *self._c(), "--connect-timeout", "5", *args)

    def _ceph_ok(self, *args: str) -> bool:
        self._alive()
        try:
            self._ceph(*args)
        except (CephPeerError, subprocess.TimeoutExpired):
            return False
        return True

    def _spawn(self, name: str, *argv: str) -> None:
        assert self._root is not None
        log = self._root / "log" / f"{name}.out"
        self._procs[name] = ManagedProcess(f"ceph-{name}", [argv[0], *self._c(), *argv[1:], "-f"], log, env=self._env())

    def _alive(self) -> None:
        for name, proc in self._procs.items():
            if not proc.alive():
                raise CephPeerError(f"ceph {name} exited with {proc.returncode}")

    def _poll(self, check: Any, what: str) -> None:
        def ready() -> bool:
            self._alive()
            return bool(check())

        try:
            wait_for(ready, timeout=self.startup_timeout, interval=0.2, what=what)
        except AssertionError as err:
            if isinstance(err.__cause__, CephPeerError):
                raise err.__cause__ from None
            raise CephPeerError(str(err)) from None

    def _osd_up(self) -> bool:
        try:
            stat = json.loads(self._ceph("osd", "stat", "-f", "json"))
        except (CephPeerError, subprocess.TimeoutExpired, ValueError):
            return False
        return int(stat.get("num_up_osds", 0)) >= 1

    def _gateway_answers(self) -> bool:
        try:
            return httpx.get(self.endpoint + "/", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def _user(self, uid: str, display: str, access: str, secret: str, caps: str | None) -> None:
        args = ["radosgw-admin", *self._c(), "-n", "client.admin", "user", "create", f"--uid={uid}",
                f"--display-name={display}", f"--access-key={access}", f"--secret-key={secret}"]  # fmt: skip
        if caps:
            args.append(f"--caps={caps}")
        self._run(*args)  # its stdout (the user with its keys) is dropped

    def _admin_works(self) -> bool:
        try:
            self.admin_ops().request("get", "/admin/user?list&format=json&max-entries=1")
        except Exception:
            return False
        return True

    # --- stop and inspect --------------------------------------------------------------------------------------

    def stop(self) -> None:
        """SIGTERM radosgw, the OSD and the mon (by PID), SIGKILL after a deadline, then remove the temp dir."""
        procs = [self._procs[n] for n in ("rgw", "osd", "mon") if n in self._procs]
        self._procs = {}
        stop_all(procs, timeout=10.0)
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self._procs.items()}

    def rss_kib(self) -> dict[str, int]:
        """Resident memory of each daemon (VmRSS from /proc), in KiB."""
        sizes: dict[str, int] = {}
        for name, pid in self.pids().items():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes[name] = int(line.split()[1])
        return sizes

    def log_tail(self, size: int = 3000) -> str:
        if self._root is None:
            return ""
        parts = []
        for log in sorted((self._root / "log").glob("*")):
            with contextlib.suppress(OSError):
                parts.append(f"--- {log.name}\n" + log.read_bytes()[-size:].decode(errors="replace"))
        return "\n".join(parts)[-4 * size :]

    # --- clients -----------------------------------------------------------------------------------------------

    def client(self, access_key: str, secret_key: str) -> Any:
        """A boto3 S3 client for the gateway (path-style, no retries: a denial must show at once)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
            region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        )  # fmt: skip

    def anonymous_get(self, path: str) -> int:
        """HTTP status of an unauthenticated GET (is an object public?)."""
        return httpx.get(self.endpoint + path, timeout=10.0).status_code

    def owner_client(self) -> Any:
        return self.client(self.owner_access_key, self.owner_secret_key)

    def admin_ops(self) -> Any:
        """An rgwadmin.RGWAdmin with the admin user's keys."""
        from rgwadmin.rgw import RGWAdmin

        return cast(Any, RGWAdmin)(access_key=self.admin_access_key, secret_key=self.admin_secret_key,
                        server=f"{LOOPBACK}:{self.rgw_port}", secure=False, timeout=30)  # fmt: skip

    def admin_secret_data(self) -> dict[str, str]:
        return {"accessKey": self.admin_access_key, "secretKey": self.admin_secret_key}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if (args[0] if args else "run") != "run":
        print("usage: python -m keyfob_testbed.ceph_peer run", file=sys.stderr)
        return 2
    with CephPeer() as peer:
        print(f"endpoint={peer.endpoint}\nstartup_seconds={peer.startup_seconds:.1f}\nrss_kib={peer.rss_kib()}")
        print(f"accessKey={peer.admin_access_key}\nsecretKey={peer.admin_secret_key}")
        print("Ctrl-C stops it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
