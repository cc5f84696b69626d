"""The MinIO adapter against a real MinIO server built from source (fixture `minio_peer`).

Every claim is checked with the issued credential itself or with MinIO's own admin API. No fixed sleeps:
conditions are polled with a deadline (MinIO applies IAM changes at once on a single node, so polls end fast).

Expiry: MinIO refuses expirations under 15 minutes or in the past (both checked below), so the only honest
proof that MinIO refuses an expired key takes >15 minutes; it runs when KEYFOB_MINIO_EXPIRY_WAIT=1.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from keyfob.api.blocks.minio import MinioProviderBlock
from keyfob.api.vocabulary import Permission
from keyfob.contract import (
    BucketGrant,
    Grant,
    IssuedKey,
    ProviderRejected,
    ProviderUnavailable,
    RequestIdentity,
)
from keyfob.contract.naming import key_name
from keyfob.providers.minio.adapter import MinioServiceAccountProvider
from keyfob.providers.minio.admin import AccountSpec, ServiceAccountGone
from keyfob.providers.minio.naming import MIN_LIFETIME, rfc3339
from keyfob_testbed.minio_peer import MinioPeer
from keyfob_testbed.refs import own_ref
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration

DENIED = {"AccessDenied"}
UNKNOWN_KEY = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"}


def error_code(call: Callable[[], Any]) -> str | None:
    """None when the S3 call succeeds, else its error code."""
    try:
        call()
    except ClientError as err:
        return str(err.response.get("Error", {}).get("Code"))
    return None


@dataclass
class Bed:
    peer: MinioPeer
    provider: MinioServiceAccountProvider
    cluster_id: str
    allowed: str
    other: str

    def grant(
        self,
        permissions: set[Permission],
        *,
        uid: str | None = None,
        revision: int = 1,
        lifetime: timedelta = timedelta(hours=2),
        prefix: str | None = None,
    ) -> Grant:
        uid = uid or new_uid()
        return Grant(
            key_name=key_name(uid, revision),
            request=RequestIdentity(namespace="team-a", name="reports", uid=uid),
            revision=revision,
            buckets=(BucketGrant(self.allowed, prefix),),
            permissions=frozenset(permissions),
            expires_at=datetime.now(UTC) + lifetime,
        )

    def s3(self, key: IssuedKey) -> Any:
        return self.peer.client(key.access_key_id, key.secret_access_key.get_secret_value())


def new_uid() -> str:
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def make_provider(peer: MinioPeer, cluster_id: str, **block: Any) -> MinioServiceAccountProvider:
    model = MinioProviderBlock.model_validate(
        {"endpoint": peer.endpoint, "credentialsSecretRef": {"name": "minio-admin"}, **block}
    )
    admin = {"MINIO_ACCESS_KEY": peer.root_user, "MINIO_SECRET_KEY": peer.root_password}
    return MinioServiceAccountProvider(model, admin, cluster_id)


@pytest.fixture
def bed(minio_peer: MinioPeer) -> Iterator[Bed]:
    tag = secrets.token_hex(4)
    root = minio_peer.root_client()
    allowed, other = f"allowed-{tag}", f"other-{tag}"
    for bucket in (allowed, other):
        root.create_bucket(Bucket=bucket)
    root.put_object(Bucket=other, Key="seed.txt", Body=b"not yours")
    root.put_object(Bucket=allowed, Key="seed.txt", Body=b"yours")
    cluster_id = f"it-{tag}"
    provider = make_provider(minio_peer, cluster_id)
    yield Bed(minio_peer, provider, cluster_id, allowed, other)
    for owned in provider.list_owned():
        provider.revoke(own_ref(owned.key_name, owned.access_key_ids[0]))


def test_issued_key_works_on_its_bucket_only_and_only_for_what_was_asked(bed: Bed) -> None:
    key = bed.provider.issue(bed.grant({Permission.READ, Permission.LIST, Permission.WRITE}))
    s3 = bed.s3(key)

    wait_for(
        lambda: error_code(lambda: s3.put_object(Bucket=bed.allowed, Key="a.txt", Body=b"hi")) is None,
        10,
        what="the new key can write",
    )
    assert s3.get_object(Bucket=bed.allowed, Key="a.txt")["Body"].read() == b"hi"
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=bed.allowed).get("Contents", [])}
    assert listed == {"a.txt", "seed.txt"}

    assert error_code(lambda: s3.get_object(Bucket=bed.other, Key="seed.txt")) in DENIED
    assert error_code(lambda: s3.list_objects_v2(Bucket=bed.other)) in DENIED
    assert error_code(lambda: s3.put_object(Bucket=bed.other, Key="x", Body=b"x")) in DENIED
    assert error_code(lambda: s3.delete_object(Bucket=bed.allowed, Key="a.txt")) in DENIED  # delete not asked
    assert error_code(lambda: s3.create_bucket(Bucket=f"new-{bed.cluster_id}")) in DENIED
    assert "a.txt" in {o["Key"] for o in bed.peer.root_client().list_objects_v2(Bucket=bed.allowed)["Contents"]}


def test_prefix_scope_is_enforced(bed: Bed) -> None:
    key = bed.provider.issue(bed.grant({Permission.READ, Permission.WRITE, Permission.LIST}, prefix="logs/"))
    s3 = bed.s3(key)
    wait_for(
        lambda: error_code(lambda: s3.put_object(Bucket=bed.allowed, Key="logs/1", Body=b"1")) is None,
        10,
        what="the new key can write under its prefix",
    )
    assert error_code(lambda: s3.put_object(Bucket=bed.allowed, Key="other/1", Body=b"1")) in DENIED
    assert error_code(lambda: s3.get_object(Bucket=bed.allowed, Key="seed.txt")) in DENIED
    assert error_code(lambda: s3.list_objects_v2(Bucket=bed.allowed, Prefix="logs/")) is None
    assert error_code(lambda: s3.list_objects_v2(Bucket=bed.allowed)) in DENIED


def test_every_permission_is_expressible_including_object_lock(bed: Bed) -> None:
    grant = bed.grant(set(Permission), prefix="locked/")
    assert bed.provider.unsupported(grant) == []
    key = bed.provider.issue(grant)  # MinIO validates every action and condition key; it accepts them all
    policy = bed.provider.admin.info(key.access_key_id).policy
    assert policy is not None
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert {
        "s3:PutObjectRetention",
        "s3:GetObjectRetention",
        "s3:BypassGovernanceRetention",
        "s3:PutObjectLegalHold",
        "s3:GetObjectLegalHold",
        "s3:PutBucketObjectLockConfiguration",
        "s3:GetBucketObjectLockConfiguration",
    } <= actions


def test_minio_itself_reports_the_expiration_name_and_description(bed: Bed) -> None:
    grant = bed.grant({Permission.READ}, lifetime=timedelta(hours=3, microseconds=500))
    key = bed.provider.issue(grant)
    assert grant.expires_at is not None and key.expires_at is not None and key.expiry_native
    assert key.expires_at == grant.expires_at.replace(microsecond=0)

    info = bed.provider.admin.info(key.access_key_id)
    assert info.expiration == key.expires_at
    assert info.parent_user == bed.peer.root_user
    assert info.status == "on"
    assert info.name is not None and info.name.startswith("kf-") and info.name.endswith("-r1")
    assert info.description == f"keyfob/v1 cluster={bed.cluster_id} key={grant.key_name} request=team-a/reports"
    assert info.policy is not None and "aws:CurrentTime" not in json.dumps(info.policy)  # expiry is native


def test_minio_refuses_expirations_under_its_window_and_in_the_past(bed: Bed) -> None:
    # The adapter refuses first, and creates nothing.
    short = bed.grant({Permission.READ}, lifetime=timedelta(minutes=10))
    with pytest.raises(ProviderRejected, match="between 15m and 365d"):
        bed.provider.issue(short)
    assert bed.provider.list_owned() == []

    # MinIO itself enforces the same window (sent past the adapter's check): a permanent refusal, not a retry.
    spec = AccountSpec(
        secret_key=secrets.token_hex(16),
        name="kf-probe",
        description="probe",
        policy={
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{bed.allowed}/*"]}
            ],
        },
        expiration=rfc3339(datetime.now(UTC) + MIN_LIFETIME - timedelta(minutes=1)),
    )
    with pytest.raises(ProviderRejected, match="invalid service account expiration"):
        bed.provider.admin.add("KFPROBE" + secrets.token_hex(4).upper(), spec, None)

    # And no expiration can be moved into the past to fake an expired key.
    key = bed.provider.issue(bed.grant({Permission.READ}))
    past = dataclasses.replace(spec, expiration=rfc3339(datetime.now(UTC) - timedelta(minutes=1)))
    with pytest.raises(ProviderRejected):
        bed.provider.admin.update(key.access_key_id, past)
    assert bed.provider.admin.info(key.access_key_id).expiration == key.expires_at


@pytest.mark.timeout(30 * 60)
@pytest.mark.skipif(
    os.environ.get("KEYFOB_MINIO_EXPIRY_WAIT") != "1", reason="takes >15 min: KEYFOB_MINIO_EXPIRY_WAIT=1"
)
def test_minio_refuses_the_key_once_it_expired(bed: Bed) -> None:
    grant = bed.grant({Permission.READ}, lifetime=MIN_LIFETIME + timedelta(seconds=65))  # the shortest accepted
    key = bed.provider.issue(grant)
    s3 = bed.s3(key)
    wait_for(
        lambda: error_code(lambda: s3.get_object(Bucket=bed.allowed, Key="seed.txt")) is None,
        10,
        what="the key works before its expiry",
    )
    assert key.expires_at is not None
    remaining = (key.expires_at - datetime.now(UTC)).total_seconds()
    code = wait_for(
        lambda: error_code(lambda: s3.get_object(Bucket=bed.allowed, Key="seed.txt")),
        timeout=remaining + 120,
        interval=5,
        what="MinIO refuses the expired key",
    )
    assert datetime.now(UTC) >= key.expires_at
    assert code in UNKNOWN_KEY | DENIED


def test_revoke_stops_the_key_and_is_idempotent(bed: Bed) -> None:
    grant = bed.grant({Permission.READ})
    key = bed.provider.issue(grant)
    s3 = bed.s3(key)
    wait_for(
        lambda: error_code(lambda: s3.get_object(Bucket=bed.allowed, Key="seed.txt")) is None, 10, what="the key works"
    )

    bed.provider.revoke(own_ref(grant.key_name, key.access_key_id))
    code = wait_for(
        lambda: error_code(lambda: s3.get_object(Bucket=bed.allowed, Key="seed.txt")), 10, what="the revoked key fails"
    )
    assert code in UNKNOWN_KEY
    with pytest.raises(ServiceAccountGone):
        bed.provider.admin.info(key.access_key_id)

    bed.provider.revoke(own_ref(grant.key_name, key.access_key_id))  # already gone: success
    bed.provider.revoke(own_ref(grant.key_name))  # by name only (derived access key): success too


def test_issuing_twice_leaves_one_account_and_only_the_newest_secret_works(bed: Bed) -> None:
    grant = bed.grant({Permission.READ})
    first = bed.provider.issue(grant)  # as if the operator crashed before storing it
    second = bed.provider.issue(grant)
    assert first.access_key_id == second.access_key_id
    assert first.secret_access_key.get_secret_value() != second.secret_access_key.get_secret_value()

    accounts = [a for a in bed.provider.admin.list(None) if a.access_key == first.access_key_id]
    assert len(accounts) == 1

    new, old = bed.s3(second), bed.s3(first)
    wait_for(
        lambda: error_code(lambda: new.get_object(Bucket=bed.allowed, Key="seed.txt")) is None,
        10,
        what="the newest secret works",
    )
    assert error_code(lambda: old.get_object(Bucket=bed.allowed, Key="seed.txt")) in UNKNOWN_KEY

    # A re-issue with a wider grant under the same name replaces the policy too (no stale rights linger).
    wider = bed.provider.issue(bed.grant({Permission.READ, Permission.WRITE}, uid=grant.request.uid))
    s3 = bed.s3(wider)
    wait_for(
        lambda: error_code(lambda: s3.put_object(Bucket=bed.allowed, Key="w", Body=b"w")) is None,
        10,
        what="the replaced policy applies",
    )


def test_an_access_key_taken_by_someone_else_is_never_adopted(bed: Bed) -> None:
    grant = bed.grant({Permission.READ})
    taken = bed.provider.access_key_for(grant.key_name)
    foreign_secret = secrets.token_hex(16)
    bed.peer.admin().add_service_account(access_key=taken, secret_key=foreign_secret, description="hand-made")
    try:
        with pytest.raises(ProviderRejected, match="not created by keyfob") as caught:
            bed.provider.issue(grant)
        assert foreign_secret not in str(caught.value)
        foreign = bed.peer.client(taken, foreign_secret)
        assert error_code(lambda: foreign.get_object(Bucket=bed.allowed, Key="seed.txt")) is None  # untouched
    finally:
        bed.peer.admin().delete_service_account(taken)


def test_list_owned_finds_ours_and_ignores_foreign_accounts(bed: Bed) -> None:
    mine = [bed.provider.issue(bed.grant({Permission.READ})) for _ in range(2)]
    admin = bed.peer.admin()
    foreign = {
        "KFHAND" + secrets.token_hex(4).upper(): "made by hand",
        "KFOTHER" + secrets.token_hex(4).upper(): f"keyfob/v1 cluster=other-cluster key={key_name(new_uid(), 1)} "
        "request=team-b/x",
        # our cluster id and a well-formed key name, but not the access key derived from it: a copied description
        "KFCOPY" + secrets.token_hex(4).upper(): f"keyfob/v1 cluster={bed.cluster_id} key={key_name(new_uid(), 1)} "
        "request=team-a/x",
    }
    for access_key, description in foreign.items():
        admin.add_service_account(access_key=access_key, secret_key=secrets.token_hex(16), description=description)
    try:
        owned = bed.provider.list_owned()
        assert {o.access_key_ids for o in owned} == {(k.access_key_id,) for k in mine}
        assert {o.key_name for o in owned} == {k.key_name for k in mine}
        assert all(o.request_uid and o.key_name == key_name(o.request_uid, 1) for o in owned)
        # another cluster's provider on the same server sees none of them
        assert make_provider(bed.peer, "another-cluster").list_owned() == []
    finally:
        for access_key in foreign:
            admin.delete_service_account(access_key)


def test_parent_user_caps_the_key_and_owns_it(bed: Bed) -> None:
    parent, parent_secret = "kfparent" + secrets.token_hex(4), secrets.token_hex(16)
    admin = bed.peer.admin()
    admin.user_add(parent, parent_secret)
    read_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": [f"arn:aws:s3:::{bed.allowed}", f"arn:aws:s3:::{bed.allowed}/*"],
            }
        ],
    }
    admin.policy_add(f"ro-{parent}", policy=read_only)
    admin.policy_set(f"ro-{parent}", user=parent)
    provider = make_provider(bed.peer, bed.cluster_id, parentUser=parent)

    key = provider.issue(bed.grant({Permission.READ, Permission.WRITE}))  # write is more than the parent has
    assert provider.admin.info(key.access_key_id).parent_user == parent
    s3 = bed.s3(key)
    wait_for(
        lambda: error_code(lambda: s3.get_object(Bucket=bed.allowed, Key="seed.txt")) is None,
        10,
        what="the parent's read right reaches the key",
    )
    assert error_code(lambda: s3.put_object(Bucket=bed.allowed, Key="w", Body=b"w")) in DENIED  # inline ∩ parent

    assert [o.access_key_ids for o in provider.list_owned()] == [(key.access_key_id,)]
    assert bed.provider.list_owned() == []  # the root identity's own accounts do not include the parent's
    provider.revoke(own_ref(key.key_name, key.access_key_id))
    assert provider.list_owned() == []


def test_check_proves_the_admin_credentials(bed: Bed) -> None:
    bed.provider.check()
    wrong = MinioServiceAccountProvider(
        bed.provider.block,
        {"MINIO_ACCESS_KEY": bed.peer.root_user, "MINIO_SECRET_KEY": "not-the-password"},
        bed.cluster_id,
    )
    with pytest.raises(ProviderRejected) as caught:
        wrong.check()
    assert "not-the-password" not in str(caught.value)
    assert not isinstance(caught.value, ProviderUnavailable)


def test_an_unreachable_server_is_a_temporary_failure(minio_peer: MinioPeer) -> None:
    from keyfob_testbed.ports import free_port

    down = MinioServiceAccountProvider(
        MinioProviderBlock.model_validate(
            {"endpoint": f"http://127.0.0.1:{free_port()}", "credentialsSecretRef": {"name": "a"}}
        ),
        {"MINIO_ACCESS_KEY": minio_peer.root_user, "MINIO_SECRET_KEY": minio_peer.root_password},
        "it-down",
    )
    with pytest.raises(ProviderUnavailable, match="list-service-accounts"):
        down.check()
