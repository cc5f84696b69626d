"""Should we issue, and why? The issuance chain, the retirement plan and the due times are pure functions of
the gathered inputs; each row of these tables is one situation a user can be in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyfob.api.request import AccessKeyRequestSpec
from keyfob.api.request_status import AccessKeyRequestStatus, KeyRecord, PendingIssue
from keyfob.lifecycle.fingerprint import render_hash, scope_hash
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.plan import decide, next_due, retirement, settled
from keyfob.lifecycle.plan_types import IssueReason
from keyfob.lifecycle.ports import SecretSnapshot
from keyfob.lifecycle.request_view import RequestView
from keyfob.lifecycle.timing import jitter, lifetime

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
UID = "00000000-0000-0000-0000-000000000001"
NAME1 = f"kf-{UID}-r1"


def spec(**kw: object) -> AccessKeyRequestSpec:
    base = {"providerRef": {"name": "p"}, "buckets": [{"name": "data"}], "permissions": ["read"], "secretName": "s"}
    return AccessKeyRequestSpec.model_validate({**base, **kw})


SPEC = spec()


def issued(**kw: object) -> AccessKeyRequestStatus:
    base = {"accessKeyId": "AKIA1", "keyName": NAME1, "revision": 1, "scopeHash": scope_hash(SPEC),
            "issuedAt": NOW - timedelta(hours=1), "expiresAt": NOW + timedelta(hours=23),
            "renewalTime": NOW + timedelta(hours=15), "providerRef": {"name": "p"}}
    return AccessKeyRequestStatus.model_validate({**base, **kw})


def secret(key_id: str = "AKIA1", render: str | None = None) -> SecretSnapshot:
    annotations = {"keyfob.dev/access-key-id": key_id, "keyfob.dev/revision": "1",
                   "keyfob.dev/render-hash": render or render_hash(SPEC)}
    return SecretSnapshot("s", UID, annotations)


def inputs(status: AccessKeyRequestStatus, snapshot: SecretSnapshot | None = None, *, request: Any = SPEC,
           now: datetime = NOW, rotate: str | None = None) -> Inputs:
    view = RequestView("ns", "app", UID, 1, request, status, rotate)
    return Inputs(view, now, snapshot)


PENDING = PendingIssue(revision=2, key_name=f"kf-{UID}-r2", reason="Renewal", started_at=NOW).wire()


@pytest.mark.parametrize(
    ("case", "status", "snapshot", "kw", "reason"),
    [
        ("settled", issued(), secret(), {}, None),
        ("first issue", AccessKeyRequestStatus(), None, {}, IssueReason.INITIAL),
        ("crash left a pending issue: always finished", issued(pending=PENDING), secret(), {}, IssueReason.RESUMED),
        ("pending even when the Secret already holds it", issued(pending=PENDING), secret("AKIA2"), {},
         IssueReason.RESUMED),
        ("renewal time reached", issued(), secret(), {"now": NOW + timedelta(hours=15)}, IssueReason.RENEWAL),
        ("scope changed", issued(), secret(), {"request": spec(permissions=["read", "write"])},
         IssueReason.SCOPE_CHANGED),
        ("provider changed", issued(), secret(), {"request": spec(providerRef={"name": "q"})},
         IssueReason.PROVIDER_CHANGED),
        ("Secret deleted", issued(), None, {}, IssueReason.SECRET_LOST),
        ("Secret names another key", issued(), secret("AKIA-other"), {}, IssueReason.SECRET_LOST),
        ("rotate requested", issued(), secret(), {"rotate": "t1"}, IssueReason.ROTATE_REQUESTED),
        ("rotate request already handled", issued(rotateRequestHandled="t1"), secret(), {"rotate": "t1"}, None),
        ("Secret lost and scope changed: scope reported", issued(), None,
         {"request": spec(buckets=[{"name": "other"}])}, IssueReason.SCOPE_CHANGED),
    ],
)
def test_issue_reason(case: str, status: AccessKeyRequestStatus, snapshot: SecretSnapshot | None,
                      kw: dict[str, Any], reason: str | None) -> None:
    assert decide(inputs(status, snapshot, **kw)).issue == reason, case


def test_lost_secret_means_the_old_key_gets_no_grace() -> None:
    assert decide(inputs(issued(), None, request=spec(buckets=[{"name": "other"}]))).immediate_grace
    assert not decide(inputs(issued(), secret(), now=NOW + timedelta(hours=15))).immediate_grace


def test_template_change_rerenders_without_a_new_key() -> None:
    plan = decide(inputs(issued(), secret(render="old")))
    assert plan.rerender and plan.issue is None


def test_absolute_expiry_passed_issues_nothing() -> None:
    request = spec(expiresAt="2026-06-01T11:00:00Z")
    assert decide(inputs(AccessKeyRequestStatus(), None, request=request)).expired
    assert decide(inputs(issued(), None, request=request)).issue is None


@pytest.mark.parametrize(
    ("case", "status", "request_", "now", "expect"),
    [
        ("nothing due", issued(), SPEC, NOW, (False, False, 0)),
        ("current key expired", issued(), SPEC, NOW + timedelta(days=2), (True, False, 0)),
        ("grace over", issued(previousKeys=[KeyRecord(access_key_id="AKIA0", key_name=NAME1, revoke_after=NOW)
                                            .wire()], revision=2, keyName=f"kf-{UID}-r2"), SPEC, NOW,
         (False, False, 1)),
        ("grace not over", issued(previousKeys=[KeyRecord(access_key_id="AKIA0", key_name=NAME1,
                                                          revoke_after=NOW + timedelta(minutes=1)).wire()],
                                  revision=2, keyName=f"kf-{UID}-r2"), SPEC, NOW, (False, False, 0)),
        ("pending at a provider the spec left", issued(pending={**PENDING, "providerRef": {"name": "p"}}),
         spec(providerRef={"name": "q"}), NOW, (False, True, 0)),
        ("pending at the spec's provider", issued(pending={**PENDING, "providerRef": {"name": "p"}}), SPEC, NOW,
         (False, False, 0)),
    ],
)
def test_retirement_needs_no_provider_lookup(case: str, status: AccessKeyRequestStatus, request_: Any,
                                             now: datetime, expect: tuple[bool, bool, int]) -> None:
    plan = retirement(status, request_, now)
    assert (plan.expire_current, plan.abandon_pending, len(plan.revoke_due)) == expect, case


def test_next_due_and_settled() -> None:
    record = KeyRecord(access_key_id="AKIA0", key_name=NAME1, revoke_after=NOW + timedelta(minutes=10)).wire()
    assert next_due(issued(previousKeys=[record]), NOW) == NOW + timedelta(minutes=10)
    assert next_due(issued(pending=PENDING), NOW) == NOW, "a pending issue is always due"
    ready = {"conditions": [{"type": "Ready", "status": "True", "reason": "Issued"}], "observedGeneration": 1}
    assert settled(issued(**ready), 1, None, NOW)
    assert not settled(issued(**ready), 2, None, NOW), "a spec change while the operator was down"
    assert not settled(issued(**ready), 1, "t1", NOW), "an unanswered rotate request"
    assert settled(issued(**ready, rotateRequestHandled="t1"), 1, "t1", NOW)
    assert not settled(issued(**ready), 1, None, NOW + timedelta(hours=16)), "renewal due"
    assert not settled(issued(**ready, pending=PENDING), 1, None, NOW)
    assert not settled(issued(), 1, None, NOW), "not Ready"


def test_lifetime_defaults_renew_before_to_a_third_with_bounded_jitter() -> None:
    life = lifetime(spec(ttl="30h"), "720h", NOW, "uid", 1)
    assert life.expires_at == NOW + timedelta(hours=30)
    nominal = NOW + timedelta(hours=20)
    assert life.renewal_time is not None and nominal - timedelta(minutes=5) <= life.renewal_time <= nominal
    assert life == lifetime(spec(ttl="30h"), "720h", NOW, "uid", 1), "restarts must agree"


def test_lifetime_uses_provider_default_and_explicit_renew_before() -> None:
    life = lifetime(spec(renewBefore="1h"), "24h", NOW, "uid", 3)
    assert life.expires_at == NOW + timedelta(hours=24)
    assert life.renewal_time is not None
    assert NOW + timedelta(hours=22, minutes=54) <= life.renewal_time <= NOW + timedelta(hours=23)
    absolute = lifetime(spec(expiresAt="2026-06-02T00:00:00Z"), "24h", NOW, "uid", 1)
    assert absolute.renewal_time is None and absolute.expires_at == datetime(2026, 6, 2, tzinfo=UTC)


def test_jitter_spreads_keys_due_at_once() -> None:
    window = timedelta(hours=8)
    values = {jitter(f"uid-{i}", 1, window) for i in range(200)}
    assert len(values) > 150 and all(timedelta(0) <= v <= timedelta(minutes=5) for v in values)
