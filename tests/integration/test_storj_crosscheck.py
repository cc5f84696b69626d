"""Cross-check keyfob's pure-Python Storj code against Storj's own Go code (storj.io/common, pinned in
tests/storj_crosscheck/go.mod), both directions:

- Python -> Go: grants keyfob builds (the adapter's own restrict path, plain and on a fresh root key with the
  parent's caveats replayed) are parsed by grant.ParseAccess, their macaroon is validated against the root
  secret, and macaroon.APIKey.Check decides a table of actions (every action type x requested and foreign
  buckets x object/bucket paths x times around not_after). Go's verdicts must equal both keyfob's evaluator and
  the verdicts the request itself implies. Encryption keys must equal what Go's own Restrict derives.
- Go -> Python: grants and caveats Go builds (macaroon.FromParts with explicit caveats; grant.Access.Restrict)
  are parsed by keyfob: same head, tails and caveat bytes, same field values, byte-identical re-serialization,
  the same verdicts for the same actions, and the same disallow flags as keyfob's permission mapping.

- Prefixes, Go only: why keyfob refuses them (no Storj prefix caveat is both exactly an S3 prefix and usable).
- Passphrases: keyfob's root-key derivation (Argon2id over the project salt, and the legacy salt from a project
  id) equals encryption.DeriveRootKey's, and a grant keyfob restricts from a passphrase carries, per bucket, the
  keys and path cipher Storj's own passphrase flow (default key, then Restrict) produces.

The Go helper is built once per source hash into ~/.cache/keyfob/storj-crosscheck/<storj.io/common version>/.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from keyfob.api.vocabulary import Permission
from keyfob.contract import BucketGrant
from keyfob.providers.storj.authorize import VERSION_EVENTING, VERSION_OBJECT_LOCK, denial
from keyfob.providers.storj.caveat import Action, ActionType, AllowedPath, Caveat, Duration, Timestamp, parse_caveat
from keyfob.providers.storj.grant import CIPHER_AESGCM, CIPHER_NULL, AccessGrant, EncryptionAccess
from keyfob.providers.storj.macaroon import Macaroon
from keyfob.providers.storj.passphrase import derive_access, derive_root_key, legacy_project_salt
from keyfob.providers.storj.restrict import restrict
from keyfob.providers.storj.scope import ACTION_FOR, LOCK_UMBRELLA, build_caveat, not_after

pytestmark = pytest.mark.integration

SOURCE = Path(__file__).resolve().parents[1] / "storj_crosscheck"
SATELLITE = "12EayRS2V1kEsWESU9QMRseFhdxYxKicsiFmxrsLZHeLUtdps3S@satellite.invalid:7777"
ALL_VERSIONS = VERSION_OBJECT_LOCK | VERSION_EVENTING
OBJECT = b"encrypted/object/path"
P = Permission


# ---- the Go helper ----------------------------------------------------------------------------------------------


def _common_version() -> str:
    match = re.search(r"^\s*require storj\.io/common (\S+)", (SOURCE / "go.mod").read_text(), re.M)
    assert match, "tests/storj_crosscheck/go.mod must require a pinned storj.io/common"
    return match.group(1)


@pytest.fixture(scope="session")
def crosscheck_binary() -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("the Go toolchain is needed to build the Storj cross-check helper")
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((SOURCE / name).read_bytes())
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "keyfob" / "storj-crosscheck"
    target = cache / _common_version() / f"storj-crosscheck-{digest.hexdigest()[:12]}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".partial-{os.getpid()}")
    env = {**os.environ, "GOFLAGS": "-mod=readonly", "CGO_ENABLED": "0"}
    started = time.monotonic()
    subprocess.run([go, "build", "-trimpath", "-o", str(partial), "."], cwd=SOURCE, env=env, check=True, timeout=900)
    partial.replace(target)
    print(f"built {target.name} in {time.monotonic() - started:.1f}s")
    return target


def run_go(binary: Path, command: str, request: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [str(binary), command], input=json.dumps(request), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"storj-crosscheck {command} failed: {done.stderr}"
    response: dict[str, Any] = json.loads(done.stdout)
    return response


# ---- fixtures: a root key and a parent grant --------------------------------------------------------------------


@pytest.fixture
def root() -> tuple[bytes, bytes]:
    """(secret, head) of a root API key, as the satellite stores it."""
    return secrets.token_bytes(32), secrets.token_bytes(32)


@pytest.fixture
def default_key() -> bytes:
    return secrets.token_bytes(32)


def parent_grant(secret: bytes, head: bytes, default_key: bytes, *caveats: Caveat) -> AccessGrant:
    mac = Macaroon.unrestricted(secret, head)
    for caveat in caveats:
        mac = mac.add_caveat(caveat.encode())
    return AccessGrant(SATELLITE, mac, EncryptionAccess(default_key, CIPHER_AESGCM))


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ---- Python -> Go -----------------------------------------------------------------------------------------------

NOW = datetime.now(UTC).replace(microsecond=0)
CASES: list[tuple[str, frozenset[Permission], tuple[str, ...], timedelta | None]] = [
    *[(f"only-{p.value}", frozenset({p}), ("alpha",), timedelta(hours=2)) for p in P if p != P.PUT_OBJECT_RETENTION],
    ("put-retention-with-get", frozenset({P.PUT_OBJECT_RETENTION, P.GET_OBJECT_RETENTION}), ("alpha",), None),
    ("rwld-two-buckets", frozenset({P.READ, P.WRITE, P.LIST, P.DELETE}), ("alpha", "beta"), timedelta(days=30)),
    ("lock-umbrella", frozenset(LOCK_UMBRELLA), ("beta",), timedelta(minutes=5)),
    ("everything", frozenset(P), ("alpha", "beta"), timedelta(hours=1)),
    ("read-no-expiry", frozenset({P.READ, P.LIST}), ("alpha",), None),
]


def expected_verdict(
    op: ActionType,
    bucket: str,
    path: bytes,
    when: datetime,
    perms: frozenset[Permission],
    buckets: tuple[str, ...],
    limit: Timestamp | None,
) -> bool:
    """What the request implies, written independently of keyfob's mapping code."""
    if limit is not None and Timestamp.from_datetime(when) > limit:
        return False
    if op == ActionType.PROJECT_INFO:
        return True  # Storj: project info is allowed to every live key, whatever its buckets
    if bucket not in buckets:
        return False
    if op == ActionType.READ and not path:
        return True  # Storj: bucket metadata of an allowed bucket is always readable
    allowed = {ACTION_FOR[p] for p in perms}
    if perms >= LOCK_UMBRELLA:
        allowed.add(ActionType.LOCK)
    if P.PUT_OBJECT_RETENTION in perms:
        allowed.add(ActionType.GET_OBJECT_RETENTION)
    return op in allowed


