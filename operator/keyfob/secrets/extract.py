"""Read the key pair (and an STS session's token) back out of Secret data keyfob rendered (any format), to re-render
without a new key."""

from __future__ import annotations

import configparser
import json
from collections.abc import Mapping

from pydantic import SecretStr


def _ini(text: str, section: str, key_id: str, secret: str) -> tuple[str, SecretStr] | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
        return parser[section][key_id], SecretStr(parser[section][secret])
    except (configparser.Error, KeyError):
        return None


def _ini_value(text: str, section: str, key: str) -> str | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
        return parser[section][key] or None
    except (configparser.Error, KeyError):
        return None


def extract_session_token(data: Mapping[str, str]) -> SecretStr | None:
    """The STS session token of a Secret keyfob rendered for a session, from any format that carries one."""
    if data.get("AWS_SESSION_TOKEN"):
        return SecretStr(data["AWS_SESSION_TOKEN"])
    for key, section, name in (("credentials", "default", "aws_session_token"),
                               ("rclone.conf", "keyfob", "session_token"), (".s3cfg", "default", "access_token")):
        if key in data and (token := _ini_value(data[key], section, name)):
            return SecretStr(token)
    return None


def extract_key_pair(data: Mapping[str, str]) -> tuple[str, SecretStr] | None:
    if "AWS_ACCESS_KEY_ID" in data and "AWS_SECRET_ACCESS_KEY" in data:
        return data["AWS_ACCESS_KEY_ID"], SecretStr(data["AWS_SECRET_ACCESS_KEY"])
    candidates = [
        ("credentials", "default", "aws_access_key_id", "aws_secret_access_key"),
        ("rclone.conf", "keyfob", "access_key_id", "secret_access_key"),
        (".s3cfg", "default", "access_key", "secret_key"),
    ]
    for key, section, key_id, secret in candidates:
        if key in data and (pair := _ini(data[key], section, key_id, secret)):
            return pair
    if "BucketInfo" in data:
        try:
            s3 = json.loads(data["BucketInfo"])["spec"]["secretS3"]
            return s3["accessKeyID"], SecretStr(s3["accessSecretKey"])
        except (ValueError, KeyError, TypeError):
            return None
    return None
