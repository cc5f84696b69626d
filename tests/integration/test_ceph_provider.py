"""The Ceph RGW adapter against a real radosgw (Debian's ceph 16.2, one mon + memstore OSD + radosgw on loopback,
keyfob_testbed.ceph_peer). Each test checks the credential itself with an S3 client: what it may do works, what
it was not given is denied by the gateway, and after revocation the gateway refuses the key."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyfob.api.blocks.ceph import CephProviderBlock
from keyfob.api.vocabulary import Permission
from keyfob.contract import BucketGrant, Grant, KeyRef, OwnershipUnproven, ProviderRejected, RequestIdentity
from keyfob.contract.naming import key_name
from keyfob.providers.ceph.adapter import CephRgwProvider
from keyfob.providers.ceph.naming import user_id
from keyfob_testbed.ceph_peer import CephPeer
from keyfob_testbed.objects import Objects
from keyfob_testbed.operator_fixtures import LeakWatch, delete_requests_and_wait
from keyfob_testbed.s3_checks import code_of
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration
CLUSTER = "ceph-test"
P = Permission


def _bucket(peer: CephPeer, lock: bool = False) -> str:
    name = f"kf-{secrets.token_hex(4)}"
    peer.owner_client().create_bucket(Bucket=name, **({"ObjectLockEnabledForBucket": True} if lock else {}))
    for key in ("team/seed.txt", "other/seed.txt"):
        peer.owner_client().put_object(Bucket=name, Key=key, Body=b"seed")
    return name


def _provider(peer: CephPeer, cluster: str = CLUSTER, **block: Any) -> CephRgwProvider:
    spec = CephProviderBlock.model_validate({"endpoint": peer.endpoint, "credentialsSecretRef": {"name": "x"}, **block})
    return CephRgwProvider(spec, peer.admin_secret_data(), cluster)


def _grant(buckets: list[BucketGrant], permissions: set[Permission], uid: str | None = None, revision: int = 1,
           expires_at: datetime | None = None) -> Grant:  # fmt: skip
    uid = uid or str(uuid.uuid4())
    expiry = expires_at or datetime.now(UTC) + timedelta(hours=1)
    return Grant(key_name(uid, revision), RequestIdentity("team-a", "app", uid), revision, tuple(buckets),
                 frozenset(permissions), expiry)  # fmt: skip


@pytest.fixture
def peer(ceph_peer: CephPeer) -> CephPeer:
    return ceph_peer


def test_key_is_held_to_bucket_prefix_and_permissions(peer: CephPeer) -> None:
    allowed, other = _bucket(peer), _bucket(peer)
    provider = _provider(peer, allowObjectAclsOnWrite=True)
    key = provider.issue(_grant([BucketGrant(allowed, "team/")], {P.READ, P.WRITE, P.LIST}))
    assert key.warnings and not key.expiry_native
    s3 = peer.client(key.access_key_id, key.secret_access_key.get_secret_value())
    ok: dict[str, Callable[[], Any]] = {
        "write allowed prefix": lambda: s3.put_object(Bucket=allowed, Key="team/new.txt", Body=b"x"),
        "read allowed prefix": lambda: s3.get_object(Bucket=allowed, Key="team/seed.txt"),
        "read what it wrote": lambda: s3.get_object(Bucket=allowed, Key="team/new.txt"),
        "list allowed prefix": lambda: s3.list_objects_v2(Bucket=allowed, Prefix="team/"),
    }
    denied: dict[str, Callable[[], Any]] = {
        "read other prefix": lambda: s3.get_object(Bucket=allowed, Key="other/seed.txt"),
        "write other prefix": lambda: s3.put_object(Bucket=allowed, Key="other/new.txt", Body=b"x"),
        "list other prefix": lambda: s3.list_objects_v2(Bucket=allowed, Prefix="other/"),
        "list whole bucket": lambda: s3.list_objects_v2(Bucket=allowed),
        "read other bucket": lambda: s3.get_object(Bucket=other, Key="team/seed.txt"),
        "write other bucket": lambda: s3.put_object(Bucket=other, Key="team/new.txt", Body=b"x"),
        "delete (not asked)": lambda: s3.delete_object(Bucket=allowed, Key="team/new.txt"),
        "re-ACL its own object": lambda: s3.put_object_acl(Bucket=allowed, Key="team/new.txt", ACL="public-read"),
        "upload with public canned ACL": lambda: s3.put_object(Bucket=allowed, Key="team/p.txt", Body=b"x",
                                                               ACL="public-read"),
        "create a bucket of its own": lambda: s3.create_bucket(Bucket=f"kf-own-{secrets.token_hex(3)}"),
    }  # fmt: skip
    assert {what: code_of(call) for what, call in ok.items()} == dict.fromkeys(ok, "OK")
    assert {what: code_of(call) for what, call in denied.items()} == dict.fromkeys(denied, "AccessDenied")


def test_write_only_key_cannot_read_back_what_it_wrote(peer: CephPeer) -> None:
    """RGW's ACL fallback gives an uploader its own objects; keyfob's Deny statements take that back."""
    bucket = _bucket(peer)
    key = _provider(peer, allowObjectAclsOnWrite=True).issue(_grant([BucketGrant(bucket)], {P.WRITE}))
    s3 = peer.client(key.access_key_id, key.secret_access_key.get_secret_value())
    assert code_of(lambda: s3.put_object(Bucket=bucket, Key="w.txt", Body=b"x")) == "OK"
    own: list[Callable[[], Any]] = [
        lambda: s3.get_object(Bucket=bucket, Key="w.txt"),
        lambda: s3.get_object_acl(Bucket=bucket, Key="w.txt"),
        lambda: s3.put_object_tagging(Bucket=bucket, Key="w.txt", Tagging={"TagSet": []}),
    ]
    assert [code_of(call) for call in own] == ["AccessDenied"] * 3


def test_write_is_refused_without_the_opt_in_and_the_reason_is_real(peer: CephPeer) -> None:
    bucket = _bucket(peer)
    strict = _provider(peer)
    grant = _grant([BucketGrant(bucket, "team/")], {P.READ, P.WRITE})
    assert any("write" in p for p in strict.unsupported(grant))
    with pytest.raises(ProviderRejected, match="allowObjectAclsOnWrite"):
        strict.issue(grant)
    assert strict.unsupported(_grant([BucketGrant(bucket)], {P.READ, P.LIST})) == []
    # Why: with write, an upload carrying an ACL grant header is published, and no user policy stops it.
    key = _provider(peer, allowObjectAclsOnWrite=True).issue(grant)
    s3 = peer.client(key.access_key_id, key.secret_access_key.get_secret_value())
    everyone = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'
    assert code_of(lambda: s3.put_object(Bucket=bucket, Key="team/pub.txt", Body=b"x", GrantRead=everyone)) == "OK"
    anonymous = peer.anonymous_get(f"/{bucket}/team/pub.txt")
    assert anonymous == 200, "if RGW stops publishing uploads, the opt-in can go (docs/providers/ceph.md)"


def test_bypass_governance_is_refused_and_object_lock_actions_are_held(peer: CephPeer) -> None:
    bucket = _bucket(peer, lock=True)
    provider = _provider(peer)
    assert any("bypassGovernanceRetention" in p for p in provider.unsupported(
        _grant([BucketGrant(bucket)], {P.DELETE, P.BYPASS_GOVERNANCE_RETENTION})))  # fmt: skip
    owner = peer.owner_client()
    owner.put_object_retention(Bucket=bucket, Key="team/seed.txt",
                               Retention={"Mode": "GOVERNANCE", "RetainUntilDate": "2099-01-01T00:00:00Z"})  # fmt: skip
    plain = provider.issue(_grant([BucketGrant(bucket)], {P.READ}))
    lock = provider.issue(_grant([BucketGrant(bucket)], {P.READ, P.GET_OBJECT_RETENTION, P.PUT_OBJECT_LEGAL_HOLD,
                                                         P.GET_OBJECT_LOCK_CONFIGURATION}))  # fmt: skip
    for key, expect in ((plain, "AccessDenied"), (lock, "OK")):
        s3 = peer.client(key.access_key_id, key.secret_access_key.get_secret_value())
        assert code_of(lambda s3=s3: s3.get_object_retention(Bucket=bucket, Key="team/seed.txt")) == expect
        assert code_of(lambda s3=s3: s3.put_object_legal_hold(Bucket=bucket, Key="team/seed.txt",
                                                              LegalHold={"Status": "OFF"})) == expect  # fmt: skip
        assert code_of(lambda s3=s3: s3.get_object_lock_configuration(Bucket=bucket)) == expect
    s3 = peer.client(lock.access_key_id, lock.secret_access_key.get_secret_value())
    assert code_of(lambda: s3.put_object_retention(Bucket=bucket, Key="team/seed.txt", Retention={
        "Mode": "GOVERNANCE", "RetainUntilDate": "2099-06-01T00:00:00Z"})) == "AccessDenied"  # fmt: skip


def test_policy_expiry_is_enforced_by_the_gateway(peer: CephPeer) -> None:
    bucket = _bucket(peer)
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    key = _provider(peer).issue(_grant([BucketGrant(bucket)], {P.READ, P.LIST}, expires_at=soon))
    s3 = peer.client(key.access_key_id, key.secret_access_key.get_secret_value())
    assert code_of(lambda: s3.list_objects_v2(Bucket=bucket)) == "OK"
    wait_for(lambda: code_of(lambda: s3.list_objects_v2(Bucket=bucket)) == "AccessDenied", 30, 0.5,
             "RGW to refuse the key after the policy's aws:CurrentTime bound")  # fmt: skip


def test_rotation_then_revoke_with_the_gateways_own_error(peer: CephPeer) -> None:
    bucket = _bucket(peer)
    provider = _provider(peer)
    uid = str(uuid.uuid4())
    first = provider.issue(_grant([BucketGrant(bucket)], {P.READ, P.LIST}, uid=uid, revision=1))
    second = provider.issue(_grant([BucketGrant(bucket)], {P.READ, P.LIST}, uid=uid, revision=2))
    clients = {k.access_key_id: peer.client(k.access_key_id, k.secret_access_key.get_secret_value())
               for k in (first, second)}  # fmt: skip

    def works(k: Any) -> str:
        return code_of(lambda: clients[k.access_key_id].list_objects_v2(Bucket=bucket))

    assert (works(first), works(second)) == ("OK", "OK"), "the old key works through the grace period"
    provider.revoke(KeyRef(first.key_name, uid, access_key_id=second.access_key_id))  # the id is never used
    assert (works(first), works(second)) == ("InvalidAccessKeyId", "OK")
    provider.revoke(KeyRef(second.key_name, uid))
    assert works(second) == "InvalidAccessKeyId"
    provider.revoke(KeyRef(second.key_name, uid))  # already gone = success


def test_reissue_adopts_a_crashed_attempt_and_only_the_new_key_works(peer: CephPeer) -> None:
    bucket = _bucket(peer)
    provider = _provider(peer)
    grant = _grant([BucketGrant(bucket)], {P.READ, P.LIST})
    lost = provider.issue(grant)  # its secret "never reached a Secret"
    again = provider.issue(grant)
    assert again.access_key_id != lost.access_key_id
    s3_lost = peer.client(lost.access_key_id, lost.secret_access_key.get_secret_value())
    s3_new = peer.client(again.access_key_id, again.secret_access_key.get_secret_value())
    assert code_of(lambda: s3_lost.list_objects_v2(Bucket=bucket)) == "InvalidAccessKeyId"
    assert code_of(lambda: s3_new.list_objects_v2(Bucket=bucket)) == "OK"


def test_a_lookalike_user_is_never_adopted_or_removed(peer: CephPeer) -> None:
    uid = str(uuid.uuid4())
    name = key_name(uid, 1)
    ops = peer.admin_ops()
    ops.create_user(uid=user_id(CLUSTER, name), display_name="someone-else", generate_key=True)
    before = ops.get_user(uid=user_id(CLUSTER, name))["keys"]
    provider = _provider(peer)
    with pytest.raises(OwnershipUnproven):
        provider.issue(_grant([BucketGrant(_bucket(peer))], {P.READ}, uid=uid))
    with pytest.raises(OwnershipUnproven):
        provider.revoke(KeyRef(name, uid))
    with pytest.raises(OwnershipUnproven):  # the name must name the request
        provider.revoke(KeyRef(name, str(uuid.uuid4())))
    assert ops.get_user(uid=user_id(CLUSTER, name))["keys"] == before
    assert name not in {k.key_name for k in provider.list_owned()}


def test_orphan_sweep_finds_keyfobs_users_and_leaves_foreign_ones(peer: CephPeer) -> None:
    bucket = _bucket(peer)
    cluster = f"sweep-{secrets.token_hex(3)}"
    provider = _provider(peer, cluster=cluster)
    orphan = provider.issue(_grant([BucketGrant(bucket)], {P.READ, P.LIST}))
    foreign_cluster = _provider(peer, cluster=cluster + "-b").issue(_grant([BucketGrant(bucket)], {P.READ}))
    ops = peer.admin_ops()
    ops.create_user(uid=f"app-{secrets.token_hex(3)}", display_name="a plain user", generate_key=True)
    owned = provider.list_owned()
    assert [(o.key_name, o.access_key_ids) for o in owned] == [(orphan.key_name, (orphan.access_key_id,))]
    for found in owned:  # what the lifecycle's sweep does with each
        assert found.request_uid is not None
        provider.revoke(KeyRef(found.key_name, found.request_uid))
    assert provider.list_owned() == []
    s3 = peer.client(foreign_cluster.access_key_id, foreign_cluster.secret_access_key.get_secret_value())
    assert code_of(lambda: s3.list_objects_v2(Bucket=bucket)) == "AccessDenied"  # alive (read only, no list)
    assert code_of(lambda: s3.get_object(Bucket=bucket, Key="team/seed.txt")) == "OK"


def test_operator_rotation_keeps_the_old_key_through_the_grace_period(
    ceph_peer: CephPeer, namespace: str, kube_api: Any, keyfob_operator: Any, leak_watch: LeakWatch
) -> None:
    """Through the operator: after a rotation with rotationGracePeriod the previous key works until the grace
    period ends, then RGW refuses it; after delete the current key fails with RGW's InvalidAccessKeyId."""
    bucket = _bucket(ceph_peer)
    objects = Objects(kube_api, namespace)
    objects.admin_secret("rgw-admin", ceph_peer.admin_secret_data())
    objects.provider("ceph", {"ceph": {"endpoint": ceph_peer.endpoint, "credentialsSecretRef": {"name": "rgw-admin"}}})
    try:
        objects.request("app", {"providerRef": {"name": "ceph"}, "buckets": [{"name": bucket, "prefix": "team/"}],
                                "permissions": ["read", "list"], "ttl": "1h", "rotationGracePeriod": "20s",
                                "secretName": "app-s3"})  # fmt: skip
        first = objects.wait_request("app", reason="Issued")
        old = objects.secret_data("app-s3")
        leak_watch.add_secret_data(old)

        def lists(data: dict[str, str]) -> str:
            s3 = ceph_peer.client(data["AWS_ACCESS_KEY_ID"], data["AWS_SECRET_ACCESS_KEY"])
            return code_of(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="team/"))

        assert lists(old) == "OK" and old["AWS_ENDPOINT_URL"] == ceph_peer.endpoint
        objects.patch_request("app", {"metadata": {"annotations": {"keyfob.dev/rotate": "1"}}})
        new = wait_for(lambda: (d := objects.secret_data("app-s3"))["AWS_ACCESS_KEY_ID"] != old["AWS_ACCESS_KEY_ID"]
                       and d, 60, 0.2, "the rotated key in the Secret")  # fmt: skip
        leak_watch.add_secret_data(new)
        rotated_at = datetime.now(UTC)
        assert (lists(new), lists(old)) == ("OK", "OK"), "both keys work during the grace period"
        wait_for(lambda: lists(old) == "InvalidAccessKeyId", 90, 0.5, "the previous key revoked after the grace")
        assert datetime.now(UTC) - rotated_at >= timedelta(seconds=15), "not revoked before the grace period"
        assert lists(new) == "OK"
        assert first["status"]["accessKeyId"] == old["AWS_ACCESS_KEY_ID"]
        objects.delete_request("app")
        objects.wait_gone("app")
        assert lists(new) == "InvalidAccessKeyId"
    finally:
        delete_requests_and_wait(objects)
