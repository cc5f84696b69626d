"""moto as an AWS (IAM + S3) peer in its own process, with IAM authorization enforced.

How authorization is switched on (moto 5.2.5, ``moto/core/authorization.py``): every request first
increments a counter; once the counter reaches ``settings.INITIAL_NO_AUTH_ACTION_COUNT`` (env var of the
same name, default infinity = never) each request must be SigV4-signed with a key moto's IAM knows, and
the action must be allowed by that user's identity policies. In server mode ``POST /moto-api/reset-auth``
with the body ``N`` sets the threshold to N and resets the counter. The peer bootstraps its admin user
with auth off (default), then posts ``0``: from then on every call is checked. A start-up self-check
proves it (an unknown key must get InvalidClientTokenId, the admin key must work).

How requests are counted: moto's own request recorder (``moto/moto_api/_internal/recorder``) appends one
JSON line per request it receives (headers, method, URL, body) to ``MOTO_RECORDER_FILEPATH`` before the
request is authorized or dispatched, so refused calls count too. The service comes from the SigV4
credential scope and the IAM action from the form body (``Action=...&Version=2010-05-08``).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import http.client
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .ports import LOOPBACK, free_port
from .processes import ManagedProcess
from .waiting import WaitTimeout
from .workdirs import make_workdir, sweep_stale_workdirs

ADMIN_USER = "keyfob-admin"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
IAM_API_VERSION = "2010-05-08"
IAM_READ_PREFIXES = ("Get", "List")
START_TIMEOUT = 30.0
_BOOTSTRAP_KEY = "bootstrap"  # any string works while auth is off
_UNKNOWN_KEY = "AKIAKEYFOBUNKNOWN000"  # never created: must be refused once auth is on

# Variables a developer may have set that would change moto's behaviour behind our back.
_SCRUBBED_ENV = (
    "INITIAL_NO_AUTH_ACTION_COUNT",
    "MOTO_ENABLE_RECORDING",
    "MOTO_RECORDER_FILEPATH",
    "TEST_SERVER_MODE",
    "MOTO_PORT",
)


@dataclass(frozen=True)
class RecordedCall:
    """One request as moto received it."""

    service: str | None  # from the SigV4 credential scope; None for unsigned requests
    action: str | None  # the ``Action`` of query-protocol APIs (IAM, STS); None for REST APIs like S3
    method: str
    path: str
    access_key: str | None


class MotoPeer:
    """A ``moto_server`` subprocess on a free loopback port, IAM auth on, every request recorded.

    Starting it creates the admin IAM user ``keyfob-admin`` (inline policy ``*`` on ``*``) with one access
    key, available as :attr:`admin_access_key` / :attr:`admin_secret_key`.
    """

    __test__ = False

    region = "us-east-1"

    def __init__(self, *, start_timeout: float = START_TIMEOUT, host: str = LOOPBACK) -> None:
        #: Where moto listens and is reached; loopback unless pods of an existing cluster must reach it.
        self.host = host
        sweep_stale_workdirs()
        self._workdir = make_workdir("keyfob-moto-")
        self._recording = self._workdir / "recording.jsonl"
        self._lock = threading.Lock()
        self._stopped = False
        self._proc: ManagedProcess | None = None
        self.port = 0
        self.admin_access_key = ""
        self.admin_secret_key = ""
        self.timings: dict[str, float] = {}
        _peers.add(self)
        try:
            self._start(start_timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- lifecycle -----------------------------------------------------------------------------------
    def _start(self, timeout: float) -> None:
        t0 = time.monotonic()
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        env["MOTO_RECORDER_FILEPATH"] = str(self._recording)
        for _attempt in range(3):
            self.port = free_port(self.host)
            proc = ManagedProcess(
                "moto",
                [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
                self._workdir / "moto.log",
                env=env,
            )
            self._proc = proc

            def up(proc: ManagedProcess = proc) -> bool:
                if not proc.alive():
                    raise _Exited(proc.log_tail())
                return self._moto_api("GET", "/moto-api/data.json")[0] == 200

            try:
                _poll(up, timeout, "moto_server to answer")
                break
            except _Exited as exc:
                proc.stop()
                if "address already in use" not in str(exc).lower():
                    raise RuntimeError(f"moto_server exited:\n{exc}") from None
        else:
            raise RuntimeError("moto_server could not bind a free port in 3 attempts")
        self.timings["server_up"] = time.monotonic() - t0
        self._bootstrap()
        self.timings["ready"] = time.monotonic() - t0

    def _bootstrap(self) -> None:
        iam = self.client("iam", access_key=_BOOTSTRAP_KEY, secret_key=_BOOTSTRAP_KEY)
        iam.create_user(UserName=ADMIN_USER)
        iam.put_user_policy(UserName=ADMIN_USER, PolicyName="admin", PolicyDocument=json.dumps(ADMIN_POLICY))
        key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
        self.admin_access_key = str(key["AccessKeyId"])
        self.admin_secret_key = str(key["SecretAccessKey"])
        self.set_auth_threshold(0)
        self._verify_auth_enforced()
        self.reset_counts()
        status, _ = self._moto_api("POST", "/moto-api/recorder/start-recording")
        if status != 200:
            raise RuntimeError(f"moto recorder did not start: HTTP {status}")

    def _verify_auth_enforced(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client("iam", access_key=_UNKNOWN_KEY, secret_key=_UNKNOWN_KEY).list_users()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code != "InvalidClientTokenId":
                raise RuntimeError(f"moto refused an unknown key with {code}, expected InvalidClientTokenId") from exc
        else:
            raise RuntimeError("moto accepted an unknown access key: authorization is not enforced")
        self.client("iam").get_user(UserName=ADMIN_USER)  # the admin key works

    def set_auth_threshold(self, count: float) -> None:
        """``POST /moto-api/reset-auth``: enforce auth after ``count`` more requests (0 = now, inf = never)."""
        # The body must not be sent as a form: Flask would consume it and moto would read b"".
        status, body = self._moto_api("POST", "/moto-api/reset-auth", str(count).encode(), "text/plain")
        if status != 200:
            raise RuntimeError(f"moto reset-auth failed: HTTP {status} {body[:200]!r}")

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            if self._proc is not None:
                self._proc.stop(timeout)
            shutil.rmtree(self._workdir, ignore_errors=True)
            _peers.discard(self)

    def __enter__(self) -> MotoPeer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<MotoPeer {self.endpoint}{' stopped' if self._stopped else ''}>"

    # -- clients -------------------------------------------------------------------------------------
    def client(self, service: str, access_key: str | None = None, secret_key: str | None = None) -> Any:
        """A boto3 client for ``service`` at this peer, as the admin unless a key is given."""
        import boto3
        from botocore.config import Config

        config = Config(
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": 2},
            connect_timeout=5,
            read_timeout=30,
        )
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=access_key if access_key is not None else self.admin_access_key,
            aws_secret_access_key=secret_key if secret_key is not None else self.admin_secret_key,
            config=config,
        )

    def env(self) -> dict[str, str]:
        """Environment variables that point an AWS SDK at this peer as the admin."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.admin_access_key,
            "AWS_SECRET_ACCESS_KEY": self.admin_secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    # -- request counting ----------------------------------------------------------------------------
    def reset_counts(self) -> None:
        """Forget every request recorded so far."""
        status, _ = self._moto_api("POST", "/moto-api/recorder/reset-recording")
        if status != 200:
            raise RuntimeError(f"moto reset-recording failed: HTTP {status}")

    def calls(self) -> list[RecordedCall]:
        """Every request moto received since the last :meth:`reset_counts`, in arrival order."""
        try:
            text = self._recording.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        lines = text.split("\n")
        lines.pop()  # the part after the last newline: empty, or a record still being written
        return [_parse_record(line) for line in lines if line.strip()]

    def iam_actions(self) -> list[str]:
        """IAM action names received (allowed or refused) since the last :meth:`reset_counts`, in order."""
        return [call.action for call in self.calls() if call.service == "iam" and call.action]

    def form_requests(self, action: str) -> list[dict[str, str]]:
        """The form parameters of every recorded query-protocol request with this ``Action`` (e.g. STS
        ``AssumeRole``: what the caller sent, whether moto evaluates it or not), in arrival order."""
        try:
            text = self._recording.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        lines = text.split("\n")
        lines.pop()  # a record still being written
        found = []
        for line in lines:
            if line.strip():
                params = _params(json.loads(line))
                if _first(params, "Action") == action:
                    found.append({k: v[0] for k, v in params.items() if v})
        return found

    def iam_write_actions(self) -> list[str]:
        """:meth:`iam_actions` without reads (``Get*``, ``List*``)."""
        return [a for a in self.iam_actions() if not a.startswith(IAM_READ_PREFIXES)]

    # -- plumbing ------------------------------------------------------------------------------------
    def _moto_api(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            headers = {"Content-Type": content_type} if content_type else {}
            conn.request(method, path, body=body if body is not None else b"", headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            return 0, b""
        finally:
            conn.close()


class _Exited(Exception):
    pass


def _poll(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Like :func:`wait_for`, but an :class:`_Exited` from the predicate ends the wait at once."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except _Exited:
            raise
        except Exception:  # noqa: S110 - "not yet"
            pass
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def _params(entry: dict[str, Any]) -> dict[str, list[str]]:
    """Query string and form body parameters of one recorded request."""
    headers = {str(k).lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
    params: dict[str, list[str]] = dict(parse_qs(urlsplit(str(entry.get("url", ""))).query))
    raw = entry.get("body") or ""
    body = (base64.b64decode(raw) if entry.get("body_encoded") else str(raw).encode()) if raw else b""
    if body and "x-www-form-urlencoded" in headers.get("content-type", ""):
        with contextlib.suppress(UnicodeDecodeError):
            params.update(parse_qs(body.decode("utf-8")))
    return params


def _parse_record(line: str) -> RecordedCall:
    entry = json.loads(line)
    headers = {str(k).lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
    url = urlsplit(str(entry.get("url", "")))
    query = parse_qs(url.query)
    service, access_key = _credential_scope(headers.get("authorization", ""), query)
    params = _params(entry)
    action = _first(params, "Action")
    if service is None and action and _first(params, "Version") == IAM_API_VERSION:
        service = "iam"  # unsigned IAM call
    return RecordedCall(
        service=service,
        action=action,
        method=str(entry.get("method", "")),
        path=url.path,
        access_key=access_key,
    )


def _first(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _credential_scope(authorization: str, query: dict[str, list[str]]) -> tuple[str | None, str | None]:
    """(service, access key id) from ``Credential=AKID/date/region/service/aws4_request``."""
    credential = None
    if "Credential=" in authorization:
        credential = authorization.split("Credential=", 1)[1].split(",", 1)[0].strip()
    elif query.get("X-Amz-Credential"):
        credential = query["X-Amz-Credential"][0]
    if not credential:
        return None, None
    parts = credential.split("/")
    if len(parts) < 5:
        return None, parts[0] or None
    return parts[3], parts[0]


_peers: set[MotoPeer] = set()


@atexit.register
def _stop_peers() -> None:
    for peer in list(_peers):
        with contextlib.suppress(Exception):
            peer.stop(timeout=5.0)
