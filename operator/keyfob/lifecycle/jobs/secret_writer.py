"""Writing the request's Secret: rendered data, public facts in annotations, never over someone else's Secret."""

from __future__ import annotations

from datetime import datetime

from keyfob.lifecycle.fingerprint import render_hash
from keyfob.lifecycle.jobs.book import StatusBook
from keyfob.lifecycle.ports import OwnerInfo, SecretConflict
from keyfob.lifecycle.secret_manifest import build_secret
from keyfob.secrets.formats import Credential, render_data


def write_secret(
    book: StatusBook,
    cred: Credential,
    name: str,
    revision: int,
    issued_at: datetime,
    expires_at: datetime | None,
    warnings: tuple[str, ...] = (),
) -> None:
    view = book.view
    spec = view.spec
    manifest = build_secret(
        owner=OwnerInfo(view.api_version, view.kind, view.name, view.uid),
        namespace=view.namespace,
        spec=spec,
        data=render_data(spec.secret_formats, cred),
        access_key_id=cred.access_key_id,
        key_name=name,
        revision=revision,
        issued_at=issued_at,
        expires_at=expires_at,
        render_hash=render_hash(spec),
        warnings=warnings,
    )
    previous = book.cluster.get_secret(view.namespace, spec.secret_name)
    if previous is not None and previous.controller_uid != view.uid:
        raise SecretConflict(f"Secret {spec.secret_name!r} appeared and is not owned by this request")
    book.cluster.write_secret(view.namespace, manifest, previous)
