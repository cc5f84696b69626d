"""The provider error taxonomy. Every message is safe to show in a condition or event: no secret material."""

from __future__ import annotations


class ProviderError(Exception):
    """Base of provider failures."""


class ProviderUnavailable(ProviderError):
    """Temporary: network down, 5xx, eventual consistency. Retry later."""


class ProviderThrottled(ProviderUnavailable):
    """The provider asked us to slow down."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderRejected(ProviderError):
    """Permanent for this grant: the provider refused it (bad policy, limit reached, access denied)."""


class OwnershipUnproven(ProviderRejected):
    """The provider's own record does not show that keyfob made this key for this request (invariant 7): the
    adapter changed nothing. Raised before any adopt, replace or revoke of a key keyfob cannot prove it owns."""
