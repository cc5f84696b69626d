"""Issue, rotate, re-render, expire and revoke: the ordered writes that keep invariant 2 (nothing lost, nothing
leaked) across crashes.

Order of writes for a new key (each step is safe to crash after):
1. status.pending = {revision, keyName}   -> a crash leaves a record naming the key about to exist
2. provider.issue(keyName)               -> a crash leaves a key the next reconcile replaces (same name)
3. Secret written (annotated revision)    -> a crash leaves a Secret the next reconcile adopts
4. status: current key, previous key with revokeAfter, pending cleared
Previous keys are revoked when their grace period is over, then dropped from status.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from keyfob.api.common import ConditionStatus
from keyfob.api.request import ExpiryEnforcement, KeyRecord, PendingIssue
from keyfob.api.vocabulary import bucket_name_problem, parse_duration, prefix_problem
from keyfob.contract import (
    BucketGrant,
    Grant,
    KeyRef,
    ProviderError,
    ProviderRejected,
    ProviderThrottled,
    RequestIdentity,
)
from keyfob.contract.naming import key_name
from keyfob.lifecycle import guardrails
from keyfob.lifecycle.approval import approval_gate
from keyfob.lifecycle.conditions import READY, Reason, set_condition
from keyfob.lifecycle.crashpoints import crashpoint
from keyfob.lifecycle.fingerprint import render_hash, scope_hash
from keyfob.lifecycle.outcome import Outcome
from keyfob.lifecycle.plan import IssueReason, Plan, decide
from keyfob.lifecycle.ports import (
    ClusterPort,
    OwnerInfo,
    ProviderLookupError,
    ProviderPort,
    ResolvedProvider,
    SecretConflict,
)
from keyfob.lifecycle.request_view import RequestView
from keyfob.lifecycle.secret_manifest import build_secret, secret_state, secret_warnings
from keyfob.lifecycle.timing import lifetime
from keyfob.secrets.extract import extract_key_pair
from keyfob.secrets.formats import Credential, render_data

RETRY_LOOKUP = 30.0
ROLLOUT_ANNOTATION = "keyfob.dev/revision"


RETRY_PROVIDER = 10.0
RETRY_REJECTED = 300.0


def spec_problems(view: RequestView) -> list[str]:
    """What the CRD schema already refuses, checked again so the operator never relies on it alone."""
    problems = [p for b in view.spec.buckets for p in (bucket_name_problem(b.name), prefix_problem(b.prefix or ""))]
    return [p for p in problems if p]


class RequestReconciler:
    def __init__(
        self,
        cluster: ClusterPort,
        providers: ProviderPort,
        clock: Callable[[], datetime],
    ) -> None:
        self.cluster = cluster
        self.providers = providers
        self.clock = clock

    # ---- entry points -------------------------------------------------------------------------------------

    def reconcile(self, view: RequestView) -> Outcome:
        out = Outcome(provider=f"{view.spec.provider_ref.kind.value}/{view.spec.provider_ref.name}")
        run = _Run(self, view, out)
        try:
            run.execute()
        finally:
            out.status = run.status
        return out

    def finalize(self, view: RequestView) -> Outcome:
        """Revoke every key the request holds (unless Retain); the caller releases the finalizer when done."""
        out = Outcome()
        _Run(self, view, out).finalize()
        return out


class _Run:
    """One reconcile of one request: carries the status as it is being rewritten."""

    def __init__(self, owner: RequestReconciler, view: RequestView, out: Outcome) -> None:
        self.cluster = owner.cluster
        self.providers = owner.providers
        self.now = owner.clock()
        self.view = view
        self.status = view.status.model_copy(deep=True)
        self.resource_version = view.resource_version
        self.out = out

    # ---- status helpers -----------------------------------------------------------------------------------

    def _save(self) -> None:
        self.status.observed_generation = self.view.generation
        # Guarded by the resourceVersion read at the start: a concurrent write (an approver's condition, a spec
        # change) makes this raise StatusConflict instead of being overwritten; the caller re-reads and retries.
        self.resource_version = self.cluster.patch_request_status(
            self.view.namespace, self.view.name, self.status.model_dump(mode="json", by_alias=True),
            self.resource_version,
        )

    def _ready(self, status: ConditionStatus, reason: str, message: str) -> None:
        self.status.conditions = set_condition(
            self.status.conditions, READY, status, reason, message, self.now, self.view.generation
        )

    def _fail(self, reason: str, message: str, retry: float | None) -> None:
        changed = self._ready_differs(ConditionStatus.FALSE, reason, message)
        self._ready(ConditionStatus.FALSE, reason, message)
        self._save()
        if changed:
            self.out.warning(reason, message)
        self.out.retry_after = retry

    def _ready_differs(self, status: ConditionStatus, reason: str, message: str) -> bool:
        current = self.status.condition(READY)
        return current is None or (current.status, current.reason, current.message) != (status, reason, message)

    # ---- reconcile ----------------------------------------------------------------------------------------

    def execute(self) -> None:
        view = self.view
        problems = spec_problems(view)
        if problems:
            return self._fail(Reason.INVALID, "; ".join(problems), None)
        snapshot = self.cluster.get_secret(view.namespace, view.spec.secret_name)
        if snapshot is not None and snapshot.controller_uid != view.uid:
            return self._fail(
                Reason.SECRET_CONFLICT,
                f"Secret {view.spec.secret_name!r} exists and is not owned by this request; keyfob will not "
                "overwrite it. Delete it or choose another secretName.",
                RETRY_LOOKUP,
            )
        try:
            provider = self.providers.resolve(view.namespace, view.spec.provider_ref)
        except ProviderLookupError as err:
            return self._fail(err.reason, str(err), RETRY_LOOKUP)
        denied = guardrails.denials(
            namespace=view.namespace,
            namespace_labels=self.cluster.namespace_labels(view.namespace),
            spec=view.spec,
            provider_kind=provider.kind,
            guardrails=provider.spec.guardrails,
            now=self.now,
        )
        if denied:
            if self._revoke_all(provider, why="no longer allowed by the provider's guardrails"):
                self._save()
            return self._fail(Reason.DENIED, "; ".join(denied), None)
        probe_life = lifetime(
            view.spec, guardrails.effective_ttl(provider.spec.guardrails), self.now, view.uid, self.status.revision + 1
        )
        unsupported = provider.adapter.unsupported(self._grant(provider, "kf-probe", 0, probe_life.expires_at))
        if unsupported:
            return self._fail(Reason.UNSUPPORTED, f"{provider.label} cannot express: {'; '.join(unsupported)}", None)

        plan = decide(
            status=self.status,
            secret=secret_state(snapshot) if snapshot else None,
            scope=scope_hash(view.spec),
            render=render_hash(view.spec),
            absolute_expiry=view.spec.expires_at,
            rotate_token=view.rotate_token,
            now=self.now,
        )
        if provider.spec.guardrails.require_approval and plan.issue in (
            IssueReason.INITIAL, IssueReason.SCOPE_CHANGED
        ):
            gate = approval_gate(view)
            if gate is not None:
                return self._fail(gate[0], gate[1], None)
        try:
            self._apply(plan, provider)
        except ProviderError as err:
            self._provider_failed(err)

    def _apply(self, plan: Plan, provider: ResolvedProvider) -> None:
        if plan.expire_current:
            self._expire_current(provider)
        if plan.adopt_pending:
            self._adopt_pending(provider)
        elif plan.resume_pending:
            assert self.status.pending is not None
            self._issue(provider, self.status.pending)
        elif plan.issue:
            revision = self.status.revision + 1
            pending = PendingIssue(
                revision=revision, key_name=key_name(self.view.uid, revision), reason=plan.issue, started_at=self.now
            )
            self.status.pending = pending
            if self.status.access_key_id is None:
                self._ready(ConditionStatus.FALSE, Reason.ISSUING, f"issuing revision {revision}")
            self._save()
            crashpoint("after-pending")
            self._issue(provider, pending)
        elif plan.rerender:
            self._rerender(provider)
        if plan.expired:
            self._ready(ConditionStatus.FALSE, Reason.EXPIRED, "the request's expiresAt has passed")
            self._save()
        self._roll_out()
        self._revoke_previous(provider)
        if not plan.expired:
            self._settle_ready(provider)

    def _roll_out(self) -> None:
        """After a rotation, roll the workloads that read the key as env vars, once per revision (the patch is
        idempotent: the same annotation value does not roll again, so a crash before the status write is safe)."""
        status, targets = self.status, self.view.spec.restart_targets
        if not targets or status.revision <= 1 or status.rolled_out_revision == status.revision:
            return
        if status.access_key_id is None or status.pending is not None:
            return
        for target in targets:
            found = self.cluster.annotate_pod_template(
                self.view.namespace, target.kind, target.name, ROLLOUT_ANNOTATION, str(status.revision)
            )
            if found:
                self.out.normal("RolledOut", f"{target.kind} {target.name!r} rolled for revision {status.revision}")
            else:
                self.out.warning("RolloutTargetMissing", f"{target.kind} {target.name!r} not found")
        status.rolled_out_revision = status.revision
        self._save()

    def _grant(self, provider: ResolvedProvider, name: str, revision: int, expires_at: datetime | None) -> Grant:
        spec = self.view.spec
        return Grant(
            key_name=name,
            request=RequestIdentity(self.view.namespace, self.view.name, self.view.uid),
            revision=revision,
            buckets=tuple(BucketGrant(b.name, b.prefix) for b in spec.buckets),
            permissions=frozenset(spec.permissions),
            expires_at=expires_at if expires_at is not None else spec.expires_at,
        )

    def _issue(self, provider: ResolvedProvider, pending: PendingIssue) -> None:
        spec = self.view.spec
        default_ttl = guardrails.effective_ttl(provider.spec.guardrails)
        life = lifetime(spec, default_ttl, self.now, self.view.uid, pending.revision)
        grant = self._grant(provider, pending.key_name, pending.revision, life.expires_at)
        started = time.monotonic()
        key = provider.adapter.issue(grant)
        self.out.issue_seconds.append(time.monotonic() - started)
        crashpoint("after-provider-issue")
        connection = provider.adapter.connection()
        credential = Credential(
            access_key_id=key.access_key_id,
            secret_access_key=key.secret_access_key,
            endpoint=connection.endpoint,
            region=connection.region,
            buckets=tuple(b.name for b in spec.buckets),
            expires_at=key.expires_at,
        )
        self._write_secret(credential, key.key_name, pending.revision, self.now, key.expires_at, key.warnings)
        crashpoint("after-secret-write")
        self._finish(provider, pending, key.access_key_id, self.now, key.expires_at, key.expiry_native, key.warnings)

    def _write_secret(
        self,
        cred: Credential,
        name: str,
        revision: int,
        issued_at: datetime,
        expires_at: datetime | None,
        warnings: tuple[str, ...] = (),
    ) -> None:
        spec = self.view.spec
        manifest = build_secret(
            owner=OwnerInfo(self.view.api_version, self.view.kind, self.view.name, self.view.uid),
            namespace=self.view.namespace,
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
        previous = self.cluster.get_secret(self.view.namespace, spec.secret_name)
        if previous is not None and previous.controller_uid != self.view.uid:
            raise SecretConflict(f"Secret {spec.secret_name!r} appeared and is not owned by this request")
        self.cluster.write_secret(self.view.namespace, manifest, previous)

    def _finish(
        self,
        provider: ResolvedProvider,
        pending: PendingIssue,
        access_key_id: str,
        issued_at: datetime,
        expires_at: datetime | None,
        native: bool,
        warnings: tuple[str, ...] = (),
    ) -> None:
        status = self.status
        if status.access_key_id and status.key_name:
            grace_end = self.now + parse_duration(self.view.spec.rotation_grace_period)
            if pending.reason == IssueReason.SECRET_LOST:
                grace_end = self.now  # nobody can be using a key whose secret is gone
            if status.expires_at is not None:
                grace_end = min(grace_end, status.expires_at)  # grace never outlives the key's own expiry
            status.previous_keys.append(
                KeyRecord(access_key_id=status.access_key_id, key_name=status.key_name, revoke_after=grace_end)
            )
        default_ttl = guardrails.effective_ttl(provider.spec.guardrails)
        life = lifetime(self.view.spec, default_ttl, issued_at, self.view.uid, pending.revision)
        status.access_key_id = access_key_id
        status.key_name = pending.key_name
        status.revision = pending.revision
        status.issued_at = issued_at
        status.expires_at = expires_at
        status.renewal_time = life.renewal_time
        status.expiry_enforced_by = ExpiryEnforcement.PROVIDER if native else ExpiryEnforcement.OPERATOR
        status.scope_hash = scope_hash(self.view.spec)
        status.provider = provider.label
        status.pending = None
        if pending.reason == IssueReason.ROTATE_REQUESTED or self.view.rotate_token:
            status.rotate_request_handled = self.view.rotate_token
        message = f"revision {pending.revision} issued ({pending.reason}), access key {access_key_id}"
        if warnings:
            message += f"; WARNING {'; '.join(warnings)}"
        self._ready(ConditionStatus.TRUE, Reason.ISSUED, message)
        self._save()
        self.out.normal(Reason.ISSUED, message)
        for warning in warnings:
            self.out.warning("KeyWarning", warning)
        self.out.issued.append(pending.reason)

    def _adopt_pending(self, provider: ResolvedProvider) -> None:
        """Crash after the Secret write: the Secret holds the pending key; take its public facts into status."""
        pending = self.status.pending
        assert pending is not None
        snapshot = self.cluster.get_secret(self.view.namespace, self.view.spec.secret_name)
        assert snapshot is not None
        annotations = snapshot.annotations
        issued_at = datetime.fromisoformat(annotations["keyfob.dev/issued-at"])
        expires = annotations.get("keyfob.dev/expires-at")
        self._finish(
            provider,
            pending,
            annotations["keyfob.dev/access-key-id"],
            issued_at,
            datetime.fromisoformat(expires) if expires else None,
            provider.adapter.capabilities.native_expiry,
            secret_warnings(snapshot),
        )

    def _rerender(self, provider: ResolvedProvider) -> None:
        snapshot = self.cluster.get_secret(self.view.namespace, self.view.spec.secret_name)
        pair = extract_key_pair(snapshot.data) if snapshot else None
        if pair is None or pair[0] != self.status.access_key_id or not self.status.key_name:
            return  # unreadable: treat like a lost Secret on the next pass
        connection = provider.adapter.connection()
        credential = Credential(
            access_key_id=pair[0],
            secret_access_key=pair[1],
            endpoint=connection.endpoint,
            region=connection.region,
            buckets=tuple(b.name for b in self.view.spec.buckets),
            expires_at=self.status.expires_at,
        )
        issued_at = self.status.issued_at or self.now
        warnings = secret_warnings(snapshot) if snapshot else ()
        self._write_secret(
            credential, self.status.key_name, self.status.revision, issued_at, self.status.expires_at, warnings
        )
        self.out.normal("SecretUpdated", f"Secret {self.view.spec.secret_name!r} re-rendered, same key")

    def _expire_current(self, provider: ResolvedProvider) -> None:
        status = self.status
        if status.access_key_id and status.key_name:
            status.previous_keys.append(
                KeyRecord(access_key_id=status.access_key_id, key_name=status.key_name, revoke_after=self.now)
            )
            message = f"access key {status.access_key_id} expired at {status.expires_at}; revoking it"
            status.access_key_id = None
            status.key_name = None
            status.renewal_time = None
            self._ready(ConditionStatus.FALSE, Reason.EXPIRED, message)
            self._save()
            self.out.warning(Reason.EXPIRED, message)

    def _revoke_previous(self, provider: ResolvedProvider) -> None:
        due = [k for k in self.status.previous_keys if k.revoke_after is None or k.revoke_after <= self.now]
        for record in due:
            if not provider.adapter.capabilities.revocable:
                # Nothing to call: the provider cannot revoke single keys; each expires at its own not-after.
                self.status.previous_keys = [k for k in self.status.previous_keys if k.key_name != record.key_name]
                self._save()
                self.out.normal("ExpiresOnly", f"previous access key {record.access_key_id} not revocable: "
                                "it stays valid until its own expiry")
                continue
            provider.adapter.revoke(KeyRef(record.key_name, self.view.uid, record.access_key_id))
            crashpoint("after-provider-revoke")
            self.status.previous_keys = [k for k in self.status.previous_keys if k.key_name != record.key_name]
            self._save()
            word = provider.adapter.capabilities.revoked_word
            self.out.normal(Reason.REVOKED, f"previous access key {record.access_key_id} {word}")
            self.out.revoked += 1

    def _revoke_all(self, provider: ResolvedProvider, why: str) -> bool:
        refs = self._held_keys() if provider.adapter.capabilities.revocable else []
        for ref in refs:
            provider.adapter.revoke(ref)
            word = provider.adapter.capabilities.revoked_word
            self.out.warning(Reason.REVOKED, f"access key {ref.access_key_id or ref.key_name} {word}: {why}")
        if refs:
            status = self.status
            status.access_key_id = status.key_name = None
            status.pending = None
            status.previous_keys = []
            status.renewal_time = None
        return bool(refs)

    def _held_keys(self) -> list[KeyRef]:
        status = self.status
        refs: dict[str, KeyRef] = {}
        if status.key_name:
            refs[status.key_name] = KeyRef(status.key_name, self.view.uid, status.access_key_id)
        if status.pending:
            refs.setdefault(status.pending.key_name, KeyRef(status.pending.key_name, self.view.uid))
        for record in status.previous_keys:
            refs.setdefault(record.key_name, KeyRef(record.key_name, self.view.uid, record.access_key_id))
        return list(refs.values())

    def _settle_ready(self, provider: ResolvedProvider) -> None:
        """Nothing to do at the provider: make sure the condition says Ready (e.g. after a transient failure)."""
        status = self.status
        if status.access_key_id is None:
            return
        message = f"revision {status.revision} issued, access key {status.access_key_id}"
        current = status.condition(READY)
        stale = self.view.generation != status.observed_generation
        if current is None or current.status != ConditionStatus.TRUE or stale:
            self._ready(ConditionStatus.TRUE, Reason.ISSUED, message)
            self._save()

    def _provider_failed(self, err: ProviderError) -> None:
        self.out.failures.append(type(err).__name__)
        retry = RETRY_REJECTED if isinstance(err, ProviderRejected) else RETRY_PROVIDER
        if isinstance(err, ProviderThrottled) and err.retry_after:
            retry = max(err.retry_after, 1.0)
        message = f"provider call failed: {err}"
        if isinstance(err, ProviderThrottled):
            # Throttling is back-pressure, not failure: retry after the provider's hint, say so, stay calm.
            message = f"provider is throttling; retrying in {retry:.0f}s: {err}"
            self.out.normal(Reason.THROTTLED, message)
            self.out.retry_after = retry
            if self.status.access_key_id is None:
                self._ready(ConditionStatus.FALSE, Reason.ISSUING, message)
            self._save()
            return
        if self.status.access_key_id is not None:
            # The current key still works: stay Ready, but say what is failing.
            self.out.warning(Reason.PROVIDER_ERROR, message)
            self.out.retry_after = retry
            self._save()
            return
        self._fail(Reason.PROVIDER_ERROR, message, retry)

    # ---- deletion -----------------------------------------------------------------------------------------

    def finalize(self) -> None:
        view = self.view
        if view.spec.deletion_policy.value == "Retain":
            self.cluster.release_secret(view.namespace, view.spec.secret_name, view.uid)
            self.out.normal("Retained", "deletionPolicy Retain: key and Secret kept, Secret no longer owned")
            return
        refs = self._held_keys()
        if refs:
            try:
                provider = self.providers.resolve(view.namespace, view.spec.provider_ref)
            except ProviderLookupError as err:
                fallback = self.providers.last_known(view.namespace, view.spec.provider_ref)
                if fallback is None:
                    self.out.warning(err.reason, f"cannot revoke yet: {err}")
                    self.out.retry_after = RETRY_LOOKUP
                    return
                provider = fallback  # e.g. namespace deletion removed the admin Secret first
            if not provider.adapter.capabilities.revocable:
                self.out.warning(
                    "ExpiresOnly",
                    f"{provider.label} cannot revoke single keys: they stay valid until {self.status.expires_at}",
                )
                refs = []
            try:
                for ref in refs:
                    provider.adapter.revoke(ref)
                    crashpoint("after-provider-revoke")
                    word = provider.adapter.capabilities.revoked_word
                    self.out.normal(Reason.REVOKED, f"access key {ref.access_key_id or ref.key_name} {word}")
                    self.out.revoked += 1
            except ProviderError as err:
                self.out.warning(Reason.PROVIDER_ERROR, f"revocation failed, will retry: {err}")
                self.out.retry_after = RETRY_PROVIDER
                return
        self.cluster.delete_secret(view.namespace, view.spec.secret_name, view.uid)

