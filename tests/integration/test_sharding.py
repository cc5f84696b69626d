"""Issue 16 (scale-out) on the real API server + moto: two shards (`keyfob.dev/shard=a` and `=b`), each one
operator process with leader election on its own Lease (no KEYFOB_LEASE_NAME: the name comes from the shard
selector). Each shard handles only its own requests; SIGKILL of shard a leaves shard b serving, and shard a's new
request waits for shard a's return. No key is issued twice."""

from __future__ import annotations

import re
from typing import Any

import pytest
from kubernetes import client

from keyfob.api.vocabulary import GROUP, VERSION
from keyfob.config import default_lease_name
from keyfob_testbed.objects import API_VERSION, REQUESTS
from keyfob_testbed.operator_fixtures import AwsSetup, LeakWatch, OperatorFactory
from keyfob_testbed.operator_process import OperatorProcess
from keyfob_testbed.s3_checks import code_of, s3_from
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration
SHARD_LABEL = "keyfob.dev/shard"
# Short leases so a replacement of the killed shard takes over within seconds (lease > renew > 1.2 x retry).
LEASE = {"KEYFOB_LEASE_DURATION_SECONDS": "6", "KEYFOB_LEASE_RENEW_DEADLINE_SECONDS": "4",
         "KEYFOB_LEASE_RETRY_PERIOD_SECONDS": "2"}


def shard_operator(factory: OperatorFactory, shard: str, identity: str) -> OperatorProcess:
    return factory.start(KEYFOB_LEADER_ELECTION="true", KEYFOB_LEASE_NAMESPACE=factory.namespace,
                         KEYFOB_LEADER_IDENTITY=identity, KEYFOB_SHARD_SELECTOR=f"{SHARD_LABEL}={shard}", **LEASE)


def holder(kube_api: Any, namespace: str, shard: str) -> str | None:
    name = default_lease_name({SHARD_LABEL: shard})
    try:
        lease = client.CoordinationV1Api(kube_api).read_namespaced_lease(name, namespace)
    except client.ApiException:
        return None
    return str(lease.spec.holder_identity) if lease.spec.holder_identity else None


def labelled_request(aws: AwsSetup, name: str, shard: str) -> str:
    body = {"apiVersion": API_VERSION, "kind": "AccessKeyRequest",
            "metadata": {"name": name, "labels": {SHARD_LABEL: shard}},
            "spec": aws.request_spec(f"{name}-s3")}
    created = aws.objects.custom.create_namespaced_custom_object(GROUP, VERSION, aws.objects.namespace, REQUESTS,
                                                                 body)
    return str(created["metadata"]["uid"])


def ready_at(aws: AwsSetup, name: str, revision: int) -> dict[str, Any] | None:
    status = (aws.objects.get_request(name) or {}).get("status") or {}
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
    return status if ready and not status.get("pending") and status.get("revision") == revision else None


def handled_names(process: OperatorProcess, namespace: str) -> set[str]:
    """Requests this process ran a job for or resumed, from its log (`[namespace/name] Job: ...`)."""
    pattern = re.compile(rf"\[{re.escape(namespace)}/([a-z0-9-]+)\] (?:Job|Resumed): ")
    return set(pattern.findall(process.log_text()))


def test_each_shard_serves_only_its_own_requests_and_survives_the_other(
    aws_setup: AwsSetup, exclusive_operator: OperatorFactory, leak_watch: LeakWatch, kube_api: Any, namespace: str
) -> None:
    objects, moto = aws_setup.objects, aws_setup.moto
    shard_a = shard_operator(exclusive_operator, "a", "shard-a-1")
    shard_b = shard_operator(exclusive_operator, "b", "shard-b-1")
    # Each shard leads its own Lease: with one shared Lease, one shard would wait as a standby forever.
    wait_for(lambda: holder(kube_api, namespace, "a") == "shard-a-1", 30, 0.2, "shard a leads its Lease")
    wait_for(lambda: holder(kube_api, namespace, "b") == "shard-b-1", 30, 0.2, "shard b leads its Lease")
    moto.reset_counts()

    uids = {}
    for shard in ("a", "b"):
        for i in range(3):
            uids[f"{shard}-{i}"] = labelled_request(aws_setup, f"{shard}-{i}", shard)
    for name in uids:
        wait_for(lambda n=name: ready_at(aws_setup, n, 1), 60, 0.2, f"{name} ready")
    assert handled_names(shard_a, namespace) == {"a-0", "a-1", "a-2"}
    assert handled_names(shard_b, namespace) == {"b-0", "b-1", "b-2"}

    shard_a.kill()
    uids["a-new"] = labelled_request(aws_setup, "a-new", "a")
    uids["b-new"] = labelled_request(aws_setup, "b-new", "b")
    objects.patch_request("b-0", {"metadata": {"annotations": {"keyfob.dev/rotate": "while-a-is-down"}}})
    wait_for(lambda: ready_at(aws_setup, "b-new", 1), 60, 0.2, "shard b issues b-new while shard a is down")
    wait_for(lambda: ready_at(aws_setup, "b-0", 2), 60, 0.2, "shard b rotates b-0 while shard a is down")
    # Shard b did all of that; meanwhile nobody touched shard a's new request.
    a_new = objects.get_request("a-new") or {}
    assert not (a_new.get("status") or {}).get("conditions"), "a-new was handled while shard a was down"
    assert not aws_setup.users_for(uids["a-new"]), "an IAM user exists for a-new while shard a was down"
    assert "a-new" not in handled_names(shard_b, namespace)

    shard_a_again = shard_operator(exclusive_operator, "a", "shard-a-2")
    wait_for(lambda: holder(kube_api, namespace, "a") == "shard-a-2", 30, 0.2, "the new shard a takes its Lease")
    wait_for(lambda: ready_at(aws_setup, "a-new", 1), 60, 0.2, "a-new ready once shard a is back")
    assert handled_names(shard_a_again, namespace) <= {"a-0", "a-1", "a-2", "a-new"}
    assert holder(kube_api, namespace, "b") == "shard-b-1"

    iam = moto.client("iam")
    live = 0
    for name, uid in uids.items():
        status = (objects.get_request(name) or {})["status"]
        served = {status["accessKeyId"], *(k["accessKeyId"] for k in status.get("previousKeys", []))}
        # The AWS adapter issues one IAM user per revision; a rotated request keeps the previous one in grace.
        users = aws_setup.users_for(uid)
        assert len(users) == len(served), f"{name}: one IAM user per live key, got {users}"
        keys = [k["AccessKeyId"] for u in users for k in iam.list_access_keys(UserName=u)["AccessKeyMetadata"]]
        live += len(keys)
        assert sorted(keys) == sorted(served), f"{name}: the provider holds exactly the served keys"
        data = objects.secret_data(f"{name}-s3")
        leak_watch.add_secret_data(data)
        assert data["AWS_ACCESS_KEY_ID"] == status["accessKeyId"]
    assert code_of(lambda: s3_from(objects.secret_data("a-new-s3")).list_objects_v2(Bucket=aws_setup.bucket)) == "OK"
    writes = moto.iam_write_actions()
    # 8 issues and 1 rotation (b-0 keeps its previous key in grace): 9 keys created, none deleted, all live.
    assert writes.count("CreateAccessKey") == len(uids) + 1 == live, writes
    assert writes.count("CreateUser") == len(uids) + 1
    assert "DeleteAccessKey" not in writes and "DeleteUser" not in writes
