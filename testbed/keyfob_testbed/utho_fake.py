"""A loopback fake of Utho's object-storage access-key API (one data centre), for tests.

Contract followed, each line with the provider-side file it was read from (base path /v2/ as uthoplatforms/utho-go
utho/utho.go BaseUrl); where sources disagree the fake can be switched to each variant:

- `Authorization: Bearer <API key>` on every call, else HTTP 401 `{"status": "error", "message": ...}`;
- failures the API reports in the body come as HTTP 200 `{"status": "error", "message": ...}` (utho-go
  object_storage.go checks `status != "success"`): unknown data centre, missing or duplicate key name, unknown
  bucket, key, permission or status value;
- `GET /v2/objectstorage/{dc}/accesskeys`: `list_shape="accesskeys"` -> `{"status": "success", "accesskeys":
  [{name, accesskey, dcslug, status, created_at}]}` (utho-go object_storage.go AccessKeys,
  object_storage_test_dummy_data.go: status "Active"); `list_shape="data"` -> `{"status", "data": [{name,
  access_key, status}]}` (niteshkumarsinha/Utho-Go-SDK services/objectstorage/objectstorage.go). A disabled key
  lists as "Disabled" (Utho's word is not documented);
- `POST /v2/objectstorage/{dc}/accesskey/create` `{"accesskey": <name>}` (utho-go CreateAccessKeyParams):
  `create_shape="accesskey"` -> `{"status", "message": "Object User has been created", "accesskey",
  "secretkey"}` (utho-go CreateAccessKeyResponse, dummy data; terraform-provider-utho-prod
  internal/client/objectstorage.go); `"access_key"` -> the same with `access_key` / `secret_key`; `"data"` ->
  `{"status", "data": {access_key, secret_key}}` (Utho-Go-SDK objectstorage.go); names are unique;
- `POST /v2/objectstorage/{dc}/bucket/{bucket}/permission/{perm}/accesskey/{accesskey}` sets that key's one
  permission on that bucket, replacing an earlier one (utho-go UpdateBucketAccessKeyPermission;
  terraform-provider-utho-prod docs/resources/object_storage_permission.md "updates in place"); perm is one of
  `read`, `write`, `full`, `none` (utho-community/object-storage src/types.ts UpdatePermissionRequest), `none`
  removes the grant; `read_supported=False` refuses `read` ("not currently supported by the Utho platform",
  terraform-provider-utho-prod docs/resources/object_storage_permission.md);
- `POST /v2/objectstorage/{dc}/accesskey/{ident}/status` `{"accesskey": ..., "status": enable|disable|remove}`
  (utho-community src/types.ts ModifyAccessKeyRequest): `status_path="name"` -> ident is the key's name (utho-go
  ModifyAccessKey, utho-community src/utho-client.ts); `"accesskey"` -> ident is the access key
  (terraform-provider-utho-prod UpdateAccessKeyStatus); `remove` deletes the key (terraform-provider-utho-prod
  DeleteAccessKey) unless `can_remove=False` (utho-go has no delete: its DeleteAccessKey is commented out), then
  `remove` is answered "Invalid status";
- fault injection: `error_body_once(message)` (HTTP 200 error body), `throttle_once(retry_after)` (429 with
  Retry-After), `fail_next(status)`, `ignore_status_changes` (status calls answer success but change nothing).

`GET /s3/<bucket>[?need=read|write|list|delete|acl|policy]` is the fake's stand-in for the S3 endpoint
(keyfob_testbed.fake_s3): 200 when the key is Active, the secret matches and its permission on that bucket
includes `need` in this fake's model, which takes each permission's broadest reading (no source documents them):
read = read+list, write = write+delete, full = everything including the bucket's ACL and policy.
No network beyond 127.0.0.1, no sleeps.
"""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from keyfob_testbed.fake_s3 import parse_auth
from keyfob_testbed.loopback_http import LoopbackFake, LoopbackServer, Reply, Request