def action_table(buckets: tuple[str, ...], limit: Timestamp | None) -> list[tuple[ActionType, str, bytes, datetime]]:
    times = [NOW]
    if limit is not None:
        times += [limit.to_datetime(), limit.to_datetime() + timedelta(seconds=1)]
    table = []
    for when in times:
        for bucket in (*buckets, "zeta-foreign"):
            for op in ActionType:
                table.append((op, bucket, OBJECT, when))
            table.append((ActionType.READ, bucket, b"", when))
    return table


@pytest.mark.parametrize("console_mode", [False, True], ids=["parent-grant", "fresh-root-key"])
@pytest.mark.parametrize(("name", "perms", "buckets", "ttl"), CASES, ids=[c[0] for c in CASES])
def test_go_agrees_with_grants_keyfob_builds(
    crosscheck_binary: Path,
    root: tuple[bytes, bytes],
    default_key: bytes,
    console_mode: bool,
    name: str,
    perms: frozenset[Permission],
    buckets: tuple[str, ...],
    ttl: timedelta | None,
) -> None:
    secret, head = root
    expires = NOW + ttl if ttl is not None else None
    # The parent itself carries a caveat (as an admin's restricted grant would): wider than every case.
    parent_caveat = Caveat(
        allowed_paths=tuple(AllowedPath(b.encode()) for b in ("alpha", "beta", "gamma")),
        not_after=Timestamp.from_datetime(NOW + timedelta(days=365)),
        nonce=b"parent",
    )
    if console_mode:
        parent = parent_grant(secrets.token_bytes(32), secrets.token_bytes(32), default_key, parent_caveat)
        fresh_root = Macaroon.unrestricted(secret, head)
    else:
        parent = parent_grant(secret, head, default_key, parent_caveat)
        fresh_root = None
    caveat = build_caveat([BucketGrant(b) for b in buckets], perms, expires)
    grant = restrict(parent, caveat, fresh_root)
    limit = not_after(expires) if expires is not None else None
    table = action_table(buckets, limit)

    go = run_go(
        crosscheck_binary,
        "check",
        {
            "grant": grant.serialize(),
            "secret_hex": secret.hex(),
            "version": ALL_VERSIONS,
            "actions": [
                {"op": int(op), "bucket": b, "encrypted_path_hex": path.hex(), "time": iso(when)}
                for op, b, path, when in table
            ],
        },
    )

    assert go["valid"], "Storj rejects the macaroon signature keyfob produced"
    assert go["satellite"] == SATELLITE
    assert go["head_hex"] == grant.api_key.head.hex()
    assert go["tails_hex"] == [t.hex() for t in grant.api_key.tails(secret)]
    assert go["caveat_bytes_hex"] == [c.hex() for c in grant.api_key.caveats]
    mine = go["caveats"][-1]
    assert mine["nonce_hex"] == caveat.nonce.hex() and len(caveat.nonce) == 16
    assert [p["bucket"] for p in mine["allowed_paths"]] == list(buckets)
    assert all(p["encrypted_path_prefix_hex"] == "" for p in mine["allowed_paths"])
    if expires is None:
        assert "not_after" not in mine
    else:
        assert datetime.fromisoformat(mine["not_after"]) == limit.to_datetime()  # type: ignore[union-attr]

    mismatches = []
    for (op, bucket, path, when), result in zip(table, go["results"], strict=True):
        ours = denial(grant.api_key, secret, ALL_VERSIONS, Action(op, bucket.encode(), path, when)) is None
        implied = expected_verdict(op, bucket, path, when, perms, buckets, limit)
        if not (result["allowed"] == ours == implied):
            mismatches.append(
                f"{op.name} {bucket} path={bool(path)} {iso(when)}: go={result} keyfob={ours} want={implied}"
            )
    assert not mismatches, "\n".join(mismatches)

    # Encryption: only the requested buckets, no default key, keys equal to what Storj's own Restrict derives.
    go_entries = {e["bucket"]: e for e in go["encryption_access"]["entries"]}
    assert go["encryption_access"]["default_key_hex"] == ""
    assert sorted(go_entries) == sorted(buckets)
    reference = run_go(
        crosscheck_binary,
        "make",
        {
            "satellite": SATELLITE,
            "secret_hex": secret.hex(),
            "head_hex": head.hex(),
            "default_key_hex": default_key.hex(),
            "default_path_cipher": CIPHER_AESGCM,
            "caveats": [],
            "restrict": {"allow_download": True, "buckets": list(buckets)},
        },
    )
    go_reference = {e["bucket"]: e for e in reference["encryption_access"]["entries"]}
    for bucket in buckets:
        assert go_entries[bucket]["key_hex"] == go_reference[bucket]["key_hex"]
        assert go_entries[bucket]["path_cipher"] == go_reference[bucket]["path_cipher"] == CIPHER_AESGCM
        assert go_entries[bucket]["unencrypted"] == go_entries[bucket]["encrypted"] == ""


