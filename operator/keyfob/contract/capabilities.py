"""What a provider can enforce natively. The lifecycle reads these to refuse what a provider cannot express
before any provider call (`keyfob.lifecycle.policies.expressible`); adapters add finer refusals through
`Provider.unsupported`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from keyfob.api.vocabulary import Permission


@dataclass(frozen=True)
class Capabilities:
    permissions: frozenset[Permission]  # every permission the provider can grant on its own
    prefix_scope: bool  # can a key be limited to a prefix of a bucket
    native_expiry: bool  # does the provider itself stop the key at its expiry
    revocable: bool = True
    # How revocation works: "delete" removes the key; "disable" leaves it in the account, switched off. A
    # provider that deletes when it can and disables otherwise says "delete" here and the actual way in the
    # Revoked result of each revoke() call.
    revocation: Literal["delete", "disable"] = "delete"
    # When the provider's confirmation does not mean the key has stopped working yet (e.g. Storj satellites cache
    # API keys): how long it may keep working, in words for a message ("within about a minute"). None = at once.
    revocation_delay: str | None = None
    # The provider cannot scope a key at all (IONOS: a key acts as its user). `permissions`/`prefix_scope` then
    # say nothing; whether it may serve is the adapter's `unsupported()` decision (an explicit opt-in on the
    # provider object), and every such key carries a warning that status, events and the Secret show.
    unscoped: bool = False
    # The provider can encrypt with a passphrase the request names (Grant.passphrase): Storj, when its provider
    # object allows request passphrases. Every other provider refuses such a request.
    request_passphrase: bool = False
    # credentialType sts: the provider can make STS sessions (AssumeRole) with a session policy; their expiry is
    # native. Whether one session can be ended early is the adapter's revoke() answer: AWS has no such call
    # (Revoked(how="expire"): keyfob drops it from the Secret and it ends at its own session end); MinIO does
    # (revoke-tokens by the session's token type).
    sessions: bool = False

    @property
    def revoked_word(self) -> str:
        return "disabled" if self.revocation == "disable" else "revoked"
