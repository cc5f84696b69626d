"""Install it like a user: the Helm chart renders, lints, is accepted by the real API server (server-side
apply), deploy/ is generated from it without drift, and the operator running under the chart's ServiceAccount
token and RBAC issues and revokes a key. Removing any one of the rules the core flow needs (keyfob objects,
status, Secrets, namespaces) from the chart's ClusterRole breaks it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from keyfob_testbed import helm_tool
from keyfob_testbed.identities import service_account_kubeconfig
from keyfob_testbed.operator_fixtures import AwsSetup, LeakWatch, OperatorFactory
from keyfob_testbed.s3_checks import code_of, s3_from
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    return helm_tool.documents(helm_tool.template(release="kfchart", namespace="kfchart-system"))


def test_helm_lint_is_clean() -> None:
    out = helm_tool.helm("lint", str(helm_tool.CHART), "--strict")
    assert "0 chart(s) failed" in out


def test_deploy_dir_is_generated_from_the_chart_without_drift() -> None:
    for path, text in helm_tool.rendered_deploy().items():
        assert path.read_text() == text, f"{path} drifted: run python -m keyfob_testbed.helm_tool render-deploy"
    chart_rbac = [d for d in helm_tool.documents(helm_tool.template()) if d["kind"].startswith("ClusterRole")]
    deploy_rbac = [d for d in helm_tool.documents((helm_tool.DEPLOY / "keyfob.yaml").read_text())
                   if d["kind"].startswith("ClusterRole")]
    assert chart_rbac == deploy_rbac
    assert {d["metadata"]["name"] for d in chart_rbac} == {"keyfob", "keyfob-approver"}


def test_deployment_is_hardened(rendered: list[dict[str, Any]]) -> None:
    deployment = next(d for d in rendered if d["kind"] == "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["limits"]["memory"]


def apply_server_side(kubectl: Any, docs: list[dict[str, Any]], tmp_path: Path) -> str:
    manifest = tmp_path / "chart.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    return kubectl("apply", "--server-side", "--field-manager=keyfob-test", "-f", str(manifest)).stdout


def chart_identity(kubectl: Any, kube_api: Any, test_cluster: Any, docs: list[dict[str, Any]],
                   tmp_path: Path) -> Path:
    namespace = next(d for d in docs if d["kind"] == "ServiceAccount")["metadata"]["namespace"]
    kubectl("create", "namespace", namespace, check=False)
    apply_server_side(kubectl, docs, tmp_path)
    account = next(d for d in docs if d["kind"] == "ServiceAccount")["metadata"]["name"]
    return service_account_kubeconfig(test_cluster, namespace, account, tmp_path / "sa.kubeconfig")


def test_chart_objects_are_accepted_by_the_api_server(
    rendered: list[dict[str, Any]], kubectl: Any, tmp_path: Path
) -> None:
    kubectl("create", "namespace", "kfchart-system", check=False)
    out = apply_server_side(kubectl, rendered, tmp_path)
    for doc in rendered:
        assert f"{doc['kind'].lower()}/{doc['metadata']['name']}" in out.lower().replace(".apps", "").replace(
            ".rbac.authorization.k8s.io", "")


def scenario(aws_setup: AwsSetup, leak_watch: LeakWatch) -> None:
    """The walking skeleton, as the chart's identity runs it."""
    objects = aws_setup.objects
    uid = objects.request("app", aws_setup.request_spec("app-s3"))["metadata"]["uid"]
    objects.wait_request("app", timeout=30)
    data = objects.secret_data("app-s3")
    leak_watch.add_secret_data(data)
    assert code_of(lambda: s3_from(data).list_objects_v2(Bucket=aws_setup.bucket)) == "OK"
    objects.delete_request("app")
    objects.wait_gone("app", timeout=30)
    assert aws_setup.users_for(uid) == []
    wait_for(lambda: objects.secret("app-s3") is None, 30, what="Secret removed")


def test_operator_under_the_charts_service_account_issues_and_revokes(
    rendered: list[dict[str, Any]], aws_setup: AwsSetup, exclusive_operator: OperatorFactory, kubectl: Any,
    kube_api: Any, test_cluster: Any, tmp_path: Path, leak_watch: LeakWatch,
) -> None:
    kubeconfig = chart_identity(kubectl, kube_api, test_cluster, rendered, tmp_path)
    who = kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}", kubeconfig=kubeconfig).stdout
    assert who == "system:serviceaccount:kfchart-system:kfchart-keyfob"
    exclusive_operator.start(kubeconfig=kubeconfig)
    scenario(aws_setup, leak_watch)
    assert "Forbidden" not in exclusive_operator.logs()


RULES = [
    (0, "watch/patch keyfob objects"),
    (1, "patch status"),
    (2, "Secrets"),
    (3, "namespaces"),
]


@pytest.mark.parametrize(("index", "what"), RULES)
def test_removing_one_rule_from_the_chart_breaks_the_operator(
    index: int, what: str, rendered: list[dict[str, Any]], aws_setup: AwsSetup,
    exclusive_operator: OperatorFactory, kubectl: Any, kube_api: Any, test_cluster: Any, tmp_path: Path,
) -> None:
    docs = copy.deepcopy(rendered)
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    del role["rules"][index]
    try:
        kubeconfig = chart_identity(kubectl, kube_api, test_cluster, docs, tmp_path)
        operator = exclusive_operator.start(kubeconfig=kubeconfig)
        objects = aws_setup.objects
        objects.request("app", aws_setup.request_spec("app-s3"))

        def forbidden_seen() -> bool:
            return "forbidden" in operator.log_text().lower()

        wait_for(forbidden_seen, 60, 0.5, f"a 403 once the {what} rule is gone")
        obj = objects.get_request("app")
        ready = objects.ready_condition(obj)
        assert not (ready and ready["status"] == "True"), f"Ready without the {what} rule"
    finally:
        apply_server_side(kubectl, rendered, tmp_path)  # restore the full role for later tests
        exclusive_operator.stop_all()
