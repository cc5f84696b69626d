"""A request's spec as the provider-neutral grant the adapters receive."""

from __future__ import annotations

from datetime import datetime

from pydantic import SecretStr

from keyfob.contract import BucketGrant, Grant, RequestIdentity
from keyfob.lifecycle.request_view import RequestView


def passphrase_ref(view: RequestView) -> str | None:
    ref = view.spec.passphrase_secret_ref
    return f"Secret {view.namespace}/{ref.name} key {ref.key!r}" if ref is not None else None


def grant_for(
    view: RequestView,
    key_name: str,
    revision: int,
    expires_at: datetime | None,
    passphrase: SecretStr | None = None,
    *,
    session_seconds: int | None = None,
) -> Grant:
    """`session_seconds` (credentialType sts): the STS session's length; its policy is this same scope."""
    spec = view.spec
    return Grant(
        key_name=key_name,
        request=RequestIdentity(view.namespace, view.name, view.uid),
        revision=revision,
        buckets=tuple(BucketGrant(b.name, b.prefix) for b in spec.buckets),
        permissions=frozenset(spec.permissions),
        expires_at=expires_at if expires_at is not None else spec.expires_at,
        passphrase_ref=passphrase_ref(view),
        passphrase=passphrase,
        session_seconds=session_seconds,
    )
