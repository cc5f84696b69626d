from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keyfob.api.common import ObjectKind
from keyfob.api.provider import Guardrails
from keyfob.api.request import AccessKeyRequestSpec
from keyfob.lifecycle.policies.guardrails import bucket_pattern_matches, denials, effective_ttl

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
    assert check(spec(permissions=["read", "write", "list", "delete"]), ALL) == []
    denied = check(spec(permissions=["read", "bypassGovernanceRetention"]), ALL)
    assert denied == ["allowedPermissions: bypassGovernanceRetention not allowed by this provider"]


ALL = {"allowedNamespaces": {"names": ["*"]}, "allowedBuckets": ["*"]}


def test_bucket_patterns_with_namespace_placeholder() -> None:
    assert bucket_pattern_matches("{namespace}.*", "team-a.data", "team-a")
    assert not bucket_pattern_matches("{namespace}.*", "team-b.data", "team-a")
    assert not bucket_pattern_matches("data", "data2", "x")
    assert bucket_pattern_matches("a.b", "a.b", "x") and not bucket_pattern_matches("a.b", "axb", "x")
    denied = check(spec(buckets=[{"name": "team-b.data"}]), {**ALL, "allowedBuckets": ["{namespace}.*"]})
    assert denied and denied[0].startswith("allowedBuckets: bucket 'team-b.data'")


@pytest.mark.parametrize(
    ("pattern", "bucket", "owner"),
    [
        # One pattern, two namespaces that could both claim the bucket: 'team' and 'team-a' are both namespaces.
        ("{namespace}-*", "team-a-reports", "team-a"),  # prefix position: namespace 'team' would match too
        ("*-{namespace}", "x-a-team", "a-team"),  # suffix position: namespace 'team' would match too
        ("data-{namespace}-*", "data-team-a-x", "team-a"),  # middle position
        ("*{namespace}*", "xteamx", "team"),  # no separator at all
    ],
)
def test_placeholder_patterns_that_could_collide_across_namespaces_match_nobody(
    pattern: str, bucket: str, owner: str
) -> None:
    """The README once suggested '{namespace}-*': for namespace 'team' it matched 'team-a-reports', which
    belongs to namespace 'team-a'. Such a pattern now matches for no namespace, and the denial says why."""
    for namespace in (owner, "team", "a", "team-a", "a-team"):
        assert not bucket_pattern_matches(pattern, bucket, namespace)
    denied = check(spec(buckets=[{"name": bucket}]), {**ALL, "allowedBuckets": [pattern]}, ns=owner)
    assert any("must stand between '.' separators" in d for d in denied)


@pytest.mark.parametrize(
    ("pattern", "bucket", "namespace", "allowed"),
    [
        ("{namespace}.*", "team.reports", "team", True),
        ("{namespace}.*", "team-a.reports", "team", False),
        ("{namespace}.*", "team.reports", "team-a", False),
        ("*.{namespace}", "reports.team-a", "team-a", True),
        ("*.{namespace}", "reports.team-a", "a", False),
        ("data.{namespace}.logs", "data.team.logs", "team", True),
        ("{namespace}", "team", "team", True),
    ],
)
def test_dot_separated_placeholders_name_exactly_one_namespace(
    pattern: str, bucket: str, namespace: str, allowed: bool
) -> None:
    assert bucket_pattern_matches(pattern, bucket, namespace) is allowed


@pytest.mark.parametrize(
    ("patterns", "prefix", "namespace", "allowed"),
    [
        (["{namespace}/*"], "team/reports/", "team", True),
        (["{namespace}/*"], "team-a/reports/", "team", False),
        (["{namespace}/*"], None, "team", False),  # the whole bucket is more than any prefix
        (["{namespace}-*"], "team-a/x", "team", False),  # collides: refused
        (["shared/*", "{namespace}/*"], "shared/x", "team", True),
    ],
)
def test_allowed_prefixes(patterns: list[str], prefix: str | None, namespace: str, allowed: bool) -> None:
    bucket = {"name": "data", **({"prefix": prefix} if prefix else {})}
    denied = check(spec(buckets=[bucket]), {**ALL, "allowedPrefixes": patterns}, ns=namespace)
    assert (denied == []) is allowed, denied


def test_cluster_provider_without_namespaces_or_buckets_serves_nobody() -> None:
    denied = check(spec(), {})
    assert any(d.startswith("allowedNamespaces: not set") for d in denied)
    assert any(d.startswith("allowedBuckets: not set") for d in denied)
    assert check(spec(), ALL) == []
    # A namespaced provider belongs to its namespace: no namespace rule, and no bucket rule means every bucket.
    assert check(spec(), {}, kind=ObjectKind.ACCESS_KEY_PROVIDER) == []


def test_min_ttl() -> None:
    assert check(spec(ttl="10m"), {**ALL, "minTTL": "1h"})[0].startswith("minTTL")
    assert check(spec(ttl="2h"), {**ALL, "minTTL": "1h"}) == []


def test_namespaces_by_name_or_selector() -> None:
    rails = {"allowedNamespaces": {"names": ["ops"], "selector": {"matchLabels": {"s3": "yes"}}},
             "allowedBuckets": ["*"]}
    assert check(spec(), rails, ns="ops") == []
    assert check(spec(), rails, labels={"s3": "yes"}) == []
    assert check(spec(), rails)[0].startswith("allowedNamespaces")
    expr = {"allowedNamespaces": {"selector": {"matchExpressions": [{"key": "tier", "operator": "In",
                                                                    "values": ["prod"]}]}}, "allowedBuckets": ["*"]}
    assert check(spec(), expr, labels={"tier": "prod"}) == [] and check(spec(), expr, labels={"tier": "dev"})


def test_ttl_over_max_is_denied_and_default_is_capped() -> None:
    assert check(spec(ttl="48h"), {**ALL, "maxTTL": "24h"})[0].startswith("maxTTL")
    assert check(spec(expiresAt="2026-03-01T00:00:00Z"), {**ALL, "maxTTL": "24h"})[0].startswith("maxTTL")
    assert check(spec(ttl="24h"), {**ALL, "maxTTL": "24h"}) == []
    assert effective_ttl(Guardrails.model_validate({"maxTTL": "24h"})) == "24h"
