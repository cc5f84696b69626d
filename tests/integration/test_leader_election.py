"""Issue 16 (HA) on the real API server + moto: two operators with leader election on one Lease. The standby
makes no write while the leader lives; SIGKILL of the leader mid-issue and mid-rotation hands over within the
lease's duration and leaves exactly one live key per request, the one its Secret serves."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
from kubernetes import client

from keyfob_testbed.operator_fixtures import AwsSetup, LeakWatch, OperatorFactory
from keyfob_testbed.operator_process import OperatorProcess
from keyfob_testbed.s3_checks import code_of, s3_from
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration
LEASE = "keyfob-ha-test"
LEASE_SECONDS = 15


def elected(factory: OperatorFactory, identity: str) -> OperatorProcess:
    return factory.start(KEYFOB_LEADER_ELECTION="true", KEYFOB_LEASE_NAME=LEASE,
                         KEYFOB_LEASE_NAMESPACE=factory.namespace, KEYFOB_LEADER_IDENTITY=identity)


def lease_of(kube_api: Any, namespace: str) -> client.V1LeaseSpec | None:
    try:
        return client.CoordinationV1Api(kube_api).read_namespaced_lease(LEASE, namespace).spec
    except client.ApiException:
        return None


def holder(kube_api: Any, namespace: str) -> str | None:
    spec = lease_of(kube_api, namespace)
    return spec.holder_identity if spec else None


def ready_at(aws: AwsSetup, name: str, revision: int | None = None) -> dict[str, Any] | None:
    obj = aws.objects.get_request(name)
    status = (obj or {}).get("status") or {}
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
    if not ready or status.get("pending") or (revision is not None and status.get("revision") != revision):
        return None
    return status


def handled(process: OperatorProcess) -> int:
    """Kopf handler runs (providers) plus keyfob's own request jobs and resumes (named after their objects)."""
    text = process.log_text()
    return text.count("Handler '") + text.count("] Job: ") + text.count("] Resumed: ")


def test_standby_makes_no_write_while_the_leader_lives(
    aws_setup: AwsSetup, exclusive_operator: OperatorFactory, leak_watch: LeakWatch, kube_api: Any, namespace: str
) -> None:
    leader = elected(exclusive_operator, "ha-a")
    wait_for(lambda: holder(kube_api, namespace) == "ha-a", 30, 0.2, "ha-a holds the lease")
    standby = elected(exclusive_operator, "ha-b")
    wait_for(lambda: "standby for lease" in standby.log_text(), 30, 0.2, "ha-b is a standby")
    for i in range(3):
        aws_setup.objects.request(f"app-{i}", aws_setup.request_spec(f"app-{i}-s3"))
    for i in range(3):
        wait_for(lambda i=i: ready_at(aws_setup, f"app-{i}", 1), 60, 0.2, f"app-{i} ready")
    leak_watch.add_secret_data(aws_setup.objects.secret_data("app-0-s3"))
    assert handled(leader) > 0
    assert handled(standby) == 0, "a standby ran a Kopf handler"
    assert "leading with lease" not in standby.log_text()
    assert holder(kube_api, namespace) == "ha-a"


