"""A loopback fake of the IONOS Object Storage Management API (access keys only), for tests.

Contract followed (ionos-cloud/sdk-python-object-storage-management docs/api/AccesskeysApi.md and
docs/models/{AccessKeyCreate,AccessKeyRead,AccessKeyReadList,AccessKey,MetadataWithStatus,Error,ErrorMessages}.md;
the wait-until-AVAILABLE and wait-until-404 pattern of ionos-cloud/terraform-provider-ionoscloud
services/objectstoragemanagement/accesskeys.go; the five-key limit of the IONOS docs "Generate a Key"), with
switches for what the sources leave open:

- `administrative=False|True|None`: every key's `metadata.administrative` (optional in
  ionos-cloud/sdk-go-object-storage-management docs/models/MetadataWithStatus.md, "Administrative keys can create
  buckets and set bucket policies"); None leaves the field out. An administrative key may use every bucket AND
  create buckets / set policies at the S3 stand-in (`?need=admin`);
- `not_found_reads=N`: a new key answers GET 404 for its first N reads (the "accessKey not found" case that
  terraform-provider-ionoscloud accesskeys.go accessKeyAvailableCheck retries);

- `Authorization: Bearer <token>` on every call, else 401 with an Error body
  `{"httpStatus": 401, "messages": [{"errorCode": ..., "message": ...}]}`;
- `POST /accesskeys` `{"properties": {"description": ...}}` (JSON only, else 415; malformed 400) -> 201 with
  AccessKeyRead `{id, type, href, metadata: {status: "PROVISIONING", ...}, properties: {description, accessKey,
  secretKey, canonicalUserId, contractUserId}}`; with `limit` (5) keys already present -> 422 (the status code
  IONOS uses at the limit is not documented: 422 is this fake's choice);
- `GET /accesskeys/{id}`: a new key reads PROVISIONING for `provisioning_polls` reads, then AVAILABLE; reads
  never carry the secret key (the fake assumes the secret is shown once, in the create response); a deleted key
  reads DESTROYING for `destroying_polls` reads, then 404;
- `GET /accesskeys?offset=&limit=&filter.accesskeyId=` (limit 1..1000, default 100; pages of at most `page_cap`)
  -> AccessKeyReadList `{id, type, href, items, offset, limit, _links}`;
- `DELETE /accesskeys/{id}` -> 202, empty body (404 when unknown); the key turns DESTROYING at once;
- fault injection: `throttle_once(retry_after)` answers the next call 429 with `Retry-After`, `fail_next(status)`
  answers the next call with that status, `fail_provisioning(message)` makes the next created key FAILED.

`GET /s3/<bucket>` is the fake's stand-in for the S3 endpoint (see keyfob_testbed.fake_s3): an AVAILABLE key with
the right secret may use every bucket in `buckets` (IONOS keys are unscoped), any other key gets 403.

Scoped mode (keyfob_testbed.ionos_cloud_fake, each line with its source there): the same server answers the Cloud
API v6 user management under `/cloudapi/v6/` and the bucket-policy calls of the S3 endpoint (`/s3/` ListBuckets,
`/s3/<bucket>?policy` Get/Put/DeleteBucketPolicy, SigV4 with an administrator's key). A Cloud API user's key at the
stand-in (`?need=read|write|list|delete`, default read) may do exactly what the bucket's policy allows it.
No network beyond 127.0.0.1, no sleeps.
"""

from __future__ import annotations

import secrets
import string
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from keyfob_testbed.fake_s3 import parse_auth
from keyfob_testbed.ionos_cloud_fake import BucketPolicies, CloudApiFake
from keyfob_testbed.loopback_http import LoopbackFake, LoopbackServer, Reply, Request

ALNUM = string.ascii_uppercase + string.digits


@dataclass
class FakeKey:
    id: str
    description: str
    access_key: str
    secret_key: str
    status: str = "PROVISIONING"
    status_message: str | None = None
    reads: int = 0
    created: str = ""
    missing_reads: int = 0  # GETs still to answer 404 (just created)


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"httpStatus": status, "messages": [{"errorCode": code, "message": message}]})


