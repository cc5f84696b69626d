"""Provider error text that reaches tenant-visible status and events: bounded, and stripped of account
identifiers (ARNs, 12-digit AWS account ids, canonical user ids) that tell a tenant about the account."""

from __future__ import annotations

import re

MAX_TENANT_TEXT = 300
_ARN = re.compile(r"arn:[a-z0-9-]*:[^\s\"',;)]*", re.IGNORECASE)
_ACCOUNT = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
_CANONICAL = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


def tenant_safe(text: str) -> str:
    text = _ARN.sub("arn:<redacted>", text)
    text = _ACCOUNT.sub("<account>", text)
    text = _CANONICAL.sub("<id>", text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_TENANT_TEXT else text[: MAX_TENANT_TEXT - 1] + "…"
