"""Parse an AccessKeyRequest body once into typed spec + status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from keyfob.api.common import ObjectKind
from keyfob.api.request import AccessKeyRequestSpec
from keyfob.api.request_status import AccessKeyRequestStatus
from keyfob.api.vocabulary import API_VERSION

ROTATE_ANNOTATION = "keyfob.dev/rotate"
SUSPEND_ANNOTATION = "keyfob.dev/suspend"  # "<who>: <reason>", written by `keyfob revoke`


@dataclass(frozen=True)
class RequestView:
    namespace: str
    name: str
    uid: str
    generation: int | None
    spec: AccessKeyRequestSpec
    status: AccessKeyRequestStatus
    rotate_token: str | None
    resource_version: str | None = None
    suspend_mark: str | None = None  # the keyfob.dev/suspend annotation: break-glass on this request

    api_version: str = API_VERSION
    kind: str = "AccessKeyRequest"


class InvalidRequest(Exception):
    """The body does not parse; the message lists fields and problems, never values."""


def _problems(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: {e['msg']}" for e in err.errors())


def parse_status(raw: Mapping[str, Any] | None) -> AccessKeyRequestStatus:
    try:
        return AccessKeyRequestStatus.model_validate(dict(raw or {}))
    except ValidationError:
        return AccessKeyRequestStatus()  # a foreign or corrupted status must not wedge the request


def parse_request(body: Mapping[str, Any]) -> RequestView:
    meta = body.get("metadata", {})
    status = parse_status(body.get("status"))
    try:
        spec = AccessKeyRequestSpec.model_validate(body.get("spec") or {})
    except ValidationError as err:
        raise InvalidRequest(_problems(err)) from None
    return RequestView(
        namespace=meta["namespace"],
        name=meta["name"],
        uid=meta["uid"],
        generation=meta.get("generation"),
        spec=spec,
        status=status,
        rotate_token=(meta.get("annotations") or {}).get(ROTATE_ANNOTATION) or None,
        resource_version=meta.get("resourceVersion"),
        suspend_mark=(meta.get("annotations") or {}).get(SUSPEND_ANNOTATION) or None,
    )


def uses_provider(body: Mapping[str, Any], kind: ObjectKind, name: str, namespace: str | None) -> bool:
    """Whether a request body references this provider object (a namespaced one only from its namespace)."""
    ref = (body.get("spec") or {}).get("providerRef") or {}
    if ref.get("name") != name or ref.get("kind", ObjectKind.ACCESS_KEY_PROVIDER.value) != kind.value:
        return False
    return kind is ObjectKind.CLUSTER_ACCESS_KEY_PROVIDER or body["metadata"].get("namespace") == namespace
