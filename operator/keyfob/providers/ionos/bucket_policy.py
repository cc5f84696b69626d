"""keyfob's statements in IONOS bucket policies (scoped mode): rendering, merging into a bucket's existing policy
and removing again, all pure.

What IONOS bucket policies accept (sources, all in ionos-cloud/terraform-provider-ionoscloud at 62ea59ad):
- Principal: contract-owned buckets `{"AWS": ["arn:aws:iam:::user/<contract user id>"]}`, the contract user id being
  `<contract number>:<user id>` (vendor/.../sdk-go-bundle/products/objectstorage/v2/model_principal.go;
  docs/resources/s3_bucket_policy.md example `arn:aws:iam:::user/31000000:9acd8251-...`; IONOS docs "Bucket Policy
  > Examples"); user-owned buckets `{"CanonicalUser": ["<canonical user id>"]}` (.../userobjectstorage/v2/
  model_bucket_policy_statement_principal_any_of.go; IONOS docs "Bucket Policy > Examples"). IONOS answers a single
  principal as a string, several as a list (services/objectstorage/policy.go bucketPolicyPrincipal), and every form
  is read here.
- Resource "must be one of" `arn:aws:s3:::<bucket>`, `arn:aws:s3:::<bucket>/*` or `arn:aws:s3:::<bucket>/<object>`
  (objectstorage/v2 and userobjectstorage/v2 model_bucket_policy_statement.go). IONOS's docs also show
  `<bucket>/prefix/*` with a `StringLike s3:prefix` condition, but the contract-owned API lists only IpAddress,
  NotIpAddress, DateGreaterThan and DateLessThan as condition operators (objectstorage/v2
  model_bucket_policy_condition.go): the sources disagree, so keyfob refuses prefixes rather than guess.
- Condition `DateLessThan {"aws:CurrentTime": ...}` is supported on both bucket types (model_bucket_policy_condition
  _date.go, userobjectstorage model_bucket_policy_statement_condition_date_less_than.go): every statement carries
  the key's expiry, and keyfob also revokes at expiry.
- Size: at most 1 MB per policy for contract-owned buckets, 20 KB for user-owned (IONOS docs "Bucket Policy").
Actions keyfob uses are the four S3 actions every IONOS example names: s3:GetObject, s3:PutObject,
s3:DeleteObject (objects) and s3:ListBucket (the bucket). Object-lock actions are not granted: which of them
IONOS's bucket policies accept is not in the sources read (unverified), so such requests are refused.

keyfob's statements are found by their Sid, `keyfob <cluster id> <key name> <part>` (IONOS Sids are free text with
spaces, e.g. "Delegate certain actions to another user" in the Terraform docs). Only statements whose Sid names
this cluster and exactly this key name are ever replaced or removed; every other statement is kept as it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from keyfob.api.blocks.ionos import BucketOwnership
from keyfob.api.vocabulary import Permission, bucket_name_problem
from keyfob.contract import Grant, ProviderRejected

VERSION = "2012-10-17"
SID_TAG = "keyfob"
OBJECT_ACTIONS: dict[Permission, str] = {
    Permission.READ: "s3:GetObject",
    Permission.WRITE: "s3:PutObject",
    Permission.DELETE: "s3:DeleteObject",
}
BUCKET_ACTIONS: dict[Permission, str] = {Permission.LIST: "s3:ListBucket"}
SCOPED_PERMISSIONS = frozenset(OBJECT_ACTIONS) | frozenset(BUCKET_ACTIONS)
MAX_POLICY_BYTES = {BucketOwnership.CONTRACT_OWNED: 1_000_000, BucketOwnership.USER_OWNED: 20 * 1024}
_SID_RE = re.compile(r"^keyfob (\S+) (kf-\S+) (bucket|objects)$")


@dataclass(frozen=True)
class Principal:
    """Whom a statement grants to: IONOS's two principal forms for one user."""

    ownership: BucketOwnership
    value: str  # "arn:aws:iam:::user/<contract number>:<user id>" or the canonical user id

    @classmethod
    def for_user(
        cls, ownership: BucketOwnership, contract_number: int, user_id: str, canonical_id: str | None
    ) -> Principal:
        if ownership is BucketOwnership.USER_OWNED:
            if not canonical_id:
                raise ProviderRejected(f"IONOS user {user_id} has no s3CanonicalUserId to name in a bucket policy")
            return cls(ownership, canonical_id)
        return cls(ownership, f"arn:aws:iam:::user/{contract_number}:{user_id}")

    def render(self) -> dict[str, list[str]]:
        key = "CanonicalUser" if self.ownership is BucketOwnership.USER_OWNED else "AWS"
        return {key: [self.value]}


def principals_of(statement: dict[str, Any]) -> set[str]:
    """Every principal a statement names, whichever form IONOS answers with ({"AWS": "x"}, {"AWS": [..]},
    {"CanonicalUser": [..]}, ["x"], "x")."""
    raw = statement.get("Principal")
    values: list[Any] = []
    if isinstance(raw, dict):
        for item in raw.values():
            values.extend(item if isinstance(item, list) else [item])
    elif isinstance(raw, list):
        values = raw
    elif raw is not None:
        values = [raw]
    return {str(v) for v in values}


