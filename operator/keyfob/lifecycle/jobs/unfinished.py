"""Keys this process issued whose Secret or status write then failed, kept in memory until a retry finishes them.

An issue writes to Kubernetes after the provider answered (the Secret, then the status). When the API server is
unreachable at that moment (a restart, a network blip) the reconcile fails and is retried. Re-issuing under the
pending name would make the provider replace the key: a second key created, the first deleted, and a consumer
that already read the first one from a Secret written before the status write failed loses it with no grace. So
within one process the retry reuses the key just issued, but only for exactly the same issue: the same request,
pending revision and key name, scope fingerprint, provider reference and provider object, and only while the key
has not expired. After a restart nothing is remembered and the pending record is finished by re-issuing under its
name (the adapter's adopt-or-replace), as before.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from keyfob.api.request_status import PendingIssue
from keyfob.contract import IssuedKey


@dataclass(frozen=True)
class _Unfinished:
    what: tuple[object, ...]
    key: IssuedKey


def _identity(pending: PendingIssue, provider_label: str) -> tuple[object, ...]:
    return (pending.revision, pending.key_name, pending.scope_hash, pending.provider_ref, provider_label)


class UnfinishedIssues:
    def __init__(self) -> None:
        self._by_uid: dict[str, _Unfinished] = {}
        self._lock = threading.Lock()

    def keep(self, uid: str, pending: PendingIssue, provider_label: str, key: IssuedKey) -> None:
        with self._lock:
            self._by_uid[uid] = _Unfinished(_identity(pending, provider_label), key)

    def recall(self, uid: str, pending: PendingIssue, provider_label: str, now: datetime) -> IssuedKey | None:
        """The key issued for exactly this pending issue, if this process issued it and it is still valid."""
        with self._lock:
            entry = self._by_uid.get(uid)
            if entry is None:
                return None
            if entry.what != _identity(pending, provider_label) or (
                entry.key.expires_at is not None and entry.key.expires_at <= now
            ):
                del self._by_uid[uid]  # another issue by now: the provider replaces that key under its name
                return None
            return entry.key

    def forget(self, uid: str) -> None:
        with self._lock:
            self._by_uid.pop(uid, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_uid)
