"""When keyfob issued keys, per (provider, namespace), for the per-namespace issue-rate quota.

In memory: a restarted operator starts counting afresh (at worst one extra hour's quota after a restart), which
is the price of not trusting anything tenants can write as a record of past issues.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from datetime import datetime, timedelta

WINDOW = timedelta(hours=1)


class IssueLog:
    def __init__(self) -> None:
        self._times: dict[tuple[str, str], deque[datetime]] = defaultdict(deque)
        self._lock = threading.Lock()

    def record(self, provider: str, namespace: str, when: datetime) -> None:
        with self._lock:
            self._times[(provider, namespace)].append(when)

    def count(self, provider: str, namespace: str, now: datetime) -> int:
        with self._lock:
            times = self._times.get((provider, namespace))
            if not times:
                return 0
            while times and times[0] <= now - WINDOW:
                times.popleft()
            return len(times)
