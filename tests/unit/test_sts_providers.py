"""credentialType sts at the adapters, without a server: the AssumeRole call and the preview are rendered from one
function, the session policy is the very document a key would get, the role comes only from the provider, and
what a provider cannot do for a session is refused before any call. Then the reconciler over an in-memory STS
provider: the Secret gets the token, status says it is a session, the refresh replaces it, and the previous
session is reported as left to expire (not counted as revoked)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from pydantic import SecretStr

from keyfob.api.blocks.aws import AwsProviderBlock
from keyfob.api.vocabulary import Permission as P
from keyfob.contract import BucketGrant, Capabilities, ConnectionInfo, Grant, IssuedKey, KeyRef, RequestIdentity
from keyfob.contract.keys import Revoked
from keyfob.contract.naming import key_name
from keyfob.lifecycle.grants import grant_for
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.policies.expressible import inexpressible
from keyfob.lifecycle.preview import preview, render_text
from keyfob.lifecycle.reconciler import RequestReconciler
from keyfob.lifecycle.request_view import parse_request
from keyfob.lifecycle.timing import lifetime
from keyfob.providers.aws import scope as aws_scope
from keyfob.providers.aws import session as aws_session
from keyfob.providers.aws.adapter import AwsIamProvider
from keyfob.providers.minio import scope as minio_scope
from keyfob.providers.minio.adapter import MinioServiceAccountProvider
from tests.unit.test_minio_provider import ADMIN as MINIO_ADMIN
from tests.unit.test_minio_provider import block as minio_block
from tests.unit.test_reconciler import Clock, MemoryCluster, StaticProviders

UID = "0b6f3c1e-3d1a-4d8e-9a57-0123456789ab"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/keyfob-sessions"
AWS_ADMIN = {"AWS_ACCESS_KEY_ID": "AKIAADMINADMIN", "AWS_SECRET_ACCESS_KEY": "aws-admin-secret-value"}


def grant(seconds: int | None = 3600, buckets: int = 1) -> Grant:
    return Grant(key_name(UID, 1), RequestIdentity("team-a", "reports", UID), 1,
                 tuple(BucketGrant(f"team-a.reports{i}", "2026/") for i in range(buckets)),
                 frozenset({P.READ, P.LIST}), NOW + timedelta(seconds=seconds or 86400), seconds)


def aws(sts: dict[str, str] | None = None) -> AwsIamProvider:
    block = {"region": "eu-central-1", "credentialsSecretRef": {"name": "a"}, "iamEndpoint": "http://127.0.0.1:1"}
    if sts is not None:
        block["sts"] = sts
    return AwsIamProvider(AwsProviderBlock.model_validate(block), AWS_ADMIN, "prod")


def test_aws_assume_role_sends_the_key_policy_as_session_policy_on_the_providers_role() -> None:
    adapter, g = aws({"roleArn": ROLE, "endpoint": "http://127.0.0.1:1"}), grant()
    call = aws_session.assume_role_arguments(adapter.block.sts, g)  # type: ignore[arg-type]
    assert call["RoleArn"] == ROLE and call["RoleSessionName"] == g.key_name and call["DurationSeconds"] == 3600
    assert json.loads(call["Policy"]) == aws_scope.policy_for(g)  # exactly what an IAM user would get
    shown = adapter.describe(g)
    assert shown.native["credentialType"] == "sts" and shown.native["roleArn"] == ROLE
    assert shown.native["sessionPolicy"] == aws_scope.policy_for(g)
    assert "STS session" in shown.summary and "not revocable" in shown.summary
    assert AWS_ADMIN["AWS_SECRET_ACCESS_KEY"] not in json.dumps(shown.native) + shown.summary
    assert adapter.unsupported(g) == []


def test_a_role_named_in_the_request_is_never_used() -> None:
    """The request has no field for a role (an unknown field is dropped by the model): the session is always
    assumed on the provider's role."""
    body = {"metadata": {"namespace": "team-a", "name": "reports", "uid": UID},
            "spec": {"providerRef": {"name": "aws"}, "buckets": [{"name": "team-a.reports"}],
                     "permissions": ["read"], "secretName": "s", "credentialType": "sts",
                     "roleArn": "arn:aws:iam::123456789012:role/admin", "sts": {"roleArn": "x"}}}
    view = parse_request(body)
    life = lifetime(view.spec, "720h", NOW, UID, 1)
    g = grant_for(view, key_name(UID, 1), 1, life.expires_at, session_seconds=life.session_seconds)
    adapter = aws({"roleArn": ROLE})
    assert aws_session.assume_role_arguments(adapter.block.sts, g)["RoleArn"] == ROLE  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "sts", "g", "refusal"),
    [
        ("no role configured", None, grant(), "spec.aws.sts.roleArn"),
        ("longer than the role allows", {"roleArn": ROLE}, grant(7200), "at most 3600s"),
        ("allowed by a longer maxSessionDuration", {"roleArn": ROLE, "maxSessionDuration": "2h"}, grant(7200), None),
        ("session policy over STS's 2048 characters", {"roleArn": ROLE}, grant(buckets=12), "2048"),
    ],
)
def test_aws_refuses_what_it_cannot_do_for_a_session(
    case: str, sts: dict[str, str] | None, g: Grant, refusal: str | None
) -> None:
    found = aws(sts).unsupported(g)
    assert (found == []) if refusal is None else any(refusal in f for f in found), (case, found)


