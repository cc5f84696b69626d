"""What the lifecycle and the providers share, and nothing else: the grant, the issued key, key references,
capabilities, the error taxonomy, naming and the one cluster-id rule. Imports nothing above `keyfob.api`.

The value types are re-exported here so callers write `from keyfob.contract import Grant, KeyRef`.
"""

from keyfob.contract.capabilities import Capabilities
from keyfob.contract.errors import (
    OwnershipUnproven,
    ProviderError,
    ProviderRejected,
    ProviderThrottled,
    ProviderUnavailable,
)
from keyfob.contract.grant import BucketGrant, Grant, RequestIdentity
from keyfob.contract.keys import ConnectionInfo, IssuedKey, KeyRef, OwnedKey, Revoked
from keyfob.contract.preview import Describes, GrantPreview, describe
from keyfob.contract.provider import Provider

__all__ = [
    "BucketGrant",
    "Capabilities",
    "ConnectionInfo",
    "Describes",
    "Grant",
    "GrantPreview",
    "IssuedKey",
    "KeyRef",
    "OwnedKey",
    "OwnershipUnproven",
    "Provider",
    "ProviderError",
    "ProviderRejected",
    "ProviderThrottled",
    "ProviderUnavailable",
    "RequestIdentity",
    "Revoked",
    "describe",
]
