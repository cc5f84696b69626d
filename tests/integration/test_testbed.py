"""The test bed against the REAL API server and moto: every claim the other tests rely on, proved once."""

from __future__ import annotations

import base64
import http.client
import json
import os
import secrets
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from kubernetes import client, config

from keyfob_testbed import MotoPeer, TestCluster, launch_cluster, service_account_kubeconfig, wait_for
from keyfob_testbed import binaries as testbed_binaries
from keyfob_testbed.envtest import ClusterStartError
from keyfob_testbed.pytest_plugin import Kubectl

pytestmark = pytest.mark.integration

# -- Kubernetes ---------------------------------------------------------------------------------------


def test_secret_roundtrip_with_python_client_and_kubectl(
    kube_api: client.ApiClient, namespace: str, kubectl: Kubectl
) -> None:
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="creds"), string_data={"accessKey": "AKIA-from-python"}),
    )
    # kubectl, with the generated admin kubeconfig, sees what the Python client wrote ...
    out = kubectl("get", "secret", "creds", "-n", namespace, "-o", "jsonpath={.data.accessKey}")
    assert base64.b64decode(out.stdout) == b"AKIA-from-python"
    # ... and the Python client sees what kubectl wrote.
    kubectl("create", "secret", "generic", "from-kubectl", "-n", namespace, "--from-literal=k=v")
    secret = core.read_namespaced_secret("from-kubectl", namespace)
    assert base64.b64decode(secret.data["k"]) == b"v"
    whoami = kubectl("auth", "whoami", "-o", "json", check=False)
    if whoami.returncode == 0:  # SelfSubjectReview: GA since 1.28
        user = json.loads(whoami.stdout)["status"]["userInfo"]
        assert user["username"] == "keyfob-admin"
        assert "system:masters" in user["groups"]


@dataclass(frozen=True)
class WidgetCRD:
    group: str
    version: str = "v1"
    plural: str = "widgets"
    kind: str = "Widget"

    @property
    def name(self) -> str:
        return f"{self.plural}.{self.group}"

    def body(self, name: str, min_replicas: int, max_replicas: int) -> dict[str, Any]:
        return {
            "apiVersion": f"{self.group}/{self.version}",
            "kind": self.kind,
            "metadata": {"name": name},
            "spec": {"minReplicas": min_replicas, "maxReplicas": max_replicas},
        }


@pytest.fixture
def widget_crd(kube_api: client.ApiClient) -> Iterator[WidgetCRD]:
    """A namespaced CRD with a status subresource and a CEL rule; unique group per test, deleted afterwards."""
    crd = WidgetCRD(group=f"t{secrets.token_hex(4)}.testbed.keyfob.dev")
    ext = client.ApiextensionsV1Api(kube_api)
    ext.create_custom_resource_definition(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": crd.name},
            "spec": {
                "group": crd.group,
                "scope": "Namespaced",
                "names": {"plural": crd.plural, "singular": "widget", "kind": crd.kind, "listKind": "WidgetList"},
                "versions": [
                    {
                        "name": crd.version,
                        "served": True,
                        "storage": True,
                        "subresources": {"status": {}},
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "properties": {
                                    "spec": {
                                        "type": "object",
                                        "required": ["minReplicas", "maxReplicas"],
                                        "properties": {
                                            "minReplicas": {"type": "integer", "minimum": 0},
                                            "maxReplicas": {"type": "integer"},
                                        },
                                        "x-kubernetes-validations": [
                                            {
                                                "rule": "self.minReplicas <= self.maxReplicas",
                                                "message": "minReplicas must not exceed maxReplicas",
                                            }
                                        ],
                                    },
                                    "status": {
                                        "type": "object",
                                        "properties": {
                                            "phase": {"type": "string"},
                                            "observedGeneration": {"type": "integer", "format": "int64"},
                                        },
                                    },
                                },
                            }
                        },
                    }
                ],
            },
        }
    )

    def established() -> bool:
        conditions = ext.read_custom_resource_definition(crd.name).status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    try:
        wait_for(established, 30, 0.05, f"CRD {crd.name} to be Established")
        yield crd
    finally:
        ext.delete_custom_resource_definition(crd.name)


