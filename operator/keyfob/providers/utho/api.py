"""Client for Utho's object-storage access-key endpoints (base https://api.utho.com/v2/), after
uthoplatforms/utho-go utho/object_storage.go:

    GET  objectstorage/{dc}/accesskeys                 -> {accesskeys: [{name, accesskey, dcslug, status, created_at}]}
    POST objectstorage/{dc}/accesskey/create           {"accesskey": <name>} -> {status, message, accesskey, secretkey}
    POST objectstorage/{dc}/bucket/{bucket}/permission/{permission}/accesskey/{accesskey}   (no body)
    POST objectstorage/{dc}/accesskey/{name}/status    {"accesskey": <access key>, "status": "disable"}

Authentication: "Authorization: Bearer <API key>". Utho may answer HTTP 2xx with {"status": "error", "message"}:
like the SDK, any `status` other than "success" (or absent) is an error. Its message decides the class: rate
limits -> ProviderThrottled, "try again"/"temporarily"/timeouts/maintenance -> ProviderUnavailable, anything else
(validation, name taken, unknown bucket, bad permission) -> ProviderRejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from keyfob.contract import ProviderRejected, ProviderThrottled, ProviderUnavailable
from keyfob.providers.common.http import classify, json_body, scrubbed, send

DISABLE = "disable"  # the status value sent to disable a key (not in the SDK; see docs/providers/utho.md)
# Listed statuses that mean "this key no longer works"; the SDK's sample of a working key says "Active".
DISABLED_STATUSES = frozenset({"disabled", "disable", "inactive", "suspended"})
_THROTTLED = re.compile(r"too many|rate.?limit|throttl", re.IGNORECASE)
_TEMPORARY = re.compile(r"try again|temporar|timed? ?out|maintenance|unavailable|internal", re.IGNORECASE)


@dataclass(frozen=True)
class UthoKey:
    name: str
    access_key: str
    status: str

    @property
    def live(self) -> bool:
        return self.status.strip().lower() not in DISABLED_STATUSES


def body_error(what: str, message: str) -> Exception:
    """The provider error for an HTTP-2xx {"status": "error"} answer."""
    text = f"{what}: {message or 'Utho answered status=error without a message'}"
    if _THROTTLED.search(message):
        return ProviderThrottled(text)
    if _TEMPORARY.search(message):
        return ProviderUnavailable(text)
    return ProviderRejected(text)


class UthoApi:
    def __init__(self, base_url: str, dc_slug: str, token: str, client: httpx.Client) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.dc = quote(dc_slug, safe="")
        self._token = token
        self._client = client

    def __repr__(self) -> str:
        return f"UthoApi(base_url={self.base_url!r}, dc={self.dc!r})"

    def _call(self, what: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        label = f"Utho {what}"
        response = send(self._client, label, method, self.base_url + path, self._token, **kwargs)
        body = json_body(response)
        message = scrubbed(str(body.get("message") or "") if isinstance(body, dict) else "", (self._token,))
        if not response.is_success:
            raise classify(label, response.status_code, message or scrubbed(response.text, (self._token,)), response)
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"{label}: answer is not a JSON object")
        if body.get("status") not in (None, "", "success"):
            raise body_error(label, message)
        return body

    def list_keys(self) -> list[UthoKey]:
        body = self._call("list access keys", "GET", f"objectstorage/{self.dc}/accesskeys")
        keys = body.get("accesskeys") or []
        if not isinstance(keys, list):
            raise ProviderUnavailable("Utho list access keys: 'accesskeys' is not a list")
        return [
            UthoKey(str(k.get("name") or ""), str(k.get("accesskey") or ""), str(k.get("status") or ""))
            for k in keys
            if isinstance(k, dict)
        ]

    def create_key(self, name: str) -> tuple[str, SecretStr]:
        path = f"objectstorage/{self.dc}/accesskey/create"
        body = self._call("create access key", "POST", path, json={"accesskey": name})
        access_key, secret = body.get("accesskey"), body.get("secretkey")
        if not isinstance(access_key, str) or not access_key or not isinstance(secret, str) or not secret:
            raise ProviderUnavailable(f"Utho create access key {name}: answer lacks accesskey or secretkey")
        return access_key, SecretStr(secret)

    def grant(self, bucket: str, permission: str, access_key: str) -> None:
        path = (
            f"objectstorage/{self.dc}/bucket/{quote(bucket, safe='')}/permission/{quote(permission, safe='')}"
            f"/accesskey/{quote(access_key, safe='')}"
        )
        self._call(f"grant {permission} on bucket {bucket}", "POST", path)

    def disable(self, key: UthoKey) -> None:
        path = f"objectstorage/{self.dc}/accesskey/{quote(key.name, safe='')}/status"
        body = {"accesskey": key.access_key, "status": DISABLE}
        self._call(f"disable access key {key.name}", "POST", path, json=body)
