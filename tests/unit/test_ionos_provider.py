"""The IONOS adapter against the loopback contract fake of the Object Storage Management API.

Each key is checked by using it: the fake's S3 stand-in answers 200 only for an AVAILABLE key with its secret.
Provisioning waits run on a virtual clock (the adapter's sleep advances it), so no test waits in real time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from keyfob.api.blocks.ionos import IonosProviderBlock
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
from keyfob.providers.common.http import retry_after
from keyfob.providers.ionos.adapter import IonosProvider
from keyfob.providers.ionos.naming import description_for, parse_description
from keyfob.providers.registry import factory_for
from keyfob.secrets.formats import Credential, render_env
from keyfob_testbed.fake_s3 import probe
from keyfob_testbed.harness_ionos import IonosHarness
from keyfob_testbed.ionos_fake import IonosFake
from keyfob_testbed.refs import own_ref
from keyfob_testbed.waiting import wait_for

# The plugin's fixtures, until tests/conftest.py registers keyfob_testbed.provider_fakes_fixtures.

P = Permission
CLUSTER = "cluster-a"


class VirtualClock:
    """monotonic() and sleep() for the adapter: sleeping advances time instantly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def make_block(fake: IonosFake, **overrides: Any) -> IonosProviderBlock:
    fields: dict[str, Any] = {
        "api_url": fake.url,
        "credentials_secret_ref": SecretKeySelector(name="ionos-admin"),
        "s3_endpoint": fake.s3_url,
        "region": "eu-central-3",
        "allow_unscoped_keys": True,
        "provisioning_timeout": "30s",
    }
    fields.update(overrides)
    return IonosProviderBlock(**fields)


def make_provider(
    fake: IonosFake, http: httpx.Client, clock: VirtualClock | None = None, cluster: str = CLUSTER, **overrides: Any
) -> IonosProvider:
    clock = clock or VirtualClock()
    return IonosProvider(
        make_block(fake, **overrides),
        {"IONOS_TOKEN": fake.token},
        cluster,
        http=http,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )


def grant_for(uid: str | None = None, revision: int = 1, buckets: tuple[str, ...] = ("bucket-a",)) -> Grant:
    uid = uid or str(uuid.uuid4())
    return Grant(
        key_name=key_name(uid, revision),
        request=RequestIdentity("team-a", "reports", uid),
        revision=revision,
        buckets=tuple(BucketGrant(b) for b in buckets),
        permissions=frozenset({P.READ, P.LIST}),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )


def works(fake: IonosFake, key: IssuedKey, bucket: str = "bucket-a") -> bool:
    return probe(fake.s3_url, bucket, key.access_key_id, key.secret_access_key.get_secret_value()) == 200


# ---- issue -------------------------------------------------------------------------------------------------


def test_issue_polls_until_available_and_returns_a_usable_key(ionos_fake: IonosFake, http: httpx.Client) -> None:
    clock = VirtualClock()
    provider = make_provider(ionos_fake, http, clock)
    grant = grant_for()

    key = provider.issue(grant)

    assert works(ionos_fake, key)
    assert works(ionos_fake, key, "bucket-b"), "IONOS keys are unscoped: every bucket of the user"
    (stored,) = ionos_fake.stored_keys()
    assert stored.status == "AVAILABLE" and stored.access_key == key.access_key_id
    reads = [r for r in ionos_fake.requests if r == ("GET", f"/accesskeys/{stored.id}")]
    assert len(reads) == ionos_fake.provisioning_polls + 1, "PROVISIONING twice, then AVAILABLE"
    assert clock.slept[1:] == sorted(clock.slept[1:]), "backoff grows"
    assert key.expiry_native is False and key.expires_at == grant.expires_at
    assert "scope=unscoped" in stored.description
    described = parse_description(stored.description)
    assert described is not None and (described.cluster_id, described.key_name) == (CLUSTER, grant.key_name)


def test_unscoped_keys_are_refused_unless_the_block_allows_them(ionos_fake: IonosFake, http: httpx.Client) -> None:
    provider = make_provider(ionos_fake, http, allow_unscoped_keys=False)
    grant = grant_for()

    problems = provider.unsupported(grant)

    assert len(problems) == 1 and "allowUnscopedKeys" in problems[0] and "every key has all the rights" in problems[0]
    with pytest.raises(ProviderRejected, match="cannot be limited"):
        provider.issue(grant)
    assert ionos_fake.stored_keys() == [] and ionos_fake.writes() == []
    assert make_provider(ionos_fake, http).unsupported(grant) == []


