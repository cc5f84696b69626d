"""STS sessions for credentialType sts: AssumeRole on the provider's role (spec.aws.sts.roleArn, never anything a
request says) with the admin credentials, the session policy being exactly the policy an access key would get
(scope.policy_for), the session name keyfob's key name. A session's rights are the role's policies AND the
session policy, so it never exceeds the request. AWS has no call that ends one session: it ends at its own
expiry, which STS enforces."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from keyfob.api.blocks.aws import AwsStsSettings
from keyfob.api.vocabulary import parse_duration
from keyfob.contract import Grant, GrantPreview
from keyfob.contract.preview import scope_words
from keyfob.providers.aws.scope import policy_for

# AWS: "The plaintext that you use for both inline and managed session policies can't exceed 2,048 characters."
MAX_SESSION_POLICY_CHARS = 2048
STS_MAX = timedelta(hours=12)
NOT_REVOCABLE = ("an STS session cannot be revoked (AWS has no call for one session): keyfob dropped it from the "
                 "Secret and it ends at its own session end")


def session_policy(grant: Grant) -> str:
    """The Policy parameter of AssumeRole: the same document an IAM user would get, compact."""
    return json.dumps(policy_for(grant), separators=(",", ":"))


def max_session(settings: AwsStsSettings) -> timedelta:
    return min(parse_duration(settings.max_session_duration), STS_MAX)


def session_refusals(settings: AwsStsSettings | None, grant: Grant) -> list[str]:
    if settings is None:
        return ["STS sessions without a role: the provider sets none (spec.aws.sts.roleArn)"]
    found: list[str] = []
    longest = max_session(settings)
    if grant.session_seconds is not None and timedelta(seconds=grant.session_seconds) > longest:
        found.append(f"a {grant.session_seconds}s STS session: the role allows at most "
                     f"{int(longest.total_seconds())}s (spec.aws.sts.maxSessionDuration)")
    size = len(session_policy(grant))
    if size > MAX_SESSION_POLICY_CHARS:
        found.append(f"the session policy for {len(grant.buckets)} bucket(s) is {size} characters; STS allows "
                     f"{MAX_SESSION_POLICY_CHARS}: ask for fewer buckets or permissions")
    return found


def assume_role_arguments(settings: AwsStsSettings, grant: Grant) -> dict[str, Any]:
    """What issue() sends to AssumeRole (describe() shows the same)."""
    assert grant.session_seconds is not None
    arguments: dict[str, Any] = {
        "RoleArn": settings.role_arn,
        "RoleSessionName": grant.key_name,
        "Policy": session_policy(grant),
        "DurationSeconds": grant.session_seconds,
    }
    if settings.external_id:
        arguments["ExternalId"] = settings.external_id
    return arguments


def preview(settings: AwsStsSettings | None, grant: Grant) -> GrantPreview:
    role = settings.role_arn if settings else "(no role: spec.aws.sts.roleArn is not set)"
    until = f" until {grant.expires_at.isoformat()}" if grant.expires_at else ""
    return GrantPreview(
        summary=f"STS session {grant.key_name} of role {role} for {grant.session_seconds}s{until} (AWS expires it; "
                f"refreshed before it ends; not revocable), session policy: {scope_words(grant)}",
        native={"credentialType": "sts", "roleArn": role, "roleSessionName": grant.key_name,
                "durationSeconds": grant.session_seconds, "sessionPolicy": policy_for(grant)},
        words=("an STS session: its rights are the role's policies AND this session policy",
               "it cannot be revoked; keyfob drops it from the Secret and it ends at its session end"),
    )
