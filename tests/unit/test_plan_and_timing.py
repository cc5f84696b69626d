"""Rotation and expiry decisions are pure functions of spec, status and the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from keyfob.api.request import AccessKeyRequestSpec, AccessKeyRequestStatus, KeyRecord, PendingIssue
from keyfob.lifecycle.plan import IssueReason, SecretState, decide, next_due, settled
from keyfob.lifecycle.timing import jitter, lifetime

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def spec(**kw: object) -> AccessKeyRequestSpec:
    base = {"providerRef": {"name": "p"}, "buckets": [{"name": "data"}], "permissions": ["read"], "secretName": "s"}
    return AccessKeyRequestSpec.model_validate({**base, **kw})


def issued(**kw: object) -> AccessKeyRequestStatus:
    base = {"accessKeyId": "AKIA1", "keyName": "kf-00000000-0000-0000-0000-000000000001-r1", "revision": 1, "scopeHash": "00000000000000aa",
            "issuedAt": NOW - timedelta(hours=1), "expiresAt": NOW + timedelta(hours=23),
            "renewalTime": NOW + timedelta(hours=15)}
    return AccessKeyRequestStatus.model_validate({**base, **kw})


SECRET = SecretState(revision=1, access_key_id="AKIA1", render_hash="render")


def plan(status: AccessKeyRequestStatus, secret: SecretState | None = SECRET, now: datetime = NOW, **kw: object):
    args = {"scope": "00000000000000aa", "render": "render", "absolute_expiry": None, "rotate_token": None} | kw
    return decide(status=status, secret=secret, now=now, **args)


def test_new_request_issues_once_and_a_settled_one_does_nothing() -> None:
    assert plan(AccessKeyRequestStatus(), None).issue == IssueReason.INITIAL
    settled = plan(issued())
    assert not settled.writes


def test_renewal_time_triggers_rotation() -> None:
    assert plan(issued(), now=NOW + timedelta(hours=15)).issue == IssueReason.RENEWAL


def test_scope_change_reissues_and_template_change_rerenders() -> None:
    assert plan(issued(), scope="other").issue == IssueReason.SCOPE_CHANGED
    rerender = plan(issued(), render="other")
    assert rerender.rerender and rerender.issue is None


def test_rotate_annotation_is_acted_on_once() -> None:
    assert plan(issued(), rotate_token="t1").issue == IssueReason.ROTATE_REQUESTED
    assert plan(issued(rotateRequestHandled="t1"), rotate_token="t1").issue is None


def test_lost_secret_reissues() -> None:
    assert plan(issued(), None).issue == IssueReason.SECRET_LOST
    assert plan(issued(), SecretState(1, "AKIA-other", "render")).issue == IssueReason.SECRET_LOST


def test_pending_issue_is_adopted_from_the_secret_or_resumed() -> None:
    pending = PendingIssue(revision=2, key_name="kf-00000000-0000-0000-0000-000000000001-r2", reason="Renewal", started_at=NOW)
    assert plan(issued(pending=pending.wire()), SecretState(2, "AKIA2", "render")).adopt_pending
    assert plan(issued(pending=pending.wire()), SECRET).resume_pending


def test_expired_key_is_revoked_even_when_its_successor_is_due() -> None:
    late = NOW + timedelta(days=2)
    result = plan(issued(), now=late)
    assert result.expire_current and result.issue == IssueReason.RENEWAL
    absolute = plan(issued(renewalTime=None), now=late, absolute_expiry=NOW + timedelta(hours=23))
    assert absolute.expire_current and absolute.issue is None


def test_previous_keys_are_revoked_after_their_grace() -> None:
    record = KeyRecord(access_key_id="AKIA0", key_name="kf-00000000-0000-0000-0000-000000000002-r1", revoke_after=NOW + timedelta(minutes=10))
    assert plan(issued(previousKeys=[record.wire()])).revoke_due == ()
    later = plan(issued(previousKeys=[record.wire()]), now=NOW + timedelta(minutes=10))
    assert [k.key_name for k in later.revoke_due] == ["kf-00000000-0000-0000-0000-000000000002-r1"]
    assert next_due(issued(previousKeys=[record.wire()])) == NOW + timedelta(minutes=10)


def test_lifetime_defaults_renew_before_to_a_third_with_bounded_jitter() -> None:
    life = lifetime(spec(ttl="30h"), "720h", NOW, "uid", 1)
    assert life.expires_at == NOW + timedelta(hours=30)
    nominal = NOW + timedelta(hours=20)
    assert nominal - timedelta(minutes=5) <= life.renewal_time <= nominal
    assert life == lifetime(spec(ttl="30h"), "720h", NOW, "uid", 1), "restarts must agree"


def test_lifetime_uses_provider_default_and_explicit_renew_before() -> None:
    life = lifetime(spec(renewBefore="1h"), "24h", NOW, "uid", 3)
    assert life.expires_at == NOW + timedelta(hours=24)
    assert NOW + timedelta(hours=22, minutes=54) <= life.renewal_time <= NOW + timedelta(hours=23)
    absolute = lifetime(spec(expiresAt="2026-06-02T00:00:00Z"), "24h", NOW, "uid", 1)
    assert absolute.renewal_time is None and absolute.expires_at == datetime(2026, 6, 2, tzinfo=UTC)


def test_jitter_spreads_keys_due_at_once() -> None:
    window = timedelta(hours=8)
    values = {jitter(f"uid-{i}", 1, window) for i in range(200)}
    assert len(values) > 150 and all(timedelta(0) <= v <= timedelta(minutes=5) for v in values)


def test_settled_means_nothing_to_do_on_resume() -> None:
    ready = {"conditions": [{"type": "Ready", "status": "True", "reason": "Issued"}], "observedGeneration": 1}
    assert settled(issued(**ready), 1, None, NOW)
    assert not settled(issued(**ready), 2, None, NOW), "a spec change while the operator was down"
    assert not settled(issued(**ready), 1, "t1", NOW), "an unanswered rotate request"
    assert settled(issued(**ready, rotateRequestHandled="t1"), 1, "t1", NOW)
    assert not settled(issued(**ready), 1, None, NOW + timedelta(hours=16)), "renewal due"
    pending = PendingIssue(revision=2, key_name="kf-00000000-0000-0000-0000-000000000001-r2", reason="Renewal", started_at=NOW).wire()
    assert not settled(issued(**ready, pending=pending), 1, None, NOW)
    assert not settled(issued(), 1, None, NOW), "not Ready"
