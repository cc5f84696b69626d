"""Shared pytest configuration: the test bed fixtures (cluster, namespace, moto peer, kubectl)."""

pytest_plugins = ["keyfob.testbed.pytest_plugin"]
