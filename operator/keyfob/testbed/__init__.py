"""Integration test bed for keyfob: a real API server, identities, and a moto peer."""

from .envtest import TestCluster, attach_cluster, launch_cluster, start_cluster
from .waiting import WaitTimeout, wait_for

__all__ = [
    "TestCluster",
    "WaitTimeout",
    "attach_cluster",
    "launch_cluster",
    "start_cluster",
    "wait_for",
]
