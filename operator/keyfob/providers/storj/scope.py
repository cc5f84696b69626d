"""keyfob's permission vocabulary -> one Storj caveat, and what of a request a caveat cannot express.

Every disallow flag Storj knows is set unless the request asked for the matching right, so a right Storj adds
later (or that keyfob's vocabulary lacks, such as bucket notifications) stays denied. Buckets become
allowed_paths with an empty encrypted prefix (the whole bucket: no path encryption needed). not_after is the
request's expiry rounded down to the second. A random nonce makes every caveat, and so every tail, unique.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from keyfob.api.vocabulary import Permission, bucket_name_problem
from keyfob.contract import BucketGrant
from keyfob.providers.storj.caveat import ActionType, AllowedPath, Caveat, Timestamp

NONCE_SIZE = 16

# The Storj action each keyfob permission stands for.
ACTION_FOR: dict[Permission, ActionType] = {
    Permission.READ: ActionType.READ,
    Permission.WRITE: ActionType.WRITE,
    Permission.LIST: ActionType.LIST,
    Permission.DELETE: ActionType.DELETE,
    Permission.PUT_OBJECT_RETENTION: ActionType.PUT_OBJECT_RETENTION,
    Permission.GET_OBJECT_RETENTION: ActionType.GET_OBJECT_RETENTION,
    Permission.BYPASS_GOVERNANCE_RETENTION: ActionType.BYPASS_GOVERNANCE_RETENTION,
    Permission.PUT_OBJECT_LEGAL_HOLD: ActionType.PUT_OBJECT_LEGAL_HOLD,
    Permission.GET_OBJECT_LEGAL_HOLD: ActionType.GET_OBJECT_LEGAL_HOLD,
    Permission.PUT_OBJECT_LOCK_CONFIGURATION: ActionType.PUT_BUCKET_OBJECT_LOCK_CONFIGURATION,
    Permission.GET_OBJECT_LOCK_CONFIGURATION: ActionType.GET_BUCKET_OBJECT_LOCK_CONFIGURATION,
}

# The deprecated umbrella right ActionLock covers retention and bucket object-lock configuration, put and get:
# it is allowed only when the request asked for all four.
LOCK_UMBRELLA = frozenset(
    {
        Permission.PUT_OBJECT_RETENTION,
        Permission.GET_OBJECT_RETENTION,
        Permission.PUT_OBJECT_LOCK_CONFIGURATION,
        Permission.GET_OBJECT_LOCK_CONFIGURATION,
    }
)


def scope_problems(buckets: Iterable[BucketGrant], permissions: frozenset[Permission]) -> list[str]:
    """What a Storj caveat cannot express for this scope, each said plainly (empty = expressible)."""
    problems: list[str] = []
    bucket_list = list(buckets)
    if not bucket_list:
        problems.append("a request without buckets (a Storj caveat without allowed paths reaches every bucket)")
    for bucket in bucket_list:
        if bucket.prefix:
            problems.append(
                f"prefix {bucket.prefix!r} in bucket {bucket.name!r}: Storj restricts prefixes by their encrypted "
                "path, which keyfob does not compute; request the whole bucket or use a bucket per tenant"
            )
        problem = bucket_name_problem(bucket.name)
        if problem:
            problems.append(problem)
    if not permissions:
        problems.append("a request without permissions")
    if Permission.PUT_OBJECT_RETENTION in permissions and Permission.GET_OBJECT_RETENTION not in permissions:
        problems.append(
            "putObjectRetention without getObjectRetention: Storj lets a key that may put retention also read "
            "it; add getObjectRetention to the request"
        )
    return problems


def not_after(expires_at: datetime) -> Timestamp:
    """The request's expiry, rounded down to the second (never later than asked)."""
    return Timestamp(Timestamp.from_datetime(expires_at).seconds, 0)


def build_caveat(
    buckets: Iterable[BucketGrant],
    permissions: frozenset[Permission],
    expires_at: datetime | None,
    nonce: bytes | None = None,
) -> Caveat:
    """The caveat for an expressible scope (callers check scope_problems first; this re-checks prefixes)."""
    paths: list[AllowedPath] = []
    for bucket in buckets:
        if bucket.prefix:
            raise ValueError("prefixes cannot be expressed in a Storj caveat by keyfob")
        paths.append(AllowedPath(bucket.name.encode(), b""))
    if not paths:
        raise ValueError("a caveat without buckets would reach every bucket")
    has = permissions.__contains__
    return Caveat(
        disallow_reads=not has(Permission.READ),
        disallow_writes=not has(Permission.WRITE),
        disallow_lists=not has(Permission.LIST),
        disallow_deletes=not has(Permission.DELETE),
        disallow_locks=not permissions >= LOCK_UMBRELLA,
        disallow_put_retention=not has(Permission.PUT_OBJECT_RETENTION),
        disallow_get_retention=not has(Permission.GET_OBJECT_RETENTION),
        disallow_put_legal_hold=not has(Permission.PUT_OBJECT_LEGAL_HOLD),
        disallow_get_legal_hold=not has(Permission.GET_OBJECT_LEGAL_HOLD),
        disallow_bypass_governance_retention=not has(Permission.BYPASS_GOVERNANCE_RETENTION),
        disallow_put_bucket_object_lock_configuration=not has(Permission.PUT_OBJECT_LOCK_CONFIGURATION),
        disallow_get_bucket_object_lock_configuration=not has(Permission.GET_OBJECT_LOCK_CONFIGURATION),
        disallow_put_bucket_notification_configuration=True,
        disallow_get_bucket_notification_configuration=True,
        allowed_paths=tuple(dict.fromkeys(paths)),
        not_after=not_after(expires_at) if expires_at is not None else None,
        nonce=secrets.token_bytes(NONCE_SIZE) if nonce is None else nonce,
    )
