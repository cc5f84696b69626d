"""The Provider protocol every adapter implements, and the value types that cross it.

Contract (idempotent, as COSI requires of its drivers):
- issue(grant): create a credential named grant.key_name with exactly grant's scope. Issuing again with the same
  name adopts or replaces whatever a crashed earlier attempt left; it never creates a second live key.
- revoke(ref): the key stops working. Already gone is success.
- list_owned(): every key this operator (this cluster id) created, found by the provider's naming convention.
- check(): the admin credentials work.
- unsupported(grant): what of the grant this provider cannot express (empty = it can express all of it).
Errors: ProviderUnavailable (retry later), ProviderThrottled (retry later, with a hint), ProviderRejected
(permanent for this grant). Exception messages never contain secret material.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Literal, Protocol, runtime_checkable

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


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued credential. The secret is a SecretStr so it never shows in a repr or a log."""

    key_name: str
    access_key_id: str
    secret_access_key: SecretStr
    expires_at: datetime | None
    expiry_native: bool
    # What the user must know about this key that the request did not say (e.g. "unscoped: ..."): shown in the
    # Ready message, a Warning event and the Secret's keyfob.dev/warnings annotation.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyRef:
    """Enough to find and revoke a key: keyfob's name for it and, when known, its public id."""

    key_name: str
    access_key_id: str | None = None


@dataclass(frozen=True)
class OwnedKey:
    """A key found at the provider under keyfob's naming convention."""

    key_name: str
    access_key_ids: tuple[str, ...] = ()
    request_uid: str | None = None


@dataclass(frozen=True)
class Capabilities:
    permissions: frozenset[Permission]
    prefix_scope: bool
    native_expiry: bool
    revocable: bool = True
    # How revocation works: "delete" removes the key; "disable" (Utho) leaves it in the account, switched off.
    revocation: Literal["delete", "disable"] = "delete"

    @property
    def revoked_word(self) -> str:
        return "disabled" if self.revocation == "disable" else "revoked"


@dataclass(frozen=True)
class ConnectionInfo:
    """What a consumer needs besides the key pair: written into the Secret as-is (no secrets here)."""

    endpoint: str | None
    region: str | None
    extra: Mapping[str, str] = field(default_factory=dict)


class ProviderError(Exception):
    """Base of provider failures; the message is safe to show in a condition or event."""


class ProviderUnavailable(ProviderError):
    """Temporary: network down, 5xx, eventual consistency. Retry later."""


class ProviderThrottled(ProviderUnavailable):
    """The provider asked us to slow down."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderRejected(ProviderError):
    """Permanent for this grant: the provider refused it (bad policy, limit reached, access denied)."""


@runtime_checkable
class Provider(Protocol):
    kind: ClassVar[str]
    capabilities: Capabilities

    def connection(self) -> ConnectionInfo: ...

    def unsupported(self, grant: Grant) -> list[str]: ...

    def check(self) -> None: ...

    def issue(self, grant: Grant) -> IssuedKey: ...

    def revoke(self, ref: KeyRef) -> None: ...

    def list_owned(self) -> list[OwnedKey]: ...
