"""The `ionos` provider block: IONOS Object Storage access keys via the Object Storage Management API.

IONOS access keys carry no scope and no expiry: every key acts with all the rights of the IONOS user that owns
the API token. keyfob therefore refuses every request unless `allowUnscopedKeys` is true, and enforces expiry
itself (revoke at expiry). IONOS allows five access keys per user, and rotation needs one free slot.
A token of an administrator or the contract owner makes administrative keys (they can create buckets and set
bucket policies): keyfob refuses and deletes those unless `allowAdministrativeKeys` is true.
Admin credentials: the referenced Secret holds IONOS_TOKEN (an API token of the user whose keys keyfob manages).
"""

from __future__ import annotations

from pydantic import Field

from keyfob.api.common import CamelModel, SecretKeySelector
from keyfob.api.request import Duration
from keyfob.api.vocabulary import REGION_PATTERN, URL_PATTERN

TOKEN_KEY = "IONOS_TOKEN"
DEFAULT_API_URL = "https://s3.ionos.com"


class IonosProviderBlock(CamelModel):
    """IONOS Object Storage: one access key of the token's user per issued key (unscoped, no expiry)."""

    api_url: str = Field(
        default=DEFAULT_API_URL,
        description="Object Storage Management API base URL.",
        pattern=URL_PATTERN,
        max_length=2048,
    )
    credentials_secret_ref: SecretKeySelector = Field(
        description=f"Secret with {TOKEN_KEY}: an API token of the IONOS user whose access keys keyfob manages."
    )
    s3_endpoint: str = Field(
        description="S3 endpoint URL written to Secrets for consumers (the region's endpoint).",
        pattern=URL_PATTERN,
        max_length=2048,
    )
    region: str = Field(
        pattern=REGION_PATTERN,
        description="S3 region written to Secrets, matching s3Endpoint.",
        min_length=1,
        max_length=64,
    )
    allow_unscoped_keys: bool = Field(
        default=False,
        description=(
            "IONOS keys cannot be limited to buckets or permissions: each key has every right of the token's "
            "user. Requests are refused unless this is true; issued keys are then marked unscoped."
        ),
    )
    allow_administrative_keys: bool = Field(
        default=False,
        description=(
            "A key made with an administrator's or the contract owner's token is an administrative key "
            "(metadata.administrative): it can also create buckets and set bucket policies. keyfob deletes such "
            "a key and refuses the request unless this is true; issued keys are then marked administrative."
        ),
    )
    keys_per_user: int = Field(
        default=5,
        description=(
            "How many access keys the user may hold (IONOS documents five, its own keys included). keyfob "
            "refuses to issue when the user is at the limit; a rotation needs one free slot."
        ),
        ge=1,
        le=50,
    )
    provisioning_timeout: Duration = Field(
        default="2m",
        description="How long to wait for a new key to become AVAILABLE (or a deleted one to disappear).",
    )
