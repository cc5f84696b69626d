"""Taking keys out of service: expiry, the end of a grace period, a guardrail that no longer allows them, a
provider the request left, deletion. Each key is revoked at the provider that issued it, through an adapter
that proves at the provider that keyfob made it for this request (OwnershipUnproven: nothing is touched)."""

from __future__ import annotations

from keyfob.api.common import ConditionStatus
from keyfob.api.request import CredentialType, ProviderRef
from keyfob.api.request_status import KeyRecord
from keyfob.contract import KeyRef, OwnershipUnproven, ProviderError
from keyfob.contract.keys import revocation_words
from keyfob.lifecycle.conditions import Reason
from keyfob.lifecycle.crashpoints import crashpoint
from keyfob.lifecycle.issuer import current_issuer
from keyfob.lifecycle.jobs.book import StatusBook
from keyfob.lifecycle.jobs.resolve import issuer_of
from keyfob.lifecycle.plan import Retirement
from keyfob.lifecycle.ports import ProviderLookupError, ProviderPort
from keyfob.lifecycle.redaction import tenant_safe

RETRY = 10.0
SESSION_DROPPED = "SessionDropped"  # the event of an STS session taken out of the Secret and left to its end


def _issuer(book: StatusBook, record_ref: ProviderRef | None) -> ProviderRef:
    return record_ref or current_issuer(book.status, book.view.spec.provider_ref)


def retire_current(book: StatusBook, revoke_after_now: bool = True) -> None:
    """Move the current key to previousKeys (revoked on this or the next pass)."""
    status = book.status
    if status.key_name is None:
        return
    status.previous_keys.append(KeyRecord(
        access_key_id=status.access_key_id, key_name=status.key_name,
        revoke_after=book.now if revoke_after_now else None, provider_ref=_issuer(book, None),
        credential_type=status.credential_type,
    ))
    status.access_key_id = status.key_name = None
    status.credential_type = None
    status.renewal_time = status.grant = None


def apply_retirement(book: StatusBook, providers: ProviderPort, plan: Retirement) -> None:
    status = book.status
    if plan.expire_current:
        message = f"access key {status.access_key_id} expired at {status.expires_at}; revoking it"
        retire_current(book)
        book.ready(ConditionStatus.FALSE, Reason.EXPIRED, message)
        book.save()
        book.out.warning(Reason.EXPIRED, message)
    if plan.abandon_pending and status.pending is not None:
        pending = status.pending
        status.previous_keys.append(KeyRecord(key_name=pending.key_name, revoke_after=book.now,
                                              provider_ref=pending.provider_ref))
        status.pending = None
        book.save()
    revoke_due(book, providers)


def revoke_due(book: StatusBook, providers: ProviderPort, everything: bool = False) -> bool:
    """Revoke previous keys whose grace is over (all of them with `everything`). True when none is left."""
    done = True
    for record in list(book.status.previous_keys):
        if not everything and record.revoke_after is not None and record.revoke_after > book.now:
            continue
        done = _revoke_record(book, providers, record) and done
    return done


def _revoke_record(book: StatusBook, providers: ProviderPort, record: KeyRecord) -> bool:
    label = record.access_key_id or record.key_name
    try:
        provider = issuer_of(providers, book.view.namespace, _issuer(book, record.provider_ref))
        if provider.adapter.capabilities.revocable:
            caps = provider.adapter.capabilities
            session = record.credential_type is CredentialType.STS
            result = provider.adapter.revoke(KeyRef(record.key_name, book.view.uid, record.access_key_id, session))
            crashpoint("after-provider-revoke")
            words = revocation_words(result, caps.revoked_word, caps.revocation_delay)
            if result is not None and result.how == "expire":  # an STS session: nothing at the provider could end it
                book.out.normal(SESSION_DROPPED, f"STS session {label} {words}")
            else:
                book.out.normal(Reason.REVOKED, f"{'STS session' if session else 'access key'} {label} {words}")
                book.out.revoked += 1
        else:
            book.out.normal("ExpiresOnly", f"access key {label} is not revocable at {provider.label}: it stays "
                            "valid until its own expiry")
    except OwnershipUnproven as err:
        book.out.warning(Reason.STATUS_TAMPERED, f"access key {label} not revoked, the provider's record does not "
                         f"show keyfob made it for this request: {tenant_safe(str(err))}")
    except (ProviderLookupError, ProviderError) as err:
        detail = tenant_safe(str(err))
        book.out.warning(Reason.PROVIDER_ERROR, f"revoking access key {label} failed, will retry: {detail}")
        book.out.retry_after = RETRY
        return False
    book.status.previous_keys = [k for k in book.status.previous_keys if k.key_name != record.key_name]
    book.save()
    return True


def revoke_held(book: StatusBook, providers: ProviderPort, why: str) -> bool:
    """Every key the request holds (current, pending, previous) goes, each at its own provider. True when none
    is left at any provider."""
    status = book.status
    if status.key_name is None and status.pending is None and not status.previous_keys:
        return True
    retire_current(book)
    if status.pending is not None:
        status.previous_keys.append(KeyRecord(key_name=status.pending.key_name, revoke_after=book.now,
                                              provider_ref=status.pending.provider_ref))
        status.pending = None
    book.save()
    book.out.warning(Reason.REVOKED, f"revoking every key of this request: {why}")
    return revoke_due(book, providers, everything=True)
