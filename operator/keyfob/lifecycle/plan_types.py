"""The vocabulary of a plan: why a key is issued, and what keyfob's annotations on a Secret say."""

from __future__ import annotations

from dataclasses import dataclass


class IssueReason:
    INITIAL = "Initial"
    RENEWAL = "Renewal"
    SCOPE_CHANGED = "ScopeChanged"
    PROVIDER_CHANGED = "ProviderChanged"
    ROTATE_REQUESTED = "RotateRequested"
    SECRET_LOST = "SecretLost"
    RESUMED = "Resumed"  # finishing an issue a crash interrupted


@dataclass(frozen=True)
class SecretState:
    """keyfob's annotations on a Secret it owns (public data only; memory, never proof)."""

    revision: int | None
    access_key_id: str | None
    render_hash: str | None