def test_minio_session_preview_and_refusals() -> None:
    adapter = MinioServiceAccountProvider(minio_block(), MINIO_ADMIN, "prod", clock=lambda: NOW)
    g = grant()
    shown = adapter.describe(g)
    assert shown.native["sessionPolicy"] == minio_scope.policy_for(g) and shown.native["credentialType"] == "sts"
    assert shown.native["tokenRevokeType"] == g.key_name and "STS session" in shown.summary
    assert MINIO_ADMIN["MINIO_SECRET_KEY"] not in json.dumps(shown.native) + shown.summary
    assert adapter.unsupported(g) == []
    assert any("2048" in f for f in adapter.unsupported(grant(buckets=12)))
    other_parent = MinioServiceAccountProvider(minio_block(parentUser="app-parent"), MINIO_ADMIN, "prod")
    assert any("parentUser app-parent" in f for f in other_parent.unsupported(g))


# --- the reconciler over an in-memory STS provider -------------------------------------------------------


class MemorySts:
    """Sessions as an STS peer makes them: a fresh key id, secret and token per AssumeRole; none can be ended."""

    kind: ClassVar[str] = "memory-sts"

    def __init__(self, sessions: bool = True) -> None:
        self.capabilities = Capabilities(frozenset(P), True, True, sessions=sessions)
        self.counter = itertools.count(1)
        self.grants: list[Grant] = []
        self.revoked: list[KeyRef] = []

    def connection(self) -> ConnectionInfo:
        return ConnectionInfo("http://127.0.0.1:1", "us-east-1")

    def unsupported(self, grant: Grant) -> list[str]:
        return []

    def check(self) -> None:
        return None

    def issue(self, grant: Grant) -> IssuedKey:
        assert grant.session_seconds is not None and grant.expires_at is not None
        self.grants.append(grant)
        n = next(self.counter)
        return IssuedKey(grant.key_name, f"ASIA{n:04d}", SecretStr(f"secret-{n}"), grant.expires_at, True,
                         session_token=SecretStr(f"token-{n}"))

    def revoke(self, ref: KeyRef) -> Revoked | None:
        self.revoked.append(ref)
        return Revoked(how="expire", detail="sessions end at their own expiry") if ref.session else None

    def list_owned(self) -> list[object]:
        return []


def setup(sessions: bool = True) -> tuple[MemoryCluster, MemorySts, RequestReconciler, Clock]:
    obj = {
        "metadata": {"namespace": "ns", "name": "app", "uid": UID, "generation": 1},
        "spec": {"providerRef": {"name": "p"}, "buckets": [{"name": "data"}], "permissions": ["read"],
                 "ttl": "720h", "rotationGracePeriod": "0s", "secretName": "app-s3", "credentialType": "sts",
                 "secretFormats": ["env", "awsFiles"]},
    }
    cluster, provider, clock = MemoryCluster(obj), MemorySts(sessions), Clock()
    providers = StaticProviders(provider)  # type: ignore[arg-type]
    return cluster, provider, RequestReconciler(cluster, providers, clock), clock


