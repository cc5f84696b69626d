"""The `storj` provider block: Storj access grants restricted client-side and registered at an auth service.

Two modes:
- with `console`: every credential gets its own named root API key (satellite console REST API), restricted
  with a caveat and registered at the auth service; revoking deletes that root key. Revocable.
- without `console`: the parent access grant itself is restricted and registered. keyfob cannot revoke such a
  credential, so every request needs an expiry, and the key stops working at it.

Encryption: by default the issued grants carry the parent grant's encryption keys (limited to the requested
buckets); with `passphrase` they carry keys derived from a passphrase in the credentials Secret instead.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from keyfob.api.common import CamelModel, SecretKeySelector
from keyfob.api.vocabulary import REGION_PATTERN, URL_PATTERN

SECRET_DATA_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
BASE64_PATTERN = r"^[A-Za-z0-9+/]+={0,2}$"


class StorjPassphrase(CamelModel):
    """An encryption passphrase, as in Storj's "use the current passphrase" / "enter a new passphrase": keyfob
    derives the root encryption key from it the way Storj does (Argon2id over the project salt) and issues
    grants whose encryption access holds that key instead of the parent grant's."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.projectSalt) != has(self.legacySaltProjectId)",
                    "message": "set exactly one of projectSalt and legacySaltProjectId",
                }
            ]
        }
    )

    passphrase_key: str = Field(
        default="passphrase",
        description="Key in the credentials Secret holding the encryption passphrase (UTF-8, as typed in Storj).",
        pattern=SECRET_DATA_KEY_PATTERN,
        max_length=253,
    )
    project_salt: str | None = Field(
        default=None,
        description=(
            "The project's salt, base64 (standard alphabet), as the satellite console's project config reports "
            "it. The satellite gives it only over its own protocol (Metainfo.ProjectInfo) or to a browser "
            "session, so keyfob cannot fetch it."
        ),
        pattern=BASE64_PATTERN,
        max_length=172,
    )
    legacy_salt_project_id: str | None = Field(
        default=None,
        description=(
            "For a project created before satellites stored a salt: its project id (not the public id); the "
            "salt is then SHA-256 of the id's 16 bytes, as the satellite computes it."
        ),
        pattern=UUID_PATTERN,
        max_length=36,
    )
    encrypt_path: bool = Field(
        default=True,
        description=(
            "Whether the project encrypts object keys (AES-GCM path cipher). False for a project created "
            "without path encryption (Null path cipher)."
        ),
    )

    allow_request_passphrases: bool = Field(
        default=False,
        description=(
            "Let requests name their own passphrase (spec.passphraseSecretRef, a Secret in the request's "
            "namespace) instead of this one, as Storj's \"enter a new passphrase\". It changes only which "
            "encryption keys a grant carries, never what the key may do."
        ),
    )

    @model_validator(mode="after")
    def _one_salt(self) -> StorjPassphrase:
        if (self.project_salt is None) == (self.legacy_salt_project_id is None):
            raise ValueError("set exactly one of projectSalt and legacySaltProjectId")
        return self


class StorjConsole(CamelModel):
    """The satellite console REST API, used to create and delete one named root API key per credential."""

    url: str = Field(
        description="Satellite console base URL (the host serving /public/v1/...).",
        pattern=URL_PATTERN,
        max_length=2048,
    )
    project_id: str = Field(
        description="Project id (or public id) the API keys are created in; the parent grant must belong to it.",
        pattern=UUID_PATTERN,
        max_length=36,
    )
    rest_key_key: str = Field(
        default="consoleRestKey",
        description="Key in the credentials Secret holding the console REST API key (a Bearer token).",
        pattern=SECRET_DATA_KEY_PATTERN,
        max_length=253,
    )


class StorjProviderBlock(CamelModel):
    """Storj: scoped, expiring S3 credentials derived from a parent access grant."""

    auth_service_url: str = Field(
        description="Auth service base URL; credentials are registered with POST <url>/v1/access.",
        pattern=URL_PATTERN,
        max_length=2048,
    )
    credentials_secret_ref: SecretKeySelector = Field(
        description=(
            "Secret holding the parent access grant and, with `console`, the console REST API key, and with "
            "`passphrase`, the encryption passphrase."
        )
    )
    access_grant_key: str = Field(
        default="accessGrant",
        description=(
            "Key in the credentials Secret holding the parent access grant. It supplies the satellite address "
            "and the encryption keys; issued credentials never exceed it."
        ),
        pattern=SECRET_DATA_KEY_PATTERN,
        max_length=253,
    )
    console: StorjConsole | None = Field(
        default=None,
        description=(
            "Satellite console REST API. Set it so keyfob can revoke credentials; without it every request "
            "needs an expiry and keys live until then."
        ),
    )
    passphrase: StorjPassphrase | None = Field(
        default=None,
        description=(
            "Derive the encryption key from a passphrase (kept in the credentials Secret) instead of using the "
            "parent grant's encryption keys. Changing the passphrase applies to keys issued afterwards."
        ),
    )
    key_name_prefix: str = Field(
        default="keyfob/",
        description="Prefix of the root API key names keyfob creates; the cluster id and key name follow.",
        pattern=r"^[A-Za-z0-9._/-]{1,32}$",
    )
    gateway_endpoint: str | None = Field(
        default=None,
        description="S3 endpoint written to Secrets; omit to use the endpoint the auth service reports.",
        pattern=URL_PATTERN,
        max_length=2048,
    )
    region: str | None = Field(
        pattern=REGION_PATTERN,
        default=None,
        description="Region written to Secrets for S3 clients that insist on one.",
        max_length=64,
    )
