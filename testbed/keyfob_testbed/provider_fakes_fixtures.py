"""pytest fixtures for the IONOS and Utho contract fakes and their ProviderHarnesses.

Register with ``pytest_plugins = ["keyfob_testbed.provider_fakes_fixtures"]``. Each fake is a stdlib HTTP server
on 127.0.0.1:<free port> in a thread, fresh per test (starting one takes milliseconds), stopped afterwards.

Fixtures: ``ionos_fake``, ``utho_fake`` (function scope), ``ionos_harness``, ``ionos_scoped_harness`` (IONOS
scoped mode: a user per key, bucket policies), ``utho_harness``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from keyfob_testbed.harness_ionos import IonosHarness, ScopedIonosHarness
from keyfob_testbed.harness_utho import UthoHarness
from keyfob_testbed.ionos_fake import IonosFake
from keyfob_testbed.utho_fake import UthoFake


@pytest.fixture
def ionos_fake() -> Iterator[IonosFake]:
    """The IONOS Object Storage Management API (access keys) on loopback, five keys per user."""
    with IonosFake() as fake:
        yield fake


@pytest.fixture
def utho_fake() -> Iterator[UthoFake]:
    """Utho's object-storage access-key API for data centre 'innoida' on loopback, buckets bucket-a/b/c."""
    with UthoFake() as fake:
        yield fake


@pytest.fixture
def ionos_harness(ionos_fake: IonosFake) -> IonosHarness:
    return IonosHarness(ionos_fake)


@pytest.fixture
def utho_harness(utho_fake: UthoFake) -> UthoHarness:
    return UthoHarness(utho_fake)


@pytest.fixture
def ionos_scoped_harness(ionos_fake: IonosFake) -> ScopedIonosHarness:
    return ScopedIonosHarness(ionos_fake)
