"""Client for the Storj auth service (storj/edge docs/auth-openapi.yaml, pkg/auth/httpauth/resources.go,
pkg/auth/authdb/db.go):

    POST /v1/access {"access_grant": "<base58>", "public": false}
        200 {"access_key_id", "secret_key", "endpoint"}
        400 bad grant / satellite not allowed / expiry less than a minute away, 413, 422, 5xx
    GET  /v1/health/live   200 when the service can process requests

Older auth services (storj/edge pkg/auth/httpauth/resources.go at the gateway-mt era, newAccess) answer every
failure of authdb.Database.Put with HTTP 500 "error storing request in database: <error>", an invalid grant
included; the grant errors are those of storj/common grant/access.go ParseAccess ("invalid access grant format",
"unable to unmarshal access grant", "access grant is missing satellite address", "access grant has malformed
...") and pkg/auth/authdb/db.go Put ("access grant contains disallowed satellite"). Such a 500 is the caller's
fault and is raised as ProviderRejected; any other 5xx stays ProviderUnavailable (retried).

There is no way to delete a registration over HTTP: a credential stops working when its API key is deleted
(console) or reaches its not_after caveat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from keyfob.contract import ProviderUnavailable
from keyfob.providers.common.http import raise_for, transport_failure

INVALID_GRANT = re.compile(
    r"invalid access grant|unable to unmarshal access grant|access grant (is missing|has malformed|contains "
    r"disallowed)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Registration:
    access_key_id: str
    secret_key: SecretStr
    endpoint: str


class AuthServiceClient:
    def __init__(self, base_url: str, client: httpx.Client) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client

    def register(self, access_grant: SecretStr) -> Registration:
        grant = access_grant.get_secret_value()
        try:
            response = self._client.post(f"{self.base_url}/v1/access", json={"access_grant": grant, "public": False})
        except httpx.HTTPError as err:
            raise transport_failure("auth service register", err) from None
        raise_for("auth service register", response, scrub=(grant,), refused=INVALID_GRANT)
        try:
            body = response.json()
        except ValueError:
            raise ProviderUnavailable("auth service register: response is not JSON") from None
        fields = {
            name: body.get(name) if isinstance(body, dict) else None
            for name in ("access_key_id", "secret_key", "endpoint")
        }
        if not all(isinstance(value, str) and value for value in fields.values()):
            raise ProviderUnavailable("auth service register: response lacks access_key_id, secret_key or endpoint")
        return Registration(str(fields["access_key_id"]), SecretStr(str(fields["secret_key"])), str(fields["endpoint"]))

    def live(self) -> None:
        try:
            response = self._client.get(f"{self.base_url}/v1/health/live")
        except httpx.HTTPError as err:
            raise transport_failure("auth service health", err) from None
        raise_for("auth service health", response)
