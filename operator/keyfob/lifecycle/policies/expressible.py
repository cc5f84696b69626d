"""Invariant 1: never broader than asked. A provider that cannot express the request refuses it, naming what it
cannot express: first what its Capabilities say (permissions, prefixes), then the adapter's own finer checks
(`Provider.unsupported`, e.g. MinIO's expiry window, Utho's permission pairs). Also: deletionPolicy Retain on a
provider without native expiry would leave a key no one ever revokes, so it needs the allowRetain guardrail."""

from __future__ import annotations

from keyfob.api.request import CredentialType, DeletionPolicy
from keyfob.contract import Capabilities, Grant
from keyfob.lifecycle.conditions import Reason
from keyfob.lifecycle.grants import grant_for
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.policies.guardrails import effective_ttl
from keyfob.lifecycle.policies.verdict import Verdict
from keyfob.lifecycle.timing import lifetime, session_problem

PROBE_NAME = "kf-00000000-0000-0000-0000-000000000000-r1"


def beyond_capabilities(capabilities: Capabilities, grant: Grant) -> list[str]:
    if capabilities.unscoped:
        # nothing it could scope: the adapter refuses unless the provider opted in to unscoped keys
        return ["an encryption passphrase per request (passphraseSecretRef)"] if grant.passphrase_ref else []
    missing = sorted(str(p) for p in grant.permissions - capabilities.permissions)
    found = [f"permission(s) {', '.join(missing)}"] if missing else []
    if not capabilities.prefix_scope and any(b.prefix for b in grant.buckets):
        found.append("object-key prefixes (it scopes keys to whole buckets only)")
    if grant.passphrase_ref is not None and not capabilities.request_passphrase:
        found.append(
            "an encryption passphrase per request (passphraseSecretRef): only a Storj provider whose "
            "spec.storj.passphrase.allowRequestPassphrases is true uses one"
        )
    return found


def session_refusals(capabilities: Capabilities, problem: str | None) -> list[str]:
    """credentialType sts: the provider must make STS sessions, and one must fit the request's lifetime."""
    if not capabilities.sessions:
        return ["STS sessions (credentialType sts: keyfob makes them at aws and minio providers)"]
    return [problem] if problem else []


def inexpressible(inputs: Inputs) -> Verdict | None:
    provider = inputs.provider
    if provider is None:
        return None
    view = inputs.view
    if view.spec.credential_type is CredentialType.STS:
        problem = session_problem(view.spec, effective_ttl(provider.spec.guardrails), inputs.now)
        found = session_refusals(provider.adapter.capabilities, problem)
        if found:
            return Verdict(Reason.UNSUPPORTED, f"{provider.label} cannot express: {'; '.join(found)}")
    life = lifetime(view.spec, effective_ttl(provider.spec.guardrails), inputs.now, view.uid, view.status.revision + 1)
    grant = grant_for(view, PROBE_NAME, view.status.revision + 1, life.expires_at, session_seconds=life.session_seconds)
    adapter = provider.adapter
    found = beyond_capabilities(adapter.capabilities, grant)
    found += [p for p in adapter.unsupported(grant) if p not in found]
    if found:
        return Verdict(Reason.UNSUPPORTED, f"{provider.label} cannot express: {'; '.join(found)}")
    retain = view.spec.deletion_policy is DeletionPolicy.RETAIN
    if retain and not adapter.capabilities.native_expiry and not provider.spec.guardrails.allow_retain:
        return Verdict(
            Reason.DENIED,
            f"deletionPolicy Retain: {provider.label} cannot expire keys itself, so a retained key would never be "
            "revoked; the provider's guardrails must set allowRetain: true",
        )
    return None
