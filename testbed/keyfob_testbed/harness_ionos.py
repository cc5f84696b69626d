"""ProviderHarnesses for IONOS, backed by the loopback IonosFake (keyfob_testbed.ionos_fake): unscoped keys of the
token's user (IonosHarness) and scoped mode, a dedicated user per key (ScopedIonosHarness)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from keyfob.api.blocks.ionos import S3_ACCESS_KEY_KEY, S3_SECRET_KEY_KEY, TOKEN_KEY
from keyfob.contract import BucketGrant, Grant, RequestIdentity
from keyfob.contract.naming import key_name
from keyfob.providers.ionos.naming import TAG, description_for
from keyfob_testbed.fake_s3 import probe
from keyfob_testbed.harnesses import orphan_via_adapter
from keyfob_testbed.ionos_fake import IonosFake

REGION = "eu-central-3"


class IonosHarness:
    name = "ionos"

    def __init__(self, fake: IonosFake, bucket: str = "bucket-a") -> None:
        self.fake = fake
        self.bucket = bucket

    def admin_secret_data(self) -> dict[str, str]:
        return {TOKEN_KEY: self.fake.token}

    def provider_spec(self, admin_secret: str) -> dict[str, Any]:
        return {
            "ionos": {
                "apiUrl": self.fake.url,
                "credentialsSecretRef": {"name": admin_secret},
                "s3Endpoint": self.fake.s3_url,
                "region": REGION,
                "allowUnscopedKeys": True,  # IONOS keys are never scoped: without this every request is refused
                "provisioningTimeout": "60s",
            },
            "guardrails": {"allowedBuckets": [self.bucket]},
        }

    def request_spec(self, secret_name: str) -> dict[str, Any]:
        return {
            "buckets": [{"name": self.bucket}],
            "permissions": ["read", "list"],
            "ttl": "1h",
            "secretName": secret_name,
        }

    def key_works(self, secret_data: Mapping[str, str]) -> bool:
        status = probe(
            secret_data["AWS_ENDPOINT_URL"],
            secret_data["BUCKET_NAME"],
            secret_data["AWS_ACCESS_KEY_ID"],
            secret_data["AWS_SECRET_ACCESS_KEY"],
        )
        return status == 200

    def live_key_ids(self) -> set[str]:
        return {
            key.access_key
            for key in self.fake.stored_keys()
            if key.description.startswith(TAG + " ") and key.status != "DESTROYING"
        }

    def make_orphan(self, cluster_id: str) -> str:
        uid = str(uuid.uuid4())
        grant = Grant(
            key_name=key_name(uid, 1),
            request=RequestIdentity("gone", "gone", uid),
            revision=1,
            buckets=(BucketGrant(self.bucket),),
            permissions=frozenset(),
            expires_at=None,
        )
        return self.fake.add_key(description_for(cluster_id, grant)).access_key


EMAIL_DOMAIN = "keyfob.test"


class ScopedIonosHarness:
    """IONOS in scoped mode (spec.ionos.scopedUsers): a dedicated Cloud API user per key, granted `bucket` by a
    statement in its bucket policy; the fake's S3 stand-in enforces that policy."""

    name = "ionos"

    def __init__(self, fake: IonosFake, bucket: str = "bucket-a") -> None:
        self.fake = fake
        self.bucket = bucket

    def admin_secret_data(self) -> dict[str, str]:
        return {TOKEN_KEY: self.fake.token, S3_ACCESS_KEY_KEY: self.fake.cloud.admin_access_key,
                S3_SECRET_KEY_KEY: self.fake.cloud.admin_secret_key}  # fmt: skip

    def provider_spec(self, admin_secret: str) -> dict[str, Any]:
        return {
            "ionos": {
                "apiUrl": self.fake.url,
                "credentialsSecretRef": {"name": admin_secret},
                "s3Endpoint": self.fake.s3_url,
                "region": REGION,
                "provisioningTimeout": "60s",
                "scopedUsers": {
                    "enabled": True,
                    "cloudApiUrl": self.fake.cloud_api_url,
                    "contractNumber": self.fake.cloud.contract_number,
                    "groupId": self.fake.cloud.s3_group.id,
                    "emailDomain": EMAIL_DOMAIN,
                },
            },
            "guardrails": {"allowedBuckets": [self.bucket]},
        }

    def request_spec(self, secret_name: str) -> dict[str, Any]:
        return {
            "buckets": [{"name": self.bucket}],
            "permissions": ["read", "list"],
            "ttl": "1h",
            "secretName": secret_name,
        }

    def can(self, secret_data: Mapping[str, str], bucket: str, need: str) -> bool:
        """Whether the Secret's key may do `need` (read, write, list, delete) on `bucket` at the S3 stand-in."""
        status = probe(secret_data["AWS_ENDPOINT_URL"], bucket, secret_data["AWS_ACCESS_KEY_ID"],
                       secret_data["AWS_SECRET_ACCESS_KEY"], need)  # fmt: skip
        return status == 200

    def key_works(self, secret_data: Mapping[str, str]) -> bool:
        return self.can(secret_data, secret_data["BUCKET_NAME"], "read")

    def keyfob_users(self) -> list[Any]:
        return [u for u in self.fake.cloud.users.values() if u.email.endswith("@" + EMAIL_DOMAIN)]

    def live_key_ids(self) -> set[str]:
        return {access for user in self.keyfob_users() for access in user.keys}

    def make_orphan(self, cluster_id: str) -> str:
        return orphan_via_adapter(self, cluster_id)
