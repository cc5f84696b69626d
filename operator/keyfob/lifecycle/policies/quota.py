"""Per-namespace quotas at a provider, so one tenant cannot exhaust an account's key slots (IONOS allows five
keys per user, IAM 5000 users per account) or its rate limit for everyone else."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from keyfob.api.request import ProviderRef
from keyfob.lifecycle.conditions import Reason
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.plan_types import IssueReason
from keyfob.lifecycle.policies.verdict import Verdict
from keyfob.lifecycle.request_view import parse_status

RETRY_RATE = 300.0


def live_keys(bodies: Iterable[Mapping[str, Any]], ref: ProviderRef, exclude_uid: str) -> int:
    """Keys (current, pending, in grace) the namespace's other requests hold at the provider `ref` names."""
    count = 0
    for body in bodies:
        if body.get("metadata", {}).get("uid") == exclude_uid:
            continue
        status = parse_status(body.get("status"))
        issuer = status.provider_ref
        if issuer is None:
            try:
                issuer = ProviderRef.model_validate((body.get("spec") or {}).get("providerRef") or {})
            except ValidationError:
                continue
        if issuer.wire() != ref.wire():
            continue
        count += int(status.access_key_id is not None) + int(status.pending is not None) + len(status.previous_keys)
    return count


def over_quota(inputs: Inputs, reason: str) -> Verdict | None:
    provider = inputs.provider
    if provider is None:
        return None
    rails = provider.spec.guardrails
    if rails.max_issues_per_hour_per_namespace is not None and (
        inputs.usage.issued_last_hour >= rails.max_issues_per_hour_per_namespace
    ):
        return Verdict(
            Reason.QUOTA_EXCEEDED,
            f"maxIssuesPerHourPerNamespace: namespace {inputs.view.namespace!r} already had "
            f"{inputs.usage.issued_last_hour} key(s) issued at {provider.label} in the last hour",
            retry=RETRY_RATE,
        )
    new_key = reason in (IssueReason.INITIAL, IssueReason.PROVIDER_CHANGED)
    if new_key and rails.max_keys_per_namespace is not None and (
        inputs.usage.live_keys + 1 > rails.max_keys_per_namespace
    ):
        return Verdict(
            Reason.QUOTA_EXCEEDED,
            f"maxKeysPerNamespace: namespace {inputs.view.namespace!r} already holds {inputs.usage.live_keys} "
            f"key(s) at {provider.label} (limit {rails.max_keys_per_namespace})",
            retry=RETRY_RATE,
        )
    return None
