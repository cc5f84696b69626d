"""Ceph RGW adapter without a gateway: names, the ownership record, the refusals and the rendered policy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from keyfob.api.blocks.ceph import CephProviderBlock
from keyfob.api.provider import PROVIDER_BLOCKS, ProviderSpec
from keyfob.api.vocabulary import Permission as P
from keyfob.contract import BucketGrant, Grant, ProviderRejected, RequestIdentity
from keyfob.contract.naming import key_name
from keyfob.providers.ceph import naming, scope
from keyfob.providers.ceph.adapter import CephRgwProvider
from keyfob.providers.registry import factory_for

UID = str(uuid.uuid4())
NAME = key_name(UID, 3)
EXPIRY = datetime(2030, 1, 1, tzinfo=UTC)
BLOCK = CephProviderBlock.model_validate({"endpoint": "http://127.0.0.1:8080", "credentialsSecretRef": {"name": "a"}})
ADMIN = {"accessKey": "AK", "secretKey": "SK"}


def grant(*perms: P, prefix: str | None = "team/") -> Grant:
    return Grant(NAME, RequestIdentity("team-a", "app", UID), 3, (BucketGrant("data", prefix),), frozenset(perms),
                 EXPIRY)  # fmt: skip


def test_registered_and_a_provider_block() -> None:
    assert "ceph" in PROVIDER_BLOCKS and factory_for("ceph") is CephRgwProvider
    assert ProviderSpec.model_validate({"ceph": BLOCK.model_dump(by_alias=True)}).block_name() == "ceph"


def test_user_ids_carry_cluster_and_key_name_and_parse_back() -> None:
    uid = naming.user_id("prod-1", NAME)
    assert uid == f"keyfob-prod-1-{NAME}"
    assert naming.key_name_of("prod-1", None, uid) == NAME
    assert naming.key_name_of("prod-1", "t1", f"t1${uid}") == NAME
    assert naming.key_name_of("prod-1", None, f"t1${uid}") is None, "another tenant"
    assert naming.key_name_of("prod", None, uid) is None, "cluster 'prod' must not sweep cluster 'prod-1'"
    assert naming.key_name_of("prod-1", None, "keyfob-prod-1-app") is None
    assert naming.wire_uid("t1", uid) == f"t1${uid}"


def test_display_name_proves_exactly_this_request_and_revision() -> None:
    shown = naming.display_name_for("prod-1", grant(P.READ))
    assert shown == f"keyfob prod-1 team-a/app {UID} r3"
    assert naming.proves("prod-1", NAME, UID, shown)
    assert not naming.proves("other", NAME, UID, shown)
    assert not naming.proves("prod-1", NAME, str(uuid.uuid4()), shown)
    assert not naming.proves("prod-1", key_name(UID, 4), UID, shown)
    assert not naming.proves("prod-1", NAME, UID, "someone-else")
    assert not naming.proves("prod-1", NAME, UID, None)


def test_refusals_name_what_rgw_cannot_enforce() -> None:
    assert scope.unsupported(grant(P.READ, P.LIST, P.DELETE), allow_object_acls_on_write=False) == []
    assert scope.unsupported(grant(P.WRITE), allow_object_acls_on_write=False) == [scope.WRITE_PUBLISHES]
    assert scope.unsupported(grant(P.WRITE), allow_object_acls_on_write=True) == []
    assert scope.unsupported(grant(P.BYPASS_GOVERNANCE_RETENTION), allow_object_acls_on_write=True) == [
        scope.BYPASS_NOT_ENFORCED
    ]
    provider = CephRgwProvider(BLOCK, ADMIN, "prod-1")
    assert P.BYPASS_GOVERNANCE_RETENTION not in provider.capabilities.permissions
    assert not provider.capabilities.native_expiry and provider.capabilities.prefix_scope
    with pytest.raises(ProviderRejected, match="allowObjectAclsOnWrite"):
        provider.issue(grant(P.READ, P.WRITE))  # refused before any call to the gateway


def test_policy_denies_what_object_ownership_would_give() -> None:
    policy = scope.render(grant(P.WRITE))
    deny = next(s for s in policy["Statement"] if s["Sid"] == "DenyOwnerImplied")
    assert "s3:GetObject" in deny["Action"] and "s3:PutObjectAcl" in deny["Action"]
    assert deny["Resource"] == ["arn:aws:s3:::*"] and "Condition" not in deny
    canned = next(s for s in policy["Statement"] if s["Sid"] == "DenyPublicCannedAcl")
    assert canned["Condition"] == {"StringEquals": {"s3:x-amz-acl": list(scope.PUBLIC_CANNED_ACLS)}}
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert all(s["Condition"]["DateLessThan"] == {"aws:CurrentTime": "2030-01-01T00:00:00Z"} for s in allows)
    read = scope.render(grant(P.READ))
    read_deny = next(s for s in read["Statement"] if s["Sid"] == "DenyOwnerImplied")
    assert "s3:GetObject" not in read_deny["Action"], "a granted read must not be denied"
    assert not any(s["Sid"] == "DenyPublicCannedAcl" for s in read["Statement"])


def test_admin_secret_keys_are_required_and_never_shown() -> None:
    with pytest.raises(ProviderRejected, match="secretKey"):
        CephRgwProvider(BLOCK, {"accessKey": "AK"}, "prod-1")
    provider = CephRgwProvider(BLOCK, {"accessKey": "AK", "secretKey": "very-secret-value"}, "prod-1")
    assert "very-secret-value" not in repr(provider) + repr(provider.admin)
    assert provider.connection().endpoint == "http://127.0.0.1:8080"
