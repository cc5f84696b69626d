"""Shared pytest configuration: the test bed (cluster, namespace, moto peer, kubectl) and keyfob's own
fixtures (CRDs, the operator process, a moto-backed provider, the secret-leak check)."""

pytest_plugins = [
    "keyfob.testbed.pytest_plugin",
    "keyfob.testbed.operator_fixtures",
    "keyfob.testbed.minio_fixtures",
    "keyfob.testbed.provider_fakes_fixtures",
]
