"""AWS IAM adapter: one IAM user per issued key, with an inline policy and one access key.

Naming: user name = keyfob's key name ('kf-<request uid>-r<revision>'), path = '<userPath><cluster id>/', so the
orphan sweep finds this cluster's users with list_users(PathPrefix=path) and never touches anything else.
Expiry: IAM keys never expire; the policy carries an aws:CurrentTime condition and keyfob revokes at expiry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import boto3
import botocore.exceptions
from botocore.config import Config
from pydantic import SecretStr

from keyfob.api.blocks.aws import AwsProviderBlock
from keyfob.api.vocabulary import Permission
from keyfob.contract import (
    Capabilities,
    ConnectionInfo,
    Grant,
    GrantPreview,
    IssuedKey,
    KeyRef,
    OwnedKey,
    OwnershipUnproven,
    ProviderRejected,
    ProviderThrottled,
    ProviderUnavailable,
)
from keyfob.contract.keys import Revoked
from keyfob.contract.naming import names_request, parse_key_name
from keyfob.providers.aws import session
from keyfob.providers.aws.scope import POLICY_NAME, policy_for, preview

ACCESS_KEY_ID_KEY = "AWS_ACCESS_KEY_ID"
SECRET_ACCESS_KEY_KEY = "AWS_SECRET_ACCESS_KEY"
_THROTTLING = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "SlowDown"}
_PERMANENT = {"MalformedPolicyDocument", "LimitExceeded", "AccessDenied", "InvalidClientTokenId",
              "SignatureDoesNotMatch", "InvalidInput", "ValidationError", "PackedPolicyTooLarge",
              "RegionDisabledException", "ExpiredTokenException"}
T = TypeVar("T")


def _call(what: str, fn: Callable[..., T], tolerate: frozenset[str] = frozenset(), /, **kwargs: Any) -> T | None:
    """Run one IAM call; None when it failed with a tolerated error code (e.g. NoSuchEntity on delete).

    Other failures are translated into the provider error taxonomy; messages carry no secrets.
    """
    try:
        return fn(**kwargs)
    except botocore.exceptions.ClientError as err:
        code = err.response.get("Error", {}).get("Code", "Unknown")
        if code in tolerate:
            return None
        message = err.response.get("Error", {}).get("Message", "")
        text = f"IAM {what} failed: {code}: {message}".rstrip(": ")
        if code in _THROTTLING:
            raise ProviderThrottled(text) from None
        if code in _PERMANENT:
            raise ProviderRejected(text) from None
        raise ProviderUnavailable(text) from None
    except (botocore.exceptions.BotoCoreError, OSError) as err:
        raise ProviderUnavailable(f"IAM {what} failed: {type(err).__name__}: {err}") from None


GONE = frozenset({"NoSuchEntity"})


def _required(result: T | None, what: str) -> T:
    if result is None:
        raise ProviderUnavailable(f"IAM {what} returned nothing")
    return result


class AwsIamProvider:
    kind: ClassVar[str] = "aws"
    # sessions: credentialType sts, once the provider names a role (spec.aws.sts); see providers/aws/session.py.
    capabilities = Capabilities(permissions=frozenset(Permission), prefix_scope=True, native_expiry=False,
                                sessions=True)

    def __init__(self, block: AwsProviderBlock, admin: Mapping[str, str], cluster_id: str) -> None:
        missing = [k for k in (ACCESS_KEY_ID_KEY, SECRET_ACCESS_KEY_KEY) if not admin.get(k)]
        if missing:
            raise ProviderRejected(f"admin credentials Secret lacks key(s): {', '.join(missing)}")
        self.block = block
        self.path = f"{block.user_path}{cluster_id}/"
        self.cluster_id = cluster_id
        config = Config(
            retries={"max_attempts": 6, "mode": "adaptive"},
            connect_timeout=5,
            read_timeout=30,
            user_agent_extra="keyfob",
        )
        boto = boto3.session.Session()
        self._iam = boto.client(
            "iam",
            region_name=block.region,
            endpoint_url=block.iam_endpoint,
            aws_access_key_id=admin[ACCESS_KEY_ID_KEY],
            aws_secret_access_key=admin[SECRET_ACCESS_KEY_KEY],
            config=config,
        )
        self._sts: Any = None
        if block.sts is not None:
            self._sts = boto.client(
                "sts",
                region_name=block.region,
                endpoint_url=block.sts.endpoint,
                aws_access_key_id=admin[ACCESS_KEY_ID_KEY],
                aws_secret_access_key=admin[SECRET_ACCESS_KEY_KEY],
                config=config,
            )

    def connection(self) -> ConnectionInfo:
        return ConnectionInfo(endpoint=self.block.s3_endpoint, region=self.block.region)

    def unsupported(self, grant: Grant) -> list[str]:
        if grant.is_session:
            return session.session_refusals(self.block.sts, grant)
        return []  # IAM policies express every permission, bucket and prefix; expiry is a policy condition

    def describe(self, grant: Grant) -> GrantPreview:
        if grant.is_session:
            return session.preview(self.block.sts, grant)
        return preview(grant, self.path, self.block.permissions_boundary)

    def check(self) -> None:
        _call("ListUsers", self._iam.list_users, PathPrefix=self.path, MaxItems=1)

    def issue(self, grant: Grant) -> IssuedKey:
        if grant.is_session:
            return self._assume(grant)
        user = grant.key_name
        tags = [
            {"Key": "keyfob.dev/cluster", "Value": self.cluster_id},
            {"Key": "keyfob.dev/namespace", "Value": grant.request.namespace},
            {"Key": "keyfob.dev/name", "Value": grant.request.name},
            {"Key": "keyfob.dev/uid", "Value": grant.request.uid},
            {"Key": "keyfob.dev/revision", "Value": str(grant.revision)},
        ]
        if grant.expires_at is not None:
            tags.append({"Key": "keyfob.dev/expires-at", "Value": grant.expires_at.isoformat()})
        create: dict[str, Any] = {"UserName": user, "Path": self.path, "Tags": tags}
        if self.block.permissions_boundary:
            create["PermissionsBoundary"] = self.block.permissions_boundary
        policy = json.dumps(policy_for(grant))
        if not names_request(user, grant.request.uid):
            raise OwnershipUnproven(f"{user!r} is not a key name keyfob derives for this request")
        # EntityAlreadyExists: a crashed earlier attempt for this same name; adopt the user, replace its keys,
        # but only once IAM's own record (path and tags) shows keyfob made it for this request.
        created_user = _call("CreateUser", self._iam.create_user, frozenset({"EntityAlreadyExists"}), **create)
        if created_user is None:
            self._prove(user, grant.request.uid)
        _call("PutUserPolicy", self._iam.put_user_policy, UserName=user, PolicyName=POLICY_NAME, PolicyDocument=policy)
        self._delete_access_keys(user)  # their secrets were lost with the crashed attempt
        response = _required(_call("CreateAccessKey", self._iam.create_access_key, UserName=user), "CreateAccessKey")
        created = response["AccessKey"]
        return IssuedKey(
            key_name=user,
            access_key_id=created["AccessKeyId"],
            secret_access_key=SecretStr(created["SecretAccessKey"]),
            expires_at=grant.expires_at,
            expiry_native=False,
        )

    def _assume(self, grant: Grant) -> IssuedKey:
        """An STS session on the provider's role whose session policy is exactly the grant's scope."""
        settings = self.block.sts
        refused = session.session_refusals(settings, grant)
        if settings is None or self._sts is None or refused:
            raise ProviderRejected("; ".join(refused) or "no STS role configured")
        if not names_request(grant.key_name, grant.request.uid):
            raise OwnershipUnproven(f"{grant.key_name!r} is not a key name keyfob derives for this request")
        # A crashed earlier attempt under this name may have been an access key (credentialType changed while the
        # issue was pending): its IAM user goes first, once IAM's record proves it is keyfob's for this request.
        self._delete_user(grant.key_name, grant.request.uid)
        answer = _required(
            _call("AssumeRole", self._sts.assume_role, **session.assume_role_arguments(settings, grant)), "AssumeRole"
        )
        credentials = answer["Credentials"]
        return IssuedKey(
            key_name=grant.key_name,
            access_key_id=credentials["AccessKeyId"],
            secret_access_key=SecretStr(credentials["SecretAccessKey"]),
            expires_at=credentials["Expiration"],
            expiry_native=True,
            session_token=SecretStr(credentials["SessionToken"]),
        )

    def revoke(self, ref: KeyRef) -> Revoked | None:
        """Delete the user's keys, policy and the user, once IAM's record shows keyfob made it for ref.owner_uid.
        The access key id in `ref` is not used: every key of the proven user goes. An STS session has no user
        and no call ends it: with nothing of that name at IAM, a session is left to its own expiry."""
        if not self._delete_user(ref.key_name, ref.owner_uid):
            return Revoked(how="expire", detail=session.NOT_REVOCABLE) if ref.session else None  # already gone
        return None

    def _delete_user(self, user: str, owner_uid: str) -> bool:
        """Delete a user keyfob proves it made for owner_uid; False when there is none."""
        if not names_request(user, owner_uid):
            raise OwnershipUnproven(f"{user!r} is not a key name keyfob derives for this request")
        if not self._prove(user, owner_uid, missing_ok=True):
            return False
        self._delete_access_keys(user)
        _call("DeleteUserPolicy", self._iam.delete_user_policy, GONE, UserName=user, PolicyName=POLICY_NAME)
        _call("DeleteUser", self._iam.delete_user, GONE, UserName=user)
        return True

    def _prove(self, user: str, owner_uid: str, missing_ok: bool = False) -> bool:
        """True when IAM shows `user` under this cluster's path with keyfob's tags for `owner_uid`; False when it
        is gone (only with missing_ok); OwnershipUnproven otherwise, before anything is changed."""
        found = _call("GetUser", self._iam.get_user, GONE if missing_ok else frozenset(), UserName=user)
        if found is None:
            return False
        record = found["User"]
        tags = {t["Key"]: t["Value"] for t in record.get("Tags", [])}
        if not tags:
            listed = _call("ListUserTags", self._iam.list_user_tags, GONE, UserName=user)
            tags = {t["Key"]: t["Value"] for t in (listed["Tags"] if listed else [])}
        if (
            record.get("Path") != self.path
            or tags.get("keyfob.dev/uid") != owner_uid
            or tags.get("keyfob.dev/cluster") != self.cluster_id
        ):
            raise OwnershipUnproven(
                f"IAM user {user!r} exists but its path and tags do not show keyfob made it for this request"
            )
        return True

    def list_owned(self) -> list[OwnedKey]:
        owned: list[OwnedKey] = []
        marker: str | None = None
        while True:
            paging = {"Marker": marker} if marker else {}
            page = _required(_call("ListUsers", self._iam.list_users, PathPrefix=self.path, **paging), "ListUsers")
            for user in page.get("Users", []):
                parsed = parse_key_name(user["UserName"])
                if parsed is None or user.get("Path") != self.path:
                    continue  # not ours: another naming convention or a sub-path
                keys = self._access_key_ids(user["UserName"])
                owned.append(OwnedKey(key_name=user["UserName"], access_key_ids=tuple(keys), request_uid=parsed[0]))
            if not page.get("IsTruncated"):
                return owned
            marker = page.get("Marker")

    def _access_key_ids(self, user: str) -> list[str]:
        listed = _call("ListAccessKeys", self._iam.list_access_keys, GONE, UserName=user)
        return [k["AccessKeyId"] for k in (listed["AccessKeyMetadata"] if listed else [])]

    def _delete_access_keys(self, user: str) -> None:
        for key_id in self._access_key_ids(user):
            _call("DeleteAccessKey", self._iam.delete_access_key, GONE, UserName=user, AccessKeyId=key_id)
