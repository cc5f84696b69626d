"""The Utho adapter against the loopback contract fake of Utho's object-storage access-key API.

Each key is checked by using it: the fake's S3 stand-in answers 200 only for an Active key with its secret and a
permission on the bucket that covers the right asked for.
"""

from __future__ import annotations

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
    ProviderRejected,
    ProviderThrottled,
    ProviderUnavailable,
    RequestIdentity,
)
from keyfob.contract.naming import key_name
from keyfob.providers.registry import factory_for
from keyfob.providers.utho.adapter import UthoProvider
from keyfob.providers.utho.naming import MAX_NAME, name_for, parse_name
from keyfob.secrets.formats import Credential, render_env
from keyfob_testbed.fake_s3 import probe
from keyfob_testbed.harness_utho import UthoHarness
from keyfob_testbed.refs import own_ref
from keyfob_testbed.utho_fake import UthoFake
from keyfob_testbed.waiting import wait_for

# The plugin's fixtures, until tests/conftest.py registers keyfob_testbed.provider_fakes_fixtures.

P = Permission
CLUSTER = "cluster-a"
READ = frozenset({P.READ, P.LIST})
WRITE = frozenset({P.WRITE, P.DELETE})
READ_WRITE = READ | WRITE


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def make_provider(fake: UthoFake, http: httpx.Client, cluster: str = CLUSTER, **overrides: Any) -> UthoProvider:
    fields: dict[str, Any] = {
        "api_url": fake.url,
        "dc_slug": fake.dc,
        "credentials_secret_ref": SecretKeySelector(name="utho-admin"),
        "s3_endpoint": fake.s3_url,
    }
    fields.update(overrides)
    return UthoProvider(UthoProviderBlock(**fields), {"UTHO_API_KEY": fake.token}, cluster, http=http)


def grant_for(
    permissions: frozenset[Permission] = READ,
    buckets: tuple[BucketGrant, ...] = (BucketGrant("bucket-a"),),
    uid: str | None = None,
    revision: int = 1,
) -> Grant:
    uid = uid or str(uuid.uuid4())
    return Grant(
        key_name=key_name(uid, revision),
        request=RequestIdentity("team-a", "reports", uid),
        revision=revision,
        buckets=buckets,
        permissions=permissions,
        expires_at=None,
    )


def status(fake: UthoFake, key: IssuedKey, bucket: str, need: str | None = None) -> int:
    return probe(fake.s3_url, bucket, key.access_key_id, key.secret_access_key.get_secret_value(), need)


# ---- issue: one permission per bucket ----------------------------------------------------------------------------


def test_issue_grants_the_mapped_permission_on_each_bucket_only(utho_fake: UthoFake, http: httpx.Client) -> None:
    provider = make_provider(utho_fake, http)
    grant = grant_for(READ, (BucketGrant("bucket-a"), BucketGrant("bucket-b")))

    key = provider.issue(grant)

    stored = utho_fake.key_by_access_key(key.access_key_id)
    assert stored is not None and stored.grants == {"bucket-a": "read", "bucket-b": "read"}
    assert status(utho_fake, key, "bucket-a", "read") == 200
    assert status(utho_fake, key, "bucket-b", "list") == 200
    assert status(utho_fake, key, "bucket-a", "write") == 403
    assert status(utho_fake, key, "bucket-c") == 403, "no grant on a bucket that was not asked for"
    assert key.expiry_native is False
    parsed = parse_name(CLUSTER, stored.name)
    assert parsed is not None and parsed.key_name == grant.key_name and parsed.attempt == 1


@pytest.mark.parametrize(
    ("permissions", "expected"),
    [(READ, "read"), (WRITE, "write")],
)
def test_permission_vocabulary_maps_exactly(
    utho_fake: UthoFake, http: httpx.Client, permissions: frozenset[Permission], expected: str
) -> None:
    key = make_provider(utho_fake, http).issue(grant_for(permissions))
    stored = utho_fake.key_by_access_key(key.access_key_id)
    assert stored is not None and stored.grants == {"bucket-a": expected}


