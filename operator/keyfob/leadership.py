"""Leader election on a coordination.k8s.io/v1 Lease, and the fence every write checks.

The election loop is the official client's (`kubernetes.leaderelection`); it ships only a ConfigMap lock in the
client version keyfob pins, so `LeaseLock` implements that package's lock interface (get/create/update) on a
Lease. Every write is a replace carrying the resourceVersion just read: two candidates never both win.

`Fence.leading()` is true only while this process holds the lease and renewed it less than `renew_deadline`
ago, measured from the moment the renewal was *sent*: the election loop gives up at the same deadline, and a
standby takes over no earlier than `lease_seconds` after it saw the last renewal, so the old leader stops
writing at least `lease_seconds - renew_deadline` (5 s by default) before anyone else may start.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.leaderelection.leaderelectionrecord import LeaderElectionRecord

from keyfob.config import default_lease_name, parse_labels

log = logging.getLogger("keyfob.leadership")


class Fenced(Exception):
    """This replica does not hold the lease (any more): it must not write."""


class Fence:
    def __init__(self, renew_deadline: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._deadline = renew_deadline  # None: no election, always open
        self._clock = clock
        self._renewed_at: float | None = None
        self._lost = False

    @classmethod
    def open(cls) -> Fence:
        return cls(None)

    def renewed(self, sent_at: float) -> None:
        if not self._lost:
            self._renewed_at = sent_at

    def lose(self) -> None:
        self._lost = True

    def leading(self) -> bool:
        if self._deadline is None:
            return True
        if self._lost or self._renewed_at is None:
            return False
        return self._clock() - self._renewed_at < self._deadline

    def check(self) -> None:
        if not self.leading():
            raise Fenced("not the leader: this replica holds no lease and writes nothing")


@dataclass(frozen=True)
class ElectionSettings:
    enabled: bool = False
    lease_name: str = "keyfob"
    lease_namespace: str = "default"
    identity: str = ""
    lease_seconds: int = 15
    renew_deadline: int = 10
    retry_seconds: int = 2

    def __post_init__(self) -> None:
        # The client's Config calls sys.exit on these; say which variable is wrong instead.
        if not self.lease_seconds > self.renew_deadline > 1.2 * self.retry_seconds >= 1.2:
            raise ValueError("KEYFOB_LEASE_*: need lease > renew deadline > 1.2 x retry period >= 1.2 s")


def election_from_env(env: Mapping[str, str] | None = None) -> ElectionSettings:
    env = dict(os.environ if env is None else env)
    shard_selector = env.get("KEYFOB_SHARD_SELECTOR", "")
    identity = env.get("KEYFOB_LEADER_IDENTITY") or f"{env.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4()}"
    return ElectionSettings(
        enabled=env.get("KEYFOB_LEADER_ELECTION", "false").lower() in ("1", "true", "yes"),
        # Unset: one Lease per shard selector, so two shards never contend for one Lease.
        lease_name=env.get("KEYFOB_LEASE_NAME") or default_lease_name(parse_labels(shard_selector)),
        lease_namespace=env.get("KEYFOB_LEASE_NAMESPACE") or env.get("POD_NAMESPACE") or "default",
        identity=identity,
        lease_seconds=int(env.get("KEYFOB_LEASE_DURATION_SECONDS", "15")),
        renew_deadline=int(env.get("KEYFOB_LEASE_RENEW_DEADLINE_SECONDS", "10")),
        retry_seconds=int(env.get("KEYFOB_LEASE_RETRY_PERIOD_SECONDS", "2")),
    )


def _to_wire(text: str) -> datetime:
    """The election loop writes `str(datetime.fromtimestamp(t))`: local and naive. The Lease holds UTC."""
    return datetime.fromisoformat(text).astimezone(UTC)


def _from_wire(value: datetime) -> str:
    return str(value.astimezone().replace(tzinfo=None))


class LeaseLock:
    """The lock interface of `kubernetes.leaderelection` (name, namespace, identity, get, create, update)."""

    def __init__(self, api: client.ApiClient, name: str, namespace: str, identity: str, fence: Fence,
                 timeout: float) -> None:
        self.api = client.CoordinationV1Api(api)
        self.name, self.namespace, self.identity = name, namespace, identity
        self.fence = fence
        self.timeout = timeout  # no call may hang past the renew deadline
        self.closed = False
        self._lease: Any = None

    def get(self, name: str, namespace: str) -> tuple[bool, Any]:
        try:
            lease = self.api.read_namespaced_lease(name, namespace, _request_timeout=self.timeout)
        except ApiException as err:
            if err.status != 404:
                log.warning("reading lease %s/%s failed: %s %s", namespace, name, err.status, err.reason)
            return False, err
        except Exception as err:  # a timeout or reset must not end the election thread
            failed = ApiException(status=0, reason=type(err).__name__)
            failed.body = json.dumps({"code": 0})  # the loop reads the code from the body
            return False, failed
        self._lease = lease
        spec = lease.spec or client.V1LeaseSpec()
        if not spec.holder_identity or not spec.renew_time or not spec.acquire_time:
            return True, None  # free (released, or never held): the loop takes it at once
        return True, LeaderElectionRecord(spec.holder_identity, str(spec.lease_duration_seconds),
                                          _from_wire(spec.acquire_time), _from_wire(spec.renew_time))

    def _spec(self, record: LeaderElectionRecord) -> client.V1LeaseSpec:
        return client.V1LeaseSpec(holder_identity=record.holder_identity,
                                  lease_duration_seconds=int(record.lease_duration),
                                  acquire_time=_to_wire(record.acquire_time), renew_time=_to_wire(record.renew_time))

    def create(self, name: str, namespace: str, election_record: LeaderElectionRecord) -> bool:
        return self._write(lambda: self.api.create_namespaced_lease(
            namespace, client.V1Lease(metadata=client.V1ObjectMeta(name=name), spec=self._spec(election_record)),
            _request_timeout=self.timeout))

    def update(self, name: str, namespace: str, updated_record: LeaderElectionRecord) -> bool:
        if self._lease is None:
            return False
        lease = self._lease
        lease.spec = self._spec(updated_record)  # metadata keeps the resourceVersion read: 409 if anyone wrote
        return self._write(lambda: self.api.replace_namespaced_lease(name, namespace, lease,
                                                                     _request_timeout=self.timeout))

    def _write(self, call: Callable[[], Any]) -> bool:
        if self.closed:
            return False
        sent_at = time.monotonic()
        try:
            self._lease = call()
        except Exception as err:  # conflict, timeout, refusal: not renewed, the loop retries
            self._lease = None
            status = getattr(err, "status", None)
            (log.debug if status == 409 else log.warning)(
                "writing lease %s/%s failed: %s %s", self.namespace, self.name, status or type(err).__name__,
                getattr(err, "reason", ""))
            return False
        self.fence.renewed(sent_at)
        return True

    def release(self) -> None:
        """On a clean stop: hand the lease over now instead of after its duration (only if still ours)."""
        self.closed = True
        found, record = self.get(self.name, self.namespace)
        if not found or record is None or record.holder_identity != self.identity:
            return
        lease = self._lease
        lease.spec = client.V1LeaseSpec(holder_identity=None, lease_duration_seconds=1,
                                        acquire_time=None, renew_time=None)
        try:
            self.api.replace_namespaced_lease(self.name, self.namespace, lease, _request_timeout=self.timeout)
        except Exception:  # best effort: the lease expires anyway
            return

