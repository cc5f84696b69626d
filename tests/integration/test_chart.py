"""Install it like a user: the Helm chart renders, lints, is accepted by the real API server (server-side
apply), deploy/ is generated from it without drift, and the operator running under the chart's ServiceAccount
token and RBAC issues and revokes a key, serves a ClusterAccessKeyProvider, posts events and rolls a restart
target. What that ServiceAccount may do is exactly helm/keyfob/rbac-expected.yaml, and removing any one rule of
the operator's ClusterRole breaks the part of the job that needs it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from keyfob.api.vocabulary import GROUP, VERSION
from keyfob_testbed import helm_tool
from keyfob_testbed.identities import service_account_kubeconfig
from keyfob_testbed.operator_fixtures import AwsSetup, LeakWatch, OperatorFactory
from keyfob_testbed.s3_checks import code_of, s3_from
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration


POLICY = "kfchart-keyfob-status-writers"


@pytest.fixture(scope="module")
def rendered(kube_api: Any) -> Iterator[list[dict[str, Any]]]:
    """The chart as the test bed installs it; its admission policy is removed again after this module."""
    yield helm_tool.documents(helm_tool.template(release="kfchart", namespace="kfchart-system",
                                                 values=helm_tool.testbed_values(kube_api)))
    helm_tool.remove_admission_policy(kube_api, POLICY)


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
    assert {d["metadata"]["name"] for d in chart_rbac} == {
        "keyfob", "keyfob-approver", "keyfob-edit", "keyfob-view"}
    policies = [d for d in helm_tool.documents(helm_tool.template()) if d["kind"].startswith("ValidatingAdmission")]
    assert [d["kind"] for d in policies] == ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]


def test_tenant_roles_never_reach_status_or_approve(rendered: list[dict[str, Any]]) -> None:
    roles = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "ClusterRole"}
    for name in ("kfchart-keyfob-edit", "kfchart-keyfob-view"):
        for rule in roles[name]["rules"]:
            assert not any(r.endswith("/status") for r in rule["resources"]), name
            assert "approve" not in rule["verbs"] and "*" not in rule["verbs"] and "*" not in rule["resources"]
    labels = roles["kfchart-keyfob-edit"]["metadata"]["labels"]
    assert labels["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert labels["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert roles["kfchart-keyfob-view"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert [r["resources"] for r in roles["kfchart-keyfob-edit"]["rules"]] == [["accesskeyrequests"]]
    approver = roles["kfchart-keyfob-approver"]["rules"]
    assert {"resources": ["accesskeyproviders", "clusteraccesskeyproviders"], "verbs": ["approve"],
            "apiGroups": ["keyfob.dev"]} in approver


def test_watch_namespaces_grants_secrets_only_there() -> None:
    docs = helm_tool.documents(helm_tool.template(values={"watchNamespaces": ["team-a", "team-b"]}))
    cluster_roles = [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "keyfob"]
    assert len(cluster_roles) == 1
    cluster_rules = cluster_roles[0]["rules"]
    assert not any("secrets" in r["resources"] for r in cluster_rules), "no cluster-wide Secret access"
    assert {"apiGroups": [""], "resources": ["namespaces"], "resourceNames": ["team-a", "team-b"],
            "verbs": ["get"]} in cluster_rules
    roles = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs if d["kind"] == "Role"}
    for ns in ("team-a", "team-b"):
        assert any("secrets" in r["resources"] for r in roles[(ns, "keyfob")]["rules"])
    assert roles[("keyfob-system", "keyfob-cluster-resources")]["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    bindings = {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs if d["kind"] == "RoleBinding"}
    assert bindings == {("team-a", "keyfob"), ("team-b", "keyfob"), ("keyfob-system", "keyfob-cluster-resources"),
                        ("keyfob-system", "keyfob-events"), ("keyfob-system", "keyfob-leader-election")}


def test_deployment_is_hardened(rendered: list[dict[str, Any]]) -> None:
    deployment = next(d for d in rendered if d["kind"] == "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2 and spec["strategy"]["type"] == "RollingUpdate"  # a leader and a standby
    env = {e["name"]: e.get("value") for e in spec["template"]["spec"]["containers"][0]["env"]}
    assert env["KEYFOB_LEADER_ELECTION"] == "true" and env["KEYFOB_LEASE_NAME"] == "kfchart-keyfob-leader"
    pdb = next(d for d in rendered if d["kind"] == "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    single = helm_tool.documents(helm_tool.template(values={"leaderElection": {"enabled": False}}))
    alone = next(d for d in single if d["kind"] == "Deployment")["spec"]
    assert alone["replicas"] == 1 and alone["strategy"]["type"] == "Recreate"
    assert not [d for d in single if d["kind"] == "PodDisruptionBudget" or "leader" in d["metadata"]["name"]]
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
    applied = out.lower()
    for group in (".apps", ".policy", ".rbac.authorization.k8s.io", ".admissionregistration.k8s.io"):
        applied = applied.replace(group, "")
    for doc in rendered:
        assert f"{doc['kind'].lower()}/{doc['metadata']['name']}" in applied


CLUSTER_PROVIDERS = "clusteraccesskeyproviders"
ROTATE, ROLLOUT = "keyfob.dev/rotate", "keyfob.dev/revision"


def cluster_provider(aws_setup: AwsSetup) -> str:
    """A ClusterAccessKeyProvider for this namespace only, its admin Secret in the test namespace (the operator
    is started with that as its cluster resource namespace)."""
    objects, name = aws_setup.objects, f"kfchart-{aws_setup.objects.namespace}"[:63]
    objects.custom.create_cluster_custom_object(GROUP, VERSION, CLUSTER_PROVIDERS, {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "ClusterAccessKeyProvider", "metadata": {"name": name},
        "spec": {"aws": {"iamEndpoint": aws_setup.moto.endpoint, "s3Endpoint": aws_setup.moto.endpoint,
                         "credentialsSecretRef": {"name": "aws-admin"}},
                 "guardrails": {"allowedNamespaces": {"names": [objects.namespace]}, "allowedBuckets": ["*"]}},
    })
    return name


def cluster_provider_ready(aws_setup: AwsSetup, name: str) -> bool:
    obj = aws_setup.objects.custom.get_cluster_custom_object(GROUP, VERSION, CLUSTER_PROVIDERS, name)
    ready = aws_setup.objects.ready_condition(obj)
    return bool(ready and ready["status"] == "True")


def delete_cluster_provider(aws_setup: AwsSetup, name: str) -> None:
    try:
        aws_setup.objects.custom.delete_cluster_custom_object(GROUP, VERSION, CLUSTER_PROVIDERS, name)
    except aws_setup.objects.api_exception as err:
        if err.status != 404:
            raise


def deployment(kube_api: Any, namespace: str, name: str = "web") -> None:
    from kubernetes import client

    labels = {"app": name}
    client.AppsV1Api(kube_api).create_namespaced_deployment(namespace, {
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": "example.invalid/app"}]}}},
    })


def rolled_revision(kube_api: Any, namespace: str, name: str = "web") -> str | None:
    from kubernetes import client

    template = client.AppsV1Api(kube_api).read_namespaced_deployment(name, namespace).spec.template
    return (template.metadata.annotations or {}).get(ROLLOUT)


def rotate(aws_setup: AwsSetup, name: str) -> None:
    aws_setup.objects.patch_request(name, {"metadata": {"annotations": {ROTATE: "once"}}})


def revision(aws_setup: AwsSetup, name: str) -> int:
    return int(((aws_setup.objects.get_request(name) or {}).get("status") or {}).get("revision") or 0)


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
    """Also everything the rule-removal tests below take away: the provider's status, a ClusterAccessKeyProvider,
    events, and rolling a restart target after a rotation."""
    kubeconfig = chart_identity(kubectl, kube_api, test_cluster, rendered, tmp_path)
    who = kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}", kubeconfig=kubeconfig).stdout
    assert who == "system:serviceaccount:kfchart-system:kfchart-keyfob"
    objects = aws_setup.objects
    name = cluster_provider(aws_setup)
    deployment(kube_api, objects.namespace)
    try:
        exclusive_operator.start(kubeconfig=kubeconfig, KEYFOB_CLUSTER_RESOURCE_NAMESPACE=objects.namespace)
        scenario(aws_setup, leak_watch)
        objects.wait_provider("aws", timeout=30)
        wait_for(lambda: cluster_provider_ready(aws_setup, name), 30, 0.2, "ClusterAccessKeyProvider Ready")
        objects.request("rolled", aws_setup.request_spec("rolled-s3", restartTargets=[
            {"kind": "Deployment", "name": "web"}]))
        objects.wait_request("rolled", timeout=30)
        leak_watch.add_secret_data(objects.secret_data("rolled-s3"))
        rotate(aws_setup, "rolled")
        wait_for(lambda: rolled_revision(kube_api, objects.namespace) == "2", 60, 0.2, "web rolled for revision 2")
        assert objects.events_for("rolled"), "events posted"
        assert "forbidden" not in exclusive_operator.logs().lower()
    finally:
        delete_cluster_provider(aws_setup, name)


def effective_rules(api: Any, namespace: str) -> set[tuple[str, str, str, str]]:
    """(group, resource, verb, resourceName or '*') the caller may use in `namespace` (SelfSubjectRulesReview)."""
    from kubernetes import client

    review = client.AuthorizationV1Api(api).create_self_subject_rules_review({"spec": {"namespace": namespace}})
    assert not review.status.incomplete, review.status.evaluation_error
    return {(group, resource, verb, name)
            for rule in review.status.resource_rules
            for group in rule.api_groups or [""] for resource in rule.resources or []
            for verb in rule.verbs for name in (rule.resource_names or ["*"])}


def expected_rules() -> set[tuple[str, str, str, str]]:
    doc = yaml.safe_load((helm_tool.CHART / "rbac-expected.yaml").read_text())
    return {(group, resource, verb, "*")
            for group, resources in doc["clusterWide"].items() for resource, verbs in resources.items()
            for verb in verbs}


def test_the_operators_service_account_may_do_exactly_the_documented_set(
    rendered: list[dict[str, Any]], kubectl: Any, kube_api: Any, test_cluster: Any, tmp_path: Path,
    namespace: str,
) -> None:
    """An excess permission (a new verb, a wildcard, a forgotten rule) fails this as surely as a missing one.
    What every authenticated user may do anyway (self reviews, discovery) is subtracted: a bare ServiceAccount's
    rules are the baseline."""
    from kubernetes import config

    kubeconfig = chart_identity(kubectl, kube_api, test_cluster, rendered, tmp_path)
    bare_config = service_account_kubeconfig(test_cluster, namespace, "nobody", tmp_path / "bare.kubeconfig")
    seen: dict[str, set[tuple[str, str, str, str]]] = {}
    for who, path in (("operator", kubeconfig), ("bare", bare_config)):
        api = config.new_client_from_config(config_file=str(path), persist_config=False)
        try:
            seen[who] = effective_rules(api, namespace)
        finally:
            api.close()
    granted = seen["operator"] - seen["bare"]
    expected = expected_rules()
    assert granted - expected == set(), f"permissions beyond helm/keyfob/rbac-expected.yaml: {granted - expected}"
    assert expected - granted == set(), f"documented but not granted: {expected - granted}"


# Each rule of the operator's ClusterRole (by its first resource), and what breaks without it.
RULES = [
    ("accesskeyrequests", "request"),
    ("accesskeyrequests/status", "request"),
    ("accesskeyproviders", "request"),
    ("accesskeyproviders/status", "provider-status"),
    ("secrets", "request"),
    ("events", "events"),
    ("deployments", "rollout"),
    ("clusteraccesskeyproviders", "cluster-provider"),
    ("clusteraccesskeyproviders/status", "cluster-provider"),
    # Namespace labels are read only to judge a ClusterAccessKeyProvider's allowedNamespaces.
    ("namespaces", "cluster-request"),
]


def test_every_rule_of_the_operators_role_has_a_removal_test(rendered: list[dict[str, Any]]) -> None:
    role = next(d for d in rendered if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "kfchart-keyfob")
    assert sorted(r["resources"][0] for r in role["rules"]) == sorted(resource for resource, _ in RULES)


@pytest.mark.parametrize(("resource", "breaks"), RULES)
def test_removing_one_rule_from_the_chart_breaks_the_operator(
    resource: str, breaks: str, rendered: list[dict[str, Any]], aws_setup: AwsSetup,
    exclusive_operator: OperatorFactory, kubectl: Any, kube_api: Any, test_cluster: Any, tmp_path: Path,
    leak_watch: LeakWatch,
) -> None:
    docs = copy.deepcopy(rendered)
    role = next(d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "kfchart-keyfob")
    role["rules"] = [r for r in role["rules"] if r["resources"][0] != resource]
    objects = aws_setup.objects
    provider_name: str | None = None
    try:
        kubeconfig = chart_identity(kubectl, kube_api, test_cluster, docs, tmp_path)
        if breaks in ("cluster-provider", "cluster-request"):
            provider_name = cluster_provider(aws_setup)
        if breaks == "rollout":
            deployment(kube_api, objects.namespace)
        operator = exclusive_operator.start(kubeconfig=kubeconfig,
                                            KEYFOB_CLUSTER_RESOURCE_NAMESPACE=objects.namespace)

        def forbidden_seen() -> bool:
            return "forbidden" in operator.log_text().lower()

        if breaks in ("request", "cluster-request"):
            ref = {"kind": "ClusterAccessKeyProvider", "name": provider_name} if provider_name else None
            objects.request("app", aws_setup.request_spec("app-s3", **({"providerRef": ref} if ref else {})))
            wait_for(forbidden_seen, 60, 0.5, f"a 403 once the {resource} rule is gone")
            ready = objects.ready_condition(objects.get_request("app"))
            assert not (ready and ready["status"] == "True"), f"Ready without the {resource} rule"
        elif breaks == "provider-status":  # a new provider: `aws` got its status before this operator started
            objects.provider("fresh", objects.get_provider("aws")["spec"])
            wait_for(forbidden_seen, 60, 0.5, f"a 403 once the {resource} rule is gone")
            assert objects.ready_condition(objects.get_provider("fresh")) is None, "provider status written"
        elif breaks == "events":
            objects.request("app", aws_setup.request_spec("app-s3"))
            objects.wait_request("app", timeout=30)
            leak_watch.add_secret_data(objects.secret_data("app-s3"))
            wait_for(lambda: "could not post event Issued: HTTP 403" in operator.log_text(), 30, 0.5, "event refused")
            assert objects.events_for("app") == []  # the event is dropped (and logged); the request is Ready
        elif breaks == "rollout":
            objects.request("rolled", aws_setup.request_spec("rolled-s3", restartTargets=[
                {"kind": "Deployment", "name": "web"}]))
            objects.wait_request("rolled", timeout=30)
            leak_watch.add_secret_data(objects.secret_data("rolled-s3"))
            rotate(aws_setup, "rolled")
            wait_for(lambda: revision(aws_setup, "rolled") >= 2, 60, 0.2, "rotated to revision 2")
            leak_watch.add_secret_data(objects.secret_data("rolled-s3"))
            wait_for(forbidden_seen, 60, 0.5, f"a 403 once the {resource} rule is gone")
            assert rolled_revision(kube_api, objects.namespace) is None, "rolled without the apps rule"
        else:
            assert provider_name is not None
            wait_for(forbidden_seen, 60, 0.5, f"a 403 once the {resource} rule is gone")
            assert not cluster_provider_ready(aws_setup, provider_name), f"Ready without the {resource} rule"
    finally:
        if provider_name is not None:
            delete_cluster_provider(aws_setup, provider_name)
        apply_server_side(kubectl, rendered, tmp_path)  # restore the full role for later tests
        exclusive_operator.stop_all()


def test_operator_with_watch_namespaces_works_from_namespaced_roles(
    rendered: list[dict[str, Any]], aws_setup: AwsSetup, exclusive_operator: OperatorFactory, kubectl: Any,
    kube_api: Any, test_cluster: Any, tmp_path: Path, leak_watch: LeakWatch,
) -> None:
    """watchNamespaces: Secrets and keyfob objects come from a Role in each watched namespace, not a ClusterRole,
    and the operator still issues and revokes (the orphan sweep is not exercised: see the chart's README)."""
    from kubernetes import client

    objects = aws_setup.objects
    docs = helm_tool.documents(helm_tool.template(
        release="kfchart", namespace="kfchart-system",
        values={**helm_tool.testbed_values(kube_api), "watchNamespaces": [objects.namespace]}))
    role = next(d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "kfchart-keyfob")
    assert not any("secrets" in r["resources"] for r in role["rules"])
    extra = [d for d in docs if d["kind"] in ("Role", "RoleBinding")]
    rbac = client.RbacAuthorizationV1Api(kube_api)
    try:
        kubeconfig = chart_identity(kubectl, kube_api, test_cluster, docs, tmp_path)
        exclusive_operator.start(kubeconfig=kubeconfig)
        scenario(aws_setup, leak_watch)
        assert "forbidden" not in exclusive_operator.logs().lower()
    finally:
        exclusive_operator.stop_all()
        apply_server_side(kubectl, rendered, tmp_path)
        for doc in extra:
            delete = rbac.delete_namespaced_role if doc["kind"] == "Role" else rbac.delete_namespaced_role_binding
            try:
                delete(doc["metadata"]["name"], doc["metadata"]["namespace"])
            except client.ApiException as err:
                if err.status != 404:
                    raise


LEASE_OF_RELEASE = "kfchart-keyfob-leader"


def expected_release_namespace_rules() -> set[tuple[str, str, str, str]]:
    doc = yaml.safe_load((helm_tool.CHART / "rbac-expected.yaml").read_text())
    rules = set()
    for group, resources in doc["releaseNamespace"].items():
        for resource, verbs in resources.items():
            plural, _, named = resource.partition("/")
            rules |= {(group, plural, verb, LEASE_OF_RELEASE if named else "*") for verb in verbs}
    return rules


def test_the_lease_rules_are_exactly_the_documented_set_in_the_release_namespace_only(
    rendered: list[dict[str, Any]], kubectl: Any, kube_api: Any, test_cluster: Any, tmp_path: Path,
    namespace: str,
) -> None:
    from kubernetes import config

    kubeconfig = chart_identity(kubectl, kube_api, test_cluster, rendered, tmp_path)
    api = config.new_client_from_config(config_file=str(kubeconfig), persist_config=False)
    try:
        release, elsewhere = effective_rules(api, "kfchart-system"), effective_rules(api, namespace)
    finally:
        api.close()
    leases = {rule for rule in release if rule[0] == "coordination.k8s.io"}
    assert leases == expected_release_namespace_rules()
    assert not {rule for rule in elsewhere if rule[0] == "coordination.k8s.io"}, "leases beyond the release ns"


def _delete_lease(kube_api: Any) -> None:
    from kubernetes import client

    try:
        client.CoordinationV1Api(kube_api).delete_namespaced_lease(LEASE_OF_RELEASE, "kfchart-system")
    except client.ApiException as err:
        if err.status != 404:
            raise


@pytest.mark.parametrize("removed", [None, "create", "get"])
def test_leader_election_under_the_charts_service_account_needs_each_lease_rule(
    removed: str | None, rendered: list[dict[str, Any]], aws_setup: AwsSetup, exclusive_operator: OperatorFactory,
    kubectl: Any, kube_api: Any, test_cluster: Any, tmp_path: Path, leak_watch: LeakWatch,
) -> None:
    """With every rule the operator leads and issues; without `create` (no Lease yet) or without get/update of
    its own Lease it never leads, so it writes nothing."""
    docs = copy.deepcopy(rendered)
    role = next(d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == "kfchart-keyfob-leader-election")
    if removed is not None:
        role["rules"] = [r for r in role["rules"] if removed not in r["verbs"]]
    _delete_lease(kube_api)
    objects = aws_setup.objects
    try:
        kubeconfig = chart_identity(kubectl, kube_api, test_cluster, docs, tmp_path)
        operator = exclusive_operator.start(
            kubeconfig=kubeconfig, KEYFOB_CLUSTER_RESOURCE_NAMESPACE=objects.namespace,
            KEYFOB_LEADER_ELECTION="true", KEYFOB_LEASE_NAME=LEASE_OF_RELEASE, KEYFOB_LEASE_NAMESPACE="kfchart-system")
        objects.request("app", aws_setup.request_spec("app-s3"))
        if removed is None:
            objects.wait_request("app", timeout=60)
            leak_watch.add_secret_data(objects.secret_data("app-s3"))
            assert "leading with lease" in operator.log_text()
        else:
            wait_for(lambda: "standby for lease" in operator.log_text(), 30, 0.2, "a candidate")
            wait_for(lambda: "forbidden" in operator.log_text().lower(), 30, 0.5, "the Lease refused")
            assert operator.alive()
            assert "leading with lease" not in operator.log_text(), f"led without the {removed} rule"
            assert objects.ready_condition(objects.get_request("app")) is None, "a standby wrote status"
    finally:
        apply_server_side(kubectl, rendered, tmp_path)
        exclusive_operator.stop_all()
        _delete_lease(kube_api)
