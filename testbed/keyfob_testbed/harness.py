"""One small interface per provider peer, so the operator-level provider suite runs unchanged against each
(tests/integration/test_provider_suite.py): issue -> Secret -> the key works -> revoke -> it does not, orphan
sweep, crash matrix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class ProviderHarness(Protocol):
    name: str  # the provider block name: aws, minio, storj, ionos, utho

    def admin_secret_data(self) -> dict[str, str]:
        """Data of the admin credentials Secret the AccessKeyProvider references."""
        ...

    def provider_spec(self, admin_secret: str) -> dict[str, Any]:
        """The AccessKeyProvider spec (one provider block + guardrails) for a request in the test namespace."""
        ...

    def request_spec(self, secret_name: str) -> dict[str, Any]:
        """A request spec this provider can serve (buckets that exist at the peer, permissions it can express,
        a ttl inside its window); providerRef is filled in by the suite."""
        ...

    def key_works(self, secret_data: Mapping[str, str]) -> bool:
        """A real call with only the Secret's data succeeds against the peer."""
        ...

    def live_key_ids(self) -> set[str]:
        """Access key ids of every keyfob-made key the peer currently holds (for 'nothing orphaned')."""
        ...

    def make_orphan(self, cluster_id: str) -> str:
        """Create, behind keyfob's back, a key that follows keyfob's naming convention but no request holds;
        return its access key id."""
        ...
