"""Integration test bed for keyfob: a real API server, ServiceAccount identities, and a moto peer.

Entry points: :func:`start_cluster` -> :class:`TestCluster`, :func:`service_account_kubeconfig`,
:class:`MotoPeer`, :func:`wait_for`; pytest fixtures in :mod:`keyfob_testbed.pytest_plugin`;
``python -m keyfob_testbed up|build``.
"""

from .envtest import TestCluster, attach_cluster, launch_cluster, start_cluster
from .identities import service_account_kubeconfig, service_account_token
from .moto_peer import MotoPeer, RecordedCall
from .waiting import WaitTimeout, wait_for

__all__ = [
    "MotoPeer",
    "RecordedCall",
    "TestCluster",
    "WaitTimeout",
    "attach_cluster",
    "launch_cluster",
    "service_account_kubeconfig",
    "service_account_token",
    "start_cluster",
    "wait_for",
]
