"""Everything one reconcile decides on, gathered once: the request, its Secret, its provider, the namespace's
labels, quota usage and the clock. Policies read only this; jobs act on what the plan says."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from keyfob.lifecycle.ports import ProviderLookupError, ResolvedProvider, SecretSnapshot
from keyfob.lifecycle.request_view import RequestView


@dataclass(frozen=True)
class Usage:
    """What the request's namespace already holds at its provider (for the per-namespace quotas)."""

    live_keys: int = 0  # keys held by the namespace's other requests at this provider
    issued_last_hour: int = 0  # keys keyfob issued for this namespace at this provider in the last hour


@dataclass(frozen=True)
class Inputs:
    view: RequestView
    now: datetime
    secret: SecretSnapshot | None
    provider: ResolvedProvider | None = None
    lookup_error: ProviderLookupError | None = None
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
