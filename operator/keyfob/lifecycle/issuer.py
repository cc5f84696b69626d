"""Which provider issued a request's current key (status memory; revocation goes there, whatever the spec says)."""

from __future__ import annotations

from keyfob.api.common import ObjectKind
from keyfob.api.request import ProviderRef
from keyfob.api.request_status import AccessKeyRequestStatus


def current_issuer(status: AccessKeyRequestStatus, spec_ref: ProviderRef) -> ProviderRef:
    """The provider that issued the current key: status.providerRef; for a status written before keyfob recorded
    it, the `Kind/[namespace/]name` label in status.provider; the spec's only when neither says."""
    if status.provider_ref is not None:
        return status.provider_ref
    kind, _, rest = (status.provider or "").partition("/")
    if kind in {k.value for k in ObjectKind} and rest:
        return ProviderRef(kind=ObjectKind(kind), name=rest.rsplit("/", 1)[-1])
    return spec_ref
