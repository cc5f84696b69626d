"""Issue 16 (HA) on the real API server + moto: the kube-apiserver process stops in the middle of issuing 20 keys
and rotating 5 (etcd keeps running, so the data survives) and starts again on the same port. Every request ends
Ready at its expected revision, the provider holds exactly the keys the statuses serve (the rotated ones keep their
previous key in grace), and no key was issued twice."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client

from keyfob_testbed.envtest import TestCluster
from keyfob_testbed.operator_fixtures import AwsSetup, LeakWatch, OperatorFactory
from keyfob_testbed.s3_checks import code_of, s3_from
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration
ISSUED, ROTATED = 20, 5
LEASE = "keyfob-restart-test"
# What a client of a stopped API server sees (aiohttp for Kopf, urllib3 for keyfob's own calls).
UNREACHABLE = re.compile(r"Connection refused|Cannot connect to host|ConnectionRefusedError|Max retries exceeded")


def ready_at(aws: AwsSetup, name: str, revision: int) -> dict[str, Any] | None:
    status = (aws.objects.get_request(name) or {}).get("status") or {}
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
    return status if ready and not status.get("pending") and status.get("revision") == revision else None


def holder(kube_api: Any, namespace: str) -> str | None:
    try:
        return client.CoordinationV1Api(kube_api).read_namespaced_lease(LEASE, namespace).spec.holder_identity
    except client.ApiException:
        return None


@pytest.fixture
def restartable(test_cluster: TestCluster) -> TestCluster:
    if test_cluster.source == "existing":
        pytest.skip("the test bed cannot restart an existing cluster's API server")
    return test_cluster


def issue_and_rotate_across_a_restart(
    aws: AwsSetup, cluster: TestCluster, leak_watch: LeakWatch, while_down: Callable[[], object]
) -> list[str]:
    """Issue ROTATED requests, then rotate them and issue ISSUED more; stop the API server mid-way, call
    `while_down`, start it again. Checks every request's end state; returns the IAM writes since the rotations."""
    objects, moto = aws.objects, aws.moto
    originals = {}
    for i in range(ROTATED):
        objects.request(f"rot-{i}", aws.request_spec(f"rot-{i}-s3"))
    for i in range(ROTATED):
        originals[f"rot-{i}"] = wait_for(lambda i=i: ready_at(aws, f"rot-{i}", 1), 60, 0.2, f"rot-{i} ready")
    moto.reset_counts()

    for i in range(ROTATED):
        objects.patch_request(f"rot-{i}", {"metadata": {"annotations": {"keyfob.dev/rotate": "across-restart"}}})
    for i in range(ISSUED):
        objects.request(f"new-{i}", aws.request_spec(f"new-{i}-s3"))
    wait_for(lambda: moto.iam_write_actions().count("CreateUser") >= 4, 60, 0.05, "issuing under way")
    before_stop = moto.iam_write_actions().count("CreateUser")
    stopped_at = time.monotonic()
    # The API server stops listening about 1 s after SIGTERM, but with clients' watches open its process lingers
    # until the SIGKILL: 5 s of grace instead of the test bed's 15 s keeps the test short.
    stopping = cluster.stop_apiserver(timeout=5)
    while_down()
    startup = cluster.start_apiserver()
    down = time.monotonic() - stopped_at
    print(f"API server down {down:.1f} s (SIGTERM to exit {stopping:.1f} s, start to /readyz {startup:.1f} s); "
          f"{before_stop} of {ISSUED + ROTATED} IAM users created when it was stopped")
    assert before_stop < ISSUED + ROTATED, "everything was issued before the API server stopped: nothing was tested"

    expected = {**{f"rot-{i}": 2 for i in range(ROTATED)}, **{f"new-{i}": 1 for i in range(ISSUED)}}
    started = time.monotonic()
    finals = {name: wait_for(lambda n=name, r=rev: ready_at(aws, n, r), 90, 0.2, f"{name} at revision {rev}")
              for name, rev in expected.items()}
    print(f"all {len(expected)} requests Ready at their revisions {time.monotonic() - started:.1f} s after restart")

    iam = moto.client("iam")
    for name, status in finals.items():
        uid = (objects.get_request(name) or {})["metadata"]["uid"]
        previous = [k["accessKeyId"] for k in status.get("previousKeys", [])]
        if name.startswith("rot-"):
            assert previous == [originals[name]["accessKeyId"]], f"{name}: the original key is the one in grace"
        else:
            assert previous == []
        users = aws.users_for(uid)  # the AWS adapter: one IAM user per revision, one key per user
        keys = [k["AccessKeyId"] for u in users for k in iam.list_access_keys(UserName=u)["AccessKeyMetadata"]]
        assert sorted(keys) == sorted([status["accessKeyId"], *previous]), f"{name}: provider holds the served keys"
        data = objects.secret_data(f"{name}-s3")
        leak_watch.add_secret_data(data)
        assert data["AWS_ACCESS_KEY_ID"] == status["accessKeyId"], f"{name}: the Secret serves the current key"
    assert code_of(lambda: s3_from(objects.secret_data("new-0-s3")).list_objects_v2(Bucket=aws.bucket)) == "OK"
    writes = moto.iam_write_actions()
    print(f"IAM writes across the restart: CreateUser {writes.count('CreateUser')}, "
          f"CreateAccessKey {writes.count('CreateAccessKey')}, DeleteAccessKey {writes.count('DeleteAccessKey')}, "
          f"DeleteUser {writes.count('DeleteUser')}")
    assert "DeleteUser" not in writes, "a user was deleted: the rotated ones keep their previous key in grace"
    return writes


