"""IONOS scoped mode (spec.ionos.scopedUsers) against the loopback fakes of the Cloud API v6 user management and
the bucket-policy side of the S3 endpoint (keyfob_testbed.ionos_cloud_fake): each key is checked by using it at the
fake's S3 stand-in, which allows exactly what the bucket's policy says. Waits run on a virtual clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from keyfob.api.blocks.ionos import IonosProviderBlock
from keyfob.api.vocabulary import Permission as P
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
from keyfob.lifecycle.policies.expressible import beyond_capabilities
from keyfob.providers.ionos import bucket_policy as bp
from keyfob.providers.ionos.adapter import IonosProvider
from keyfob.providers.ionos.naming import user_email
from keyfob.providers.ionos.scoped import USER_OWNED_WARNING
from keyfob_testbed.fake_s3 import probe
from keyfob_testbed.harness_ionos import EMAIL_DOMAIN
from keyfob_testbed.ionos_fake import IonosFake

CLUSTER = "cluster-a"
FOREIGN = {"Sid": "team readers", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam:::user/31000000:someone"},
           "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::bucket-a/*"]}  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def fake() -> Iterator[IonosFake]:
    with IonosFake() as f:
        yield f


def scoped_provider(fake: IonosFake, http: httpx.Client, *, cluster: str = CLUSTER, admin: dict[str, str] | None = None,
                    **scoped: Any) -> IonosProvider:  # fmt: skip
    clock = Clock()
    block = IonosProviderBlock.model_validate({
        "apiUrl": fake.url, "credentialsSecretRef": {"name": "a"}, "s3Endpoint": fake.s3_url,
        "region": "eu-central-3", "provisioningTimeout": "30s",
        "scopedUsers": {"enabled": True, "cloudApiUrl": fake.cloud_api_url,
                        "contractNumber": fake.cloud.contract_number, "groupId": fake.cloud.s3_group.id,
                        "emailDomain": EMAIL_DOMAIN, **scoped},
    })  # fmt: skip
    secret = admin if admin is not None else {
        "IONOS_TOKEN": fake.token, "IONOS_S3_ACCESS_KEY": fake.cloud.admin_access_key,
        "IONOS_S3_SECRET_KEY": fake.cloud.admin_secret_key}  # fmt: skip
    return IonosProvider(block, secret, cluster, http=http, sleep=clock.sleep, monotonic=lambda: clock.now)


def grant_for(*permissions: P, buckets: tuple[str, ...] = ("bucket-a",), uid: str | None = None,
              revision: int = 1) -> Grant:  # fmt: skip
    uid = uid or str(uuid.uuid4())
    return Grant(key_name(uid, revision), RequestIdentity("team-a", "app", uid), revision,
                 tuple(BucketGrant(b) for b in buckets), frozenset(permissions or {P.READ, P.LIST}),
                 datetime.now(UTC) + timedelta(hours=1))  # fmt: skip


def can(fake: IonosFake, key: IssuedKey, bucket: str, need: str) -> bool:
    return probe(fake.s3_url, bucket, key.access_key_id, key.secret_access_key.get_secret_value(), need) == 200


def keyfob_users(fake: IonosFake) -> list[Any]:
    return [u for u in fake.cloud.users.values() if u.email.endswith("@" + EMAIL_DOMAIN)]


# ---- issue ----------------------------------------------------------------------------------------------------


def test_a_scoped_key_does_exactly_what_was_asked_on_the_asked_bucket(fake: IonosFake, http: httpx.Client) -> None:
    provider = scoped_provider(fake, http)
    key = provider.issue(grant_for(P.READ, P.LIST))
    assert can(fake, key, "bucket-a", "read") and can(fake, key, "bucket-a", "list")
    assert not can(fake, key, "bucket-a", "write") and not can(fake, key, "bucket-a", "delete")
    assert not can(fake, key, "bucket-b", "read"), "another bucket is denied"
    assert not can(fake, key, "bucket-a", "admin"), "no bucket-policy rights"
    assert key.warnings == () and key.expiry_native is False
    [user] = keyfob_users(fake)
    assert user.administrator is False and user.lastname == CLUSTER and list(user.keys) == [key.access_key_id]
    assert user.id in fake.cloud.s3_group.members


def test_two_buckets_get_one_statement_set_each_and_other_statements_stay(fake: IonosFake, http: httpx.Client) -> None:
    fake.policies.policies["bucket-a"] = {"Id": "team", "Version": "2012-10-17", "Statement": [FOREIGN]}
    key = scoped_provider(fake, http).issue(grant_for(P.WRITE, buckets=("bucket-a", "bucket-b")))
    assert can(fake, key, "bucket-a", "write") and can(fake, key, "bucket-b", "write")
    assert not can(fake, key, "bucket-a", "read")
    policy = fake.policies.policies["bucket-a"]
    assert policy["Id"] == "team" and policy["Statement"][0] == FOREIGN and len(policy["Statement"]) == 2


def test_reissuing_after_a_crash_adopts_the_user_and_replaces_its_lost_key(fake: IonosFake, http: httpx.Client) -> None:
    provider, grant = scoped_provider(fake, http), grant_for(P.READ)
    lost = provider.issue(grant)  # the Secret was never written: its secret is lost
    again = provider.issue(grant)
    assert len(keyfob_users(fake)) == 1, "the same user, not a second one"
    assert not can(fake, lost, "bucket-a", "read") and can(fake, again, "bucket-a", "read")
    assert len(fake.policies.policies["bucket-a"]["Statement"]) == 1, "statements replaced, not duplicated"


def test_a_rotation_is_a_new_user_and_both_keys_work_until_the_old_is_revoked(
    fake: IonosFake, http: httpx.Client
) -> None:
    provider = scoped_provider(fake, http)
    first = grant_for(P.READ)
    second = grant_for(P.READ, uid=first.request.uid, revision=2)
    old, new = provider.issue(first), provider.issue(second)
    assert can(fake, old, "bucket-a", "read") and can(fake, new, "bucket-a", "read")
    provider.revoke(KeyRef(first.key_name, first.request.uid, old.access_key_id))
    assert not can(fake, old, "bucket-a", "read") and can(fake, new, "bucket-a", "read")
    assert {o.key_name for o in provider.list_owned()} == {second.key_name}


def test_what_bucket_policies_cannot_express_is_refused_before_any_call(fake: IonosFake, http: httpx.Client) -> None:
    provider = scoped_provider(fake, http)
    before = len(fake.requests)
    with pytest.raises(ProviderRejected, match="object-lock"):
        provider.issue(grant_for(P.READ, P.PUT_OBJECT_LEGAL_HOLD))
    prefixed = Grant(**{**grant_for(P.READ).__dict__, "buckets": (BucketGrant("bucket-a", "logs/"),)})
    with pytest.raises(ProviderRejected, match="prefixes"):
        provider.issue(prefixed)
    assert len(fake.requests) == before
    # the lifecycle's own check says the same from the capabilities alone
    assert beyond_capabilities(provider.capabilities, prefixed) == [
        "object-key prefixes (it scopes keys to whole buckets only)"]
    assert provider.capabilities.permissions == bp.SCOPED_PERMISSIONS and not provider.capabilities.unscoped


def test_the_preview_shows_the_statements_issue_would_write(fake: IonosFake, http: httpx.Client) -> None:
    grant = grant_for(P.READ, P.LIST)
    preview = scoped_provider(fake, http).describe(grant)
    statements = preview.native["statements"]["bucket-a"]
    assert [s["Action"] for s in statements] == [["s3:ListBucket"], ["s3:GetObject"]]
    assert "list, read on bucket-a" in preview.summary and fake.requests == []


def test_the_admin_secret_needs_the_policy_writers_key(fake: IonosFake, http: httpx.Client) -> None:
    with pytest.raises(ProviderRejected, match="IONOS_S3_ACCESS_KEY, IONOS_S3_SECRET_KEY"):
        scoped_provider(fake, http, admin={"IONOS_TOKEN": fake.token})


def test_a_non_admin_policy_key_is_refused_and_the_new_key_deleted(fake: IonosFake, http: httpx.Client) -> None:
    someone = fake.cloud.add_user("someone@contract.test", "Some", "One")
    access, secret = fake.cloud._new_key(someone)
    provider = scoped_provider(fake, http, admin={"IONOS_TOKEN": fake.token, "IONOS_S3_ACCESS_KEY": access,
                                                  "IONOS_S3_SECRET_KEY": secret})  # fmt: skip
    with pytest.raises(ProviderRejected, match=r"AccessDenied.*administrator"):
        provider.issue(grant_for(P.READ))
    [user] = keyfob_users(fake)
    assert user.keys == {}, "the key that got no grant was deleted again"


def test_a_wrong_secret_fails_the_signature_check_at_the_fake(fake: IonosFake, http: httpx.Client) -> None:
    provider = scoped_provider(fake, http, admin={"IONOS_TOKEN": fake.token,
                                                  "IONOS_S3_ACCESS_KEY": fake.cloud.admin_access_key,
                                                  "IONOS_S3_SECRET_KEY": "not-the-secret"})  # fmt: skip
    with pytest.raises(ProviderRejected, match="SignatureDoesNotMatch"):
        provider.check()


# ---- revoke ---------------------------------------------------------------------------------------------------


def test_revoke_deletes_key_statements_and_user_and_keeps_other_statements(fake: IonosFake, http: httpx.Client) -> None:
    fake.policies.policies["bucket-a"] = {"Version": "2012-10-17", "Statement": [FOREIGN]}
    provider = scoped_provider(fake, http)
    other = provider.issue(grant_for(P.LIST, buckets=("bucket-a", "bucket-b")))  # another request's key
    grant = grant_for(P.READ, buckets=("bucket-a", "bucket-b"))
    key = provider.issue(grant)
    result = provider.revoke(KeyRef(grant.key_name, grant.request.uid, key.access_key_id))
    assert result is not None and result.message() == "revoked"
    assert not can(fake, key, "bucket-a", "read") and fake.cloud.user_of_key(key.access_key_id) is None
    assert email_gone(fake, grant)
    statements = fake.policies.policies["bucket-a"]["Statement"]
    assert statements[0] == FOREIGN and all(grant.key_name not in s.get("Sid", "") for s in statements)
    assert can(fake, other, "bucket-a", "list") and can(fake, other, "bucket-b", "list")
    assert provider.revoke(KeyRef(grant.key_name, grant.request.uid, key.access_key_id)) is None, "gone = success"


def email_gone(fake: IonosFake, grant: Grant) -> bool:
    email = user_email(CLUSTER, grant.key_name, EMAIL_DOMAIN)
    return all(u.email != email for u in fake.cloud.users.values())


def test_an_emptied_policy_is_deleted(fake: IonosFake, http: httpx.Client) -> None:
    provider, grant = scoped_provider(fake, http), grant_for(P.READ)
    key = provider.issue(grant)
    provider.revoke(KeyRef(grant.key_name, grant.request.uid, key.access_key_id))
    assert "bucket-a" not in fake.policies.policies and ("DELETE", "bucket-a") in fake.policies.writes


def test_revoke_cleans_statements_a_crashed_revoke_left_behind(fake: IonosFake, http: httpx.Client) -> None:
    provider, grant = scoped_provider(fake, http), grant_for(P.READ)
    provider.issue(grant)
    [user] = keyfob_users(fake)
    user.keys.clear()  # a revoke that deleted the key and crashed
    assert provider.revoke(KeyRef(grant.key_name, grant.request.uid, "AKIDFROMSTATUS")) is not None
    assert "bucket-a" not in fake.policies.policies and email_gone(fake, grant)


def test_forged_references_change_nothing(fake: IonosFake, http: httpx.Client) -> None:
    provider = scoped_provider(fake, http)
    victim_grant = grant_for(P.READ)
    victim = provider.issue(victim_grant)
    me = str(uuid.uuid4())
    mine = provider.issue(grant_for(P.READ, uid=me))
    forged_email = user_email(CLUSTER, key_name(me, 2), EMAIL_DOMAIN)
    fake.cloud.add_user(forged_email, "keyfob", "someone-else")  # keyfob's email, but not this cluster's record
    admin_email = user_email(CLUSTER, key_name(me, 3), EMAIL_DOMAIN)
    fake.cloud.add_user(admin_email, "keyfob", CLUSTER, administrator=True)
    snapshot = (len(fake.cloud.users), {u.id: dict(u.keys) for u in fake.cloud.users.values()},
                repr(fake.policies.policies))  # fmt: skip
    for ref in (
        KeyRef(victim_grant.key_name, me, victim.access_key_id),  # another request's key name
        KeyRef(key_name(me, 1), me, victim.access_key_id),  # my key name, another request's key id
        KeyRef(key_name(me, 1), me, fake.cloud.admin_access_key),  # my key name, the admin's key id
        KeyRef(key_name(me, 2), me, None),  # a user with keyfob's email whose record names no cluster of ours
        KeyRef(key_name(me, 3), me, None),  # an administrator with keyfob's email
    ):
        with pytest.raises(OwnershipUnproven):
            provider.revoke(ref)
    assert snapshot == (len(fake.cloud.users), {u.id: dict(u.keys) for u in fake.cloud.users.values()},
                        repr(fake.policies.policies))  # fmt: skip
    assert can(fake, victim, "bucket-a", "read") and can(fake, mine, "bucket-a", "read")
    with pytest.raises(OwnershipUnproven):  # nor is such a user adopted by issue
        provider.issue(grant_for(P.READ, uid=me, revision=2))


def test_list_owned_finds_this_clusters_users_only(fake: IonosFake, http: httpx.Client) -> None:
    ours, theirs = scoped_provider(fake, http), scoped_provider(fake, http, cluster="cluster-b")
    grant = grant_for(P.READ)
    key = ours.issue(grant)
    theirs.issue(grant_for(P.READ))
    assert [(o.key_name, o.access_key_ids, o.request_uid) for o in ours.list_owned()] == [
        (grant.key_name, (key.access_key_id,), grant.request.uid)]


# ---- contract variants the sources leave open -------------------------------------------------------------------


@pytest.mark.parametrize("answer", [404, 422])
def test_a_key_not_found_answered_404_or_422_counts_as_gone(http: httpx.Client, answer: int) -> None:
    with IonosFake(key_not_found=answer) as fake:
        provider, grant = scoped_provider(fake, http), grant_for(P.READ)
        key = provider.issue(grant)
        [user] = keyfob_users(fake)
        assert provider.scoped is not None
        provider.scoped.cloud.delete_key(user.id, "NOSUCHKEY0000000000X")  # no error: already gone
        assert provider.revoke(KeyRef(grant.key_name, grant.request.uid, key.access_key_id)) is not None
        assert email_gone(fake, grant)


def test_privilege_propagation_after_joining_the_group_is_waited_out(http: httpx.Client) -> None:
    with IonosFake(privilege_delay=3) as fake:
        key = scoped_provider(fake, http).issue(grant_for(P.READ))
        assert can(fake, key, "bucket-a", "read")


def test_a_group_without_the_object_storage_privilege_is_named(fake: IonosFake, http: httpx.Client) -> None:
    plain = fake.cloud.add_group(s3_privilege=False)
    with pytest.raises(ProviderUnavailable, match=f"group {plain.id}: does that group have the Object Storage"):
        scoped_provider(fake, http, groupId=plain.id).issue(grant_for(P.READ))
    assert all(not u.keys for u in keyfob_users(fake))


def test_user_owned_buckets_grant_the_canonical_user_and_warn(http: httpx.Client) -> None:
    with IonosFake(ownership="userOwned") as fake:
        key = scoped_provider(fake, http, bucketOwnership="userOwned").issue(grant_for(P.READ))
        assert key.warnings == (USER_OWNED_WARNING,) and can(fake, key, "bucket-a", "read")
        [statement] = fake.policies.policies["bucket-a"]["Statement"]
        assert statement["Principal"] == {"CanonicalUser": keyfob_users(fake)[0].canonical_id}


def test_a_contract_principal_on_a_user_owned_endpoint_is_refused_by_ionos(http: httpx.Client) -> None:
    with IonosFake(ownership="userOwned") as fake:
        with pytest.raises(ProviderRejected, match="MalformedPolicy"):
            scoped_provider(fake, http).issue(grant_for(P.READ))
        assert all(not u.keys for u in keyfob_users(fake)), "the key without a grant was deleted"


def test_a_request_that_never_finishes_is_a_temporary_error(http: httpx.Client) -> None:
    with IonosFake(request_polls=10_000) as fake, pytest.raises(ProviderUnavailable, match="was not DONE within 30s"):
        scoped_provider(fake, http).issue(grant_for(P.READ))


def test_a_token_that_may_not_manage_users_is_refused(http: httpx.Client) -> None:
    with IonosFake(token_is_admin=False) as fake, pytest.raises(ProviderRejected, match="credentials rejected"):
        scoped_provider(fake, http).check()


def test_a_location_elsewhere_never_gets_the_token(fake: IonosFake, http: httpx.Client) -> None:
    fake.cloud.base = "https://attacker.invalid"  # the fake now names another host in Location
    key = scoped_provider(fake, http).issue(grant_for(P.READ))  # the request id is followed on the API's own URL
    assert can(fake, key, "bucket-a", "read")


def test_concurrent_grants_on_one_bucket_keep_every_statement(fake: IonosFake, http: httpx.Client) -> None:
    """Bucket policies have no conditional write: keyfob serialises its read-merge-writes per bucket."""
    from concurrent.futures import ThreadPoolExecutor

    provider = scoped_provider(fake, http)
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: provider.issue(grant_for(P.READ)), range(8)))
    assert all(can(fake, key, "bucket-a", "read") for key in keys)
    assert len(fake.policies.policies["bucket-a"]["Statement"]) == 8
