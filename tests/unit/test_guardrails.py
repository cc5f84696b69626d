from __future__ import annotations

from datetime import UTC, datetime

from keyfob.api.common import ObjectKind
from keyfob.api.provider import Guardrails
from keyfob.api.request import AccessKeyRequestSpec
from keyfob.lifecycle.guardrails import bucket_pattern_matches, denials, effective_ttl

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def spec(**kw: object) -> AccessKeyRequestSpec:
    base = {"providerRef": {"name": "p"}, "buckets": [{"name": "team-a-data"}], "permissions": ["read"],
            "secretName": "s"}
    return AccessKeyRequestSpec.model_validate({**base, **kw})


def check(request: AccessKeyRequestSpec, rails: dict, *, ns: str = "team-a", labels: dict | None = None,
          kind: ObjectKind = ObjectKind.CLUSTER_ACCESS_KEY_PROVIDER) -> list[str]:
    return denials(namespace=ns, namespace_labels=labels or {}, spec=request, provider_kind=kind,
                   guardrails=Guardrails.model_validate(rails), now=NOW)


def test_defaults_allow_plain_rights_but_no_object_lock() -> None:
    assert check(spec(permissions=["read", "write", "list", "delete"]), {}) == []
    denied = check(spec(permissions=["read", "bypassGovernanceRetention"]), {})
    assert denied == ["allowedPermissions: bypassGovernanceRetention not allowed by this provider"]


def test_bucket_patterns_with_namespace_placeholder() -> None:
    assert bucket_pattern_matches("{namespace}-*", "team-a-data", "team-a")
    assert not bucket_pattern_matches("{namespace}-*", "team-b-data", "team-a")
    assert not bucket_pattern_matches("data", "data2", "x")
    assert bucket_pattern_matches("a.b", "a.b", "x") and not bucket_pattern_matches("a.b", "axb", "x")
    denied = check(spec(buckets=[{"name": "team-b-data"}]), {"allowedBuckets": ["{namespace}-*"]})
    assert denied and denied[0].startswith("allowedBuckets: bucket 'team-b-data'")


def test_namespaces_by_name_or_selector() -> None:
    rails = {"allowedNamespaces": {"names": ["ops"], "selector": {"matchLabels": {"s3": "yes"}}}}
    assert check(spec(), rails, ns="ops") == []
    assert check(spec(), rails, labels={"s3": "yes"}) == []
    assert check(spec(), rails)[0].startswith("allowedNamespaces")
    expr = {"allowedNamespaces": {"selector": {"matchExpressions": [{"key": "tier", "operator": "In",
                                                                    "values": ["prod"]}]}}}
    assert check(spec(), expr, labels={"tier": "prod"}) == [] and check(spec(), expr, labels={"tier": "dev"})


def test_ttl_over_max_is_denied_and_default_is_capped() -> None:
    assert check(spec(ttl="48h"), {"maxTTL": "24h"})[0].startswith("maxTTL")
    assert check(spec(expiresAt="2026-03-01T00:00:00Z"), {"maxTTL": "24h"})[0].startswith("maxTTL")
    assert check(spec(ttl="24h"), {"maxTTL": "24h"}) == []
    assert effective_ttl(Guardrails.model_validate({"maxTTL": "24h"})) == "24h"
