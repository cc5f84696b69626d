"""credentialType sts on the real API server + operator, against MinIO's real STS and moto's.

MinIO (built from source) evaluates the session policy (cmd/iam.go IsAllowedSTS): a session keyfob made for one
bucket works there and is AccessDenied on another bucket although its parent (the root user) may do anything.
MinIO's shortest session is 15 minutes (900 s, GetDefaultExpiration), so the refresh that renewalTime schedules
(at 2/3, ~10 minutes in) is unit-tested at the plan level (tests/unit/test_sts_timing.py); here a refresh is
asked for with keyfob.dev/rotate and the waiting one runs only with KEYFOB_STS_REFRESH_WAIT=1 (~11 minutes).

moto (5.2.5) does NOT evaluate session policies, nor any session's expiry: for an assumed-role key it evaluates
the ROLE's policies and checks the session token (moto/iam/access_control.py AssumedRoleAccessKey), and it checks
the role's trust policy on AssumeRole. So against moto these tests prove: the role comes from the provider, the
session policy keyfob sent is exactly the adapter's rendering of the request (read from moto's request
recording, not from moto's evaluation), the Secret's token is what makes the key work, the role's own policy
bounds the session, an untrusted role is refused, and no IAM user is ever created for a session.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from keyfob.contract import BucketGrant, Grant, RequestIdentity
from keyfob.providers.aws.scope import policy_for
from keyfob_testbed.minio_peer import MinioPeer
from keyfob_testbed.moto_peer import MotoPeer
from keyfob_testbed.objects import Objects
from keyfob_testbed.operator_fixtures import LeakWatch, delete_requests_and_wait
from keyfob_testbed.s3_checks import code_of, s3_from
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration

ALL_FORMATS = ["env", "awsFiles", "rclone", "s3cmd"]
UNKNOWN = {"InvalidAccessKeyId", "InvalidToken", "InvalidTokenId", "ExpiredToken", "SignatureDoesNotMatch",
           "InvalidClientTokenId"}


def status_of(objects: Objects, name: str) -> dict[str, Any]:
    obj = objects.get_request(name)
    assert obj is not None
    return obj.get("status") or {}


def wait_revision(objects: Objects, name: str, revision: int, timeout: float = 60) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        status = status_of(objects, name)
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
        return status if ready and status.get("revision") == revision and not status.get("pending") else None

    return wait_for(check, timeout, 0.2, f"{name} at revision {revision}")


def watch(leak_watch: LeakWatch, data: dict[str, str]) -> dict[str, str]:
    leak_watch.add_secret_data(data)  # the secret key and the session token: never in the operator's log
    return data


def without_token(data: dict[str, str]) -> Any:
    return s3_from({k: v for k, v in data.items() if k != "AWS_SESSION_TOKEN"})


def assert_formats_carry(data: dict[str, str]) -> None:
    token = data["AWS_SESSION_TOKEN"]
    assert f"aws_session_token = {token}" in data["credentials"]
    assert f"session_token = {token}" in data["rclone.conf"]
    assert f"access_token = {token}" in data[".s3cfg"]


# --- MinIO ---------------------------------------------------------------------------------------------------


@dataclass
class MinioSts:
    objects: Objects
    peer: MinioPeer
    bucket: str
    other: str

    def spec(self, secret_name: str, **overrides: Any) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "providerRef": {"name": "minio"}, "buckets": [{"name": self.bucket}],
            "permissions": ["read", "write", "list"], "ttl": "720h", "secretName": secret_name,
            "credentialType": "sts", "sessionDuration": "15m", "secretFormats": ALL_FORMATS,
            "rotationGracePeriod": "5s",
        }
        spec.update(overrides)
        return spec


@pytest.fixture
def minio_sts(namespace: str, kube_api: Any, minio_peer: MinioPeer, keyfob_operator: Any) -> Iterator[MinioSts]:
    objects = Objects(kube_api, namespace)
    tag = secrets.token_hex(4)
    bucket, other = f"sts-{tag}", f"sts-other-{tag}"
    root = minio_peer.root_client()
    for name in (bucket, other):
        root.create_bucket(Bucket=name)
        root.put_object(Bucket=name, Key="seed.txt", Body=b"seed")
    objects.admin_secret("minio-admin", {"MINIO_ACCESS_KEY": minio_peer.root_user,
                                         "MINIO_SECRET_KEY": minio_peer.root_password})
    objects.provider("minio", {"minio": {"endpoint": minio_peer.endpoint,
                                         "credentialsSecretRef": {"name": "minio-admin"}}})
    yield MinioSts(objects, minio_peer, bucket, other)
    delete_requests_and_wait(objects)


def test_minio_session_works_on_its_bucket_is_denied_on_another_and_carries_its_token(
    minio_sts: MinioSts, leak_watch: LeakWatch
) -> None:
    objects = minio_sts.objects
    objects.request("app", minio_sts.spec("app-s3"))
    status = wait_revision(objects, "app", 1)
    data = watch(leak_watch, objects.secret_data("app-s3"))
    assert status["credentialType"] == "sts" and status["expiryEnforcedBy"] == "Provider"
    assert data["AWS_ACCESS_KEY_ID"] == status["accessKeyId"]
    issued, expires = datetime.fromisoformat(status["issuedAt"]), datetime.fromisoformat(status["expiresAt"])
    assert abs((expires - issued) - timedelta(minutes=15)) < timedelta(seconds=30)  # MinIO's own Expiration
    renewal = datetime.fromisoformat(status["renewalTime"])
    assert timedelta(minutes=9) < renewal - issued <= timedelta(minutes=10)  # refreshed at 2/3
    assert_formats_carry(data)
    assert "STS session" in (status.get("grant") or "")
    assert data["AWS_SESSION_TOKEN"] not in json.dumps(status)

    s3 = s3_from(data)
    assert code_of(lambda: s3.list_objects_v2(Bucket=minio_sts.bucket)) == "OK"
    assert code_of(lambda: s3.put_object(Bucket=minio_sts.bucket, Key="w.txt", Body=b"x")) == "OK"
    assert code_of(lambda: s3.get_object(Bucket=minio_sts.bucket, Key="seed.txt")) == "OK"
    # MinIO evaluates the session policy: the root user's session may still not leave its bucket
    assert code_of(lambda: s3.list_objects_v2(Bucket=minio_sts.other)) == "AccessDenied"
    assert code_of(lambda: s3.get_object(Bucket=minio_sts.other, Key="seed.txt")) == "AccessDenied"
    assert code_of(lambda: s3.delete_object(Bucket=minio_sts.bucket, Key="seed.txt")) == "AccessDenied"
    assert code_of(lambda: s3.create_bucket(Bucket=f"new-{secrets.token_hex(3)}")) == "AccessDenied"
    assert code_of(lambda: without_token(data).list_objects_v2(Bucket=minio_sts.bucket)) in UNKNOWN


def test_minio_refresh_replaces_the_token_and_revoke_tokens_ends_the_old_session(
    minio_sts: MinioSts, leak_watch: LeakWatch
) -> None:
    """A refresh (here asked for with keyfob.dev/rotate; the scheduled one is the plan's renewalTime) puts a new
    session in the Secret well before the old one's end; after the grace period keyfob ends the old one through
    MinIO's revoke-tokens (its TokenRevokeType is its key name), and MinIO then refuses it."""
    objects = minio_sts.objects
    objects.request("app", minio_sts.spec("app-s3"))
    first = wait_revision(objects, "app", 1)
    old = watch(leak_watch, objects.secret_data("app-s3"))
    objects.patch_request("app", {"metadata": {"annotations": {"keyfob.dev/rotate": "1"}}})
    second = wait_revision(objects, "app", 2)
    new = watch(leak_watch, objects.secret_data("app-s3"))
    assert new["AWS_SESSION_TOKEN"] != old["AWS_SESSION_TOKEN"]
    assert new["AWS_ACCESS_KEY_ID"] == second["accessKeyId"] != first["accessKeyId"]
    assert datetime.fromisoformat(second["issuedAt"]) < datetime.fromisoformat(first["expiresAt"])
    assert code_of(lambda: s3_from(new).list_objects_v2(Bucket=minio_sts.bucket)) == "OK"

    def old_refused() -> bool:
        return code_of(lambda: s3_from(old).list_objects_v2(Bucket=minio_sts.bucket)) in UNKNOWN

    wait_for(old_refused, 60, 0.5, "the previous session refused after its grace period")
    assert not status_of(objects, "app").get("previousKeys")
    reasons = {e.reason for e in objects.events_for("app")}
    assert "Revoked" in reasons
    assert code_of(lambda: s3_from(new).list_objects_v2(Bucket=minio_sts.bucket)) == "OK", "only the old one ended"


def test_minio_sts_refuses_cosi_a_session_over_12h_and_a_ttl_shorter_than_a_session(minio_sts: MinioSts) -> None:
    objects = minio_sts.objects
    with pytest.raises(objects.api_exception) as refused:
        objects.request("cosi", minio_sts.spec("cosi-s3", secretFormats=["cosi"]))
    assert "session token" in str(refused.value.body)
    with pytest.raises(objects.api_exception) as refused:
        objects.request("long", minio_sts.spec("long-s3", sessionDuration="13h"))
    assert "between 15m and 12h" in str(refused.value.body)
    objects.request("short", minio_sts.spec("short-s3", ttl="10m"))
    obj = objects.wait_request("short", "False", "Unsupported")
    assert "at least 15m" in objects.ready_condition(obj)["message"]  # type: ignore[index]
    assert objects.secret("short-s3") is None


def test_minio_break_glass_ends_the_session_and_removes_the_secret(minio_sts: MinioSts, leak_watch: LeakWatch) -> None:
    objects = minio_sts.objects
    objects.request("app", minio_sts.spec("app-s3"))
    wait_revision(objects, "app", 1)
    data = watch(leak_watch, objects.secret_data("app-s3"))
    objects.patch_request("app", {"metadata": {"annotations": {"keyfob.dev/suspend": "oncall: INC-7"}}})
    objects.wait_request("app", "False", "Suspended")
    wait_for(lambda: objects.secret("app-s3") is None, 30, 0.2, "the Secret removed")
    assert code_of(lambda: s3_from(data).list_objects_v2(Bucket=minio_sts.bucket)) in UNKNOWN  # MinIO ended it


@pytest.mark.skipif(os.environ.get("KEYFOB_STS_REFRESH_WAIT") != "1",
                    reason="waits for a scheduled refresh (~10 min): KEYFOB_STS_REFRESH_WAIT=1")
def test_minio_session_is_refreshed_on_schedule_before_it_ends(minio_sts: MinioSts, leak_watch: LeakWatch) -> None:
    objects = minio_sts.objects
    objects.request("app", minio_sts.spec("app-s3"))
    first = wait_revision(objects, "app", 1)
    old = watch(leak_watch, objects.secret_data("app-s3"))
    second = wait_revision(objects, "app", 2, timeout=11 * 60)
    new = watch(leak_watch, objects.secret_data("app-s3"))
    refreshed = datetime.fromisoformat(second["issuedAt"])
    assert datetime.fromisoformat(first["renewalTime"]) <= refreshed < datetime.fromisoformat(first["expiresAt"])
    assert new["AWS_SESSION_TOKEN"] != old["AWS_SESSION_TOKEN"]
    assert code_of(lambda: s3_from(new).list_objects_v2(Bucket=minio_sts.bucket)) == "OK"


# --- moto ----------------------------------------------------------------------------------------------------

def trust(user: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"AWS": f"arn:aws:iam::123456789012:user/{user}"}}]}


