"""Lifetimes and renewal times: pure functions of spec, provider defaults and the clock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from keyfob.api.request import AccessKeyRequestSpec
from keyfob.api.vocabulary import parse_duration

MAX_JITTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Lifetime:
    expires_at: datetime
    renewal_time: datetime | None  # None: an absolute expiresAt is not rotated


def requested_ttl(spec: AccessKeyRequestSpec, default_ttl: str) -> timedelta | None:
    """The lifetime each key gets (None when the request names an absolute expiresAt)."""
    if spec.expires_at is not None:
        return None
    return parse_duration(spec.ttl or default_ttl)


def jitter(uid: str, revision: int, window: timedelta) -> timedelta:
    """Deterministic spread (so restarts agree) of up to a tenth of the renewal window, at most 5 minutes."""
    span = min(window / 10, MAX_JITTER)
    if span <= timedelta(0):
        return timedelta(0)
    digest = int.from_bytes(hashlib.sha256(f"{uid}/{revision}".encode()).digest()[:8], "big")
    return timedelta(seconds=(digest % max(int(span.total_seconds() * 1000), 1)) / 1000)


def lifetime(
    spec: AccessKeyRequestSpec, default_ttl: str, issued_at: datetime, uid: str, revision: int
) -> Lifetime:
    """When a key issued at `issued_at` expires and when keyfob should rotate it."""
    if spec.expires_at is not None:
        return Lifetime(expires_at=spec.expires_at, renewal_time=None)
    ttl = requested_ttl(spec, default_ttl)
    assert ttl is not None
    expires_at = issued_at + ttl
    renew_before = parse_duration(spec.renew_before) if spec.renew_before else ttl / 3
    renew_before = min(renew_before, ttl)
    renewal = expires_at - renew_before - jitter(uid, revision, renew_before)
    return Lifetime(expires_at=expires_at, renewal_time=max(renewal, issued_at))
