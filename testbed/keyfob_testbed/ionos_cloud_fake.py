"""Loopback fakes for keyfob's scoped IONOS mode: the Cloud API v6 user management and the bucket-policy side of the
IONOS S3 endpoint, mounted into keyfob_testbed.ionos_fake.IonosFake (one server, routes /cloudapi/v6/... and /s3/...).

Cloud API v6 (`CloudApiFake`), each point with its source:
- routes and bodies: ionos-cloud/sdk-python (7eb23628) docs/api/UserManagementApi.md, docs/api/UserS3KeysApi.md,
  docs/api/RequestsApi.md; models docs/models/{User,UserPost,UserPropertiesPost,UserProperties,Users,UsersEntities,
  S3Key,S3Keys,S3KeyProperties,S3KeyMetadata,UserGroupPost,RequestStatus,RequestStatusMetadata}.md and the wire
  names of ionoscloud/models/*.py attribute_map (s3CanonicalUserId, forceSecAuth, secAuthActive, secretKey);
- `Authorization: Bearer <token>` (sdk-ruby docs/UserS3KeysApi.md, Token Authentication); only an administrator's
  token may manage users (terraform-provider-ionoscloud docs: administrators "automatically have access to all
  resources"; a non-administrator token answers 403 here, the exact answer is unverified);
- writes are asynchronous: 202 + `Location: .../requests/<id>/status`, which reads RUNNING `request_polls` times,
  then DONE (terraform-provider-ionoscloud services/bundleclient/state.go WaitForStateChange: QUEUED/RUNNING
  pending, DONE target, FAILED with metadata.message). The fake applies a write at once; only its status lags;
- collections carry item properties only with depth >= 1 (the `depth` parameter of every SDK call: "depth=0: Only
  direct properties are included; children ... are not included");
- a key can be created only for a user in a group with s3Privilege (docs/models/GroupProperties.md `s3_privilege`),
  else 422 "The user needs to be part of a group that has ACCESS_S3_OBJECT_STORAGE privilege"; with
  `privilege_delay=N` the first N creates after joining answer the same (privilege propagation:
  terraform-provider-ionoscloud ionoscloud/resource_s3_key.go isS3KeyPrivilegeError);
- at most five keys per user (ionosctl docs "A maximum of five S3 keys may be created for any given user"); 422 at
  the limit (the status is unverified);
- a key's id is its access key; key reads carry `secretKey` (ionosctl `--cols="S3KeyId,Active,SecretKey"`);
- a key that is not found answers 404, or with `key_not_found=422` the 422 "The access key cannot be found, please
  double-check the key id and try again." terraform-provider-ionoscloud resource_s3_key.go isS3KeyNotFound handles;
- unique email per user: a second user with the same email answers 422 (unverified);
- deleting a user deletes its keys and memberships (unverified; keyfob deletes the keys first anyway).

Bucket policies (`BucketPolicies`), the contract of IONOS's "Object Storage API for contract-owned buckets" and its
SDK models (terraform-provider-ionoscloud vendor/github.com/ionos-cloud/sdk-go-bundle/products/objectstorage/v2/
{api_policy.go, model_bucket_policy*.go, model_principal.go}; userobjectstorage/v2 for user-owned buckets):
- `PUT|GET|DELETE /{Bucket}?policy`, SigV4 (checked here against the admin key's secret: AWS Signature Version 4,
  the signing process every S3 SDK implements), allowed for administrators only ("You must be the contract owner
  or an administrator"); GET with no policy -> 404 NoSuchBucketPolicy; unknown bucket -> 404 NoSuchBucket;
- `GET /` (ListBuckets) for the admin key;
- a policy is refused (400 MalformedPolicy) when a statement's Resource is not `arn:aws:s3:::<bucket>`,
  `.../<bucket>/*` or `.../<bucket>/<object>` (model_bucket_policy_statement.go), uses a condition operator other
  than IpAddress, NotIpAddress, DateGreaterThan, DateLessThan (model_bucket_policy_condition.go; user-owned
  buckets accept more, userobjectstorage model_bucket_policy_statement_condition.go, which keyfob never uses), or
  names a principal in the other bucket type's form: contract-owned `{"AWS": "arn:aws:iam:::user/<contract>:<user
  id>"}` (model_principal.go, docs/resources/s3_bucket_policy.md), user-owned `{"CanonicalUser": [...]}`
  (model_bucket_policy_statement_principal_any_of.go); over 1 MB (contract-owned) / 20 KB (user-owned) -> 400
  (IONOS docs "Bucket Policy");
- a stored policy is answered with single principals as a string, several as a list (services/objectstorage/policy.go
  bucketPolicyPrincipal: "matching the API's canonicalization behavior").
Evaluation for the data-plane stand-in (`allows`): an explicit Deny wins, then any Allow whose Principal names the
key's user, whose Action (or s3:*) and Resource match, and whose conditions hold (aws:CurrentTime against the
fake's clock, aws:SourceIp against 127.0.0.1). Administrators may use every bucket. This is the policy model of
AWS's S3 documentation, as IONOS follows it; it is not IONOS's implementation.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from keyfob_testbed.loopback_http import Reply, Request

ALNUM = string.ascii_uppercase + string.digits
KEY_NOT_FOUND_422 = "The access key cannot be found, please double-check the key id and try again."
NEEDS_PRIVILEGE = "The user needs to be part of a group that has ACCESS_S3_OBJECT_STORAGE privilege"
CONDITION_OPERATORS = {"IpAddress", "NotIpAddress", "DateGreaterThan", "DateLessThan"}
MAX_POLICY = {"contractOwned": 1_000_000, "userOwned": 20 * 1024}
_SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?"
    r"Signature=([0-9a-f]{64})$"
)


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"httpStatus": status, "messages": [{"errorCode": code, "message": message}]})


def _s3_error(status: int, code: str, message: str = "") -> Reply:
    return Reply(status, f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                         f"<Message>{message}</Message></Error>")  # fmt: skip


@dataclass
class FakeUser:
    id: str
    email: str
    firstname: str
    lastname: str
    administrator: bool
    canonical_id: str
    created: str
    keys: dict[str, str] = field(default_factory=dict)  # access key -> secret
    joined_at_creates: int | None = None  # key creates still to refuse after joining a privileged group


@dataclass
class FakeGroup:
    id: str
    s3_privilege: bool
    members: set[str] = field(default_factory=set)


class CloudApiFake:
    """State and routes of the Cloud API v6 user management (see the module docstring)."""

    def __init__(
        self, token: str, contract_number: int = 31000000, request_polls: int = 1, privilege_delay: int = 0,
        key_not_found: int = 404, token_is_admin: bool = True,
    ) -> None:  # fmt: skip
        self.token = token
        self.contract_number = contract_number
        self.request_polls = request_polls
        self.privilege_delay = privilege_delay
        self.key_not_found = key_not_found
        self.token_is_admin = token_is_admin
        self.users: dict[str, FakeUser] = {}
        self.groups: dict[str, FakeGroup] = {}
        self.requests: dict[str, int] = {}  # request id -> status reads left before DONE
        self.passwords: list[str] = []  # what keyfob sent, so tests can check no log ever shows one
        self.base = ""  # set by the server that mounts this fake
        # The token's own user: an administrator with one Object Storage key (the one keyfob writes policies with).
        self.admin = self._add_user("admin@contract.test", "Contract", "Admin", administrator=True)
        self.admin_access_key, self.admin_secret_key = self._new_key(self.admin)
        self.s3_group = self.add_group(s3_privilege=True)

    # ---- test controls ------------------------------------------------------------------------------------------

    def add_group(self, s3_privilege: bool) -> FakeGroup:
        group = FakeGroup(str(uuid.uuid4()), s3_privilege)
        self.groups[group.id] = group
        return group

    def add_user(self, email: str, firstname: str, lastname: str, administrator: bool = False) -> FakeUser:
        """A user made behind keyfob's back (someone's own, or a forgery)."""
        return self._add_user(email, firstname, lastname, administrator)

    def user_of_key(self, access_key: str) -> FakeUser | None:
        return next((u for u in self.users.values() if access_key in u.keys), None)

    def contract_user_id(self, user: FakeUser) -> str:
        return f"{self.contract_number}:{user.id}"

    # ---- helpers ----------------------------------------------------------------------------------------------

    def _add_user(self, email: str, firstname: str, lastname: str, administrator: bool) -> FakeUser:
        user = FakeUser(
            id=str(uuid.uuid4()), email=email, firstname=firstname, lastname=lastname, administrator=administrator,
            canonical_id=secrets.token_hex(32), created=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        )  # fmt: skip
        self.users[user.id] = user
        return user

    def _new_key(self, user: FakeUser) -> tuple[str, str]:
        access = "".join(secrets.choice(ALNUM) for _ in range(20))
        user.keys[access] = secrets.token_urlsafe(30)
        return access, user.keys[access]

    def _accepted(self, payload: Any = None) -> Reply:
        request_id = str(uuid.uuid4())
        self.requests[request_id] = self.request_polls
        return Reply(202, payload, {"Location": f"{self.base}/cloudapi/v6/requests/{request_id}/status"})

    def _user_model(self, user: FakeUser, depth: int) -> dict[str, Any]:
        model: dict[str, Any] = {"id": user.id, "type": "user", "href": f"{self.base}/cloudapi/v6/um/users/{user.id}"}
        if depth >= 0:
            model["metadata"] = {"etag": hashlib.sha256(user.id.encode()).hexdigest()[:32], "createdDate": user.created}
            model["properties"] = {
                "firstname": user.firstname, "lastname": user.lastname, "email": user.email,
                "administrator": user.administrator, "forceSecAuth": False, "secAuthActive": False,
                "s3CanonicalUserId": user.canonical_id, "active": True,
            }  # fmt: skip
        return model

    def _key_model(self, user: FakeUser, access: str, depth: int) -> dict[str, Any]:
        model: dict[str, Any] = {"id": access, "type": "s3key",
                                 "href": f"{self.base}/cloudapi/v6/um/users/{user.id}/s3keys/{access}"}  # fmt: skip
        if depth >= 0:
            model["metadata"] = {"createdDate": user.created}
            model["properties"] = {"secretKey": user.keys[access], "active": True}
        return model

    @staticmethod
    def _depth(request: Request, default: int) -> int:
        try:
            return int(request.param("depth") or default)
        except ValueError:
            return default

    def _collection(self, kind: str, href: str, items: list[dict[str, Any]]) -> Reply:
        return Reply(200, {"id": kind, "type": "collection", "href": href, "items": items})

    # ---- routes -----------------------------------------------------------------------------------------------

    def handle(self, request: Request, parts: list[str]) -> Reply:
        """`parts`: the path below /cloudapi/v6, split at '/'."""
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, "paas-auth-1", "Unauthorized")
        method = request.method
        if parts[:1] == ["requests"] and len(parts) == 3 and parts[2] == "status" and method == "GET":
            return self._request_status(parts[1])
        if parts[:1] == ["um"] and not self.token_is_admin:
            return _error(403, "paas-auth-3", "Access denied: only administrators manage users")
        if parts == ["um", "users"]:
            if method == "GET":
                # A collection's items carry properties only with depth >= 1 (depth=0: references only).
                depth = self._depth(request, 0) - 1
                items = [self._user_model(u, depth) for u in self.users.values()]
                return self._collection("users", f"{self.base}/cloudapi/v6/um/users", self._page(request, items))
            if method == "POST":
                return self._create_user(request)
        if len(parts) == 3 and parts[:2] == ["um", "users"]:
            user = self.users.get(parts[2])
            if user is None:
                return _error(404, "paas-resource-1", "user not found")
            if method == "GET":
                return Reply(200, self._user_model(user, self._depth(request, 0)))
            if method == "DELETE":
                del self.users[user.id]
                for group in self.groups.values():
                    group.members.discard(user.id)
                return self._accepted()
        if len(parts) >= 4 and parts[:2] == ["um", "users"] and parts[3] == "s3keys":
            return self._keys(request, parts)
        if len(parts) == 4 and parts[:2] == ["um", "groups"] and parts[3] == "users":
            return self._group_users(request, parts[2])
        return _error(404, "paas-route-1", "no such resource")

    def _page(self, request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        offset = int(request.param("offset") or 0)
        limit = int(request.param("limit") or 1000)
        return items[offset : offset + limit]

    def _request_status(self, request_id: str) -> Reply:
        left = self.requests.get(request_id)
        if left is None:
            return _error(404, "paas-resource-1", "request not found")
        status = "RUNNING" if left > 0 else "DONE"
        self.requests[request_id] = max(left - 1, 0)
        return Reply(200, {"id": request_id, "type": "request-status",
                           "href": f"{self.base}/cloudapi/v6/requests/{request_id}/status",
                           "metadata": {"status": status, "message": "Request is being processed"
                                        if status == "RUNNING" else "Request has been successfully executed",
                                        "targets": []}})  # fmt: skip

    def _create_user(self, request: Request) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return _error(400, "paas-validation-1", "malformed JSON")
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict):
            return _error(400, "paas-validation-1", "properties are required")
        wanted = {k: properties.get(k) for k in ("firstname", "lastname", "email", "password")}
        if not all(isinstance(v, str) and v for v in wanted.values()):
            return _error(422, "paas-validation-1", "firstname, lastname, email and password are required")
        email = str(wanted["email"])
        self.passwords.append(str(wanted["password"]))
        if any(u.email.lower() == email.lower() for u in self.users.values()):
            return _error(422, "paas-validation-4", "a user with this email already exists")
        user = self._add_user(email, str(wanted["firstname"]), str(wanted["lastname"]),
                              bool(properties.get("administrator", False)))  # fmt: skip
        return self._accepted(self._user_model(user, 0))

    def _group_users(self, request: Request, group_id: str) -> Reply:
        group = self.groups.get(group_id)
        if group is None:
            return _error(404, "paas-resource-1", "group not found")
        if request.method == "GET":
            items = [{"id": m, "type": "user", "href": f"{self.base}/cloudapi/v6/um/users/{m}"}
                     for m in sorted(group.members)]  # fmt: skip
            return self._collection("users", f"{self.base}/cloudapi/v6/um/groups/{group_id}/users", items)
        if request.method == "POST":
            body = request.json()
            user = self.users.get(body.get("id") if isinstance(body, dict) else "")
            if user is None:
                return _error(404, "paas-resource-1", "user not found")
            if user.id in group.members:
                return _error(422, "paas-validation-5", "the user is already a member of the group")
            group.members.add(user.id)
            if group.s3_privilege:
                user.joined_at_creates = self.privilege_delay
            return self._accepted(self._user_model(user, 0))
        return _error(405, "paas-route-2", "method not allowed")

    def _privileged(self, user: FakeUser) -> bool:
        return any(g.s3_privilege and user.id in g.members for g in self.groups.values()) or user.administrator

    def _keys(self, request: Request, parts: list[str]) -> Reply:
        user = self.users.get(parts[2])
        if user is None:
            return _error(404, "paas-resource-1", "user not found")
        if len(parts) == 4 and request.method == "GET":
            depth = self._depth(request, 0) - 1
            items = [self._key_model(user, a, depth) for a in user.keys]
            return self._collection("s3keys", f"{self.base}/cloudapi/v6/um/users/{user.id}/s3keys", items)
        if len(parts) == 4 and request.method == "POST":
            if not self._privileged(user):
                return _error(422, "paas-validation-6", NEEDS_PRIVILEGE)
            if user.joined_at_creates:
                user.joined_at_creates -= 1
                return _error(422, "paas-validation-6", NEEDS_PRIVILEGE)
            if len(user.keys) >= 5:
                return _error(422, "paas-validation-7", "A maximum of five S3 keys may be created for any user")
            access, _ = self._new_key(user)
            return Reply(201, self._key_model(user, access, 0))
        if len(parts) == 5:
            if parts[4] not in user.keys:
                if self.key_not_found == 422:
                    return _error(422, "paas-validation-8", KEY_NOT_FOUND_422)
                return _error(404, "paas-resource-1", "key not found")
            if request.method == "GET":
                return Reply(200, self._key_model(user, parts[4], 0))
            if request.method == "DELETE":
                del user.keys[parts[4]]
                return self._accepted()
        return _error(405, "paas-route-2", "method not allowed")


# ---- bucket policies ---------------------------------------------------------------------------------------------


def _sigv4_access_key(request: Request, secret_for: Callable[[str], str | None]) -> str | None:
    """The access key of a request whose AWS Signature Version 4 verifies against that key's secret; None else."""
    match = _SIGV4.fullmatch(request.headers.get("authorization", ""))
    if not match:
        return None
    access, day, region, signed, signature = match.groups()
    secret = secret_for(access)
    amz_date = request.headers.get("x-amz-date", "")
    payload = request.headers.get("x-amz-content-sha256", "")
    if secret is None or not amz_date.startswith(day):
        return None
    if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(request.body).hexdigest():
        return None
    names = signed.split(";")
    if any(n not in request.headers for n in names):
        return None
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                     for k, vs in sorted(request.query.items()) for v in sorted(vs))  # fmt: skip
    canonical = "\n".join([
        request.method, quote(request.path, safe="/-_.~"), query,
        "".join(f"{n}:{' '.join(request.headers[n].split())}\n" for n in names), signed, payload,
    ])  # fmt: skip
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = f"AWS4{secret}".encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return access if hmac.compare_digest(expected, signature) else None


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principals(statement: dict[str, Any]) -> dict[str, list[str]]:
    raw = statement.get("Principal")
    if isinstance(raw, dict):
        return {k: [str(v) for v in _listed(vs)] for k, vs in raw.items()}
    return {"AWS": [str(v) for v in _listed(raw)]} if raw is not None else {}