def sid_for(cluster_id: str, key_name: str, part: str) -> str:
    return f"{SID_TAG} {cluster_id} {key_name} {part}"


def parse_sid(sid: Any) -> tuple[str, str] | None:
    """(cluster id, key name) of a Sid keyfob wrote; None for any other statement."""
    match = _SID_RE.fullmatch(sid) if isinstance(sid, str) else None
    return (match.group(1), match.group(2)) if match else None


def inexpressible(grant: Grant, *, beyond_capabilities: bool = True) -> list[str]:
    """What of the grant IONOS bucket policies cannot express (empty = all of it). With
    beyond_capabilities=False, only what the scoped Capabilities (SCOPED_PERMISSIONS, no prefixes) do not already
    say, for Provider.unsupported()."""
    found: list[str] = []
    beyond = sorted(str(p) for p in grant.permissions - SCOPED_PERMISSIONS)
    if beyond and beyond_capabilities:
        found.append(
            f"permission(s) {', '.join(beyond)}: keyfob grants only read, write, list and delete through IONOS bucket "
            "policies (which object-lock actions IONOS accepts in a bucket policy is not documented in its SDKs)"
        )
    if any(b.prefix for b in grant.buckets) and beyond_capabilities:
        found.append(
            "object-key prefixes: IONOS's PutBucketPolicy contract accepts only arn:aws:s3:::<bucket>, "
            "<bucket>/* or <bucket>/<object> as Resource and no StringLike condition on contract-owned buckets, so "
            "a key is scoped to whole buckets only"
        )
    if not grant.buckets:
        found.append("a key without buckets: a bucket-policy grant needs at least one bucket")
    if not grant.permissions & SCOPED_PERMISSIONS and not beyond:
        found.append("a key without permissions")
    return found


def _stamp(expires_at: datetime) -> str:
    return expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def statements_for(cluster_id: str, grant: Grant, bucket: str, principal: Principal) -> list[dict[str, Any]]:
    """keyfob's statements for one bucket of the grant: ListBucket on the bucket, object actions on bucket/*,
    each until the key's expiry."""
    problem = bucket_name_problem(bucket)
    if problem:
        raise ProviderRejected(problem)
    when = {"DateLessThan": {"aws:CurrentTime": _stamp(grant.expires_at)}} if grant.expires_at else None
    arn = f"arn:aws:s3:::{bucket}"
    parts = [
        ("bucket", [a for p, a in BUCKET_ACTIONS.items() if p in grant.permissions], arn),
        ("objects", [a for p, a in OBJECT_ACTIONS.items() if p in grant.permissions], f"{arn}/*"),
    ]
    statements: list[dict[str, Any]] = []
    for part, actions, resource in parts:
        if actions:
            statement: dict[str, Any] = {
                "Sid": sid_for(cluster_id, grant.key_name, part),
                "Effect": "Allow",
                "Principal": principal.render(),
                "Action": actions,
                "Resource": [resource],
            }
            statements.append({**statement, "Condition": when} if when else statement)
    return statements


def _statements(policy: dict[str, Any] | None) -> list[Any]:
    if policy is None:
        return []
    found = policy.get("Statement")
    if isinstance(found, dict):  # a lone statement may come as an object
        return [found]
    if not isinstance(found, list):
        raise ProviderRejected("the bucket's existing policy has no readable Statement list; keyfob left it alone")
    return list(found)


def _is_ours(statement: Any, cluster_id: str, key_name: str) -> bool:
    return isinstance(statement, dict) and parse_sid(statement.get("Sid")) == (cluster_id, key_name)


def merged(
    existing: dict[str, Any] | None, ours: Iterable[dict[str, Any]], cluster_id: str, key_name: str,
    ownership: BucketOwnership,
) -> dict[str, Any]:
    """The bucket's policy with keyfob's statements for key_name replaced by `ours`; every other statement, and
    the policy's Id and Version, unchanged."""
    kept = [s for s in _statements(existing) if not _is_ours(s, cluster_id, key_name)]
    policy = {**(existing or {}), "Version": (existing or {}).get("Version") or VERSION, "Statement": [*kept, *ours]}
    size = len(json.dumps(policy, separators=(",", ":")).encode())
    if size > MAX_POLICY_BYTES[ownership]:
        raise ProviderRejected(
            f"the bucket policy would be {size} bytes, over IONOS's limit of {MAX_POLICY_BYTES[ownership]} for "
            f"{ownership.value} buckets"
        )
    return policy


def without(existing: dict[str, Any] | None, cluster_id: str, key_name: str) -> tuple[dict[str, Any] | None, int]:
    """The policy without keyfob's statements for key_name (None when no statement remains) and how many were
    removed. Statements of anyone else are kept as they were."""
    statements = _statements(existing)
    kept = [s for s in statements if not _is_ours(s, cluster_id, key_name)]
    removed = len(statements) - len(kept)
    if not kept:
        return None, removed
    return {**(existing or {}), "Statement": kept}, removed


def key_names_in(policy: dict[str, Any] | None, cluster_id: str) -> set[str]:
    """Key names this cluster's statements in a policy are for."""
    names = set()
    for statement in _statements(policy):
        parsed = parse_sid(statement.get("Sid")) if isinstance(statement, dict) else None
        if parsed is not None and parsed[0] == cluster_id:
            names.add(parsed[1])
    return names
