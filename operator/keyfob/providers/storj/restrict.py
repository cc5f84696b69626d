"""Build the restricted grant for one credential, and prove it allows exactly what was asked.

The proof runs Storj's authorization rules (authorize.py, cross-checked against the Go original) over every
action type, every requested bucket plus one foreign bucket, now and just after the expiry: an allowed action
must have been requested, a requested one must be allowed. It guards against mistakes in keyfob's own mapping;
a violation is a bug, reported as a refusal instead of a credential.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from keyfob.api.vocabulary import Permission
from keyfob.contract import BucketGrant
from keyfob.providers.storj.authorize import caveats_allow
from keyfob.providers.storj.caveat import Action, ActionType, Caveat, Timestamp, parse_caveat
from keyfob.providers.storj.grant import AccessGrant
from keyfob.providers.storj.macaroon import Macaroon
from keyfob.providers.storj.scope import ACTION_FOR, LOCK_UMBRELLA, not_after

PROBE_PATH = b"keyfob-probe/object"
_NOTIFICATIONS = {ActionType.PUT_BUCKET_NOTIFICATION_CONFIGURATION, ActionType.GET_BUCKET_NOTIFICATION_CONFIGURATION}


def restrict(parent: AccessGrant, caveat: Caveat, root: Macaroon | None = None) -> AccessGrant:
    """The parent grant narrowed by `caveat`, its encryption access cut down to the caveat's buckets.

    With `root` (a fresh named API key of the same project) the result is built on that key instead of the
    parent's, with the parent's own caveats replayed first: the credential can never do more than the parent
    grant, and deleting the root key revokes it.
    """
    base = parent.api_key
    if root is not None:
        base = root
        for inherited in parent.api_key.caveats:
            base = base.add_caveat(inherited)
    buckets = [path.bucket for path in caveat.allowed_paths]
    return AccessGrant(
        satellite_address=parent.satellite_address,
        api_key=base.add_caveat(caveat.encode()),
        encryption_access=parent.encryption_access.limited_to_buckets(buckets),
    )


def _expected_ops(permissions: frozenset[Permission]) -> set[ActionType]:
    ops = {ACTION_FOR[p] for p in permissions}
    if permissions >= LOCK_UMBRELLA:
        ops.add(ActionType.LOCK)
    return ops


def _foreign_bucket(buckets: set[bytes]) -> bytes:
    candidate = b"keyfob-probe-foreign"
    while candidate in buckets:
        candidate += b"x"
    return candidate


def violations(
    mac: Macaroon,
    buckets: Iterable[BucketGrant],
    permissions: frozenset[Permission],
    expires_at: datetime | None,
    now: datetime,
) -> list[str]:
    """Where the macaroon's caveats disagree with the requested scope (empty = exact)."""
    wanted = {b.name.encode() for b in buckets}
    expected = _expected_ops(permissions)
    limit = not_after(expires_at) if expires_at is not None else None
    times = [now]
    if limit is not None:
        times.append(limit.to_datetime() + timedelta(seconds=1))
    found: list[str] = []
    for when in times:
        live = limit is None or Timestamp.from_datetime(when) <= limit
        for bucket in [*sorted(wanted), _foreign_bucket(wanted)]:
            for op in ActionType:
                if op == ActionType.PROJECT_INFO:
                    continue
                allowed = caveats_allow(mac, Action(op, bucket, PROBE_PATH, when))
                should = live and bucket in wanted and op in expected and op not in _NOTIFICATIONS
                if allowed != should:
                    verb = "allows" if allowed else "denies"
                    found.append(f"{verb} {op.name} on bucket {bucket.decode()!r} at {when.isoformat()}")
    return found


def parent_gaps(
    parent: Macaroon,
    buckets: Iterable[BucketGrant],
    permissions: frozenset[Permission],
    expires_at: datetime | None,
    now: datetime,
) -> list[str]:
    """What the request asks for that the parent grant's own caveats do not allow (the credential would
    silently be narrower, or die earlier, than requested)."""
    gaps: list[str] = []
    for bucket in buckets:
        for permission in sorted(permissions):
            action = Action(ACTION_FOR[permission], bucket.name.encode(), PROBE_PATH, now)
            if not caveats_allow(parent, action):
                gaps.append(f"the parent access grant does not allow {permission} on bucket {bucket.name!r}")
    parent_end = parent_expiry(parent)
    if parent_end is not None and (expires_at is None or parent_end < expires_at):
        gaps.append(f"the parent access grant expires at {parent_end.isoformat()}, before the requested expiry")
    return gaps


def parent_expiry(mac: Macaroon) -> datetime | None:
    """The earliest not_after among the macaroon's caveats (as the auth service computes it)."""
    limits = [c.not_after for c in map(parse_caveat, mac.caveats) if c.not_after is not None]
    return min(limits).to_datetime() if limits else None
