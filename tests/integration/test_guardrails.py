"""Issue 5 on the real API server + moto: hostile requests end in their own condition with no key at the
provider; tightening a provider's guardrails revokes keys no longer allowed; the approval gate."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from keyfob.api.vocabulary import GROUP, VERSION
from keyfob_testbed.objects import CLUSTER_PROVIDERS, Objects
from keyfob_testbed.operator_fixtures import AwsSetup, LeakWatch
from keyfob_testbed.s3_checks import code_of, s3_from
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration


def no_key(aws: AwsSetup, name: str) -> None:
    obj = aws.objects.get_request(name)
    assert obj is not None
    assert aws.users_for(obj["metadata"]["uid"]) == [], f"{name}: a key was created"


@pytest.fixture
def guarded(aws_setup: AwsSetup) -> AwsSetup:
    aws_setup.objects.patch_provider("aws", {"guardrails": {
        "allowedBuckets": [aws_setup.bucket, "{namespace}.*"], "maxTTL": "24h",
    }})
    return aws_setup


@pytest.mark.parametrize(
    ("override", "reason", "rule"),
    [
        ({"buckets": [{"name": "someone-elses-bucket"}]}, "Denied", "allowedBuckets"),
        ({"permissions": ["read", "bypassGovernanceRetention"]}, "Denied", "allowedPermissions"),
        ({"permissions": ["putObjectLegalHold"]}, "Denied", "allowedPermissions"),
        ({"ttl": "48h"}, "Denied", "maxTTL"),
        ({"providerRef": {"name": "aws", "kind": "ClusterAccessKeyProvider"}}, "ProviderNotFound", "not found"),
    ],
)
def test_hostile_request_ends_in_its_condition_with_no_key(
    guarded: AwsSetup, override: dict[str, Any], reason: str, rule: str
) -> None:
    guarded.objects.request("hostile", guarded.request_spec("hostile-s3", **override))
    obj = guarded.objects.wait_request("hostile", "False", reason)
    assert rule in guarded.objects.ready_condition(obj)["message"]
    no_key(guarded, "hostile")
    assert guarded.objects.secret("hostile-s3") is None
    wait_for(lambda: any(e.reason == reason and e.type == "Warning" for e in guarded.objects.events_for("hostile")),
             30, 0.2, f"a Warning event {reason}")


def test_another_namespaces_provider_cannot_be_used(guarded: AwsSetup, kube_api: Any) -> None:
    other = Objects(kube_api, f"kf-other-{secrets.token_hex(3)}")
    other.core.create_namespace({"metadata": {"name": other.namespace}})
    try:
        other.request("borrow", guarded.request_spec("borrow-s3"))  # providerRef aws lives in guarded's namespace
        obj = other.wait_request("borrow", "False", "ProviderNotFound")
        assert guarded.users_for(obj["metadata"]["uid"]) == []
    finally:
        other.delete_request("borrow")
        other.wait_gone("borrow")
        other.core.delete_namespace(other.namespace)


def test_namespaced_provider_reads_its_admin_secret_only_from_its_own_namespace(aws_setup: AwsSetup) -> None:
    objects = aws_setup.objects
    objects.provider("elsewhere", {"aws": {"iamEndpoint": aws_setup.moto.endpoint,
                                           "credentialsSecretRef": {"name": "aws-admin", "namespace": "kube-system"}}})
    objects.request("app", aws_setup.request_spec("app-s3", providerRef={"name": "elsewhere"}))
    obj = objects.wait_request("app", "False", "ProviderNotReady")
    assert "own namespace" in objects.ready_condition(obj)["message"]
    no_key(aws_setup, "app")


@pytest.mark.parametrize(
    "bucket",
    ['a"b', "a*", "arn:aws:s3:::x", "../etc", "a/b", "${aws:username}", "a b", "A" * 3, "ab"],
)
def test_injection_in_bucket_names_is_refused_at_the_api_server(guarded: AwsSetup, bucket: str) -> None:
    from kubernetes.client import ApiException

    with pytest.raises(ApiException) as refused:
        guarded.objects.request("inject", guarded.request_spec("inject-s3", buckets=[{"name": bucket}]))
    assert refused.value.status == 422


@pytest.mark.parametrize("prefix", ["*", "logs/*", '"', "${aws:username}/", "/abs", "a/../b", "..", "a?"])
def test_injection_in_prefixes_is_refused_at_the_api_server(guarded: AwsSetup, prefix: str) -> None:
    from kubernetes.client import ApiException

    with pytest.raises(ApiException) as refused:
        guarded.objects.request(
            "inject", guarded.request_spec("inject-s3", buckets=[{"name": guarded.bucket, "prefix": prefix}])
        )
    assert refused.value.status == 422


def test_tightened_guardrails_revoke_a_key_no_longer_allowed(guarded: AwsSetup, leak_watch: LeakWatch) -> None:
    objects = guarded.objects
    uid = objects.request("app", guarded.request_spec("app-s3"))["metadata"]["uid"]
    objects.wait_request("app")
    data = objects.secret_data("app-s3")
    leak_watch.add_secret_data(data)
    assert code_of(lambda: s3_from(data).list_objects_v2(Bucket=guarded.bucket)) == "OK"

    objects.patch_provider("aws", {"guardrails": {"allowedBuckets": ["{namespace}.*"]}})
    obj = objects.wait_request("app", "False", "Denied", timeout=60)
    assert "allowedBuckets" in objects.ready_condition(obj)["message"]
    assert guarded.users_for(uid) == []
    assert code_of(lambda: s3_from(data).list_objects_v2(Bucket=guarded.bucket)) == "InvalidAccessKeyId"
    wait_for(lambda: any(e.reason == "Revoked" and "guardrails" in e.message for e in objects.events_for("app")),
             30, 0.2, "a Revoked event naming the guardrails")


@pytest.fixture
def cluster_provider(aws_setup: AwsSetup, kube_api: Any) -> Iterator[str]:
    """A ClusterAccessKeyProvider allowing only the test namespace; admin Secret in keyfob-system."""
    objects = aws_setup.objects
    name = f"shared-{secrets.token_hex(3)}"
    try:
        objects.core.create_namespace({"metadata": {"name": "keyfob-system"}})
    except objects.api_exception as err:
        if err.status != 409:
            raise
    objects.core.create_namespaced_secret("keyfob-system", {"metadata": {"name": name}, "stringData": {
        "AWS_ACCESS_KEY_ID": aws_setup.moto.admin_access_key,
        "AWS_SECRET_ACCESS_KEY": aws_setup.moto.admin_secret_key}})
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ClusterAccessKeyProvider", "metadata": {"name": name},
            "spec": {"aws": {"iamEndpoint": aws_setup.moto.endpoint, "s3Endpoint": aws_setup.moto.endpoint,
                             "credentialsSecretRef": {"name": name}},
                     "guardrails": {"allowedNamespaces": {"names": [objects.namespace]}, "allowedBuckets": ["*"]}}}
    objects.custom.create_cluster_custom_object(GROUP, VERSION, CLUSTER_PROVIDERS, body)
    yield name
    from keyfob_testbed.operator_fixtures import delete_requests_and_wait

    delete_requests_and_wait(objects)
    objects.custom.delete_cluster_custom_object(GROUP, VERSION, CLUSTER_PROVIDERS, name)


def test_namespace_removed_from_allowed_namespaces_loses_its_key(
    aws_setup: AwsSetup, cluster_provider: str, leak_watch: LeakWatch
) -> None:
    objects = aws_setup.objects
    ref = {"kind": "ClusterAccessKeyProvider", "name": cluster_provider}
    uid = objects.request("app", aws_setup.request_spec("app-s3", providerRef=ref))["metadata"]["uid"]
    objects.wait_request("app")
    data = objects.secret_data("app-s3")
    leak_watch.add_secret_data(data)
    objects.custom.patch_cluster_custom_object(GROUP, VERSION, CLUSTER_PROVIDERS, cluster_provider, {
        "spec": {"guardrails": {"allowedNamespaces": {"names": ["somebody-else"]}}}})
    obj = objects.wait_request("app", "False", "Denied", timeout=60)
    assert "allowedNamespaces" in objects.ready_condition(obj)["message"]
    assert aws_setup.users_for(uid) == []
    assert code_of(lambda: s3_from(data).list_objects_v2(Bucket=aws_setup.bucket)) == "InvalidAccessKeyId"


def keyfob_cli(test_cluster: Any, *args: str) -> str:
    env = {**os.environ, "KUBECONFIG": str(test_cluster.kubeconfig)}
    return subprocess.run([sys.executable, "-m", "keyfob", *args], env=env, capture_output=True, text=True,
                          timeout=60, check=True).stdout


def test_approval_gate(aws_setup: AwsSetup, test_cluster: Any, leak_watch: LeakWatch) -> None:
    objects = aws_setup.objects
    objects.patch_provider("aws", {"guardrails": {"requireApproval": True}})
    uid = objects.request("app", aws_setup.request_spec("app-s3"))["metadata"]["uid"]
    objects.wait_request("app", "False", "AwaitingApproval")
    assert aws_setup.users_for(uid) == []

    assert "approved" in keyfob_cli(test_cluster, "approve", "app", "-n", objects.namespace)
    first = objects.wait_request("app")
    leak_watch.add_secret_data(objects.secret_data("app-s3"))

    # A new scope needs a new approval; the approved key stays in place meanwhile.
    objects.patch_request("app", {"spec": {"buckets": [{"name": aws_setup.other_bucket}]}})
    held = objects.wait_request("app", "False", "AwaitingApproval")
    assert held["status"]["accessKeyId"] == first["status"]["accessKeyId"]
    keyfob_cli(test_cluster, "approve", "app", "-n", objects.namespace, "--deny", "--reason", "not this bucket")
    denied = objects.wait_request("app", "False", "ApprovalDenied")
    assert "not this bucket" in objects.ready_condition(denied)["message"]
    assert denied["status"]["revision"] == 1
