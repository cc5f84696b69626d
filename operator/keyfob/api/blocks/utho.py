"""The `utho` provider block: Utho Object Storage access keys with per-bucket permissions.

Admin credentials: the referenced Secret holds UTHO_API_KEY (a Utho API key, sent as a Bearer token).
Utho's API has no documented call to delete an access key: keyfob revokes by disabling it (see
docs/providers/utho.md), so revoked keys stay listed, disabled, in the Utho account.
"""

from __future__ import annotations

from pydantic import Field

from keyfob.api.common import CamelModel, SecretKeySelector
from keyfob.api.vocabulary import REGION_PATTERN, URL_PATTERN

TOKEN_KEY = "UTHO_API_KEY"
DEFAULT_API_URL = "https://api.utho.com/v2/"


class UthoProviderBlock(CamelModel):
    """Utho Object Storage in one data centre: one named access key per issued key, granted per bucket."""

    api_url: str = Field(
        default=DEFAULT_API_URL, description="Utho API base URL.", pattern=URL_PATTERN, max_length=2048
    )
    dc_slug: str = Field(
        description="Data centre slug the buckets live in, e.g. innoida.", pattern=r"^[a-z0-9][a-z0-9-]{0,62}$"
    )
    credentials_secret_ref: SecretKeySelector = Field(
        description=f"Secret with {TOKEN_KEY}: a Utho API key allowed to manage object storage."
    )
    s3_endpoint: str = Field(
        description="S3 endpoint URL of the data centre, written to Secrets for consumers.",
        pattern=URL_PATTERN,
        max_length=2048,
    )
    region: str | None = Field(
        pattern=REGION_PATTERN,
        default=None,
        description="Region written to Secrets for S3 clients that insist on one.",
        max_length=64,
    )
