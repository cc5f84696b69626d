"""The reconciler's write order, against in-memory ports: a crash at any step, then a fresh reconcile, leaves
exactly one live key and it is the one the Secret holds. Also: non-revocable providers never get revoke calls."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from pydantic import SecretStr

from keyfob.api.common import ObjectKind
from keyfob.api.provider import ProviderSpec
from keyfob.api.request import ProviderRef
from keyfob.api.vocabulary import Permission
from keyfob.contract import Capabilities, ConnectionInfo, Grant, IssuedKey, KeyRef, OwnedKey
from keyfob.lifecycle import crashpoints
from keyfob.lifecycle.crashpoints import POINTS
from keyfob.lifecycle.ports import ResolvedProvider, SecretSnapshot, StatusConflict
from keyfob.lifecycle.reconciler import RequestReconciler
from keyfob.lifecycle.request_view import parse_request
from keyfob.secrets.extract import extract_key_pair

UID = "0b6f3c1e-3d1a-4d8e-9a57-0123456789ab"


class MemoryProvider:
    """A provider that keeps keys in a dict and honours the protocol's adopt-or-replace contract."""

    kind: ClassVar[str] = "memory"

    def __init__(self, revocable: bool = True) -> None:
        self.capabilities = Capabilities(frozenset(Permission), True, False, revocable)
        self.keys: dict[str, str] = {}  # key name -> access key id
        self.counter = itertools.count(1)
        self.revoke_calls = 0

    def connection(self) -> ConnectionInfo:
        return ConnectionInfo("http://127.0.0.1:1", "us-east-1")

    def unsupported(self, grant: Grant) -> list[str]:
        return []

    def check(self) -> None:
        return None

    def issue(self, grant: Grant) -> IssuedKey:
        key_id = f"AKIA{next(self.counter):04d}"
        self.keys[grant.key_name] = key_id  # replaces whatever a crashed attempt left under this name
        return IssuedKey(grant.key_name, key_id, SecretStr(f"secret-{key_id}"), grant.expires_at, False)

    def revoke(self, ref: KeyRef) -> None:
        self.revoke_calls += 1
        self.keys.pop(ref.key_name, None)

    def list_owned(self) -> list[OwnedKey]:
        return [OwnedKey(name, (key_id,)) for name, key_id in self.keys.items()]


@dataclass
class MemoryCluster:
    obj: dict[str, Any]
    secrets: dict[str, SecretSnapshot] = field(default_factory=dict)
    rollouts: list[tuple[str, str, str]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)  # the namespace's other requests

    def get_secret(self, namespace: str, name: str) -> SecretSnapshot | None:
        return self.secrets.get(name)

    def read_secret(self, namespace: str, name: str) -> SecretSnapshot | None:
        return self.secrets.get(name)

    def write_secret(self, namespace: str, manifest: dict[str, Any], previous: SecretSnapshot | None) -> None:
        meta = manifest["metadata"]
        self.secrets[meta["name"]] = SecretSnapshot(
            meta["name"], meta["ownerReferences"][0]["uid"], dict(meta["annotations"]), "1", manifest["stringData"]
        )

    def delete_secret(self, namespace: str, name: str, owner_uid: str) -> None:
        self.secrets.pop(name, None)

    def release_secret(self, namespace: str, name: str, owner_uid: str) -> None:
        return None

    def patch_request_status(
        self, namespace: str, name: str, status: dict[str, object], resource_version: str | None = None
    ) -> str | None:
        current = str(self.obj["metadata"].get("resourceVersion", "1"))
        if resource_version is not None and resource_version != current:
            raise StatusConflict(f"{name} is at {current}, not {resource_version}")
        self.obj["status"] = {k: v for k, v in status.items() if v is not None}
        self.obj["metadata"]["resourceVersion"] = str(int(current) + 1)
        return self.obj["metadata"]["resourceVersion"]

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        return {}

    def list_requests(self, namespace: str) -> list[dict[str, Any]]:
        return [self.obj, *self.requests]

    def annotate_pod_template(self, namespace: str, kind: str, name: str, key: str, value: str) -> bool:
        self.rollouts.append((kind, name, value))
        return True


@dataclass
class StaticProviders:
    adapter: MemoryProvider

    def resolve(self, request_namespace: str, ref: ProviderRef, *, fresh: bool = False) -> ResolvedProvider:
        return ResolvedProvider(ObjectKind.ACCESS_KEY_PROVIDER, request_namespace, ref.name,
                                ProviderSpec.model_validate({"guardrails": {}}), self.adapter)  # type: ignore[arg-type]

    def last_known(self, request_namespace: str, ref: ProviderRef) -> ResolvedProvider | None:
        return None


