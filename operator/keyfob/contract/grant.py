"""A grant: exactly what one issued key may do, and whom it is for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import SecretStr

from keyfob.api.vocabulary import Permission


@dataclass(frozen=True)
class BucketGrant:
    name: str
    prefix: str | None = None


@dataclass(frozen=True)
class RequestIdentity:
    """Which AccessKeyRequest a key belongs to (written into provider-side tags/descriptions)."""

    namespace: str
    name: str
    uid: str


@dataclass(frozen=True)
class Grant:
    """Exactly what one issued key may do."""

    key_name: str
    request: RequestIdentity
    revision: int
    buckets: tuple[BucketGrant, ...]
    permissions: frozenset[Permission]
    expires_at: datetime | None
    # credentialType sts: the STS session to make (DurationSeconds), its policy exactly this grant's scope and
    # its end `expires_at`. None: a long-lived access key.
    session_seconds: int | None = None
    # An encryption passphrase the request names (Storj): `passphrase_ref` says which Secret key (no secret in
    # it, for policies and previews); `passphrase` holds the value, read only when a key is actually issued.
    passphrase_ref: str | None = field(default=None, kw_only=True)
    passphrase: SecretStr | None = field(default=None, repr=False, compare=False, kw_only=True)

    @property
    def is_session(self) -> bool:
        return self.session_seconds is not None
