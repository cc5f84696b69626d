"""What the watches already told the operator, so a reconcile reads nothing it knows: keyfob's own Secrets (their
metadata, never their data), the provider objects, and namespace labels (briefly).

Every store is filled from Kopf's watch events and is only ever a shortcut: a miss is read from the API server,
and every write the lifecycle makes is still guarded by the resourceVersion it read (a stale entry makes a write
fail and be retried fresh, never overwrite).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from keyfob.lifecycle.ports import SecretSnapshot

SecretKey = tuple[str, str]  # namespace, name
ProviderKey = tuple[str, str, str]  # kind, namespace ("" for cluster-scoped), name


def _controller_uid(meta: Mapping[str, Any]) -> str | None:
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def secret_metadata(body: Mapping[str, Any]) -> SecretSnapshot:
    """A Secret's watch body reduced to what the lifecycle checks; the data is dropped here."""
    meta = body.get("metadata") or {}
    return SecretSnapshot(name=meta["name"], controller_uid=_controller_uid(meta),
                          annotations=dict(meta.get("annotations") or {}),
                          resource_version=meta.get("resourceVersion"))


ABSENT_SECONDS = 10.0


@dataclass
class SecretCache:
    """keyfob's Secrets (label app.kubernetes.io/managed-by=keyfob) by namespace/name, metadata only.

    The watch sees only keyfob's Secrets, so "not in the cache" is not "no Secret there": someone else's Secret
    may stand at that name. A name the cache does not hold is read from the API server; a read that found
    nothing is believed for ABSENT_SECONDS (one reconcile checks a name twice: before issuing, before writing;
    the create itself still fails on a Secret that appeared meanwhile). Entries come only from watch events (or
    the answers to keyfob's own writes), so a Secret not yet listed after a start is simply a miss."""

    clock: Callable[[], float] = time.monotonic
    _items: dict[SecretKey, SecretSnapshot] = field(default_factory=dict)
    _absent: dict[SecretKey, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def lookup(self, key: SecretKey) -> tuple[bool, SecretSnapshot | None]:
        """(known, snapshot): known=False means "ask the API server"."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                return True, found
            seen_absent = self._absent.get(key)
            if seen_absent is not None and self.clock() - seen_absent < ABSENT_SECONDS:
                return True, None
            self._absent.pop(key, None)
            return False, None

    def store(self, key: SecretKey, snapshot: SecretSnapshot | None) -> None:
        with self._lock:
            self._absent.pop(key, None)
            if snapshot is None:
                self._items.pop(key, None)
            else:
                self._items[key] = snapshot

    def mark_absent(self, key: SecretKey) -> None:
        with self._lock:
            if key not in self._items:
                self._absent[key] = self.clock()

    def mark_unknown(self, key: SecretKey) -> None:
        """A write found a Secret the cache did not know (someone else's): read it fresh next time."""
        with self._lock:
            self._absent.pop(key, None)
            self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class ProviderCache:
    """Provider objects (both kinds) as last seen by their watch; few, so whole bodies."""

    _items: dict[ProviderKey, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: ProviderKey) -> dict[str, Any] | None:
        with self._lock:
            return self._items.get(key)

    def store(self, key: ProviderKey, body: dict[str, Any] | None) -> None:
        with self._lock:
            if body is None:
                self._items.pop(key, None)
            else:
                self._items[key] = body


@dataclass
class TtlCache:
    """Values read from the API server, kept `ttl` seconds (namespace labels: no watch on namespaces, whose
    RBAC the chart does not grant)."""

    ttl: float
    clock: Callable[[], float] = time.monotonic
    _items: dict[str, tuple[float, Mapping[str, str]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: str, load: Callable[[], Mapping[str, str]]) -> Mapping[str, str]:
        now = self.clock()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        value = load()
        with self._lock:
            self._items[key] = (now, value)
        return value


@dataclass
class OwnWrites:
    """resourceVersions of the operator's own writes to each request ("namespace/name"), so the watch events they
    cause are not taken for news (the reconcile that wrote them already scheduled what comes next). A few per
    request; resourceVersions are unique across objects, so a recreated namespace/name cannot match an old one."""

    keep: int = 4
    _items: dict[str, list[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str, resource_version: str | None) -> None:
        if not resource_version:
            return
        with self._lock:
            seen = self._items.setdefault(key, [])
            seen.append(resource_version)
            del seen[:-self.keep]

    def consume(self, key: str, resource_version: str | None) -> bool:
        """True (once) when this version is one the operator wrote."""
        with self._lock:
            seen = self._items.get(key)
            if not seen or resource_version not in seen:
                return False
            seen.remove(resource_version)
            if not seen:
                del self._items[key]
            return True

    def forget(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)
