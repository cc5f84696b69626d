"""The request itself: what the CRD schema already refuses, checked again so the operator never relies on the
API server alone (a cluster without the CEL rules, an older CRD), and lifetimes keyfob cannot honour."""

from __future__ import annotations

from datetime import timedelta

from keyfob.api.request import SESSION_MAX_SECONDS, SESSION_MIN_SECONDS, AccessKeyRequestSpec, CredentialType
from keyfob.api.vocabulary import MIN_LIFETIME_SECONDS, bucket_name_problem, parse_duration, prefix_problem
from keyfob.lifecycle.conditions import Reason
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.policies.verdict import Verdict
from keyfob.secrets.formats import SESSION_FORMATS

MIN_LIFETIME = timedelta(seconds=MIN_LIFETIME_SECONDS)


def spec_problems(spec: AccessKeyRequestSpec) -> list[str]:
    problems = [p for b in spec.buckets for p in (bucket_name_problem(b.name), prefix_problem(b.prefix or ""))]
    for field, value in (("ttl", spec.ttl), ("renewBefore", spec.renew_before),
                         ("rotationGracePeriod", spec.rotation_grace_period)):
        if value is None:
            continue
        try:
            parsed = parse_duration(value)
        except ValueError as err:
            problems.append(f"{field}: {err}")
            continue
        if field == "ttl" and parsed < MIN_LIFETIME:
            problems.append(f"ttl: {value} is shorter than keyfob's minimum lifetime of 5m")
    problems += session_spec_problems(spec)
    return [p for p in problems if p]


def session_spec_problems(spec: AccessKeyRequestSpec) -> list[str]:
    """credentialType sts: a session length STS accepts, and only Secret formats that can carry a session token."""
    if spec.credential_type is not CredentialType.STS:
        return []
    problems: list[str] = []
    if spec.session_duration is not None:
        try:
            seconds = parse_duration(spec.session_duration).total_seconds()
        except ValueError as err:
            return [f"sessionDuration: {err}"]
        if not SESSION_MIN_SECONDS <= seconds <= SESSION_MAX_SECONDS:
            problems.append(f"sessionDuration: {spec.session_duration} is outside STS's 15m..12h")
    unfit = sorted(str(f) for f in spec.secret_formats if f not in SESSION_FORMATS)
    if unfit:
        problems.append(f"secretFormats: {', '.join(unfit)} cannot carry an STS session token (credentialType sts "
                        f"needs {', '.join(str(f) for f in SESSION_FORMATS)})")
    return problems


def invalid_spec(inputs: Inputs) -> Verdict | None:
    problems = spec_problems(inputs.view.spec)
    return Verdict(Reason.INVALID, "; ".join(problems)) if problems else None
