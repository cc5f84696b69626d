"""One reconcile of one request: a small dispatcher. It gathers the inputs once, runs the policy chains, and
dispatches the jobs the plans name; it decides nothing itself.

Order: (1) a status keyfob could not have written stops everything; (2) keys due for retirement are retired at
the providers that issued them, whatever the spec says now; (3) the admission chain (spec, Secret ownership,
provider lookup, guardrails, expressibility) may stop the request, revoking its keys on a guardrail denial;
(4) the plan says whether to issue (then quota and approval gate it), re-render, or nothing; (5) roll-out and
readiness.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from keyfob.api.common import ConditionStatus
from keyfob.api.request import CredentialType, DeletionPolicy
from keyfob.contract import ProviderError
from keyfob.lifecycle.conditions import Reason
from keyfob.lifecycle.inputs import Inputs, Usage
from keyfob.lifecycle.issue_log import IssueLog
from keyfob.lifecycle.issuer import current_issuer
from keyfob.lifecycle.jobs import issue, readiness, render, retire, rollout
from keyfob.lifecycle.jobs.book import StatusBook
from keyfob.lifecycle.jobs.resolve import issuer_of
from keyfob.lifecycle.jobs.unfinished import UnfinishedIssues
from keyfob.lifecycle.outcome import Outcome
from keyfob.lifecycle.plan import decide, retirement
from keyfob.lifecycle.policies import approval, expressible, guardrails, quota, spec, suspension, tampering
from keyfob.lifecycle.policies.verdict import Verdict, first
from keyfob.lifecycle.ports import ClusterPort, ProviderLookupError, ProviderPort
from keyfob.lifecycle.request_view import RequestView

RETRY_LOOKUP = 30.0
# Suspension comes first (before the Secret and provider checks too): break-glass beats every other answer.
ADMISSION = (suspension.suspended, spec.invalid_spec, guardrails.denied, expressible.inexpressible)


def _secret_conflict(inputs: Inputs) -> Verdict | None:
    secret = inputs.secret
    if secret is None or secret.controller_uid == inputs.view.uid:
        return None
    return Verdict(Reason.SECRET_CONFLICT, f"Secret {inputs.view.spec.secret_name!r} exists and is not owned by this "
                   "request; keyfob will not overwrite it. Delete it or choose another secretName.", RETRY_LOOKUP)


class RequestReconciler:
    def __init__(self, cluster: ClusterPort, providers: ProviderPort, clock: Callable[[], datetime]) -> None:
        self.cluster = cluster
        self.providers = providers
        self.clock = clock
        self.issue_log = IssueLog()
        self.unfinished = UnfinishedIssues()  # issued keys whose Kubernetes writes failed, for the retry

    def reconcile(self, view: RequestView) -> Outcome:
        out = Outcome(provider=f"{view.spec.provider_ref.kind.value}/{view.spec.provider_ref.name}")
        book = StatusBook(self.cluster, view, self.clock(), out)
        try:
            self._run(book)
        finally:
            out.status = book.status
        return out

    def _run(self, book: StatusBook) -> None:
        view = book.view
        tampered = tampering.tampered_status(Inputs(view, book.now, None))
        if tampered is not None:
            self.unfinished.forget(view.uid)
            return book.fail(tampered)
        retire.apply_retirement(book, self.providers, retirement(book.status, view.spec, book.now))
        inputs = self._gather(book)
        if not self._admitted(book, inputs, suspension.suspended(inputs) or _secret_conflict(inputs)):
            return None
        plan = decide(inputs)
        if plan.issue is not None:
            # The provider came from the watch; a key is made only under the guardrails as they are now.
            inputs = self._gather(book, fresh=True)
            if not self._admitted(book, inputs):
                return None
            plan = decide(inputs)
        if plan.issue is None:
            self.unfinished.forget(view.uid)
        provider = inputs.provider
        assert provider is not None
        try:
            if plan.issue is not None:
                gate = quota.over_quota(self._with_usage(inputs), plan.issue) or approval.unapproved(inputs)
                if gate is not None:
                    self.unfinished.forget(view.uid)
                    return book.hold(gate) if gate.reason == Reason.QUOTA_EXCEEDED else book.fail(gate)
                issue.issue(book, provider, plan.issue, plan.immediate_grace, self.unfinished)
                self.issue_log.record(provider.label, view.namespace, book.now)
            elif plan.rerender:
                render.rerender(book, provider, inputs.secret)
            if plan.expired:
                book.ready(ConditionStatus.FALSE, Reason.EXPIRED, "the request's expiresAt has passed")
                book.save()
                return
            if rollout.due(book):
                rollout.roll_out(book)
            retire.revoke_due(book, self.providers)
            readiness.settle_ready(book)
        except ProviderError as err:
            readiness.provider_failed(book, err)

    def _admitted(self, book: StatusBook, inputs: Inputs, early: Verdict | None = None) -> bool:
        """The admission chain (provider lookup, spec, guardrails, expressibility); a denial fails the request
        and, for a guardrail, revokes what it holds."""
        verdict = early or self._lookup_verdict(inputs) or first(ADMISSION, inputs)
        if verdict is None:
            return True
        self.unfinished.forget(book.view.uid)  # a key kept for a retry is reused only by the issue it belongs to
        if verdict.revoke_held:
            self._revoke_held(book, verdict)
        book.fail(verdict)
        return False

    def _revoke_held(self, book: StatusBook, verdict: Verdict) -> None:
        # An STS session may outlive its revocation (AWS cannot end one): take it out of the Secret too, so no new
        # reader picks it up; it dies at its own session end.
        session = book.status.credential_type is CredentialType.STS
        if verdict.reason != Reason.SUSPENDED:
            retire.revoke_held(book, self.providers, "no longer allowed by the provider's guardrails")
        else:
            before = book.out.revoked
            retire.revoke_held(book, self.providers, verdict.message)
            book.out.suspended_revoked += book.out.revoked - before
        if session and book.status.key_name is None:
            self.cluster.delete_secret(book.view.namespace, book.view.spec.secret_name, book.view.uid)

    def _gather(self, book: StatusBook, *, fresh: bool = False) -> Inputs:
        view = book.view
        secret = self.cluster.get_secret(view.namespace, view.spec.secret_name)
        try:
            provider = self.providers.resolve(view.namespace, view.spec.provider_ref, fresh=fresh)
        except ProviderLookupError as err:
            return Inputs(view, book.now, secret, lookup_error=err)
        labels = self.cluster.namespace_labels(view.namespace) if provider.spec.guardrails.allowed_namespaces else {}
        return Inputs(view, book.now, secret, provider, namespace_labels=labels)

    def _lookup_verdict(self, inputs: Inputs) -> Verdict | None:
        err = inputs.lookup_error
        return Verdict(err.reason, str(err), RETRY_LOOKUP) if err is not None else None

    def _with_usage(self, inputs: Inputs) -> Inputs:
        provider = inputs.provider
        assert provider is not None
        rails, view = provider.spec.guardrails, inputs.view
        live = 0
        if rails.max_keys_per_namespace is not None:
            live = quota.live_keys(self.cluster.list_requests(view.namespace), view.spec.provider_ref, view.uid)
        issued = self.issue_log.count(provider.label, view.namespace, inputs.now)
        return Inputs(view, inputs.now, inputs.secret, provider, None, inputs.namespace_labels, Usage(live, issued))

    def finalize(self, view: RequestView) -> Outcome:
        """Revoke every key the request holds (unless Retain is allowed); the caller releases the finalizer when
        the outcome asks for no retry."""
        out = Outcome()
        self.unfinished.forget(view.uid)
        book = StatusBook(self.cluster, view, self.clock(), out)
        if view.spec.deletion_policy is DeletionPolicy.RETAIN and self._retain_allowed(book):
            self.cluster.release_secret(view.namespace, view.spec.secret_name, view.uid)
            out.normal("Retained", "deletionPolicy Retain: key and Secret kept, Secret no longer owned")
            return out
        if tampering.tampered_status(Inputs(view, book.now, None)) is not None:
            out.warning(Reason.STATUS_TAMPERED, "status was not written by keyfob: no key revoked from it")
        elif not retire.revoke_held(book, self.providers, "the request is being deleted"):
            out.retry_after = out.retry_after or RETRY_LOOKUP
            return out
        self.cluster.delete_secret(view.namespace, view.spec.secret_name, view.uid)
        return out

    def _retain_allowed(self, book: StatusBook) -> bool:
        ref = current_issuer(book.status, book.view.spec.provider_ref)
        try:
            provider = issuer_of(self.providers, book.view.namespace, ref)
        except ProviderLookupError:
            return False
        return provider.adapter.capabilities.native_expiry or provider.spec.guardrails.allow_retain
