"""Break-glass: a suspended provider (spec.suspend) or a suspended request (the keyfob.dev/suspend annotation,
written by `keyfob revoke`) has every key it holds revoked now, at the provider that issued it, and gets no new
one until the mark is lifted. First in the admission chain: no other rule can let a suspended request through.

A tenant may write annotations on their own requests: suspending one is harmless (it only takes their key
away); a provider-level suspend lives in the provider's spec, which tenants cannot change."""

from __future__ import annotations

from keyfob.lifecycle.conditions import Reason
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.policies.verdict import Verdict

MAX_MARK = 300


def _mark(text: str) -> str:
    text = " ".join(text.split())  # one line: the mark is tenant-writable text on a request
    return (text[:MAX_MARK] + "...") if len(text) > MAX_MARK else text


def suspended(inputs: Inputs) -> Verdict | None:
    provider = inputs.provider
    if provider is not None and provider.spec.suspend:
        why = _mark(provider.spec.suspend_reason) or "no reason given"
        return Verdict(Reason.SUSPENDED, f"{provider.label} is suspended ({why}): every key is revoked and none "
                       "is issued until its spec.suspend is false", revoke_held=True)
    mark = inputs.view.suspend_mark
    if mark is not None:
        return Verdict(Reason.SUSPENDED, f"request suspended ({_mark(mark)}): every key is revoked and none is "
                       "issued until the keyfob.dev/suspend annotation is removed", revoke_held=True)
    return None
