"""`kubectl apply -k deploy/` (through an overlay with the test bed's image, ports and pod settings) runs the
operator as a pod in keyfob-system, and it issues a key. The Helm release is scaled to zero meanwhile, so one
operator handles the requests (Kopf peering is not leader election)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from keyfob_testbed.e2e import Release, Target, kustomize_overlay, wait_ready_pod
from keyfob_testbed.operator_fixtures import LeakWatch
from keyfob_testbed.ports import free_ports

from .conftest import OPERATOR_ENV, AwsWorld

pytestmark = pytest.mark.e2e
SELECTOR = "app.kubernetes.io/name=keyfob,app.kubernetes.io/instance=keyfob"
KINDS = ("deployment,service,serviceaccount,role,rolebinding,clusterrole,clusterrolebinding,poddisruptionbudget,"
         "validatingadmissionpolicy,validatingadmissionpolicybinding")


def kubectl(target: Target, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("kubectl")
    assert exe is not None
    done = subprocess.run([exe, f"--kubeconfig={target.kubeconfig}", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, f"kubectl {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def scale(target: Target, release: Release, replicas: int) -> None:
    client.AppsV1Api(target.api()).patch_namespaced_deployment_scale(
        release.deployment, release.namespace, {"spec": {"replicas": replicas}})


@pytest.fixture
def helm_release_paused(e2e_target: Target, keyfob_release: Release) -> Iterator[None]:
    from keyfob_testbed.waiting import wait_for

    scale(e2e_target, keyfob_release, 0)
    core = client.CoreV1Api(e2e_target.api())
    wait_for(lambda: not core.list_namespaced_pod(keyfob_release.namespace,
                                                  label_selector=keyfob_release.selector).items,
             90, 0.25, "the Helm release's operator pod gone")
    try:
        yield
    finally:
        scale(e2e_target, keyfob_release, 1)
        wait_ready_pod(e2e_target, keyfob_release.namespace, keyfob_release.selector)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_kubectl_apply_k_deploy_runs_the_operator(e2e_target: Target, keyfob_release: Release,
                                                  helm_release_paused: None, aws_world: AwsWorld,
                                                  e2e_secrets: LeakWatch, tmp_path: Path) -> None:
    liveness, metrics = free_ports(2)
    overlay = kustomize_overlay(e2e_target, tmp_path / "overlay", liveness_port=liveness, metrics_port=metrics,
                                env=OPERATOR_ENV)
    kubectl(e2e_target, "apply", "-k", str(overlay))
    try:
        pod = wait_ready_pod(e2e_target, "keyfob-system", SELECTOR)
        assert pod.spec.service_account_name == "keyfob"
        assert pod.spec.containers[0].image == e2e_target.images["keyfob"]
        aws_world.objects.request("kustomized", aws_world.request_spec("kustomized-s3"))
        ready = aws_world.objects.wait_request("kustomized", timeout=90)
        data = aws_world.objects.secret_data("kustomized-s3")
        e2e_secrets.add_secret_data(data)
        assert data["AWS_ACCESS_KEY_ID"] == ready["status"]["accessKeyId"]
        logs = e2e_target.pod_log("keyfob-system", pod.metadata.name)
        assert not e2e_secrets.found_in(logs)
        # revoke while this operator still runs (the fixture deletes the request after the Helm one is back)
        aws_world.objects.delete_request("kustomized")
        aws_world.objects.wait_gone("kustomized", timeout=90)
    finally:
        # everything but the CRDs: deleting those would delete every request in the cluster
        kubectl(e2e_target, "delete", KINDS, "--all-namespaces", "-l", "app.kubernetes.io/instance=keyfob",
                "--ignore-not-found", "--wait=true")
        kubectl(e2e_target, "delete", "namespace", "keyfob-system", "--ignore-not-found", "--wait=false")
