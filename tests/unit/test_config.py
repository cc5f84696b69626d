"""Settings from the environment: the values tests and the chart rely on."""

from __future__ import annotations

from keyfob.config import default_lease_name, from_env


def test_watch_inactivity_timeout_defaults_to_90_seconds_and_is_configurable() -> None:
    assert from_env({}).watch_inactivity_seconds == 90.0
    assert from_env({"KEYFOB_WATCH_INACTIVITY_SECONDS": "7.5"}).watch_inactivity_seconds == 7.5


def test_default_lease_name_depends_only_on_the_shard_selector() -> None:
    assert default_lease_name({}) == "keyfob"
    a, b = default_lease_name({"keyfob.dev/shard": "a"}), default_lease_name({"keyfob.dev/shard": "b"})
    assert a != b and a.startswith("keyfob-shard-") and len(a) <= 63