def test_object_lock_needs_the_key_version_bit_in_go_and_in_keyfob(
    crosscheck_binary: Path, root: tuple[bytes, bytes], default_key: bytes
) -> None:
    secret, head = root
    grant = restrict(parent_grant(secret, head, default_key), build_caveat([BucketGrant("alpha")], frozenset(P), None))
    verdicts: dict[tuple[str, int], bool] = {}
    for version in (0, VERSION_OBJECT_LOCK, ALL_VERSIONS):
        go = run_go(
            crosscheck_binary,
            "check",
            {
                "grant": grant.serialize(),
                "secret_hex": secret.hex(),
                "version": version,
                "actions": [
                    {"op": int(op), "bucket": "alpha", "encrypted_path_hex": OBJECT.hex(), "time": iso(NOW)}
                    for op in ActionType
                ],
            },
        )
        for op, result in zip(ActionType, go["results"], strict=True):
            ours = denial(grant.api_key, secret, version, Action(op, b"alpha", OBJECT, NOW)) is None
            assert result["allowed"] == ours, (op.name, version, result)
            verdicts[(op.name, version)] = ours
    assert verdicts[("PUT_OBJECT_RETENTION", 0)] is False
    assert verdicts[("PUT_OBJECT_RETENTION", VERSION_OBJECT_LOCK)] is True
    assert verdicts[("READ", 0)] is True


