"""Issue 14 on the real API server + moto: a hostile tenant against the operator.

Tenants are ServiceAccounts with TokenRequest tokens (keyfob_testbed.tenants): `edit` holds only the built-in
edit role (filled by aggregation from the chart's ClusterRoles), `star` holds a Role with resources ["*"] on
keyfob.dev, so it can write its requests' status (no admission policy is installed in this module: the
operator itself must hold). Each attack ends with no key minted for an identity keyfob does not own, no foreign
key revoked, no bucket of another namespace reachable, and a condition that says why.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from keyfob_testbed.operator_fixtures import AwsSetup, LeakWatch, OperatorFactory
from keyfob_testbed.s3_checks import code_of, s3_from
from keyfob_testbed.tenants import Tenant, edit_tenant, status_tenant
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def tenants(aws_setup: AwsSetup, test_cluster: Any, kube_api: Any,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[Tenant, Tenant]:
    if not test_cluster.has_controller_manager:
        pytest.skip("ClusterRole aggregation needs kube-controller-manager")
    out = tmp_path_factory.mktemp("tenants")
    ns = aws_setup.objects.namespace
    return edit_tenant(test_cluster, kube_api, ns, out), status_tenant(test_cluster, kube_api, ns, out)


@pytest.fixture
def victim(aws_setup: AwsSetup) -> Iterator[tuple[str, str]]:
    """An IAM user keyfob never made, with a working access key: what an attacker wants keyfob to touch."""
    iam = aws_setup.moto.client("iam")
    user = f"victim-{secrets.token_hex(4)}"
    iam.create_user(UserName=user, Path="/")
    key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    yield user, key
    for meta in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=user, AccessKeyId=meta["AccessKeyId"])
    iam.delete_user(UserName=user)


def victim_untouched(aws: AwsSetup, victim: tuple[str, str]) -> None:
    iam = aws.moto.client("iam")
    user, key = victim
    assert [m["AccessKeyId"] for m in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]] == [key]
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == [], "keyfob wrote a policy on a foreign user"


def ready(aws: AwsSetup, name: str, leak: LeakWatch, **spec: Any) -> dict[str, Any]:
    aws.objects.request(name, aws.request_spec(f"{name}-s3", **spec))
    obj = aws.objects.wait_request(name)
    leak.add_secret_data(aws.objects.secret_data(f"{name}-s3"))
    return obj


def events(aws: AwsSetup, name: str, reason: str) -> bool:
    return any(e.reason == reason and e.type == "Warning" for e in aws.objects.events_for(name))


def test_forged_pending_key_name_is_refused_or_never_acted_on(
    aws_setup: AwsSetup, tenants: tuple[Tenant, Tenant], victim: tuple[str, str], leak_watch: LeakWatch
) -> None:
    from kubernetes.client import ApiException

    _, star = tenants
    other = ready(aws_setup, "other", leak_watch)  # someone else's request in the namespace
    mine = ready(aws_setup, "mine", leak_watch)
    pending = {"revision": 2, "reason": "Renewal", "startedAt": "2026-01-01T00:00:00Z"}
    # 1. The name of an arbitrary IAM user: the API server refuses it (status schema pattern).
    with pytest.raises(ApiException) as refused:
        star.patch_status("mine", {"pending": {**pending, "keyName": victim[0]}})
    assert refused.value.status == 422
    # 2. A keyfob name that belongs to another request: accepted by the schema, never acted on by keyfob.
    star.patch_status("mine", {"pending": {**pending, "keyName": other["status"]["keyName"]}})
    obj = aws_setup.objects.wait_request("mine", "False", "StatusTampered")
    assert "not a key name keyfob derives for this request" in aws_setup.objects.ready_condition(obj)["message"]
    wait_for(lambda: events(aws_setup, "mine", "StatusTampered"), 30, 0.2, "a StatusTampered Warning event")
    iam = aws_setup.moto.client("iam")
    keys = iam.list_access_keys(UserName=other["status"]["keyName"])["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [other["status"]["accessKeyId"]], "other request's key replaced"
    assert aws_setup.users_for(mine["metadata"]["uid"]) == [mine["status"]["keyName"]]
    victim_untouched(aws_setup, victim)


def test_forged_previous_and_current_key_ids_revoke_nothing_foreign(
    aws_setup: AwsSetup, tenants: tuple[Tenant, Tenant], victim: tuple[str, str], leak_watch: LeakWatch,
    exclusive_operator: OperatorFactory,
) -> None:
    _, star = tenants
    # A status edit that leaves the request looking settled wakes nothing; the periodic resync finds it (short here).
    exclusive_operator.start(KEYFOB_RESYNC_SECONDS="3")
    other = ready(aws_setup, "other", leak_watch)
    mine = ready(aws_setup, "mine", leak_watch)
    # Another request's key as a "previous key" of mine: refused before any provider call.
    star.patch_status("mine", {"previousKeys": [
        {"accessKeyId": other["status"]["accessKeyId"], "keyName": other["status"]["keyName"]}]})
    aws_setup.objects.wait_request("mine", "False", "StatusTampered")
    assert code_of(lambda: s3_from(aws_setup.objects.secret_data("other-s3")).list_objects_v2(
        Bucket=aws_setup.bucket)) == "OK"
    # The victim's key id under my own key name: the id is status memory, never used to revoke.
    star.patch_status("mine", {"previousKeys": [], "accessKeyId": victim[1]})
    wait_for(lambda: (aws_setup.objects.get_request("mine") or {}).get("status", {}).get("revision") == 2, 60,
             0.3, "keyfob re-issued for its own request")
    victim_untouched(aws_setup, victim)
    assert aws_setup.users_for(mine["metadata"]["uid"]) != [], "mine still has a key of its own"


def test_secret_annotation_forgery_is_not_truth(
    aws_setup: AwsSetup, tenants: tuple[Tenant, Tenant], victim: tuple[str, str], leak_watch: LeakWatch,
    exclusive_operator: OperatorFactory,
) -> None:
    edit, _ = tenants
    exclusive_operator.start(KEYFOB_RESYNC_SECONDS="3")
    aws_setup.objects.patch_provider("aws", {"guardrails": {"maxTTL": "2h"}})
    mine = ready(aws_setup, "mine", leak_watch)
    edit.core().patch_namespaced_secret("mine-s3", aws_setup.objects.namespace, {"metadata": {"annotations": {
        "keyfob.dev/access-key-id": victim[1], "keyfob.dev/expires-at": "2099-01-01T00:00:00+00:00"}}})
    # The Secret no longer shows the current key: keyfob issues a fresh one (never adopts the annotation).
    wait_for(lambda: aws_setup.objects.get_request("mine")["status"].get("revision") == 2, 60, 0.3, "re-issued")
    status = aws_setup.objects.get_request("mine")["status"]
    leak_watch.add_secret_data(aws_setup.objects.secret_data("mine-s3"))
    iam = aws_setup.moto.client("iam")
    held = [k["AccessKeyId"] for k in iam.list_access_keys(UserName=status["keyName"])["AccessKeyMetadata"]]
    assert held == [status["accessKeyId"]], "status holds the key IAM holds, not the annotation's"
    assert status["expiresAt"] < "2099", "expiry comes from the issue, within maxTTL"
    assert mine["status"]["keyName"] not in {u["UserName"] for u in aws_setup.iam_users()}, "lost key revoked"
    victim_untouched(aws_setup, victim)


def test_colliding_bucket_patterns_are_refused_and_other_namespaces_buckets_denied(
    aws_setup: AwsSetup, tenants: tuple[Tenant, Tenant]
) -> None:
    from kubernetes.client import ApiException

    edit, _ = tenants
    with pytest.raises(ApiException) as refused:
        aws_setup.objects.patch_provider("aws", {"guardrails": {"allowedBuckets": ["{namespace}-*"]}})
    assert refused.value.status == 422
    aws_setup.objects.patch_provider("aws", {"guardrails": {"allowedBuckets": ["{namespace}.*"]}})
    foreign = f"{aws_setup.objects.namespace}-a.reports"  # a bucket of namespace '<ns>-a'
    edit.custom().create_namespaced_custom_object("keyfob.dev", "v1alpha1", aws_setup.objects.namespace,
                                                  "accesskeyrequests", {
        "apiVersion": "keyfob.dev/v1alpha1", "kind": "AccessKeyRequest", "metadata": {"name": "grab"},
        "spec": aws_setup.request_spec("grab-s3", buckets=[{"name": foreign}])})
    obj = aws_setup.objects.wait_request("grab", "False", "Denied")
    assert "allowedBuckets" in aws_setup.objects.ready_condition(obj)["message"]
    assert aws_setup.users_for(obj["metadata"]["uid"]) == []


@pytest.mark.parametrize("bypass", ["secret-lost", "rotate-requested", "provider-changed"])
def test_no_issue_reason_bypasses_approval(
    aws_setup: AwsSetup, tenants: tuple[Tenant, Tenant], test_cluster: Any, leak_watch: LeakWatch, bypass: str
) -> None:
    from tests.integration.test_guardrails import keyfob_cli

    edit, _ = tenants
    objects = aws_setup.objects
    objects.provider("aws2", objects.get_provider("aws")["spec"])
    for name in ("aws", "aws2"):
        objects.patch_provider(name, {"guardrails": {"requireApproval": True}})
    uid = objects.request("app", aws_setup.request_spec("app-s3"))["metadata"]["uid"]
    objects.wait_request("app", "False", "AwaitingApproval")
    keyfob_cli(test_cluster, "approve", "app", "-n", objects.namespace)
    first = objects.wait_request("app")
    leak_watch.add_secret_data(objects.secret_data("app-s3"))
    wider = [{"name": aws_setup.bucket}, {"name": aws_setup.other_bucket}]
    # The new scope and the trigger land together, as one hostile tenant would send them.
    if bypass == "secret-lost":
        edit.patch_request("app", {"spec": {"buckets": wider}})
        edit.core().delete_namespaced_secret("app-s3", objects.namespace)
    elif bypass == "rotate-requested":
        edit.patch_request("app", {"spec": {"buckets": wider}, "metadata": {"annotations": {"keyfob.dev/rotate": "1"}}})
    else:
        edit.patch_request("app", {"spec": {"providerRef": {"name": "aws2"}}})
    held = objects.wait_request("app", "False", "AwaitingApproval")
    assert held["status"]["revision"] == first["status"]["revision"] == 1, "a key was issued for an unapproved scope"
    assert aws_setup.users_for(uid) == [first["status"]["keyName"]]


def test_provider_switch_issues_at_the_new_provider_and_revokes_at_the_old(
    aws_setup: AwsSetup, tenants: tuple[Tenant, Tenant], leak_watch: LeakWatch
) -> None:
    edit, _ = tenants
    objects = aws_setup.objects
    objects.provider("aws2", objects.get_provider("aws")["spec"])
    first = ready(aws_setup, "app", leak_watch, rotationGracePeriod="0s")
    old = objects.secret_data("app-s3")
    edit.patch_request("app", {"spec": {"providerRef": {"name": "aws2"}}})
    wait_for(lambda: objects.get_request("app")["status"].get("revision") == 2, 60, 0.3, "issued at aws2")
    status = objects.get_request("app")["status"]
    assert status["providerRef"]["name"] == "aws2"
    new = objects.secret_data("app-s3")
    leak_watch.add_secret_data(new)
    wait_for(lambda: not objects.get_request("app")["status"].get("previousKeys"), 60, 0.3, "old key revoked")
    assert code_of(lambda: s3_from(old).list_objects_v2(Bucket=aws_setup.bucket)) == "InvalidAccessKeyId"
    assert code_of(lambda: s3_from(new).list_objects_v2(Bucket=aws_setup.bucket)) == "OK"
    assert first["status"]["keyName"] not in {u["UserName"] for u in aws_setup.iam_users()}


def test_quota_stops_one_namespace_from_exhausting_the_provider(
    aws_setup: AwsSetup, tenants: tuple[Tenant, Tenant], leak_watch: LeakWatch
) -> None:
    aws_setup.objects.patch_provider("aws", {"guardrails": {"maxKeysPerNamespace": 1}})
    ready(aws_setup, "first", leak_watch)
    uid = aws_setup.objects.request("second", aws_setup.request_spec("second-s3"))["metadata"]["uid"]
    obj = aws_setup.objects.wait_request("second", "False", "QuotaExceeded")
    assert "maxKeysPerNamespace" in aws_setup.objects.ready_condition(obj)["message"]
    assert aws_setup.users_for(uid) == []


def test_a_scope_edit_racing_an_issue_never_serves_the_older_scope(
    aws_setup: AwsSetup, exclusive_operator: OperatorFactory, leak_watch: LeakWatch
) -> None:
    objects = aws_setup.objects
    crashing = exclusive_operator.start(KEYFOB_TEST_CRASH_AT="after-provider-issue")
    uid = objects.request("app", aws_setup.request_spec("app-s3"))["metadata"]["uid"]
    wait_for(lambda: crashing.wait_exit(0.2) is not None, 60, 0.1, "crash after the provider issued")
    # The key at IAM was written for the first scope; the spec moves on while the operator is down.
    objects.patch_request("app", {"spec": {"buckets": [{"name": aws_setup.other_bucket}]}})
    exclusive_operator.start()
    obj = objects.wait_request("app")
    data = objects.secret_data("app-s3")
    leak_watch.add_secret_data(data)
    assert code_of(lambda: s3_from(data).list_objects_v2(Bucket=aws_setup.other_bucket)) == "OK"
    assert code_of(lambda: s3_from(data).list_objects_v2(Bucket=aws_setup.bucket)) == "AccessDenied"
    from keyfob.api.request import AccessKeyRequestSpec
    from keyfob.lifecycle.fingerprint import scope_hash

    assert obj["status"]["scopeHash"] == scope_hash(AccessKeyRequestSpec.model_validate(obj["spec"]))
    assert aws_setup.users_for(uid) == [obj["status"]["keyName"]]


@pytest.mark.parametrize("ttl", ["0s", "1m", "299s", "99999999999d"])
def test_lifetimes_below_the_minimum_or_absurd_are_refused_at_the_api_server(aws_setup: AwsSetup, ttl: str) -> None:
    from kubernetes.client import ApiException

    with pytest.raises(ApiException) as refused:
        aws_setup.objects.request("short", aws_setup.request_spec("short-s3", ttl=ttl))
    assert refused.value.status == 422