TRUST_ADMIN, TRUST_NOBODY = trust("keyfob-admin"), trust("nobody")


@dataclass
class AwsSts:
    objects: Objects
    moto: MotoPeer
    bucket: str
    other: str
    role_arn: str


def make_role(moto: MotoPeer, trust: dict[str, Any], buckets: list[str]) -> str:
    iam = moto.client("iam")
    name = f"keyfob-sessions-{secrets.token_hex(3)}"
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
    resources = [f"arn:aws:s3:::{b}" for b in buckets] + [f"arn:aws:s3:::{b}/*" for b in buckets]
    iam.put_role_policy(RoleName=name, PolicyName="cap", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": resources}]}))
    return arn


def aws_provider(objects: Objects, moto: MotoPeer, name: str, role_arn: str) -> None:
    objects.provider(name, {"aws": {"iamEndpoint": moto.endpoint, "s3Endpoint": moto.endpoint,
                                    "credentialsSecretRef": {"name": "aws-admin"},
                                    "sts": {"roleArn": role_arn, "endpoint": moto.endpoint}}})


@pytest.fixture
def aws_sts(namespace: str, kube_api: Any, moto_peer: MotoPeer, keyfob_operator: Any) -> Iterator[AwsSts]:
    objects = Objects(kube_api, namespace)
    tag = secrets.token_hex(4)
    bucket, other = f"sts-{tag}", f"sts-other-{tag}"
    for name in (bucket, other):
        moto_peer.client("s3").create_bucket(Bucket=name)
    objects.admin_secret("aws-admin", {"AWS_ACCESS_KEY_ID": moto_peer.admin_access_key,
                                       "AWS_SECRET_ACCESS_KEY": moto_peer.admin_secret_key})
    role = make_role(moto_peer, TRUST_ADMIN, [bucket])  # the role's own policy caps sessions to `bucket`
    aws_provider(objects, moto_peer, "aws", role)
    yield AwsSts(objects, moto_peer, bucket, other, role)
    delete_requests_and_wait(objects)


def iam_users_of(moto: MotoPeer, uid: str) -> list[str]:
    pages = moto.client("iam").get_paginator("list_users").paginate(PathPrefix="/keyfob/")
    return [u["UserName"] for page in pages for u in page["Users"] if uid in u["UserName"]]


def test_aws_session_on_the_providers_role_with_the_requests_scope_as_session_policy(
    aws_sts: AwsSts, leak_watch: LeakWatch
) -> None:
    objects, moto = aws_sts.objects, aws_sts.moto
    spec = {"providerRef": {"name": "aws"}, "buckets": [{"name": aws_sts.bucket, "prefix": "in/"}],
            "permissions": ["read", "write", "list"], "ttl": "720h", "secretName": "app-s3",
            "credentialType": "sts", "secretFormats": ALL_FORMATS,
            "roleArn": "arn:aws:iam::123456789012:role/admin"}  # a tenant's try: not a field, pruned by the API
    created = objects.request("app", spec)
    status = wait_revision(objects, "app", 1)
    data = watch(leak_watch, objects.secret_data("app-s3"))
    assert status["credentialType"] == "sts" and data["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert_formats_carry(data)

    # What keyfob sent: the provider's role, keyfob's key name, 1h, and exactly the adapter's policy for the
    # request (moto stores the Policy parameter but never evaluates it).
    sent = moto.form_requests("AssumeRole")[-1]
    assert sent["RoleArn"] == aws_sts.role_arn and sent["RoleSessionName"] == status["keyName"]
    assert sent["DurationSeconds"] == "3600"
    uid = created["metadata"]["uid"]
    policy = json.loads(sent["Policy"])
    # the policy's aws:CurrentTime is keyfob's planned session end: moto's Expiration (status) within seconds
    until = datetime.fromisoformat(policy["Statement"][0]["Condition"]["DateLessThan"]["aws:CurrentTime"])
    assert abs(until - datetime.fromisoformat(status["expiresAt"])) < timedelta(seconds=10)
    expected = Grant(status["keyName"], RequestIdentity(objects.namespace, "app", uid), 1,
                     (BucketGrant(aws_sts.bucket, "in/"),),
                     frozenset(spec_permissions(["read", "write", "list"])), until, 3600)
    assert policy == policy_for(expected)

    s3 = s3_from(data)
    assert code_of(lambda: s3.put_object(Bucket=aws_sts.bucket, Key="in/a.txt", Body=b"x")) == "OK"
    # enforced by moto through the ROLE's policy (not the session policy, which moto ignores):
    assert code_of(lambda: s3.list_objects_v2(Bucket=aws_sts.other)) == "AccessDenied"
    # the session token is what makes the key work
    assert code_of(lambda: without_token(data).list_objects_v2(Bucket=aws_sts.bucket)) in UNKNOWN
    assert iam_users_of(moto, uid) == [], "a session needs no IAM user"


def spec_permissions(names: list[str]) -> list[Any]:
    from keyfob.api.vocabulary import Permission

    return [Permission(n) for n in names]


def test_aws_session_refresh_and_deletion_leave_the_old_session_to_its_end(
    aws_sts: AwsSts, leak_watch: LeakWatch
) -> None:
    """AWS cannot end one session: after a refresh and on a break-glass suspension keyfob says so
    (SessionDropped), removes it from the Secret, and (moto checking no expiry) the session keeps working: the
    documented limit."""
    objects = aws_sts.objects
    spec = {"providerRef": {"name": "aws"}, "buckets": [{"name": aws_sts.bucket}], "permissions": ["list"],
            "ttl": "720h", "secretName": "app-s3", "credentialType": "sts", "rotationGracePeriod": "2s"}
    objects.request("app", spec)
    wait_revision(objects, "app", 1)
    old = watch(leak_watch, objects.secret_data("app-s3"))
    objects.patch_request("app", {"metadata": {"annotations": {"keyfob.dev/rotate": "1"}}})
    wait_revision(objects, "app", 2)
    new = watch(leak_watch, objects.secret_data("app-s3"))
    assert new["AWS_SESSION_TOKEN"] != old["AWS_SESSION_TOKEN"]

    def dropped() -> list[Any]:
        return [e for e in objects.events_for("app") if e.reason == "SessionDropped"]

    events = wait_for(dropped, 30, 0.2, "the previous session dropped")
    assert "left to expire" in events[0].message and "cannot be revoked" in events[0].message
    assert code_of(lambda: s3_from(old).list_objects_v2(Bucket=aws_sts.bucket)) == "OK"
    objects.patch_request("app", {"metadata": {"annotations": {"keyfob.dev/suspend": "oncall: INC-7"}}})
    objects.wait_request("app", "False", "Suspended")
    wait_for(lambda: objects.secret("app-s3") is None, 30, 0.2, "the Secret removed on suspension")
    assert code_of(lambda: s3_from(new).list_objects_v2(Bucket=aws_sts.bucket)) == "OK", "AWS cannot end it"
    objects.delete_request("app")
    objects.wait_gone("app")


def test_aws_role_that_does_not_trust_the_admin_is_refused(aws_sts: AwsSts) -> None:
    """moto evaluates the role's trust policy on AssumeRole: the provider's admin is not trusted, no session."""
    objects = aws_sts.objects
    aws_provider(objects, aws_sts.moto, "untrusted", make_role(aws_sts.moto, TRUST_NOBODY, [aws_sts.bucket]))
    objects.request("app", {"providerRef": {"name": "untrusted"}, "buckets": [{"name": aws_sts.bucket}],
                            "permissions": ["read"], "ttl": "720h", "secretName": "app-s3", "credentialType": "sts"})
    obj = objects.wait_request("app", "False", "ProviderError")
    assert "AccessDenied" in objects.ready_condition(obj)["message"]  # type: ignore[index]
    assert objects.secret("app-s3") is None


def test_aws_without_a_role_refuses_sts(aws_sts: AwsSts) -> None:
    objects = aws_sts.objects
    objects.provider("plain", {"aws": {"iamEndpoint": aws_sts.moto.endpoint,
                                       "credentialsSecretRef": {"name": "aws-admin"}}})
    objects.request("app", {"providerRef": {"name": "plain"}, "buckets": [{"name": aws_sts.bucket}],
                            "permissions": ["read"], "ttl": "720h", "secretName": "app-s3", "credentialType": "sts"})
    obj = objects.wait_request("app", "False", "Unsupported")
    assert "spec.aws.sts.roleArn" in objects.ready_condition(obj)["message"]  # type: ignore[index]

