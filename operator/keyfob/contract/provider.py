"""The Provider protocol every adapter implements.

Contract (idempotent, as COSI requires of its drivers):
- issue(grant): create a credential named grant.key_name with exactly grant's scope. Issuing again with the same
  name adopts or replaces whatever a crashed earlier attempt left, after proving at the provider that the
  existing record was made by keyfob for grant.request.uid (else OwnershipUnproven); it never creates a second
  live key.
- revoke(ref): the key stops working. Already gone is success. A key the provider's record does not show as
  keyfob's for ref.owner_uid is never touched: OwnershipUnproven. It may return a Revoked saying how (deleted or
  only disabled) and when the revocation takes effect; None means "deleted, at once" (Capabilities decide).
- list_owned(): every key this operator (this cluster id) created, found by the provider's naming convention.
- check(): the admin credentials work.
- unsupported(grant): what of the grant this provider cannot express beyond what `capabilities` already says
  (empty = it can express all of it).
- describe(grant) (optional, keyfob.contract.preview.Describes): what issue(grant) would grant, rendered from
  the same code path, with no provider call.
Errors: see keyfob.contract.errors.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

from keyfob.contract.capabilities import Capabilities
from keyfob.contract.grant import Grant
from keyfob.contract.keys import ConnectionInfo, IssuedKey, KeyRef, OwnedKey, Revoked


@runtime_checkable
class Provider(Protocol):
    kind: ClassVar[str]
    capabilities: Capabilities

    def connection(self) -> ConnectionInfo: ...

    def unsupported(self, grant: Grant) -> list[str]: ...

    def check(self) -> None: ...

    def issue(self, grant: Grant) -> IssuedKey: ...

    def revoke(self, ref: KeyRef) -> Revoked | None: ...

    def list_owned(self) -> list[OwnedKey]: ...