def test_apiserver_restart_mid_issue_and_rotation_loses_and_doubles_nothing(
    aws_setup: AwsSetup, exclusive_operator: OperatorFactory, leak_watch: LeakWatch, restartable: TestCluster
) -> None:
    operator = exclusive_operator.start()
    offset = len(operator.log_text())
    writes = issue_and_rotate_across_a_restart(
        aws_setup, restartable, leak_watch,
        lambda: wait_for(lambda: UNREACHABLE.search(operator.log_text()[offset:]), 60, 0.2,
                         "the operator to hit the stopped API server"))
    # The operator lived through the outage: a write that failed after the provider's answer is retried with the
    # key already issued, so each key is created exactly once and none is replaced.
    assert writes.count("CreateAccessKey") == ISSUED + ROTATED, "a key was issued twice (or one is missing)"
    assert writes.count("CreateUser") == ISSUED + ROTATED
    assert "DeleteAccessKey" not in writes
    assert operator.alive()


def test_apiserver_restart_longer_than_the_renew_deadline_hands_over_to_the_standby(
    aws_setup: AwsSetup, exclusive_operator: OperatorFactory, leak_watch: LeakWatch, restartable: TestCluster,
    kube_api: Any, namespace: str,
) -> None:
    """With leader election the leader cannot renew while the API server is down: it fences itself and exits
    (code 3, the pod restarts as a standby) once the renew deadline passes. The standby takes the Lease when the
    API server is back and finishes the leader's work."""
    election = {"KEYFOB_LEADER_ELECTION": "true", "KEYFOB_LEASE_NAME": LEASE, "KEYFOB_LEASE_NAMESPACE": namespace}
    leader = exclusive_operator.start(**election, KEYFOB_LEADER_IDENTITY="restart-a")
    wait_for(lambda: holder(kube_api, namespace) == "restart-a", 30, 0.2, "restart-a leads")
    standby = exclusive_operator.start(**election, KEYFOB_LEADER_IDENTITY="restart-b")
    wait_for(lambda: "standby for lease" in standby.log_text(), 30, 0.2, "restart-b is a standby")
    codes: list[int | None] = []
    writes = issue_and_rotate_across_a_restart(
        aws_setup, restartable, leak_watch,
        lambda: codes.append(wait_for(lambda: leader.wait_exit(0.2), 40, 0.1, "the leader to give up its lease")))
    assert codes == [3] and "lost lease" in leader.log_text()
    assert holder(kube_api, namespace) == "restart-b" and standby.alive()
    # Issues the leader had under way when it stopped are finished by the standby under their pending names: the
    # provider replaces such a key (its secret died with the leader). Every replacement deletes exactly the key it
    # replaced, so the keys left are the served ones (checked above) and the count balances.
    replaced = writes.count("DeleteAccessKey")
    print(f"the standby replaced {replaced} keys the leader had issued but not finished")
    assert writes.count("CreateAccessKey") == ISSUED + ROTATED + replaced
