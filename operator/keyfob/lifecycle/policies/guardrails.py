"""Invariant 6: a request may only use a provider, buckets, prefixes, permissions and lifetime its guardrails
allow. Pure: the request, the provider's guardrails, the namespace's labels and the clock are passed in. Each
denial names the rule, so the Denied condition tells the user what to change.

Fail closed: a ClusterAccessKeyProvider without allowedNamespaces or allowedBuckets serves nobody until the
admin writes '*' explicitly. '{namespace}' must stand between separators a namespace name cannot contain
('.' in bucket patterns, '/' in prefix patterns), so one pattern can never match for two namespaces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from keyfob.api.common import LabelSelector, ObjectKind
from keyfob.api.provider import Guardrails
from keyfob.api.request import AccessKeyRequestSpec
from keyfob.api.vocabulary import parse_duration
from keyfob.lifecycle.conditions import Reason
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.policies.verdict import Verdict

PLACEHOLDER = "{namespace}"
ANY = "*"


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


def placeholder_problem(pattern: str, separator: str) -> str | None:
    """Why '{namespace}' in this pattern could match for two namespaces, or None."""
    index = pattern.find(PLACEHOLDER)
    while index >= 0:
        before = pattern[index - 1] if index > 0 else separator
        end = index + len(PLACEHOLDER)
        after = pattern[end] if end < len(pattern) else separator
        if before != separator or after != separator:
            return f"pattern {pattern!r}: '{PLACEHOLDER}' must stand between {separator!r} separators or at the ends"
        index = pattern.find(PLACEHOLDER, end)
    return None


def pattern_matches(pattern: str, value: str, namespace: str, any_run: str) -> bool:
    """'*' matches any run of `any_run` characters; '{namespace}' is the request's namespace, literally."""
    parts = pattern.replace(PLACEHOLDER, "\0").split(ANY)
    regex = any_run.join(re.escape(part).replace("\0", re.escape(namespace)) for part in parts)
    return re.fullmatch(regex, value) is not None


def bucket_pattern_matches(pattern: str, bucket: str, namespace: str) -> bool:
    return placeholder_problem(pattern, ".") is None and pattern_matches(pattern, bucket, namespace, "[a-z0-9.-]*")


def prefix_pattern_matches(pattern: str, prefix: str, namespace: str) -> bool:
    return placeholder_problem(pattern, "/") is None and pattern_matches(pattern, prefix, namespace, ".*")


def effective_ttl(guardrails: Guardrails) -> str:
    """The provider's default lifetime, never above its maximum."""
    if guardrails.max_ttl and parse_duration(guardrails.default_ttl) > parse_duration(guardrails.max_ttl):
        return guardrails.max_ttl
    return guardrails.default_ttl


def _namespace_denial(namespace: str, labels: Mapping[str, str], guardrails: Guardrails) -> str | None:
    allowed = guardrails.allowed_namespaces
    if allowed is None:
        return "allowedNamespaces: not set, so this ClusterAccessKeyProvider serves no namespace (write names: ['*'])"
    by_name = ANY in allowed.names or namespace in allowed.names
    by_selector = allowed.selector is not None and selector_matches(allowed.selector, labels)
    return None if by_name or by_selector else f"allowedNamespaces: namespace {namespace!r} may not use this provider"


def _bucket_denials(spec: AccessKeyRequestSpec, namespace: str, guardrails: Guardrails, cluster: bool) -> list[str]:
    patterns = guardrails.allowed_buckets
    if not patterns:
        return ["allowedBuckets: not set, so this ClusterAccessKeyProvider allows no bucket (write ['*'])"] if cluster \
            else []
    found = [f"allowedBuckets: {p}" for p in (placeholder_problem(x, ".") for x in patterns) if p]
    for bucket in spec.buckets:
        if not any(bucket_pattern_matches(p, bucket.name, namespace) for p in patterns):
            found.append(f"allowedBuckets: bucket {bucket.name!r} matches none of [{', '.join(patterns)}]")
    return found


def _prefix_denials(spec: AccessKeyRequestSpec, namespace: str, guardrails: Guardrails) -> list[str]:
    patterns = guardrails.allowed_prefixes
    if not patterns:
        return []
    found = [f"allowedPrefixes: {p}" for p in (placeholder_problem(x, "/") for x in patterns) if p]
    for bucket in spec.buckets:
        if not bucket.prefix:
            found.append(f"allowedPrefixes: bucket {bucket.name!r} asks for the whole bucket; a prefix is required")
        elif not any(prefix_pattern_matches(p, bucket.prefix, namespace) for p in patterns):
            found.append(f"allowedPrefixes: prefix {bucket.prefix!r} matches none of [{', '.join(patterns)}]")
    return found


def _lifetime_denials(
    spec: AccessKeyRequestSpec, guardrails: Guardrails, now: datetime, issued_at: datetime | None
) -> list[str]:
    """maxTTL and minTTL. An absolute expiresAt is measured from now for the maximum, and from when its key was
    issued (or now, before that) for the minimum, so a key nearing its expiry is not denied for it."""
    found: list[str] = []
    longest: timedelta = parse_duration(spec.ttl or effective_ttl(guardrails))
    shortest = longest
    if spec.expires_at is not None:
        longest, shortest = spec.expires_at - now, spec.expires_at - (issued_at or now)
    if guardrails.max_ttl and longest > parse_duration(guardrails.max_ttl):
        found.append(f"maxTTL: requested lifetime exceeds the provider's maximum of {guardrails.max_ttl}")
    if guardrails.min_ttl and timedelta(0) < shortest < parse_duration(guardrails.min_ttl):
        found.append(f"minTTL: requested lifetime is below the provider's minimum of {guardrails.min_ttl}")
    return found


def denials(
    *,
    namespace: str,
    namespace_labels: Mapping[str, str],
    spec: AccessKeyRequestSpec,
    provider_kind: ObjectKind,
    guardrails: Guardrails,
    now: datetime,
    issued_at: datetime | None = None,
) -> list[str]:
    """Every rule the request breaks (empty: allowed)."""
    cluster = provider_kind is ObjectKind.CLUSTER_ACCESS_KEY_PROVIDER
    found: list[str] = []
    if cluster:
        denial = _namespace_denial(namespace, namespace_labels, guardrails)
        found += [denial] if denial else []
    found += _bucket_denials(spec, namespace, guardrails, cluster)
    found += _prefix_denials(spec, namespace, guardrails)
    forbidden = sorted(str(p) for p in set(spec.permissions) - set(guardrails.allowed_permissions))
    if forbidden:
        found.append(f"allowedPermissions: {', '.join(forbidden)} not allowed by this provider")
    return found + _lifetime_denials(spec, guardrails, now, issued_at)


def denied(inputs: Inputs) -> Verdict | None:
    provider = inputs.provider
    if provider is None:
        return None
    found = denials(
        namespace=inputs.view.namespace,
        namespace_labels=inputs.namespace_labels,
        spec=inputs.view.spec,
        provider_kind=provider.kind,
        guardrails=provider.spec.guardrails,
        now=inputs.now,
        issued_at=inputs.view.status.issued_at,
    )
    return Verdict(Reason.DENIED, "; ".join(found), revoke_held=True) if found else None
