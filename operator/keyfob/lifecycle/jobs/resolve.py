"""Which adapter acts on a key: the provider that issued it, whatever the spec names now."""

from __future__ import annotations

from keyfob.api.request import ProviderRef
from keyfob.lifecycle.ports import ProviderLookupError, ProviderPort, ResolvedProvider


def issuer_of(providers: ProviderPort, namespace: str, ref: ProviderRef) -> ResolvedProvider:
    """The provider object `ref` names, or the adapter last built for it when the object or its admin Secret is
    gone (a namespace being deleted removes them before the requests whose keys they must revoke)."""
    try:
        return providers.resolve(namespace, ref)
    except ProviderLookupError:
        fallback = providers.last_known(namespace, ref)
        if fallback is None:
            raise
        return fallback
