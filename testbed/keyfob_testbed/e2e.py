"""The e2e tier's targets and installs: the test bed's own node (:mod:`keyfob_testbed.node`) or any cluster a
user has (``KEYFOB_TEST_KUBECONFIG``, e.g. kind or k3d), ``helm install`` of helm/keyfob with real Helm, and
``kubectl apply -k deploy/``.

Test-bed settings never go into the chart's templates: on the test bed's node, pods run on host networking
over loopback and in-cluster config must reach the API server at its loopback address, so a Helm
post-renderer (and, for ``kubectl apply -k``, a kustomize overlay) adds ``hostNetwork: true`` and
``KUBERNETES_SERVICE_HOST``/``_PORT`` (plus the operator's tick settings) to the operator's Deployment.
On an existing cluster nothing is patched but the image.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from . import images as _images
from .helm_tool import CHART, DEPLOY, helm_binary
from .node import E2ECluster
from .ports import LOOPBACK
from .waiting import wait_for

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

ENV_PEER_HOST = "KEYFOB_E2E_PEER_HOST"
ENV_REQUIRED = "KEYFOB_E2E_REQUIRED"


@dataclass
class Target:
    """Where the e2e suite runs: the test bed's node (``node`` set) or an existing cluster."""

    kubeconfig: Path
    node: E2ECluster | None
    images: dict[str, str]  # kind -> image name
    #: Where pods reach the provider peers (moto). Loopback on the test bed's node (host networking).
    peer_host: str = LOOPBACK
    _api: ApiClient | None = field(default=None, repr=False)

    @property
    def host_network(self) -> bool:
        return self.node is not None

    def api(self) -> ApiClient:
        if self._api is None:
            from kubernetes import config

            self._api = config.new_client_from_config(config_file=str(self.kubeconfig), persist_config=False)
        return self._api

    def pod_env_patch(self) -> list[dict[str, str]]:
        """Env every pod of the test bed needs for in-cluster config (empty on an existing cluster)."""
        if self.node is None:
            return []
        host, port = self.node.api_host_port
        return [{"name": "KUBERNETES_SERVICE_HOST", "value": host},
                {"name": "KUBERNETES_SERVICE_PORT", "value": str(port)}]

    def pod_log(self, namespace: str, pod: str, container: str | None = None) -> str:
        """The pod's log: the kubelet's files on the test bed's node, the API on an existing cluster."""
        if self.node is not None:
            return self.node.pod_log(namespace, pod, container)
        from kubernetes import client

        core = client.CoreV1Api(self.api())
        try:
            return str(core.read_namespaced_pod_log(pod, namespace, container=container))
        except client.ApiException:
            return ""

    def kill_container(self, container_id: str) -> bool:
        """SIGKILL a container by its CRI id (``containerd://...``); False where the node is not ours."""
        if self.node is None:
            return False
        self.node.containerd.kill_container(container_id.split("://", 1)[-1])
        return True

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None


def node_target(node: E2ECluster) -> Target:
    return Target(node.kubeconfig, node, {kind: image.name for kind, image in node.images.items()})


def existing_target(kubeconfig: Path) -> Target:
    """A user's cluster: images must already be loaded (see the README), peers reachable at KEYFOB_E2E_PEER_HOST."""
    built = {kind: image.name for kind, image in _images.all_images().items()}
    return Target(kubeconfig, None, built, peer_host=os.environ.get(ENV_PEER_HOST, LOOPBACK))


# -- the operator's Deployment, patched for the test bed -----------------------------------------------------
def patch_operator_deployment(doc: dict[str, Any], *, host_network: bool, env: Sequence[Mapping[str, str]]) -> None:
    if doc.get("kind") != "Deployment":
        return
    pod = doc["spec"]["template"]["spec"]
    if host_network:
        pod["hostNetwork"] = True
        pod["dnsPolicy"] = "ClusterFirstWithHostNet"
    for container in pod["containers"]:
        names = {item["name"] for item in env}
        container["env"] = [e for e in container.get("env", []) if e["name"] not in names] + [dict(e) for e in env]


def postrender_main(argv: list[str]) -> int:
    """Helm post-renderer: manifests on stdin, the patched manifests on stdout; argv[0] is a JSON settings file."""
    settings = json.loads(Path(argv[0]).read_text())
    docs = [doc for doc in yaml.safe_load_all(sys.stdin) if doc]
    for doc in docs:
        patch_operator_deployment(doc, host_network=settings["hostNetwork"], env=settings["env"])
    sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False))
    return 0


@dataclass
class Release:
    namespace: str
    name: str
    deployment: str
    service_account: str
    liveness_port: int
    metrics_port: int
    selector: str


def operator_env(target: Target, extra: Mapping[str, str]) -> list[dict[str, str]]:
    return target.pod_env_patch() + [{"name": k, "value": v} for k, v in extra.items()]


def _image_values(target: Target) -> list[str]:
    repository, tag = target.images["keyfob"].rsplit(":", 1)
    values = ["--set", f"image.repository={repository}", "--set", f"image.tag={tag}",
              "--set", f"image.pullPolicy={'Never' if target.host_network else 'IfNotPresent'}"]
    if target.host_network:
        # One node, host networking: two replicas would contend for the same host ports, so the test bed runs one
        # (without leader election; the election itself is tested in tests/integration/test_leader_election.py).
        values += ["--set", "leaderElection.enabled=false"]
    return values


