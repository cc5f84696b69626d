"""ProviderHarness for IONOS, backed by the loopback IonosFake (keyfob_testbed.ionos_fake)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from keyfob.api.blocks.ionos import TOKEN_KEY
from keyfob.contract import BucketGrant, Grant, RequestIdentity
from keyfob.contract.naming import key_name
from keyfob.providers.ionos.naming import TAG, description_for
from keyfob_testbed.fake_s3 import probe
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
