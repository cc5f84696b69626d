"""Issuing a key, in the order that keeps invariant 2 (nothing lost, nothing leaked) across crashes:

1. status.pending = {revision, keyName, scopeHash, providerRef}  -> a crash leaves a record naming the key
2. provider.issue(keyName)      -> adopt-or-replace: a crash leaves a key the next pass replaces (same name)
3. Secret written               -> a crash leaves a Secret whose key the next pass replaces
4. status: the key's public facts from the provider's answer, the previous key with its grace, pending cleared
A pending record is always finished by re-issuing under its name (never by believing the Secret): the adapter
proves at the provider that an existing key of that name is keyfob's for this request before replacing it. The one
exception is a retry in the same process after a failed Kubernetes write (steps 3-4): it reuses the key it just
issued for the identical pending issue (see `unfinished`) instead of replacing it.
"""

from __future__ import annotations

import time
from datetime import datetime

from pydantic import SecretStr

from keyfob.api.common import ConditionStatus
from keyfob.api.request import CredentialType
from keyfob.api.request_status import ExpiryEnforcement, KeyRecord, PendingIssue
from keyfob.api.vocabulary import parse_duration
from keyfob.contract import IssuedKey, ProviderRejected, describe
from keyfob.contract.naming import key_name
from keyfob.lifecycle.conditions import Reason
from keyfob.lifecycle.crashpoints import crashpoint
from keyfob.lifecycle.fingerprint import scope_hash
from keyfob.lifecycle.grants import grant_for
from keyfob.lifecycle.issuer import current_issuer
from keyfob.lifecycle.jobs.book import StatusBook
from keyfob.lifecycle.jobs.secret_writer import write_secret
from keyfob.lifecycle.jobs.unfinished import UnfinishedIssues
from keyfob.lifecycle.plan_types import IssueReason
from keyfob.lifecycle.policies.guardrails import effective_ttl
from keyfob.lifecycle.ports import ResolvedProvider
from keyfob.lifecycle.timing import lifetime
from keyfob.secrets.formats import Credential


def start(book: StatusBook, reason: str) -> PendingIssue:
    """Write the pending record for this issue (a resumed one is rewritten for the current scope)."""
    status, view = book.status, book.view
    previous = status.pending
    revision = previous.revision if previous is not None else status.revision + 1
    pending = PendingIssue(
        revision=revision,
        key_name=key_name(view.uid, revision),
        reason=previous.reason if previous is not None else reason,
        started_at=previous.started_at if previous is not None else book.now,
        scope_hash=scope_hash(view.spec),
        provider_ref=view.spec.provider_ref,
    )
    if pending != previous:
        status.pending = pending
        if status.access_key_id is None:
            book.ready(ConditionStatus.FALSE, Reason.ISSUING, f"issuing revision {revision}")
        book.save()
    crashpoint("after-pending")
    return pending


def request_passphrase(book: StatusBook) -> SecretStr | None:
    """The passphrase the request names, read from its own namespace at issue time (never logged or stored)."""
    view = book.view
    ref = view.spec.passphrase_secret_ref
    if ref is None:
        return None
    where = f"passphrase Secret {view.namespace}/{ref.name}"
    if ref.name == view.spec.secret_name:
        raise ProviderRejected(f"the {where} is the request's own output Secret")
    secret = book.cluster.read_secret(view.namespace, ref.name)  # with its data, never from the cache
    if secret is None:
        raise ProviderRejected(f"the {where} does not exist")
    value = secret.data.get(ref.key, "").removesuffix("\n").removesuffix("\r")
    if not value:
        raise ProviderRejected(f"the {where} has no (or an empty) key {ref.key!r}")
    return SecretStr(value)


def issue(book: StatusBook, provider: ResolvedProvider, reason: str, immediate_grace: bool,
          unfinished: UnfinishedIssues | None = None) -> None:
    passphrase = request_passphrase(book)
    pending = start(book, reason)
    view = book.view
    key = unfinished.recall(view.uid, pending, provider.label, book.now) if unfinished is not None else None
    if key is None:
        life = lifetime(view.spec, effective_ttl(provider.spec.guardrails), book.now, view.uid, pending.revision)
        started = time.monotonic()
        key = provider.adapter.issue(grant_for(view, pending.key_name, pending.revision, life.expires_at, passphrase,
                                               session_seconds=life.session_seconds))
        book.out.issue_seconds.append(time.monotonic() - started)
        if unfinished is not None:
            unfinished.keep(view.uid, pending, provider.label, key)
    crashpoint("after-provider-issue")
    connection = provider.adapter.connection()
    credential = Credential(
        access_key_id=key.access_key_id,
        secret_access_key=key.secret_access_key,
        endpoint=connection.endpoint,
        region=connection.region,
        buckets=tuple(b.name for b in view.spec.buckets),
        expires_at=key.expires_at,
        session_token=key.session_token,
    )
    write_secret(book, credential, pending.key_name, pending.revision, book.now, key.expires_at, key.warnings)
    crashpoint("after-secret-write")
    finish(book, provider, pending, key, immediate_grace or pending.reason == IssueReason.SECRET_LOST)
    if unfinished is not None:
        unfinished.forget(view.uid)


def _grace_end(book: StatusBook, immediate: bool) -> datetime:
    end = book.now if immediate else book.now + parse_duration(book.view.spec.rotation_grace_period)
    expires = book.status.expires_at
    return min(end, expires) if expires is not None else end  # grace never outlives the key's own expiry


def finish(
    book: StatusBook, provider: ResolvedProvider, pending: PendingIssue, key: IssuedKey, immediate: bool
) -> None:
    status, view = book.status, book.view
    if status.access_key_id and status.key_name:
        status.previous_keys.append(KeyRecord(
            access_key_id=status.access_key_id, key_name=status.key_name,
            revoke_after=_grace_end(book, immediate),
            provider_ref=current_issuer(status, pending.provider_ref or book.view.spec.provider_ref),
            credential_type=status.credential_type,
        ))
    life = lifetime(view.spec, effective_ttl(provider.spec.guardrails), book.now, view.uid, pending.revision)
    status.access_key_id = key.access_key_id
    status.key_name = pending.key_name
    status.revision = pending.revision
    status.issued_at = book.now
    status.expires_at = key.expires_at
    status.renewal_time = life.renewal_time
    status.expiry_enforced_by = ExpiryEnforcement.PROVIDER if key.expiry_native else ExpiryEnforcement.OPERATOR
    status.credential_type = CredentialType.STS if key.is_session else None
    status.scope_hash = pending.scope_hash  # what was issued, not what the spec says by now
    status.provider = provider.label
    status.provider_ref = pending.provider_ref
    grant = grant_for(view, pending.key_name, pending.revision, life.expires_at, session_seconds=life.session_seconds)
    preview = describe(provider.adapter, grant)
    status.grant = preview.bounded_summary() if preview is not None else None
    status.pending = None
    if view.rotate_token:
        status.rotate_request_handled = view.rotate_token
    what = f"STS session {key.access_key_id} until {key.expires_at.isoformat()}" if key.is_session and key.expires_at \
        else f"access key {key.access_key_id}"
    message = f"revision {pending.revision} issued ({pending.reason}), {what}"
    if key.warnings:
        message += f"; WARNING {'; '.join(key.warnings)}"
    book.ready(ConditionStatus.TRUE, Reason.ISSUED, message)
    book.save()
    book.out.normal(Reason.ISSUED, message)
    for warning in key.warnings:
        book.out.warning("KeyWarning", warning)
    book.out.issued.append(pending.reason)
