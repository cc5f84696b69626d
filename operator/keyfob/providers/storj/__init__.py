"""Storj provider: access grants and macaroon caveats in pure Python (no Go or C library at run time).

Modules: wire (protobuf wire format), base58, macaroon, caveat, grant (access grants and encryption access),
authorize (Storj's APIKey.Check), scope (permission vocabulary -> caveat), restrict (building and proving the
restricted grant), console and auth_service (HTTP clients), adapter (the Provider).
"""
