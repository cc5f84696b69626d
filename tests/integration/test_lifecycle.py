"""Issue 4 on the real API server + moto: rotation with overlap, rotate-now, spec changes, restart without
provider writes, crash safety at every write, and the orphan sweep."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

from keyfob_testbed.operator_fixtures import AwsSetup, LeakWatch, OperatorFactory
from keyfob_testbed.s3_checks import code_of, s3_from
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration


def status_of(aws: AwsSetup, name: str) -> dict[str, Any]:
    obj = aws.objects.get_request(name)
    assert obj is not None
    return obj.get("status") or {}


def live_access_keys(aws: AwsSetup, uid: str) -> set[str]:
    iam = aws.moto.client("iam")
    return {k["AccessKeyId"] for user in aws.users_for(uid)
            for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}


def wait_revision(aws: AwsSetup, name: str, revision: int, timeout: float = 60) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        status = status_of(aws, name)
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
        return status if ready and status.get("revision") == revision and not status.get("pending") else None

    return wait_for(check, timeout, 0.2, f"{name} at revision {revision}")


def test_short_ttl_rotates_on_time_with_overlap(aws_setup: AwsSetup, leak_watch: LeakWatch) -> None:
    objects = aws_setup.objects
    spec = aws_setup.request_spec("app-s3", ttl="5m", renewBefore="4m30s", rotationGracePeriod="10s")
    objects.request("app", spec)
    first = wait_revision(aws_setup, "app", 1)
    old = objects.secret_data("app-s3")
    leak_watch.add_secret_data(old)

    second = wait_revision(aws_setup, "app", 2, timeout=60)
    new = objects.secret_data("app-s3")
    leak_watch.add_secret_data(new)
    assert new["AWS_ACCESS_KEY_ID"] == second["accessKeyId"] != first["accessKeyId"]
    assert [k["accessKeyId"] for k in second["previousKeys"]] == [first["accessKeyId"]]
    assert code_of(lambda: s3_from(new).list_objects_v2(Bucket=aws_setup.bucket)) == "OK"
    assert code_of(lambda: s3_from(old).list_objects_v2(Bucket=aws_setup.bucket)) == "OK", "grace period"

    def first_revoked() -> bool:
        previous = status_of(aws_setup, "app").get("previousKeys") or []
        return first["accessKeyId"] not in {k["accessKeyId"] for k in previous}

    wait_for(first_revoked, 60, 0.2, "first key revoked after its grace period")
    assert code_of(lambda: s3_from(old).list_objects_v2(Bucket=aws_setup.bucket)) == "InvalidAccessKeyId"
    assert code_of(lambda: s3_from(new).list_objects_v2(Bucket=aws_setup.bucket)) == "OK"


def test_rotate_now_makes_exactly_one_new_key(aws_setup: AwsSetup, leak_watch: LeakWatch, test_cluster: Any) -> None:
    objects = aws_setup.objects
    uid = objects.request("app", aws_setup.request_spec("app-s3", rotationGracePeriod="0s"))["metadata"]["uid"]
    first = wait_revision(aws_setup, "app", 1)
    env = {**os.environ, "KUBECONFIG": str(test_cluster.kubeconfig)}
    done = subprocess.run([sys.executable, "-m", "keyfob", "rotate", "app", "-n", objects.namespace], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    assert "rotation requested" in done.stdout
    second = wait_revision(aws_setup, "app", 2)
    assert second["rotateRequestHandled"] and second["accessKeyId"] != first["accessKeyId"]
    wait_for(lambda: live_access_keys(aws_setup, uid) == {second["accessKeyId"]}, 30, 0.2, "one live key")

    # An unrelated spec change is reconciled without acting on the (already handled) annotation again.
    objects.patch_request("app", {"spec": {"secretTemplate": {"labels": {"team": "a"}}}})
    wait_for(lambda: status_of(aws_setup, "app").get("observedGeneration") == 2, 30, 0.2, "generation 2 seen")
    assert status_of(aws_setup, "app")["revision"] == 2
    leak_watch.add_secret_data(objects.secret_data("app-s3"))


def test_bucket_change_reissues_and_template_change_only_rerenders(
    aws_setup: AwsSetup, leak_watch: LeakWatch
) -> None:
    objects = aws_setup.objects
    objects.request("app", aws_setup.request_spec("app-s3", rotationGracePeriod="1h"))
    first = wait_revision(aws_setup, "app", 1)

    objects.patch_request("app", {"spec": {"secretTemplate": {"labels": {"team": "a"}},
                                           "secretFormats": ["env", "awsFiles"]}})
    wait_for(lambda: "credentials" in objects.secret_data("app-s3"), 30, 0.2, "awsFiles rendered")
    assert objects.secret("app-s3").metadata.labels["team"] == "a"
    assert status_of(aws_setup, "app")["revision"] == 1
    assert objects.secret_data("app-s3")["AWS_ACCESS_KEY_ID"] == first["accessKeyId"]
    old = objects.secret_data("app-s3")
    leak_watch.add_secret_data(old)

    objects.patch_request("app", {"spec": {"buckets": [{"name": aws_setup.other_bucket}]}})
    second = wait_revision(aws_setup, "app", 2)
    new = objects.secret_data("app-s3")
    leak_watch.add_secret_data(new)
    assert new["BUCKET_NAME"] == aws_setup.other_bucket and "credentials" in new
    assert code_of(lambda: s3_from(new).list_objects_v2(Bucket=aws_setup.other_bucket)) == "OK"
    assert code_of(lambda: s3_from(new).list_objects_v2(Bucket=aws_setup.bucket)) == "AccessDenied"
    assert code_of(lambda: s3_from(old).list_objects_v2(Bucket=aws_setup.bucket)) == "OK", "in its grace period"
    assert [k["accessKeyId"] for k in second["previousKeys"]] == [first["accessKeyId"]]


def test_restart_with_ready_requests_makes_zero_provider_writes(
    aws_setup: AwsSetup, exclusive_operator: OperatorFactory, leak_watch: LeakWatch
) -> None:
    objects = aws_setup.objects
    operator = exclusive_operator.start()
    count = 50
    for i in range(count):
        objects.request(f"app-{i}", aws_setup.request_spec(f"app-{i}-s3"))
    for i in range(count):
        wait_revision(aws_setup, f"app-{i}", 1, timeout=120)
    operator.stop()
    aws_setup.moto.reset_counts()

    restarted = exclusive_operator.start()

    def all_resumed() -> bool:
        return restarted.log_text().count("Resumed: settled, nothing due") >= count

    wait_for(all_resumed, 120, 0.5, f"{count} requests resumed")
    assert aws_setup.moto.iam_write_actions() == []
    leak_watch.add_secret_data(objects.secret_data("app-0-s3"))


ISSUE_POINTS = ["after-pending", "after-provider-issue", "after-secret-write"]


@pytest.mark.parametrize("point", ISSUE_POINTS)
@pytest.mark.parametrize("phase", ["issue", "rotate"])
def test_crash_at_each_write_leaves_exactly_the_served_key(
    aws_setup: AwsSetup, exclusive_operator: OperatorFactory, leak_watch: LeakWatch, point: str, phase: str
) -> None:
    objects = aws_setup.objects
    spec = aws_setup.request_spec("app-s3", rotationGracePeriod="0s")
    if phase == "rotate":
        operator = exclusive_operator.start()
        uid = objects.request("app", spec)["metadata"]["uid"]
        wait_revision(aws_setup, "app", 1)
        operator.stop()
        crashing = exclusive_operator.start(KEYFOB_TEST_CRASH_AT=point)
        objects.patch_request("app", {"metadata": {"annotations": {"keyfob.dev/rotate": "now"}}})
        target = 2
    else:
        crashing = exclusive_operator.start(KEYFOB_TEST_CRASH_AT=point)
        uid = objects.request("app", spec)["metadata"]["uid"]
        target = 1
    assert wait_for(lambda: crashing.wait_exit(0.2) is not None, 60, 0.1, f"crash at {point}") is not None
    assert crashing.process is not None and crashing.process.returncode == -9

    exclusive_operator.start()
    final = wait_revision(aws_setup, "app", target)
    data = objects.secret_data("app-s3")
    leak_watch.add_secret_data(data)
    assert data["AWS_ACCESS_KEY_ID"] == final["accessKeyId"]
    wait_for(lambda: live_access_keys(aws_setup, uid) == {final["accessKeyId"]}, 30, 0.2,
             "the provider holds exactly the key the Secret serves")
    assert code_of(lambda: s3_from(data).list_objects_v2(Bucket=aws_setup.bucket)) == "OK"


def test_crash_during_revocation_on_delete_still_revokes(
    aws_setup: AwsSetup, exclusive_operator: OperatorFactory, leak_watch: LeakWatch
) -> None:
    objects = aws_setup.objects
    operator = exclusive_operator.start()
    uid = objects.request("app", aws_setup.request_spec("app-s3"))["metadata"]["uid"]
    wait_revision(aws_setup, "app", 1)
    data = objects.secret_data("app-s3")
    leak_watch.add_secret_data(data)
    operator.stop()
    crashing = exclusive_operator.start(KEYFOB_TEST_CRASH_AT="after-provider-revoke")
    objects.delete_request("app")
    wait_for(lambda: crashing.wait_exit(0.2) is not None, 60, 0.1, "crash during revocation")
    assert objects.get_request("app") is not None, "the finalizer holds the request"

    exclusive_operator.start()
    objects.wait_gone("app")
    assert aws_setup.users_for(uid) == []
    assert code_of(lambda: s3_from(data).list_objects_v2(Bucket=aws_setup.bucket)) == "InvalidAccessKeyId"


def test_deletion_policy_retain_keeps_key_and_secret(aws_setup: AwsSetup, leak_watch: LeakWatch) -> None:
    objects = aws_setup.objects
    # IAM keys never expire by themselves: a retained one outlives keyfob's control, so only a provider whose
    # admin allowed it may retain.
    objects.request("denied", aws_setup.request_spec("denied-s3", deletionPolicy="Retain"))
    obj = objects.wait_request("denied", "False", "Denied")
    assert "allowRetain" in objects.ready_condition(obj)["message"]
    assert aws_setup.users_for(obj["metadata"]["uid"]) == []
    objects.patch_provider("aws", {"guardrails": {"allowRetain": True}})
    uid = objects.request("app", aws_setup.request_spec("app-s3", deletionPolicy="Retain"))["metadata"]["uid"]
    wait_revision(aws_setup, "app", 1)
    data = objects.secret_data("app-s3")
    leak_watch.add_secret_data(data)
    objects.delete_request("app")
    objects.wait_gone("app")
    assert objects.secret("app-s3").metadata.owner_references in (None, [])
    assert aws_setup.users_for(uid)
    assert code_of(lambda: s3_from(data).list_objects_v2(Bucket=aws_setup.bucket)) == "OK"


def test_orphan_sweep_revokes_only_keyfobs_unheld_keys(
    aws_setup: AwsSetup, exclusive_operator: OperatorFactory, leak_watch: LeakWatch
) -> None:
    objects = aws_setup.objects
    iam = aws_setup.moto.client("iam")
    orphan_uid = str(uuid.uuid4())
    orphan = f"kf-{orphan_uid}-r1"  # what keyfob leaves when a request vanished behind its back
    foreign_name = f"someone-{uuid.uuid4().hex[:8]}"
    foreign_path = f"kf-{uuid.uuid4()}-r1"
    look_alike = f"kf-{uuid.uuid4()}-r1"  # keyfob's name and path, but IAM's record does not say keyfob made it
    iam.create_user(UserName=orphan, Path="/keyfob/default/", Tags=[
        {"Key": "keyfob.dev/cluster", "Value": "default"}, {"Key": "keyfob.dev/uid", "Value": orphan_uid}])
    iam.create_access_key(UserName=orphan)
    iam.create_user(UserName=look_alike, Path="/keyfob/default/")
    iam.create_user(UserName=foreign_name, Path="/keyfob/default/")
    iam.create_user(UserName=foreign_path, Path="/keyfob/other-cluster/")
    objects.request("held", aws_setup.request_spec("held-s3"))

    exclusive_operator.start(KEYFOB_SWEEP_INITIAL_DELAY="2", KEYFOB_SWEEP_SECONDS="2")
    held = wait_revision(aws_setup, "held", 1)
    leak_watch.add_secret_data(objects.secret_data("held-s3"))

    def orphan_gone() -> bool:
        return orphan not in {u["UserName"] for u in aws_setup.iam_users()}

    wait_for(orphan_gone, 60, 0.5, "orphan revoked by the sweep")
    names = {u["UserName"] for u in aws_setup.iam_users()}
    assert foreign_name in names and foreign_path in names
    assert look_alike in names, "a user keyfob cannot prove it made is never revoked"
    assert held["keyName"] in names
    wait_for(lambda: any(e.reason == "OrphanRevoked" for e in objects.core.list_namespaced_event(
        objects.namespace, field_selector="involvedObject.name=aws").items), 30, 0.2, "an OrphanRevoked event")
