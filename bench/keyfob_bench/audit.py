"""Count API-server requests from the kube-apiserver audit log (one JSON event per request, metadata only).

Clients are told apart by User-Agent: Kopf's own client sends ``kopf/<version>`` (watches, finalizer and
annotation patches, events), keyfob's blocking client sends the kubernetes library's default
``OpenAPI-Generator/<version>/python`` (status patches, Secret and object reads and writes), the bench sends
``keyfob-bench/<role>``. "operator" below is the sum of the first two.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
READ_VERBS = frozenset({"get", "list", "watch"})


def client_of(user_agent: str) -> str:
    if user_agent.startswith("kopf/"):
        return "operator"
    if user_agent.startswith("OpenAPI-Generator/"):
        return "operator"
    if user_agent.startswith("keyfob-bench/"):
        return user_agent.split(" ", 1)[0]
    return user_agent.split("/", 1)[0] or "unknown"


@dataclass
class AuditCounts:
    """Requests per client, verb and resource[/subresource], plus the operator's split by library."""

    by_key: Counter[tuple[str, str, str]]
    by_library: Counter[str]
    errors: Counter[tuple[str, str, str, int]]

    def operator(self) -> dict[str, int]:
        return {f"{verb} {res}": n for (client, verb, res), n in sorted(self.by_key.items()) if client == "operator"}

    def total(self, client: str, verbs: frozenset[str]) -> int:
        return sum(n for (c, verb, _), n in self.by_key.items() if c == client and verb in verbs)

    def summary(self, client: str = "operator") -> dict[str, Any]:
        return {
            "writes": self.total(client, WRITE_VERBS),
            "reads": self.total(client, READ_VERBS),
            "by_verb_resource": {f"{v} {r}": n for (c, v, r), n in sorted(self.by_key.items()) if c == client},
            "by_library": dict(self.by_library),
            "errors": {f"{v} {r} {code}": n for (c, v, r, code), n in sorted(self.errors.items()) if c == client},
        }


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        """The current end of the log; pass it to :meth:`counts` to count only what comes after."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return 0
        self._inode = stat.st_ino
        return stat.st_size

    _inode: int | None = None

    def counts(self, since: int = 0, until: int | None = None) -> AuditCounts:
        if self._inode is not None and self.path.stat().st_ino != self._inode:
            raise RuntimeError(f"{self.path} was rotated since it was marked: counts by offset would be wrong")
        by_key: Counter[tuple[str, str, str]] = Counter()
        by_library: Counter[str] = Counter()
        errors: Counter[tuple[str, str, str, int]] = Counter()
        with open(self.path, "rb") as log:
            log.seek(since)
            data = log.read() if until is None else log.read(max(0, until - since))
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line still being written at the end
            agent = str(event.get("userAgent", ""))
            client = client_of(agent)
            ref = event.get("objectRef") or {}
            resource = str(ref.get("resource", "")) or "nonResource"
            if ref.get("subresource"):
                resource += "/" + str(ref["subresource"])
            verb = str(event.get("verb", ""))
            by_key[(client, verb, resource)] += 1
            if client == "operator":
                by_library["kopf" if agent.startswith("kopf/") else "keyfob (kubernetes client)"] += 1
            code = int((event.get("responseStatus") or {}).get("code", 0) or 0)
            if code >= 400:
                errors[(client, verb, resource, code)] += 1
        return AuditCounts(by_key, by_library, errors)