class BucketPolicies:
    """Bucket policies of the fake's S3 endpoint, stored as IONOS answers them, and their evaluation."""

    def __init__(self, cloud: CloudApiFake, buckets: set[str], ownership: str = "contractOwned",
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:  # fmt: skip
        self.cloud = cloud
        self.buckets = buckets
        self.ownership = ownership
        self.now = now
        self.policies: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, str]] = []

    # ---- routes -----------------------------------------------------------------------------------------------

    def handle(self, request: Request, bucket: str) -> Reply:
        """S3 calls of the admin key: ListBuckets (bucket ''), Get/Put/DeleteBucketPolicy."""
        def secret_for(access: str) -> str | None:
            user = self.cloud.user_of_key(access)
            return user.keys[access] if user is not None else None

        access = _sigv4_access_key(request, secret_for)
        user = self.cloud.user_of_key(access) if access else None
        if user is None:
            return _s3_error(403, "SignatureDoesNotMatch", "the request signature does not verify")
        if not user.administrator:
            return _s3_error(403, "AccessDenied", "only the contract owner or an administrator")
        if not bucket and request.method == "GET":
            names = "".join(f"<Bucket><Name>{b}</Name><CreationDate>2026-01-01T00:00:00.000Z</CreationDate>"
                            "</Bucket>" for b in sorted(self.buckets))  # fmt: skip
            return Reply(200, '<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult><Owner><ID>'
                              f"{user.canonical_id}</ID></Owner><Buckets>{names}</Buckets></ListAllMyBucketsResult>")
        if bucket not in self.buckets:
            return _s3_error(404, "NoSuchBucket", bucket)
        if "policy" not in request.query:
            return _s3_error(400, "InvalidRequest", "only ?policy is served by this fake")
        if request.method == "GET":
            stored = self.policies.get(bucket)
            return Reply(200, json.dumps(stored)) if stored else _s3_error(404, "NoSuchBucketPolicy", bucket)
        if request.method == "DELETE":
            self.writes.append(("DELETE", bucket))
            self.policies.pop(bucket, None)
            return Reply(204)
        if request.method == "PUT":
            return self._put(bucket, request.body)
        return _s3_error(405, "MethodNotAllowed")

    def _put(self, bucket: str, body: bytes) -> Reply:
        if len(body) > MAX_POLICY[self.ownership]:
            return _s3_error(400, "PolicyTooLarge", f"over {MAX_POLICY[self.ownership]} bytes")
        try:
            policy = json.loads(body)
        except ValueError:
            return _s3_error(400, "MalformedPolicy", "not JSON")
        problem = self._malformed(bucket, policy)
        if problem:
            return _s3_error(400, "MalformedPolicy", problem)
        self.writes.append(("PUT", bucket))
        self.policies[bucket] = self._canonical(policy)
        return Reply(204)

    def _malformed(self, bucket: str, policy: Any) -> str | None:
        statements = policy.get("Statement") if isinstance(policy, dict) else None
        if not isinstance(statements, list) or not statements:
            return "Statement must be a non-empty list"
        arn = f"arn:aws:s3:::{bucket}"
        for statement in statements:
            if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
                return "every statement needs Effect Allow or Deny"
            for resource in _listed(statement.get("Resource")):
                if not (resource in (arn, f"{arn}/*") or (isinstance(resource, str) and resource.startswith(
                        f"{arn}/") and "*" not in resource)):  # fmt: skip
                    return f"Resource {resource!r} is not {arn}, {arn}/* or {arn}/<object>"
            for operator in statement.get("Condition") or {}:
                if operator not in CONDITION_OPERATORS:
                    return f"condition operator {operator} is not supported"
            principals = _principals(statement)
            wrong = "CanonicalUser" if self.ownership == "contractOwned" else "AWS"
            if wrong in principals and principals[wrong] != ["*"]:
                return f"{wrong} principals are not accepted on {self.ownership} buckets"
        return None

    @staticmethod
    def _canonical(policy: dict[str, Any]) -> dict[str, Any]:
        """As IONOS answers it: a single principal as a string."""
        stored = copy.deepcopy(policy)
        for statement in stored["Statement"]:
            principal = statement.get("Principal")
            if isinstance(principal, dict):
                statement["Principal"] = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v)
                                          for k, v in principal.items()}  # fmt: skip
        return stored

    # ---- evaluation -------------------------------------------------------------------------------------------

    def allows(self, user: FakeUser, bucket: str, action: str, resource: str) -> bool:
        if user.administrator:
            return True
        me = (self.cloud.contract_user_id(user) if self.ownership == "contractOwned" else user.canonical_id)
        kind = "AWS" if self.ownership == "contractOwned" else "CanonicalUser"
        mine = f"arn:aws:iam:::user/{me}" if kind == "AWS" else me
        verdicts = []
        for statement in (self.policies.get(bucket) or {}).get("Statement", []):
            named = _principals(statement).get(kind, [])
            if not ({mine, "*"} & set(named)) or not self._holds(statement.get("Condition") or {}):
                continue
            actions = _listed(statement.get("Action"))
            if not ({action, "s3:*"} & set(actions)):
                continue
            if not any(r == resource or (r.endswith("/*") and resource.startswith(r[:-1]))
                       for r in _listed(statement.get("Resource"))):  # fmt: skip
                continue
            verdicts.append(statement["Effect"])
        return "Allow" in verdicts and "Deny" not in verdicts

    def _holds(self, condition: dict[str, Any]) -> bool:
        now = self.now()
        for operator, tests in condition.items():
            for key, value in tests.items():
                if key == "aws:CurrentTime":
                    when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
                    if (operator == "DateLessThan" and not now < when) or (
                            operator == "DateGreaterThan" and not now > when):  # fmt: skip
                        return False
                elif key == "aws:SourceIp":
                    inside = any(ipaddress.ip_address("127.0.0.1") in ipaddress.ip_network(v, strict=False)
                                 for v in _listed(value))  # fmt: skip
                    if inside != (operator == "IpAddress"):
                        return False
                else:
                    return False
        return True
