"""ProviderHarness implementations for the peers that run here: moto (AWS IAM), a real MinIO, and the Storj
contract fakes (auth service + console). See harness.py for the interface."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from keyfob.api.provider import ProviderSpec
from keyfob.api.vocabulary import Permission
from keyfob.contract import BucketGrant, Grant, RequestIdentity
from keyfob.contract.naming import KEY_NAME_PREFIX, key_name
from keyfob.providers.registry import factory_for

from .harness import ProviderHarness
from .minio_peer import MinioPeer
from .moto_peer import MotoPeer
from .s3_checks import code_of, s3_from
from .storj_fakes import FakeAuthService, FakeConsole, SatelliteKeys


def _bucket() -> str:
    return f"suite-{secrets.token_hex(4)}"


def orphan_via_adapter(harness: ProviderHarness, cluster_id: str) -> str:
    """Issue, with keyfob's own adapter but no request, a key under keyfob's naming convention."""
    spec = ProviderSpec.model_validate(harness.provider_spec("admin"))
    block = getattr(spec, spec.block_name())
    adapter = factory_for(spec.block_name())(block, harness.admin_secret_data(), cluster_id)
    uid = str(uuid.uuid4())
    request = harness.request_spec("x")
    grant = Grant(key_name(uid, 1), RequestIdentity("gone", "gone", uid), 1,
                  tuple(BucketGrant(b["name"]) for b in request["buckets"]),
                  frozenset(Permission(p) for p in request["permissions"]), datetime.now(UTC) + timedelta(hours=1))
    return adapter.issue(grant).access_key_id


@dataclass
class AwsHarness:
    moto: MotoPeer
    name: str = "aws"
    bucket: str = field(default_factory=_bucket)

    def __post_init__(self) -> None:
        self.moto.client("s3").create_bucket(Bucket=self.bucket)

    def admin_secret_data(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.moto.admin_access_key, "AWS_SECRET_ACCESS_KEY": self.moto.admin_secret_key}

    def provider_spec(self, admin_secret: str) -> dict[str, Any]:
        return {"aws": {"iamEndpoint": self.moto.endpoint, "s3Endpoint": self.moto.endpoint,
                        "credentialsSecretRef": {"name": admin_secret}}}

    def request_spec(self, secret_name: str) -> dict[str, Any]:
        return {"buckets": [{"name": self.bucket}], "permissions": ["read", "write", "list"], "ttl": "1h",
                "secretName": secret_name}

    def key_works(self, secret_data: Mapping[str, str]) -> bool:
        return code_of(lambda: s3_from(secret_data).list_objects_v2(Bucket=self.bucket)) == "OK"

    def live_key_ids(self) -> set[str]:
        iam = self.moto.client("iam")
        users = [u for page in iam.get_paginator("list_users").paginate(PathPrefix="/keyfob/") for u in page["Users"]]
        return {k["AccessKeyId"] for u in users if u["UserName"].startswith(KEY_NAME_PREFIX)
                for k in iam.list_access_keys(UserName=u["UserName"])["AccessKeyMetadata"]}

    def make_orphan(self, cluster_id: str) -> str:
        return orphan_via_adapter(self, cluster_id)


@dataclass
class MinioHarness:
    minio: MinioPeer
    name: str = "minio"
    bucket: str = field(default_factory=_bucket)

    def __post_init__(self) -> None:
        self.minio.client(self.minio.root_user, self.minio.root_password).create_bucket(Bucket=self.bucket)

    def admin_secret_data(self) -> dict[str, str]:
        return {"MINIO_ACCESS_KEY": self.minio.root_user, "MINIO_SECRET_KEY": self.minio.root_password}

    def provider_spec(self, admin_secret: str) -> dict[str, Any]:
        return {"minio": {"endpoint": self.minio.endpoint, "credentialsSecretRef": {"name": admin_secret}}}

    def request_spec(self, secret_name: str) -> dict[str, Any]:
        return {"buckets": [{"name": self.bucket}], "permissions": ["read", "write", "list"], "ttl": "1h",
                "secretName": secret_name}

    def key_works(self, secret_data: Mapping[str, str]) -> bool:
        client = self.minio.client(secret_data["AWS_ACCESS_KEY_ID"], secret_data["AWS_SECRET_ACCESS_KEY"])
        return code_of(lambda: client.list_objects_v2(Bucket=self.bucket)) == "OK"

    def live_key_ids(self) -> set[str]:
        listed = self.minio.admin().list_service_account(self.minio.root_user)
        accounts = json.loads(listed).get("accounts") or []
        return {a["accessKey"] for a in accounts if a.get("accessKey", "").startswith("KF")}

    def make_orphan(self, cluster_id: str) -> str:
        return orphan_via_adapter(self, cluster_id)


@dataclass
class StorjHarness:
    keys: SatelliteKeys
    auth: FakeAuthService
    console: FakeConsole
    parent_grant: str
    name: str = "storj"
    bucket: str = field(default_factory=_bucket)

    def admin_secret_data(self) -> dict[str, str]:
        return {"accessGrant": self.parent_grant, "consoleRestKey": self.console.rest_key}

    def provider_spec(self, admin_secret: str) -> dict[str, Any]:
        return {"storj": {"authServiceUrl": self.auth.url, "credentialsSecretRef": {"name": admin_secret},
                          "console": {"url": self.console.url, "projectId": self.console.project_id}}}

    def request_spec(self, secret_name: str) -> dict[str, Any]:
        return {"buckets": [{"name": self.bucket}], "permissions": ["read", "write", "list"], "ttl": "1h",
                "secretName": secret_name}

    def key_works(self, secret_data: Mapping[str, str]) -> bool:
        from keyfob.providers.storj.caveat import ActionType

        return self.auth.allows(secret_data["AWS_ACCESS_KEY_ID"], secret_data["AWS_SECRET_ACCESS_KEY"],
                                ActionType.LIST, self.bucket)

    def live_key_ids(self) -> set[str]:
        return {access for access, reg in self.auth.registrations.items()
                if self.keys.get(reg.grant.api_key.head) is not None}

    def make_orphan(self, cluster_id: str) -> str:
        return orphan_via_adapter(self, cluster_id)
