"""ProviderHarness for Ceph RGW, backed by a real single-node Ceph (keyfob_testbed.ceph_peer)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from keyfob.providers.ceph.naming import USER_PREFIX

from .ceph_peer import CephPeer
from .harnesses import orphan_via_adapter
from .s3_checks import code_of


class CephHarness:
    name = "ceph"

    def __init__(self, peer: CephPeer) -> None:
        self.peer = peer
        self.bucket = f"suite-{secrets.token_hex(4)}"
        peer.owner_client().create_bucket(Bucket=self.bucket)

    def admin_secret_data(self) -> dict[str, str]:
        return self.peer.admin_secret_data()

    def provider_spec(self, admin_secret: str) -> dict[str, Any]:
        return {"ceph": {"endpoint": self.peer.endpoint, "credentialsSecretRef": {"name": admin_secret}}}

    def request_spec(self, secret_name: str) -> dict[str, Any]:
        # read + list: 'write' needs the provider's allowObjectAclsOnWrite opt-in (see docs/providers/ceph.md).
        return {"buckets": [{"name": self.bucket}], "permissions": ["read", "list"], "ttl": "1h",
                "secretName": secret_name}  # fmt: skip

    def key_works(self, secret_data: Mapping[str, str]) -> bool:
        client = self.peer.client(secret_data["AWS_ACCESS_KEY_ID"], secret_data["AWS_SECRET_ACCESS_KEY"])
        return code_of(lambda: client.list_objects_v2(Bucket=self.bucket)) == "OK"

    def live_key_ids(self) -> set[str]:
        ops = self.peer.admin_ops()
        users = ops.request("get", "/admin/user?list&format=json&max-entries=10000").get("keys") or []
        keys: set[str] = set()
        for uid in users:
            if uid.startswith(USER_PREFIX):
                keys |= {k["access_key"] for k in ops.get_user(uid=uid).get("keys") or []}
        return keys

    def make_orphan(self, cluster_id: str) -> str:
        return orphan_via_adapter(self, cluster_id)