def test_five_key_limit_refuses_with_the_count_and_creates_nothing(ionos_fake: IonosFake, http: httpx.Client) -> None:
    for n in range(5):
        ionos_fake.add_key(f"someone's key {n}")
    provider = make_provider(ionos_fake, http)

    with pytest.raises(ProviderRejected) as raised:
        provider.issue(grant_for())

    message = str(raised.value)
    assert "IONOS allows 5 access keys per user; 5 are in use" in message
    assert "rotation needs one free slot" in message.lower()
    assert len(ionos_fake.stored_keys()) == 5 and ionos_fake.writes() == []


def test_the_fifth_slot_is_usable_and_a_lower_configured_limit_is_honoured(
    ionos_fake: IonosFake, http: httpx.Client
) -> None:
    for n in range(4):
        ionos_fake.add_key(f"someone's key {n}")
    assert works(ionos_fake, make_provider(ionos_fake, http).issue(grant_for()))

    with pytest.raises(ProviderRejected, match="IONOS allows 3 access keys per user; 5 are in use"):
        make_provider(ionos_fake, http, keys_per_user=3).issue(grant_for())


def test_reissue_under_the_same_name_replaces_the_crashed_attempt(ionos_fake: IonosFake, http: httpx.Client) -> None:
    provider = make_provider(ionos_fake, http)
    grant = grant_for()
    first = provider.issue(grant)  # imagine the operator crashed before writing the Secret

    second = provider.issue(grant)

    assert works(ionos_fake, second)
    assert not works(ionos_fake, first), "the lost secret's key is deleted"
    assert [k.access_key for k in ionos_fake.stored_keys()] == [second.access_key_id]


def test_retry_after_is_honoured(ionos_fake: IonosFake, http: httpx.Client) -> None:
    ionos_fake.throttle_once(retry_after="7")

    with pytest.raises(ProviderThrottled) as raised:
        make_provider(ionos_fake, http).issue(grant_for())

    assert raised.value.retry_after == 7.0
    assert ionos_fake.stored_keys() == []


def test_retry_after_may_be_an_http_date() -> None:
    response = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    moment = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC).timestamp()
    assert retry_after(response, now=lambda: moment) == 30.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None


def test_failed_provisioning_is_cleaned_up_and_classified(ionos_fake: IonosFake, http: httpx.Client) -> None:
    provider = make_provider(ionos_fake, http)
    ionos_fake.fail_provisioning("backend hiccup")
    with pytest.raises(ProviderUnavailable, match="FAILED: backend hiccup"):
        provider.issue(grant_for())
    assert ionos_fake.stored_keys() == [], "the failed key is deleted again (and gone before issue returns)"

    ionos_fake.fail_provisioning("quota exceeded for this contract")
    with pytest.raises(ProviderRejected, match="quota exceeded"):
        provider.issue(grant_for())


def test_a_key_that_never_becomes_available_times_out_and_is_deleted(http: httpx.Client) -> None:
    with IonosFake(provisioning_polls=10_000) as fake:
        clock = VirtualClock()
        provider = make_provider(fake, http, clock, provisioning_timeout="45s")

        with pytest.raises(ProviderUnavailable, match="did not become AVAILABLE within 45s"):
            provider.issue(grant_for())

        assert sum(clock.slept) == pytest.approx(45.0 + 0.5), "45 s of provisioning, one pause for the delete"
        assert max(clock.slept) <= 5.0
        assert fake.stored_keys() == [], "deleted, and confirmed gone"


# ---- revoke and list -----------------------------------------------------------------------------------------


def test_revoke_makes_the_key_fail_and_revoking_twice_succeeds(ionos_fake: IonosFake, http: httpx.Client) -> None:
    provider = make_provider(ionos_fake, http)
    key = provider.issue(grant_for())
    assert works(ionos_fake, key)

    provider.revoke(own_ref(key.key_name, key.access_key_id))

    wait_for(lambda: not works(ionos_fake, key), timeout=5, what="revoked key to stop working")
    assert ionos_fake.stored_keys() == [], "gone (GET answered 404) before revoke returned"
    provider.revoke(own_ref(key.key_name, key.access_key_id))
    provider.revoke(own_ref(key.key_name))


def test_revoke_by_key_name_alone_finds_the_key(ionos_fake: IonosFake, http: httpx.Client) -> None:
    provider = make_provider(ionos_fake, http)
    key = provider.issue(grant_for())
    provider.revoke(own_ref(key.key_name))
    assert not works(ionos_fake, key)


