"""The `ceph` provider block: a Ceph RADOS Gateway, one RGW user (with one S3 key and a user policy) per key.

Admin credentials: the referenced Secret holds `accessKey` and `secretKey` (the keys of Rook's
`rgw-admin-ops-user` Secret) of an RGW user with the `users=*` and `user-policy=*` caps, e.g.
`radosgw-admin user create --uid=keyfob-admin --display-name=keyfob --caps="users=*;user-policy=*"`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field

from keyfob.api.common import CamelModel, SecretKeySelector
from keyfob.api.vocabulary import REGION_PATTERN, URL_PATTERN

ACCESS_KEY_KEY = "accessKey"
SECRET_KEY_KEY = "secretKey"
# http(s)://host[:port][/]: hosts are DNS names, IPv4 or bracketed IPv6.
ENDPOINT_PATTERN = r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]{1,5})?/?$"


class CephProviderBlock(CamelModel):
    """A Ceph RGW: one RGW user per issued key, its key made through the Admin Ops API, its scope an IAM-style
    user policy set through RGW's IAM endpoint. RGW keys do not expire: keyfob revokes at expiry (and the
    policy carries an aws:CurrentTime condition)."""

    endpoint: str = Field(
        description="RGW endpoint (S3, Admin Ops and IAM are served on it): http(s)://host[:port].",
        pattern=ENDPOINT_PATTERN,
        max_length=2048,
    )
    credentials_secret_ref: SecretKeySelector = Field(
        description=(
            f"Secret with {ACCESS_KEY_KEY} and {SECRET_KEY_KEY} of an RGW user holding the 'users=*' and "
            "'user-policy=*' caps (Rook's rgw-admin-ops-user Secret has these keys)."
        )
    )
    tenant: str | None = Field(
        default=None,
        description="RGW tenant the issued users are created in. Omit for the default (empty) tenant.",
        pattern=r"^[A-Za-z0-9_-]+$",
        max_length=64,
    )
    region: str = Field(
        pattern=REGION_PATTERN, default="us-east-1", description="Region written to the Secret and used for signing."
    )
    s3_endpoint: str | None = Field(
        default=None,
        description="S3 endpoint URL written to the Secret for consumers. Defaults to endpoint.",
        pattern=URL_PATTERN,
        max_length=2048,
    )
    insecure_skip_verify: bool = Field(
        default=False, description="Do not verify the gateway's TLS certificate. For tests only."
    )
    allow_object_acls_on_write: bool = Field(
        default=False,
        description=(
            "Serve the 'write' permission although RGW cannot stop a key that may write from setting ACLs on "
            "the objects it uploads (x-amz-grant-* headers, multipart and copy with a canned ACL), i.e. from "
            "making them readable by others or the public. Without it, requests for 'write' are refused; with "
            "it, the Ready condition, an event and the Secret carry that warning."
        ),
    )

    def base_url(self) -> str:
        return self.endpoint.rstrip("/")

    def host_port(self) -> str:
        return urlsplit(self.endpoint).netloc

    def secure(self) -> bool:
        return urlsplit(self.endpoint).scheme == "https"

    def consumer_endpoint(self) -> str:
        return self.s3_endpoint or self.base_url()
