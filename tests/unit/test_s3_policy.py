"""The rendered IAM policy grants exactly the requested rights (moto cannot prove expiry or object lock)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keyfob.api.vocabulary import Permission as P
from keyfob.contract import BucketGrant, ProviderRejected
from keyfob.providers.common.s3_policy import render_policy

EXPIRY = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def actions(policy: dict, resource: str) -> set[str]:
    return {a for s in policy["Statement"] if resource in s["Resource"] for a in s["Action"]}


def test_read_only_grants_get_and_nothing_else() -> None:
    policy = render_policy([BucketGrant("data")], [P.READ], EXPIRY)
    assert actions(policy, "arn:aws:s3:::data/*") == {"s3:GetObject"}
    assert actions(policy, "arn:aws:s3:::data") == {"s3:GetBucketLocation"}
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])


def test_every_statement_expires() -> None:
    policy = render_policy([BucketGrant("aaa"), BucketGrant("bbb")], list(P), EXPIRY)
    for statement in policy["Statement"]:
        assert statement["Condition"]["DateLessThan"] == {"aws:CurrentTime": "2030-01-02T03:04:05Z"}


def test_object_lock_rights_map_to_their_own_actions() -> None:
    policy = render_policy([BucketGrant("bbb")], [P.BYPASS_GOVERNANCE_RETENTION, P.GET_OBJECT_LOCK_CONFIGURATION])
    assert actions(policy, "arn:aws:s3:::bbb/*") == {"s3:BypassGovernanceRetention"}
    assert actions(policy, "arn:aws:s3:::bbb") == {"s3:GetBucketLocation", "s3:GetBucketObjectLockConfiguration"}
    everything = render_policy([BucketGrant("bbb")], list(P))
    assert {"s3:PutObjectRetention", "s3:GetObjectRetention", "s3:PutObjectLegalHold", "s3:GetObjectLegalHold",
            "s3:PutBucketObjectLockConfiguration"} <= actions(everything, "arn:aws:s3:::bbb/*") | actions(
        everything, "arn:aws:s3:::bbb")


def test_without_object_lock_rights_none_is_granted() -> None:
    policy = render_policy([BucketGrant("bbb")], [P.READ, P.WRITE, P.LIST, P.DELETE])
    granted = {a for s in policy["Statement"] for a in s["Action"]}
    assert not any("Retention" in a or "LegalHold" in a or "ObjectLock" in a for a in granted)


def test_prefix_scopes_objects_and_listing() -> None:
    policy = render_policy([BucketGrant("bbb", "team/")], [P.READ, P.LIST])
    assert actions(policy, "arn:aws:s3:::bbb/team/*") == {"s3:GetObject"}
    listing = next(s for s in policy["Statement"] if "s3:ListBucket" in s["Action"])
    assert listing["Condition"]["StringLike"] == {"s3:prefix": ["team/*"]}
    assert listing["Action"] == ["s3:ListBucket"], "uploads listing would show keys outside the prefix"


@pytest.mark.parametrize(
    "bucket", [BucketGrant("bbb*"), BucketGrant('bb"x'), BucketGrant("bbb", "*"), BucketGrant("bbb", "../x"),
               BucketGrant("arn:aws:s3:::other")]
)
def test_injection_is_refused_even_past_the_schema(bucket: BucketGrant) -> None:
    with pytest.raises(ProviderRejected):
        render_policy([bucket], [P.READ])
