"""Keys as they cross the provider protocol: a fresh one (with its secret), a reference to one, one found."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import SecretStr


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
    # An STS session's token (credentialType sts): a SecretStr like the secret, and kept out of the repr too.
    session_token: SecretStr | None = field(default=None, repr=False)

    @property
    def is_session(self) -> bool:
        return self.session_token is not None


@dataclass(frozen=True)
class KeyRef:
    """Enough to find and revoke a key: keyfob's name for it, the request it must belong to and, when known, its
    public id. `owner_uid` is what the adapter proves against the provider's own record before it acts: a
    reference whose key the provider does not show as made by keyfob for that request raises OwnershipUnproven
    and changes nothing. `access_key_id` is a hint only (status memory), never authority."""

    key_name: str
    owner_uid: str
    access_key_id: str | None = None
    # Status remembers this credential as an STS session (a hint for the words only: the adapter still deletes
    # any key of this name that the provider's record proves is keyfob's, so a forged hint saves no key).
    session: bool = False


@dataclass(frozen=True)
class Revoked:
    """What one revoke() call did, when the adapter has more to say than "gone" (it may also return None).

    `how` is "disable" when the provider could not delete the key and keyfob switched it off instead (it stays in
    the provider account, disabled); "expire" for an STS session, which no provider call can end: keyfob dropped
    it from the Secret and it stops working at its own session end; `effective` says when the key really stops
    working if that is not at once ("within about a minute"). The lifecycle words the event from it: "revoked" /
    "disabled" / "left to expire" (see `word`), plus `effective` when set; without a result it falls back to
    Capabilities.revoked_word."""

    how: Literal["delete", "disable", "expire"] = "delete"
    effective: str | None = None
    detail: str | None = None  # e.g. why the key was disabled rather than deleted (no secrets)

    @property
    def word(self) -> str:
        return {"disable": "disabled", "expire": "left to expire"}.get(self.how, "revoked")

    def message(self) -> str:
        """'revoked' / 'disabled (Utho refused to remove it: ...)' / 'revoked (takes effect within about a minute)'"""
        notes = [n for n in (self.detail, f"takes effect {self.effective}" if self.effective else None) if n]
        return self.word + (f" ({'; '.join(notes)})" if notes else "")


@dataclass(frozen=True)
class OwnedKey:
    """A key found at the provider under keyfob's naming convention (the provider's own record)."""

    key_name: str
    access_key_ids: tuple[str, ...] = ()
    request_uid: str | None = None


@dataclass(frozen=True)
class ConnectionInfo:
    """What a consumer needs besides the key pair: written into the Secret as-is (no secrets here)."""

    endpoint: str | None
    region: str | None
    extra: Mapping[str, str] = field(default_factory=dict)


def revocation_words(result: Revoked | None, revoked_word: str, delay: str | None) -> str:
    """How an event says what revoke() did: the adapter's own result if it gave one, else the capability's word,
    with the provider's revocation delay when it has one ("revoked (takes effect within about a minute)")."""
    if result is not None:
        return result.message()
    return revoked_word + (f" (takes effect {delay})" if delay else "")

