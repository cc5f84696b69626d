"""The walking skeleton, end to end on the real API server + moto (authorization on): a request becomes a
working, scoped key in a Secret; deleting it revokes the key; bad input ends in a condition and no key."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from keyfob_testbed.operator_fixtures import AwsSetup, LeakWatch
from keyfob_testbed.s3_checks import code_of, s3_from
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration

ENV_KEYS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
            "BUCKET_NAME", "BUCKET_NAMES"}


def test_kubectl_apply_issues_a_scoped_working_key(aws_setup: AwsSetup, kubectl: Any, leak_watch: LeakWatch) -> None:
    ns = aws_setup.objects.namespace
    manifest = textwrap.dedent(f"""
        apiVersion: keyfob.dev/v1alpha1
        kind: AccessKeyRequest
        metadata:
          name: app
          namespace: {ns}
        spec:
          providerRef: {{name: aws}}
          buckets: [{{name: {aws_setup.bucket}}}]
          permissions: [read, write, list]
          ttl: 1h
          secretName: app-s3
        """)
    kubectl("apply", "-f", "-", input=manifest)
    obj = aws_setup.objects.wait_request("app")
    status = obj["status"]
    assert status["accessKeyId"].startswith("AKIA") and status["revision"] == 1
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert status["expiresAt"] and status["issuedAt"] and status["expiryEnforcedBy"] == "Operator"
    assert "AWS_SECRET_ACCESS_KEY" not in str(obj)

    data = aws_setup.objects.secret_data("app-s3")
    leak_watch.add_secret_data(data)
    assert set(data) == ENV_KEYS
    assert data["AWS_ACCESS_KEY_ID"] == status["accessKeyId"]
    assert data["BUCKET_NAME"] == aws_setup.bucket and data["AWS_ENDPOINT_URL"] == aws_setup.moto.endpoint
    secret_meta = aws_setup.objects.secret("app-s3").metadata
    assert secret_meta.owner_references[0].uid == obj["metadata"]["uid"]

    s3 = s3_from(data)
    s3.put_object(Bucket=aws_setup.bucket, Key="hello.txt", Body=b"hi")
    assert s3.get_object(Bucket=aws_setup.bucket, Key="hello.txt")["Body"].read() == b"hi"
    assert code_of(lambda: s3.put_object(Bucket=aws_setup.other_bucket, Key="x", Body=b"x")) == "AccessDenied"
    assert code_of(lambda: s3.list_objects_v2(Bucket=aws_setup.other_bucket)) == "AccessDenied"

    users = aws_setup.users_for(obj["metadata"]["uid"])
    assert users == [f"kf-{obj['metadata']['uid']}-r1"]
    tags = aws_setup.moto.client("iam").list_user_tags(UserName=users[0])["Tags"]
    assert {"Key": "keyfob.dev/name", "Value": "app"} in tags

    table = kubectl("get", "akr", "-n", ns).stdout
    assert "app" in table and "True" in table and status["accessKeyId"] in table

    wait_for(lambda: "Issued" in {e.reason for e in aws_setup.objects.events_for("app")}, 30, 0.2, "Issued event")


def test_delete_revokes_key_user_and_secret(aws_setup: AwsSetup, leak_watch: LeakWatch) -> None:
    objects = aws_setup.objects
    uid = objects.request("app", aws_setup.request_spec("app-s3"))["metadata"]["uid"]
    objects.wait_request("app")
    data = objects.secret_data("app-s3")
    leak_watch.add_secret_data(data)
    s3 = s3_from(data)
    assert code_of(lambda: s3.list_objects_v2(Bucket=aws_setup.bucket)) == "OK"

    objects.delete_request("app")
    objects.wait_gone("app")
    assert code_of(lambda: s3.list_objects_v2(Bucket=aws_setup.bucket)) == "InvalidAccessKeyId"
    assert aws_setup.users_for(uid) == []
    wait_for(lambda: objects.secret("app-s3") is None, 30, what="Secret removed")


def test_provider_outage_delays_deletion_instead_of_leaking(aws_setup: AwsSetup, leak_watch: LeakWatch) -> None:
    objects = aws_setup.objects
    uid = objects.request("app", aws_setup.request_spec("app-s3"))["metadata"]["uid"]
    objects.wait_request("app")
    data = objects.secret_data("app-s3")
    leak_watch.add_secret_data(data)

    # The provider becomes unreachable (nothing listens on port 9 of loopback).
    objects.patch_provider("aws", {"aws": {"iamEndpoint": "http://127.0.0.1:9"}})
    objects.delete_request("app")

    def revocation_failed() -> bool:
        return any(e.reason == "ProviderError" for e in objects.events_for("app"))

    wait_for(revocation_failed, 90, 0.5, "a failed revocation attempt")
    held = objects.get_request("app")
    assert held is not None and held["metadata"].get("deletionTimestamp")
    assert "keyfob.dev/revoke-keys" in held["metadata"]["finalizers"]
    assert aws_setup.users_for(uid), "the key must still exist: nothing was revoked"

    objects.patch_provider("aws", {"aws": {"iamEndpoint": aws_setup.moto.endpoint}})
    objects.wait_gone("app", timeout=90)
    assert aws_setup.users_for(uid) == []
    assert code_of(lambda: s3_from(data).list_objects_v2(Bucket=aws_setup.bucket)) == "InvalidAccessKeyId"


def _no_key_for(aws_setup: AwsSetup, name: str) -> None:
    obj = aws_setup.objects.get_request(name)
    assert obj is not None
    assert aws_setup.users_for(obj["metadata"]["uid"]) == []
    assert not (obj.get("status") or {}).get("accessKeyId")


def test_unknown_provider_ref_is_a_condition_not_a_key(aws_setup: AwsSetup) -> None:
    aws_setup.objects.request("app", aws_setup.request_spec("app-s3", providerRef={"name": "nope"}))
    obj = aws_setup.objects.wait_request("app", "False", "ProviderNotFound")
    assert "'nope' not found" in aws_setup.objects.ready_condition(obj)["message"]
    _no_key_for(aws_setup, "app")
    wait_for(lambda: any(e.reason == "ProviderNotFound" and e.type == "Warning"
                         for e in aws_setup.objects.events_for("app")), 30, 0.2, "a ProviderNotFound event")


def test_missing_admin_secret_is_a_condition_not_a_key(aws_setup: AwsSetup) -> None:
    objects = aws_setup.objects
    objects.provider("broken", {"aws": {"iamEndpoint": aws_setup.moto.endpoint,
                                        "credentialsSecretRef": {"name": "absent"}}})
    objects.request("app", aws_setup.request_spec("app-s3", providerRef={"name": "broken"}))
    obj = objects.wait_request("app", "False", "ProviderNotReady")
    assert "Secret" in objects.ready_condition(obj)["message"] and "absent" in objects.ready_condition(obj)["message"]
    _no_key_for(aws_setup, "app")
    provider = objects.wait_provider("broken", "False")
    assert objects.ready_condition(provider)["reason"] == "ProviderNotReady"


def test_secret_owned_by_someone_else_is_never_overwritten(aws_setup: AwsSetup) -> None:
    objects = aws_setup.objects
    objects.admin_secret("taken", {"password": "belongs-to-someone-else"})
    objects.request("app", aws_setup.request_spec("taken"))
    obj = objects.wait_request("app", "False", "SecretConflict")
    assert "not owned" in objects.ready_condition(obj)["message"]
    assert objects.secret_data("taken") == {"password": "belongs-to-someone-else"}
    _no_key_for(aws_setup, "app")


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"buckets": [{"name": "Bad_Bucket"}]}, "buckets[0].name"),
        ({"buckets": [{"name": "ok-bucket", "prefix": "a/../b"}]}, "prefix"),
        ({"buckets": [{"name": "ok-bucket", "prefix": "logs/*"}]}, "prefix"),
        ({"permissions": ["read", "admin"]}, "permissions[1]"),
        ({"ttl": "forever"}, "ttl"),
        ({"expiresAt": "2030-01-01T00:00:00Z"}, "ttl or expiresAt"),
    ],
)
def test_invalid_input_is_refused_by_the_api_server(
    aws_setup: AwsSetup, override: dict[str, Any], complaint: str
) -> None:
    from kubernetes.client import ApiException

    with pytest.raises(ApiException) as refused:
        aws_setup.objects.request("bad", aws_setup.request_spec("bad-s3", **override))
    assert refused.value.status == 422
    assert complaint in refused.value.body
    assert aws_setup.objects.get_request("bad") is None


def test_provider_status_says_whether_admin_credentials_work(aws_setup: AwsSetup) -> None:
    objects = aws_setup.objects
    provider = objects.wait_provider("aws")
    assert objects.ready_condition(provider)["reason"] == "CredentialsValid"
    objects.admin_secret("wrong", {"AWS_ACCESS_KEY_ID": "AKIAWRONGWRONGWRONG0", "AWS_SECRET_ACCESS_KEY": "nope"})
    objects.provider("wrong", {"aws": {"iamEndpoint": aws_setup.moto.endpoint,
                                       "credentialsSecretRef": {"name": "wrong"}}})
    provider = objects.wait_provider("wrong", "False")
    assert objects.ready_condition(provider)["reason"] == "ProviderError"