class IonosFake(LoopbackFake):
    def __init__(
        self,
        token: str | None = None,
        buckets: set[str] | None = None,
        limit: int = 5,
        provisioning_polls: int = 2,
        destroying_polls: int = 1,
        page_cap: int = 100,
        administrative: bool | None = False,
        not_found_reads: int = 0,
        *,
        ownership: str = "contractOwned",
        request_polls: int = 1,
        privilege_delay: int = 0,
        key_not_found: int = 404,
        token_is_admin: bool = True,
    ) -> None:
        self.administrative = administrative
        self.not_found_reads = not_found_reads
        self.token = token or secrets.token_urlsafe(24)
        self.buckets = set(buckets or {"bucket-a", "bucket-b"})
        self.limit = limit
        self.provisioning_polls = provisioning_polls
        self.destroying_polls = destroying_polls
        self.page_cap = page_cap
        self.canonical_user_id = secrets.token_hex(32)
        self.contract_user_id = str(uuid.uuid4())
        self._keys: dict[str, FakeKey] = {}
        self._faults: list[Reply] = []
        self._next_failure: str | None = None
        self._lock = threading.RLock()
        self.requests: list[tuple[str, str]] = []
        self._server = LoopbackServer(self._dispatch, "ionos-fake")
        self.cloud = CloudApiFake(self.token, request_polls=request_polls, privilege_delay=privilege_delay,
                                  key_not_found=key_not_found, token_is_admin=token_is_admin)  # fmt: skip
        self.cloud.base = self._server.url
        self.policies = BucketPolicies(self.cloud, self.buckets, ownership)

    # ---- lifecycle ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._server.url

    # ---- test controls ------------------------------------------------------------------------------------

    def throttle_once(self, retry_after: str = "7") -> None:
        with self._lock:
            self._faults.append(
                Reply(429, {"httpStatus": 429, "messages": [{"errorCode": "paas-rate-1", "message": "Too Many"}]},
                      {"Retry-After": retry_after})
            )

    def fail_next(self, status: int) -> None:
        with self._lock:
            self._faults.append(_error(status, f"paas-fake-{status}", f"injected failure {status}"))

    def fail_provisioning(self, message: str) -> None:
        with self._lock:
            self._next_failure = message

    def add_key(self, description: str, status: str = "AVAILABLE") -> FakeKey:
        """A key created behind the adapter's back (someone else's, or an orphan)."""
        with self._lock:
            key = self._new_key(description)
            key.status = status
            return key

    def stored_keys(self) -> list[FakeKey]:
        with self._lock:
            return list(self._keys.values())

    def key_by_access_key(self, access_key: str) -> FakeKey | None:
        with self._lock:
            return next((k for k in self._keys.values() if k.access_key == access_key), None)

    def writes(self) -> list[tuple[str, str]]:
        with self._lock:
            return [r for r in self.requests if r[0] in ("POST", "PUT", "DELETE") and not r[1].startswith("/s3/")]

    @property
    def cloud_api_url(self) -> str:
        return self._server.url + "/cloudapi/v6"

    # ---- HTTP ---------------------------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append((request.method, request.path))
            if request.path in ("/s3", "/s3/"):
                return self.policies.handle(request, "")
            if request.path.startswith("/s3/"):
                if request.headers.get("authorization", "").startswith("AWS4-"):
                    return self.policies.handle(request, request.path[len("/s3/") :].strip("/"))
                return self._s3(request)
            if self._faults:
                return self._faults.pop(0)
            if request.path.startswith("/cloudapi/v6/"):
                return self.cloud.handle(request, [p for p in request.path[len("/cloudapi/v6/") :].split("/") if p])
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return _error(401, "paas-auth-1", "Unauthorized: the token is missing, expired or invalid")
            parts = [p for p in request.path.split("/") if p]
            if parts == ["accesskeys"] and request.method == "GET":
                return self._list(request)
            if parts == ["accesskeys"] and request.method == "POST":
                return self._create(request)
            if len(parts) == 2 and parts[0] == "accesskeys" and request.method == "GET":
                return self._read(parts[1])
            if len(parts) == 2 and parts[0] == "accesskeys" and request.method == "DELETE":
                return self._delete(parts[1])
            return _error(404, "paas-route-1", "no such resource")

    def _new_key(self, description: str) -> FakeKey:
        key = FakeKey(
            id=str(uuid.uuid4()),
            description=description,
            access_key="".join(secrets.choice(ALNUM) for _ in range(20)),
            secret_key=secrets.token_urlsafe(30),
            created=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        )
        self._keys[key.id] = key
        return key

    def _read_model(self, key: FakeKey, with_secret: bool = False) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "description": key.description,
            "accessKey": key.access_key,
            "canonicalUserId": self.canonical_user_id,
            "contractUserId": self.contract_user_id,
        }
        if with_secret:
            properties["secretKey"] = key.secret_key
        metadata: dict[str, Any] = {
            "createdDate": key.created,
            "status": key.status,
            "supportedRegions": ["eu-central-3"],
        }
        if self.administrative is not None:
            metadata["administrative"] = self.administrative
        if key.status_message:
            metadata["statusMessage"] = key.status_message
        return {
            "id": key.id,
            "type": "accesskey",
            "href": f"/accesskeys/{key.id}",
            "metadata": metadata,
            "properties": properties,
        }

    def _list(self, request: Request) -> Reply:
        try:
            offset = int(request.param("offset") or 0)
            limit = int(request.param("limit") or 100)
        except ValueError:
            return _error(400, "paas-validation-1", "offset and limit must be integers")
        if offset < 0 or not 1 <= limit <= 1000:
            return _error(400, "paas-validation-1", "offset must be >= 0 and limit within 1..1000")
        wanted = request.param("filter.accesskeyId")
        keys = [k for k in self._keys.values() if wanted is None or wanted in (k.id, k.access_key)]
        limit = min(limit, self.page_cap)
        page = keys[offset : offset + limit]
        links: dict[str, str] = {"self": f"/accesskeys?offset={offset}&limit={limit}"}
        if offset + limit < len(keys):
            links["next"] = f"/accesskeys?offset={offset + limit}&limit={limit}"
        return Reply(200, {
            "id": "accesskeys",
            "type": "collection",
            "href": "/accesskeys",
            "items": [self._read_model(k) for k in page],
            "offset": offset,
            "limit": limit,
            "_links": links,
        })

    def _create(self, request: Request) -> Reply:
        if not request.headers.get("content-type", "").startswith("application/json"):
            return _error(415, "paas-media-1", "Content-Type must be application/json")
        try:
            body = request.json()
        except ValueError:
            return _error(400, "paas-validation-1", "malformed JSON")
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict) or not isinstance(properties.get("description", ""), str):
            return _error(400, "paas-validation-1", "properties.description must be a string")
        if len(self._keys) >= self.limit:
            return _error(422, "paas-validation-2", f"The maximum number of access keys ({self.limit}) is reached")
        key = self._new_key(properties.get("description", ""))
        key.missing_reads = self.not_found_reads
        if self._next_failure is not None:
            key.status, key.status_message, self._next_failure = "FAILED", self._next_failure, None
        return Reply(201, self._read_model(key, with_secret=True))

    def _read(self, key_id: str) -> Reply:
        key = self._keys.get(key_id)
        if key is None or key.missing_reads > 0:
            if key is not None:
                key.missing_reads -= 1
            return _error(404, "paas-resource-1", "access key not found")
        if key.status == "PROVISIONING":
            if key.reads >= self.provisioning_polls:
                key.status, key.reads = "AVAILABLE", 0
            else:
                key.reads += 1
        elif key.status == "DESTROYING":
            if key.reads >= self.destroying_polls:
                del self._keys[key_id]
                return _error(404, "paas-resource-1", "access key not found")
            key.reads += 1
        return Reply(200, self._read_model(key))

    def _delete(self, key_id: str) -> Reply:
        key = self._keys.get(key_id)
        if key is None:
            return _error(404, "paas-resource-1", "access key not found")
        if key.status != "DESTROYING":
            key.status, key.reads, key.missing_reads = "DESTROYING", 0, 0
        return Reply(202)

    def _scoped_s3(self, bucket: str, access: str, secret: str, need: str | None) -> Reply | None:
        """A Cloud API user's key: what the bucket's policy allows; None for a key that is not one."""
        user = self.cloud.user_of_key(access)
        if user is None:
            return None
        if not secrets.compare_digest(user.keys[access], secret):
            return Reply(403, {"Code": "SignatureDoesNotMatch"})
        if bucket not in self.buckets:
            return Reply(404, {"Code": "NoSuchBucket"})
        arn = f"arn:aws:s3:::{bucket}"
        action, resource = {
            "read": ("s3:GetObject", f"{arn}/probe"), "write": ("s3:PutObject", f"{arn}/probe"),
            "delete": ("s3:DeleteObject", f"{arn}/probe"), "list": ("s3:ListBucket", arn),
            "admin": ("s3:PutBucketPolicy", arn),
        }.get(need or "read", ("", ""))  # fmt: skip
        if need == "admin" and not user.administrator:
            return Reply(403, {"Code": "AccessDenied", "Message": "not an administrator"})
        if not action or not self.policies.allows(user, bucket, action, resource):
            return Reply(403, {"Code": "AccessDenied"})
        return Reply(200, {"bucket": bucket})

    def _s3(self, request: Request) -> Reply:
        bucket = request.path[len("/s3/") :].strip("/")
        credentials = parse_auth(request.headers.get("authorization"))
        scoped = self._scoped_s3(bucket, *credentials, request.param("need")) if credentials else None
        if scoped is not None:
            return scoped
        key = self.key_by_access_key(credentials[0]) if credentials else None
        if key is None or credentials is None or not secrets.compare_digest(key.secret_key, credentials[1]):
            return Reply(403, {"Code": "InvalidAccessKeyId"})
        if key.status != "AVAILABLE":
            return Reply(403, {"Code": "AccessDenied", "Message": f"key is {key.status}"})
        if request.param("need") == "admin" and not self.administrative:
            return Reply(403, {"Code": "AccessDenied", "Message": "not an administrative key"})
        if bucket not in self.buckets:
            return Reply(404, {"Code": "NoSuchBucket"})
        return Reply(200, {"bucket": bucket})
