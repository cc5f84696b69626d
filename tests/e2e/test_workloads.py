"""Workloads consume the Secret as users do, from inside their pods: one Deployment with `envFrom`, one with the
Secret mounted as files (`~/.aws`, rclone.conf). Through a rotation the mounted files change in place and that
pod keeps working; `restartTargets` rolls the env-var Deployment once and its new pods work; the old key fails
once the grace period is over.

The pods print one line per round trip (`OK <access key id> <n>` or `FAIL ...`, never a secret); the test reads
them from the pod logs and checks the objects they wrote in the bucket."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from kubernetes import client

from keyfob_testbed.e2e import Target, wait_ready_pod
from keyfob_testbed.operator_fixtures import LeakWatch
from keyfob_testbed.waiting import wait_for

from .conftest import TIMINGS, AwsWorld

pytestmark = pytest.mark.e2e
GRACE_SECONDS = 75

#: What a failing round trip prints: the error's class, never the request (it is signed with the secret).
ERRORS = "AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|Forbidden|403|Could not connect|[A-Za-z]*Error[^:]*"

ENV_LOOP = r"""
n=0
while :; do
  n=$((n+1))
  if echo "$POD_NAME $n" | aws --endpoint-url "$AWS_ENDPOINT_URL" s3 cp - "s3://$BUCKET_NAME/env/$POD_NAME-$n" \
       2>/tmp/err >/dev/null \
     && aws --endpoint-url "$AWS_ENDPOINT_URL" s3 cp "s3://$BUCKET_NAME/env/$POD_NAME-$n" - 2>>/tmp/err >/dev/null
  then echo "OK $AWS_ACCESS_KEY_ID $n"
  else echo "FAIL $AWS_ACCESS_KEY_ID $n $(grep -o -m1 -E "$ERRORS" /tmp/err)"
  fi
  sleep 1
done
"""

FILES_LOOP = r"""
n=0
while :; do
  n=$((n+1))
  key=$(sed -n 's/^aws_access_key_id *= *//p' "$HOME/.aws/credentials")
  step=rclone-put
  if echo "$POD_NAME $n" > /tmp/probe \
     && rclone copyto /tmp/probe "keyfob:$BUCKET/files/$POD_NAME-$n" 2>/tmp/err && step=rclone-get \
     && rclone cat "keyfob:$BUCKET/files/$POD_NAME-$n" 2>>/tmp/err >/dev/null && step=aws-ls \
     && aws --endpoint-url "$S3_ENDPOINT" s3 ls "s3://$BUCKET/files/" 2>>/tmp/err >/dev/null
  then echo "OK $key $n"
  else echo "FAIL $key $n $step $(grep -o -m1 -E "$ERRORS" /tmp/err)"
  fi
  sleep 1
