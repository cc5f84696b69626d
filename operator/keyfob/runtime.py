"""Process-wide objects the handlers share: settings, Kubernetes clients, the watch-fed caches, the provider
resolver, the reconciler and the one schedule of every request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from keyfob.cached_cluster import CachedCluster
from keyfob.config import Settings
from keyfob.kube import KubeCluster, load_api_client
from keyfob.leadership import Fence
from keyfob.lifecycle.reconciler import RequestReconciler
from keyfob.metrics import Metrics
from keyfob.provider_access import ProviderResolver
from keyfob.scheduler import JobResult, Scheduler, Target
from keyfob.watch_cache import OwnWrites, ProviderCache, SecretCache


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Runtime:
    settings: Settings
    kube: KubeCluster  # the API server, uncached
    cluster: CachedCluster  # the lifecycle's view: reads through the watch-fed caches
    resolver: ProviderResolver
    reconciler: RequestReconciler
    scheduler: Scheduler
    fence: Fence = field(default_factory=Fence.open)
    metrics: Metrics = field(default_factory=Metrics)
    secrets: SecretCache = field(default_factory=SecretCache)
    providers: ProviderCache = field(default_factory=ProviderCache)

    @classmethod
    def create(cls, settings: Settings, fence: Fence | None = None,
               run_job: Callable[[Runtime, Target], JobResult] | None = None) -> Runtime:
        """`fence` (leader election): every Kubernetes write checks it, and so does each job before it may call
        a provider. `run_job`: what the scheduler runs for a due request (handlers.request_jobs)."""
        fence = fence or Fence.open()
        # One HTTP connection per worker thread plus the watches: the default pool (5 per CPU) is smaller than
        # the worker pool on small nodes, and every discarded connection is a later TCP + TLS handshake.
        api = load_api_client(pool_size=settings.max_workers + 4)
        kube = KubeCluster(api, guard=fence.check)
        secrets, providers, own = SecretCache(), ProviderCache(), OwnWrites()
        cluster = CachedCluster(kube, secrets, own)
        resolver = ProviderResolver(kube, settings, providers)
        reconciler = RequestReconciler(cluster, resolver, utcnow)

        def job(target: Target) -> JobResult:
            assert run_job is not None, "Runtime.create(run_job=...) is needed to run the schedule"
            return run_job(runtime, target)

        scheduler = Scheduler(job, workers=settings.max_workers, resync_seconds=settings.resync_seconds, own=own)
        runtime = cls(settings, kube, cluster, resolver, reconciler, scheduler, fence, Metrics(), secrets,
                      providers)
        return runtime
