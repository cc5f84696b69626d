"""Shared pytest configuration: the test bed (cluster, namespace, moto peer, kubectl) and keyfob's own
fixtures (CRDs, the operator process, a moto-backed provider, the secret-leak check)."""

pytest_plugins = [
    "keyfob_testbed.pytest_plugin",
    "keyfob_testbed.operator_fixtures",
    "keyfob_testbed.minio_fixtures",
    "keyfob_testbed.ceph_fixtures",
    "keyfob_testbed.provider_fakes_fixtures",
]
