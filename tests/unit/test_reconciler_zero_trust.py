"""Zero trust in the reconciler, against in-memory ports: a provider double that, like the real adapters,
proves ownership from its own record before it revokes or replaces. Status is memory; the provider is truth."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from pydantic import SecretStr

from keyfob.api.common import ObjectKind
from keyfob.api.provider import ProviderSpec
from keyfob.api.request import ProviderRef
from keyfob.api.vocabulary import Permission
from keyfob.contract import (
    Capabilities,
    ConnectionInfo,
    Grant,
    IssuedKey,
    KeyRef,
    OwnedKey,
    OwnershipUnproven,
)
from keyfob.contract.naming import key_name, parse_key_name
from keyfob.lifecycle.fingerprint import scope_hash
from keyfob.lifecycle.ports import ProviderLookupError, ResolvedProvider
from keyfob.lifecycle.reconciler import RequestReconciler
from keyfob.lifecycle.request_view import parse_request
from tests.unit.test_reconciler import UID, Clock, MemoryCluster

OTHER_UID = "11111111-2222-4333-8444-555555555555"


class ProvingProvider:
    """Keys by name with the request uid the provider recorded; revoke/replace only after that record agrees."""

    kind: ClassVar[str] = "memory"

    def __init__(self, label: str) -> None:
        self.label = label
        self.capabilities = Capabilities(frozenset(Permission), True, False)
        self.keys: dict[str, tuple[str, str, frozenset[str]]] = {}  # name -> (key id, owner uid, buckets)
        self.counter = itertools.count(1)
        self.calls: list[str] = []

    def connection(self) -> ConnectionInfo:
        return ConnectionInfo("http://127.0.0.1:1", "us-east-1")

    def unsupported(self, grant: Grant) -> list[str]:
        return []

    def check(self) -> None:
        return None

    def issue(self, grant: Grant) -> IssuedKey:
        self.calls.append(f"issue {grant.key_name}")
        existing = self.keys.get(grant.key_name)
        if existing is not None and existing[1] != grant.request.uid:
            raise OwnershipUnproven(f"{grant.key_name} belongs to another request")
        key_id = f"AK{self.label.upper()}{next(self.counter):04d}"
        self.keys[grant.key_name] = (key_id, grant.request.uid, frozenset(b.name for b in grant.buckets))
        return IssuedKey(grant.key_name, key_id, SecretStr(f"secret-{key_id}"), grant.expires_at, False)

    def revoke(self, ref: KeyRef) -> None:
        self.calls.append(f"revoke {ref.key_name}")
        existing = self.keys.get(ref.key_name)
        if existing is None:
            return
        if existing[1] != ref.owner_uid:
            raise OwnershipUnproven(f"{ref.key_name} belongs to another request")
        del self.keys[ref.key_name]

    def list_owned(self) -> list[OwnedKey]:
        """Like the adapters: only keys under keyfob's naming convention, with the owner from the record."""
        return [OwnedKey(name, (kid,), owner) for name, (kid, owner, _) in self.keys.items() if parse_key_name(name)]


@dataclass
class Providers:
    adapters: dict[str, ProvingProvider]
    guardrails: dict[str, Any] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)

    def resolve(self, request_namespace: str, ref: ProviderRef, *, fresh: bool = False) -> ResolvedProvider:
        if ref.name not in self.adapters or ref.name in self.gone:
            raise ProviderLookupError("ProviderNotFound", f"AccessKeyProvider {ref.name!r} not found")
        spec = ProviderSpec.model_validate({"guardrails": self.guardrails})
        return ResolvedProvider(ObjectKind.ACCESS_KEY_PROVIDER, request_namespace, ref.name, spec,
                                self.adapters[ref.name])  # type: ignore[arg-type]

    def last_known(self, request_namespace: str, ref: ProviderRef) -> ResolvedProvider | None:
        return None


def world(**guardrails: Any) -> tuple[MemoryCluster, Providers, RequestReconciler, Clock]:
    obj = {
        "metadata": {"namespace": "ns", "name": "app", "uid": UID, "generation": 1, "resourceVersion": "1"},
        "spec": {"providerRef": {"name": "a"}, "buckets": [{"name": "data"}], "permissions": ["read"],
                 "ttl": "1h", "rotationGracePeriod": "0s", "secretName": "app-s3"},
    }
    cluster, clock = MemoryCluster(obj), Clock()
    providers = Providers({"a": ProvingProvider("a"), "b": ProvingProvider("b")}, guardrails)
    return cluster, providers, RequestReconciler(cluster, providers, clock), clock


def run(cluster: MemoryCluster, reconciler: RequestReconciler) -> Any:
    return reconciler.reconcile(parse_request(cluster.obj))


def ready(cluster: MemoryCluster) -> dict[str, Any]:
    return next(c for c in cluster.obj["status"]["conditions"] if c["type"] == "Ready")


def forge(cluster: MemoryCluster, **fields: Any) -> None:
    cluster.obj["status"].update(fields)
    cluster.obj["metadata"]["resourceVersion"] = str(int(cluster.obj["metadata"]["resourceVersion"]) + 1)


