"""Operator settings, read once from the environment (the Helm chart sets these)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from keyfob.contract.naming import InvalidClusterId, check_cluster_id


@dataclass(frozen=True)
class Settings:
    cluster_id: str = "default"
    cluster_resource_namespace: str = "keyfob-system"
    # Full re-evaluation of every request (namespace labels, anything a watch could have missed). Secret and
    # provider changes, due times and approvals wake a request at once; this is the backstop.
    resync_seconds: float = 3600.0
    provider_check_seconds: float = 300.0
    sweep_seconds: float = 600.0  # orphan sweep per provider object
    sweep_initial_delay: float = 30.0  # first sweep after start (lets in-flight issues settle)
    max_workers: int = 20
    namespaces: tuple[str, ...] = field(default_factory=tuple)  # empty: cluster-wide
    shard_labels: dict[str, str] = field(default_factory=dict)  # only objects with these labels (sharding)
    metrics_port: int | None = None
    # A watch that delivers nothing (not even a bookmark, which the API server sends about every minute) for this
    # long is a zombie and is replaced; tests shorten it to see a frozen connection replaced.
    watch_inactivity_seconds: float = 90.0

    def __post_init__(self) -> None:
        try:
            check_cluster_id(self.cluster_id)
        except InvalidClusterId as err:
            raise ValueError(f"KEYFOB_CLUSTER_ID: {err}") from None


def from_env(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    namespaces = tuple(n for n in env.get("KEYFOB_NAMESPACES", "").replace(",", " ").split() if n)
    return Settings(
        cluster_id=env.get("KEYFOB_CLUSTER_ID", "default"),
        cluster_resource_namespace=env.get("KEYFOB_CLUSTER_RESOURCE_NAMESPACE", "keyfob-system"),
        resync_seconds=float(env.get("KEYFOB_RESYNC_SECONDS", "3600")),
        provider_check_seconds=float(env.get("KEYFOB_PROVIDER_CHECK_SECONDS", "300")),
        sweep_seconds=float(env.get("KEYFOB_SWEEP_SECONDS", "600")),
        sweep_initial_delay=float(env.get("KEYFOB_SWEEP_INITIAL_DELAY", "30")),
        max_workers=int(env.get("KEYFOB_MAX_WORKERS", "20")),
        namespaces=namespaces,
        shard_labels=parse_labels(env.get("KEYFOB_SHARD_SELECTOR", "")),
        metrics_port=int(env["KEYFOB_METRICS_PORT"]) if env.get("KEYFOB_METRICS_PORT") else None,
        watch_inactivity_seconds=float(env.get("KEYFOB_WATCH_INACTIVITY_SECONDS", "90")),
    )


def parse_labels(text: str) -> dict[str, str]:
    """'team=a,tier=prod' -> {'team': 'a', 'tier': 'prod'} (equality selectors only)."""
    labels: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"KEYFOB_SHARD_SELECTOR: {part!r} is not key=value")
        labels[key.strip()] = value.strip()
    return labels


def default_lease_name(shard_labels: dict[str, str]) -> str:
    """The Lease a replica elects on when KEYFOB_LEASE_NAME is unset: one per shard selector, so two shards never
    share a Lease (which would leave one shard with a standby and no leader)."""
    if not shard_labels:
        return "keyfob"
    canonical = ",".join(f"{k}={v}" for k, v in sorted(shard_labels.items()))
    return f"keyfob-shard-{hashlib.sha256(canonical.encode()).hexdigest()[:10]}"
