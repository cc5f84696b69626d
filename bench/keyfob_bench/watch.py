"""Watch AccessKeyRequests in one namespace and timestamp, on arrival, the first event that shows each request
Ready=True at a given revision (the "-> Ready" end of apply -> Ready), plus every failure reason seen."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from typing import Any

from keyfob.api.vocabulary import GROUP, VERSION

REQUESTS = "accesskeyrequests"
FAILURES = frozenset(
    {"ProviderError", "ProviderNotReady", "ProviderNotFound", "Denied", "Unsupported", "SecretConflict",
     "InvalidSpec", "Expired"}
)


def _ready(obj: dict[str, Any]) -> tuple[str | None, str | None, int]:
    status = obj.get("status") or {}
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status"), cond.get("reason"), int(status.get("revision") or 0)
    return None, None, int(status.get("revision") or 0)


class ReadyWatch:
    def __init__(self, custom_api: Any, namespace: str) -> None:
        self.custom = custom_api
        self.namespace = namespace
        self.ready_at: dict[tuple[str, int], float] = {}  # (name, revision) -> monotonic time first seen Ready
        self.failures: Counter[str] = Counter()  # reason -> objects that showed it
        self.failed_names: set[str] = set()
        self.events = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch-{namespace}", daemon=True)
        self._response: Any = None
        self.error: BaseException | None = None

    def start(self) -> ReadyWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.close()
        self._thread.join(10)

    def __enter__(self) -> ReadyWatch:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- queries ------------------------------------------------------------------------------------------------
    def ready_count(self, revision: int = 1, names: frozenset[str] | None = None) -> int:
        with self._cond:
            if names is None:
                return sum(1 for (_, rev) in self.ready_at if rev == revision)
            return sum(1 for name in names if (name, revision) in self.ready_at)

    def wait_ready(self, name: str, revision: int, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while (name, revision) not in self.ready_at:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    return None
                self._cond.wait(min(remaining, 1.0))
            return self.ready_at[(name, revision)]

    def wait_count(
        self, count: int, revision: int, timeout: float, progress: Any = None, names: frozenset[str] | None = None
    ) -> bool:
        deadline = time.monotonic() + timeout
        last_report = time.monotonic()
        while True:
            have = self.ready_count(revision, names)
            if have >= count:
                return True
            now = time.monotonic()
            if now >= deadline:
                return False
            if progress is not None and now - last_report >= 30:
                progress(have)
                last_report = now
            with self._cond:
                self._cond.wait(0.5)

    # -- the watch loop -----------------------------------------------------------------------------------------
    def _observe(self, obj: dict[str, Any], now: float) -> None:
        name = obj["metadata"]["name"]
        state, reason, revision = _ready(obj)
        with self._cond:
            self.events += 1
            if state == "True" and revision and (name, revision) not in self.ready_at:
                self.ready_at[(name, revision)] = now
                self._cond.notify_all()
            if reason in FAILURES and name not in self.failed_names:
                self.failed_names.add(name)
                self.failures[reason] += 1

    def _list(self) -> str:
        token: str | None = None
        while True:
            page = self.custom.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, REQUESTS, limit=500, _continue=token
            )
            now = time.monotonic()
            for obj in page["items"]:
                self._observe(obj, now)
            token = page["metadata"].get("continue")
            if not token:
                return str(page["metadata"]["resourceVersion"])

    def _run(self) -> None:
        failures = 0
        version: str | None = None
        while not self._stop.is_set():
            try:
                version = (self._watch(version) if version else None) or self._list()
                failures = 0
            except Exception as err:  # e.g. 429 "storage is (re)initializing" right after the CRDs appear
                failures += 1
                version = None
                if failures >= 20:
                    self.error = err  # surfaced by the scenario that waits
                    return
                self._stop.wait(0.5)

    def _watch(self, version: str) -> str | None:
        """Stream events from ``version``; returns the version to resume from, or None to relist (410 Gone)."""
        response = self.custom.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, REQUESTS, watch=True, resource_version=version,
            allow_watch_bookmarks=True, timeout_seconds=240, _preload_content=False,
        )
        self._response = response
        buffer = b""
        try:
            for chunk in response.stream(65536, decode_content=True):
                if self._stop.is_set():
                    return version
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                now = time.monotonic()
                for line in lines:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        return None if obj.get("code") == 410 else version
                    version = str(obj.get("metadata", {}).get("resourceVersion", version))
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        self._observe(obj, now)
        finally:
            with contextlib.suppress(Exception):
                response.release_conn()
        return version