def test_a_session_is_issued_refreshed_before_it_ends_and_the_old_one_left_to_expire() -> None:
    cluster, provider, reconciler, clock = setup()
    reconciler.reconcile(parse_request(cluster.obj))
    status, data = cluster.obj["status"], cluster.secrets["app-s3"].data
    assert status["credentialType"] == "sts" and status["expiryEnforcedBy"] == "Provider"
    assert data["AWS_SESSION_TOKEN"] == "token-1" and "aws_session_token = token-1" in data["credentials"]
    assert provider.grants[0].session_seconds == 3600  # the default session, not the 720h ttl
    issued = datetime.fromisoformat(status["issuedAt"])
    renewal = datetime.fromisoformat(status["renewalTime"])
    assert timedelta(minutes=38) <= renewal - issued <= timedelta(minutes=40)
    assert "token-1" not in json.dumps(status)

    clock.now = renewal - timedelta(seconds=1)
    reconciler.reconcile(parse_request(cluster.obj))
    assert cluster.obj["status"]["revision"] == 1, "refreshed before its renewal time"

    clock.now = renewal
    outcome = reconciler.reconcile(parse_request(cluster.obj))
    status, data = cluster.obj["status"], cluster.secrets["app-s3"].data
    assert status["revision"] == 2 and data["AWS_SESSION_TOKEN"] == "token-2" and status["accessKeyId"] == "ASIA0002"
    assert datetime.fromisoformat(status["expiresAt"]) - clock.now == timedelta(hours=1)
    assert [r.session for r in provider.revoked] == [True]  # the previous session's record said so
    dropped = [e for e in outcome.events if e.reason == "SessionDropped"]
    assert dropped and "left to expire" in dropped[0].message and outcome.revoked == 0
    assert not any(e.reason == "Revoked" for e in outcome.events)


def test_a_provider_without_sessions_refuses_sts_before_any_call() -> None:
    cluster, provider, reconciler, _ = setup(sessions=False)
    reconciler.reconcile(parse_request(cluster.obj))
    ready = next(c for c in cluster.obj["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "Unsupported" and "STS sessions" in ready["message"] and provider.grants == []


def test_preview_says_it_is_an_sts_session_and_shows_the_session_policy() -> None:
    from keyfob.api.common import ObjectKind
    from keyfob.api.provider import ProviderSpec
    from keyfob.lifecycle.ports import ResolvedProvider

    adapter = aws({"roleArn": ROLE})
    body = {"metadata": {"namespace": "team-a", "name": "reports", "uid": UID},
            "spec": {"providerRef": {"name": "aws"}, "buckets": [{"name": "team-a.reports"}],
                     "permissions": ["read"], "secretName": "s", "credentialType": "sts", "ttl": "720h"}}
    spec = ProviderSpec.model_validate({"aws": {"credentialsSecretRef": {"name": "a"}, "sts": {"roleArn": ROLE}}})
    resolved = ResolvedProvider(ObjectKind.ACCESS_KEY_PROVIDER, "team-a", "aws", spec, adapter)
    inputs = Inputs(parse_request(body), NOW, None, resolved)
    assert inexpressible(inputs) is None
    result = preview(inputs)
    assert result.grantable and result.grant is not None
    assert result.grant.native["sessionPolicy"]["Statement"] and result.grant.native["durationSeconds"] == 3600
    text = "\n".join(render_text(inputs, result))
    assert "STS session" in text and "enforced by the provider" in text
    assert result.expires_at == NOW + timedelta(hours=1)


def test_a_new_secret_layout_rerenders_the_same_session_with_its_token() -> None:
    cluster, provider, reconciler, _ = setup()
    reconciler.reconcile(parse_request(cluster.obj))
    cluster.obj["spec"]["secretFormats"] = ["env", "rclone", "s3cmd"]
    cluster.obj["metadata"]["generation"] = 2
    outcome = reconciler.reconcile(parse_request(cluster.obj))
    data = cluster.secrets["app-s3"].data
    assert [e.reason for e in outcome.events] == ["SecretUpdated"] and len(provider.grants) == 1
    assert "session_token = token-1" in data["rclone.conf"] and "access_token = token-1" in data[".s3cfg"]
    assert data["AWS_SESSION_TOKEN"] == "token-1" and "credentials" not in data


def test_a_suspended_session_is_taken_out_of_the_secret() -> None:
    """A session the provider cannot end keeps working until its end: on a suspension (or a guardrail that no
    longer allows it) keyfob drops it from status AND deletes the Secret, so no new reader picks it up."""
    cluster, provider, reconciler, _ = setup()
    reconciler.reconcile(parse_request(cluster.obj))
    assert "app-s3" in cluster.secrets
    cluster.obj["metadata"]["annotations"] = {"keyfob.dev/suspend": "oncall: INC-1"}
    outcome = reconciler.reconcile(parse_request(cluster.obj))
    assert "app-s3" not in cluster.secrets and cluster.obj["status"].get("accessKeyId") is None
    assert any(e.reason == "SessionDropped" for e in outcome.events)
    assert [r.session for r in provider.revoked] == [True]
