"""keyfob installed with `helm install` runs as a pod: under its own ServiceAccount with in-cluster config, its
liveness probe and metrics Service answer, and it issues a key at the provider peer it reaches on loopback."""

from __future__ import annotations

import http.client

import pytest
from kubernetes import client

from keyfob_testbed.e2e import Release, Target
from keyfob_testbed.operator_fixtures import LeakWatch
from keyfob_testbed.ports import LOOPBACK
from keyfob_testbed.waiting import wait_for

from .conftest import AwsWorld

pytestmark = pytest.mark.e2e


def http_get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def test_operator_runs_as_a_pod_under_its_service_account(e2e_target: Target, keyfob_release: Release) -> None:
    core = client.CoreV1Api(e2e_target.api())
    pods = core.list_namespaced_pod(keyfob_release.namespace, label_selector=keyfob_release.selector).items
    assert len(pods) == 1
    pod = pods[0]
    assert pod.spec.service_account_name == keyfob_release.service_account
    assert pod.spec.node_name
    container = pod.spec.containers[0]
    assert container.image == e2e_target.images["keyfob"]
    assert pod.spec.security_context.run_as_non_root
    # the ServiceAccount token the kubelet projected is what the operator authenticates with
    assert any(v.projected and any(s.service_account_token for s in v.projected.sources) for v in pod.spec.volumes)
    status = pod.status.container_statuses[0]
    assert status.ready and status.restart_count == 0, status


def test_liveness_probe_and_metrics_service_answer(e2e_target: Target, keyfob_release: Release) -> None:
    if e2e_target.node is None:
        pytest.skip("ports are reached on loopback only on the test bed's node (host networking)")
    # the pod has no readiness probe: Running comes before Kopf's health endpoint listens
    wait_for(lambda: http_get(keyfob_release.liveness_port, "/healthz")[0] == 200, 60, 0.25, "liveness answers 200")
    # the Service selects the operator pod on the metrics port (EndpointSlice from the controller manager)
    discovery = client.DiscoveryV1Api(e2e_target.api())
    service = f"{keyfob_release.deployment}-metrics"

    def endpoint_ports() -> list[int] | None:
        slices = discovery.list_namespaced_endpoint_slice(
            keyfob_release.namespace, label_selector=f"kubernetes.io/service-name={service}").items
        ready = [e for s in slices for e in (s.endpoints or []) if e.conditions and e.conditions.ready]
        ports = [p.port for s in slices for p in (s.ports or [])]
        return ports if ready and ports else None

    ports = wait_for(endpoint_ports, 60, 0.5, f"Service {service} has a ready endpoint")
    assert ports == [keyfob_release.metrics_port]
    def metrics_body() -> str | None:
        status, text = http_get(keyfob_release.metrics_port, "/metrics")
        return text if status == 200 else None

    body = wait_for(metrics_body, 60, 0.25, "metrics answer 200")
    assert body is not None and "keyfob_" in body


def test_the_pod_issues_a_key_at_the_peer(aws_world: AwsWorld, e2e_secrets: LeakWatch) -> None:
    objects = aws_world.objects
    objects.request("smoke", aws_world.request_spec("smoke-s3"))
    ready = objects.wait_request("smoke", timeout=90)
    data = objects.secret_data("smoke-s3")
    e2e_secrets.add_secret_data(data)
    assert data["AWS_ACCESS_KEY_ID"] == ready["status"]["accessKeyId"]
    users = [u["UserName"] for u in aws_world.keyfob_users() if ready["metadata"]["uid"] in u["UserName"]]
    assert len(users) == 1, users


def test_the_image_holds_a_plain_install_of_the_locked_libraries(e2e_target: Target) -> None:
    """No test extras in the image, and every library at exactly the version requirements.lock pins (pip
    checked each file's hash against the lockfile while building it)."""
    import gzip
    import json
    import re
    import tarfile

    from keyfob_testbed import images

    operator = images.operator_image()
    assert operator.name == e2e_target.images["keyfob"]
    locked = {m.group(1).lower().replace("-", "_"): m.group(2) for m in re.finditer(
        r"^([A-Za-z0-9_.-]+)==(\S+)", images.LOCKFILE.read_text(), re.MULTILINE)}
    installed: dict[str, str] = {}
    with tarfile.open(operator.archive) as archive:
        index = json.load(archive.extractfile("index.json"))  # type: ignore[arg-type]
        manifest = json.load(archive.extractfile(  # type: ignore[arg-type]
            "blobs/sha256/" + index["manifests"][0]["digest"].split(":", 1)[1]))
        top = manifest["layers"][-1]["digest"].split(":", 1)[1]  # the layer deploy/Dockerfile adds
        with gzip.open(archive.extractfile(f"blobs/sha256/{top}")) as layer, tarfile.open(fileobj=layer) as tar:  # type: ignore[arg-type]
            for name in tar.getnames():
                match = re.search(r"site-packages/([^/]+)-([^-/]+)\.dist-info/METADATA$", name)
                if match:
                    installed[match.group(1).lower().replace("-", "_").replace(".", "_")] = match.group(2)
    assert installed.pop("keyfob") == "0.1.0"
    assert not {"keyfob_testbed", "pytest", "moto", "ruff", "mypy"} & installed.keys()
    build_only = {"setuptools", "wheel"}  # uninstalled after the product is built
    locked_runtime = {k.replace(".", "_"): v for k, v in locked.items() if k not in build_only}
    assert installed.get("pip") and installed.pop("pip")  # the venv's own pip, from the base's ensurepip
    assert installed == locked_runtime
