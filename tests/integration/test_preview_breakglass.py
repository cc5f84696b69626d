"""Issue 19 on the real API server + moto: `keyfob preview` shows the refusal or the exact IAM policy and
creates nothing; `keyfob revoke --provider` kills the issued key at the provider and holds the request in
Suspended until lifted; lifting issues a fresh key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from keyfob_testbed.operator_fixtures import AwsSetup, LeakWatch
from keyfob_testbed.s3_checks import code_of, s3_from

pytestmark = pytest.mark.integration


def cli(test_cluster: Any, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(test_cluster.kubeconfig)}
    return subprocess.run([sys.executable, "-m", "keyfob", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def manifest(tmp_path: Path, aws: AwsSetup, name: str, **overrides: Any) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "keyfob.dev/v1alpha1", "kind": "AccessKeyRequest",
                                    "metadata": {"name": name, "namespace": aws.objects.namespace},
                                    "spec": aws.request_spec(f"{name}-s3", **overrides)}))
    return str(path)


def test_preview_shows_refusal_or_policy_and_creates_no_iam_user(
    aws_setup: AwsSetup, test_cluster: Any, tmp_path: Path
) -> None:
    aws_setup.objects.patch_provider("aws", {"guardrails": {"allowedBuckets": [aws_setup.bucket], "maxTTL": "24h"}})
    users_before = {u["UserName"] for u in aws_setup.iam_users()}
    denied = cli(test_cluster, "preview", "-f", manifest(tmp_path, aws_setup, "denied",
                                                          buckets=[{"name": aws_setup.other_bucket}], ttl="48h"))
    assert denied.returncode == 1, denied.stderr
    assert "REFUSED:     Denied" in denied.stdout and "allowedBuckets" in denied.stdout and "maxTTL" in denied.stdout
    granted = cli(test_cluster, "preview", "-f", manifest(tmp_path, aws_setup, "granted", permissions=["read"]))
    assert granted.returncode == 0, granted.stderr + granted.stdout
    out = granted.stdout
    print("PREVIEW-DENIED\n" + denied.stdout + "PREVIEW-GRANTED\n" + out)
    assert "would be granted" in out and "s3:GetObject" in out and "s3:PutObject" not in out
    assert f"arn:aws:s3:::{aws_setup.bucket}/*" in out and "aws:CurrentTime" in out
    assert "enforced by keyfob" in out
    assert aws_setup.moto.admin_secret_key not in out + denied.stdout + granted.stderr
    assert {u["UserName"] for u in aws_setup.iam_users()} == users_before
    assert aws_setup.objects.get_request("granted") is None and aws_setup.objects.get_request("denied") is None


def test_revoke_provider_kills_the_key_holds_suspended_and_lift_reissues(
    aws_setup: AwsSetup, test_cluster: Any, leak_watch: LeakWatch
) -> None:
    objects = aws_setup.objects
    uid = objects.request("app", aws_setup.request_spec("app-s3"))["metadata"]["uid"]
    first = objects.wait_request("app")
    data = objects.secret_data("app-s3")
    leak_watch.add_secret_data(data)
    assert first["status"]["grant"].startswith("IAM user ")
    assert code_of(lambda: s3_from(data).list_objects_v2(Bucket=aws_setup.bucket)) == "OK"

    ref = f"AccessKeyProvider/{objects.namespace}/aws"
    done = cli(test_cluster, "revoke", "--provider", ref, "--reason", "drill 19")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"revoked: {first['status']['accessKeyId']}" in done.stdout
    held = objects.wait_request("app", "False", "Suspended")
    assert "drill 19" in objects.ready_condition(held)["message"] and "accessKeyId" not in held["status"]
    assert aws_setup.users_for(uid) == []
    assert code_of(lambda: s3_from(data).list_objects_v2(Bucket=aws_setup.bucket)) == "InvalidAccessKeyId"
    assert any(e.reason == "Suspended" and "drill 19" in e.message for e in objects.events_for("app"))

    objects.patch_request("app", {"metadata": {"annotations": {"keyfob.dev/rotate": "try-anyway"}}})
    still = objects.wait_request("app", "False", "Suspended")  # a rotate request does not lift it
    assert still["status"]["revision"] == 1 and aws_setup.users_for(uid) == []

    lifted = cli(test_cluster, "revoke", "--provider", ref, "--lift")
    assert lifted.returncode == 0, lifted.stdout + lifted.stderr
    again = objects.wait_request("app")
    assert again["status"]["revision"] == 2 and len(aws_setup.users_for(uid)) == 1
    fresh = objects.secret_data("app-s3")
    leak_watch.add_secret_data(fresh)
    assert code_of(lambda: s3_from(fresh).list_objects_v2(Bucket=aws_setup.bucket)) == "OK"