def helm_install(target: Target, *, release: str, namespace: str, liveness_port: int, metrics_port: int,
                 env: Mapping[str, str], values: Sequence[str] = (), timeout: float = 300) -> Release:
    """``helm upgrade --install`` of helm/keyfob; returns once helm has applied it (the caller waits on pods)."""
    work = Path(tempfile.mkdtemp(prefix="keyfob-helm-"))
    try:
        settings = work / "settings.json"
        settings.write_text(json.dumps({"hostNetwork": target.host_network, "env": operator_env(target, env)}))
        renderer = work / "postrender"
        renderer.write_text(f"#!/bin/sh\nexec {sys.executable} -m keyfob_testbed.e2e postrender {settings}\n")
        renderer.chmod(0o755)
        argv = [
            str(helm_binary()), "upgrade", "--install", release, str(CHART), "--namespace", namespace,
            "--create-namespace", f"--kubeconfig={target.kubeconfig}", "--post-renderer", str(renderer),
            *_image_values(target),
            "--set", f"liveness.port={liveness_port}", "--set", f"metrics.port={metrics_port}",
            "--set", "logLevel=debug", "--set", "clusterId=e2e", *values,
        ]
        env_vars = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, env=env_vars)
        if done.returncode != 0:
            raise AssertionError(f"helm install failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    fullname = release if "keyfob" in release else f"{release}-keyfob"
    return Release(namespace, release, fullname, fullname, liveness_port, metrics_port,
                   f"app.kubernetes.io/name=keyfob,app.kubernetes.io/instance={release}")


def helm_uninstall(target: Target, release: Release) -> None:
    subprocess.run([str(helm_binary()), "uninstall", release.name, "--namespace", release.namespace,
                    f"--kubeconfig={target.kubeconfig}", "--wait", "--timeout", "120s"],
                   capture_output=True, text=True, timeout=180, check=False)


def kustomize_overlay(target: Target, directory: Path, *, liveness_port: int, metrics_port: int,
                      env: Mapping[str, str]) -> Path:
    """An overlay over deploy/ that sets the image, the ports and the test bed's pod settings."""
    repository, tag = target.images["keyfob"].rsplit(":", 1)
    patch: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "keyfob", "namespace": "keyfob-system"},
        "spec": {"template": {"spec": {"containers": [{
            "name": "keyfob",
            "imagePullPolicy": "Never" if target.host_network else "IfNotPresent",
            "env": [*operator_env(target, env), {"name": "KEYFOB_METRICS_PORT", "value": str(metrics_port)}],
        }]}}},
    }
    # lists a strategic merge would merge by key (args, ports): replaced whole
    ops = [
        {"op": "replace", "path": "/spec/template/spec/containers/0/args",
         "value": ["run", "--log-format=json", "--debug", f"--liveness=http://0.0.0.0:{liveness_port}/healthz"]},
        {"op": "replace", "path": "/spec/template/spec/containers/0/ports",
         "value": [{"name": "healthz", "containerPort": liveness_port},
                   {"name": "metrics", "containerPort": metrics_port}]},
    ]
    if target.host_network:
        patch["spec"]["template"]["spec"].update({"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"})
        # deploy/ runs two elected replicas; on one host network they would contend for the same ports: one
        # replica, which takes the Lease and leads, replaced rather than surged.
        ops += [{"op": "replace", "path": "/spec/replicas", "value": 1},
                {"op": "replace", "path": "/spec/strategy", "value": {"type": "Recreate"}}]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "operator-patch.yaml").write_text(yaml.safe_dump(patch, sort_keys=False))
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(DEPLOY, directory)],
        "images": [{"name": "ghcr.io/keyfob/keyfob", "newName": repository, "newTag": tag}],
        "patches": [{"path": "operator-patch.yaml"},
                    {"target": {"kind": "Deployment", "name": "keyfob"}, "patch": yaml.safe_dump(ops)}],
    }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    return directory


# -- waiting on pods ------------------------------------------------------------------------------------------
def ready_pods(api: ApiClient, namespace: str, selector: str) -> list[Any]:
    from kubernetes import client

    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector).items
    return [p for p in pods if p.metadata.deletion_timestamp is None and p.status.phase == "Running"
            and any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))]


def wait_ready_pod(target: Target, namespace: str, selector: str, timeout: float = 180,
                   exclude: Sequence[str] = ()) -> Any:
    """The one Ready pod matching ``selector`` (not named in ``exclude``); explains a pod that fails to start."""
    def check() -> Any:
        pods = [p for p in ready_pods(target.api(), namespace, selector) if p.metadata.name not in exclude]
        return pods[0] if len(pods) == 1 else None

    try:
        return wait_for(check, timeout, 0.25, f"a Ready pod {selector} in {namespace}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{describe_pods(target, namespace, selector)}") from None


def describe_pods(target: Target, namespace: str, selector: str) -> str:
    from kubernetes import client

    core = client.CoreV1Api(target.api())
    lines = []
    for pod in core.list_namespaced_pod(namespace, label_selector=selector).items:
        lines.append(f"pod {pod.metadata.name}: phase={pod.status.phase} reason={pod.status.reason}")
        for status in pod.status.container_statuses or []:
            lines.append(f"  {status.name}: ready={status.ready} restarts={status.restart_count} "
                         f"state={status.state} last={status.last_state}")
        log = target.pod_log(namespace, pod.metadata.name)
        lines.append("  log tail: " + "\n    ".join(log.splitlines()[-15:]))
    events = core.list_namespaced_event(namespace).items[-15:]
    lines += [f"event {e.involved_object.name}: {e.reason} {e.message}" for e in events]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv[:1] == ["postrender"]:
        return postrender_main(argv[1:])
    print("usage: python -m keyfob_testbed.e2e postrender SETTINGS.json", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
