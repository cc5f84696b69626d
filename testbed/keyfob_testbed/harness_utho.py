"""ProviderHarness for Utho, backed by the loopback UthoFake (keyfob_testbed.utho_fake).

Utho revokes by disabling (there is no delete): "live" here means listed and Active.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from keyfob.api.blocks.utho import TOKEN_KEY
from keyfob.contract.naming import key_name
from keyfob.providers.utho.naming import name_for
from keyfob_testbed.fake_s3 import probe
from keyfob_testbed.utho_fake import ACTIVE, UthoFake

_KEYFOB_NAME = re.compile(r"^kf-[a-z2-7]{26}-[a-z2-7]{4}-r[0-9]+-[0-9]+$")


class UthoHarness:
    name = "utho"

    def __init__(self, fake: UthoFake, bucket: str = "bucket-a") -> None:
        self.fake = fake
        self.bucket = bucket

    def admin_secret_data(self) -> dict[str, str]:
        return {TOKEN_KEY: self.fake.token}

    def provider_spec(self, admin_secret: str) -> dict[str, Any]:
        return {
            "utho": {
                "apiUrl": self.fake.url,
                "dcSlug": self.fake.dc,
                "credentialsSecretRef": {"name": admin_secret},
                "s3Endpoint": self.fake.s3_url,
            },
            "guardrails": {"allowedBuckets": [self.bucket]},
        }

    def request_spec(self, secret_name: str) -> dict[str, Any]:
        return {
            "buckets": [{"name": self.bucket}],
            "permissions": ["read", "list"],  # exactly Utho's "read"
            "ttl": "1h",
            "secretName": secret_name,
        }

    def key_works(self, secret_data: Mapping[str, str]) -> bool:
        status = probe(
            secret_data["AWS_ENDPOINT_URL"],
            secret_data["BUCKET_NAME"],
            secret_data["AWS_ACCESS_KEY_ID"],
            secret_data["AWS_SECRET_ACCESS_KEY"],
            need="read",
        )
        return status == 200

    def live_key_ids(self) -> set[str]:
        keys = self.fake.stored_keys()
        return {key.access_key for key in keys if _KEYFOB_NAME.fullmatch(key.name) and key.status == ACTIVE}

    def make_orphan(self, cluster_id: str) -> str:
        name = name_for(cluster_id, key_name(str(uuid.uuid4()), 1), 1)
        return self.fake.add_key(name, grants={self.bucket: "read"}).access_key
