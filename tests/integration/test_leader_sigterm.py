"""Issue 16 (HA) on the real API server: SIGTERM of the leader (a rolling update, a drain) hands the Lease over at
once. The leader exits promptly, releasing its Lease, and the standby takes it without waiting for it to expire."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client

from keyfob_testbed.operator_fixtures import AwsSetup, LeakWatch, OperatorFactory
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration
LEASE = "keyfob-sigterm-test"
LEASE_SECONDS = 15


def holder(kube_api: Any, namespace: str) -> str | None:
    try:
        return client.CoordinationV1Api(kube_api).read_namespaced_lease(LEASE, namespace).spec.holder_identity
    except client.ApiException:
        return None


def test_sigterm_of_the_leader_releases_the_lease_and_the_standby_takes_over_at_once(
    aws_setup: AwsSetup, exclusive_operator: OperatorFactory, leak_watch: LeakWatch, kube_api: Any, namespace: str
) -> None:
    election = {"KEYFOB_LEADER_ELECTION": "true", "KEYFOB_LEASE_NAME": LEASE, "KEYFOB_LEASE_NAMESPACE": namespace,
                "KEYFOB_LEASE_DURATION_SECONDS": str(LEASE_SECONDS)}
    leader = exclusive_operator.start(**election, KEYFOB_LEADER_IDENTITY="term-a")
    wait_for(lambda: holder(kube_api, namespace) == "term-a", 30, 0.2, "term-a leads")
    standby = exclusive_operator.start(**election, KEYFOB_LEADER_IDENTITY="term-b")
    wait_for(lambda: "standby for lease" in standby.log_text(), 30, 0.2, "term-b is a standby")
    aws_setup.objects.request("app", aws_setup.request_spec("app-s3"))
    aws_setup.objects.wait_request("app")  # the leader is busy with Kopf's executor, as in production

    assert leader.process is not None
    started = time.monotonic()
    leader.process.signal(15)  # SIGTERM, as the kubelet sends it
    wait_for(lambda: leader.wait_exit(0.2) is not None, 2 * LEASE_SECONDS, 0.1, "the leader to exit on SIGTERM")
    code = leader.wait_exit(0)
    exited = time.monotonic() - started
    wait_for(lambda: holder(kube_api, namespace) == "term-b", 2 * LEASE_SECONDS, 0.1, "term-b takes the lease")
    taken = time.monotonic() - started
    print(f"SIGTERM: the leader exited after {exited:.1f} s (code {code}), the standby led after {taken:.1f} s")
    assert code == 0
    # Kopf's own shutdown takes about 5 s; the Lease must change hands well before it would have expired.
    assert exited < 10, "the leader did not exit promptly on SIGTERM"
    assert taken < LEASE_SECONDS, "the standby waited for the lease to expire: it was not released"
    aws_setup.objects.patch_request("app", {"metadata": {"annotations": {"keyfob.dev/rotate": "after-handover"}}})
    wait_for(lambda: ((aws_setup.objects.get_request("app") or {}).get("status") or {}).get("revision") == 2, 60,
             0.2, "the new leader rotates")
    leak_watch.add_secret_data(aws_setup.objects.secret_data("app-s3"))