FOREIGN = key_name(OTHER_UID, 1)


@pytest.mark.parametrize(
    ("case", "forged"),
    [
        ("pending names another request's key", {"pending": {"revision": 2, "keyName": FOREIGN, "reason": "Renewal",
                                                             "startedAt": "2026-01-01T00:00:00Z"}}),
        ("previous key of another request", {"previousKeys": [{"accessKeyId": "AKB0001", "keyName": FOREIGN}]}),
        ("current key of another request", {"keyName": FOREIGN}),
        ("current key name of a later revision", {"keyName": key_name(UID, 9)}),
        ("key id without a key name", {"keyName": None}),
    ],
)
def test_a_status_keyfob_could_not_have_written_changes_nothing_at_any_provider(
    case: str, forged: dict[str, Any]
) -> None:
    cluster, providers, reconciler, _ = world()
    providers.adapters["a"].keys[FOREIGN] = ("AKVICTIM", OTHER_UID, frozenset({"data"}))
    run(cluster, reconciler)
    before = {name: dict(p.keys) for name, p in providers.adapters.items()}
    calls = len(providers.adapters["a"].calls)
    forge(cluster, **forged)
    outcome = run(cluster, reconciler)
    assert ready(cluster)["reason"] == "StatusTampered", case
    assert any(e.type == "Warning" and e.reason == "StatusTampered" for e in outcome.events)
    assert {name: dict(p.keys) for name, p in providers.adapters.items()} == before, case
    assert len(providers.adapters["a"].calls) == calls, f"{case}: a provider call was made"
    finalized = reconciler.finalize(parse_request(cluster.obj))
    assert providers.adapters["a"].keys[FOREIGN][0] == "AKVICTIM", "deletion revoked a foreign key"
    assert any(e.reason == "StatusTampered" for e in finalized.events)


def test_a_foreign_access_key_id_in_status_is_never_the_one_revoked() -> None:
    cluster, providers, reconciler, _ = world()
    providers.adapters["a"].keys[FOREIGN] = ("AKVICTIM", OTHER_UID, frozenset({"data"}))
    run(cluster, reconciler)
    forge(cluster, accessKeyId="AKVICTIM")  # my key name, the victim's id
    run(cluster, reconciler)
    assert providers.adapters["a"].keys[FOREIGN][0] == "AKVICTIM"
    assert cluster.obj["status"]["revision"] == 2, "the Secret no longer matches: a fresh key of its own"


def test_provider_switch_issues_at_the_new_provider_and_revokes_at_the_old() -> None:
    cluster, providers, reconciler, _ = world()
    run(cluster, reconciler)
    first = key_name(UID, 1)
    assert first in providers.adapters["a"].keys
    cluster.obj["spec"]["providerRef"] = {"name": "b"}
    run(cluster, reconciler)
    status = cluster.obj["status"]
    assert status["providerRef"]["name"] == "b" and status["revision"] == 2
    assert key_name(UID, 2) in providers.adapters["b"].keys
    assert first not in providers.adapters["a"].keys, "the old key is revoked where it was issued"
    assert f"revoke {first}" not in providers.adapters["b"].calls


def test_expiry_is_enforced_through_the_issuing_provider_when_the_spec_dangles() -> None:
    cluster, providers, reconciler, clock = world()
    run(cluster, reconciler)
    cluster.obj["spec"]["providerRef"] = {"name": "ghost"}  # the tenant points the request nowhere
    run(cluster, reconciler)
    assert ready(cluster)["reason"] == "ProviderNotFound"
    assert key_name(UID, 1) in providers.adapters["a"].keys, "the current key keeps working until its expiry"
    clock.now += timedelta(hours=1, seconds=1)
    run(cluster, reconciler)
    assert providers.adapters["a"].keys == {}, "expired: revoked at 'a' although the spec names 'ghost'"


def test_a_pending_issue_at_a_provider_the_spec_left_is_revoked_there() -> None:
    cluster, providers, reconciler, _ = world()
    run(cluster, reconciler)
    pending = {"revision": 2, "keyName": key_name(UID, 2), "reason": "Renewal", "startedAt": "2026-01-01T00:00:00Z",
               "providerRef": {"name": "a"}}
    providers.adapters["a"].keys[key_name(UID, 2)] = ("AKCRASHED", UID, frozenset({"data"}))  # a crash left it
    forge(cluster, pending=pending)
    cluster.obj["spec"]["providerRef"] = {"name": "b"}
    run(cluster, reconciler)
    assert key_name(UID, 2) not in providers.adapters["a"].keys
    assert cluster.obj["status"]["providerRef"]["name"] == "b"