def test_sigkill_of_the_leader_hands_over_with_no_key_lost_or_doubled(
    aws_setup: AwsSetup, exclusive_operator: OperatorFactory, leak_watch: LeakWatch, kube_api: Any, namespace: str
) -> None:
    objects, count = aws_setup.objects, 8
    leader = elected(exclusive_operator, "ha-a")
    wait_for(lambda: holder(kube_api, namespace) == "ha-a", 30, 0.2, "ha-a holds the lease")
    standby = elected(exclusive_operator, "ha-b")
    wait_for(lambda: "standby for lease" in standby.log_text(), 30, 0.2, "ha-b is a standby")
    aws_setup.moto.reset_counts()
    spec = aws_setup.request_spec("x", rotationGracePeriod="0s")
    uids = {}
    for i in range(count // 2):
        uids[f"app-{i}"] = objects.request(f"app-{i}", {**spec, "secretName": f"app-{i}-s3"})["metadata"]["uid"]
    for i in range(count // 2):
        wait_for(lambda i=i: ready_at(aws_setup, f"app-{i}", 1), 60, 0.2, f"app-{i} ready")
    # Rotations of the first half and issues of the second half are in flight when the leader dies.
    for i in range(count // 2):
        objects.patch_request(f"app-{i}", {"metadata": {"annotations": {"keyfob.dev/rotate": "now"}}})
    for i in range(count // 2, count):
        uids[f"app-{i}"] = objects.request(f"app-{i}", {**spec, "secretName": f"app-{i}-s3"})["metadata"]["uid"]
    wait_for(lambda: aws_setup.moto.iam_write_actions().count("CreateUser") >= count // 2 + 1, 30, 0.05,
             "issuing under way")
    leader.kill()
    last = lease_of(kube_api, namespace)
    assert last is not None and last.holder_identity == "ha-a"
    wait_for(lambda: holder(kube_api, namespace) == "ha-b", 2 * LEASE_SECONDS + 10, 0.1, "ha-b takes the lease")
    taken = lease_of(kube_api, namespace)
    assert taken is not None
    expiry: datetime = last.renew_time + _seconds(last.lease_duration_seconds)
    takeover = (taken.acquire_time - expiry).total_seconds()
    print(f"takeover {takeover:.2f} s after the lease expired (last renewal {last.renew_time.isoformat()}, "
          f"acquired {taken.acquire_time.isoformat()})")
    assert takeover <= 15, f"takeover {takeover:.2f} s after lease expiry"

    finals = {}
    for name in uids:
        target = 2 if int(name.split("-")[1]) < count // 2 else 1
        finals[name] = wait_for(lambda n=name, t=target: ready_at(aws_setup, n, t), 90, 0.2, f"{name} at {target}")
    for name, uid in uids.items():
        data = objects.secret_data(f"{name}-s3")
        leak_watch.add_secret_data(data)
        assert data["AWS_ACCESS_KEY_ID"] == finals[name]["accessKeyId"]
        wait_for(lambda uid=uid: len(aws_setup.users_for(uid)) == 1, 30, 0.2, f"one IAM user for {name}")
        iam = aws_setup.moto.client("iam")
        keys = {k["AccessKeyId"] for u in aws_setup.users_for(uid)
                for k in iam.list_access_keys(UserName=u)["AccessKeyMetadata"]}
        assert keys == {finals[name]["accessKeyId"]}, f"{name}: the provider holds exactly the served key"
        assert code_of(lambda d=data: s3_from(d).list_objects_v2(Bucket=aws_setup.bucket)) == "OK"
    writes = aws_setup.moto.iam_write_actions()
    print(f"IAM writes across the handover: CreateUser {writes.count('CreateUser')}, "
          f"CreateAccessKey {writes.count('CreateAccessKey')}, DeleteUser {writes.count('DeleteUser')}")
    assert handled(standby) > 0 and "leading with lease" in standby.log_text()


def _seconds(value: int | None) -> Any:
    from datetime import timedelta

    return timedelta(seconds=value or LEASE_SECONDS)


def test_lost_lease_stops_writes_and_exits(
    aws_setup: AwsSetup, exclusive_operator: OperatorFactory, leak_watch: LeakWatch, kube_api: Any, namespace: str
) -> None:
    """Someone else takes the lease (as after a network partition): the old leader fences itself and exits."""
    leader = elected(exclusive_operator, "ha-a")
    wait_for(lambda: holder(kube_api, namespace) == "ha-a", 30, 0.2, "ha-a holds the lease")
    coordination = client.CoordinationV1Api(kube_api)
    lease = coordination.read_namespaced_lease(LEASE, namespace)
    lease.spec.holder_identity = "intruder"
    lease.spec.renew_time = lease.spec.acquire_time = datetime.now().astimezone()
    lease.spec.lease_duration_seconds = 3600
    coordination.replace_namespaced_lease(LEASE, namespace, lease)
    started = time.monotonic()
    code = wait_for(lambda: leader.wait_exit(0.2), 30, 0.1, "the old leader exits")
    assert code == 3 and time.monotonic() - started < 15
    assert "lost lease" in leader.log_text()
