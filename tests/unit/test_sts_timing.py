"""credentialType sts: how long each STS session lasts and when it is refreshed are pure functions of the spec and
the clock (keyfob.lifecycle.timing.session_lifetime); the plan refreshes at the renewal time they give. Each row
is one situation a user can be in; the chain test walks refresh after refresh up to an absolute expiresAt and
checks what a user relies on: no gap between sessions, none past expiresAt, none shorter than STS allows."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyfob.api.request import AccessKeyRequestSpec
from keyfob.api.request_status import AccessKeyRequestStatus
from keyfob.lifecycle.fingerprint import render_hash, scope_hash
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.plan import decide, next_due, retirement
from keyfob.lifecycle.plan_types import IssueReason
from keyfob.lifecycle.ports import SecretSnapshot
from keyfob.lifecycle.request_view import RequestView
from keyfob.lifecycle.timing import SESSION_MIN, lifetime, session_problem

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
UID = "00000000-0000-0000-0000-000000000001"
H, M = timedelta(hours=1), timedelta(minutes=1)


def spec(**kw: Any) -> AccessKeyRequestSpec:
    base = {"providerRef": {"name": "p"}, "buckets": [{"name": "data"}], "permissions": ["read"],
            "secretName": "s", "credentialType": "sts"}
    return AccessKeyRequestSpec.model_validate({**base, **kw})


@pytest.mark.parametrize(
    ("case", "kw", "length", "renew_between"),
    [
        # renew_between: (earliest, latest) renewal time after issue; None: the last session, never refreshed
        ("default: a 1h session, refreshed at 2/3 (less up to 2m jitter)", {"ttl": "720h"}, H, (38 * M, 40 * M)),
        ("sessionDuration 15m", {"ttl": "720h", "sessionDuration": "15m"}, 15 * M, (9.5 * M, 10 * M)),
        ("sessionDuration 12h", {"ttl": "720h", "sessionDuration": "12h"}, 12 * H, (7.7 * H, 8 * H)),
        ("a ttl shorter than the session bounds it", {"ttl": "30m"}, 30 * M, (19 * M, 20 * M)),
        ("expiresAt far away: ordinary sessions", {"expiresAt": (NOW + 10 * H).isoformat()}, H, (38 * M, 40 * M)),
        ("expiresAt within one session: the last one ends exactly there",
         {"expiresAt": (NOW + 50 * M).isoformat()}, 50 * M, None),
        ("expiresAt within a session plus the margin: the last one, a little longer than asked",
         {"expiresAt": (NOW + H + 30 * timedelta(seconds=1)).isoformat()}, H + timedelta(seconds=30), None),
        ("expiresAt 70m away: refreshed early enough for a 15m+ last session",
         {"expiresAt": (NOW + 70 * M).isoformat()}, H, (38 * M, 40 * M)),
        ("expiresAt 20m away, sessions of 15m: refresh pulled forward to E-16m, so the last 16m can be a session",
         {"expiresAt": (NOW + 20 * M).isoformat(), "sessionDuration": "15m"}, 15 * M, (4 * M, 4 * M)),
    ],
)
def test_session_length_and_refresh(case: str, kw: dict[str, Any], length: timedelta,
                                    renew_between: tuple[timedelta, timedelta] | None) -> None:
    life = lifetime(spec(**kw), "720h", NOW, UID, 1)
    assert life.session_seconds == int(length.total_seconds()), case
    assert life.expires_at == NOW + length, case
    if renew_between is None:
        assert life.renewal_time is None, case
    else:
        assert life.renewal_time is not None, case
        assert NOW + renew_between[0] <= life.renewal_time <= NOW + renew_between[1], case


@pytest.mark.parametrize(
    ("case", "kw", "problem"),
    [
        ("a 1h session in a 720h ttl", {"ttl": "720h"}, None),
        ("ttl shorter than STS's 15m minimum", {"ttl": "10m"}, "ttl 10m leaves only 600s"),
        ("expiresAt too close for any session", {"expiresAt": (NOW + 10 * M).isoformat()},
         "expiresAt leaves only 600s"),
        ("expiresAt passed", {"expiresAt": (NOW - M).isoformat()}, "expiresAt leaves only 0s"),
        ("session longer than STS allows", {"ttl": "720h", "sessionDuration": "13h"}, "outside STS's 15m..12h"),
        ("session shorter than STS allows", {"ttl": "720h", "sessionDuration": "10m"}, "outside STS's 15m..12h"),
        ("an absurd sessionDuration (no CEL on the cluster)", {"ttl": "720h", "sessionDuration": "999999999h"},
         "longer than 36500 days"),
    ],
)
def test_when_no_session_can_be_made(case: str, kw: dict[str, Any], problem: str | None) -> None:
    found = session_problem(spec(**kw), "720h", NOW)
    assert (found is None) if problem is None else (found is not None and problem in found), (case, found)


@pytest.mark.parametrize("duration", ["15m", "16m", "20m", "45m", "1h", "100m", "3h"])
@pytest.mark.parametrize("remaining_minutes", [15, 16, 17, 31, 61, 62, 75, 76, 77, 90, 121, 181, 600, 777])
def test_refresh_chain_up_to_expires_at(duration: str, remaining_minutes: int) -> None:
    """Issue, refresh at each renewal time, until the last session: every session ends by expiresAt, lasts at
    least STS's minimum, starts before the previous one ends, and the last one reaches expiresAt."""
    end = NOW + timedelta(minutes=remaining_minutes)
    request = spec(expiresAt=end.isoformat(), sessionDuration=duration)
    assert session_problem(request, "720h", NOW) is None
    issued_at, sessions = NOW, []
    for revision in range(1, 200):
        assert session_problem(request, "720h", issued_at) is None, f"no session could be made at {issued_at}"
        life = lifetime(request, "720h", issued_at, UID, revision)
        assert life.session_seconds is not None and life.session_seconds >= SESSION_MIN.total_seconds()
        assert life.expires_at <= end, "a session ends after expiresAt"
        sessions.append((issued_at, life.expires_at))
        if life.renewal_time is None:
            break
        assert issued_at < life.renewal_time < life.expires_at, "the refresh is not inside the session"
        issued_at = life.renewal_time
    else:
        pytest.fail("the chain never reached a last session")
    # STS takes whole seconds (DurationSeconds): the last session reaches expiresAt to within a second
    assert timedelta(0) <= end - sessions[-1][1] < timedelta(seconds=1), "the last session does not reach expiresAt"
    for (_, previous_end), (start, _) in itertools.pairwise(sessions):
        assert start < previous_end, "a gap between two sessions"


