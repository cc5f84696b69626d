"""The Storj adapter against the variants of Storj's services the sources describe (the fakes switched per
variant): the satellite's API key cache (a deleted root key works for up to a minute), older auth services that
answer 500 for an invalid grant, consoles that answer 403 to key creation (Storj-managed encryption, plan or
role); and the ownership proof against forged key references.

What the user sees: the IssuedKey warnings (Ready message, Warning event, Secret annotation), the Revoked message
(the event), and the ProviderRejected / ProviderUnavailable message (the condition, and whether it is retried).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from keyfob.api.blocks.storj import StorjConsole, StorjProviderBlock
from keyfob.api.common import SecretKeySelector
from keyfob.api.vocabulary import Permission
from keyfob.contract import (
    BucketGrant,
    Grant,
    KeyRef,
    OwnershipUnproven,
    ProviderRejected,
    ProviderUnavailable,
    RequestIdentity,
)
from keyfob.contract.naming import key_name
from keyfob.providers.storj.adapter import DELAY_WARNING, StorjProvider
from keyfob.providers.storj.caveat import ActionType
from keyfob.providers.storj.grant import CIPHER_AESGCM, AccessGrant, EncryptionAccess
from keyfob_testbed.refs import own_ref
from keyfob_testbed.storj_fakes import FakeAuthService, FakeConsole, SatelliteKeys

P = Permission
SATELLITE = "12EayRS2V1kEsWESU9QMRseFhdxYxKicsiFmxrsLZHeLUtdps3S@satellite.invalid:7777"
CLUSTER = "cluster-a"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def provider_for(keys: SatelliteKeys, auth: FakeAuthService, console: FakeConsole, http: httpx.Client,
                 clock: Clock | None = None) -> StorjProvider:
    parent = AccessGrant(SATELLITE, keys.new_root(), EncryptionAccess(secrets.token_bytes(32), CIPHER_AESGCM))
    block = StorjProviderBlock(
        auth_service_url=auth.url, credentials_secret_ref=SecretKeySelector(name="s"),
        console=StorjConsole(url=console.url, project_id=console.project_id),
    )
    admin = {"accessGrant": parent.serialize(), "consoleRestKey": console.rest_key}
    return StorjProvider(block, admin, CLUSTER, http=http, **({"clock": clock} if clock else {}))


def grant_for(uid: str | None = None, now: datetime | None = None) -> Grant:
    uid = uid or str(uuid.uuid4())
    return Grant(key_name(uid, 1), RequestIdentity("team-a", "app", uid), 1, (BucketGrant("alpha"),),
                 frozenset({P.READ, P.LIST}), (now or datetime.now(UTC)) + timedelta(hours=1))


def peers(**kwargs: Any) -> tuple[SatelliteKeys, FakeAuthService, FakeConsole]:
    keys = kwargs.pop("keys", None) or SatelliteKeys()
    auth = FakeAuthService(keys, allowed_satellites=kwargs.pop("allowed", {SATELLITE}),
                           legacy_errors=kwargs.pop("legacy_errors", False), clock=kwargs.get("clock") or _now)
    console = FakeConsole(keys, refuse_create=kwargs.pop("refuse_create", None))
    return keys, auth, console


def _now() -> datetime:
    return datetime.now(UTC)


def test_revocation_takes_effect_within_about_a_minute_and_every_signal_says_so(http: httpx.Client) -> None:
    clock = Clock()
    keys, auth, console = peers(keys=SatelliteKeys(cache_seconds=60, clock=clock), clock=clock)
    with auth, console:
        provider = provider_for(keys, auth, console, http, clock)
        assert provider.capabilities.revocation_delay == "within about a minute"
        key = provider.issue(grant_for(now=clock.now))
        secret = key.secret_access_key.get_secret_value()
        assert DELAY_WARNING in key.warnings and "up to a minute" in DELAY_WARNING
        assert auth.allows(key.access_key_id, secret, ActionType.READ, "alpha", when=clock.now)
        assert not auth.allows(key.access_key_id, secret, ActionType.WRITE, "alpha", when=clock.now)

        result = provider.revoke(own_ref(key.key_name, key.access_key_id))

        assert result is not None and result.message() == (
            "revoked (takes effect within about a minute (the satellite caches API keys for up to 60 s))"
        )
        assert console.names() == []
        assert auth.allows(key.access_key_id, secret, ActionType.READ, "alpha", when=clock.now), "cached"
        clock.now += timedelta(seconds=61)
        assert not auth.allows(key.access_key_id, secret, ActionType.READ, "alpha", when=clock.now)
        assert provider.revoke(own_ref(key.key_name, key.access_key_id)) is None


def test_an_older_auth_service_500_for_an_invalid_grant_is_rejected_not_retried(http: httpx.Client) -> None:
    keys, auth, console = peers(allowed={"someone-else@satellite.invalid:7777"}, legacy_errors=True)
    with auth, console:
        with pytest.raises(ProviderRejected, match=r"HTTP 500.*disallowed satellite.*retrying will not help"):
            provider_for(keys, auth, console, http).issue(grant_for())
        assert console.names() == [], "the root key made for it was deleted again"


def test_a_plain_auth_service_500_is_still_temporary(http: httpx.Client) -> None:
    keys, auth, console = peers()
    with auth, console:
        auth.fail_next.append(500)
        with pytest.raises(ProviderUnavailable, match="HTTP 500"):
            provider_for(keys, auth, console, http).issue(grant_for())
        assert console.names() == []


@pytest.mark.parametrize(("refusal", "quoted"), [("managed-encryption", "Storj-managed encryption"),
                                                 ("plan", "plan or project role")])
def test_a_console_403_to_key_creation_names_the_prerequisites(
    http: httpx.Client, refusal: str, quoted: str
) -> None:
    keys, auth, console = peers(refuse_create=refusal)
    with auth, console:
        with pytest.raises(ProviderRejected, match="HTTP 403") as raised:
            provider_for(keys, auth, console, http).issue(grant_for())
        text = str(raised.value)
        assert quoted in text and "Storj-managed encryption cannot create API keys" in text
        assert "plan and project role must allow" in text and console.rest_key not in text
        assert auth.registrations == {}


# ---- ownership proof -----------------------------------------------------------------------------------------


def test_forged_refs_leave_other_root_keys_untouched(http: httpx.Client) -> None:
    keys, auth, console = peers()
    with auth, console:
        provider = provider_for(keys, auth, console, http)
        other = provider.issue(grant_for())  # another request's credential
        me = str(uuid.uuid4())
        mine = key_name(me, 1)
        console.add_key(f"keyfob/other-cluster/{mine}")  # another cluster's key for the same name
        console.add_key(f"keyfob/{CLUSTER}/{mine}-copy")  # a look-alike the substring search also finds
        before = console.names()

        with pytest.raises(OwnershipUnproven):
            provider.revoke(KeyRef(other.key_name, me, other.access_key_id))
        assert provider.revoke(KeyRef(mine, me, other.access_key_id)) is None, "nothing of mine exists"
        assert console.names() == before
        assert auth.allows(other.access_key_id, other.secret_access_key.get_secret_value(), ActionType.LIST, "alpha")


def test_issue_refuses_a_grant_whose_name_is_not_the_requests(http: httpx.Client) -> None:
    keys, auth, console = peers()
    with auth, console:
        grant = grant_for()
        forged = Grant(grant.key_name, RequestIdentity("x", "y", str(uuid.uuid4())), 1, grant.buckets,
                       grant.permissions, grant.expires_at)
        with pytest.raises(OwnershipUnproven):
            provider_for(keys, auth, console, http).issue(forged)
        assert console.names() == []
