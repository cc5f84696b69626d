"""Re-rendering the Secret for a new layout (formats, template) with the same key."""

from __future__ import annotations

from keyfob.api.request import CredentialType
from keyfob.lifecycle.jobs.book import StatusBook
from keyfob.lifecycle.jobs.secret_writer import write_secret
from keyfob.lifecycle.ports import ResolvedProvider, SecretSnapshot
from keyfob.lifecycle.secret_manifest import secret_warnings
from keyfob.secrets.extract import extract_key_pair, extract_session_token
from keyfob.secrets.formats import Credential


def rerender(book: StatusBook, provider: ResolvedProvider, snapshot: SecretSnapshot | None) -> None:
    status = book.status
    if snapshot is not None and not snapshot.data:
        snapshot = book.cluster.read_secret(book.view.namespace, snapshot.name)  # the cache holds no key material
    pair = extract_key_pair(snapshot.data) if snapshot else None
    if snapshot is None or pair is None or pair[0] != status.access_key_id or not status.key_name:
        return  # unreadable: it reads as a lost Secret on the next pass
    token = extract_session_token(snapshot.data) if status.credential_type is CredentialType.STS else None
    if status.credential_type is CredentialType.STS and token is None:
        return  # a session without its token is unusable: the next pass issues a fresh session
    connection = provider.adapter.connection()
    credential = Credential(
        access_key_id=pair[0],
        secret_access_key=pair[1],
        endpoint=connection.endpoint,
        region=connection.region,
        buckets=tuple(b.name for b in book.view.spec.buckets),
        expires_at=status.expires_at,
        session_token=token,
    )
    write_secret(book, credential, status.key_name, status.revision, status.issued_at or book.now,
                 status.expires_at, secret_warnings(snapshot))
    book.out.normal("SecretUpdated", f"Secret {book.view.spec.secret_name!r} re-rendered, same key")