def test_a_wrong_root_secret_fails_in_go(
    crosscheck_binary: Path, root: tuple[bytes, bytes], default_key: bytes
) -> None:
    secret, head = root
    grant = restrict(parent_grant(secret, head, default_key), build_caveat([BucketGrant("alpha")], frozenset(P), None))
    go = run_go(
        crosscheck_binary,
        "check",
        {
            "grant": grant.serialize(),
            "secret_hex": secrets.token_bytes(32).hex(),
            "version": ALL_VERSIONS,
            "actions": [{"op": 1, "bucket": "alpha", "encrypted_path_hex": OBJECT.hex(), "time": iso(NOW)}],
        },
    )
    assert go["valid"] is False and go["results"][0]["allowed"] is False


# ---- Go -> Python -----------------------------------------------------------------------------------------------

GO_CAVEATS: list[dict[str, Any]] = [
    {"disallow_writes": True, "disallow_deletes": True, "nonce_hex": "01020304"},
    {
        "disallow_reads": True,
        "disallow_locks": True,
        "disallow_put_retention": True,
        "disallow_get_legal_hold": True,
        "disallow_bypass_governance_retention": True,
        "disallow_get_bucket_object_lock_configuration": True,
        "disallow_put_bucket_notification_configuration": True,
        "allowed_paths": [
            {"bucket": "alpha", "encrypted_path_prefix_hex": ""},
            {"bucket": "beta", "encrypted_path_prefix_hex": b"enc-prefix/".hex()},
        ],
        "not_after": iso(NOW + timedelta(hours=3)),
        "not_before": iso(NOW - timedelta(minutes=5)),
        "max_object_ttl_seconds": 86400.5,
        "nonce_hex": secrets.token_bytes(4).hex(),
    },
    {"allowed_paths": [{"bucket": "beta", "encrypted_path_prefix_hex": ""}], "nonce_hex": ""},
]


def caveat_from_go_json(spec: dict[str, Any]) -> Caveat:
    def stamp(key: str) -> Timestamp | None:
        return Timestamp.from_datetime(datetime.fromisoformat(spec[key])) if key in spec else None

    ttl = spec.get("max_object_ttl_seconds")
    flags = {k: v for k, v in spec.items() if k.startswith("disallow_")}
    return Caveat(
        **flags,
        allowed_paths=tuple(
            AllowedPath(p["bucket"].encode(), bytes.fromhex(p["encrypted_path_prefix_hex"]))
            for p in spec.get("allowed_paths", [])
        ),
        not_after=stamp("not_after"),
        not_before=stamp("not_before"),
        max_object_ttl=Duration(int(ttl), round((ttl - int(ttl)) * 1e9)) if ttl is not None else None,
        nonce=bytes.fromhex(spec.get("nonce_hex", "")),
    )


