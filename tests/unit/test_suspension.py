"""Break-glass: the suspension policy, and the reconciler revoking every held key and issuing none until lifted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from keyfob.api.common import ObjectKind
from keyfob.api.provider import ProviderSpec
from keyfob.api.request import ProviderRef
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.policies.suspension import suspended
from keyfob.lifecycle.ports import ResolvedProvider
from keyfob.lifecycle.reconciler import ADMISSION, RequestReconciler
from keyfob.lifecycle.request_view import SUSPEND_ANNOTATION, parse_request
from tests.unit.test_reconciler import Clock, MemoryProvider, setup

BODY: dict[str, Any] = {
    "metadata": {"namespace": "ns", "name": "app", "uid": "0b6f3c1e-3d1a-4d8e-9a57-0123456789ab"},
    "spec": {"providerRef": {"name": "p"}, "buckets": [{"name": "data"}], "permissions": ["read"], "secretName": "s"},
}


def _inputs(mark: str | None, suspend: bool, reason: str = "") -> Inputs:
    body = {**BODY, "metadata": {**BODY["metadata"], "annotations": {SUSPEND_ANNOTATION: mark} if mark else {}}}
    spec = ProviderSpec.model_validate({"guardrails": {}, "suspend": suspend, "suspendReason": reason})
    provider = ResolvedProvider(ObjectKind.ACCESS_KEY_PROVIDER, "ns", "p", spec, MemoryProvider())  # type: ignore[arg-type]
    return Inputs(parse_request(body), datetime(2026, 1, 1, tzinfo=UTC), None, provider)


@pytest.mark.parametrize(("mark", "suspend", "reason", "says"), [
    (None, False, "", None),
    ("alice: incident 7", False, "", "request suspended (alice: incident 7)"),
    (None, True, "bob: leaked key", "is suspended (bob: leaked key)"),
    (None, True, "", "is suspended (no reason given)"),
    ("tenant: x", True, "bob: leaked key", "is suspended (bob: leaked key)"),  # the provider's mark wins
    ("a\nb   c", False, "", "(a b c)"),  # one line, whatever the tenant wrote
])
def test_suspension_policy(mark: str | None, suspend: bool, reason: str, says: str | None) -> None:
    verdict = suspended(_inputs(mark, suspend, reason))
    if says is None:
        assert verdict is None
        return
    assert verdict is not None and verdict.reason == "Suspended" and verdict.revoke_held and says in verdict.message


def test_suspension_is_first_in_the_admission_chain() -> None:
    assert ADMISSION[0] is suspended


@dataclass
class SwitchProviders:
    adapter: MemoryProvider
    suspend: bool = False

    def resolve(self, request_namespace: str, ref: ProviderRef, *, fresh: bool = False) -> ResolvedProvider:
        spec = ProviderSpec.model_validate({"guardrails": {}, "suspend": self.suspend, "suspendReason": "ops: drill"})
        return ResolvedProvider(ObjectKind.ACCESS_KEY_PROVIDER, request_namespace, ref.name, spec,
                                self.adapter)  # type: ignore[arg-type]

    def last_known(self, request_namespace: str, ref: ProviderRef) -> ResolvedProvider | None:
        return None


def _ready(obj: dict[str, Any]) -> str:
    return next(c["reason"] for c in obj["status"]["conditions"] if c["type"] == "Ready")


@pytest.mark.parametrize("by", ["annotation", "provider"])
def test_suspend_revokes_every_key_holds_and_lifting_reissues(by: str) -> None:
    cluster, provider, _, _ = setup()
    providers = SwitchProviders(provider)
    reconciler = RequestReconciler(cluster, providers, Clock())
    reconciler.reconcile(parse_request(cluster.obj))
    assert len(provider.keys) == 1 and _ready(cluster.obj) == "Issued"
    if by == "annotation":
        cluster.obj["metadata"]["annotations"] = {SUSPEND_ANNOTATION: "alice: incident 7"}
    else:
        providers.suspend = True
    out = reconciler.reconcile(parse_request(cluster.obj))
    assert provider.keys == {} and out.suspended_revoked == 1
    assert _ready(cluster.obj) == "Suspended" and "accessKeyId" not in cluster.obj["status"]
    assert any(e.reason == "Revoked" and ("alice" in e.message or "ops: drill" in e.message) for e in out.events)
    again = reconciler.reconcile(parse_request(cluster.obj))  # held: no re-issue while suspended
    assert provider.keys == {} and again.issued == []
    cluster.obj["metadata"].pop("annotations", None)
    providers.suspend = False
    lifted = reconciler.reconcile(parse_request(cluster.obj))
    assert len(provider.keys) == 1 and lifted.issued == ["Initial"] and _ready(cluster.obj) == "Issued"
