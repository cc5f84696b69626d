"""The Storj caveat a key would be restricted with, in words: built by the same build_caveat() issue() uses
(with a fixed nonce: the real one is random and says nothing about scope). No satellite or auth-service call."""

from __future__ import annotations

from dataclasses import fields

from keyfob.contract import Grant, GrantPreview
from keyfob.providers.storj.caveat import Caveat
from keyfob.providers.storj.scope import build_caveat

PREVIEW_NONCE = bytes(16)


def flags(caveat: Caveat) -> tuple[list[str], list[str]]:
    """(allowed, disallowed) rights named as in Storj's caveat, without the 'disallow_' prefix."""
    allowed: list[str] = []
    denied: list[str] = []
    for item in fields(caveat):
        if item.name.startswith("disallow_"):
            (denied if getattr(caveat, item.name) else allowed).append(item.name.removeprefix("disallow_"))
    return allowed, denied


def caveat_words(caveat: Caveat) -> tuple[str, ...]:
    allowed, denied = flags(caveat)
    buckets = ", ".join(p.bucket.decode() for p in caveat.allowed_paths)
    end = caveat.not_after.to_datetime().isoformat() if caveat.not_after else "never (no not_after)"
    return (
        f"allowed paths: {buckets} (whole buckets, no encrypted prefix)",
        f"allowed: {', '.join(allowed) or 'nothing'}",
        f"disallowed: {', '.join(denied)}",
        f"not_after: {end} (the satellite refuses the key after it)",
    )


def preview(grant: Grant, problems: list[str], revocable: bool, passphrase: str | None = None) -> GrantPreview:
    """`passphrase`: whose passphrase the keys are derived from ("provider", "request"), None = the parent's."""
    if problems:
        return GrantPreview(summary=f"Storj: refused: {'; '.join(problems)}", native={"refused": problems})
    caveat = caveat_words(build_caveat(grant.buckets, grant.permissions, grant.expires_at, PREVIEW_NONCE))
    source = f"derived from the {passphrase}'s passphrase" if passphrase else "from the parent access grant"
    words = (*caveat, f"encryption keys: {source}, for the requested buckets only")
    revoke = "named root key (revocable, within about a minute)" if revocable else "parent grant (expiry only)"
    return GrantPreview(
        summary=f"Storj access restricted from the {revoke}: {'; '.join(words)}",
        native={"caveat": list(caveat), "revocable": revocable, "passphrase": passphrase or "none"},
        words=words,
    )