def test_keyfob_reads_grants_and_caveats_go_builds(
    crosscheck_binary: Path, root: tuple[bytes, bytes], default_key: bytes
) -> None:
    secret, head = root
    made = run_go(
        crosscheck_binary,
        "make",
        {
            "satellite": SATELLITE,
            "secret_hex": secret.hex(),
            "head_hex": head.hex(),
            "default_key_hex": default_key.hex(),
            "default_path_cipher": CIPHER_AESGCM,
            "caveats": GO_CAVEATS,
        },
    )
    grant = AccessGrant.parse(made["grant"])
    assert grant.satellite_address == SATELLITE
    assert grant.api_key.head == head
    assert grant.api_key.validate(secret)
    assert grant.api_key.tail.hex() == made["tail_hex"]
    assert [c.hex() for c in grant.api_key.caveats] == made["caveat_bytes_hex"]
    assert grant.encryption_access.default_key == default_key
    assert grant.serialize() == made["grant"], "re-serializing a Go grant must give the same text"
    assert Macaroon.from_api_key(made["api_key"]) == grant.api_key
    for raw, spec in zip(grant.api_key.caveats, GO_CAVEATS, strict=True):
        expected = caveat_from_go_json(spec)
        assert parse_caveat(raw) == expected
        assert expected.encode() == raw, "keyfob's caveat encoding must be byte-identical to Storj's"

    # Same verdicts for the same actions, through Go's Check and keyfob's evaluator.
    table = [
        (op, bucket, path, when)
        for when in (NOW, NOW - timedelta(minutes=10), NOW + timedelta(hours=4))
        for bucket in ("alpha", "beta", "gamma")
        for path in (b"", b"object", b"enc-prefix/object")
        for op in ActionType
    ]
    go = run_go(
        crosscheck_binary,
        "check",
        {
            "grant": made["grant"],
            "secret_hex": secret.hex(),
            "version": ALL_VERSIONS,
            "actions": [
                {"op": int(op), "bucket": b, "encrypted_path_hex": p.hex(), "time": iso(w)} for op, b, p, w in table
            ],
        },
    )
    for (op, bucket, path, when), result in zip(table, go["results"], strict=True):
        ours = denial(grant.api_key, secret, ALL_VERSIONS, Action(op, bucket.encode(), path, when)) is None
        assert result["allowed"] == ours, (op.name, bucket, path, iso(when), result)
    assert any(r["allowed"] for r in go["results"]) and not all(r["allowed"] for r in go["results"])


PERMISSION_SETS = [
    frozenset({P.READ}),
    frozenset({P.WRITE, P.LIST}),
    frozenset({P.PUT_OBJECT_RETENTION, P.GET_OBJECT_RETENTION, P.BYPASS_GOVERNANCE_RETENTION}),
    frozenset(LOCK_UMBRELLA),
    frozenset({P.PUT_OBJECT_LEGAL_HOLD, P.GET_OBJECT_LEGAL_HOLD, P.DELETE}),
    frozenset(P),
]

GO_PERMISSION_FIELD = {
    P.READ: "allow_download",
    P.WRITE: "allow_upload",
    P.LIST: "allow_list",
    P.DELETE: "allow_delete",
    P.PUT_OBJECT_RETENTION: "allow_put_object_retention",
    P.GET_OBJECT_RETENTION: "allow_get_object_retention",
    P.PUT_OBJECT_LEGAL_HOLD: "allow_put_object_legal_hold",
    P.GET_OBJECT_LEGAL_HOLD: "allow_get_object_legal_hold",
    P.BYPASS_GOVERNANCE_RETENTION: "allow_bypass_governance_retention",
    P.PUT_OBJECT_LOCK_CONFIGURATION: "allow_put_bucket_object_lock_configuration",
    P.GET_OBJECT_LOCK_CONFIGURATION: "allow_get_bucket_object_lock_configuration",
}


@pytest.mark.parametrize("perms", PERMISSION_SETS, ids=lambda s: "+".join(sorted(p.value for p in s)))
def test_keyfob_permission_mapping_matches_storj_restrict(
    crosscheck_binary: Path, root: tuple[bytes, bytes], default_key: bytes, perms: frozenset[Permission]
) -> None:
    """Storj's own grant.Restrict, given the same rights, sets the same disallow flags keyfob sets."""
    secret, head = root
    expires = NOW + timedelta(hours=1)
    restriction: dict[str, Any] = {GO_PERMISSION_FIELD[p]: True for p in perms}
    restriction |= {"allow_lock": perms >= LOCK_UMBRELLA, "not_after": iso(expires), "buckets": ["alpha", "beta"]}
    made = run_go(
        crosscheck_binary,
        "make",
        {
            "satellite": SATELLITE,
            "secret_hex": secret.hex(),
            "head_hex": head.hex(),
            "default_key_hex": default_key.hex(),
            "default_path_cipher": CIPHER_AESGCM,
            "caveats": [],
            "restrict": restriction,
        },
    )
    grant = AccessGrant.parse(made["grant"])
    assert grant.api_key.validate(secret)
    theirs = parse_caveat(grant.api_key.caveats[-1])
    ours = build_caveat([BucketGrant("alpha"), BucketGrant("beta")], perms, expires, nonce=theirs.nonce)
    assert theirs == ours
    assert ours.encode() == grant.api_key.caveats[-1]
    # Storj's Restrict limits the encryption access exactly as keyfob does.
    mine = EncryptionAccess(default_key, CIPHER_AESGCM).limited_to_buckets([b"alpha", b"beta"])
    assert {e.bucket: e.key for e in grant.encryption_access.entries} == {e.bucket: e.key for e in mine.entries}


