"""The request itself: what the CRD schema already refuses, checked again so the operator never relies on the
API server alone (a cluster without the CEL rules, an older CRD), and lifetimes keyfob cannot honour."""

from __future__ import annotations

from datetime import timedelta

from keyfob.api.request import AccessKeyRequestSpec
from keyfob.api.vocabulary import MIN_LIFETIME_SECONDS, bucket_name_problem, parse_duration, prefix_problem
from keyfob.lifecycle.conditions import Reason
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.policies.verdict import Verdict

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
    return [p for p in problems if p]


def invalid_spec(inputs: Inputs) -> Verdict | None:
    problems = spec_problems(inputs.view.spec)
    return Verdict(Reason.INVALID, "; ".join(problems)) if problems else None
