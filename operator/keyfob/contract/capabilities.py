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
    # How revocation works: "delete" removes the key; "disable" leaves it in the account, switched off.
    revocation: Literal["delete", "disable"] = "delete"

    @property
    def revoked_word(self) -> str:
        return "disabled" if self.revocation == "disable" else "revoked"
