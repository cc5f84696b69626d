"""The operator's one schedule: for each request, the next time it has work, in a heap (no Kopf timer, no task
and no body per object). Pure data; the scheduler owns it and only touches it from the event loop."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(order=True, slots=True)
class _Slot:
    when: float
    seq: int
    uid: str = field(compare=False)
    live: bool = field(default=True, compare=False)


@dataclass
class DueQueue:
    """`put` keeps the earlier of the known and the new time unless `replace`; `pop_due` yields each uid due by
    `now` once. Superseded slots stay in the heap, marked dead, and are skipped (no O(n) removal)."""

    _heap: list[_Slot] = field(default_factory=list)
    _slots: dict[str, _Slot] = field(default_factory=dict)
    _seq: Iterator[int] = field(default_factory=itertools.count)

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, uid: str) -> bool:
        return uid in self._slots

    def when(self, uid: str) -> float | None:
        slot = self._slots.get(uid)
        return slot.when if slot is not None else None

    def put(self, uid: str, when: float, *, replace: bool = False) -> bool:
        """Schedule uid at `when`; True when that moved it earlier (the caller may need to wake the loop)."""
        slot = self._slots.get(uid)
        if slot is not None:
            if not replace and slot.when <= when:
                return False
            slot.live = False
        new = _Slot(when, next(self._seq), uid)
        self._slots[uid] = new
        heapq.heappush(self._heap, new)
        self._compact()
        return slot is None or when < slot.when

    def drop(self, uid: str) -> None:
        slot = self._slots.pop(uid, None)
        if slot is not None:
            slot.live = False

    def next_time(self) -> float | None:
        while self._heap and not self._heap[0].live:
            heapq.heappop(self._heap)
        return self._heap[0].when if self._heap else None

    def pop_due(self, now: float, limit: int | None = None) -> list[str]:
        """The uids due by `now`, earliest first, at most `limit` of them (the rest stay queued)."""
        due: list[str] = []
        while self._heap and (not self._heap[0].live or self._heap[0].when <= now):
            if limit is not None and len(due) >= limit and self._heap[0].live:
                break
            slot = heapq.heappop(self._heap)
            if slot.live:
                del self._slots[slot.uid]
                due.append(slot.uid)
        return due

    def _compact(self) -> None:
        """Rebuild when dead slots outnumber live ones (each reschedule leaves one behind)."""
        if len(self._heap) > 64 and len(self._heap) > 2 * len(self._slots):
            self._heap = [s for s in self._heap if s.live]
            heapq.heapify(self._heap)
