"""Pure parts of the MinIO adapter: ids, names, descriptions, the expiry window, errors, the block model."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from minio.error import MinioAdminException
from pydantic import ValidationError

from keyfob.api.blocks.minio import MinioProviderBlock
from keyfob.api.provider import PROVIDER_BLOCKS, ProviderSpec
from keyfob.api.vocabulary import Permission
from keyfob.contract import (
    BucketGrant,
    Grant,
    ProviderRejected,
    ProviderThrottled,
    ProviderUnavailable,
    RequestIdentity,
)
from keyfob.contract.naming import check_cluster_id, key_name
from keyfob.providers.minio.adapter import MinioServiceAccountProvider
from keyfob.providers.minio.admin import AccessKeyTaken, AccountInfo, AccountSpec, ServiceAccountGone, translated
from keyfob.providers.minio.naming import (
    access_key_for,
    description_for,
    display_name,
    expiration_for,
    new_secret_key,
    parse_description,
    rfc3339,
)
from keyfob.providers.registry import factory_for

UID = "0f8e4c1a-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
ADMIN = {"MINIO_ACCESS_KEY": "admin", "MINIO_SECRET_KEY": "admin-secret-value"}


def grant(revision: int = 1, *, name: str = "reports", expires_at: datetime | None = None, buckets: int = 1) -> Grant:
    return Grant(
        key_name=key_name(UID, revision),
        request=RequestIdentity(namespace="team-a", name=name, uid=UID),
        revision=revision,
        buckets=tuple(BucketGrant(f"bucket-{i:03d}", "logs/") for i in range(buckets)),
        permissions=frozenset({Permission.READ, Permission.LIST}),
        expires_at=expires_at if expires_at is not None else NOW + timedelta(hours=24),
    )


def block(**extra: object) -> MinioProviderBlock:
    return MinioProviderBlock.model_validate(
        {"endpoint": "127.0.0.1:9000", "secure": False, "credentialsSecretRef": {"name": "minio-admin"}, **extra}
    )


# --- naming -------------------------------------------------------------------------------------------------


def test_access_key_is_deterministic_20_chars_and_differs_per_cluster_and_revision() -> None:
    first = access_key_for("prod", key_name(UID, 1))
    assert first == access_key_for("prod", key_name(UID, 1))
    assert re.fullmatch(r"KF[A-Z2-7]{18}", first)
    assert first != access_key_for("staging", key_name(UID, 1))
    assert first != access_key_for("prod", key_name(UID, 2))


def test_display_name_fits_minio_rules() -> None:
    for revision in (1, 42, 9_999_999):
        name = display_name(grant(revision))
        assert len(name) <= 32
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", name)
        assert name.endswith(f"-r{revision}")


def test_description_round_trips_and_names_request() -> None:
    text = description_for("prod", grant(3))
    assert text == f"keyfob/v1 cluster=prod key=kf-{UID}-r3 request=team-a/reports"
    parsed = parse_description(text)
    assert parsed is not None
    assert (parsed.cluster_id, parsed.key_name, parsed.request, parsed.request_uid) == (
        "prod",
        key_name(UID, 3),
        "team-a/reports",
        UID,
    )


def test_description_cuts_only_the_request_name_to_256_bytes() -> None:
    text = description_for("prod", grant(name="n" * 253))
    assert len(text.encode()) == 256
    parsed = parse_description(text)
    assert parsed is not None and parsed.key_name == key_name(UID, 1) and parsed.cluster_id == "prod"


@pytest.mark.parametrize("text", [None, "", "made by hand", "keyfob/v1 cluster=prod", "keyfob/v2 cluster=a key=b"])
def test_foreign_descriptions_are_not_ours(text: str | None) -> None:
    assert parse_description(text) is None


@pytest.mark.parametrize("bad", ["", "has space", "a/b", "x" * 64, "tab\there"])
def test_cluster_id_must_be_description_safe(bad: str) -> None:
    with pytest.raises(ProviderRejected, match="cluster id"):
        check_cluster_id(bad)


def test_generated_secrets_are_40_chars_and_fresh() -> None:
    first, second = new_secret_key(), new_secret_key()
    assert len(first) == 40 and first.isalnum() and first != second


# --- expiry window --------------------------------------------------------------------------------------------


def test_expiration_is_truncated_to_the_second_never_later() -> None:
    asked = NOW + timedelta(hours=2, microseconds=999_999)
    got = expiration_for(asked, NOW)
    assert got == NOW + timedelta(hours=2)
    assert got is not None and got <= asked
    assert rfc3339(got) == "2026-03-01T14:00:00Z"


def test_no_expiry_is_passed_through() -> None:
    assert expiration_for(None, NOW) is None


@pytest.mark.parametrize("lifetime", [timedelta(minutes=5), timedelta(minutes=15), timedelta(days=366)])
def test_lifetimes_outside_minio_window_are_refused_naming_the_window(lifetime: timedelta) -> None:
    with pytest.raises(ProviderRejected, match="between 15m and 365d"):
        expiration_for(NOW + lifetime, NOW)


@pytest.mark.parametrize("lifetime", [timedelta(minutes=17), timedelta(days=30), timedelta(days=364)])
def test_lifetimes_inside_the_window_pass(lifetime: timedelta) -> None:
    assert expiration_for(NOW + lifetime, NOW) == NOW + lifetime


def test_naive_expiry_is_refused() -> None:
    with pytest.raises(ProviderRejected, match="time zone"):
        expiration_for(datetime(2030, 1, 1), NOW)


def test_unsupported_reports_only_an_out_of_window_lifetime() -> None:
    provider = MinioServiceAccountProvider(block(), ADMIN, "prod", clock=lambda: NOW)
    assert provider.unsupported(grant()) == []
    problems = provider.unsupported(grant(expires_at=NOW + timedelta(minutes=10)))
    assert len(problems) == 1 and "15m and 365d" in problems[0]


def test_issue_refuses_out_of_window_and_oversized_policies_before_any_call() -> None:
    provider = MinioServiceAccountProvider(block(), ADMIN, "prod", clock=lambda: NOW)
    with pytest.raises(ProviderRejected, match="365d"):
        provider.issue(grant(expires_at=NOW + timedelta(days=400)))
    with pytest.raises(ProviderRejected, match="4096"):
        provider.issue(grant(buckets=32))


# --- error mapping ---------------------------------------------------------------------------------------------


def _admin_error(status: int, code: str, message: str = "m") -> MinioAdminException:
    return MinioAdminException(str(status), json.dumps({"Code": code, "Message": message}))


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (404, "XMinioInvalidIAMCredentials", ServiceAccountGone),
        (400, "XMinioIAMServiceAccountNotAllowed", AccessKeyTaken),
        (429, "SlowDown", ProviderThrottled),
        (503, "XMinioServerNotInitialized", ProviderUnavailable),
        (500, "InternalError", ProviderUnavailable),
        (403, "AccessDenied", ProviderRejected),
        (400, "XMinioMalformedIAMPolicy", ProviderRejected),
        (400, "XMinioIAMServiceAccountSessionPolicyTooLarge", ProviderRejected),
    ],
)
def test_admin_errors_map_to_the_taxonomy(status: int, code: str, expected: type[Exception]) -> None:
    with pytest.raises(expected) as caught, translated("add-service-account"):
        raise _admin_error(status, code)
    assert code in str(caught.value) and str(status) in str(caught.value)
    if expected is ProviderRejected:
        assert not isinstance(caught.value, ProviderUnavailable)


def test_out_of_window_expiration_is_permanent_although_minio_sends_500() -> None:
    message = "We encountered an internal error, please try again. (invalid service account expiration)"
    with pytest.raises(ProviderRejected, match=r"15m\.\.365d") as caught, translated("add-service-account"):
        raise _admin_error(500, "InternalError", message)
    assert not isinstance(caught.value, ProviderUnavailable)


def test_connection_errors_are_unavailable() -> None:
    with pytest.raises(ProviderUnavailable, match="ConnectionRefusedError"), translated("list-service-accounts"):
        raise ConnectionRefusedError(111, "refused")


def test_secrets_stay_out_of_reprs() -> None:
    spec = AccountSpec(secret_key="s3cr3t-value", name="n", description="d", policy={}, expiration=None)
    assert "s3cr3t-value" not in repr(spec)
    provider = MinioServiceAccountProvider(block(), ADMIN, "prod", clock=lambda: NOW)
    assert "admin-secret-value" not in repr(provider) and "admin-secret-value" not in repr(provider.admin)


def test_account_info_reads_minio_json_and_no_expiry_sentinels() -> None:
    info = AccountInfo.from_json(
        {
            "parentUser": "admin",
            "accountStatus": "on",
            "name": "kf-x-r1",
            "description": "keyfob/v1 cluster=prod key=k request=a/b",
            "expiration": "2026-03-02T12:00:00Z",
            "policy": json.dumps({"Version": "2012-10-17", "Statement": []}),
        },
        "KFAAAA",
    )
    assert info.access_key == "KFAAAA" and info.expiration == NOW + timedelta(days=1)
    assert info.policy == {"Version": "2012-10-17", "Statement": []}
    assert AccountInfo.from_json({"expiration": "1970-01-01T00:00:00Z"}).expiration is None


# --- block model and wiring --------------------------------------------------------------------------------------


def test_block_endpoint_forms() -> None:
    plain = block()
    assert (plain.use_tls(), plain.host_port(), plain.consumer_endpoint()) == (
        False,
        "127.0.0.1:9000",
        "http://127.0.0.1:9000",
    )
    url = MinioProviderBlock.model_validate(
        {"endpoint": "https://minio.example.com:9000/", "credentialsSecretRef": {"name": "a"}}
    )
    assert (url.use_tls(), url.host_port(), url.consumer_endpoint()) == (
        True,
        "minio.example.com:9000",
        "https://minio.example.com:9000",
    )
    bare = MinioProviderBlock.model_validate({"endpoint": "minio:9000", "credentialsSecretRef": {"name": "a"}})
    assert bare.use_tls() and bare.region == "us-east-1" and not bare.tls.insecure_skip_verify
    assert block(s3Endpoint="https://s3.example.com").consumer_endpoint() == "https://s3.example.com"


@pytest.mark.parametrize(
    "spec",
    [
        {"endpoint": "https://m:9000", "secure": False},
        {"endpoint": "http://m:9000", "secure": True},
        {"endpoint": "m:9000/path"},
        {"endpoint": "m:9000", "tls": {"caBundleKey": "ca.crt", "insecureSkipVerify": True}},
    ],
)
def test_block_rejects_contradictions(spec: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        MinioProviderBlock.model_validate({"credentialsSecretRef": {"name": "a"}, **spec})


def test_minio_is_a_provider_block_with_a_registered_adapter() -> None:
    assert "minio" in PROVIDER_BLOCKS
    spec = ProviderSpec.model_validate({"minio": {"endpoint": "m:9000", "credentialsSecretRef": {"name": "a"}}})
    assert spec.block_name() == "minio"
    provider = factory_for("minio")(spec.minio, ADMIN, "prod")
    assert isinstance(provider, MinioServiceAccountProvider)
    assert provider.connection().endpoint == "https://m:9000" and provider.capabilities.native_expiry


def test_missing_admin_keys_and_ca_bundle_are_rejected_clearly() -> None:
    with pytest.raises(ProviderRejected, match="MINIO_SECRET_KEY"):
        MinioServiceAccountProvider(block(), {"MINIO_ACCESS_KEY": "a"}, "prod")
    with pytest.raises(ProviderRejected, match=r"ca\.crt"):
        MinioServiceAccountProvider(block(tls={"caBundleKey": "ca.crt"}), ADMIN, "prod")
