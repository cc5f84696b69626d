"""Invariant 6: a request may only use a provider, buckets, permissions and lifetime its guardrails allow.

Pure: every input (the request, the provider's guardrails, the namespace's labels, the clock) is passed in.
Each denial names the rule that denied it, so the Denied condition tells the user what to change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from keyfob.api.common import LabelSelector, ObjectKind
from keyfob.api.provider import Guardrails
from keyfob.api.request import AccessKeyRequestSpec
from keyfob.api.vocabulary import parse_duration


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.match_labels.items()):
        return False
    for expr in selector.match_expressions:
        present = expr.key in labels
        if expr.operator == "In" and not (present and labels[expr.key] in expr.values):
            return False
        if expr.operator == "NotIn" and present and labels[expr.key] in expr.values:
            return False
        if expr.operator == "Exists" and not present:
            return False
        if expr.operator == "DoesNotExist" and present:
            return False
    return True


def bucket_pattern_matches(pattern: str, bucket: str, namespace: str) -> bool:
    """'*' matches any run of bucket-name characters; '{namespace}' is the request's namespace, literally."""
    parts = pattern.replace("{namespace}", "\0").split("*")
    regex = "[a-z0-9.-]*".join(re.escape(part).replace("\0", re.escape(namespace)) for part in parts)
    return re.fullmatch(regex, bucket) is not None


def effective_ttl(guardrails: Guardrails) -> str:
    """The provider's default lifetime, never above its maximum."""
    if guardrails.max_ttl and parse_duration(guardrails.default_ttl) > parse_duration(guardrails.max_ttl):
        return guardrails.max_ttl
    return guardrails.default_ttl


def denials(
    *,
    namespace: str,
    namespace_labels: Mapping[str, str],
    spec: AccessKeyRequestSpec,
    provider_kind: ObjectKind,
    guardrails: Guardrails,
    now: datetime,
) -> list[str]:
    """Every rule the request breaks (empty: allowed)."""
    found: list[str] = []
    allowed_ns = guardrails.allowed_namespaces
    if provider_kind is ObjectKind.CLUSTER_ACCESS_KEY_PROVIDER and allowed_ns is not None:
        by_name = namespace in allowed_ns.names
        by_selector = allowed_ns.selector is not None and selector_matches(allowed_ns.selector, namespace_labels)
        if not (by_name or by_selector):
            found.append(f"allowedNamespaces: namespace {namespace!r} may not use this provider")
    if guardrails.allowed_buckets:
        for bucket in spec.buckets:
            if not any(bucket_pattern_matches(p, bucket.name, namespace) for p in guardrails.allowed_buckets):
                patterns = ", ".join(guardrails.allowed_buckets)
                found.append(f"allowedBuckets: bucket {bucket.name!r} matches none of [{patterns}]")
    forbidden = sorted(str(p) for p in set(spec.permissions) - set(guardrails.allowed_permissions))
    if forbidden:
        found.append(f"allowedPermissions: {', '.join(forbidden)} not allowed by this provider")
    if guardrails.max_ttl:
        limit = parse_duration(guardrails.max_ttl)
        asked: timedelta | None = None
        if spec.expires_at is not None:
            asked = spec.expires_at - now
        elif spec.ttl:
            asked = parse_duration(spec.ttl)
        if asked is not None and asked > limit:
            found.append(f"maxTTL: requested lifetime exceeds the provider's maximum of {guardrails.max_ttl}")
    return found
