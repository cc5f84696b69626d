"""pytest fixtures for the MinIO peer. Register with ``pytest_plugins = ["keyfob_testbed.minio_fixtures"]``
(tests/integration/conftest.py imports them until then).

The first use builds the pinned MinIO into the cache (2-4 min on 2 cores): CI should run
``python -m keyfob_testbed.minio_peer build`` first so no test's timeout pays for the build.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from keyfob_testbed.minio_peer import MinioPeer


@pytest.fixture(scope="session")
def minio_peer() -> Iterator[MinioPeer]:
    """One real MinIO server for the session (fresh data dir, random root credentials), stopped afterwards."""
    with MinioPeer() as peer:
        yield peer
