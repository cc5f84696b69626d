"""The Storj adapter against the local contract fakes (auth service + console REST API on loopback).

Each credential is checked by what it may do: the auth fake keeps the restricted grant keyfob registered and
evaluates it with the satellite's rules against the live root keys, so revocation shows as "denied".
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from keyfob.api.blocks.storj import StorjConsole, StorjProviderBlock
from keyfob.api.common import SecretKeySelector
from keyfob.api.vocabulary import Permission
from keyfob.contract import (
    BucketGrant,
    Grant,
    ProviderRejected,
    ProviderUnavailable,
    RequestIdentity,
)
from keyfob.contract.naming import key_name
from keyfob.providers.registry import factory_for
from keyfob.providers.storj.adapter import StorjProvider
from keyfob.providers.storj.caveat import ActionType, AllowedPath, Caveat, Timestamp
from keyfob.providers.storj.grant import CIPHER_AESGCM, AccessGrant, EncryptionAccess
from keyfob_testbed.refs import own_ref
from keyfob_testbed.storj_fakes import FakeAuthService, FakeConsole, SatelliteKeys

P = Permission
SATELLITE = "12EayRS2V1kEsWESU9QMRseFhdxYxKicsiFmxrsLZHeLUtdps3S@satellite.invalid:7777"
CLUSTER = "cluster-a"


@pytest.fixture
def keys() -> SatelliteKeys:
    return SatelliteKeys()


@pytest.fixture
def auth(keys: SatelliteKeys) -> Iterator[FakeAuthService]:
    with FakeAuthService(keys, endpoint="https://gateway.test.invalid", allowed_satellites={SATELLITE}) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def console(keys: SatelliteKeys) -> Iterator[FakeConsole]:
    with FakeConsole(keys) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def parent_grant(keys: SatelliteKeys, *caveats: Caveat) -> AccessGrant:
    mac = keys.new_root()
    for caveat in caveats:
        mac = mac.add_caveat(caveat.encode())
    return AccessGrant(SATELLITE, mac, EncryptionAccess(secrets.token_bytes(32), CIPHER_AESGCM))


def make_provider(
    auth: FakeAuthService,
    http: httpx.Client,
    parent: AccessGrant,
    console: FakeConsole | None = None,
    **block: object,
) -> StorjProvider:
    settings = StorjProviderBlock(
        auth_service_url=auth.url,
        credentials_secret_ref=SecretKeySelector(name="storj-admin"),
        console=StorjConsole(url=console.url, project_id=console.project_id) if console else None,
        **block,  # type: ignore[arg-type]
    )
    admin = {"accessGrant": parent.serialize()}
    if console is not None:
        admin["consoleRestKey"] = console.rest_key
    return StorjProvider(settings, admin, CLUSTER, http=http)


@pytest.fixture
def provider(keys: SatelliteKeys, auth: FakeAuthService, console: FakeConsole, http: httpx.Client) -> StorjProvider:
    return make_provider(auth, http, parent_grant(keys), console)


def grant(
    buckets: tuple[BucketGrant, ...] = (BucketGrant("alpha"),),
    permissions: frozenset[Permission] = frozenset({P.READ, P.LIST}),
    expires_in: timedelta | None = timedelta(hours=1),
    uid: str | None = None,
    revision: int = 1,
) -> Grant:
    uid = uid or str(uuid.uuid4())
    return Grant(
        key_name=key_name(uid, revision),
        request=RequestIdentity("team-a", "reports", uid),
        revision=revision,
        buckets=buckets,
        permissions=permissions,
        expires_at=datetime.now(UTC) + expires_in if expires_in is not None else None,
    )


# ---- issue --------------------------------------------------------------------------------------------------------


def test_issue_returns_access_key_secret_and_endpoint(
    provider: StorjProvider, auth: FakeAuthService, console: FakeConsole
) -> None:
    request = grant()
    issued = provider.issue(request)

    assert issued.key_name == request.key_name
    assert len(issued.access_key_id) == 28 and issued.access_key_id in auth.registrations
    secret = issued.secret_access_key.get_secret_value()
    assert len(secret) == 53 and secret not in repr(issued)
    assert issued.expiry_native is True
    assert request.expires_at is not None and issued.expires_at == request.expires_at.replace(microsecond=0)
    assert provider.connection().endpoint == "https://gateway.test.invalid"
    assert console.names() == [f"keyfob/{CLUSTER}/{request.key_name}"]

    # What the credential may do, as the satellite would decide it.
    assert auth.allows(issued.access_key_id, secret, ActionType.READ, "alpha")
    assert auth.allows(issued.access_key_id, secret, ActionType.LIST, "alpha")
    assert not auth.allows(issued.access_key_id, secret, ActionType.WRITE, "alpha")
    assert not auth.allows(issued.access_key_id, secret, ActionType.DELETE, "alpha")
    assert not auth.allows(issued.access_key_id, secret, ActionType.READ, "beta")
    assert not auth.allows(issued.access_key_id, "wrong-secret", ActionType.READ, "alpha")
    assert issued.expires_at is not None
    late = issued.expires_at + timedelta(seconds=1)
    assert not auth.allows(issued.access_key_id, secret, ActionType.READ, "alpha", when=late)

    stored = auth.registrations[issued.access_key_id].grant
    assert stored.encryption_access.default_key is None
    assert [e.bucket for e in stored.encryption_access.entries] == [b"alpha"]
    assert auth.registrations[issued.access_key_id].public is False


def test_gateway_endpoint_and_region_from_the_block_win(
    keys: SatelliteKeys, auth: FakeAuthService, console: FakeConsole, http: httpx.Client
) -> None:
    provider = make_provider(
        auth, http, parent_grant(keys), console, gateway_endpoint="https://s3.example.invalid", region="us-1"
    )
    provider.issue(grant())
    connection = provider.connection()
    assert (connection.endpoint, connection.region) == ("https://s3.example.invalid", "us-1")


def test_issuing_again_under_the_same_name_replaces_the_root_key(
    provider: StorjProvider, auth: FakeAuthService, console: FakeConsole
) -> None:
    request = grant()
    first = provider.issue(request)
    second = provider.issue(request)  # a retry after a crash that lost the first secret
    assert console.names() == [f"keyfob/{CLUSTER}/{request.key_name}"]
    assert not auth.allows(first.access_key_id, first.secret_access_key.get_secret_value(), ActionType.READ, "alpha")
    assert auth.allows(second.access_key_id, second.secret_access_key.get_secret_value(), ActionType.READ, "alpha")


def test_a_failed_registration_discards_the_fresh_root_key(
    provider: StorjProvider, auth: FakeAuthService, console: FakeConsole
) -> None:
    auth.fail_next = [503]
    with pytest.raises(ProviderUnavailable, match="auth service register: HTTP 503"):
        provider.issue(grant())
    assert console.names() == []
    assert auth.registrations == {}


def test_object_lock_rights_need_keys_with_the_object_lock_version(
    keys: SatelliteKeys, auth: FakeAuthService, http: httpx.Client
) -> None:
    with FakeConsole(keys, version=0) as old_satellite:
        provider = make_provider(auth, http, parent_grant(keys), old_satellite)  # type: ignore[arg-type]
        with pytest.raises(ProviderRejected, match="without Object Lock support"):
            provider.issue(grant(permissions=frozenset({P.READ, P.PUT_OBJECT_LEGAL_HOLD})))
        assert old_satellite.names() == []  # type: ignore[attr-defined]
        assert provider.issue(grant(permissions=frozenset({P.READ}))).access_key_id


def test_every_permission_can_be_issued_and_is_exactly_what_the_key_may_do(
    provider: StorjProvider, auth: FakeAuthService
) -> None:
    issued = provider.issue(grant(buckets=(BucketGrant("alpha"), BucketGrant("beta")), permissions=frozenset(P)))
    secret = issued.secret_access_key.get_secret_value()
    for op in ActionType:
        notification = op.name.endswith("NOTIFICATION_CONFIGURATION")
        assert auth.allows(issued.access_key_id, secret, op, "beta") is not notification, op.name
        assert auth.allows(issued.access_key_id, secret, op, "gamma") is (op == ActionType.PROJECT_INFO), op.name


# ---- revoke and list_owned ----------------------------------------------------------------------------------------


def test_revoke_deletes_the_root_key_and_is_idempotent(
    provider: StorjProvider, auth: FakeAuthService, console: FakeConsole
) -> None:
    request = grant()
    issued = provider.issue(request)
    secret = issued.secret_access_key.get_secret_value()
    assert auth.allows(issued.access_key_id, secret, ActionType.READ, "alpha")

    provider.revoke(own_ref(request.key_name, issued.access_key_id))
    assert console.names() == []
    assert auth.denial(issued.access_key_id, secret, ActionType.READ, "alpha") == (
        "API key not found (deleted or never created)"
    )
    provider.revoke(own_ref(request.key_name, issued.access_key_id))  # already gone: success
    provider.revoke(own_ref(key_name(str(uuid.uuid4()), 3)))  # never existed: success


def test_revoke_touches_only_the_named_key(provider: StorjProvider, console: FakeConsole) -> None:
    uid = str(uuid.uuid4())
    first, tenth = grant(uid=uid, revision=1), grant(uid=uid, revision=10)
    provider.issue(first)
    provider.issue(tenth)  # 'kf-<uid>-r1' is a substring of 'kf-<uid>-r10'
    provider.revoke(own_ref(first.key_name))
    assert console.names() == [f"keyfob/{CLUSTER}/{tenth.key_name}"]


def test_list_owned_finds_ours_by_name_prefix_and_ignores_foreign_keys(
    provider: StorjProvider, console: FakeConsole
) -> None:
    ours = [grant() for _ in range(2)]
    for request in ours:
        provider.issue(request)
    orphan_uid = str(uuid.uuid4())
    for revision in range(1, 56):  # more than one page (the console returns at most 50)
        console.add_key(f"keyfob/{CLUSTER}/{key_name(orphan_uid, revision)}")
    console.add_key("someone's laptop")
    console.add_key(f"keyfob/cluster-b/{key_name(str(uuid.uuid4()), 1)}")  # another cluster's
    console.add_key(f"keyfob/{CLUSTER}/not-a-keyfob-name")
    console.add_key(f"KEYFOB/{CLUSTER}/{key_name(str(uuid.uuid4()), 1)}")  # LIKE is case-insensitive; names are not

    owned = provider.list_owned()
    assert len(owned) == 57
    by_name = {key.key_name: key for key in owned}
    for request in ours:
        assert by_name[request.key_name].request_uid == request.request.uid
    assert sum(key.request_uid == orphan_uid for key in owned) == 55


# ---- refusals: nothing is created ---------------------------------------------------------------------------------


def assert_nothing_created(auth: FakeAuthService, console: FakeConsole | None) -> None:
    assert auth.requests == [] and auth.registrations == {}
    if console is not None:
        assert [r for r in console.requests if r[0] != "GET"] == []
        assert console.names() == []


def test_a_prefix_is_refused_before_any_provider_call(
    provider: StorjProvider, auth: FakeAuthService, console: FakeConsole
) -> None:
    request = grant(buckets=(BucketGrant("alpha"), BucketGrant("beta", "reports/")))
    problems = provider.unsupported(request)
    assert len(problems) == 1 and "prefix 'reports/' in bucket 'beta'" in problems[0]
    with pytest.raises(ProviderRejected, match=r"Storj cannot express: prefix 'reports/'"):
        provider.issue(request)
    assert_nothing_created(auth, console)


def test_put_retention_alone_is_refused(provider: StorjProvider, auth: FakeAuthService, console: FakeConsole) -> None:
    with pytest.raises(ProviderRejected, match="add getObjectRetention"):
        provider.issue(grant(permissions=frozenset({P.PUT_OBJECT_RETENTION})))
    assert_nothing_created(auth, console)


def test_an_expiry_under_a_minute_is_refused(
    provider: StorjProvider, auth: FakeAuthService, console: FakeConsole
) -> None:
    with pytest.raises(ProviderRejected, match="less than a minute"):
        provider.issue(grant(expires_in=timedelta(seconds=45)))
    assert_nothing_created(auth, console)


def test_a_parent_grant_narrower_than_the_request_is_refused(
    keys: SatelliteKeys, auth: FakeAuthService, console: FakeConsole, http: httpx.Client
) -> None:
    parent = parent_grant(
        keys,
        Caveat(
            disallow_writes=True,
            allowed_paths=(AllowedPath(b"alpha"), AllowedPath(b"beta", b"enc-prefix")),
            not_after=Timestamp.from_datetime(datetime.now(UTC) + timedelta(days=2)),
            nonce=b"p",
        ),
    )
    provider = make_provider(auth, http, parent, console)
    problems = provider.unsupported(
        grant(buckets=(BucketGrant("alpha"), BucketGrant("beta")), permissions=frozenset({P.READ, P.WRITE}))
    )
    assert "the parent access grant does not allow write on bucket 'alpha'" in problems
    assert "the parent access grant does not allow read on bucket 'beta'" in problems
    assert provider.unsupported(grant(expires_in=timedelta(days=1))) == []
    too_long = provider.unsupported(grant(expires_in=timedelta(days=3)))
    assert len(too_long) == 1 and "before the requested expiry" in too_long[0]
    with pytest.raises(ProviderRejected, match="does not allow write"):
        provider.issue(grant(permissions=frozenset({P.WRITE})))
    assert_nothing_created(auth, console)

    # Within the parent's bounds it works, and the parent's own caveat is carried onto the fresh root key.
    issued = provider.issue(grant(expires_in=timedelta(days=1)))
    stored = auth.registrations[issued.access_key_id].grant
    assert stored.api_key.caveats[0] == parent.api_key.caveats[0]


# ---- without a console key: not revocable, expiry required -------------------------------------------------------


def test_without_console_every_key_must_expire_and_cannot_be_revoked(
    keys: SatelliteKeys, auth: FakeAuthService, http: httpx.Client
) -> None:
    parent = parent_grant(keys)
    provider = make_provider(auth, http, parent)
    assert provider.capabilities.revocable is False and provider.capabilities.native_expiry is True

    forever = grant(expires_in=None)
    problems = provider.unsupported(forever)
    assert len(problems) == 1 and "cannot revoke" in problems[0] and "expiresAt" in problems[0]
    with pytest.raises(ProviderRejected, match="a key without expiry"):
        provider.issue(forever)
    assert_nothing_created(auth, None)

    issued = provider.issue(grant())
    secret = issued.secret_access_key.get_secret_value()
    stored = auth.registrations[issued.access_key_id].grant
    assert stored.api_key.head == parent.api_key.head  # the parent grant, restricted
    assert auth.allows(issued.access_key_id, secret, ActionType.READ, "alpha")
    with pytest.raises(ProviderRejected, match="cannot revoke"):
        provider.revoke(own_ref(issued.key_name, issued.access_key_id))
    assert provider.list_owned() == []


# ---- check, construction, errors ----------------------------------------------------------------------------------


def test_check_passes_and_reports_a_bad_console_key(
    keys: SatelliteKeys, provider: StorjProvider, auth: FakeAuthService, console: FakeConsole, http: httpx.Client
) -> None:
    provider.check()
    settings = provider.block
    wrong_key = StorjProvider(
        settings, {"accessGrant": provider.parent.serialize(), "consoleRestKey": "not-the-key"}, CLUSTER, http=http
    )
    with pytest.raises(ProviderRejected, match="HTTP 401") as failure:
        wrong_key.check()
    assert "not-the-key" not in str(failure.value)


def test_check_reports_an_unreachable_auth_service(keys: SatelliteKeys, http: httpx.Client) -> None:
    with FakeAuthService(keys) as auth:
        url = auth.url
    settings = StorjProviderBlock(auth_service_url=url, credentials_secret_ref=SecretKeySelector(name="s"))
    provider = StorjProvider(settings, {"accessGrant": parent_grant(keys).serialize()}, CLUSTER, http=http)
    with pytest.raises(ProviderUnavailable, match="auth service health"):
        provider.check()


def test_check_reports_an_expired_parent_grant(keys: SatelliteKeys, auth: FakeAuthService, http: httpx.Client) -> None:
    expired = Caveat(not_after=Timestamp.from_datetime(datetime.now(UTC) - timedelta(hours=1)), nonce=b"x")
    provider = make_provider(auth, http, parent_grant(keys, expired))
    with pytest.raises(ProviderRejected, match="parent access grant expired"):
        provider.check()


def test_the_registry_builds_it_and_bad_credentials_are_refused_without_echoing_them(
    keys: SatelliteKeys, auth: FakeAuthService, console: FakeConsole
) -> None:
    settings = StorjProviderBlock(
        auth_service_url=auth.url,
        credentials_secret_ref=SecretKeySelector(name="s"),
        console=StorjConsole(url=console.url, project_id=console.project_id),
    )
    parent = parent_grant(keys).serialize()
    built = factory_for("storj")(settings, {"accessGrant": parent, "consoleRestKey": console.rest_key}, CLUSTER)
    assert isinstance(built, StorjProvider) and built.capabilities.revocable
    with pytest.raises(ProviderRejected, match="lacks key 'accessGrant'"):
        StorjProvider(settings, {"consoleRestKey": console.rest_key}, CLUSTER)
    with pytest.raises(ProviderRejected, match="lacks key 'consoleRestKey'"):
        StorjProvider(settings, {"accessGrant": parent}, CLUSTER)
    broken = parent[:-3] + "abc"
    with pytest.raises(ProviderRejected, match="parent access grant in key 'accessGrant' is invalid") as failure:
        StorjProvider(settings, {"accessGrant": broken, "consoleRestKey": console.rest_key}, CLUSTER)
    assert broken not in str(failure.value)


def test_console_errors_map_to_the_provider_taxonomy(provider: StorjProvider, console: FakeConsole) -> None:
    console.fail_next = [429]
    with pytest.raises(ProviderUnavailable, match="HTTP 429"):
        provider.list_owned()
    console.fail_next = [500]
    with pytest.raises(ProviderUnavailable, match="HTTP 500"):
        provider.revoke(own_ref(key_name(str(uuid.uuid4()), 1)))
    console.fail_next = [400]
    with pytest.raises(ProviderRejected, match="HTTP 400"):
        provider.issue(grant())


# ---- the fakes follow their contracts -----------------------------------------------------------------------------


def test_auth_fake_contract(keys: SatelliteKeys, auth: FakeAuthService, http: httpx.Client) -> None:
    url = f"{auth.url}/v1/access"
    assert http.post(url, content=b"not json").status_code == 422
    assert http.post(url, json={"access_grant": "1nvalid", "public": False}).status_code == 400
    soon = Caveat(not_after=Timestamp.from_datetime(datetime.now(UTC) + timedelta(seconds=50)), nonce=b"s")
    refused = http.post(url, json={"access_grant": parent_grant(keys, soon).serialize(), "public": False})
    assert refused.status_code == 400 and "shorter than a minute" in refused.text
    other = AccessGrant("1xyz@elsewhere.invalid:7777", keys.new_root(), EncryptionAccess(None, CIPHER_AESGCM))
    assert http.post(url, json={"access_grant": other.serialize(), "public": False}).status_code == 400
    ok = http.post(url, json={"access_grant": parent_grant(keys).serialize(), "public": False})
    assert ok.status_code == 200 and set(ok.json()) == {"access_key_id", "secret_key", "endpoint"}
    assert http.get(f"{auth.url}/v1/health/live").status_code == 200


def test_console_fake_contract(console: FakeConsole, http: httpx.Client) -> None:
    bearer = {"Authorization": f"Bearer {console.rest_key}"}
    create = f"{console.url}/public/v1/apikeys/create"
    body = {"projectID": console.project_id, "name": "one"}
    assert http.post(create, json=body).status_code == 401
    created = http.post(create, json=body, headers=bearer)
    assert created.status_code == 200 and created.json()["keyInfo"]["name"] == "one"
    assert http.post(create, json=body, headers=bearer).status_code == 409
    assert http.post(create, json={**body, "projectID": str(uuid.uuid4())}, headers=bearer).status_code == 401
    listing = f"{console.url}/public/v1/projects/apikeys/{console.project_id}"
    missing = http.get(listing, params={"search": "o", "limit": 5, "page": 1, "order": 1}, headers=bearer)
    assert missing.status_code == 400 and "orderDirection" in missing.json()["error"]
    params: dict[str, str | int] = {"search": "ON", "limit": 5, "page": 1, "order": 1, "orderDirection": 1}
    assert [k["name"] for k in http.get(listing, params=params, headers=bearer).json()["apiKeys"]] == ["one"]
    key_id = created.json()["keyInfo"]["id"]
    assert http.delete(f"{console.url}/public/v1/apikeys/delete/{key_id}", headers=bearer).status_code == 200
    assert http.delete(f"{console.url}/public/v1/apikeys/delete/{key_id}", headers=bearer).status_code == 200
    assert console.names() == []


# ---- preview --------------------------------------------------------------------------------------------------------


def test_describe_says_the_caveat_issue_would_build_in_words_and_calls_nothing(
    provider: StorjProvider, auth: FakeAuthService, console: FakeConsole
) -> None:
    from keyfob.contract import describe
    from keyfob.providers.storj.preview import PREVIEW_NONCE, flags
    from keyfob.providers.storj.scope import build_caveat

    g = grant(buckets=(BucketGrant("alpha"), BucketGrant("beta")), permissions=frozenset({P.READ, P.LIST}))
    shown = describe(provider, g)
    assert shown is not None
    allowed, _ = flags(build_caveat(g.buckets, g.permissions, g.expires_at, PREVIEW_NONCE))
    assert sorted(allowed) == ["lists", "reads"]
    assert shown.words[0].startswith("allowed paths: alpha, beta") and "allowed: reads, lists" in shown.words[1]
    assert "not_after" in shown.words[3] and "revocable" in shown.summary
    refused = describe(provider, grant(buckets=(BucketGrant("alpha", "p/"),)))
    assert refused is not None and "refused: prefix 'p/'" in refused.summary
    assert_nothing_created(auth, console)