@pytest.mark.parametrize(
    ("permissions", "buckets", "named"),
    [
        (frozenset({P.DELETE}), (BucketGrant("bucket-a"),), "delete alone"),
        (frozenset({P.LIST}), (BucketGrant("bucket-a"),), "list alone"),
        (frozenset({P.READ}), (BucketGrant("bucket-a"),), "read alone: Utho's narrowest permission covering it, "
                                                           "'read', also allows list"),
        (frozenset({P.WRITE}), (BucketGrant("bucket-a"),), "'write', also allows delete"),
        (READ | {P.WRITE}, (BucketGrant("bucket-a"),), "only permission that grants both is 'full'"),
        (READ_WRITE, (BucketGrant("bucket-a"),), "will not round the request up"),
        (frozenset({P.LIST, P.DELETE}), (BucketGrant("bucket-a"),), "ACL or policy"),
        (READ | {P.PUT_OBJECT_RETENTION}, (BucketGrant("bucket-a"),), "object-lock rights (putObjectRetention)"),
        (READ | {P.GET_OBJECT_LEGAL_HOLD}, (BucketGrant("bucket-a"),), "object-lock rights (getObjectLegalHold)"),
        (READ, (BucketGrant("bucket-a", "reports/"),), "object prefixes (bucket-a/reports/)"),
    ],
)
def test_inexpressible_rights_are_refused_by_name_and_nothing_is_created(
    utho_fake: UthoFake,
    http: httpx.Client,
    permissions: frozenset[Permission],
    buckets: tuple[BucketGrant, ...],
    named: str,
) -> None:
    provider = make_provider(utho_fake, http)
    grant = grant_for(permissions, buckets)

    problems = provider.unsupported(grant)

    assert any(named in problem for problem in problems), problems
    with pytest.raises(ProviderRejected, match="Utho cannot express"):
        provider.issue(grant)
    assert utho_fake.stored_keys() == [] and utho_fake.writes() == []


# ---- Utho's error answers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("Access key name already exists", ProviderRejected),
        ("Please try again later", ProviderUnavailable),
        ("Too many requests", ProviderThrottled),
        ("", ProviderRejected),
    ],
)
def test_http_200_error_bodies_raise(
    utho_fake: UthoFake, http: httpx.Client, message: str, error: type[Exception]
) -> None:
    utho_fake.error_body_once(message)
    with pytest.raises(error, match=message or "without a message"):
        make_provider(utho_fake, http).issue(grant_for())
    assert utho_fake.stored_keys() == []


def test_retry_after_is_honoured(utho_fake: UthoFake, http: httpx.Client) -> None:
    utho_fake.throttle_once(retry_after="5")
    with pytest.raises(ProviderThrottled) as raised:
        make_provider(utho_fake, http).issue(grant_for())
    assert raised.value.retry_after == 5.0


def test_a_failed_grant_removes_the_new_key(http: httpx.Client) -> None:
    with UthoFake(buckets={"bucket-a"}) as fake:
        provider = make_provider(fake, http)
        with pytest.raises(ProviderRejected, match="Bucket not found"):
            provider.issue(grant_for(READ, (BucketGrant("bucket-a"), BucketGrant("no-such-bucket"))))
        assert fake.stored_keys() == [], "its secret was never handed out: it must not exist"


def test_bad_credentials_are_rejected_without_quoting_them(utho_fake: UthoFake, http: httpx.Client) -> None:
    block = UthoProviderBlock(
        api_url=utho_fake.url,
        dc_slug=utho_fake.dc,
        credentials_secret_ref=SecretKeySelector(name="s"),
        s3_endpoint=utho_fake.s3_url,
    )
    provider = UthoProvider(block, {"UTHO_API_KEY": "wrong-key"}, CLUSTER, http=http)
    with pytest.raises(ProviderRejected, match="credentials rejected") as raised:
        provider.check()
    assert "wrong-key" not in str(raised.value) and "wrong-key" not in repr(provider)
    make_provider(utho_fake, http).check()


# ---- revoke (remove) and list -----------------------------------------------------------------------------------


def test_revoke_removes_the_key_and_revoking_twice_succeeds(utho_fake: UthoFake, http: httpx.Client) -> None:
    provider = make_provider(utho_fake, http)
    key = provider.issue(grant_for())
    assert status(utho_fake, key, "bucket-a") == 200

    result = provider.revoke(own_ref(key.key_name, key.access_key_id))

    wait_for(lambda: status(utho_fake, key, "bucket-a") == 403, timeout=5, what="revoked key to stop working")
    assert result is not None and result.how == "delete" and result.message() == "revoked"
    assert utho_fake.stored_keys() == [], "removed, confirmed by listing"
    assert provider.revoke(own_ref(key.key_name, key.access_key_id)) is None
    provider.revoke(own_ref(key.key_name))
    assert provider.list_owned() == []


