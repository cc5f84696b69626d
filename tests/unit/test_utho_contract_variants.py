"""The Utho adapter against every variant of Utho's contract that the sources disagree on (the fake switched per
variant, see keyfob_testbed.utho_fake), and the ownership proof against forged key references.

Each test checks what the key can do at the fake's S3 stand-in (never more than asked), and what the user is told:
the ProviderRejected message (the condition) or the Revoked result (the event word).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from keyfob.api.blocks.utho import UthoProviderBlock
from keyfob.api.common import SecretKeySelector
from keyfob.api.vocabulary import Permission
from keyfob.contract import (
    BucketGrant,
    Grant,
    IssuedKey,
    KeyRef,
    OwnershipUnproven,
    ProviderRejected,
    RequestIdentity,
)
from keyfob.contract.naming import key_name
from keyfob.providers.utho.adapter import UthoProvider
from keyfob.providers.utho.naming import name_for
from keyfob_testbed.fake_s3 import probe
from keyfob_testbed.refs import own_ref
from keyfob_testbed.utho_fake import UthoFake

P = Permission
CLUSTER = "cluster-a"
READ = frozenset({P.READ, P.LIST})
WRITE = frozenset({P.WRITE, P.DELETE})
SHAPES = list(itertools.product(("accesskey", "access_key", "data"), ("accesskeys", "data"), ("name", "accesskey")))


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def provider_for(fake: UthoFake, http: httpx.Client) -> UthoProvider:
    block = UthoProviderBlock(
        api_url=fake.url, dc_slug=fake.dc, credentials_secret_ref=SecretKeySelector(name="a"), s3_endpoint=fake.s3_url
    )
    return UthoProvider(block, {"UTHO_API_KEY": fake.token}, CLUSTER, http=http)


def grant_for(permissions: frozenset[Permission], uid: str | None = None) -> Grant:
    uid = uid or str(uuid.uuid4())
    return Grant(key_name(uid, 1), RequestIdentity("team-a", "app", uid), 1, (BucketGrant("bucket-a"),),
                 permissions, None)


def can(fake: UthoFake, key: IssuedKey, need: str, bucket: str = "bucket-a") -> bool:
    return probe(fake.s3_url, bucket, key.access_key_id, key.secret_access_key.get_secret_value(), need) == 200


def never_broader(fake: UthoFake, key: IssuedKey, allowed: set[str]) -> None:
    for need in ("read", "list", "write", "delete", "acl", "policy"):
        assert can(fake, key, need) == (need in allowed), need
    assert not can(fake, key, "read", "bucket-b"), "no right on a bucket that was not asked for"
    assert not any("/permission/full/" in path for _, path in fake.requests), "'full' is never granted"


@pytest.mark.parametrize(("create_shape", "list_shape", "status_path"), SHAPES)
def test_every_response_shape_and_status_path_issues_exactly_and_removes(
    http: httpx.Client, create_shape: Any, list_shape: Any, status_path: Any
) -> None:
    with UthoFake(create_shape=create_shape, list_shape=list_shape, status_path=status_path) as fake:
        provider = provider_for(fake, http)
        key = provider.issue(grant_for(READ))
        never_broader(fake, key, {"read", "list"})
        assert [o.access_key_ids for o in provider.list_owned()] == [(key.access_key_id,)]

        result = provider.revoke(own_ref(key.key_name, key.access_key_id))

        assert result is not None and result.message() == "revoked"
        assert fake.stored_keys() == [] and not can(fake, key, "read")


@pytest.mark.parametrize("status_path", ["name", "accesskey"])
def test_a_platform_that_cannot_remove_keys_gets_them_disabled_and_says_so(
    http: httpx.Client, status_path: Any
) -> None:
    with UthoFake(can_remove=False, status_path=status_path) as fake:
        provider = provider_for(fake, http)
        key = provider.issue(grant_for(WRITE))
        never_broader(fake, key, {"write", "delete"})

        result = provider.revoke(own_ref(key.key_name, key.access_key_id))

        assert result is not None and result.how == "disable" and result.word == "disabled"
        assert "Utho would not remove it: " in result.message() and "Invalid status" in result.message()
        assert [k.status for k in fake.stored_keys()] == ["Disabled"] and not can(fake, key, "write")
        assert provider.revoke(own_ref(key.key_name, key.access_key_id)) is None, "disabled = already revoked"
        assert provider.list_owned() == []


def test_a_platform_without_read_refuses_the_grant_and_leaves_no_key(http: httpx.Client) -> None:
    with UthoFake(read_supported=False) as fake:
        with pytest.raises(ProviderRejected, match="grant read on bucket bucket-a: Invalid permission"):
            provider_for(fake, http).issue(grant_for(READ))
        assert fake.stored_keys() == [], "the key whose grant failed was removed again"


@pytest.mark.parametrize(
    ("permissions", "said"),
    [
        (READ | WRITE, "Utho's only permission that grants both is 'full'"),
        (frozenset({P.READ, P.WRITE}), "ACL or policy"),
        (frozenset({P.LIST}), "'read', also allows read"),
    ],
)
def test_what_utho_cannot_grant_exactly_is_refused_naming_the_distinction(
    utho_fake: UthoFake, http: httpx.Client, permissions: frozenset[Permission], said: str
) -> None:
    provider = provider_for(utho_fake, http)
    assert any(said in problem for problem in provider.unsupported(grant_for(permissions)))
    with pytest.raises(ProviderRejected, match="Utho cannot express"):
        provider.issue(grant_for(permissions))
    assert utho_fake.writes() == []


# ---- ownership proof -----------------------------------------------------------------------------------------


def test_a_forged_ref_with_a_foreign_key_id_and_another_requests_name_is_refused(
    utho_fake: UthoFake, http: httpx.Client
) -> None:
    provider = provider_for(utho_fake, http)
    foreign = utho_fake.add_key("backup-key", grants={"bucket-a": "read"})
    other = provider.issue(grant_for(READ))  # another request's key, keyfob-made
    me = str(uuid.uuid4())

    for ref in (
        KeyRef(other.key_name, me, foreign.access_key),  # a keyfob-looking name of another request
        KeyRef(key_name(me, 1), me, foreign.access_key),  # my name, but an id Utho lists under "backup-key"
        KeyRef(key_name(me, 1), me, other.access_key_id),  # my name, but another request's key id
    ):
        writes = len(utho_fake.writes())
        with pytest.raises(OwnershipUnproven):
            provider.revoke(ref)
        assert len(utho_fake.writes()) == writes, "nothing was changed"
    assert {k.name for k in utho_fake.stored_keys() if k.status == "Active"} >= {"backup-key"}
    assert can(utho_fake, other, "read")


def test_another_clusters_key_under_the_same_key_name_is_never_touched(
    utho_fake: UthoFake, http: httpx.Client
) -> None:
    uid = str(uuid.uuid4())
    theirs = utho_fake.add_key(name_for("other-cluster", key_name(uid, 1), 1), grants={"bucket-a": "read"})
    provider = provider_for(utho_fake, http)

    assert provider.revoke(KeyRef(key_name(uid, 1), uid)) is None
    with pytest.raises(OwnershipUnproven, match="not touched"):
        provider.revoke(KeyRef(key_name(uid, 1), uid, theirs.access_key))
    assert utho_fake.key_by_access_key(theirs.access_key) is not None and theirs.status == "Active"


def test_the_access_key_path_is_not_used_when_another_key_is_named_like_our_access_key(http: httpx.Client) -> None:
    with UthoFake(status_path="accesskey") as fake:
        provider = provider_for(fake, http)
        key = provider.issue(grant_for(READ))
        decoy = fake.add_key(key.access_key_id)  # someone named a key after our access key

        with pytest.raises(ProviderRejected, match="Access key not found"):
            provider.revoke(own_ref(key.key_name, key.access_key_id))
        assert fake.key_by_access_key(decoy.access_key) is not None and decoy.status == "Active"


def test_issue_refuses_a_grant_whose_name_is_not_the_requests(utho_fake: UthoFake, http: httpx.Client) -> None:
    grant = grant_for(READ)
    forged = Grant(grant.key_name, RequestIdentity("x", "y", str(uuid.uuid4())), 1, grant.buckets, READ, None)
    with pytest.raises(OwnershipUnproven):
        provider_for(utho_fake, http).issue(forged)
    assert utho_fake.writes() == []
