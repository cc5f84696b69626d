"""The operator's pod is killed in the middle of issuing (its container SIGKILLed, then the pod deleted): the
pod that replaces it finishes every request with exactly one key each, and a pod that starts over settled
requests makes zero provider writes (moto's request recorder counts IAM writes)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from keyfob_testbed.e2e import Release, Target, wait_ready_pod
from keyfob_testbed.operator_fixtures import LeakWatch
from keyfob_testbed.waiting import wait_for

from .conftest import AwsWorld

pytestmark = pytest.mark.e2e
COUNT = 16


def operator_pod(target: Target, release: Release) -> Any:
    return wait_ready_pod(target, release.namespace, release.selector, timeout=180)


def ready_names(world: AwsWorld) -> set[str]:
    items = world.objects.custom.list_namespaced_custom_object(
        "keyfob.dev", "v1alpha1", world.namespace, "accesskeyrequests")["items"]
    return {i["metadata"]["name"] for i in items if (c := world.objects.ready_condition(i)) and c["status"] == "True"}


def restart_count(target: Target, release: Release, pod: str) -> int:
    status = client.CoreV1Api(target.api()).read_namespaced_pod(pod, release.namespace).status
    return sum(c.restart_count for c in status.container_statuses or [])


def test_killed_mid_issue_resumes_without_duplicates_and_restarts_for_free(
    e2e_target: Target, keyfob_release: Release, aws_world: AwsWorld, e2e_secrets: LeakWatch
) -> None:
    core = client.CoreV1Api(e2e_target.api())
    objects = aws_world.objects
    pod = operator_pod(e2e_target, keyfob_release)
    for i in range(COUNT):
        objects.request(f"app-{i}", aws_world.request_spec(f"app-{i}-s3"))

    # as soon as some requests are issued and others not yet: kill the container, then delete the pod
    ready_at_kill = wait_for(lambda: (n := len(ready_names(aws_world))) > 0 and n, 90, 0.05, "a first key issued")
    killed = e2e_target.kill_container(pod.status.container_statuses[0].container_id)
    assert ready_at_kill < COUNT, f"all {COUNT} issued before the kill: the test proves nothing"
    if killed:
        wait_for(lambda: restart_count(e2e_target, keyfob_release, pod.metadata.name) >= 1, 60, 0.2,
                 "the kubelet restarted the killed container")
    core.delete_namespaced_pod(pod.metadata.name, keyfob_release.namespace)
    replacement = wait_ready_pod(e2e_target, keyfob_release.namespace, keyfob_release.selector,
                                 exclude=(pod.metadata.name,))

    wait_for(lambda: len(ready_names(aws_world)) == COUNT, 180, 0.5, f"all {COUNT} requests Ready")
    users = aws_world.keyfob_users()
    iam = aws_world.moto.client("iam")
    for i in range(COUNT):
        request = objects.get_request(f"app-{i}")
        assert request is not None
        mine = [u["UserName"] for u in users if request["metadata"]["uid"] in u["UserName"]]
        assert len(mine) == 1, f"app-{i}: {mine}"
        keys = [k["AccessKeyId"] for k in iam.list_access_keys(UserName=mine[0])["AccessKeyMetadata"]]
        data = objects.secret_data(f"app-{i}-s3")
        e2e_secrets.add_secret_data(data)
        assert keys == [request["status"]["accessKeyId"]] == [data["AWS_ACCESS_KEY_ID"]], f"app-{i}"

    # a pod that starts over settled requests writes nothing at the provider
    aws_world.moto.reset_counts()
    core.delete_namespaced_pod(replacement.metadata.name, keyfob_release.namespace)
    fresh = wait_ready_pod(e2e_target, keyfob_release.namespace, keyfob_release.selector,
                           exclude=(pod.metadata.name, replacement.metadata.name))

    def resumed() -> bool:
        log = e2e_target.pod_log(keyfob_release.namespace, fresh.metadata.name)
        lines = [line for line in log.splitlines() if "Resumed: settled, nothing due" in line]
        return sum(1 for line in lines if aws_world.namespace in line) >= COUNT

    wait_for(resumed, 120, 0.5, f"the fresh pod resumed all {COUNT} requests")
    assert aws_world.moto.iam_write_actions() == []