def test_a_resumed_issue_is_for_the_scope_the_spec_has_now() -> None:
    cluster, providers, reconciler, _ = world()
    run(cluster, reconciler)
    pending = {"revision": 2, "keyName": key_name(UID, 2), "reason": "ScopeChanged",
               "startedAt": "2026-01-01T00:00:00Z", "providerRef": {"name": "a"},
               "scopeHash": cluster.obj["status"]["scopeHash"]}
    providers.adapters["a"].keys[key_name(UID, 2)] = ("AKOLDSCOPE", UID, frozenset({"data"}))
    forge(cluster, pending=pending)
    cluster.obj["spec"]["buckets"] = [{"name": "other"}]  # the edit that raced the crashed issue
    run(cluster, reconciler)
    status = cluster.obj["status"]
    assert providers.adapters["a"].keys[key_name(UID, 2)][2] == frozenset({"other"})
    assert status["scopeHash"] == scope_hash(parse_request(cluster.obj).spec)
    assert status["accessKeyId"] != "AKOLDSCOPE", "status holds the key the provider answered with"


@pytest.mark.parametrize("trigger", ["secret-lost", "rotate", "scope", "provider", "pending"])
def test_approval_gates_every_issue_reason(trigger: str) -> None:
    cluster, providers, reconciler, _ = world(requireApproval=True)
    run(cluster, reconciler)
    assert ready(cluster)["reason"] == "AwaitingApproval" and providers.adapters["a"].keys == {}
    spec = parse_request(cluster.obj).spec
    forge(cluster, approval={"scopeHash": scope_hash(spec), "providerRef": {"name": "a"}, "decision": "Approved",
                             "by": "approver"})
    run(cluster, reconciler)
    assert cluster.obj["status"]["revision"] == 1
    # A new, unapproved scope arrives together with the trigger.
    cluster.obj["spec"]["buckets"] = [{"name": "data"}, {"name": "more"}]
    if trigger == "secret-lost":
        cluster.secrets.clear()
    elif trigger == "rotate":
        cluster.obj["metadata"]["annotations"] = {"keyfob.dev/rotate": "now"}
    elif trigger == "provider":
        cluster.obj["spec"]["buckets"] = [{"name": "data"}]
        cluster.obj["spec"]["providerRef"] = {"name": "b"}
    elif trigger == "pending":
        forge(cluster, pending={"revision": 2, "keyName": key_name(UID, 2), "reason": "Renewal",
                                "startedAt": "2026-01-01T00:00:00Z", "providerRef": {"name": "a"}})
    run(cluster, reconciler)
    assert ready(cluster)["reason"] == "AwaitingApproval", trigger
    issued = [c for p in providers.adapters.values() for c in p.calls if c.startswith("issue")]
    assert issued == [f"issue {key_name(UID, 1)}"], f"{trigger}: a key was issued for an unapproved scope"


def test_rotation_of_an_approved_scope_needs_no_new_approval() -> None:
    cluster, _, reconciler, clock = world(requireApproval=True)
    run(cluster, reconciler)
    spec = parse_request(cluster.obj).spec
    forge(cluster, approval={"scopeHash": scope_hash(spec), "providerRef": {"name": "a"}, "decision": "Approved",
                             "by": "approver"})
    run(cluster, reconciler)
    clock.now += timedelta(minutes=59)
    run(cluster, reconciler)
    assert cluster.obj["status"]["revision"] == 2 and ready(cluster)["reason"] == "Issued"


def test_quota_holds_new_keys_and_lets_rotations_through() -> None:
    cluster, providers, reconciler, _ = world(maxKeysPerNamespace=1)
    other = {"metadata": {"uid": OTHER_UID}, "spec": {"providerRef": {"name": "a"}},
             "status": {"accessKeyId": "AKX", "keyName": FOREIGN, "revision": 1}}
    cluster.requests = [other]
    run(cluster, reconciler)
    assert ready(cluster)["reason"] == "QuotaExceeded" and providers.adapters["a"].keys == {}
    cluster.requests = []
    run(cluster, reconciler)
    assert cluster.obj["status"]["revision"] == 1


def test_orphans_are_revoked_only_where_the_provider_says_they_are_ours() -> None:
    from keyfob.lifecycle.jobs.sweep import orphan_ref, sweep_orphans

    adapter = ProvingProvider("a")
    orphan = key_name(OTHER_UID, 1)
    adapter.keys[orphan] = ("AKORPHAN", OTHER_UID, frozenset())
    adapter.keys["kf-lookalike"] = ("AKFOREIGN", "someone", frozenset())
    outcome = sweep_orphans(adapter, lambda: [], lambda: [])  # type: ignore[arg-type]
    assert orphan not in adapter.keys and outcome.revoked == 1
    assert orphan_ref(OwnedKey(orphan, ("AKORPHAN",), OTHER_UID)).owner_uid == OTHER_UID
    assert parse_key_name("kf-lookalike") is None


def test_a_status_from_before_provider_refs_were_recorded_still_revokes_at_its_issuer() -> None:
    cluster, providers, reconciler, _ = world()
    run(cluster, reconciler)
    cluster.obj["status"].pop("providerRef")  # as written by keyfob before status.providerRef existed
    assert cluster.obj["status"]["provider"] == "AccessKeyProvider/ns/a"
    cluster.obj["spec"]["providerRef"] = {"name": "b"}
    run(cluster, reconciler)
    assert key_name(UID, 1) not in providers.adapters["a"].keys
    assert f"revoke {key_name(UID, 1)}" not in providers.adapters["b"].calls
