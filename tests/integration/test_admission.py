"""Zero trust at the API server: hostile tenants and approvers against the chart's RBAC and admission policy.

The chart is applied as a user would (server-side apply of `helm template`); every actor is a ServiceAccount
with a TokenRequest token, so RBAC and the ValidatingAdmissionPolicy judge them exactly as they would a pod:
- a tenant holding only the built-in `edit` role in its namespace (filled by aggregation from the chart's
  ClusterRoles) writes requests but not their status;
- an approver writes status.approval only, as themselves, for providers they hold `approve` on;
- the operator's own ServiceAccount writes all of the status.
No operator runs here: the session operator is paused so nothing else writes these objects meanwhile.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from keyfob.api.vocabulary import GROUP, VERSION
from keyfob_testbed import helm_tool
from keyfob_testbed.envtest import TestCluster
from keyfob_testbed.identities import service_account_kubeconfig
from keyfob_testbed.objects import API_VERSION, CLUSTER_PROVIDERS, PROVIDERS, REQUESTS
from keyfob_testbed.operator_process import OperatorProcess
from keyfob_testbed.waiting import wait_for

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

pytestmark = pytest.mark.integration

RELEASE, RELEASE_NS = "kfchart", "kfchart-system"
OPERATOR_SA = "kfchart-keyfob"
SCOPE = "0123456789abcdef"


@dataclass
class Actor:
    """One identity: its username and a CustomObjectsApi authenticated as it."""

    username: str
    custom: Any
    api: ApiClient

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        return self.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, REQUESTS, name, {"status": status}
        )


def denied(call: Callable[[], object]) -> tuple[int, str]:
    """Run a call that must be refused; return its HTTP status and message."""
    from kubernetes import client

    try:
        call()
    except client.ApiException as err:
        return int(err.status), str(err.body)
    raise AssertionError("the API server accepted a write it must refuse")


@dataclass
class World:
    namespace: str
    cluster_provider: str
    tenant: Actor
    approver: Actor  # approver ClusterRole bound in `namespace`: approve on that namespace's providers
    narrow_approver: Actor  # status writes in `namespace`, approve on AccessKeyProvider `aws` only
    cluster_approver: Actor  # approver in `namespace` + approve on the one ClusterAccessKeyProvider
    operator: Actor
    admin: Any

    def request(self, name: str, provider: str = "aws", kind: str = "AccessKeyProvider") -> None:
        body = {
            "apiVersion": API_VERSION, "kind": "AccessKeyRequest", "metadata": {"name": name},
            "spec": {
                "providerRef": {"kind": kind, "name": provider}, "buckets": [{"name": "team-bucket"}],
                "permissions": ["read"], "ttl": "1h", "secretName": f"{name}-s3",
            },
        }
        self.admin.create_namespaced_custom_object(GROUP, VERSION, self.namespace, REQUESTS, body)

    def get(self, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = self.admin.get_namespaced_custom_object(GROUP, VERSION, self.namespace, REQUESTS, name)
        return obj

    def approval(self, actor: Actor, by: str | None = None, decision: str = "Approved", provider: str = "aws",
                 kind: str = "AccessKeyProvider") -> dict[str, Any]:
        """An approval as `keyfob approve` writes it: it names the provider it approves at (the policy checks
        'approve' on that one, and keyfob honours it only for that provider)."""
        return {"approval": {"scopeHash": SCOPE, "providerRef": {"kind": kind, "name": provider},
                             "decision": decision, "by": actor.username if by is None else by,
                             "reason": "looks fine", "time": "2026-11-22T10:00:00Z"}}


def _actor(cluster: TestCluster, namespace: str, name: str, out: Path) -> Actor:
    from kubernetes import client, config

    kubeconfig = service_account_kubeconfig(cluster, namespace, name, out / f"{namespace}-{name}.kubeconfig")
    api = config.new_client_from_config(config_file=str(kubeconfig), persist_config=False)
    return Actor(f"system:serviceaccount:{namespace}:{name}", client.CustomObjectsApi(api), api)


def _bind(rbac: Any, namespace: str, binding: str, role_kind: str, role: str, account: str) -> None:
    body = {
        "metadata": {"name": binding, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
    }
    rbac.create_namespaced_role_binding(namespace, body)


def _aggregated_into_edit(rbac: Any) -> bool:
    rules = rbac.read_cluster_role("edit").rules or []
    return any(GROUP in (r.api_groups or []) and REQUESTS in (r.resources or []) for r in rules)


@pytest.fixture(scope="module")
def world(
    test_cluster: TestCluster, kube_api: ApiClient, keyfob_crds: None, keyfob_operator: OperatorProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    from kubernetes import client

    if not test_cluster.has_controller_manager:
        pytest.skip("ClusterRole aggregation needs kube-controller-manager")
    keyfob_operator.stop()  # nothing but the actors below writes these objects
    out = tmp_path_factory.mktemp("admission")
    core, rbac = client.CoreV1Api(kube_api), client.RbacAuthorizationV1Api(kube_api)
    custom = client.CustomObjectsApi(kube_api)
    namespace, cluster_provider = f"kf-zt-{secrets.token_hex(3)}", f"kf-zt-{secrets.token_hex(3)}"
    docs = helm_tool.documents(helm_tool.template(release=RELEASE, namespace=RELEASE_NS,
                                                  values=helm_tool.testbed_values(kube_api)))
    try:
        for name in (RELEASE_NS, namespace):
            try:
                core.create_namespace({"metadata": {"name": name}})
            except client.ApiException as err:
                if err.status != 409:
                    raise
        helm_tool.apply(test_cluster.kubeconfig, docs)
        wait_for(lambda: _aggregated_into_edit(rbac), 30, 0.2, "the chart's edit role aggregated into `edit`")
        for provider in ("aws", "other"):
            custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PROVIDERS, {
                "apiVersion": API_VERSION, "kind": "AccessKeyProvider", "metadata": {"name": provider},
                "spec": {"aws": {"credentialsSecretRef": {"name": "aws-admin"}}},
            })
        custom.create_cluster_custom_object(GROUP, VERSION, CLUSTER_PROVIDERS, {
            "apiVersion": API_VERSION, "kind": "ClusterAccessKeyProvider", "metadata": {"name": cluster_provider},
            "spec": {"aws": {"credentialsSecretRef": {"name": "aws-admin"}},
                     "guardrails": {"allowedNamespaces": {"names": [namespace]}}},
        })
        approver_role = f"{RELEASE}-keyfob-approver"
        _bind(rbac, namespace, "tenant-edit", "ClusterRole", "edit", "tenant")
        _bind(rbac, namespace, "approver", "ClusterRole", approver_role, "approver")
        _bind(rbac, namespace, "cluster-approver", "ClusterRole", approver_role, "cluster-approver")
        rbac.create_namespaced_role(namespace, {
            "metadata": {"name": "approve-aws-only"},
            "rules": [
                {"apiGroups": [GROUP], "resources": [f"{REQUESTS}/status"], "verbs": ["patch"]},
                {"apiGroups": [GROUP], "resources": [PROVIDERS], "resourceNames": ["aws"], "verbs": ["approve"]},
            ],
        })
        _bind(rbac, namespace, "narrow-approver", "Role", "approve-aws-only", "narrow-approver")
        rbac.create_cluster_role({
            "metadata": {"name": f"approve-{cluster_provider}"},
            "rules": [{"apiGroups": [GROUP], "resources": [CLUSTER_PROVIDERS], "resourceNames": [cluster_provider],
                       "verbs": ["approve"]}],
        })
        rbac.create_cluster_role_binding({
            "metadata": {"name": f"approve-{cluster_provider}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": f"approve-{cluster_provider}"},
            "subjects": [{"kind": "ServiceAccount", "name": "cluster-approver", "namespace": namespace}],
        })
        actors = {n: _actor(test_cluster, namespace, n, out)
                  for n in ("tenant", "approver", "narrow-approver", "cluster-approver")}
        operator = _actor(test_cluster, RELEASE_NS, OPERATOR_SA, out)
        made = World(namespace, cluster_provider, actors["tenant"], actors["approver"], actors["narrow-approver"],
                     actors["cluster-approver"], operator, custom)
        _wait_until_enforced(made)
        yield made
        for actor in (*actors.values(), operator):
            actor.api.close()
    finally:
        helm_tool.remove_admission_policy(kube_api, f"{RELEASE}-keyfob-status-writers")
        for delete in (lambda: custom.delete_cluster_custom_object(GROUP, VERSION, CLUSTER_PROVIDERS,
                                                                   cluster_provider),
                       lambda: rbac.delete_cluster_role_binding(f"approve-{cluster_provider}"),
                       lambda: rbac.delete_cluster_role(f"approve-{cluster_provider}"),
                       lambda: core.delete_namespace(namespace)):
            try:
                delete()
            except client.ApiException as err:
                if err.status != 404:
                    raise
        keyfob_operator.start()


def _wait_until_enforced(world: World) -> None:
    """A new policy takes effect once the API server's policy informer has it: probe with a dry-run write."""
    from kubernetes import client

    world.request("probe")

    def refused() -> bool:
        try:
            world.approver.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, world.namespace, REQUESTS, "probe", {"status": {"accessKeyId": "AKIAPROBE0000000001"}},
                dry_run="All")
        except client.ApiException as err:
            return err.status == 403 and "written only by the keyfob operator" in str(err.body)
        return False

    wait_for(refused, 30, 0.2, "the admission policy enforced")


