"""The inline policy a MinIO service account gets: issue() sets it, describe() shows it (same function).
Expiry is MinIO's own (the service account's expiration), so the policy carries no aws:CurrentTime."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from keyfob.contract import Grant, GrantPreview, ProviderRejected
from keyfob.contract.preview import scope_words
from keyfob.providers.common.s3_policy import render_policy
from keyfob.providers.minio.naming import expiration_for

MAX_POLICY_BYTES = 4096  # MinIO's limit for a service account's inline policy


def policy_for(grant: Grant) -> dict[str, Any]:
    return render_policy(grant.buckets, grant.permissions, grant.expires_at, time_condition=False)


def policy_size(policy: dict[str, Any]) -> int:
    return len(json.dumps(policy, separators=(",", ":")).encode())


def preview(grant: Grant, parent_user: str, access_key: str, now: datetime) -> GrantPreview:
    policy = policy_for(grant)
    try:
        expiration = expiration_for(grant.expires_at, now)
        until = f" until {expiration.isoformat()} (MinIO expires it)" if expiration else " (no expiry)"
    except ProviderRejected as err:
        until = f"; refused: {err}"
    if policy_size(policy) > MAX_POLICY_BYTES:
        until += f"; refused: the policy is {policy_size(policy)} bytes, over MinIO's {MAX_POLICY_BYTES}"
    return GrantPreview(
        summary=f"MinIO service account {access_key} of {parent_user} (policy ∩ parent's rights): "
                f"{scope_words(grant)}{until}",
        native={"accessKey": access_key, "parentUser": parent_user, "policy": policy},
    )


def session_preview(grant: Grant, admin_user: str, refusals: list[str]) -> GrantPreview:
    """credentialType sts: the STS session issue() would make (the same session policy a service account gets)."""
    until = f" until {grant.expires_at.isoformat()}" if grant.expires_at else ""
    refused = "".join(f"; refused: {r}" for r in refusals)
    return GrantPreview(
        summary=f"MinIO STS session of {admin_user} for {grant.session_seconds}s{until} (MinIO expires it; refreshed "
                f"before it ends), session policy (∩ {admin_user}'s rights): {scope_words(grant)}{refused}",
        native={"credentialType": "sts", "parentUser": admin_user, "durationSeconds": grant.session_seconds,
                "tokenRevokeType": grant.key_name, "sessionPolicy": policy_for(grant)},
        words=("an STS session: its rights are its parent's AND this session policy (MinIO enforces both)",
               "revoked through MinIO's revoke-tokens for its token type; else it ends at its session end"),
    )
