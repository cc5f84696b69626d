"""Preview: each adapter's describe() renders what its issue() would grant, from the same function, with no
provider call and no secret; the lifecycle preview runs the reconciler's own admission policies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyfob.api.blocks.aws import AwsProviderBlock
from keyfob.api.blocks.ionos import IonosProviderBlock
from keyfob.api.blocks.utho import UthoProviderBlock
from keyfob.api.common import ObjectKind
from keyfob.api.provider import ProviderSpec
from keyfob.api.vocabulary import Permission as P
from keyfob.contract import BucketGrant, Grant, RequestIdentity, describe
from keyfob.contract.naming import key_name
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.ports import ResolvedProvider
from keyfob.lifecycle.preview import preview, render_text
from keyfob.lifecycle.request_view import parse_request
from keyfob.providers.aws import scope as aws_scope
from keyfob.providers.aws.adapter import AwsIamProvider
from keyfob.providers.ceph import scope as ceph_scope
from keyfob.providers.ceph.adapter import CephRgwProvider
from keyfob.providers.ionos.adapter import IonosProvider
from keyfob.providers.minio import scope as minio_scope
from keyfob.providers.minio.adapter import MinioServiceAccountProvider
from keyfob.providers.utho.adapter import UthoProvider
from tests.unit.test_ceph_provider import ADMIN as CEPH_ADMIN
from tests.unit.test_ceph_provider import BLOCK as CEPH_BLOCK
from tests.unit.test_minio_provider import ADMIN as MINIO_ADMIN
from tests.unit.test_minio_provider import block as minio_block

UID = "0b6f3c1e-3d1a-4d8e-9a57-0123456789ab"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AWS_ADMIN = {"AWS_ACCESS_KEY_ID": "AKIAADMINADMIN", "AWS_SECRET_ACCESS_KEY": "aws-admin-secret-value"}
CEPH_SECRET = {**CEPH_ADMIN, "secretKey": "ceph-admin-secret-value"}
SECRETS = [AWS_ADMIN["AWS_SECRET_ACCESS_KEY"], MINIO_ADMIN["MINIO_SECRET_KEY"], CEPH_SECRET["secretKey"]]


def grant(permissions: frozenset[P] = frozenset({P.READ, P.LIST}), prefix: str | None = "2026/") -> Grant:
    return Grant(key_name(UID, 1), RequestIdentity("team-a", "reports", UID), 1,
                 (BucketGrant("team-a.reports", prefix),), permissions, NOW + timedelta(hours=24))


def aws() -> AwsIamProvider:
    block = AwsProviderBlock.model_validate({"region": "eu-central-1", "credentialsSecretRef": {"name": "a"}})
    return AwsIamProvider(block, AWS_ADMIN, "prod")


def utho() -> UthoProvider:
    block = UthoProviderBlock.model_validate({"credentialsSecretRef": {"name": "u"}, "dcSlug": "inmumbaizone2",
                                              "apiUrl": "http://127.0.0.1:1", "s3Endpoint": "http://127.0.0.1:2"})
    return UthoProvider(block, {"UTHO_API_KEY": "utho-token-value"}, "prod")


def ionos(allow: bool) -> IonosProvider:
    block = IonosProviderBlock.model_validate({"credentialsSecretRef": {"name": "i"}, "allowUnscopedKeys": allow,
                                               "apiUrl": "http://127.0.0.1:1", "s3Endpoint": "http://127.0.0.1:2",
                                               "region": "eu-central-3"})
    return IonosProvider(block, {"IONOS_TOKEN": "ionos-token-value"}, "prod")


@pytest.mark.parametrize(("make", "policy"), [
    (aws, lambda g: aws_scope.policy_for(g)),
    (lambda: MinioServiceAccountProvider(minio_block(), MINIO_ADMIN, "prod", clock=lambda: NOW),
     lambda g: minio_scope.policy_for(g)),
    (lambda: CephRgwProvider(CEPH_BLOCK, CEPH_SECRET, "prod"), lambda g: ceph_scope.render(g)),
])
def test_s3_policy_providers_preview_the_policy_issue_puts(make: Any, policy: Any) -> None:
    adapter, g = make(), grant()
    shown = describe(adapter, g)
    assert shown is not None
    assert shown.native["policy"] == policy(g)  # the very function issue() renders its policy with
    assert "list, read on team-a.reports/2026/*" in shown.summary
    assert not any(s in json.dumps(shown.native) + shown.summary for s in SECRETS)


def test_aws_preview_carries_the_time_condition_and_minio_does_not() -> None:
    aws_policy = json.dumps(describe(aws(), grant()).native["policy"])  # type: ignore[union-attr]
    minio = MinioServiceAccountProvider(minio_block(), MINIO_ADMIN, "prod", clock=lambda: NOW)
    shown = describe(minio, grant())
    assert shown is not None
    assert "aws:CurrentTime" in aws_policy and "aws:CurrentTime" not in json.dumps(shown.native["policy"])
    assert "MinIO expires it" in shown.summary


@pytest.mark.parametrize(("permissions", "prefix", "expect"), [
    (frozenset({P.READ, P.LIST}), None, "team-a.reports=read (list+read)"),
    (frozenset({P.WRITE, P.DELETE}), None, "team-a.reports=write (delete+write)"),
    (frozenset({P.READ, P.WRITE}), None, "refused: read and write on the same key"),
    (frozenset({P.READ}), None, "refused: read alone"),
    (frozenset({P.READ, P.LIST}), "2026/", "refused: object prefixes"),
])
def test_utho_preview_names_the_per_bucket_grant_or_the_refusal(
    permissions: frozenset[P], prefix: str | None, expect: str
) -> None:
    shown = describe(utho(), grant(permissions, prefix))
    assert shown is not None and expect in shown.summary
    assert "utho-token-value" not in shown.summary + json.dumps(shown.native)


@pytest.mark.parametrize(("allow", "expect"), [(True, "unscoped: the token's user's own rights"), (False, "refused")])
def test_ionos_preview_says_unscoped_or_refused(allow: bool, expect: str) -> None:
    shown = describe(ionos(allow), grant(prefix=None))
    assert shown is not None and expect in shown.summary


def _inputs(adapter: Any, spec: dict[str, Any], guardrails: dict[str, Any], **extra: Any) -> Inputs:
    body = {"metadata": {"namespace": "team-a", "name": "reports", "uid": UID},
            "spec": {"providerRef": {"name": "aws"}, "secretName": "s", **spec}}
    provider_spec = ProviderSpec.model_validate({"aws": {"region": "eu-central-1",
                                                         "credentialsSecretRef": {"name": "a"}},
                                                 "guardrails": guardrails, **extra})
    resolved = ResolvedProvider(ObjectKind.ACCESS_KEY_PROVIDER, "team-a", "aws", provider_spec, adapter)
    return Inputs(parse_request(body), NOW, None, resolved)


def test_lifecycle_preview_lists_every_refusal_with_its_rule_and_still_renders_the_grant() -> None:
    inputs = _inputs(aws(), {"buckets": [{"name": "team-b.x"}], "permissions": ["read", "delete"], "ttl": "48h"},
                     {"allowedBuckets": ["{namespace}.*"], "allowedPermissions": ["read"], "maxTTL": "24h",
                      "requireApproval": True})
    result = preview(inputs)
    text = "\n".join(render_text(inputs, result))
    assert not result.grantable
    assert [v.reason for v in result.refusals] == ["Denied", "AwaitingApproval"]
    for rule in ("allowedBuckets", "allowedPermissions", "maxTTL"):
        assert rule in text
    assert "enforced by keyfob" in text and "would NOT be granted" in text
    assert result.grant is not None and "team-b.x" in result.grant.summary


def test_lifecycle_preview_of_an_allowed_request_is_grantable_with_lifetime() -> None:
    inputs = _inputs(aws(), {"buckets": [{"name": "team-a.r", "prefix": "p/"}], "permissions": ["read"],
                             "ttl": "24h"}, {"allowedBuckets": ["{namespace}.*"]})
    result = preview(inputs)
    assert result.grantable and result.expires_at == NOW + timedelta(hours=24)
    assert result.renewal_time is not None and result.renewal_time < result.expires_at
    assert "would be granted" in "\n".join(render_text(inputs, result))


def test_a_suspended_provider_is_refused_in_the_preview() -> None:
    inputs = _inputs(aws(), {"buckets": [{"name": "team-a.r"}], "permissions": ["read"]}, {},
                     suspend=True, suspendReason="alice: incident 7")
    result = preview(inputs)
    assert result.refusals[0].reason == "Suspended" and "alice: incident 7" in result.refusals[0].message