def test_the_policy_type_checks_against_the_crd(world: World, kube_api: ApiClient) -> None:
    """The API server compiles every expression against the CRD's schema: a typo in a field name is a warning
    there (and a silent pass at runtime), so none may be reported."""
    from kubernetes import client

    policy = client.AdmissionregistrationV1Api(kube_api).read_validating_admission_policy(
        f"{RELEASE}-keyfob-status-writers")

    def checked() -> bool:
        return policy.status is not None and policy.status.observed_generation == policy.metadata.generation

    def refresh() -> bool:
        nonlocal policy
        policy = client.AdmissionregistrationV1Api(kube_api).read_validating_admission_policy(
            f"{RELEASE}-keyfob-status-writers")
        return checked()

    wait_for(refresh, 30, 0.2, "the policy type-checked")
    warnings = (policy.status.type_checking.expression_warnings if policy.status.type_checking else None) or []
    assert warnings == [], [w.warning for w in warnings]


def _operator_status() -> dict[str, Any]:
    """A status as the operator writes it: every kind of field filled in."""
    return {
        "conditions": [{"type": "Ready", "status": "True", "reason": "Issued", "message": "issued",
                        "lastTransitionTime": "2026-11-22T10:00:00Z", "observedGeneration": 1}],
        "accessKeyId": "AKIAOPERATOR0000001", "revision": 1, "scopeHash": SCOPE,
        "issuedAt": "2026-11-22T10:00:00Z", "expiresAt": "2026-11-22T11:00:00Z", "observedGeneration": 1,
    }