def test_crd_cel_validation_and_status_subresource(
    kube_api: client.ApiClient, namespace: str, widget_crd: WidgetCRD, kubectl: Kubectl
) -> None:
    custom = client.CustomObjectsApi(kube_api)
    args = (widget_crd.group, widget_crd.version, namespace, widget_crd.plural)

    created = custom.create_namespaced_custom_object(*args, widget_crd.body("good", 1, 3))
    assert created["metadata"]["generation"] == 1

    # The CEL rule rejects a bad object, on create and on update.
    with pytest.raises(client.ApiException) as rejected:
        custom.create_namespaced_custom_object(*args, widget_crd.body("bad", 5, 1))
    assert rejected.value.status == 422
    assert "minReplicas must not exceed maxReplicas" in str(rejected.value.body)
    with pytest.raises(client.ApiException) as rejected_patch:
        custom.patch_namespaced_custom_object(*args, "good", {"spec": {"minReplicas": 9}})
    assert rejected_patch.value.status == 422
    # Plain OpenAPI validation still applies alongside CEL.
    with pytest.raises(client.ApiException) as negative:
        custom.create_namespaced_custom_object(*args, widget_crd.body("negative", -1, 1))
    assert negative.value.status == 422

    # Status goes through the subresource only; it does not bump the generation.
    patched = custom.patch_namespaced_custom_object_status(
        *args, "good", {"status": {"phase": "Ready", "observedGeneration": 1}}
    )
    assert patched["status"] == {"phase": "Ready", "observedGeneration": 1}
    assert patched["metadata"]["generation"] == 1
    # A status change sent to the main resource is ignored (that is what the subresource means) ...
    main = custom.patch_namespaced_custom_object(*args, "good", {"status": {"phase": "Hacked"}})
    assert main["status"]["phase"] == "Ready"
    # ... and a spec change bumps the generation.
    bumped = custom.patch_namespaced_custom_object(*args, "good", {"spec": {"maxReplicas": 4}})
    assert bumped["metadata"]["generation"] == 2

    # kubectl sees the new type, and gets the same CEL rejection.
    listed = json.loads(kubectl("get", widget_crd.name, "-n", namespace, "-o", "json").stdout)
    assert [item["metadata"]["name"] for item in listed["items"]] == ["good"]
    bad = kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(widget_crd.body("bad2", 3, 2)), check=False)
    assert bad.returncode != 0
    assert "minReplicas must not exceed maxReplicas" in bad.stderr


def test_service_account_is_denied_until_a_rolebinding_grants_it(
    test_cluster: TestCluster, kube_api: client.ApiClient, namespace: str, kubectl: Kubectl, tmp_path: Path
) -> None:
    kubeconfig = service_account_kubeconfig(test_cluster, namespace, "reader", tmp_path / "reader.kubeconfig")
    sa_api = config.new_client_from_config(config_file=str(kubeconfig), persist_config=False)
    try:
        sa_core = client.CoreV1Api(sa_api)
        with pytest.raises(client.ApiException) as denied:
            sa_core.list_namespaced_secret(namespace)
        assert denied.value.status == 403
        assert f"system:serviceaccount:{namespace}:reader" in str(denied.value.body)
        can_i = kubectl("auth", "can-i", "list", "secrets", "-n", namespace, kubeconfig=kubeconfig, check=False)
        assert can_i.stdout.strip() == "no"

        rbac = client.RbacAuthorizationV1Api(kube_api)
        rbac.create_namespaced_role(
            namespace,
            {
                "metadata": {"name": "secret-reader"},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}],
            },
        )
        rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": "reader-reads-secrets"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secret-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
            },
        )

        def allowed() -> bool:
            sa_core.list_namespaced_secret(namespace)
            return True

        wait_for(allowed, 30, 0.05, "the RoleBinding to let the ServiceAccount list secrets")
        out = kubectl("auth", "can-i", "list", "secrets", "-n", namespace, kubeconfig=kubeconfig, check=False)
        assert out.stdout.strip() == "yes"
        kubectl("get", "secrets", "-n", namespace, kubeconfig=kubeconfig)
        # The grant is namespaced: writing, or reading elsewhere, is still denied.
        with pytest.raises(client.ApiException) as still_denied:
            sa_core.list_namespaced_secret("default")
        assert still_denied.value.status == 403
        with pytest.raises(client.ApiException) as no_write:
            sa_core.create_namespaced_secret(namespace, {"metadata": {"name": "nope"}})
        assert no_write.value.status == 403
    finally:
        sa_api.close()