class Crash(BaseException):
    pass


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def setup(revocable: bool = True) -> tuple[MemoryCluster, MemoryProvider, RequestReconciler, Clock]:
    obj = {
        "metadata": {"namespace": "ns", "name": "app", "uid": UID, "generation": 1},
        "spec": {"providerRef": {"name": "p"}, "buckets": [{"name": "data"}], "permissions": ["read"],
                 "ttl": "1h", "rotationGracePeriod": "0s", "secretName": "app-s3"},
    }
    cluster, provider, clock = MemoryCluster(obj), MemoryProvider(revocable), Clock()
    return cluster, provider, RequestReconciler(cluster, StaticProviders(provider), clock), clock


def served_key(cluster: MemoryCluster) -> str:
    pair = extract_key_pair(cluster.secrets["app-s3"].data)
    assert pair is not None
    return pair[0]


@pytest.mark.parametrize("point", [p for p in POINTS if p != "after-provider-revoke"])
@pytest.mark.parametrize("phase", ["issue", "rotate"])
def test_crash_then_reconcile_leaves_exactly_the_served_key(
    monkeypatch: pytest.MonkeyPatch, point: str, phase: str
) -> None:
    cluster, provider, reconciler, clock = setup()
    if phase == "rotate":
        reconciler.reconcile(parse_request(cluster.obj))
        clock.now += timedelta(minutes=59)

    def crash(name: str) -> None:
        if name == point:
            raise Crash(name)

    monkeypatch.setattr(crashpoints, "hook", crash)
    with pytest.raises(Crash):
        reconciler.reconcile(parse_request(cluster.obj))
    monkeypatch.setattr(crashpoints, "hook", lambda name: None)
    restarted = RequestReconciler(cluster, StaticProviders(provider), clock)  # a crash ends the process
    restarted.reconcile(parse_request(cluster.obj))
    restarted.reconcile(parse_request(cluster.obj))  # settled: nothing more happens

    status = cluster.obj["status"]
    assert status["revision"] == (2 if phase == "rotate" else 1)
    assert set(provider.keys.values()) == {status["accessKeyId"]} == {served_key(cluster)}
    assert "pending" not in status


def test_restart_with_a_ready_request_calls_no_provider_write() -> None:
    cluster, provider, reconciler, _ = setup()
    reconciler.reconcile(parse_request(cluster.obj))
    before = dict(provider.keys)
    calls = provider.revoke_calls
    outcome = reconciler.reconcile(parse_request(cluster.obj))
    assert provider.keys == before and provider.revoke_calls == calls and outcome.events == []


def test_deleting_revokes_everything_held() -> None:
    cluster, provider, reconciler, _ = setup()
    reconciler.reconcile(parse_request(cluster.obj))
    outcome = reconciler.finalize(parse_request(cluster.obj))
    assert provider.keys == {} and outcome.retry_after is None and "app-s3" not in cluster.secrets


def test_non_revocable_provider_is_never_asked_to_revoke() -> None:
    cluster, provider, reconciler, clock = setup(revocable=False)
    reconciler.reconcile(parse_request(cluster.obj))
    clock.now += timedelta(minutes=59)
    reconciler.reconcile(parse_request(cluster.obj))  # rotation: previous key is dropped, not revoked
    assert cluster.obj["status"]["revision"] == 2 and not cluster.obj["status"].get("previousKeys")
    outcome = reconciler.finalize(parse_request(cluster.obj))
    assert provider.revoke_calls == 0 and outcome.retry_after is None
    assert any(e.reason == "ExpiresOnly" for e in outcome.events)


def test_rotation_rolls_restart_targets_once_per_revision() -> None:
    cluster, _, reconciler, clock = setup()
    cluster.obj["spec"]["restartTargets"] = [{"kind": "Deployment", "name": "web"}]
    reconciler.reconcile(parse_request(cluster.obj))
    assert cluster.rollouts == [], "the first key needs no restart"
    clock.now += timedelta(minutes=59)
    reconciler.reconcile(parse_request(cluster.obj))
    reconciler.reconcile(parse_request(cluster.obj))
    assert cluster.rollouts == [("Deployment", "web", "2")]
    assert cluster.obj["status"]["rolledOutRevision"] == 2