def test_tenant_with_edit_writes_requests_never_their_status(world: World) -> None:
    from kubernetes import client

    spec = {"providerRef": {"name": "aws"}, "buckets": [{"name": "team-bucket"}], "permissions": ["read"],
            "ttl": "1h", "secretName": "mine-s3"}
    forged = {"accessKeyId": "AKIAFORGED000000001", **world.approval(world.tenant)}
    created = world.tenant.custom.create_namespaced_custom_object(GROUP, VERSION, world.namespace, REQUESTS, {
        "apiVersion": API_VERSION, "kind": "AccessKeyRequest", "metadata": {"name": "mine"}, "spec": spec,
        "status": forged,
    })
    assert "status" not in created, "status sent on CREATE must be dropped (status subresource)"
    world.tenant.custom.patch_namespaced_custom_object(
        GROUP, VERSION, world.namespace, REQUESTS, "mine", {"spec": {"permissions": ["read", "list"]}, "status": forged}
    )
    after = world.get("mine")
    assert after["spec"]["permissions"] == ["read", "list"]
    assert "status" not in after, "status in a main-resource patch must be ignored"

    code, _ = denied(lambda: world.tenant.patch_status(world.namespace, "mine", forged))
    assert code == 403
    code, _ = denied(lambda: world.tenant.patch_status(world.namespace, "mine", world.approval(world.tenant)))
    assert code == 403
    # edit covers requests, reads providers, and creates none (rbac.tenantsManageProviders is off by default)
    world.tenant.custom.get_namespaced_custom_object(GROUP, VERSION, world.namespace, PROVIDERS, "aws")
    code, _ = denied(lambda: world.tenant.custom.create_namespaced_custom_object(
        GROUP, VERSION, world.namespace, PROVIDERS,
        {"apiVersion": API_VERSION, "kind": "AccessKeyProvider", "metadata": {"name": "own"},
         "spec": {"aws": {"credentialsSecretRef": {"name": "mine"}}}}))
    assert code == 403
    review = client.AuthorizationV1Api(world.tenant.api).create_self_subject_access_review({"spec": {
        "resourceAttributes": {"group": GROUP, "resource": PROVIDERS, "namespace": world.namespace, "name": "aws",
                               "verb": "approve"}}})
    assert review.status.allowed is False


def test_approver_sets_the_approval_as_themselves(world: World) -> None:
    world.request("approve-me")
    world.operator.patch_status(world.namespace, "approve-me", _operator_status())
    before = world.get("approve-me")["status"]
    world.approver.patch_status(world.namespace, "approve-me", world.approval(world.approver))
    status = world.get("approve-me")["status"]
    assert status["approval"]["by"] == world.approver.username
    assert status["approval"]["decision"] == "Approved"
    assert {k: v for k, v in status.items() if k != "approval"} == before
    # changing one's mind (Denied) and withdrawing are approvals too
    world.approver.patch_status(world.namespace, "approve-me", world.approval(world.approver, decision="Denied"))
    world.approver.patch_status(world.namespace, "approve-me", {"approval": None})
    assert "approval" not in world.get("approve-me")["status"]