def test_owner_reference_garbage_collection(
    test_cluster: TestCluster, kube_api: client.ApiClient, namespace: str
) -> None:
    if not test_cluster.has_controller_manager:
        pytest.skip("no kube-controller-manager in KUBEBUILDER_ASSETS: no garbage collector")
    core = client.CoreV1Api(kube_api)
    owner = core.create_namespaced_config_map(namespace, {"metadata": {"name": "owner"}})
    owner_ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "child", "ownerReferences": [owner_ref]}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "bystander"}})
    core.delete_namespaced_config_map("owner", namespace)

    def child_gone() -> bool:
        try:
            core.read_namespaced_config_map("child", namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return True
            raise
        return False

    wait_for(child_gone, 60, 0.1, "the garbage collector to delete the owned ConfigMap")
    core.read_namespaced_config_map("bystander", namespace)  # not owned: untouched


def test_a_launched_cluster_leaves_no_process_port_or_file_behind() -> None:
    source = testbed_binaries.select_source()
    if source.kind == "existing":
        pytest.skip("KEYFOB_TEST_KUBECONFIG is set: this run starts no processes")
    bins = testbed_binaries.ensure_binaries(source)
    assert bins is not None
    cluster = launch_cluster(bins)
    port = int(cluster.server.rsplit(":", 1)[1])
    pids = [proc.pid for proc in cluster.processes]
    workdir = cluster.workdir
    assert workdir is not None and workdir.is_dir()
    assert cluster.timings["apiserver_ready"] > 0
    cluster.stop()
    cluster.stop()  # idempotent
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"pid {pid} survived stop()"
    assert not workdir.exists()
    with socket.socket() as sock:  # the API server's port is free again
        sock.bind(("127.0.0.1", port))


def test_a_crashing_apiserver_is_reported_with_its_log_and_cleaned_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = testbed_binaries.select_source()
    if source.kind == "existing":
        pytest.skip("KEYFOB_TEST_KUBECONFIG is set: no etcd binary to start")
    bins = testbed_binaries.ensure_binaries(source)
    assert bins is not None
    fake = tmp_path / "kube-apiserver"
    fake.write_text("#!/bin/sh\necho 'E0101 boom: unknown flag --keyfob' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # find our work dir afterwards
    broken = testbed_binaries.Binaries(
        etcd=bins.etcd, kube_apiserver=fake, kube_controller_manager=None, origin="assets"
    )
    with pytest.raises(ClusterStartError, match=r"(?s)kube-apiserver exited with 3.*boom: unknown flag"):
        launch_cluster(broken)
    assert not list(tmp_path.glob("keyfob-envtest-*")), "work dir left behind"
    etcd_left = [
        pid
        for pid in os.listdir("/proc")
        if pid.isdigit() and _cmdline(pid).startswith(str(bins.etcd)) and str(tmp_path) in _cmdline(pid)
    ]
    assert etcd_left == []


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# -- moto ---------------------------------------------------------------------------------------------


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code"))


def test_moto_enforces_authentication(moto_peer: MotoPeer) -> None:
    moto_peer.client("sts").get_caller_identity()  # the admin key works
    with pytest.raises(ClientError) as unknown:
        moto_peer.client("s3", access_key="AKIAUNKNOWNUNKNOWN00", secret_key="x").list_buckets()
    assert _error_code(unknown.value) == "InvalidAccessKeyId"
    # Unsigned requests fail too (moto 5.2.5 answers 500: it looks up the missing Authorization header).
    conn = http.client.HTTPConnection("127.0.0.1", int(moto_peer.endpoint.rsplit(":", 1)[1]), timeout=10)
    try:
        conn.request(
            "POST",
            "/",
            body="Action=ListUsers&Version=2010-05-08",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    assert response.status >= 400


def test_moto_scoped_key_allows_bucket_a_only_until_deleted(moto_peer: MotoPeer) -> None:
    suffix = secrets.token_hex(4)
    bucket_a, bucket_b, user = f"kf-a-{suffix}", f"kf-b-{suffix}", f"kf-scoped-{suffix}"
    admin_s3, iam = moto_peer.client("s3"), moto_peer.client("iam")
    admin_s3.create_bucket(Bucket=bucket_a)
    admin_s3.create_bucket(Bucket=bucket_b)
    admin_s3.put_object(Bucket=bucket_b, Key="secret", Body=b"not yours")

    moto_peer.reset_counts()
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": f"arn:aws:s3:::{bucket_a}"},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"arn:aws:s3:::{bucket_a}/*"},
        ],
    }
    iam.create_user(UserName=user, Path="/keyfob/test/")
    iam.put_user_policy(UserName=user, PolicyName="scope", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    assert moto_peer.iam_actions() == ["CreateUser", "PutUserPolicy", "CreateAccessKey"]

    scoped = moto_peer.client("s3", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    scoped.put_object(Bucket=bucket_a, Key="hello.txt", Body=b"hi")
    assert scoped.get_object(Bucket=bucket_a, Key="hello.txt")["Body"].read() == b"hi"
    assert [o["Key"] for o in scoped.list_objects_v2(Bucket=bucket_a)["Contents"]] == ["hello.txt"]
    with pytest.raises(ClientError) as put_denied:
        scoped.put_object(Bucket=bucket_b, Key="x", Body=b"x")
    assert _error_code(put_denied.value) == "AccessDenied"
    with pytest.raises(ClientError) as get_denied:
        scoped.get_object(Bucket=bucket_b, Key="secret")
    assert _error_code(get_denied.value) == "AccessDenied"

    # The scoped key may not use IAM; refused calls are still counted.
    moto_peer.reset_counts()
    with pytest.raises(ClientError) as no_iam:
        moto_peer.client("iam", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"]).create_user(
            UserName=f"evil-{suffix}"
        )
    assert _error_code(no_iam.value) == "AccessDenied"
    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    assert moto_peer.iam_actions() == ["CreateUser", "DeleteAccessKey"]
    assert [c.access_key for c in moto_peer.calls() if c.service == "iam"] == [
        key["AccessKeyId"],
        moto_peer.admin_access_key,
    ]

    with pytest.raises(ClientError) as revoked:
        scoped.get_object(Bucket=bucket_a, Key="hello.txt")
    assert _error_code(revoked.value) == "InvalidAccessKeyId"
    moto_peer.reset_counts()
    iam.list_users()
    iam.get_user(UserName=user)
    assert moto_peer.iam_actions() == ["ListUsers", "GetUser"]
    assert moto_peer.iam_write_actions() == []
