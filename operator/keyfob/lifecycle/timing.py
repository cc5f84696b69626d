"""Lifetimes and renewal times: pure functions of spec, provider defaults and the clock.

An access key lives its ttl (or until expiresAt) and is rotated renewBefore ahead. An STS session
(credentialType sts, see `session_lifetime`) lasts sessionDuration, never past the ttl or expiresAt, and is
refreshed when two thirds of it have passed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from keyfob.api.request import (
    SESSION_DEFAULT,
    SESSION_MAX_SECONDS,
    SESSION_MIN_SECONDS,
    AccessKeyRequestSpec,
    CredentialType,
)
from keyfob.api.vocabulary import parse_duration

MAX_JITTER = timedelta(minutes=5)
SESSION_MIN = timedelta(seconds=SESSION_MIN_SECONDS)
SESSION_MAX = timedelta(seconds=SESSION_MAX_SECONDS)
# The refresh of a session is planned early enough that the next one can still be as long as STS's minimum, with
# this much to spare; the last session before an absolute expiresAt may run this much past sessionDuration.
SESSION_MARGIN = timedelta(seconds=60)
SESSION_RENEW_AT = 2 / 3


@dataclass(frozen=True)
class Lifetime:
    expires_at: datetime
    renewal_time: datetime | None  # None: an absolute expiresAt is not rotated (or the last session before it)
    session_seconds: int | None = None  # credentialType sts: the session's DurationSeconds


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
    if spec.credential_type is CredentialType.STS:
        return session_lifetime(spec, default_ttl, issued_at, uid, revision)
    if spec.expires_at is not None:
        return Lifetime(expires_at=spec.expires_at, renewal_time=None)
    ttl = requested_ttl(spec, default_ttl)
    assert ttl is not None
    expires_at = issued_at + ttl
    renew_before = parse_duration(spec.renew_before) if spec.renew_before else ttl / 3
    renew_before = min(renew_before, ttl)
    renewal = expires_at - renew_before - jitter(uid, revision, renew_before)
    return Lifetime(expires_at=expires_at, renewal_time=max(renewal, issued_at))


def session_duration(spec: AccessKeyRequestSpec) -> timedelta:
    return parse_duration(spec.session_duration or SESSION_DEFAULT)


def session_bound(spec: AccessKeyRequestSpec, default_ttl: str, issued_at: datetime) -> datetime:
    """The latest a session issued at `issued_at` may end: the request's expiresAt, or issued_at + ttl."""
    if spec.expires_at is not None:
        return spec.expires_at
    ttl = requested_ttl(spec, default_ttl)
    assert ttl is not None
    return issued_at + ttl


def session_problem(spec: AccessKeyRequestSpec, default_ttl: str, now: datetime) -> str | None:
    """Why no STS session can be made for this request now (None: one can)."""
    try:
        wanted = session_duration(spec)
    except ValueError as err:  # a sessionDuration the API server's CEL would have refused
        return f"sessionDuration: {err}"
    if not SESSION_MIN <= wanted <= SESSION_MAX:
        return f"sessionDuration {spec.session_duration} is outside STS's 15m..12h"
    room = session_bound(spec, default_ttl, now) - now
    if room < SESSION_MIN:
        what = "expiresAt" if spec.expires_at is not None else f"ttl {spec.ttl or default_ttl}"
        return (f"an STS session lasts at least 15m, and {what} leaves only "
                f"{max(int(room.total_seconds()), 0)}s")
    return None


def session_lifetime(
    spec: AccessKeyRequestSpec, default_ttl: str, issued_at: datetime, uid: str, revision: int
) -> Lifetime:
    """One STS session issued at `issued_at`: it lasts sessionDuration (at most the ttl), and is refreshed when
    two thirds of it have passed (less a deterministic jitter), continuously.

    Before an absolute expiresAt E: a session never ends after E. When what is left (E - now) fits in one session
    (with SESSION_MARGIN to spare) that session ends exactly at E and is the last (no refresh). Otherwise the
    refresh is planned no later than E - 15m - margin, so the next session can still be made (STS refuses
    anything under 15 minutes) and the last one reaches E: no gap, nothing past E. `session_problem` says when
    not even one session fits (callers check it first; here the length is then floored at STS's minimum)."""
    try:
        wanted = min(max(session_duration(spec), SESSION_MIN), SESSION_MAX)
    except ValueError:  # refused by session_problem / the spec policy; never issued
        wanted = SESSION_MIN
    bound = session_bound(spec, default_ttl, issued_at)
    room = bound - issued_at
    if spec.expires_at is not None and room <= min(wanted + SESSION_MARGIN, SESSION_MAX):
        seconds = max(int(room.total_seconds()), SESSION_MIN_SECONDS)  # the last session: it ends at expiresAt
        return Lifetime(issued_at + timedelta(seconds=seconds), None, seconds)
    seconds = max(int(min(wanted, room).total_seconds()), SESSION_MIN_SECONDS)
    length = timedelta(seconds=seconds)
    renewal = issued_at + length * SESSION_RENEW_AT - jitter(uid, revision, length - length * SESSION_RENEW_AT)
    if spec.expires_at is not None:
        renewal = min(renewal, spec.expires_at - SESSION_MIN - SESSION_MARGIN)
    return Lifetime(issued_at + length, max(renewal, issued_at), seconds)
