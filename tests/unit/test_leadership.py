"""The fence and the Lease lock, without an API server (the lock's API calls are faked)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kopf
import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.leaderelection.leaderelectionrecord import LeaderElectionRecord

from keyfob.handlers.reporting import ensure_leading
from keyfob.kube import KubeCluster
from keyfob.leadership import ElectionSettings, Fence, Fenced, LeaseLock, election_from_env


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_fence_opens_on_renewal_and_closes_at_the_renew_deadline_or_on_loss() -> None:
    clock = Clock()
    fence = Fence(10, clock)
    assert not fence.leading()
    fence.renewed(clock.now)
    assert fence.leading()
    clock.now += 9.9
    assert fence.leading()
    clock.now += 0.2
    assert not fence.leading()
    with pytest.raises(Fenced):
        fence.check()
    fence.renewed(clock.now)
    fence.lose()
    assert not fence.leading()
    fence.renewed(clock.now)
    assert not fence.leading(), "a lost lease stays lost in this process"


def test_without_election_the_fence_is_open() -> None:
    assert Fence.open().leading()


def test_handlers_refuse_to_act_when_fenced() -> None:
    with pytest.raises(kopf.TemporaryError):
        ensure_leading(Fence(10))
    ensure_leading(Fence.open())


def test_every_kubernetes_write_checks_the_guard() -> None:
    fence = Fence(10)
    kube = KubeCluster(client.ApiClient(), guard=fence.check)
    with pytest.raises(Fenced):
        kube.write_secret("ns", {"metadata": {"name": "s"}, "stringData": {}}, None)
    with pytest.raises(Fenced):
        kube.patch_request_status("ns", "r", {})
    with pytest.raises(Fenced):
        kube.delete_secret("ns", "s", "uid")
    with pytest.raises(Fenced):
        kube.annotate_pod_template("ns", "Deployment", "web", "k", "v")


def test_election_settings_from_env_and_their_checks() -> None:
    s = election_from_env({"KEYFOB_LEADER_ELECTION": "true", "KEYFOB_LEASE_NAME": "kf-leader",
                           "POD_NAMESPACE": "kf", "POD_NAME": "kf-0"})
    assert (s.enabled, s.lease_name, s.lease_namespace) == (True, "kf-leader", "kf")
    assert (s.lease_seconds, s.renew_deadline, s.retry_seconds) == (15, 10, 2)
    assert s.identity.startswith("kf-0_")
    assert not election_from_env({}).enabled
    with pytest.raises(ValueError):
        ElectionSettings(lease_seconds=10, renew_deadline=10)


def test_each_shard_elects_on_its_own_lease_unless_one_is_named() -> None:
    """Two shards sharing a Lease would leave one of them with a standby and no leader."""
    a = election_from_env({"KEYFOB_SHARD_SELECTOR": "keyfob.dev/shard=a"}).lease_name
    b = election_from_env({"KEYFOB_SHARD_SELECTOR": "keyfob.dev/shard=b"}).lease_name
    assert election_from_env({}).lease_name == "keyfob"
    assert a != b and "keyfob" not in (a, b)
    assert a == election_from_env({"KEYFOB_SHARD_SELECTOR": " keyfob.dev/shard = a "}).lease_name
    assert election_from_env({"KEYFOB_SHARD_SELECTOR": "x=1,y=2"}).lease_name == \
        election_from_env({"KEYFOB_SHARD_SELECTOR": "y=2,x=1"}).lease_name
    named = {"KEYFOB_SHARD_SELECTOR": "keyfob.dev/shard=a", "KEYFOB_LEASE_NAME": "release-leader"}
    assert election_from_env(named).lease_name == "release-leader"


class FakeLeases:
    def __init__(self) -> None:
        self.lease: Any = None
        self.version = 0
        self.fail: Exception | None = None

    def read_namespaced_lease(self, name: str, namespace: str, **_: Any) -> Any:
        if self.fail:
            raise self.fail
        if self.lease is None:
            raise ApiException(status=404, reason="Not Found")
        return client.V1Lease(metadata=client.V1ObjectMeta(name=name, resource_version=str(self.version)),
                              spec=self.lease.spec)

    def create_namespaced_lease(self, namespace: str, body: Any, **_: Any) -> Any:
        if self.lease is not None:
            raise ApiException(status=409, reason="AlreadyExists")
        self.lease, self.version = body, 1
        return self.read_namespaced_lease(body.metadata.name, namespace)

    def replace_namespaced_lease(self, name: str, namespace: str, body: Any, **_: Any) -> Any:
        if body.metadata.resource_version != str(self.version):
            raise ApiException(status=409, reason="Conflict")
        self.lease, self.version = body, self.version + 1
        return self.read_namespaced_lease(name, namespace)


def lock_with(fake: FakeLeases, identity: str, fence: Fence) -> LeaseLock:
    lock = LeaseLock(client.ApiClient(), "kf", "ns", identity, fence, timeout=2)
    lock.api = fake  # type: ignore[assignment]
    return lock


def record(identity: str) -> LeaderElectionRecord:
    now = str(datetime.fromtimestamp(1_700_000_000.25))
    return LeaderElectionRecord(identity, "15", now, now)


def test_lease_lock_round_trips_the_record_in_utc_and_opens_the_fence() -> None:
    fake, fence = FakeLeases(), Fence(10)
    lock = lock_with(fake, "a", fence)
    found, err = lock.get("kf", "ns")
    assert not found and err.status == 404
    assert lock.create("kf", "ns", record("a")) and fence.leading()
    assert fake.lease.spec.renew_time == datetime.fromtimestamp(1_700_000_000.25, UTC)
    found, got = lock.get("kf", "ns")
    assert found and got.__dict__ == record("a").__dict__


def test_a_stale_write_conflicts_so_two_candidates_never_both_win() -> None:
    fake = FakeLeases()
    a, b = lock_with(fake, "a", Fence(10)), lock_with(fake, "b", Fence(10))
    assert a.create("kf", "ns", record("a"))
    a.get("kf", "ns")
    b.get("kf", "ns")
    assert a.update("kf", "ns", record("a"))
    assert not b.update("kf", "ns", record("b")), "b wrote over a renewal it had not seen"
    assert not b.fence.leading()


def test_errors_do_not_end_the_election_and_release_hands_over() -> None:
    fake, fence = FakeLeases(), Fence(10)
    lock = lock_with(fake, "a", fence)
    lock.create("kf", "ns", record("a"))
    fake.fail = TimeoutError()
    found, err = lock.get("kf", "ns")
    assert not found and err.body  # the loop parses the body's code
    fake.fail = None
    lock.release()
    assert fake.lease.spec.holder_identity is None
    assert lock.get("kf", "ns") == (True, None), "a released lease is free"
    assert not lock.update("kf", "ns", record("a")), "no renewal after release"
