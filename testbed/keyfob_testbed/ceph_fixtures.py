"""pytest fixtures for the real Ceph peer (keyfob_testbed.ceph_peer). Registered in tests/conftest.py.

``ceph_peer`` (session scope) starts one mon + memstore OSD + radosgw on loopback for the whole run (~13 s);
``ceph_harness`` gives the provider suite its CephHarness. Without the Debian packages the tests are skipped,
except under CI (CI=true), where .ci/run installs them and a missing package is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .ceph_peer import PACKAGES, CephPeer, missing_binaries
from .harness_ceph import CephHarness


@pytest.fixture(scope="session")
def ceph_peer() -> Iterator[CephPeer]:
    missing = missing_binaries()
    if missing and os.environ.get("CI") != "true":
        pytest.skip(f"Ceph packages not installed ({', '.join(missing)}): apt-get install {PACKAGES}")
    with CephPeer() as peer:
        yield peer


@pytest.fixture
def ceph_harness(ceph_peer: CephPeer) -> CephHarness:
    return CephHarness(ceph_peer)
