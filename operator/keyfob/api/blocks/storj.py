"""The `storj` provider block: Storj access grants restricted client-side and registered at an auth service.

Two modes:
- with `console`: every credential gets its own named root API key (satellite console REST API), restricted
  with a caveat and registered at the auth service; revoking deletes that root key. Revocable.
- without `console`: the parent access grant itself is restricted and registered. keyfob cannot revoke such a
  credential, so every request needs an expiry, and the key stops working at it.
"""

from __future__ import annotations

from pydantic import Field

from keyfob.api.common import CamelModel, SecretKeySelector
from keyfob.api.vocabulary import REGION_PATTERN, URL_PATTERN

SECRET_DATA_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"


class StorjConsole(CamelModel):
    """The satellite console REST API, used to create and delete one named root API key per credential."""

    url: str = Field(
        description="Satellite console base URL (the host serving /public/v1/...).",
        pattern=URL_PATTERN,
        max_length=2048,
    )
    project_id: str = Field(
        description="Project id (or public id) the API keys are created in; the parent grant must belong to it.",
        pattern=r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$",
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
        description="Secret holding the parent access grant and, with `console`, the console REST API key."
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
