"""Local, loopback-only fakes of the two Storj HTTP services keyfob talks to, for tests.

- :class:`FakeAuthService` follows the auth service contract: storj/edge ``docs/auth-openapi.yaml`` and the
  rules of ``pkg/auth/httpauth/resources.go`` + ``pkg/auth/authdb/db.go`` (POST /v1/access; 422 for a body
  that is not JSON; 400 for a grant that does not parse, a satellite not on the allow list or an expiry less
  than a minute away; 200 with access_key_id, secret_key, endpoint; GET /v1/health/live).
- :class:`FakeConsole` follows the satellite console REST API for API keys: storj/storj
  ``satellite/console/consoleweb/consoleapi/api.gen.go`` / ``apidocs.gen.md`` and the service rules in
  ``satellite/console/service.go`` (Bearer REST key; create answers 409 for a duplicate name; delete answers 200,
  also for a key that is already gone; list requires search, limit, page, order and orderDirection and matches
  names case-insensitively like SQL LIKE '%search%'; errors are JSON {"error": ...}).

Switches for what differs between Storj versions and accounts:
- ``SatelliteKeys(cache_seconds=60)``: a removed root key keeps validating for that long, as the satellite's API key
  cache does (storj/storj satellite/satellitedb/mud.go, APIKeysCache.Expiration default "60s"); 0 = at once;
- ``FakeAuthService(legacy_errors=True)``: an invalid grant answers HTTP 500 text "error storing request in database:
  <error>" as older auth services do (storj/edge pkg/auth/httpauth/resources.go newAccess, gateway-mt era; the
  error texts of storj/common grant/access.go ParseAccess and pkg/auth/authdb/db.go Put);
- ``FakeConsole(refuse_create="managed-encryption" | "plan")``: create answers 403, for a project with
  Storj-managed encryption (storj/design-docs 20240129-satellite-managed-encryption.md) or a REST key whose plan or
  role does not allow it (the 403 text is this fake's: Storj's exact words are unverified).

Both share a :class:`SatelliteKeys` table (root API key head -> secret, version), standing in for the
satellite: the auth fake validates every grant it receives with keyfob's own parser and keeps it, so a test can
ask what a returned access key may do (:meth:`FakeAuthService.denial`), and a deleted console key makes every
credential built on it fail, as on a real satellite. The kept grant includes its encryption access, which the
real auth service also stores whole (storj/edge ``pkg/auth/authdb/db.go`` Put, the access grant encrypted under
the access key) for the gateway to encrypt and decrypt with: a test reads the keys a credential carries
(e.g. those derived from a passphrase) from ``registrations[access_key_id].grant.encryption_access``.
No network beyond 127.0.0.1; no sleeps.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from keyfob.providers.storj.authorize import VERSION_OBJECT_LOCK, denial
from keyfob.providers.storj.caveat import Action, ActionType, parse_caveat
from keyfob.providers.storj.grant import AccessGrant, GrantError
from keyfob.providers.storj.macaroon import Macaroon
from keyfob_testbed.loopback_http import LoopbackFake, LoopbackServer, Reply, Request

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RootKey:
    secret: bytes
    version: int


class SatelliteKeys:
    """The satellite's table of live root API keys, keyed by macaroon head; removed keys stay valid for
    `cache_seconds` of `clock` (the satellite's API key cache)."""

    def __init__(self, cache_seconds: float = 0.0, clock: Clock = _now) -> None:
        self._keys: dict[bytes, RootKey] = {}
        self._removed: dict[bytes, tuple[RootKey, datetime]] = {}
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._lock = threading.Lock()

    def add(self, head: bytes, secret: bytes, version: int = VERSION_OBJECT_LOCK) -> None:
        with self._lock:
            self._keys[head] = RootKey(secret, version)

    def remove(self, head: bytes) -> None:
        with self._lock:
            key = self._keys.pop(head, None)
            if key is not None and self.cache_seconds > 0:
                self._removed[head] = (key, self.clock() + timedelta(seconds=self.cache_seconds))

    def get(self, head: bytes) -> RootKey | None:
        """The key as the satellite sees it now: live, or removed but still cached."""
        with self._lock:
            if head in self._keys:
                return self._keys[head]
            cached = self._removed.get(head)
            return cached[0] if cached is not None and self.clock() < cached[1] else None

    def new_root(self, version: int = VERSION_OBJECT_LOCK) -> Macaroon:
        """A fresh root API key, as the satellite creates one (random head and secret)."""
        secret = secrets.token_bytes(32)
        root = Macaroon.unrestricted(secret)
        self.add(root.head, secret, version)
        return root


# ---- a tiny HTTP server on loopback ---------------------------------------------------------------------------

Route = Callable[["Request"], tuple[int, Any]]


class _Fake(LoopbackFake):
    def __init__(self) -> None:
        self._server = LoopbackServer(self._dispatch, "storj-fake")
        self._lock = threading.Lock()
        self.fail_next: list[int] = []  # statuses to answer the next requests with (fault injection)
        self.requests: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return self._server.url

    def _dispatch(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append((request.method, request.path))
            if self.fail_next:
                status = self.fail_next.pop(0)
                return Reply(status, {"error": f"injected failure {status}"})
            return Reply(*self.handle(request))

    def handle(self, request: Request) -> tuple[int, Any]:
        raise NotImplementedError


# ---- auth service -----------------------------------------------------------------------------------------------


@dataclass
class Registration:
    access_key_id: str
    secret_key: str
    grant: AccessGrant
    public: bool
    expires_at: datetime | None


def _base32(version: int, size: int) -> str:
    raw = bytes([version]) + secrets.token_bytes(size)
    return base64.b32encode(raw).decode().rstrip("=").lower()


class FakeAuthService(_Fake):
    """POST /v1/access and GET /v1/health/live, per the contract in the module docstring."""

    def __init__(
        self,
        keys: SatelliteKeys,
        endpoint: str = "https://gateway.invalid",
        allowed_satellites: set[str] | None = None,
        clock: Clock = _now,
        legacy_errors: bool = False,
    ) -> None:
        super().__init__()
        self.legacy_errors = legacy_errors
        self.keys = keys
        self.endpoint = endpoint
        self.allowed_satellites = allowed_satellites
        self.clock = clock
        self.registrations: dict[str, Registration] = {}

    def handle(self, request: Request) -> tuple[int, Any]:
        if request.path == "/v1/health/live" and request.method == "GET":
            return 200, ""
        if request.path != "/v1/access" or request.method != "POST":
            return 404, "not found"
        try:
            body = json.loads(request.body)
        except ValueError as err:
            return 422, str(err)
        if not isinstance(body, dict) or not isinstance(body.get("access_grant"), str):
            return 422, "access_grant must be a string"
        try:
            grant = AccessGrant.parse(body["access_grant"])
        except GrantError as err:
            if self.legacy_errors:
                return 500, "error storing request in database: invalid access grant format"
            return 400, f"access grant: {err}"
        if self.allowed_satellites is not None and grant.satellite_address not in self.allowed_satellites:
            if self.legacy_errors:
                return 500, (f"error storing request in database: access grant contains disallowed satellite "
                             f"{grant.satellite_address!r}")
            return 400, f"access grant: disallowed satellite: {grant.satellite_address!r}"
        try:
            limits = [c.not_after for c in map(parse_caveat, grant.api_key.caveats) if c.not_after is not None]
        except ValueError as err:
            return 400, f"access grant: {err}"
        expires = min(limits).to_datetime() if limits else None
        if expires is not None and expires < self.clock() + timedelta(minutes=1):
            return 400, "access grant: expiration cannot be shorter than a minute"
        registration = Registration(_base32(77, 16), _base32(78, 32), grant, bool(body.get("public")), expires)
        self.registrations[registration.access_key_id] = registration
        return 200, {
            "access_key_id": registration.access_key_id,
            "secret_key": registration.secret_key,
            "endpoint": self.endpoint,
        }

    def denial(
        self,
        access_key_id: str,
        secret_key: str,
        op: ActionType,
        bucket: str,
        path: bytes = b"object",
        when: datetime | None = None,
    ) -> str | None:
        """None when the satellite would let these S3 credentials do `op`, else why not."""
        registration = self.registrations.get(access_key_id)
        if registration is None or not secrets.compare_digest(registration.secret_key, secret_key):
            return "invalid access key"
        mac = registration.grant.api_key
        root = self.keys.get(mac.head)
        if root is None:
            return "API key not found (deleted or never created)"
        action = Action(op, bucket.encode(), path, when or self.clock())
        return denial(mac, root.secret, root.version, action)

    def allows(self, access_key_id: str, secret_key: str, op: ActionType, bucket: str, **kwargs: Any) -> bool:
        return self.denial(access_key_id, secret_key, op, bucket, **kwargs) is None


# ---- console REST API -------------------------------------------------------------------------------------------


@dataclass
class ConsoleApiKey:
    id: str
    name: str
    head: bytes
    created_at: datetime
    version: int


def _like(pattern: str) -> re.Pattern[str]:
    """SQL LIKE ('%' any run, '_' one character), case-insensitive, as the satellite's search uses it."""
    parts = ("." if ch == "_" else ".*" if ch == "%" else re.escape(ch) for ch in pattern.lower())
    return re.compile("".join(parts), re.DOTALL)


class FakeConsole(_Fake):
    """The console's API-key endpoints for one project, per the contract in the module docstring."""

    def __init__(
        self,
        keys: SatelliteKeys,
        rest_key: str | None = None,
        project_id: str | None = None,
        version: int = VERSION_OBJECT_LOCK,
        clock: Clock = _now,
        refuse_create: str | None = None,
    ) -> None:
        super().__init__()
        self.refuse_create = refuse_create
        self.keys = keys
        self.rest_key = rest_key or secrets.token_urlsafe(24)
        self.project_id = project_id or str(uuid.uuid4())
        self.public_id = str(uuid.uuid4())
        self.version = version
        self.clock = clock
        self.api_keys: dict[str, ConsoleApiKey] = {}

    def add_key(self, name: str) -> ConsoleApiKey:
        """Create a key directly (e.g. one that belongs to someone else)."""
        root = self.keys.new_root(self.version)
        key = ConsoleApiKey(str(uuid.uuid4()), name, root.head, self.clock(), self.version)
        self.api_keys[key.id] = key
        return key

    def names(self) -> list[str]:
        return sorted(key.name for key in self.api_keys.values())

    def handle(self, request: Request) -> tuple[int, Any]:
        if request.headers.get("authorization") != f"Bearer {self.rest_key}":
            return 401, {"error": "unauthorized"}
        if request.method == "POST" and request.path == "/public/v1/apikeys/create":
            return self._create(request)
        if request.method == "DELETE" and request.path.startswith("/public/v1/apikeys/delete/"):
            return self._delete(request.path.rsplit("/", 1)[1])
        if request.method == "GET" and request.path.startswith("/public/v1/projects/apikeys/"):
            return self._list(request.path.rsplit("/", 1)[1], request.query)
        return 404, {"error": "not found"}

    def _project(self, text: str) -> tuple[int, Any] | None:
        try:
            uuid.UUID(text)
        except ValueError as err:
            return 400, {"error": str(err)}
        if text.lower() not in (self.project_id, self.public_id):
            return 401, {"error": "console service: project not found or not a member"}
        return None

    def _info(self, key: ConsoleApiKey, project: str) -> dict[str, Any]:
        return {
            "id": key.id,
            "projectId": project,
            "projectPublicId": self.public_id,
            "createdBy": "00000000-0000-0000-0000-000000000000",
            "creatorEmail": "",
            "userAgent": None,
            "name": key.name,
            "createdAt": key.created_at.isoformat().replace("+00:00", "Z"),
            "version": key.version,
        }

    def _create(self, request: Request) -> tuple[int, Any]:
        try:
            body = json.loads(request.body)
            project, name = str(body["projectID"]), str(body["name"])
        except (ValueError, KeyError, TypeError) as err:
            return 400, {"error": f"invalid request: {err}"}
        problem = self._project(project)
        if problem:
            return problem
        if self.refuse_create == "managed-encryption":
            return 403, {"error": "API keys cannot be created for projects with Storj-managed encryption"}
        if self.refuse_create == "plan":
            return 403, {"error": "your plan or project role does not allow creating API keys"}
        if any(key.name == name for key in self.api_keys.values()):
            return 409, {"error": "An API Key with this name already exists in this project"}
        secret = secrets.token_bytes(32)
        root = Macaroon.unrestricted(secret)
        self.keys.add(root.head, secret, self.version)
        key = ConsoleApiKey(str(uuid.uuid4()), name, root.head, self.clock(), self.version)
        self.api_keys[key.id] = key
        return 200, {"key": root.to_api_key(), "keyInfo": self._info(key, project)}

    def _delete(self, key_id: str) -> tuple[int, Any]:
        try:
            uuid.UUID(key_id)
        except ValueError as err:
            return 400, {"error": str(err)}
        key = self.api_keys.pop(key_id, None)
        if key is not None:
            self.keys.remove(key.head)
        return 200, None

    def _list(self, project: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        params: dict[str, str] = {}
        for name in ("search", "limit", "page", "order", "orderDirection"):
            value = (query.get(name) or [""])[0]
            if value == "":
                return 400, {"error": f"parameter '{name}' can't be empty"}
            params[name] = value
        problem = self._project(project)
        if problem:
            return problem
        try:
            limit, page = int(params["limit"]), int(params["page"])
            order, direction = int(params["order"]), int(params["orderDirection"])
        except ValueError as err:
            return 400, {"error": str(err)}
        if limit <= 0 or page <= 0:
            return 400, {"error": "limit and page must be positive"}
        limit = min(limit, 50)
        pattern = _like("%" + params["search"].replace(" ", "%") + "%")
        matched = [key for key in self.api_keys.values() if pattern.fullmatch(key.name.lower())]
        matched.sort(key=(lambda k: k.created_at) if order == 2 else (lambda k: k.name.lower()), reverse=direction == 2)
        offset = (page - 1) * limit
        return 200, {
            "apiKeys": [self._info(key, project) for key in matched[offset : offset + limit]],
            "search": params["search"],
            "limit": limit,
            "order": order,
            "orderDirection": direction,
            "offset": offset,
            "pageCount": (len(matched) + limit - 1) // limit,
            "currentPage": page,
            "totalCount": len(matched),
        }
