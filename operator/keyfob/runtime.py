"""Process-wide objects the handlers share: settings, Kubernetes client, resolver, reconciler, per-object locks."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from keyfob.config import Settings
from keyfob.kube import KubeCluster, load_api_client
from keyfob.leadership import Fence
from keyfob.lifecycle.reconciler import RequestReconciler
from keyfob.metrics import Metrics
from keyfob.provider_access import ProviderResolver


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Runtime:
    settings: Settings
    kube: KubeCluster
    resolver: ProviderResolver
    reconciler: RequestReconciler
    fence: Fence = field(default_factory=Fence.open)
    metrics: Metrics = field(default_factory=Metrics)
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _locks_guard: threading.Lock = field(default_factory=threading.Lock)
    _last_full: dict[str, float] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings, fence: Fence | None = None) -> Runtime:
        """`fence` (leader election): every Kubernetes write checks it, and so does each handler before it
        may call a provider."""
        fence = fence or Fence.open()
        kube = KubeCluster(load_api_client(), guard=fence.check)
        resolver = ProviderResolver(kube, settings)
        return cls(settings, kube, resolver, RequestReconciler(kube, resolver, utcnow), fence)

    @contextmanager
    def exclusive(self, uid: str) -> Iterator[None]:
        """One reconcile per request at a time (Kopf runs timers beside change handlers)."""
        with self._locks_guard:
            lock = self._locks.setdefault(uid, threading.Lock())
        with lock:
            yield
        self._last_full[uid] = time.monotonic()

    def resync_due(self, uid: str) -> bool:
        last = self._last_full.get(uid)
        return last is None or time.monotonic() - last >= self.settings.resync_seconds

    def defer_resync(self, uid: str) -> None:
        """First full re-check at a random point of the resync window, so N resumed requests spread out."""
        self._last_full[uid] = time.monotonic() - random.uniform(0, self.settings.resync_seconds)

    def mark_stale(self, uids: list[str]) -> None:
        """Re-evaluate these requests fully on their next tick (e.g. their provider's guardrails changed)."""
        for uid in uids:
            self._last_full.pop(uid, None)

    def forget(self, uid: str) -> None:
        with self._locks_guard:
            self._locks.pop(uid, None)
        self._last_full.pop(uid, None)
