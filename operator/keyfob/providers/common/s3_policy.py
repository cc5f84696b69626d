"""Render an AWS-style S3 policy document from the provider-neutral grant.

Shared by every provider that speaks IAM policy JSON (AWS IAM, MinIO, Ceph). Inputs are validated again
here (defence in depth): a bucket name or prefix can never inject a wildcard, a quote or an ARN separator.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from keyfob.api.vocabulary import Permission, bucket_name_problem, prefix_problem
from keyfob.contract import BucketGrant, ProviderRejected

# Actions on objects (resource arn:aws:s3:::bucket/prefix*).
OBJECT_ACTIONS: dict[Permission, tuple[str, ...]] = {
    Permission.READ: ("s3:GetObject",),
    Permission.WRITE: ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"),
    Permission.DELETE: ("s3:DeleteObject",),
    Permission.PUT_OBJECT_RETENTION: ("s3:PutObjectRetention",),
    Permission.GET_OBJECT_RETENTION: ("s3:GetObjectRetention",),
    Permission.BYPASS_GOVERNANCE_RETENTION: ("s3:BypassGovernanceRetention",),
    Permission.PUT_OBJECT_LEGAL_HOLD: ("s3:PutObjectLegalHold",),
    Permission.GET_OBJECT_LEGAL_HOLD: ("s3:GetObjectLegalHold",),
}
# Actions on the bucket itself (resource arn:aws:s3:::bucket).
BUCKET_ACTIONS: dict[Permission, tuple[str, ...]] = {
    Permission.LIST: ("s3:ListBucket", "s3:ListBucketMultipartUploads"),
    Permission.PUT_OBJECT_LOCK_CONFIGURATION: ("s3:PutBucketObjectLockConfiguration",),
    Permission.GET_OBJECT_LOCK_CONFIGURATION: ("s3:GetBucketObjectLockConfiguration",),
}
# Harmless and needed by most SDKs to find the bucket's region; granted with any permission.
ALWAYS_BUCKET_ACTIONS = ("s3:GetBucketLocation",)


def _time_condition(expires_at: datetime | None) -> dict[str, Any]:
    if expires_at is None:
        return {}
    stamp = expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"DateLessThan": {"aws:CurrentTime": stamp}}


def _checked(bucket: BucketGrant) -> BucketGrant:
    for problem in (bucket_name_problem(bucket.name), prefix_problem(bucket.prefix or "")):
        if problem:
            raise ProviderRejected(problem)
    return bucket


def render_policy(
    buckets: Iterable[BucketGrant],
    permissions: Iterable[Permission],
    expires_at: datetime | None = None,
    *,
    time_condition: bool = True,
) -> dict[str, Any]:
    """An IAM policy that allows exactly `permissions` on `buckets` (and prefixes), until `expires_at`.

    Allow + DateLessThan (never Deny + DateGreaterThan) so that with no matching statement access is denied.
    """
    wanted = set(permissions)
    when = _time_condition(expires_at) if time_condition else {}
    statements: list[dict[str, Any]] = []

    def allow(sid: str, actions: list[str], resource: str, condition: dict[str, Any]) -> None:
        if actions:
            statement = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": [resource]}
            statements.append({**statement, "Condition": condition} if condition else statement)

    bucket_only = [a for p in BUCKET_ACTIONS if p in wanted and p != Permission.LIST for a in BUCKET_ACTIONS[p]]
    object_actions = [a for p in OBJECT_ACTIONS if p in wanted for a in OBJECT_ACTIONS[p]]
    for index, bucket in enumerate(_checked(b) for b in buckets):
        bucket_arn = f"arn:aws:s3:::{bucket.name}"
        prefix = bucket.prefix or ""
        allow(f"Bucket{index}", [*ALWAYS_BUCKET_ACTIONS, *bucket_only], bucket_arn, when)
        if Permission.LIST in wanted:
            if prefix:
                # Only ListBucket knows the s3:prefix key; listing in-progress uploads would show the whole
                # bucket's keys, so a prefix-scoped key does not get it (MinIO also refuses the combination).
                scoped = {"StringLike": {"s3:prefix": [f"{prefix}*"]}}
                allow(f"List{index}", ["s3:ListBucket"], bucket_arn, {**when, **scoped})
            else:
                allow(f"List{index}", list(BUCKET_ACTIONS[Permission.LIST]), bucket_arn, when)
        allow(f"Objects{index}", object_actions, f"{bucket_arn}/{prefix}*", when)
    return {"Version": "2012-10-17", "Statement": statements}
