"""Fingerprints that tell a scope change (needs a new key) from a Secret-only change (re-render)."""

from __future__ import annotations

import hashlib
import json

from keyfob.api.request import AccessKeyRequestSpec, CredentialType


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def scope_hash(spec: AccessKeyRequestSpec) -> str:
    """Provider, buckets, permissions, an absolute expiry and (only when not the default accessKey, so hashes
    written before STS existed stay valid) the credential type, and a named passphrase (only when set): what
    the issued key itself encodes."""
    scope: dict[str, object] = {
        "provider": spec.provider_ref.wire(),
        "buckets": sorted((b.name, b.prefix or "") for b in spec.buckets),
        "permissions": sorted(str(p) for p in spec.permissions),
        "expiresAt": spec.expires_at.isoformat() if spec.expires_at else None,
    }
    if spec.passphrase_secret_ref is not None:  # only when set: existing requests keep their hash
        scope["passphraseSecretRef"] = spec.passphrase_secret_ref.wire()
    if spec.credential_type is not CredentialType.ACCESS_KEY:
        scope["credentialType"] = str(spec.credential_type)
    return _digest(scope)


def render_hash(spec: AccessKeyRequestSpec) -> str:
    """What only shapes the Secret: formats and template."""
    template = spec.secret_template.wire() if spec.secret_template else {}
    return _digest({"formats": sorted(str(f) for f in spec.secret_formats), "template": template})


def scope_lines(spec: AccessKeyRequestSpec) -> list[str]:
    """What scope_hash covers, one fact a line (for approvers: `keyfob approve` diffs them)."""
    ref = spec.provider_ref
    lines = [f"provider {ref.kind.value}/{ref.name}"]
    lines += sorted(f"bucket {b.name}/{b.prefix}*" if b.prefix else f"bucket {b.name} (whole)" for b in spec.buckets)
    lines += sorted(f"permission {p}" for p in spec.permissions)
    lines.append(f"expiresAt {spec.expires_at.isoformat()}" if spec.expires_at else f"ttl {spec.ttl or 'default'}")
    if spec.passphrase_secret_ref is not None:
        secret = spec.passphrase_secret_ref
        lines.append(f"passphrase from Secret {secret.name} key {secret.key}")
    if spec.credential_type is not CredentialType.ACCESS_KEY:
        lines.append(f"credentialType {spec.credential_type}")
    return lines
