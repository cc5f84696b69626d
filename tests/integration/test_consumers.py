"""Consume it like a user: for every Secret format the real tool reads the allowed bucket using only the
mounted data (boto3 and the aws CLI, rclone, s3cmd), the metrics endpoint tells the truth after issue, rotate
and revoke, and a rotation rolls the named Deployment exactly once."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from keyfob_testbed.operator_fixtures import AwsSetup, LeakWatch, OperatorFactory
from keyfob_testbed.ports import free_ports
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration
ALL_FORMATS = ["env", "awsFiles", "rclone", "s3cmd", "cosi"]


@pytest.fixture
def mounted(aws_setup: AwsSetup, leak_watch: LeakWatch, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A request with every format; its Secret's data written out as a volume mount would show it."""
    aws_setup.moto.client("s3").put_object(Bucket=aws_setup.bucket, Key="report.csv", Body=b"a,b\n")
    aws_setup.objects.request("app", aws_setup.request_spec("app-s3", secretFormats=ALL_FORMATS))
    aws_setup.objects.wait_request("app")
    data = aws_setup.objects.secret_data("app-s3")
    leak_watch.add_secret_data(data)
    mount = tmp_path / "secret"
    mount.mkdir()
    for key, value in data.items():
        (mount / key).write_text(value)
    return mount, data


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """No AWS_* or proxy settings from the test process: only what the Secret provides."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HTTP", "http", "NO_PROXY"))}
    return {**keep, "HOME": str(home), **extra}


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)


def aws_cli() -> list[str]:
    exe = shutil.which("aws") or str(Path(sys.executable).with_name("aws"))
    return [exe]


def test_env_format_with_boto3_and_the_aws_cli(aws_setup: AwsSetup, mounted: tuple[Path, dict[str, str]],
                                               tmp_path: Path) -> None:
    _, data = mounted
    env_vars = {k: data[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
                                      "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")}
    listing = run([*aws_cli(), "s3", "ls", f"s3://{data['BUCKET_NAME']}"], clean_env(tmp_path, **env_vars))
    assert listing.returncode == 0, listing.stderr
    assert "report.csv" in listing.stdout
    denied = run([*aws_cli(), "s3", "ls", f"s3://{aws_setup.other_bucket}"], clean_env(tmp_path, **env_vars))
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr


def test_aws_files_format_mounted_at_dot_aws(aws_setup: AwsSetup, mounted: tuple[Path, dict[str, str]],
                                             tmp_path: Path) -> None:
    mount, data = mounted
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    for name in ("credentials", "config"):
        shutil.copy(mount / name, home / ".aws" / name)
    listing = run([*aws_cli(), "s3", "ls", f"s3://{data['BUCKET_NAME']}"], clean_env(home))
    assert listing.returncode == 0, listing.stderr
    assert "report.csv" in listing.stdout
    files_env = {"AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws/credentials"),
                 "AWS_CONFIG_FILE": str(home / ".aws/config")}
    probe = "import boto3; print([o['Key'] for o in boto3.client('s3').list_objects_v2(Bucket='%s')['Contents']])"
    out = run([sys.executable, "-c", probe % data["BUCKET_NAME"]], clean_env(home, **files_env))
    assert out.returncode == 0 and "report.csv" in out.stdout, out.stderr


@pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone is not installed (apt-get install rclone)")
def test_rclone_format(mounted: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    mount, data = mounted
    out = run(["rclone", "--config", str(mount / "rclone.conf"), "lsf", f"keyfob:{data['BUCKET_NAME']}"],
              clean_env(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "report.csv" in out.stdout


@pytest.mark.skipif(shutil.which("s3cmd") is None, reason="s3cmd is not installed (apt-get install s3cmd)")
def test_s3cmd_format(mounted: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    mount, data = mounted
    out = run(["s3cmd", "-c", str(mount / ".s3cfg"), "ls", f"s3://{data['BUCKET_NAME']}"], clean_env(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "report.csv" in out.stdout


def test_cosi_format(mounted: tuple[Path, dict[str, str]]) -> None:
    mount, _ = mounted
    info = json.loads((mount / "BucketInfo").read_text())["spec"]
    s3 = info["secretS3"]
    client = boto3.session.Session().client(
        "s3", endpoint_url=s3["endpoint"], region_name=s3["region"], aws_access_key_id=s3["accessKeyID"],
        aws_secret_access_key=s3["accessSecretKey"])
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=info["bucketName"])["Contents"]]
    assert keys == ["report.csv"]


def test_rclone_and_s3cmd_configs_parse(mounted: tuple[Path, dict[str, str]]) -> None:
    mount, data = mounted
    for name, section in (("rclone.conf", "keyfob"), (".s3cfg", "default")):
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(mount / name)
        assert section in parser, name
    assert data["AWS_ACCESS_KEY_ID"] in (mount / "rclone.conf").read_text()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def sample(metrics: dict[Any, float], series: str, **labels: str) -> float | None:
    return metrics.get((series, tuple(sorted(labels.items()))))


def test_metrics_after_issue_rotate_and_revoke(
    aws_setup: AwsSetup, exclusive_operator: OperatorFactory, leak_watch: LeakWatch
) -> None:
    port = free_ports(1)[0]
    exclusive_operator.start(KEYFOB_METRICS_PORT=str(port))
    objects = aws_setup.objects
    ns, provider = objects.namespace, "AccessKeyProvider/aws"
    objects.request("app", aws_setup.request_spec("app-s3", rotationGracePeriod="0s"))
    first = objects.wait_request("app")
    leak_watch.add_secret_data(objects.secret_data("app-s3"))

    def issued_once() -> dict[Any, float] | None:
        m = scrape(port)
        return m if sample(m, "keyfob_keys_issued_total", provider=provider, reason="Initial") == 1 else None

    m = wait_for(issued_once, 30, 0.2, "issued counter")
    expires = first["status"]["expiresAt"]
    assert sample(m, "keyfob_key_expiration_timestamp_seconds", namespace=ns, name="app") == datetime.fromisoformat(
        expires).timestamp()
    assert sample(m, "keyfob_requests", ready="True", reason="Issued") == 1
    assert sample(m, "keyfob_issue_duration_seconds_count", provider=provider) == 1

    objects.patch_request("app", {"metadata": {"annotations": {"keyfob.dev/rotate": "1"}}})

    def rotated() -> dict[Any, float] | None:
        m = scrape(port)
        done = sample(m, "keyfob_keys_issued_total", provider=provider, reason="RotateRequested") == 1
        return m if done and sample(m, "keyfob_keys_revoked_total", provider=provider) == 1 else None

    m = wait_for(rotated, 30, 0.2, "rotation counted, previous key revoked")
    assert sample(m, "keyfob_revocations_pending") == 0

    objects.delete_request("app")
    objects.wait_gone("app")

    def revoked() -> dict[Any, float] | None:
        m = scrape(port)
        return m if sample(m, "keyfob_keys_revoked_total", provider=provider) == 2 else None

    m = wait_for(revoked, 30, 0.2, "revocation on delete counted")
    assert sample(m, "keyfob_key_expiration_timestamp_seconds", namespace=ns, name="app") is None


def test_rotation_rolls_the_named_deployment_exactly_once(aws_setup: AwsSetup, leak_watch: LeakWatch) -> None:
    from kubernetes import client

    objects = aws_setup.objects
    apps = client.AppsV1Api(objects.core.api_client)
    labels = {"app": "web"}
    apps.create_namespaced_deployment(objects.namespace, {
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1",
                                     "envFrom": [{"secretRef": {"name": "app-s3"}}]}]}}}})
    objects.request("app", aws_setup.request_spec(
        "app-s3", restartTargets=[{"kind": "Deployment", "name": "web"}], rotationGracePeriod="1h"))
    objects.wait_request("app")
    leak_watch.add_secret_data(objects.secret_data("app-s3"))

    def template_annotation() -> str | None:
        annotations = apps.read_namespaced_deployment("web", objects.namespace).spec.template.metadata.annotations
        return (annotations or {}).get("keyfob.dev/revision")

    assert template_annotation() is None, "the first key rolls nothing"
    generation = apps.read_namespaced_deployment("web", objects.namespace).metadata.generation
    objects.patch_request("app", {"metadata": {"annotations": {"keyfob.dev/rotate": "1"}}})
    wait_for(lambda: template_annotation() == "2", 30, 0.2, "pod template annotated with revision 2")
    wait_for(lambda: (objects.get_request("app") or {}).get("status", {}).get("rolledOutRevision") == 2, 30, 0.2,
             "rollout recorded")
    # Unrelated reconciles (a template change) do not roll it again.
    objects.patch_request("app", {"spec": {"secretTemplate": {"labels": {"x": "y"}}}})
    wait_for(lambda: (objects.get_request("app") or {}).get("status", {}).get("observedGeneration") == 2, 30, 0.2,
             "generation 2 reconciled")
    assert apps.read_namespaced_deployment("web", objects.namespace).metadata.generation == generation + 1


def test_json_logs_name_the_request_on_every_handler_line(
    aws_setup: AwsSetup, exclusive_operator: OperatorFactory, leak_watch: LeakWatch
) -> None:
    operator = exclusive_operator.start(log_format="json")
    objects = aws_setup.objects
    objects.request("app", aws_setup.request_spec("app-s3"))
    objects.wait_request("app")
    leak_watch.add_secret_data(objects.secret_data("app-s3"))
    wait_for(lambda: '"Issued: revision 1' in operator.log_text(), 30, 0.2, "the Issued log line")
    lines = [json.loads(line) for line in operator.log_text().splitlines() if line.strip()]
    issued = [rec for rec in lines if str(rec.get("message", "")).startswith("Issued: revision 1")]
    assert issued, "no JSON record for the issue"
    for record in issued:
        assert record["object"]["namespace"] == objects.namespace and record["object"]["name"] == "app"
