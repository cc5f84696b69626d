"""What a provider would grant for a grant, without granting it: the optional `describe` of the Provider
protocol. An adapter renders it from the same code it issues with (the IAM policy it would put, the caveat
it would restrict with, the per-bucket grants it would make), with no provider call and no secret in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from keyfob.contract.grant import Grant

MAX_SUMMARY = 500


@dataclass(frozen=True)
class GrantPreview:
    """`summary`: one line for people and status.grant; `native`: the provider's own rendering (JSON-able);
    `words`: the same in plain sentences where the native form is not readable (a Storj caveat)."""

    summary: str
    native: dict[str, Any] = field(default_factory=dict)
    words: tuple[str, ...] = ()

    def bounded_summary(self) -> str:
        text = " ".join(self.summary.split())
        return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 3] + "..."


@runtime_checkable
class Describes(Protocol):
    def describe(self, grant: Grant) -> GrantPreview: ...


def describe(adapter: object, grant: Grant) -> GrantPreview | None:
    """The adapter's preview, or None for an adapter that does not describe itself."""
    return adapter.describe(grant) if isinstance(adapter, Describes) else None


def scope_words(grant: Grant) -> str:
    """'read, list on a/2026/*, b' : the neutral scope, for summaries."""
    where = ", ".join(f"{b.name}/{b.prefix}*" if b.prefix else b.name for b in grant.buckets)
    return f"{', '.join(sorted(p.value for p in grant.permissions)) or 'nothing'} on {where or 'no bucket'}"