# ---- passphrases: keyfob's derivation vs storj.io/common encryption.DeriveRootKey ------------------------------

PASSPHRASES = [
    "correct horse battery staple",
    "  leading and trailing spaces are part of it  ",
    "pässwörd ✓ 密码 🔑",
    secrets.token_urlsafe(48),
    "x",
]


def _random_salts() -> list[bytes]:
    return [secrets.token_bytes(16), secrets.token_bytes(32), b""]


@pytest.mark.parametrize("passphrase", PASSPHRASES)
def test_go_and_keyfob_derive_the_same_root_key(crosscheck_binary: Path, passphrase: str) -> None:
    for salt in _random_salts():
        for path in ("", "bucket/some/path"):
            go = run_go(
                crosscheck_binary,
                "derive",
                {"passphrase_hex": passphrase.encode().hex(), "salt_hex": salt.hex(), "path": path},
            )
            assert go["root_key_hex"] == derive_root_key(passphrase.encode(), salt, path.encode()).hex()
    project = str(uuid.uuid4())
    go = run_go(
        crosscheck_binary,
        "derive",
        {"passphrase_hex": passphrase.encode().hex(), "legacy_project_id": project, "encrypt_path": True},
    )
    assert go["salt_hex"] == legacy_project_salt(project).hex()
    derived = derive_access(passphrase, legacy_project_salt(project))
    assert go["root_key_hex"] == derived.root_key.hex()
    assert go["encryption_access"]["default_path_cipher"] == derived.path_cipher == CIPHER_AESGCM


@pytest.mark.parametrize("encrypt_path", [True, False])
def test_go_reads_passphrase_grants_keyfob_builds_with_the_keys_storj_would_derive(
    crosscheck_binary: Path, root: tuple[bytes, bytes], encrypt_path: bool
) -> None:
    """The adapter's own path: parent grant + passphrase -> restricted grant. Go parses it and finds, per bucket,
    the key and path cipher that Storj's own passphrase flow (uplink RequestAccessWithPassphrase / the console's
    createRestrictedAccess: default key from DeriveRootKey, then Restrict) puts there."""
    secret, head = root
    passphrase, salt = secrets.token_urlsafe(24), uuid.uuid4().bytes
    parent = parent_grant(secret, head, secrets.token_bytes(32))  # its own key must play no part
    derived = derive_access(passphrase, salt, encrypt_path)
    parent = dataclasses.replace(parent, encryption_access=derived.encryption_access())
    buckets = ("alpha", "beta")
    grant = restrict(parent, build_caveat([BucketGrant(b) for b in buckets], frozenset({P.READ}), None))

    go = run_go(crosscheck_binary, "check", {"grant": grant.serialize(), "secret_hex": secret.hex(), "actions": []})
    storj = run_go(
        crosscheck_binary,
        "derive",
        {
            "passphrase_hex": passphrase.encode().hex(),
            "salt_hex": salt.hex(),
            "satellite": SATELLITE,
            "api_key": Macaroon.unrestricted(secret, head).to_api_key(),
            "encrypt_path": encrypt_path,
            "restrict": {"allow_download": True, "buckets": list(buckets)},
        },
    )
    cipher = CIPHER_AESGCM if encrypt_path else CIPHER_NULL
    assert go["valid"]
    assert go["encryption_access"]["default_key_hex"] == storj["encryption_access"]["default_key_hex"] == ""
    assert go["encryption_access"]["default_path_cipher"] == storj["encryption_access"]["default_path_cipher"] == cipher
    ours = {e["bucket"]: (e["key_hex"], e["path_cipher"], e["unencrypted"]) for e in go["encryption_access"]["entries"]}
    theirs = {e["bucket"]: (e["key_hex"], e["path_cipher"], e["unencrypted"])
              for e in storj["encryption_access"]["entries"]}
    assert ours == theirs and sorted(ours) == list(buckets)
    assert all(cipher_of == cipher for _, cipher_of, _ in ours.values())


