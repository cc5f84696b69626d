"""The `ionos` provider block: IONOS Object Storage access keys via the Object Storage Management API.

IONOS access keys carry no scope and no expiry: every key acts with all the rights of the IONOS user that owns
the API token. keyfob therefore refuses every request unless `allowUnscopedKeys` is true, and enforces expiry
itself (revoke at expiry). IONOS allows five access keys per user, and rotation needs one free slot.
A token of an administrator or the contract owner makes administrative keys (they can create buckets and set
bucket policies): keyfob refuses and deletes those unless `allowAdministrativeKeys` is true.
Admin credentials: the referenced Secret holds IONOS_TOKEN (an API token of the user whose keys keyfob manages).

Scoped mode (`scopedUsers.enabled`, off by default): keyfob creates one IONOS user per issued key through the Cloud
API v6 user management (the token must be an administrator's), gives it one Object Storage key, and grants it
exactly the requested buckets and permissions with a statement in each bucket's policy (written with an
administrator's Object Storage key, IONOS_S3_ACCESS_KEY / IONOS_S3_SECRET_KEY in the same Secret).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict, Field, model_validator

from keyfob.api.common import CamelModel, SecretKeySelector
from keyfob.api.request import Duration
from keyfob.api.vocabulary import REGION_PATTERN, URL_PATTERN

TOKEN_KEY = "IONOS_TOKEN"
DEFAULT_API_URL = "https://s3.ionos.com"
DEFAULT_CLOUD_API_URL = "https://api.ionos.com/cloudapi/v6"
S3_ACCESS_KEY_KEY = "IONOS_S3_ACCESS_KEY"
S3_SECRET_KEY_KEY = "IONOS_S3_SECRET_KEY"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
EMAIL_DOMAIN_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$"


class BucketOwnership(StrEnum):
    """Who owns the buckets keyfob grants on; it decides the Principal IONOS bucket policies expect."""

    CONTRACT_OWNED = "contractOwned"  # Principal {"AWS": ["arn:aws:iam:::user/<contract number>:<user id>"]}
    USER_OWNED = "userOwned"  # Principal {"CanonicalUser": ["<the user's s3CanonicalUserId>"]}


class IonosScopedUsers(CamelModel):
    """One dedicated IONOS user per issued key, scoped with bucket-policy statements."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!self.enabled || (has(self.contractNumber) && has(self.groupId) && has(self.emailDomain))",
                    "message": "scopedUsers.enabled needs contractNumber, groupId and emailDomain",
                }
            ]
        }
    )

    enabled: bool = Field(
        default=False,
        description=(
            "Issue scoped keys: a dedicated IONOS user per key (Cloud API v6 user management, the token must be "
            "an administrator's), its Object Storage key, and one statement per requested bucket in that bucket's "
            "policy. Off: the Object Storage Management API keys of the token's own user (unscoped)."
        ),
    )
    cloud_api_url: str = Field(
        default=DEFAULT_CLOUD_API_URL,
        description="Cloud API v6 base URL (user management).",
        pattern=URL_PATTERN,
        max_length=2048,
    )
    contract_number: int | None = Field(
        default=None,
        description=(
            "The IONOS contract number: sent as X-Contract-Number and, for contract-owned buckets, the first part "
            "of the bucket-policy Principal arn:aws:iam:::user/<contract number>:<user id>. Required when enabled."
        ),
        ge=1,
    )
    group_id: str | None = Field(
        default=None,
        description=(
            "Id of an IONOS group with the Object Storage privilege (s3Privilege) and nothing else keyfob's users "
            "should have: IONOS refuses Object Storage keys to users outside such a group. Required when enabled."
        ),
        pattern=UUID_PATTERN,
    )
    email_domain: str | None = Field(
        default=None,
        description=(
            "Domain of the email addresses keyfob gives its users (IONOS needs a unique email per user; the local "
            "part carries the cluster and key name). Use a domain you control. Required when enabled."
        ),
        pattern=EMAIL_DOMAIN_PATTERN,
        max_length=200,
    )
    bucket_ownership: BucketOwnership = Field(
        default=BucketOwnership.CONTRACT_OWNED,
        description="contractOwned (Principal by contract user id) or userOwned (Principal by canonical user id).",
    )

    @model_validator(mode="after")
    def _complete(self) -> IonosScopedUsers:
        if self.enabled and None in (self.contract_number, self.group_id, self.email_domain):
            raise ValueError("scopedUsers.enabled needs contractNumber, groupId and emailDomain")
        return self


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
    scoped_users: IonosScopedUsers | None = Field(
        default=None,
        description="Scoped keys through a dedicated IONOS user per key and bucket policies (off by default).",
    )


    def scoped(self) -> IonosScopedUsers | None:
        """The scopedUsers block when scoped mode is on, else None."""
        return self.scoped_users if self.scoped_users is not None and self.scoped_users.enabled else None