def test_revoke_insists_that_utho_confirms(utho_fake: UthoFake, http: httpx.Client) -> None:
    provider = make_provider(utho_fake, http)
    key = provider.issue(grant_for())
    utho_fake.ignore_status_changes = True
    with pytest.raises(ProviderUnavailable, match=r"still lists access key.*after removing and disabling"):
        provider.revoke(own_ref(key.key_name, key.access_key_id))
    assert status(utho_fake, key, "bucket-a") == 200


def test_reissue_under_the_same_name_removes_the_lost_attempt(utho_fake: UthoFake, http: httpx.Client) -> None:
    provider = make_provider(utho_fake, http)
    grant = grant_for()
    first = provider.issue(grant)  # the operator crashed before writing the Secret

    second = provider.issue(grant)

    assert status(utho_fake, first, "bucket-a") == 403
    assert status(utho_fake, second, "bucket-a") == 200
    assert [parse_name(CLUSTER, k.name).attempt for k in utho_fake.stored_keys()] == [2]  # type: ignore[union-attr]
    assert [o.access_key_ids for o in provider.list_owned()] == [(second.access_key_id,)]


def test_list_owned_finds_ours_and_ignores_foreign_keys(utho_fake: UthoFake, http: httpx.Client) -> None:
    provider = make_provider(utho_fake, http)
    grant = grant_for()
    key = provider.issue(grant)
    utho_fake.add_key("backup-key", grants={"bucket-a": "read"})
    utho_fake.add_key(name_for("other-cluster", key_name(str(uuid.uuid4()), 1), 1))

    owned = provider.list_owned()

    assert [(o.key_name, o.access_key_ids, o.request_uid) for o in owned] == [
        (grant.key_name, (key.access_key_id,), grant.request.uid)
    ]


# ---- names, wiring, harness ---------------------------------------------------------------------------------------


def test_names_round_trip_and_stay_short() -> None:
    uid = str(uuid.uuid4())
    name = name_for(CLUSTER, key_name(uid, 12345), 99)
    assert len(name) <= MAX_NAME and name.replace("-", "").isalnum() and name == name.lower()
    parsed = parse_name(CLUSTER, name)
    assert parsed is not None and (parsed.key_name, parsed.request_uid, parsed.attempt) == (
        key_name(uid, 12345), uid, 99
    )
    assert parse_name("other-cluster", name) is None
    assert parse_name(CLUSTER, "backup-key") is None


def test_registry_builds_the_adapter_and_requires_the_api_key(utho_fake: UthoFake) -> None:
    block = UthoProviderBlock.model_validate(
        {"dcSlug": "innoida", "credentialsSecretRef": {"name": "s"}, "s3Endpoint": utho_fake.s3_url}
    )
    factory = factory_for("utho")
    assert isinstance(factory(block, {"UTHO_API_KEY": utho_fake.token}, CLUSTER), UthoProvider)
    with pytest.raises(ProviderRejected, match="UTHO_API_KEY"):
        factory(block, {}, CLUSTER)
    assert block.api_url == "https://api.utho.com/v2/" and block.region is None


def test_harness_contract(utho_harness: UthoHarness, http: httpx.Client) -> None:
    fake = utho_harness.fake
    block = UthoProviderBlock.model_validate(utho_harness.provider_spec("utho-admin")["utho"])
    provider = UthoProvider(block, utho_harness.admin_secret_data(), CLUSTER, http=http)
    spec = utho_harness.request_spec("s")
    key = provider.issue(grant_for(frozenset(P(p) for p in spec["permissions"]), (BucketGrant(utho_harness.bucket),)))
    data = render_env(
        Credential(key.access_key_id, key.secret_access_key, fake.s3_url, None, (utho_harness.bucket,), None)
    )

    assert utho_harness.key_works(data)
    orphan = utho_harness.make_orphan(CLUSTER)
    assert utho_harness.live_key_ids() == {key.access_key_id, orphan}
    assert orphan in {i for o in provider.list_owned() for i in o.access_key_ids}
    provider.revoke(own_ref(key.key_name, key.access_key_id))
    assert not utho_harness.key_works(data)
    assert utho_harness.live_key_ids() == {orphan}
