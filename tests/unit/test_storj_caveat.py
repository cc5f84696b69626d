"""Caveat encoding for every permission, allowed paths per bucket, not_after, the nonce, Caveat.Allows rules,
and what keyfob refuses because a caveat cannot express it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyfob.api.vocabulary import Permission
from keyfob.contract import BucketGrant
from keyfob.providers.storj.caveat import (
    FLAG_FIELDS,
    Action,
    ActionType,
    AllowedPath,
    Caveat,
    Duration,
    Timestamp,
    parse_caveat,
)
from keyfob.providers.storj.scope import ACTION_FOR, LOCK_UMBRELLA, build_caveat, scope_problems
from keyfob.providers.storj.wire import iter_fields

P = Permission
EXPIRES = datetime(2031, 5, 6, 7, 8, 9, 987654, tzinfo=UTC)
BUCKETS = [BucketGrant("alpha"), BucketGrant("beta")]

# Which Caveat flag each keyfob permission clears (types.proto field numbers in the comments).
CLEARS: dict[Permission, str] = {
    P.READ: "disallow_reads",  # 1
    P.WRITE: "disallow_writes",  # 2
    P.LIST: "disallow_lists",  # 3
    P.DELETE: "disallow_deletes",  # 4
    P.PUT_OBJECT_RETENTION: "disallow_put_retention",  # 6
    P.GET_OBJECT_RETENTION: "disallow_get_retention",  # 7
    P.PUT_OBJECT_LEGAL_HOLD: "disallow_put_legal_hold",  # 8
    P.GET_OBJECT_LEGAL_HOLD: "disallow_get_legal_hold",  # 9
    P.BYPASS_GOVERNANCE_RETENTION: "disallow_bypass_governance_retention",  # 11
    P.PUT_OBJECT_LOCK_CONFIGURATION: "disallow_put_bucket_object_lock_configuration",  # 12
    P.GET_OBJECT_LOCK_CONFIGURATION: "disallow_get_bucket_object_lock_configuration",  # 13
}


def _flags(caveat: Caveat) -> dict[str, bool]:
    return {name: getattr(caveat, name) for name in FLAG_FIELDS.values()}


def test_every_permission_of_the_vocabulary_has_a_flag() -> None:
    assert set(CLEARS) == set(Permission)
    assert set(ACTION_FOR) == set(Permission)


@pytest.mark.parametrize("permission", list(Permission), ids=lambda p: p.value)
def test_one_permission_clears_exactly_its_flag(permission: Permission) -> None:
    caveat = parse_caveat(build_caveat(BUCKETS, frozenset({permission}), EXPIRES).encode())
    flags = _flags(caveat)
    assert flags.pop(CLEARS[permission]) is False
    assert all(flags.values()), f"{permission} must leave every other right disallowed: {flags}"


def test_all_permissions_clear_everything_but_notifications() -> None:
    caveat = build_caveat(BUCKETS, frozenset(Permission), EXPIRES)
    set_flags = {name for name, value in _flags(caveat).items() if value}
    assert set_flags == {
        "disallow_put_bucket_notification_configuration",
        "disallow_get_bucket_notification_configuration",
    }


def test_deprecated_lock_flag_is_cleared_only_for_the_whole_umbrella() -> None:
    assert build_caveat(BUCKETS, frozenset(LOCK_UMBRELLA), None).disallow_locks is False
    for missing in LOCK_UMBRELLA:
        assert build_caveat(BUCKETS, frozenset(LOCK_UMBRELLA - {missing}), None).disallow_locks is True


def test_allowed_paths_are_whole_buckets_and_deduplicated() -> None:
    caveat = build_caveat([*BUCKETS, BucketGrant("alpha")], frozenset({P.READ}), None)
    assert caveat.allowed_paths == (AllowedPath(b"alpha", b""), AllowedPath(b"beta", b""))
    fields = [f for f in iter_fields(caveat.encode()) if f.number == 10]
    assert [f.value for f in fields] == [b"\x0a\x05alpha", b"\x0a\x04beta"]


def test_not_after_is_the_expiry_rounded_down_to_the_second() -> None:
    caveat = parse_caveat(build_caveat(BUCKETS, frozenset({P.READ}), EXPIRES).encode())
    assert caveat.not_after == Timestamp(int(EXPIRES.replace(microsecond=0).timestamp()), 0)
    assert caveat.not_after.to_datetime() <= EXPIRES
    assert build_caveat(BUCKETS, frozenset({P.READ}), None).not_after is None


def test_nonce_is_present_sixteen_bytes_and_random() -> None:
    nonces = {build_caveat(BUCKETS, frozenset({P.READ}), EXPIRES).nonce for _ in range(50)}
    assert len(nonces) == 50 and all(len(n) == 16 for n in nonces)
    first, second = (build_caveat(BUCKETS, frozenset({P.READ}), EXPIRES).encode() for _ in range(2))
    assert first != second  # same restriction, different bytes: revoking one tail never revokes the other


def test_encoding_roundtrips_every_field() -> None:
    caveat = Caveat(
        disallow_reads=True,
        disallow_locks=True,
        disallow_get_bucket_notification_configuration=True,
        allowed_paths=(AllowedPath(b"a", b"enc/"), AllowedPath(b"b")),
        not_after=Timestamp(1_900_000_000, 5),
        not_before=Timestamp(-5, 0),
        max_object_ttl=Duration(86400, 500),
        nonce=b"nonce",
    )
    assert parse_caveat(caveat.encode()) == caveat
    assert parse_caveat(b"\xf8\x01\x01" + caveat.encode()).unknown_fields == (31,)


def test_field_numbers_follow_types_proto() -> None:
    flag: dict[str, Any] = {}
    numbers = {}
    for name in FLAG_FIELDS.values():
        flag = {name: True}
        numbers[name] = [f.number for f in iter_fields(replace(Caveat(), **flag).encode())]
    assert numbers == {name: [number] for number, name in FLAG_FIELDS.items()}
    assert {
        "disallow_reads": 1,
        "disallow_locks": 5,
        "disallow_put_retention": 6,
        "disallow_get_legal_hold": 9,
        "disallow_bypass_governance_retention": 11,
        "disallow_get_bucket_notification_configuration": 15,
    }.items() <= {v: k for k, v in FLAG_FIELDS.items()}.items()
    assert [f.number for f in iter_fields(Caveat(not_after=Timestamp(1), nonce=b"n").encode())] == [20, 30]


# ---- Caveat.Allows ------------------------------------------------------------------------------------------------

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _allows(
    caveat: Caveat, op: ActionType, bucket: bytes = b"alpha", path: bytes = b"obj", when: datetime = NOW
) -> bool:
    return caveat.allows(Action(op, bucket, path, when))


def test_bucket_scope_and_prefixes() -> None:
    caveat = Caveat(allowed_paths=(AllowedPath(b"alpha"), AllowedPath(b"beta", b"enc/")))
    assert _allows(caveat, ActionType.WRITE, b"alpha")
    assert not _allows(caveat, ActionType.WRITE, b"gamma")
    assert _allows(caveat, ActionType.WRITE, b"beta", b"enc/x")
    assert not _allows(caveat, ActionType.WRITE, b"beta", b"other")


def test_bucket_metadata_reads_and_project_info_are_always_allowed_within_the_buckets() -> None:
    caveat = Caveat(disallow_reads=True, allowed_paths=(AllowedPath(b"alpha"),))
    assert not _allows(caveat, ActionType.READ, b"alpha", b"obj")
    assert _allows(caveat, ActionType.READ, b"alpha", b"")  # metadata of an allowed bucket
    assert not _allows(caveat, ActionType.READ, b"gamma", b"")
    assert _allows(caveat, ActionType.READ, b"", b"")  # bucket listing, filtered later
    assert _allows(caveat, ActionType.PROJECT_INFO, b"gamma")


def test_put_retention_implies_get_retention_in_storj() -> None:
    only_put = Caveat(disallow_get_retention=True)
    assert _allows(only_put, ActionType.GET_OBJECT_RETENTION)
    assert not _allows(
        Caveat(disallow_get_retention=True, disallow_put_retention=True), ActionType.GET_OBJECT_RETENTION
    )


def test_time_window_is_inclusive_of_not_after() -> None:
    caveat = Caveat(
        not_after=Timestamp.from_datetime(NOW), not_before=Timestamp.from_datetime(NOW - timedelta(hours=1))
    )
    assert _allows(caveat, ActionType.READ, when=NOW)
    assert not _allows(caveat, ActionType.READ, when=NOW + timedelta(microseconds=1))
    assert not _allows(caveat, ActionType.READ, when=NOW - timedelta(hours=2))


def test_unknown_action_types_are_denied() -> None:
    assert not Caveat().allows(Action(99, b"alpha", b"obj", NOW))


# ---- what keyfob refuses -----------------------------------------------------------------------------------------


def test_prefixes_are_refused_with_a_reason() -> None:
    problems = scope_problems([BucketGrant("alpha", "reports/")], frozenset({P.READ}))
    assert len(problems) == 1 and "prefix 'reports/'" in problems[0] and "encrypted path" in problems[0]
    with pytest.raises(ValueError, match="prefixes"):
        build_caveat([BucketGrant("alpha", "reports/")], frozenset({P.READ}), None)


def test_put_retention_without_get_retention_is_refused() -> None:
    problems = scope_problems(BUCKETS, frozenset({P.PUT_OBJECT_RETENTION}))
    assert problems and "getObjectRetention" in problems[0]
    assert scope_problems(BUCKETS, frozenset({P.PUT_OBJECT_RETENTION, P.GET_OBJECT_RETENTION})) == []


def test_no_buckets_or_no_permissions_are_refused() -> None:
    assert any("every bucket" in p for p in scope_problems([], frozenset({P.READ})))
    assert any("without permissions" in p for p in scope_problems(BUCKETS, frozenset()))
    with pytest.raises(ValueError, match="every bucket"):
        build_caveat([], frozenset({P.READ}), None)
