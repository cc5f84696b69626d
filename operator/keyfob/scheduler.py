"""One in-process schedule for every request, fed by the watch (no Kopf timer per object).

The watch handler calls `observe()` with each event's body: the request's next due time is computed from its own
status (lifecycle.wake) and put in one heap. One asyncio task sleeps until the earliest due time (or a wake-up)
and hands due requests to a thread pool of `workers` (the lifecycle and the clients are blocking), at most one job
per request at a time. A job reports when the request is next due; a full re-check (Secret, provider, guardrails)
comes at least every `resync_seconds`, spread at random over that window after a restart.

What a request costs while it waits: one small entry and one heap slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from keyfob.due_queue import DueQueue
from keyfob.lifecycle.wake import Handled, is_settled, wake_time
from keyfob.watch_cache import OwnWrites

log = logging.getLogger("keyfob.scheduler")
RETRY_FLOOR = 1.0  # seconds: a job that failed without saying when to retry
PAST_DUE_PAUSE = 30.0  # a due time already past after a job that could not act on it (e.g. expired, blocked)
MAX_BACKOFF = 300.0
IDLE_WAKE = 60.0  # the loop looks at the heap at least this often (a clock jump cannot strand it)


@dataclass(frozen=True, slots=True)
class Target:
    namespace: str
    name: str
    uid: str
    body: Mapping[str, Any] | None  # the event body to act on, or None: read the request fresh


@dataclass(frozen=True, slots=True)
class JobResult:
    gone: bool = False  # deleted (or never ours): forget the request
    due: datetime | None = None  # next renewal/grace end/expiry the job left
    retry_after: float | None = None  # a failure's (or a conflict's) retry
    handled: Handled | None = None


@dataclass(slots=True)
class _Entry:
    namespace: str
    name: str
    last_full: float
    handled: Handled | None = None
    body: Mapping[str, Any] | None = None
    running: bool = False
    rerun: bool = False
    failures: int = 0


def _epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


class Scheduler:
    def __init__(self, run_job: Callable[[Target], JobResult], *, workers: int, resync_seconds: float,
                 own: OwnWrites, on_resumed: Callable[[Mapping[str, Any]], None] | None = None,
                 on_gone: Callable[[str, str, str], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.run_job = run_job
        self.workers = workers
        self.resync_seconds = resync_seconds
        self.own = own
        self.on_resumed = on_resumed
        self.on_gone = on_gone
        self.clock = clock
        self.queue = DueQueue()
        self.entries: dict[str, _Entry] = {}
        self._busy = 0
        self._kick: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="keyfob-job")
        self._jobs: set[asyncio.Task[None]] = set()

    # -- fed by the watch (event loop) -----------------------------------------------------------------------

    def observe(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        uid, key = meta.get("uid"), f"{meta.get('namespace')}/{meta.get('name')}"
        if not uid:
            return
        if event_type == "DELETED":
            self._forget(uid)
            return
        if self.own.consume(key, meta.get("resourceVersion")):
            return  # our own write: the job that made it has scheduled what follows
        now = self.clock()
        entry = self.entries.get(uid)
        if entry is None:
            resumed = event_type is None and is_settled(body, datetime.fromtimestamp(now, UTC))
            # A request first seen settled at start-up is not re-checked now: its full re-check comes at a random
            # point of the resync window, so N requests resumed together spread out.
            last_full = now - random.uniform(0, self.resync_seconds) if resumed else now
            entry = self.entries[uid] = _Entry(meta.get("namespace", ""), meta.get("name", ""), last_full)
            if resumed and self.on_resumed is not None:
                self.on_resumed(body)
        moment = datetime.fromtimestamp(now, UTC)
        due = wake_time(body, entry.handled, moment)
        wake = _epoch(due)
        if due is not None and due <= moment:
            if entry.running:
                entry.rerun = True
                return
            entry.body = body
        self._put(uid, wake, entry)

    def wake(self, uids: Iterable[str], namespace: str | None = None) -> None:
        """Re-check these requests fully now (their provider's guardrails changed, their Secret went). Any
        thread. `namespace`: wake only requests there (a Secret's ownerReference is tenant-written and may name
        any uid; it must not let one namespace make another's requests busy)."""
        uids = list(uids)
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._wake_now, uids, namespace)

    def _wake_now(self, uids: list[str], namespace: str | None = None) -> None:
        now = self.clock()
        for uid in uids:
            entry = self.entries.get(uid)
            if entry is None or (namespace is not None and entry.namespace != namespace):
                continue
            if entry.running:
                entry.rerun = True
            else:
                entry.body = None
                self._put(uid, now, entry)

    def _put(self, uid: str, wake: float | None, entry: _Entry) -> None:
        when = entry.last_full + self.resync_seconds
        if wake is not None:
            when = min(when, wake)
        if self.queue.put(uid, when) and self._kick is not None:
            self._kick.set()

    def _forget(self, uid: str) -> None:
        entry = self.entries.pop(uid, None)
        self.queue.drop(uid)
        if entry is not None:
            self.own.forget(f"{entry.namespace}/{entry.name}")
            if self.on_gone is not None:
                self.on_gone(entry.namespace, entry.name, uid)

    # -- the loop --------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._kick = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="keyfob-scheduler")

    async def stop(self, timeout: float = 20.0) -> None:
        """Stop taking work; let running jobs finish (a job mid-issue is crash-safe anyway)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._jobs:
            await asyncio.wait(self._jobs, timeout=timeout)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self) -> None:
        assert self._kick is not None
        while True:
            now = self.clock()
            free = self.workers - self._busy
            if free > 0:
                for uid in self.queue.pop_due(now, limit=free):
                    self._start(uid)
            nxt = self.queue.next_time()
            self._kick.clear()
            timeout = IDLE_WAKE if nxt is None or self._busy >= self.workers else max(0.0, nxt - self.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=min(timeout, IDLE_WAKE))

    def _start(self, uid: str) -> None:
        entry = self.entries.get(uid)
        if entry is None:
            return
        if entry.running:
            entry.rerun = True
            return
        entry.running, entry.rerun = True, False
        body, entry.body = entry.body, None
        self._busy += 1
        job = asyncio.create_task(self._execute(uid, entry, Target(entry.namespace, entry.name, uid, body)))
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    async def _execute(self, uid: str, entry: _Entry, target: Target) -> None:
        assert self._loop is not None and self._kick is not None
        try:
            result = await self._loop.run_in_executor(self._executor, self.run_job, target)
        except Exception:  # a bug or an unexpected API error: retried with back-off, never silently dropped
            log.exception("[%s/%s] reconcile failed unexpectedly", entry.namespace, entry.name)
            entry.failures += 1
            result = JobResult(retry_after=min(MAX_BACKOFF, RETRY_FLOOR * 2 ** entry.failures))
        finally:
            entry.running = False
            self._busy -= 1
        if result.gone:
            if self.entries.get(uid) is entry:
                self._forget(uid)
        elif self.entries.get(uid) is entry:
            self._after(uid, entry, result)
        self._kick.set()

    def _after(self, uid: str, entry: _Entry, result: JobResult) -> None:
        now = self.clock()
        entry.last_full = now
        if result.retry_after is None:
            entry.failures = 0
        entry.handled = result.handled
        wake = _epoch(result.due)
        if result.retry_after is not None:
            retry = now + result.retry_after
            wake = retry if wake is None else min(wake, retry)
        elif wake is not None and wake <= now:
            wake = now + PAST_DUE_PAUSE  # due but the job could not act on it: do not spin
        if entry.rerun:
            entry.rerun, wake = False, now
        # Not `replace`: the job was started from the heap, so any slot there now was put by an event that came
        # while it ran, and the earlier of the two wins.
        self._put(uid, wake, entry)

    def __len__(self) -> int:
        return len(self.entries)
