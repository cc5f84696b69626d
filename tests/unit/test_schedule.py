"""The one schedule: the due heap, the wake decision from an event's body, and the scheduler's job hand-off."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyfob.due_queue import DueQueue
from keyfob.lifecycle.wake import FINALIZER, Handled, wake_time
from keyfob.scheduler import JobResult, Scheduler, Target
from keyfob.watch_cache import OwnWrites, SecretCache

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_due_queue_orders_replaces_and_limits() -> None:
    q = DueQueue()
    assert q.put("a", 30.0) and q.put("b", 10.0) and q.put("c", 20.0)
    assert not q.put("a", 40.0), "a later time does not move an earlier one"
    assert q.put("a", 5.0), "an earlier one does"
    q.put("c", 50.0, replace=True)
    assert q.next_time() == 5.0
    assert q.pop_due(25.0, limit=1) == ["a"]
    assert q.pop_due(25.0) == ["b"]
    assert q.pop_due(49.0) == [] and q.when("c") == 50.0
    q.drop("c")
    assert q.next_time() is None and len(q) == 0


def test_due_queue_compacts_dead_slots() -> None:
    q = DueQueue()
    for i in range(1000):
        q.put("x", float(1000 - i))
    assert len(q._heap) <= 130 and q.pop_due(1e9) == ["x"]


def _body(*, status: dict[str, Any] | None = None, generation: int = 1, finalizers: tuple[str, ...] = (FINALIZER,),
          deleting: bool = False, rotate: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "app", "namespace": "team", "uid": "u1", "generation": generation,
                            "resourceVersion": "7", "finalizers": list(finalizers)}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-01T11:00:00Z"
    if rotate:
        meta["annotations"] = {"keyfob.dev/rotate": rotate}
    return {"metadata": meta, "spec": {"providerRef": {"name": "aws"}, "buckets": [{"name": "b"}],
                                       "permissions": ["read"], "secretName": "s"}, "status": status or {}}


def _ready(renewal: datetime, **extra: Any) -> dict[str, Any]:
    return {"conditions": [{"type": "Ready", "status": "True", "reason": "Issued", "message": "",
                            "lastTransitionTime": "2026-12-01T10:00:00Z"}],
            "observedGeneration": 1, "accessKeyId": "AKIA1", "revision": 1,
            "keyName": "kf-3e246227-7a49-4c96-baf0-701288ef486b-r1",
            "renewalTime": renewal.isoformat(), "expiresAt": (renewal + timedelta(days=1)).isoformat(), **extra}


@pytest.mark.parametrize(("body", "handled", "expected"), [
    (_body(finalizers=()), None, NOW),  # not yet taken: now
    (_body(deleting=True), None, NOW),  # ours to revoke
    (_body(deleting=True, finalizers=()), None, None),  # not ours any more
    (_body(status=_ready(NOW + timedelta(hours=3))), None, NOW + timedelta(hours=3)),  # settled: its renewal
    (_body(status=_ready(NOW + timedelta(hours=3)), generation=2), None, NOW),  # spec changed
    (_body(status=_ready(NOW + timedelta(hours=3)), rotate="r1"), None, NOW),  # rotate asked
    (_body(status=_ready(NOW - timedelta(minutes=1))), None, NOW),  # renewal passed
    # failed (not Ready) with nothing new since: the back-off holds, a tenant's edit does not cut it short
    (_body(status={"observedGeneration": 1}), Handled(1, None, NOW + timedelta(seconds=40)),
     NOW + timedelta(seconds=40)),
    (_body(status={"observedGeneration": 1}, generation=2), Handled(1, None, NOW + timedelta(seconds=40)), NOW),
])
def test_wake_time(body: dict[str, Any], handled: Handled | None, expected: datetime | None) -> None:
    assert wake_time(body, handled, NOW) == expected


def test_secret_cache_believes_absence_briefly_and_forgets_on_conflict() -> None:
    clock = [0.0]
    cache = SecretCache(clock=lambda: clock[0])
    key = ("team", "s")
    assert cache.lookup(key) == (False, None), "unknown name: ask (someone else's Secret may be there)"
    cache.mark_absent(key)
    assert cache.lookup(key) == (True, None)
    clock[0] = 11.0
    assert cache.lookup(key) == (False, None), "absence is believed only briefly"
    cache.mark_absent(key)
    cache.mark_unknown(key)
    assert cache.lookup(key) == (False, None)


def test_own_writes_are_consumed_once() -> None:
    own = OwnWrites(keep=2)
    own.add("team/app", "5")
    own.add("team/app", "6")
    own.add("team/app", "7")
    assert not own.consume("team/app", "5"), "only the last few are kept"
    assert own.consume("team/app", "7") and not own.consume("team/app", "7")


class _Jobs:
    def __init__(self, results: list[JobResult]) -> None:
        self.results = results
        self.targets: list[Target] = []
        self.running = 0
        self.max_running = 0
        self.lock = threading.Lock()
        self.release = threading.Event()

    def __call__(self, target: Target) -> JobResult:
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            self.targets.append(target)
        self.release.wait(5)
        with self.lock:
            self.running -= 1
        return self.results.pop(0) if self.results else JobResult()


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def _event_body(uid: str, rv: str = "1", **kw: Any) -> Mapping[str, Any]:
    body = _body(**kw)
    body["metadata"].update(uid=uid, name=uid, resourceVersion=rv)
    return body


def test_scheduler_runs_due_jobs_with_the_event_body_bounded_by_workers() -> None:
    async def scenario() -> None:
        jobs = _Jobs([])
        own = OwnWrites()
        scheduler = Scheduler(jobs, workers=2, resync_seconds=3600, own=own)
        scheduler.start()
        for i in range(5):
            scheduler.observe("ADDED", _event_body(f"u{i}", finalizers=()))
        await _until(lambda: len(jobs.targets) == 2)
        assert jobs.max_running == 2 and all(t.body is not None for t in jobs.targets)
        jobs.release.set()
        await _until(lambda: len(jobs.targets) == 5)
        await scheduler.stop()
        assert jobs.max_running == 2

    asyncio.run(scenario())


def test_scheduler_ignores_its_own_writes_and_reruns_after_news_mid_job() -> None:
    async def scenario() -> None:
        jobs = _Jobs([JobResult(due=datetime.now(UTC) + timedelta(hours=1))])
        own = OwnWrites()
        scheduler = Scheduler(jobs, workers=1, resync_seconds=3600, own=own)
        scheduler.start()
        scheduler.observe("ADDED", _event_body("u", finalizers=()))
        await _until(lambda: len(jobs.targets) == 1)
        own.add("team/u", "2")
        scheduler.observe("MODIFIED", _event_body("u", rv="2", finalizers=()))  # our own write: no news
        jobs.release.set()
        await _until(lambda: jobs.running == 0 and not scheduler.entries["u"].running)
        assert scheduler.queue.when("u") is not None and scheduler.queue.when("u") > datetime.now(UTC).timestamp()
        jobs.release.clear()
        scheduler.wake(["u"])  # e.g. its Secret was deleted
        await _until(lambda: len(jobs.targets) == 2)
        assert jobs.targets[1].body is None, "a wake-up reads the request fresh"
        scheduler.observe("MODIFIED", _event_body("u", rv="3", generation=2))  # news while it runs
        jobs.release.set()
        await _until(lambda: len(jobs.targets) == 3)
        scheduler.observe("DELETED", _event_body("u", rv="4"))
        assert "u" not in scheduler.entries and "u" not in scheduler.queue
        await scheduler.stop()

    asyncio.run(scenario())


def test_scheduler_backs_off_a_failing_job() -> None:
    async def scenario() -> None:
        def boom(target: Target) -> JobResult:
            raise RuntimeError("unexpected")

        scheduler = Scheduler(boom, workers=1, resync_seconds=3600, own=OwnWrites())
        scheduler.start()
        scheduler.observe("ADDED", _event_body("u", finalizers=()))
        await _until(lambda: scheduler.entries["u"].failures == 1 and not scheduler.entries["u"].running)
        when = scheduler.queue.when("u")
        assert when is not None and when > datetime.now(UTC).timestamp() + 1
        await scheduler.stop()

    asyncio.run(scenario())


def test_resumed_settled_requests_spread_their_first_full_check() -> None:
    async def scenario() -> None:
        resumed: list[str] = []
        scheduler = Scheduler(_Jobs([]), workers=1, resync_seconds=600, own=OwnWrites(),
                              on_resumed=lambda body: resumed.append(body["metadata"]["uid"]))
        scheduler.start()
        far = datetime.now(UTC) + timedelta(days=2)
        for i in range(50):
            scheduler.observe(None, _event_body(f"u{i}", status=_ready(far)))
        times = [scheduler.queue.when(f"u{i}") for i in range(50)]
        now = datetime.now(UTC).timestamp()
        assert len(resumed) == 50 and all(t is not None and now - 1 <= t <= now + 601 for t in times)
        assert len({round(t or 0) for t in times}) > 10, "spread over the window, not all at once"
        await scheduler.stop()

    asyncio.run(scenario())


def test_a_suspend_annotation_wakes_a_settled_request() -> None:
    body = _body(status=_ready(NOW + timedelta(hours=3)))
    body["metadata"]["annotations"] = {"keyfob.dev/suspend": "oncall: INC-7"}
    assert wake_time(body, None, NOW) == NOW


def test_a_wake_for_another_namespace_is_ignored() -> None:
    scheduler = Scheduler(_Jobs([]), workers=1, resync_seconds=3600, own=OwnWrites())
    far = datetime.now(UTC) + timedelta(days=2)
    scheduler.observe(None, _event_body("u", status=_ready(far)))  # settled, namespace "team"
    before = scheduler.queue.when("u")
    assert before is not None and before > datetime.now(UTC).timestamp()
    scheduler._wake_now(["u"], "elsewhere")  # a forged ownerReference on a Secret in another namespace
    assert scheduler.queue.when("u") == before
    scheduler._wake_now(["u"], "team")
    woken = scheduler.queue.when("u")
    assert woken is not None and woken <= datetime.now(UTC).timestamp()