ALNUM = string.ascii_letters + string.digits
ACTIVE, DISABLED = "Active", "Disabled"
ALLOWS = {
    "read": {"read", "list"},
    "write": {"write", "delete"},
    "full": {"read", "list", "write", "delete", "acl", "policy"},
}


@dataclass
class FakeKey:
    name: str
    access_key: str
    secret_key: str
    status: str = ACTIVE
    grants: dict[str, str] = field(default_factory=dict)  # bucket -> permission


def _error(message: str, status: int = 200) -> Reply:
    return Reply(status, {"status": "error", "message": message})


def _ok(**payload: Any) -> Reply:
    return Reply(200, {"status": "success", **payload})


class UthoFake(LoopbackFake):
    def __init__(
        self,
        token: str | None = None,
        dc: str = "innoida",
        buckets: set[str] | None = None,
        *,
        create_shape: Literal["accesskey", "access_key", "data"] = "accesskey",
        list_shape: Literal["accesskeys", "data"] = "accesskeys",
        status_path: Literal["name", "accesskey"] = "name",
        can_remove: bool = True,
        read_supported: bool = True,
    ) -> None:
        self.token = token or secrets.token_urlsafe(24)
        self.create_shape = create_shape
        self.list_shape = list_shape
        self.status_path = status_path
        self.can_remove = can_remove
        self.read_supported = read_supported
        self.dc = dc
        self.buckets = set(buckets or {"bucket-a", "bucket-b", "bucket-c"})
        self._keys: dict[str, FakeKey] = {}  # by name
        self._faults: list[Reply] = []
        self.ignore_status_changes = False
        self._lock = threading.RLock()
        self.requests: list[tuple[str, str]] = []
        self._server = LoopbackServer(self._dispatch, "utho-fake")

    # ---- lifecycle ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._server.url + "/v2/"

    # ---- test controls ------------------------------------------------------------------------------------

    def error_body_once(self, message: str) -> None:
        with self._lock:
            self._faults.append(_error(message))

    def throttle_once(self, retry_after: str = "5") -> None:
        with self._lock:
            self._faults.append(Reply(429, {"status": "error", "message": "Too Many Requests"},
                                      {"Retry-After": retry_after}))

    def fail_next(self, status: int) -> None:
        with self._lock:
            self._faults.append(_error(f"injected failure {status}", status))

    def add_key(self, name: str, status: str = ACTIVE, grants: dict[str, str] | None = None) -> FakeKey:
        """A key created behind the adapter's back (someone else's, or an orphan)."""
        with self._lock:
            key = self._new_key(name)
            key.status = status
            key.grants.update(grants or {})
            return key

    def stored_keys(self) -> list[FakeKey]:
        with self._lock:
            return list(self._keys.values())

    def key_by_access_key(self, access_key: str) -> FakeKey | None:
        with self._lock:
            return next((k for k in self._keys.values() if k.access_key == access_key), None)

    def writes(self) -> list[tuple[str, str]]:
        with self._lock:
            return [r for r in self.requests if r[0] == "POST"]

    # ---- HTTP ---------------------------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append((request.method, request.path))
            if request.path.startswith("/s3/"):
                return self._s3(request)
            if self._faults:
                return self._faults.pop(0)
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return _error("Unauthorized: invalid API key", 401)
            parts = [p for p in request.path.split("/") if p]
            if parts[:2] != ["v2", "objectstorage"] or len(parts) < 4:
                return _error("Not found", 404)
            if parts[2] != self.dc:
                return _error(f"Invalid location {parts[2]!r}")
            return self._route(request, parts[3:])

    def _route(self, request: Request, rest: list[str]) -> Reply:
        if request.method == "GET" and rest == ["accesskeys"]:
            return _ok(**{self.list_shape: [self._listed(k) for k in self._keys.values()]})
        if request.method == "POST" and rest == ["accesskey", "create"]:
            return self._create(request)
        if request.method == "POST" and len(rest) == 3 and rest[0] == "accesskey" and rest[2] == "status":
            return self._status(rest[1], request)
        if request.method == "POST" and len(rest) == 6 and (rest[0], rest[2], rest[4]) == (
            "bucket", "permission", "accesskey"
        ):
            return self._grant(rest[1], rest[3], rest[5])
        return _error("Not found", 404)

    def _listed(self, key: FakeKey) -> dict[str, Any]:
        if self.list_shape == "data":
            return {"name": key.name, "access_key": key.access_key, "status": key.status}
        return {
            "name": key.name,
            "accesskey": key.access_key,
            "dcslug": self.dc,
            "status": key.status,
            "created_at": "2024-05-05 19:54:20",
        }

    def _new_key(self, name: str) -> FakeKey:
        key = FakeKey(
            name=name,
            access_key="".join(secrets.choice(ALNUM) for _ in range(36)),
            secret_key="".join(secrets.choice(ALNUM) for _ in range(36)),
        )
        self._keys[name] = key
        return key

    def _create(self, request: Request) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return _error("Invalid request")
        name = body.get("accesskey") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name.strip():
            return _error("Access key name is required")
        if len(name) > 64:
            return _error("Access key name is too long")
        if name in self._keys:
            return _error("Access key name already exists")
        key = self._new_key(name)
        if self.create_shape == "data":
            return _ok(message="Object User has been created",
                       data={"access_key": key.access_key, "secret_key": key.secret_key})
        snake = self.create_shape == "access_key"
        access, secret = ("access_key", "secret_key") if snake else ("accesskey", "secretkey")
        return _ok(message="Object User has been created", **{access: key.access_key, secret: key.secret_key})

    def _status(self, ident: str, request: Request) -> Reply:
        key = self._keys.get(ident) if self.status_path == "name" else self.key_by_access_key(ident)
        try:
            body = request.json()
        except ValueError:
            body = None
        wanted = body.get("status") if isinstance(body, dict) else None
        if key is None:
            return _error("Access key not found")
        if wanted not in ("enable", "disable", "remove") or (wanted == "remove" and not self.can_remove):
            return _error("Invalid status")
        if self.ignore_status_changes:
            return _ok(message="Access key status updated")
        if wanted == "remove":
            del self._keys[key.name]
            return _ok(message="Access key removed")
        key.status = ACTIVE if wanted == "enable" else DISABLED
        return _ok(message="Access key status updated")

    def _grant(self, bucket: str, permission: str, access_key: str) -> Reply:
        if bucket not in self.buckets:
            return _error("Bucket not found")
        if permission not in (*ALLOWS, "none") or (permission == "read" and not self.read_supported):
            return _error("Invalid permission")
        key = self.key_by_access_key(access_key)
        if key is None:
            return _error("Access key not found")
        if permission == "none":
            key.grants.pop(bucket, None)
        else:
            key.grants[bucket] = permission
        return _ok(message="Permission updated")

    def _s3(self, request: Request) -> Reply:
        bucket = request.path[len("/s3/") :].strip("/")
        credentials = parse_auth(request.headers.get("authorization"))
        key = self.key_by_access_key(credentials[0]) if credentials else None
        if key is None or credentials is None or not secrets.compare_digest(key.secret_key, credentials[1]):
            return Reply(403, {"Code": "InvalidAccessKeyId"})
        if key.status != ACTIVE:
            return Reply(403, {"Code": "AccessDenied", "Message": "key disabled"})
        if bucket not in self.buckets:
            return Reply(404, {"Code": "NoSuchBucket"})
        permission = key.grants.get(bucket)
        need = request.param("need")
        if permission is None or (need is not None and need not in ALLOWS[permission]):
            return Reply(403, {"Code": "AccessDenied"})
        return Reply(200, {"bucket": bucket, "permission": permission})