def test_approver_cannot_sign_as_someone_else(world: World) -> None:
    world.request("impostor")
    for by in (world.operator.username, "alice", ""):
        code, message = denied(lambda by=by: world.approver.patch_status(
            world.namespace, "impostor", world.approval(world.approver, by=by)))
        assert code == 403 and "must be your own username" in message, message
    assert "approval" not in (world.get("impostor").get("status") or {})


@pytest.mark.parametrize(("field", "value"), [
    ("accessKeyId", "AKIAFORGED000000001"),
    ("pending", {"revision": 2, "keyName": "kf-00000000-0000-0000-0000-000000000001-r2", "reason": "Renewal",
                 "startedAt": "2026-11-22T10:00:00Z"}),
    ("conditions", [{"type": "Approved", "status": "True", "reason": "Approved", "message": "by me",
                     "lastTransitionTime": "2026-11-22T10:00:00Z", "observedGeneration": 1}]),
    ("revision", 7),
    ("scopeHash", "fedcba9876543210"),
    ("observedGeneration", 2),
])
def test_approver_cannot_touch_any_other_status_field(world: World, field: str, value: object) -> None:
    name = f"field-{field.lower()}"
    world.request(name)
    world.operator.patch_status(world.namespace, name, _operator_status())
    before = world.get(name)["status"]
    code, message = denied(lambda: world.approver.patch_status(world.namespace, name, {field: value}))
    assert code == 403 and f"status.{field} is written only by the keyfob operator" in message, message
    # not even together with a valid approval, nor with a full replace (PUT) of the status
    code, _ = denied(lambda: world.approver.patch_status(
        world.namespace, name, {field: value, **world.approval(world.approver)}))
    assert code == 403
    current = world.get(name)
    current["status"][field] = value
    code, _ = denied(lambda: world.approver.custom.replace_namespaced_custom_object_status(
        GROUP, VERSION, world.namespace, REQUESTS, name, current))
    assert code == 403
    assert world.get(name)["status"] == before


def test_approval_needs_approve_on_the_requests_own_provider(world: World) -> None:
    world.request("on-aws", provider="aws")
    world.request("on-other", provider="other")
    world.request("on-cluster", provider=world.cluster_provider, kind="ClusterAccessKeyProvider")

    world.narrow_approver.patch_status(world.namespace, "on-aws", world.approval(world.narrow_approver))
    code, message = denied(lambda: world.narrow_approver.patch_status(
        world.namespace, "on-other", world.approval(world.narrow_approver, provider="other")))
    assert code == 403 and "needs the verb approve" in message, message
    # Naming a provider one may approve at does not help on another request: the approval names 'aws', so keyfob
    # (which issues at 'other' for this request) never honours it, and the policy judged 'aws', not 'other'.
    world.narrow_approver.patch_status(world.namespace, "on-other", world.approval(world.narrow_approver))

    # The approver ClusterRole bound in one namespace reaches that namespace's providers, not cluster ones.
    on_cluster = {"provider": world.cluster_provider, "kind": "ClusterAccessKeyProvider"}
    code, message = denied(lambda: world.approver.patch_status(
        world.namespace, "on-cluster", world.approval(world.approver, **on_cluster)))
    assert code == 403 and "ClusterAccessKeyProvider" in message, message
    world.cluster_approver.patch_status(world.namespace, "on-cluster",
                                        world.approval(world.cluster_approver, **on_cluster))
    assert world.get("on-cluster")["status"]["approval"]["by"] == world.cluster_approver.username


def test_operator_identity_writes_all_of_the_status(world: World) -> None:
    world.request("operator-owned")
    status = {**_operator_status(),
              "approval": {"scopeHash": SCOPE, "providerRef": {"name": "aws"}, "decision": "Denied",
                           "by": "someone-else", "reason": "kept"},
              "pending": {"revision": 2, "keyName": "kf-00000000-0000-0000-0000-000000000001-r2",
                          "reason": "Renewal", "startedAt": "2026-11-22T10:00:00Z"}}
    world.operator.patch_status(world.namespace, "operator-owned", status)
    written = world.get("operator-owned")["status"]
    assert written["accessKeyId"] == "AKIAOPERATOR0000001" and written["pending"]["revision"] == 2
    world.operator.patch_status(world.namespace, "operator-owned", {"accessKeyId": "AKIAOPERATOR0000002",
                                                                    "pending": None})
    assert world.get("operator-owned")["status"]["accessKeyId"] == "AKIAOPERATOR0000002"
