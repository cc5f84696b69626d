"""The one inline policy an issued IAM user gets: issue() puts it, describe() shows it (same function)."""

from __future__ import annotations

from typing import Any

from keyfob.contract import Grant, GrantPreview
from keyfob.contract.preview import scope_words
from keyfob.providers.common.s3_policy import render_policy

POLICY_NAME = "keyfob-scope"


def policy_for(grant: Grant) -> dict[str, Any]:
    return render_policy(grant.buckets, grant.permissions, grant.expires_at)


def preview(grant: Grant, path: str, boundary: str | None) -> GrantPreview:
    until = f" until {grant.expires_at.isoformat()} (aws:CurrentTime; keyfob revokes then)" if grant.expires_at else ""
    return GrantPreview(
        summary=f"IAM user {path}{grant.key_name}, inline policy {POLICY_NAME}: {scope_words(grant)}{until}",
        native={"userPath": path, "policyName": POLICY_NAME, "policy": policy_for(grant),
                "permissionsBoundary": boundary},
    )
