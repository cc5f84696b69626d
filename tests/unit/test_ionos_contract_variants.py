"""The IONOS adapter against the variants of IONOS's contract the sources leave open (the fake switched per
variant: metadata.administrative true / false / absent, 404 right after create), and the ownership proof against
forged key references. Provisioning waits run on a virtual clock.

What the user sees: a refused key is a ProviderRejected message (the Ready condition); an allowed administrative
key carries a warning (Ready message, Warning event and the Secret's keyfob.dev/warnings annotation).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from keyfob.api.blocks.ionos import IonosProviderBlock
from keyfob.api.common import SecretKeySelector
from keyfob.contract import (
    BucketGrant,
    Grant,
    IssuedKey,
    KeyRef,
    OwnershipUnproven,
    ProviderRejected,
    ProviderUnavailable,
    RequestIdentity,
)
from keyfob.contract.naming import key_name
from keyfob.providers.ionos.adapter import ADMIN_WARNING, UNSCOPED_WARNING, IonosProvider
from keyfob.providers.ionos.naming import description_for
from keyfob_testbed.fake_s3 import probe
from keyfob_testbed.ionos_fake import IonosFake
from keyfob_testbed.refs import own_ref

CLUSTER = "cluster-a"


class Clock:
    def __init__(self) -> None:
        self.now, self.slept = 0.0, 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def provider_for(fake: IonosFake, http: httpx.Client, clock: Clock | None = None, **block: Any) -> IonosProvider:
    clock = clock or Clock()
    fields: dict[str, Any] = {
        "api_url": fake.url, "credentials_secret_ref": SecretKeySelector(name="a"), "s3_endpoint": fake.s3_url,
        "region": "eu-central-3", "allow_unscoped_keys": True, "provisioning_timeout": "30s", **block,
    }
    return IonosProvider(IonosProviderBlock(**fields), {"IONOS_TOKEN": fake.token}, CLUSTER, http=http,
                         sleep=clock.sleep, monotonic=lambda: clock.now)


def grant_for(uid: str | None = None, cluster: str = CLUSTER) -> Grant:
    uid = uid or str(uuid.uuid4())
    return Grant(key_name(uid, 1), RequestIdentity("team-a", "app", uid), 1, (BucketGrant("bucket-a"),),
                 frozenset(), None)


def can(fake: IonosFake, key: IssuedKey, need: str | None = None) -> bool:
    return probe(fake.s3_url, "bucket-a", key.access_key_id, key.secret_access_key.get_secret_value(), need) == 200


@pytest.mark.parametrize(("administrative", "said"), [(True, "marks it administrative"),
                                                      (None, "does not say whether it is administrative")])
def test_an_administrative_key_is_refused_and_deleted_unless_allowed(
    http: httpx.Client, administrative: bool | None, said: str
) -> None:
    with IonosFake(administrative=administrative) as fake:
        with pytest.raises(ProviderRejected, match=said) as raised:
            provider_for(fake, http).issue(grant_for())
        assert "allowAdministrativeKeys" in str(raised.value) and "create buckets" in str(raised.value)
        assert fake.stored_keys() == [], "the administrative key was deleted, confirmed by a 404"


def test_an_allowed_administrative_key_says_so_in_its_warnings(http: httpx.Client) -> None:
    with IonosFake(administrative=True) as fake:
        key = provider_for(fake, http, allow_administrative_keys=True).issue(grant_for())
        assert key.warnings == (UNSCOPED_WARNING, ADMIN_WARNING)
        assert can(fake, key) and can(fake, key, "admin")


def test_a_non_administrative_key_has_only_the_unscoped_warning_and_no_admin_rights(
    ionos_fake: IonosFake, http: httpx.Client
) -> None:
    key = provider_for(ionos_fake, http).issue(grant_for())
    assert key.warnings == (UNSCOPED_WARNING,)
    assert can(ionos_fake, key) and not can(ionos_fake, key, "admin")


def test_a_404_right_after_create_is_waited_out(http: httpx.Client) -> None:
    with IonosFake(not_found_reads=3) as fake:
        clock = Clock()
        key = provider_for(fake, http, clock).issue(grant_for())
        assert can(fake, key) and 0 < clock.slept < 30


def test_a_key_that_stays_404_is_given_up_within_the_timeout_and_deleted(http: httpx.Client) -> None:
    with IonosFake(not_found_reads=10_000) as fake:
        clock = Clock()
        with pytest.raises(ProviderUnavailable, match=r"was not found \(404\) within 30s"):
            provider_for(fake, http, clock).issue(grant_for())
        assert fake.stored_keys() == [] and clock.slept <= 31


# ---- ownership proof -----------------------------------------------------------------------------------------


def test_forged_refs_leave_foreign_keys_untouched(ionos_fake: IonosFake, http: httpx.Client) -> None:
    provider = provider_for(ionos_fake, http)
    foreign = ionos_fake.add_key("the team's own key")
    elsewhere_grant = grant_for()
    elsewhere = ionos_fake.add_key(description_for("other-cluster", elsewhere_grant))
    other = provider.issue(grant_for())  # another request's keyfob key in this cluster
    me = str(uuid.uuid4())

    for ref in (
        KeyRef(other.key_name, me, foreign.access_key),  # keyfob-looking name of another request
        KeyRef(key_name(me, 1), me, foreign.access_key),  # my name, a foreign key's id
        KeyRef(key_name(me, 1), me, other.access_key_id),  # my name, another request's key id
        KeyRef(elsewhere_grant.key_name, elsewhere_grant.request.uid, elsewhere.access_key),  # other cluster
    ):
        writes = len(ionos_fake.writes())
        with pytest.raises(OwnershipUnproven):
            provider.revoke(ref)
        assert len(ionos_fake.writes()) == writes, f"nothing changed for {ref}"
    assert {k.status for k in ionos_fake.stored_keys()} == {"AVAILABLE"} and len(ionos_fake.stored_keys()) == 3
    assert can(ionos_fake, other)


def test_an_own_ref_still_revokes(ionos_fake: IonosFake, http: httpx.Client) -> None:
    provider = provider_for(ionos_fake, http)
    key = provider.issue(grant_for())
    result = provider.revoke(own_ref(key.key_name, key.access_key_id))
    assert result is not None and result.message() == "revoked" and not can(ionos_fake, key)
    assert provider.revoke(own_ref(key.key_name, key.access_key_id)) is None


def test_issue_refuses_a_grant_whose_name_is_not_the_requests(ionos_fake: IonosFake, http: httpx.Client) -> None:
    grant = grant_for()
    forged = Grant(grant.key_name, RequestIdentity("x", "y", str(uuid.uuid4())), 1, grant.buckets, frozenset(), None)
    with pytest.raises(OwnershipUnproven):
        provider_for(ionos_fake, http).issue(forged)
    assert ionos_fake.writes() == []
