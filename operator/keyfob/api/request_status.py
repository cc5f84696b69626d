"""AccessKeyRequest status: what keyfob did about a request. Written by the operator alone, except
`approval` (an approver's answer; the chart's admission policy enforces who may write what)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from keyfob.api.common import CamelModel, Condition
from keyfob.api.request import AccessKeyId, CredentialType, Hash, KeyName, ProviderRef


class ExpiryEnforcement(StrEnum):
    PROVIDER = "Provider"
    OPERATOR = "Operator"


class KeyRecord(CamelModel):
    """A key keyfob issued, by its public id only."""

    access_key_id: AccessKeyId | None = Field(
        default=None, description="Public access key id (never the secret); unset for an issue never finished."
    )
    key_name: KeyName = Field(description="keyfob's deterministic name for the key at the provider.")
    revoke_after: datetime | None = Field(default=None, description="When keyfob revokes it.")
    provider_ref: ProviderRef | None = Field(
        default=None, description="The provider that issued it (revocation goes there, whatever the spec says now)."
    )
    credential_type: CredentialType | None = Field(
        default=None, description="sts for an STS session (AWS cannot revoke one: it ends at its own expiry); "
        "unset for an access key.",
    )


class PendingIssue(CamelModel):
    """An issue in flight: written before the provider call so a crash can be finished or cleaned up."""

    revision: int = Field(description="Revision being issued.", ge=1)
    key_name: KeyName = Field(description="Deterministic provider-side name of the key being issued.")
    reason: str = Field(
        description="Why: Initial, Renewal, ScopeChanged, RotateRequested, SecretLost, ProviderChanged.",
        max_length=64,
    )
    started_at: datetime = Field(description="When the attempt began.")
    scope_hash: Hash | None = Field(default=None, description="Fingerprint of the scope being issued.")
    provider_ref: ProviderRef | None = Field(default=None, description="The provider the key is issued at.")


class ApprovalDecision(StrEnum):
    APPROVED = "Approved"
    DENIED = "Denied"


class Approval(CamelModel):
    """An approver's answer for one scope (written by `keyfob approve`; the API server checks who wrote it)."""

    scope_hash: Hash = Field(description="Fingerprint of the scope (provider, buckets, permissions) approved.")
    provider_ref: ProviderRef = Field(
        description="The provider the approver approved it at (the admission policy checks 'approve' on this one)."
    )
    decision: ApprovalDecision = Field(description="Approved or Denied.")
    by: str = Field(description="Username of the approver (must be the writer: checked at admission).", max_length=256)
    reason: str = Field(default="", description="Why (free text).", max_length=1024)
    time: datetime | None = Field(default=None, description="When.")
    scope: list[Annotated[str, Field(max_length=300)]] = Field(
        default_factory=list, max_length=64,
        description="The approved scope in words (written by `keyfob approve` for the next approver's diff; "
        "informational: scopeHash is what keyfob checks).",
    )


class AccessKeyRequestStatus(CamelModel):
    """What keyfob did: the key's public id, times, and conditions."""

    conditions: list[Condition] = Field(default_factory=list, description="Ready and friends.")
    access_key_id: AccessKeyId | None = Field(default=None, description="Public id of the current key.")
    key_name: KeyName | None = Field(default=None, description="Provider-side name of the current key.")
    revision: int = Field(default=0, description="How many keys have been issued for this request.", ge=0)
    issued_at: datetime | None = Field(default=None, description="When the current key was issued.")
    expires_at: datetime | None = Field(default=None, description="When the current key expires.")
    renewal_time: datetime | None = Field(default=None, description="When keyfob will rotate it.")
    expiry_enforced_by: ExpiryEnforcement | None = Field(
        default=None, description="Provider (native expiry) or Operator (keyfob revokes at expiry)."
    )
    credential_type: CredentialType | None = Field(
        default=None, description="sts when the current credential is an STS session (expiresAt is the session's "
        "end; renewalTime its refresh); unset for an access key.",
    )
    previous_keys: list[KeyRecord] = Field(
        default_factory=list, description="Keys replaced by a rotation, revoked after their grace period."
    )
    pending: PendingIssue | None = Field(default=None, description="An issue in flight.")
    scope_hash: Hash | None = Field(default=None, description="Fingerprint of the scope the key was issued for.")
    provider: str | None = Field(
        default=None, description="Kind/name of the provider that issued the key (for people).", max_length=600
    )
    provider_ref: ProviderRef | None = Field(
        default=None, description="The provider that issued the current key (expiry and revocation go there)."
    )
    grant: str | None = Field(
        default=None, max_length=600,
        description="What the current key may do at the provider, in one line (the provider's own rendering; no "
        "secret). `keyfob preview` shows it in full.",
    )
    approval: Approval | None = Field(
        default=None,
        description="An approver's answer for a scope. The only status field anyone but the operator may write.",
    )
    rolled_out_revision: int | None = Field(
        default=None, description="Revision the restartTargets were last rolled for."
    )
    rotate_request_handled: str | None = Field(
        default=None, description="Value of the keyfob.dev/rotate annotation last acted on."
    )
    observed_generation: int | None = Field(default=None, description="Last spec generation acted on.")

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)