# ---- prefixes: why keyfob refuses them (Storj's own code, nothing of keyfob's) ---------------------------------


def _grant_with_prefix(binary: Path, secret: bytes, head: bytes, key: bytes, cipher: int, prefix: bytes) -> str:
    caveat = {"disallow_writes": True, "disallow_deletes": True, "nonce_hex": "01",
              "allowed_paths": [{"bucket": "alpha", "encrypted_path_prefix_hex": prefix.hex()}]}
    made = run_go(binary, "make", {"satellite": SATELLITE, "secret_hex": secret.hex(), "head_hex": head.hex(),
                                   "default_key_hex": key.hex(), "default_path_cipher": cipher, "caveats": [caveat]})
    grant: str = made["grant"]
    return grant


def _reads(binary: Path, grant: str, secret: bytes, paths: list[bytes]) -> list[bool]:
    go = run_go(binary, "check", {
        "grant": grant, "secret_hex": secret.hex(), "version": ALL_VERSIONS,
        "actions": [{"op": int(ActionType.READ), "bucket": "alpha", "encrypted_path_hex": p.hex(), "time": iso(NOW)}
                    for p in paths],
    })
    return [r["allowed"] for r in go["results"]]


def test_storj_prefixes_cannot_express_an_s3_prefix_exactly(crosscheck_binary: Path, root: tuple[bytes, bytes]) -> None:
    """keyfob's `prefix: reports/2026/` means "keys starting with reports/2026/". In Storj, with Storj's own code:

    - a share of `reports/2026/` (grant.Access.Restrict trims the slash: allowed_paths = enc("reports/2026"))
      also allows the object `reports/2026` itself, and with the Null path cipher `reports/2026x/...` too;
    - the exact form, enc("reports/2026") + "/", is enforced right by APIKey.Check, but grant.ParseAccess
      re-limits the encryption access to the caveat's prefixes (EncryptionAccess.LimitTo), which leaves the key
      at `reports/2026/` plus an empty component: no client can encrypt a path below it, so the credential
      would be useless.

    So no prefix caveat is both exact and usable, and keyfob refuses prefixes rather than grant more than asked.
    """
    secret, head = root
    key = secrets.token_bytes(32)
    objects = ["reports/2026/x.csv", "reports/2026", "reports/2026x/y", "reports/z"]
    for cipher, broader in ((CIPHER_AESGCM, [True, True, False, False]), (CIPHER_NULL, [True, True, True, False])):
        with_key = {"default_key_hex": key.hex(), "default_path_cipher": cipher, "bucket": "alpha"}
        shared = run_go(crosscheck_binary, "paths", {**with_key, "encrypt": objects,
                                                    "share": [{"bucket": "alpha", "prefix": "reports/2026/"}]})
        prefix = bytes.fromhex(shared["shared_prefix_hex"][0])
        enc = [bytes.fromhex(r["hex"]) for r in shared["encrypted"]]
        assert prefix == enc[1], "Storj's share prefix is the encrypted prefix without its slash"

        storj_share = _grant_with_prefix(crosscheck_binary, secret, head, key, cipher, prefix)
        assert _reads(crosscheck_binary, storj_share, secret, enc) == broader, f"cipher {cipher}"

        exact = _grant_with_prefix(crosscheck_binary, secret, head, key, cipher, prefix + b"/")
        assert _reads(crosscheck_binary, exact, secret, enc) == [True, False, False, False]
        usable = run_go(crosscheck_binary, "paths", {"grant": exact, "bucket": "alpha", "encrypt": objects[:1]})
        assert "missing encryption base" in usable["encrypted"][0]["error"], f"cipher {cipher}"
        (entry,) = usable["encryption_access"]["entries"]
        assert entry["unencrypted"] == "reports/2026/", "LimitTo keeps a key only at the slash-terminated path"
