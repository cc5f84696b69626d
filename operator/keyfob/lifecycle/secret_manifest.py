"""The Secret keyfob writes for a request: data from the renderers, public facts in annotations."""

from __future__ import annotations

from datetime import datetime

from keyfob.api.request import AccessKeyRequestSpec
from keyfob.lifecycle.plan_types import SecretState
from keyfob.lifecycle.ports import OwnerInfo, SecretSnapshot

MANAGED_BY = {"app.kubernetes.io/managed-by": "keyfob"}
A_KEY_ID = "keyfob.dev/access-key-id"
A_KEY_NAME = "keyfob.dev/key-name"
A_REVISION = "keyfob.dev/revision"
A_ISSUED_AT = "keyfob.dev/issued-at"
A_EXPIRES_AT = "keyfob.dev/expires-at"
A_RENDER_HASH = "keyfob.dev/render-hash"
A_REQUEST = "keyfob.dev/request"
A_WARNINGS = "keyfob.dev/warnings"


def build_secret(
    *,
    owner: OwnerInfo,
    namespace: str,
    spec: AccessKeyRequestSpec,
    data: dict[str, str],
    access_key_id: str,
    key_name: str,
    revision: int,
    issued_at: datetime,
    expires_at: datetime | None,
    render_hash: str,
    warnings: tuple[str, ...] = (),
) -> dict[str, object]:
    template = spec.secret_template
    labels = {**(template.labels if template else {}), **MANAGED_BY}
    annotations = {
        **(template.annotations if template else {}),
        A_REQUEST: owner.name,
        A_KEY_ID: access_key_id,
        A_KEY_NAME: key_name,
        A_REVISION: str(revision),
        A_ISSUED_AT: issued_at.isoformat(),
        A_RENDER_HASH: render_hash,
    }
    if expires_at is not None:
        annotations[A_EXPIRES_AT] = expires_at.isoformat()
    if warnings:
        annotations[A_WARNINGS] = "; ".join(warnings)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": spec.secret_name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": owner.api_version,
                    "kind": owner.kind,
                    "name": owner.name,
                    "uid": owner.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "stringData": data,
    }


def secret_state(snapshot: SecretSnapshot) -> SecretState:
    annotations = snapshot.annotations
    revision = annotations.get(A_REVISION)
    return SecretState(
        revision=int(revision) if revision and revision.isdigit() else None,
        access_key_id=annotations.get(A_KEY_ID),
        render_hash=annotations.get(A_RENDER_HASH),
    )


def secret_warnings(snapshot: SecretSnapshot) -> tuple[str, ...]:
    text = snapshot.annotations.get(A_WARNINGS, "")
    return tuple(w for w in text.split("; ") if w)