# --- the plan: a session's status drives the same renewal chain as a key's -------------------------------


def status_of(request: AccessKeyRequestSpec, issued_at: datetime) -> AccessKeyRequestStatus:
    life = lifetime(request, "720h", issued_at, UID, 1)
    return AccessKeyRequestStatus.model_validate({
        "accessKeyId": "ASIA1", "keyName": f"kf-{UID}-r1", "revision": 1, "scopeHash": scope_hash(request),
        "issuedAt": issued_at, "expiresAt": life.expires_at, "renewalTime": life.renewal_time,
        "providerRef": {"name": "p"}, "credentialType": "sts", "expiryEnforcedBy": "Provider",
    })


def inputs(request: AccessKeyRequestSpec, status: AccessKeyRequestStatus, now: datetime) -> Inputs:
    secret = SecretSnapshot("s", UID, {"keyfob.dev/access-key-id": "ASIA1", "keyfob.dev/revision": "1",
                                       "keyfob.dev/render-hash": render_hash(request)})
    return Inputs(RequestView("ns", "app", UID, 1, request, status, None), now, secret)


@pytest.mark.parametrize(
    ("case", "after", "reason"),
    [
        ("just issued", M, None),
        ("half the session", 30 * M, None),
        ("just before the refresh window (2/3 less the 2m jitter)", 37 * M, None),
        ("two thirds of the session passed", 40 * M, IssueReason.RENEWAL),
        ("late: 50m in", 50 * M, IssueReason.RENEWAL),
    ],
)
def test_plan_refreshes_a_session_at_two_thirds(case: str, after: timedelta, reason: str | None) -> None:
    request = spec(ttl="720h")
    status = status_of(request, NOW)
    assert decide(inputs(request, status, NOW + after)).issue == reason, case
    assert next_due(status, NOW + M) == status.renewal_time  # the timer wakes at the refresh, not the ttl


def test_a_session_past_its_end_is_retired_and_a_fresh_one_issued() -> None:
    """An operator that was down past a session's end: the session is retired (nothing to revoke: it died at its
    end) and, the request still being within its ttl, a new session is issued."""
    request = spec(ttl="720h")
    status = status_of(request, NOW)
    later = NOW + H + M
    assert retirement(status, request, later).expire_current
    after = status.model_copy(update={"access_key_id": None, "key_name": None, "renewal_time": None})
    assert decide(inputs(request, after, later)).issue == IssueReason.INITIAL


def test_the_last_session_before_expires_at_is_not_refreshed_and_then_the_request_expires() -> None:
    request = spec(expiresAt=(NOW + 50 * M).isoformat())
    status = status_of(request, NOW)
    assert status.renewal_time is None and status.expires_at == NOW + 50 * M
    assert decide(inputs(request, status, NOW + 49 * M)).issue is None
    assert decide(inputs(request, status, NOW + 50 * M)).expired


def test_access_keys_keep_their_scope_hash_and_sts_changes_it() -> None:
    """Hashes written before credentialType existed stay valid (no re-issue, approvals still hold); switching to
    sts is a scope change (a new credential, and a new approval where one is required)."""
    import hashlib
    import json

    key = spec(ttl="720h", credentialType="accessKey")
    legacy = hashlib.sha256(json.dumps(
        {"provider": {"kind": "AccessKeyProvider", "name": "p"}, "buckets": [["data", ""]], "permissions": ["read"],
         "expiresAt": None}, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
    assert scope_hash(key) == legacy
    assert scope_hash(spec(ttl="720h")) != legacy