def test_list_owned_finds_ours_and_ignores_foreign_keys(ionos_fake: IonosFake, http: httpx.Client) -> None:
    provider = make_provider(ionos_fake, http)
    grant = grant_for()
    key = provider.issue(grant)
    ionos_fake.add_key("laptop key of a human")
    ionos_fake.add_key(description_for("other-cluster", grant_for()))
    ionos_fake.add_key(f"keyfob/v1 cluster={CLUSTER} key=not-a-keyfob-name scope=unscoped request=x/y")

    owned = provider.list_owned()

    assert [(o.key_name, o.access_key_ids, o.request_uid) for o in owned] == [
        (grant.key_name, (key.access_key_id,), grant.request.uid)
    ]


def test_list_owned_walks_every_page(http: httpx.Client) -> None:
    with IonosFake(limit=10, page_cap=2) as fake:
        provider = make_provider(fake, http, keys_per_user=10)
        issued = {provider.issue(grant_for()).key_name for _ in range(5)}
        fake.add_key("someone else's")
        assert {o.key_name for o in provider.list_owned()} == issued


# ---- errors, credentials, wiring -----------------------------------------------------------------------------


def test_errors_map_to_the_taxonomy_and_never_quote_the_token(ionos_fake: IonosFake, http: httpx.Client) -> None:
    bad = IonosProvider(make_block(ionos_fake), {"IONOS_TOKEN": "not-the-token"}, CLUSTER, http=http)
    with pytest.raises(ProviderRejected, match="credentials rejected") as raised:
        bad.check()
    assert "not-the-token" not in str(raised.value) and "not-the-token" not in repr(bad)

    provider = make_provider(ionos_fake, http)
    provider.check()
    ionos_fake.fail_next(503)
    with pytest.raises(ProviderUnavailable, match="HTTP 503"):
        provider.check()
    ionos_fake.fail_next(400)
    with pytest.raises(ProviderRejected, match="HTTP 400"):
        provider.issue(grant_for())


def test_an_unreachable_api_is_unavailable(http: httpx.Client) -> None:
    with IonosFake() as fake:
        url = fake.url
    block = make_block(fake, api_url=url)
    provider = IonosProvider(block, {"IONOS_TOKEN": "t"}, CLUSTER, http=http)
    with pytest.raises(ProviderUnavailable, match="ConnectError"):
        provider.check()


def test_the_secret_stays_out_of_reprs(ionos_fake: IonosFake, http: httpx.Client) -> None:
    key = make_provider(ionos_fake, http).issue(grant_for())
    secret = key.secret_access_key.get_secret_value()
    assert secret not in repr(key) and secret not in str(key)


def test_registry_builds_the_adapter_and_requires_the_token(ionos_fake: IonosFake) -> None:
    factory = factory_for("ionos")
    assert isinstance(factory(make_block(ionos_fake), {"IONOS_TOKEN": ionos_fake.token}, CLUSTER), IonosProvider)
    with pytest.raises(ProviderRejected, match="IONOS_TOKEN"):
        factory(make_block(ionos_fake), {}, CLUSTER)


def test_block_defaults() -> None:
    block = IonosProviderBlock.model_validate(
        {"credentialsSecretRef": {"name": "s"}, "s3Endpoint": "https://s3.example.invalid", "region": "r"}
    )
    assert block.api_url == "https://s3.ionos.com"
    assert (block.allow_unscoped_keys, block.keys_per_user, block.provisioning_timeout) == (False, 5, "2m")


# ---- the harness the operator-level suite uses ---------------------------------------------------------------


def test_harness_contract(ionos_harness: IonosHarness, http: httpx.Client) -> None:
    fake = ionos_harness.fake
    spec = ionos_harness.provider_spec("ionos-admin")
    block = IonosProviderBlock.model_validate(spec["ionos"])
    provider = IonosProvider(block, ionos_harness.admin_secret_data(), CLUSTER, http=http, poll_initial=0.001)
    key = provider.issue(grant_for(buckets=(ionos_harness.bucket,)))
    data = render_env(
        Credential(key.access_key_id, key.secret_access_key, fake.s3_url, block.region, (ionos_harness.bucket,), None)
    )

    assert ionos_harness.key_works(data)
    orphan = ionos_harness.make_orphan(CLUSTER)
    assert ionos_harness.live_key_ids() == {key.access_key_id, orphan}
    assert orphan in {i for o in provider.list_owned() for i in o.access_key_ids}
    provider.revoke(own_ref(key.key_name, key.access_key_id))
    assert not ionos_harness.key_works(data)
    assert ionos_harness.live_key_ids() == {orphan}
    assert ionos_harness.request_spec("s")["secretName"] == "s"
