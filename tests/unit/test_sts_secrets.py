"""credentialType sts in the Secret: every format that can carry a session token carries it under the name its
consumer reads (AWS SDKs/CLI, rclone, s3cmd), re-rendering keeps it, COSI's BucketInfo (no field for one) is
refused, and the token never shows in a repr."""

from __future__ import annotations

import configparser
import json
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from keyfob.api.request import AccessKeyRequestSpec, SecretFormat
from keyfob.contract import IssuedKey
from keyfob.lifecycle.policies.spec import spec_problems
from keyfob.secrets.extract import extract_key_pair, extract_session_token
from keyfob.secrets.formats import Credential, FormatCannotCarrySession, render_data

TOKEN = "FwoGZXIvYXdzEBYaD-session-token-value/with+chars="
SECRET = "session-secret-value"


def credential(token: str | None = TOKEN) -> Credential:
    return Credential("ASIAEXAMPLE", SecretStr(SECRET), "http://127.0.0.1:9000", "us-east-1", ("data",),
                      datetime(2026, 6, 1, 13, 0, tzinfo=UTC), SecretStr(token) if token else None)


def ini(text: str, section: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return dict(parser[section])


def test_each_format_carries_the_session_token_where_its_consumer_reads_it() -> None:
    data = render_data([SecretFormat.ENV, SecretFormat.AWS_FILES, SecretFormat.RCLONE, SecretFormat.S3CMD],
                       credential())
    assert data["AWS_SESSION_TOKEN"] == TOKEN  # AWS SDKs and CLI
    assert ini(data["credentials"], "default")["aws_session_token"] == TOKEN  # ~/.aws/credentials
    assert ini(data["rclone.conf"], "keyfob")["session_token"] == TOKEN  # rclone's s3 backend option
    assert ini(data[".s3cfg"], "default")["access_token"] == TOKEN  # s3cmd sends it as x-amz-security-token
    assert data["AWS_ACCESS_KEY_ID"] == "ASIAEXAMPLE" and data["AWS_SECRET_ACCESS_KEY"] == SECRET


def test_an_access_key_gets_no_session_token_anywhere() -> None:
    data = render_data(list(SecretFormat), credential(token=None))
    assert "AWS_SESSION_TOKEN" not in data
    assert not any(word in "".join(data.values()) for word in ("session_token", "access_token"))


def test_cosi_cannot_carry_a_session_and_is_refused() -> None:
    with pytest.raises(FormatCannotCarrySession) as caught:
        render_data([SecretFormat.ENV, SecretFormat.COSI], credential())
    assert "cosi" in str(caught.value) and TOKEN not in str(caught.value)
    bad = AccessKeyRequestSpec.model_validate({
        "providerRef": {"name": "p"}, "buckets": [{"name": "data"}], "permissions": ["read"], "secretName": "s",
        "credentialType": "sts", "secretFormats": ["env", "cosi"]})
    assert any("cosi cannot carry an STS session token" in p for p in spec_problems(bad))
    ok = bad.model_copy(update={"secret_formats": [SecretFormat.ENV, SecretFormat.RCLONE]})
    assert spec_problems(ok) == []


@pytest.mark.parametrize("fmt", [SecretFormat.ENV, SecretFormat.AWS_FILES, SecretFormat.RCLONE, SecretFormat.S3CMD])
def test_rerendering_reads_the_token_back_from_each_format(fmt: SecretFormat) -> None:
    data = render_data([fmt], credential())
    token = extract_session_token(data)
    pair = extract_key_pair(data)
    assert token is not None and token.get_secret_value() == TOKEN
    assert pair is not None and pair[0] == "ASIAEXAMPLE"
    assert extract_session_token(render_data([fmt], credential(token=None))) is None


def test_the_session_token_never_shows_in_a_repr() -> None:
    key = IssuedKey("kf-x-r1", "ASIAEXAMPLE", SecretStr(SECRET), None, True, session_token=SecretStr(TOKEN))
    assert key.is_session
    for text in (repr(key), str(key), repr(credential()), json.dumps(str(credential()))):
        assert TOKEN not in text and SECRET not in text