done
"""


def deployment(target: Target, name: str, script: str, *, env: list[dict[str, Any]] | None = None,
               env_from: str | None = None, secret_volume: str | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "app",
        "image": target.images["consumer"],
        "imagePullPolicy": "Never" if target.host_network else "IfNotPresent",
        "command": ["/bin/sh", "-c", script],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "ERRORS", "value": ERRORS}, *(env or [])],
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "allowPrivilegeEscalation": False},
    }
    pod: dict[str, Any] = {"containers": [container], "terminationGracePeriodSeconds": 1,
                           "automountServiceAccountToken": False}
    if env_from:
        container["envFrom"] = [{"secretRef": {"name": env_from}}]
    if secret_volume:
        container["volumeMounts"] = [{"name": "s3", "mountPath": "/home/app", "readOnly": True}]
        pod["volumes"] = [{"name": "s3", "secret": {"secretName": secret_volume, "items": [
            {"key": "credentials", "path": ".aws/credentials"},
            {"key": "config", "path": ".aws/config"},
            {"key": "rclone.conf", "path": ".config/rclone/rclone.conf"},
        ]}}]
        container["env"].append({"name": "HOME", "value": "/home/app"})
    if target.host_network:
        pod["hostNetwork"] = True
        pod["dnsPolicy"] = "ClusterFirstWithHostNet"
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": pod}},
    }


def log_lines(target: Target, namespace: str, pod: str) -> list[tuple[str, str]]:
    """(verdict, access key id) per round trip the pod reported, in order."""
    lines = []
    for raw in target.pod_log(namespace, pod, "app").splitlines():
        message = raw.split(" ", 3)[-1]  # CRI log format: <time> <stream> <tag> <message>
        parts = message.split()
        if parts and parts[0] in ("OK", "FAIL") and len(parts) >= 2:
            lines.append((parts[0], parts[1]))
    return lines


def ok_with(target: Target, namespace: str, pod: str, key_id: str, at_least: int = 1) -> bool:
    return sum(1 for verdict, key in log_lines(target, namespace, pod) if verdict == "OK" and key == key_id) >= at_least


def wait_ok(target: Target, namespace: str, pod: str, key_id: str, what: str, at_least: int = 1,
            timeout: float = 120) -> None:
    try:
        wait_for(lambda: ok_with(target, namespace, pod, key_id, at_least), timeout, 0.5, what)
    except AssertionError as exc:
        tail = target.pod_log(namespace, pod, "app").splitlines()[-6:]
        raise AssertionError(f"{exc}\nlast lines of {pod}:\n" + "\n".join(tail)) from None


def key_works(world: AwsWorld, access_key: str, secret_key: str) -> str:
    s3 = world.moto.client("s3", access_key=access_key, secret_key=secret_key)
    try:
        s3.list_objects_v2(Bucket=world.bucket)
        return "OK"
    except ClientError as err:
        return str(err.response.get("Error", {}).get("Code"))


def test_env_and_file_consumers_through_a_rotation(e2e_target: Target, aws_world: AwsWorld,
                                                    e2e_secrets: LeakWatch) -> None:
    objects, ns = aws_world.objects, aws_world.namespace
    apps = client.AppsV1Api(e2e_target.api())
    objects.request("app", aws_world.request_spec(
        "app-s3", secretFormats=["env", "awsFiles", "rclone"], rotationGracePeriod=f"{GRACE_SECONDS}s",
        restartTargets=[{"kind": "Deployment", "name": "env-consumer"}]))
    first = objects.wait_request("app", timeout=90)["status"]
    old = objects.secret_data("app-s3")
    e2e_secrets.add_secret_data(old)
    old_id = first["accessKeyId"]

    apps.create_namespaced_deployment(ns, deployment(e2e_target, "env-consumer", ENV_LOOP, env_from="app-s3"))
    apps.create_namespaced_deployment(ns, deployment(
        e2e_target, "files-consumer", FILES_LOOP, secret_volume="app-s3",
        env=[{"name": "BUCKET", "value": aws_world.bucket}, {"name": "S3_ENDPOINT", "value": aws_world.moto.endpoint}]))
    env_pod = wait_ready_pod(e2e_target, ns, "app=env-consumer")
    files_pod = wait_ready_pod(e2e_target, ns, "app=files-consumer")
    env_name, files_name = env_pod.metadata.name, files_pod.metadata.name
    wait_ok(e2e_target, ns, env_name, old_id, "the env pod works with the key", 2)
    wait_ok(e2e_target, ns, files_name, old_id, "the files pod works with the key", 2)
    written = aws_world.moto.client("s3").list_objects_v2(Bucket=aws_world.bucket)["Contents"]
    assert {o["Key"].split("/")[0] for o in written} == {"env", "files"}, "both pods wrote the allowed bucket"
    generation = apps.read_namespaced_deployment("env-consumer", ns).metadata.generation

    # rotate once
    rotated_at = time.monotonic()
    objects.patch_request("app", {"metadata": {"annotations": {"keyfob.dev/rotate": "e2e-1"}}})
    def rotated() -> dict[str, Any] | None:
        status: dict[str, Any] = (objects.get_request("app") or {}).get("status") or {}
        return status if status.get("accessKeyId") not in (None, old_id) else None

    second = wait_for(rotated, 90, 0.25, "a rotated key in status")
    assert second is not None
    new_id = second["accessKeyId"]
    e2e_secrets.add_secret_data(objects.secret_data("app-s3"))
    assert [k["accessKeyId"] for k in second.get("previousKeys", [])] == [old_id]

    # the mounted files change in place: the same pod, not restarted, now works with the new key
    wait_ok(e2e_target, ns, files_name, new_id, "the files pod uses the rotated key", timeout=90)
    TIMINGS["secret_refresh_in_mounted_files"] = time.monotonic() - rotated_at
    files_now = client.CoreV1Api(e2e_target.api()).read_namespaced_pod(files_name, ns)
    assert files_now.metadata.uid == files_pod.metadata.uid
    assert files_now.status.container_statuses[0].restart_count == 0

    # restartTargets rolled the env-var Deployment once; its new pod works with the new key
    new_env = wait_ready_pod(e2e_target, ns, "app=env-consumer", timeout=120, exclude=(env_name,))
    wait_ok(e2e_target, ns, new_env.metadata.name, new_id, "the new env pod works")
    TIMINGS["env_rollout_after_rotation"] = time.monotonic() - rotated_at
    rolled = apps.read_namespaced_deployment("env-consumer", ns)
    assert rolled.metadata.generation == generation + 1, "rolled exactly once"
    assert rolled.spec.template.metadata.annotations["keyfob.dev/revision"] == str(second["revision"])

    # the old key keeps working through the grace period, then fails
    assert key_works(aws_world, old["AWS_ACCESS_KEY_ID"], old["AWS_SECRET_ACCESS_KEY"]) == "OK", "in its grace"
    wait_for(lambda: key_works(aws_world, old["AWS_ACCESS_KEY_ID"], old["AWS_SECRET_ACCESS_KEY"]) != "OK",
             GRACE_SECONDS + 60, 1.0, "the old key revoked after the grace period")
    assert time.monotonic() - rotated_at >= GRACE_SECONDS - 5, "revoked before the grace period ended"

    # the file consumer never failed, before, during or after the grace period
    count = len(log_lines(e2e_target, ns, files_name))
    wait_for(lambda: len(log_lines(e2e_target, ns, files_name)) >= count + 2, 60, 0.5, "files pod after revocation")
    verdicts = log_lines(e2e_target, ns, files_name)
    assert [v for v in verdicts if v[0] == "FAIL"] == [], verdicts
    assert verdicts[-1] == ("OK", new_id)
    assert ok_with(e2e_target, ns, new_env.metadata.name, new_id, 2)
    for pod in (env_name, files_name, new_env.metadata.name):
        assert not e2e_secrets.found_in(e2e_target.pod_log(ns, pod)), f"a secret in the log of {pod}"
    apps.delete_namespaced_deployment("env-consumer", ns)
    apps.delete_namespaced_deployment("files-consumer", ns)
