"""What the lifecycle needs from the outside world, as Protocols (kube.py and provider_access.py implement them;
unit tests pass small in-memory doubles)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from keyfob.api.common import ObjectKind
from keyfob.api.provider import ProviderSpec
from keyfob.api.request import ProviderRef
from keyfob.contract import Provider


@dataclass(frozen=True)
class SecretSnapshot:
    """A Secret as read from the API server. `data` holds decoded values and is never logged."""

    name: str
    controller_uid: str | None
    annotations: Mapping[str, str]
    resource_version: str | None = None
    data: Mapping[str, str] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class OwnerInfo:
    """The AccessKeyRequest a Secret belongs to (for its ownerReference)."""

    api_version: str
    kind: str
    name: str
    uid: str


class ClusterPort(Protocol):
    def get_secret(self, namespace: str, name: str) -> SecretSnapshot | None:
        """The Secret as last known; its `data` may be empty (a watch-fed cache keeps no key material)."""
        ...

    def read_secret(self, namespace: str, name: str) -> SecretSnapshot | None:
        """The Secret read now from the API server, with its data (only for re-rendering the same key)."""
        ...

    def write_secret(
        self, namespace: str, manifest: dict[str, object], previous: SecretSnapshot | None
    ) -> SecretSnapshot | None:
        """Create the Secret, or replace `previous` (guarded by its resourceVersion: a Secret that changed or
        appeared since it was checked is never overwritten: SecretConflict). May return what was written."""
        ...

    def delete_secret(self, namespace: str, name: str, owner_uid: str) -> None: ...

    def release_secret(self, namespace: str, name: str, owner_uid: str) -> None: ...

    def patch_request_status(
        self, namespace: str, name: str, status: dict[str, object], resource_version: str | None = None
    ) -> str | None:
        """Write status; with `resource_version`, only if the object is still at that version (else raise
        StatusConflict). Returns the new resourceVersion."""
        ...

    def namespace_labels(self, namespace: str) -> Mapping[str, str]: ...

    def list_requests(self, namespace: str) -> list[dict[str, Any]]:
        """Every AccessKeyRequest body in the namespace (read only when a per-namespace quota is set)."""
        ...

    def annotate_pod_template(self, namespace: str, kind: str, name: str, key: str, value: str) -> bool:
        """Set a pod-template annotation on a Deployment/StatefulSet (rolls it if the value changed); False when
        the workload does not exist."""
        ...


class SecretConflict(Exception):
    """Someone else's Secret stands where ours should go (invariant 5: never overwrite it)."""


class StatusConflict(Exception):
    """The request changed since it was read (e.g. an approver wrote a condition): re-read and retry."""


class ProviderLookupError(Exception):
    """The provider object or its admin credentials cannot be used; message safe for a condition."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ResolvedProvider:
    kind: ObjectKind
    namespace: str | None
    name: str
    spec: ProviderSpec
    adapter: Provider

    @property
    def label(self) -> str:
        return f"{self.kind.value}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind.value}/{self.name}"


class ProviderPort(Protocol):
    def resolve(self, request_namespace: str, ref: ProviderRef, *, fresh: bool = False) -> ResolvedProvider:
        """The provider a request names; `fresh`: read the provider object now, not from the watch (before a
        key is made, so a guardrail tightened a moment ago is never missed)."""
        ...

    def last_known(self, request_namespace: str, ref: ProviderRef) -> ResolvedProvider | None: ...
