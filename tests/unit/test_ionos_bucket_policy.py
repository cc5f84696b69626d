"""keyfob's statements in IONOS bucket policies (pure): what is rendered for each permission and bucket type, how
they merge into a bucket's existing policy without touching anyone else's statements, how they are removed
again, what is refused, and the user naming that ownership proofs rest on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from keyfob.api.blocks.ionos import BucketOwnership, IonosScopedUsers
from keyfob.api.vocabulary import Permission as P
from keyfob.contract import BucketGrant, Grant, ProviderRejected, RequestIdentity
from keyfob.contract.naming import key_name
from keyfob.providers.ionos import bucket_policy as bp
from keyfob.providers.ionos.naming import parse_user, user_email

CLUSTER = "cluster-a"
USER_ARN = "arn:aws:iam:::user/31000000:0b6e2b9e-0000-4000-8000-000000000001"
PRINCIPAL = bp.Principal(BucketOwnership.CONTRACT_OWNED, USER_ARN)
EXPIRY = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)


def grant(*permissions: P, buckets: tuple[BucketGrant, ...] = (BucketGrant("data"),), uid: str | None = None,
          revision: int = 1) -> Grant:  # fmt: skip
    uid = uid or str(uuid.uuid4())
    return Grant(key_name(uid, revision), RequestIdentity("team", "app", uid), revision, buckets,
                 frozenset(permissions), EXPIRY)  # fmt: skip


FOREIGN = {"Sid": "Grant Full Control", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam:::user/31000000:x"},
           "Action": "s3:*", "Resource": ["arn:aws:s3:::data", "arn:aws:s3:::data/*"]}  # fmt: skip


def test_read_and_list_render_one_bucket_and_one_object_statement_until_the_expiry() -> None:
    g = grant(P.READ, P.LIST)
    statements = bp.statements_for(CLUSTER, g, "data", PRINCIPAL)
    when = {"DateLessThan": {"aws:CurrentTime": "2027-01-02T03:04:05Z"}}
    assert statements == [
        {"Sid": f"keyfob {CLUSTER} {g.key_name} bucket", "Effect": "Allow", "Principal": {"AWS": [PRINCIPAL.value]},
         "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::data"], "Condition": when},
        {"Sid": f"keyfob {CLUSTER} {g.key_name} objects", "Effect": "Allow", "Principal": {"AWS": [PRINCIPAL.value]},
         "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::data/*"], "Condition": when},
    ]  # fmt: skip


@pytest.mark.parametrize(("permissions", "bucket_actions", "object_actions"), [
    ({P.READ}, None, ["s3:GetObject"]),
    ({P.WRITE}, None, ["s3:PutObject"]),
    ({P.DELETE}, None, ["s3:DeleteObject"]),
    ({P.LIST}, ["s3:ListBucket"], None),
    ({P.READ, P.WRITE, P.LIST, P.DELETE}, ["s3:ListBucket"], ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]),
])  # fmt: skip
def test_each_permission_maps_to_exactly_its_action(
    permissions: set[P], bucket_actions: list[str] | None, object_actions: list[str] | None
) -> None:
    by_part = {s["Sid"].rsplit(" ", 1)[1]: s["Action"] for s in bp.statements_for(CLUSTER, grant(*permissions),
                                                                                  "data", PRINCIPAL)}  # fmt: skip
    assert by_part.get("bucket") == bucket_actions and by_part.get("objects") == object_actions


def test_user_owned_buckets_name_the_canonical_user_and_contract_owned_the_contract_user() -> None:
    canonical = bp.Principal.for_user(BucketOwnership.USER_OWNED, 31000000, "u-1", "c" * 64)
    contract = bp.Principal.for_user(BucketOwnership.CONTRACT_OWNED, 31000000, "u-1", "c" * 64)
    assert canonical.render() == {"CanonicalUser": ["c" * 64]}
    assert contract.render() == {"AWS": ["arn:aws:iam:::user/31000000:u-1"]}
    with pytest.raises(ProviderRejected, match="no s3CanonicalUserId"):
        bp.Principal.for_user(BucketOwnership.USER_OWNED, 31000000, "u-1", None)


def test_merging_keeps_every_other_statement_and_the_policy_id_and_replaces_only_this_keys() -> None:
    mine, other_key = grant(P.READ), grant(P.WRITE)
    other_cluster = bp.statements_for("cluster-b", mine, "data", PRINCIPAL)  # same key name, another cluster
    existing = {"Id": "team policy", "Version": "2012-10-17", "Statement": [
        FOREIGN, *bp.statements_for(CLUSTER, other_key, "data", PRINCIPAL), *other_cluster,
        *bp.statements_for(CLUSTER, grant(P.DELETE, uid=mine.request.uid), "data", PRINCIPAL),  # a stale attempt
    ]}  # fmt: skip
    ours = bp.statements_for(CLUSTER, mine, "data", PRINCIPAL)
    merged = bp.merged(existing, ours, CLUSTER, mine.key_name, BucketOwnership.CONTRACT_OWNED)
    assert merged["Id"] == "team policy"
    statements = merged["Statement"]
    assert statements[0] == FOREIGN and statements[-1:] == ours
    assert [s for s in statements if s.get("Sid", "").endswith(" objects") and mine.key_name in s["Sid"]
            and CLUSTER in s["Sid"].split()] == ours  # the stale DeleteObject statement is gone  # fmt: skip
    assert all(s in statements for s in other_cluster)
    assert bp.statements_for(CLUSTER, other_key, "data", PRINCIPAL)[0] in statements


def test_merging_into_no_policy_makes_one() -> None:
    ours = bp.statements_for(CLUSTER, grant(P.LIST), "data", PRINCIPAL)
    assert bp.merged(None, ours, CLUSTER, "kf-x", BucketOwnership.CONTRACT_OWNED) == {
        "Version": "2012-10-17", "Statement": ours}


def test_removing_keeps_others_and_reports_an_emptied_policy_as_none() -> None:
    g = grant(P.READ, P.LIST)
    ours = bp.statements_for(CLUSTER, g, "data", PRINCIPAL)
    kept, removed = bp.without({"Version": "2012-10-17", "Statement": [FOREIGN, *ours]}, CLUSTER, g.key_name)
    assert removed == 2 and kept == {"Version": "2012-10-17", "Statement": [FOREIGN]}
    assert bp.without({"Statement": ours}, CLUSTER, g.key_name) == (None, 2)
    assert bp.without({"Statement": [FOREIGN]}, CLUSTER, g.key_name) == ({"Statement": [FOREIGN]}, 0)
    assert bp.without(None, CLUSTER, g.key_name) == (None, 0)
    # another cluster's statement for the same key name stays
    theirs = bp.statements_for("cluster-b", g, "data", PRINCIPAL)
    assert bp.without({"Statement": theirs}, CLUSTER, g.key_name) == ({"Statement": theirs}, 0)


@pytest.mark.parametrize("principal", [
    {"AWS": "arn:aws:iam:::user/1:u"}, {"AWS": ["arn:aws:iam:::user/1:u"]}, ["arn:aws:iam:::user/1:u"],
    "arn:aws:iam:::user/1:u",
])  # fmt: skip
def test_every_principal_form_ionos_answers_with_is_read(principal: Any) -> None:
    assert bp.principals_of({"Principal": principal}) == {"arn:aws:iam:::user/1:u"}


def test_a_lone_statement_object_is_read_and_a_garbled_policy_is_left_alone() -> None:
    assert bp.without({"Statement": FOREIGN}, CLUSTER, "kf-x") == ({"Statement": [FOREIGN]}, 0)
    with pytest.raises(ProviderRejected, match="left it alone"):
        bp.merged({"Statement": "nonsense"}, [], CLUSTER, "kf-x", BucketOwnership.CONTRACT_OWNED)


def test_a_policy_over_ionos_size_limit_is_refused() -> None:
    big = {"Statement": [{**FOREIGN, "Sid": "x" * 30_000}]}
    ours = bp.statements_for(CLUSTER, grant(P.READ), "data", PRINCIPAL)
    with pytest.raises(ProviderRejected, match="over IONOS's limit of 20480 for userOwned"):
        bp.merged(big, ours, CLUSTER, "kf-x", BucketOwnership.USER_OWNED)
    assert bp.merged(big, ours, CLUSTER, "kf-x", BucketOwnership.CONTRACT_OWNED)["Statement"][-1] == ours[-1]


def test_what_bucket_policies_cannot_express_is_refused_by_name() -> None:
    assert bp.inexpressible(grant(P.READ, P.WRITE, P.LIST, P.DELETE)) == []
    locked = bp.inexpressible(grant(P.READ, P.PUT_OBJECT_RETENTION))
    assert len(locked) == 1 and "putObjectRetention" in locked[0] and "object-lock" in locked[0]
    prefixed = bp.inexpressible(grant(P.READ, buckets=(BucketGrant("data", "logs/"),)))
    assert len(prefixed) == 1 and "prefixes" in prefixed[0] and "<bucket>/*" in prefixed[0]
    assert bp.inexpressible(grant(P.READ, buckets=())) == [
        "a key without buckets: a bucket-policy grant needs at least one bucket"]
    # what the scoped Capabilities already say is left to them in Provider.unsupported()
    assert bp.inexpressible(grant(P.PUT_OBJECT_RETENTION, buckets=(BucketGrant("d", "p/"),)),
                            beyond_capabilities=False) == []  # fmt: skip


def test_sids_parse_only_when_keyfob_wrote_them() -> None:
    g = grant(P.READ)
    assert bp.parse_sid(bp.sid_for(CLUSTER, g.key_name, "objects")) == (CLUSTER, g.key_name)
    for sid in ("Grant Full Control", f"keyfob {CLUSTER} {g.key_name} everything", None, 7, "keyfob a b c d"):
        assert bp.parse_sid(sid) is None
    assert bp.key_names_in({"Statement": [FOREIGN, *bp.statements_for(CLUSTER, g, "data", PRINCIPAL)]},
                           CLUSTER) == {g.key_name}  # fmt: skip


def test_a_user_record_proves_keyfob_made_it_for_this_cluster_and_request() -> None:
    name = key_name(str(uuid.uuid4()), 3)
    email = user_email(CLUSTER, name, "keyfob.example")
    assert len(email.split("@")[0]) <= 64
    named = parse_user(CLUSTER, "keyfob.example", email, CLUSTER)
    assert named is not None and named.key_name == name and name == key_name(named.request_uid, 3)
    assert parse_user(CLUSTER, "keyfob.example", email.upper(), CLUSTER) == named  # emails are case-blind
    assert parse_user("cluster-b", "keyfob.example", email, "cluster-b") is None  # another cluster's tag
    assert parse_user(CLUSTER, "keyfob.example", email, "someone") is None  # lastname does not say this cluster
    assert parse_user(CLUSTER, "other.example", email, CLUSTER) is None
    assert parse_user(CLUSTER, "keyfob.example", "alice@keyfob.example", CLUSTER) is None
    assert parse_user(CLUSTER, "keyfob.example", None, None) is None


def test_an_enabled_scoped_block_needs_its_contract_group_and_domain() -> None:
    with pytest.raises(ValueError, match="contractNumber, groupId and emailDomain"):
        IonosScopedUsers(enabled=True, contract_number=1, group_id=str(uuid.uuid4()))
    assert IonosScopedUsers().enabled is False
