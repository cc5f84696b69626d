"""The `minio` provider block: a MinIO server, one service account (access key) per issued key.

Admin credentials: the referenced Secret holds MINIO_ACCESS_KEY and MINIO_SECRET_KEY (an identity allowed the
admin:CreateServiceAccount, UpdateServiceAccount, RemoveServiceAccount and ListServiceAccounts actions; the root
user works). A private CA for the admin endpoint lives in the same Secret under `tls.caBundleKey`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, model_validator

from keyfob.api.common import CamelModel, SecretKeySelector
from keyfob.api.vocabulary import REGION_PATTERN, URL_PATTERN

# host:port or http(s)://host[:port][/]; hosts are DNS names, IPv4 or bracketed IPv6.
ENDPOINT_PATTERN = r"^(https?://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]{1,5})?/?$"
ACCESS_KEY_KEY = "MINIO_ACCESS_KEY"
SECRET_KEY_KEY = "MINIO_SECRET_KEY"


class MinioTls(CamelModel):
    """How keyfob verifies the MinIO admin endpoint's TLS certificate."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!(has(self.caBundleKey) && self.insecureSkipVerify)",
                    "message": "caBundleKey and insecureSkipVerify exclude each other",
                }
            ]
        }
    )

    ca_bundle_key: str | None = Field(
        default=None,
        description="Key in the credentials Secret holding a PEM CA bundle to trust. Omit for the system CAs.",
        pattern=r"^[-._A-Za-z0-9]+$",
        max_length=253,
    )
    insecure_skip_verify: bool = Field(
        default=False, description="Do not verify the server certificate. For tests only: the admin secret is exposed."
    )

    @model_validator(mode="after")
    def _exclusive(self) -> MinioTls:
        if self.ca_bundle_key and self.insecure_skip_verify:
            raise ValueError("caBundleKey and insecureSkipVerify exclude each other")
        return self


class MinioProviderBlock(CamelModel):
    """A MinIO server: one service account per issued key, with an inline policy and native expiry."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.secure) || !(self.endpoint.startsWith('http://') && self.secure)"
                    " && !(self.endpoint.startsWith('https://') && !self.secure)",
                    "message": "secure contradicts the endpoint's URL scheme",
                }
            ]
        }
    )

    endpoint: str = Field(
        description="MinIO API endpoint: host:port (TLS unless secure is false) or an http(s):// URL.",
        pattern=ENDPOINT_PATTERN,
        max_length=2048,
    )
    secure: bool | None = Field(
        default=None, description="Use TLS. Defaults to the URL's scheme, or true for a bare host:port."
    )
    tls: MinioTls = Field(default_factory=MinioTls, description="Certificate verification for the admin endpoint.")
    credentials_secret_ref: SecretKeySelector = Field(
        description=f"Secret with {ACCESS_KEY_KEY} and {SECRET_KEY_KEY} of a MinIO admin identity."
    )
    parent_user: str | None = Field(
        default=None,
        description=(
            "MinIO user that owns the issued service accounts (their rights are capped by this user's policies). "
            "Defaults to the admin identity itself."
        ),
        min_length=3,
        max_length=128,
        pattern=r"^[^\s,=]+$",
    )
    region: str = Field(
        default="us-east-1", description="Region written to the Secret and used for signing.",
        pattern=REGION_PATTERN, max_length=64,
    )
    s3_endpoint: str | None = Field(
        default=None,
        description="S3 endpoint URL written to the Secret for consumers. Defaults to the admin endpoint.",
        pattern=URL_PATTERN,
        max_length=2048,
    )

    @model_validator(mode="after")
    def _scheme_agrees(self) -> MinioProviderBlock:
        scheme = self._scheme()
        if self.secure is not None and scheme is not None and self.secure != (scheme == "https"):
            raise ValueError("secure contradicts the endpoint's URL scheme")
        return self

    def _scheme(self) -> str | None:
        return urlsplit(self.endpoint).scheme if "://" in self.endpoint else None

    def use_tls(self) -> bool:
        if self.secure is not None:
            return self.secure
        return self._scheme() != "http"

    def host_port(self) -> str:
        """'host[:port]' as minio-py's MinioAdmin wants it."""
        return urlsplit(self.endpoint).netloc if "://" in self.endpoint else self.endpoint.rstrip("/")

    def consumer_endpoint(self) -> str:
        """The S3 URL written to Secrets."""
        if self.s3_endpoint:
            return self.s3_endpoint
        return f"{'https' if self.use_tls() else 'http'}://{self.host_port()}"
