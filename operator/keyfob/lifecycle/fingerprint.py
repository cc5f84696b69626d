"""Fingerprints that tell a scope change (needs a new key) from a Secret-only change (re-render)."""

from __future__ import annotations

import hashlib
import json

from keyfob.api.request import AccessKeyRequestSpec


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def scope_hash(spec: AccessKeyRequestSpec) -> str:
    """Provider, buckets, permissions and an absolute expiry: what the issued key itself encodes."""
    return _digest(
        {
            "provider": spec.provider_ref.wire(),
            "buckets": sorted((b.name, b.prefix or "") for b in spec.buckets),
            "permissions": sorted(str(p) for p in spec.permissions),
            "expiresAt": spec.expires_at.isoformat() if spec.expires_at else None,
        }
    )


def render_hash(spec: AccessKeyRequestSpec) -> str:
    """What only shapes the Secret: formats and template."""
    template = spec.secret_template.wire() if spec.secret_template else {}
    return _digest({"formats": sorted(str(f) for f in spec.secret_formats), "template": template})