def test_throttling_is_retried_without_failing_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    from keyfob.contract import ProviderThrottled

    cluster, provider, reconciler, _ = setup()
    real_issue = provider.issue

    def throttled(grant: Grant) -> IssuedKey:
        raise ProviderThrottled("SlowDown", retry_after=7)

    monkeypatch.setattr(provider, "issue", throttled)
    outcome = reconciler.reconcile(parse_request(cluster.obj))
    ready = next(c for c in cluster.obj["status"]["conditions"] if c["type"] == "Ready")
    assert outcome.retry_after == 7 and ready["reason"] == "Issuing" and "throttling" in ready["message"]
    monkeypatch.setattr(provider, "issue", real_issue)
    reconciler.reconcile(parse_request(cluster.obj))
    assert cluster.obj["status"]["revision"] == 1 and served_key(cluster) == cluster.obj["status"]["accessKeyId"]


def test_a_concurrent_status_write_is_never_overwritten() -> None:
    cluster, _, reconciler, _ = setup()
    reconciler.reconcile(parse_request(cluster.obj))
    stale = parse_request(cluster.obj)
    cluster.obj["status"]["conditions"].append(
        {"type": "Approved", "status": "True", "reason": "Approved", "observedGeneration": 1}
    )
    cluster.obj["metadata"]["resourceVersion"] = str(int(cluster.obj["metadata"]["resourceVersion"]) + 1)
    cluster.obj["spec"]["buckets"] = [{"name": "other"}]  # forces a write
    with pytest.raises(StatusConflict):
        reconciler.reconcile(stale.__class__(**{**stale.__dict__, "spec": parse_request(cluster.obj).spec}))
    assert any(c["type"] == "Approved" for c in cluster.obj["status"]["conditions"])


class Unreachable(Exception):
    """What the Kubernetes client raises while the API server is down."""


@pytest.mark.parametrize("failing", ["secret", "status"])
@pytest.mark.parametrize("phase", ["issue", "rotate"])
def test_a_failed_kubernetes_write_after_the_issue_is_retried_with_the_same_key(
    monkeypatch: pytest.MonkeyPatch, failing: str, phase: str
) -> None:
    """The API server is down between the provider's answer and the Secret or status write: the retry in the same
    process serves the key already issued instead of replacing it (one key created, none deleted)."""
    cluster, provider, reconciler, clock = setup()
    if phase == "rotate":
        reconciler.reconcile(parse_request(cluster.obj))
        clock.now += timedelta(minutes=59)
    issued_before = next(provider.counter)
    write_secret, patch_status = cluster.write_secret, cluster.patch_request_status

    def down(*args: Any, **kwargs: Any) -> Any:
        raise Unreachable("connection refused")

    def status_down_after_pending(*args: Any, **kwargs: Any) -> Any:
        if args[2].get("pending") is None:
            raise Unreachable("connection refused")
        return patch_status(*args, **kwargs)

    if failing == "secret":
        monkeypatch.setattr(cluster, "write_secret", down)
    else:
        monkeypatch.setattr(cluster, "patch_request_status", status_down_after_pending)
    with pytest.raises(Unreachable):
        reconciler.reconcile(parse_request(cluster.obj))
    assert len(reconciler.unfinished) == 1
    monkeypatch.setattr(cluster, "write_secret", write_secret)
    monkeypatch.setattr(cluster, "patch_request_status", patch_status)
    reconciler.reconcile(parse_request(cluster.obj))

    status = cluster.obj["status"]
    assert next(provider.counter) == issued_before + 2, "the retry issued another key"
    assert status["revision"] == (2 if phase == "rotate" else 1) and "pending" not in status
    assert provider.keys[status["keyName"]] == status["accessKeyId"] == served_key(cluster)
    assert len(reconciler.unfinished) == 0


def test_a_kept_key_is_not_reused_once_the_scope_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spec edit between the failed write and the retry: the key kept for the old scope is replaced."""
    cluster, provider, reconciler, _ = setup()
    write_secret = cluster.write_secret

    def down(*args: Any, **kwargs: Any) -> Any:
        raise Unreachable("connection refused")

    monkeypatch.setattr(cluster, "write_secret", down)
    with pytest.raises(Unreachable):
        reconciler.reconcile(parse_request(cluster.obj))
    first_key = provider.keys[cluster.obj["status"]["pending"]["keyName"]]
    monkeypatch.setattr(cluster, "write_secret", write_secret)
    cluster.obj["spec"]["permissions"] = ["read", "list"]
    cluster.obj["metadata"]["generation"] = 2
    reconciler.reconcile(parse_request(cluster.obj))
    status = cluster.obj["status"]
    assert status["accessKeyId"] != first_key and provider.keys[status["keyName"]] == status["accessKeyId"]
    assert served_key(cluster) == status["accessKeyId"]
