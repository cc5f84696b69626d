"""Client for Utho's object-storage access-key endpoints (base https://api.utho.com/v2/).

Contract, with the file each line was read from (docs/providers/utho.md has the full table):

    GET  objectstorage/{dc}/accesskeys       -> {accesskeys: [{name, accesskey, dcslug, status, created_at}]}
         (uthoplatforms/utho-go utho/object_storage.go AccessKeys); {data: [{access_key, secret_key, status}]}
         (niteshkumarsinha/Utho-Go-SDK services/objectstorage/objectstorage.go): both shapes are read
    POST objectstorage/{dc}/accesskey/create {"accesskey": <name>} -> {status, message, accesskey, secretkey}
         (utho-go CreateAccessKeyResponse, terraform-provider-utho-prod internal/client/objectstorage.go);
         {data: {access_key, secret_key}} (Utho-Go-SDK): every spelling is read, none may contradict another
    POST objectstorage/{dc}/bucket/{bucket}/permission/{permission}/accesskey/{accesskey}   (no body needed:
         terraform-provider-utho-prod GrantBucketPermission sends none)
    POST objectstorage/{dc}/accesskey/{name}/status {"accesskey": <access key>, "status": enable|disable|remove}
         name in the path: utho-go ModifyAccessKey, utho-community/object-storage src/utho-client.ts
         modifyAccessKey; the ACCESS KEY in the path: terraform-provider-utho-prod UpdateAccessKeyStatus (whose
         DeleteAccessKey sends status "remove"); keyfob tries the name first, then the access key.

Authentication: "Authorization: Bearer <API key>". Utho may answer HTTP 2xx with {"status": "error", "message"}:
like the SDK, any `status` other than "success" (or absent) is an error. Its message decides the class: rate
limits -> ProviderThrottled, "try again"/"temporarily"/timeouts/maintenance -> ProviderUnavailable, anything else
(validation, name taken, unknown bucket, bad permission or status) -> ProviderRejected.
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

REMOVE, DISABLE = "remove", "disable"
# Listed statuses that mean "this key no longer works"; utho-go's sample of a working key says "Active", the
# Terraform docs (terraform-provider-utho-prod docs/resources/object_storage_key.md) say "enable" / "disable".
DEAD_STATUSES = frozenset({"disabled", "disable", "inactive", "suspended", "remove", "removed", "deleted"})
_THROTTLED = re.compile(r"too many|rate.?limit|throttl", re.IGNORECASE)
_TEMPORARY = re.compile(r"try again|temporar|timed? ?out|maintenance|unavailable|internal", re.IGNORECASE)


@dataclass(frozen=True)
class UthoKey:
    name: str
    access_key: str
    status: str

    @property
    def live(self) -> bool:
        return self.status.strip().lower() not in DEAD_STATUSES


def body_error(what: str, message: str) -> Exception:
    """The provider error for an HTTP-2xx {"status": "error"} answer."""
    text = f"{what}: {message or 'Utho answered status=error without a message'}"
    if _THROTTLED.search(message):
        return ProviderThrottled(text)
    if _TEMPORARY.search(message):
        return ProviderUnavailable(text)
    return ProviderRejected(text)


def _first(item: dict[str, Any], *names: str) -> str | None:
    """The one value these spellings agree on; ProviderUnavailable when two spellings disagree."""
    values = {v for n in names if isinstance(v := item.get(n), str) and v}
    if len(values) > 1:
        raise ProviderUnavailable(f"Utho answered contradicting {' / '.join(names)}")
    return values.pop() if values else None


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
        keys = body.get("accesskeys") if "accesskeys" in body else body.get("data")
        if not isinstance(keys, list):
            raise ProviderUnavailable("Utho list access keys: neither 'accesskeys' nor 'data' is a list")
        return [
            UthoKey(str(k.get("name") or ""), _first(k, "accesskey", "access_key") or "", str(k.get("status") or ""))
            for k in keys
            if isinstance(k, dict)
        ]

    def create_key(self, name: str) -> tuple[str, SecretStr]:
        path = f"objectstorage/{self.dc}/accesskey/create"
        body = self._call("create access key", "POST", path, json={"accesskey": name})
        data: dict[str, Any] = d if isinstance(d := body.get("data"), dict) else {}
        merged = {**data, **{k: v for k, v in body.items() if k != "data"}}
        clash = {k for k in data if k in body and body[k] != data[k]}
        if clash:
            raise ProviderUnavailable(f"Utho create access key {name}: answer contradicts itself")
        access_key = _first(merged, "accesskey", "access_key")
        secret = _first(merged, "secretkey", "secret_key")
        if not access_key or not secret:
            raise ProviderUnavailable(f"Utho create access key {name}: answer lacks the access key or secret key")
        return access_key, SecretStr(secret)

    def grant(self, bucket: str, permission: str, access_key: str) -> None:
        path = (
            f"objectstorage/{self.dc}/bucket/{quote(bucket, safe='')}/permission/{quote(permission, safe='')}"
            f"/accesskey/{quote(access_key, safe='')}"
        )
        self._call(f"grant {permission} on bucket {bucket}", "POST", path)

    def set_status(self, key: UthoKey, status: str, by_access_key: bool = False) -> None:
        """Change a listed key's status; the path names the key by name, or by access key (see module doc)."""
        ident = key.access_key if by_access_key else key.name
        path = f"objectstorage/{self.dc}/accesskey/{quote(ident, safe='')}/status"
        body = {"accesskey": key.access_key, "status": status}
        self._call(f"{status} access key {key.name}", "POST", path, json=body)
