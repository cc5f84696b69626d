"""Fixtures for the integration tests beyond the shared test bed (tests/conftest.py)."""

from keyfob.testbed.minio_fixtures import minio_peer

__all__ = ["minio_peer"]
