"""Every Secret format renders what its tool expects, and keyfob can read the key pair back for re-rendering."""

from __future__ import annotations

import configparser
import json

import pytest
from pydantic import SecretStr

from keyfob.api.request import SecretFormat
from keyfob.secrets.extract import extract_key_pair
from keyfob.secrets.formats import Credential, render_data

CRED = Credential("AKIATEST", SecretStr("s3cr3t/with+chars="), "http://127.0.0.1:9000", "eu-west-1",
                  ("one", "two"), None)


@pytest.mark.parametrize("fmt", list(SecretFormat))
def test_each_format_round_trips_the_key_pair(fmt: SecretFormat) -> None:
    data = render_data([fmt], CRED)
    pair = extract_key_pair(data)
    assert pair is not None and pair[0] == "AKIATEST" and pair[1].get_secret_value() == "s3cr3t/with+chars="


def test_env_format() -> None:
    data = render_data([SecretFormat.ENV], CRED)
    assert data["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9000" and data["AWS_REGION"] == "eu-west-1"
    assert data["BUCKET_NAME"] == "one" and data["BUCKET_NAMES"] == "one,two"


def test_aws_files_parse_as_ini() -> None:
    data = render_data([SecretFormat.AWS_FILES], CRED)
    config = configparser.ConfigParser()
    config.read_string(data["config"])
    assert config["default"]["endpoint_url"] == "http://127.0.0.1:9000"


def test_s3cmd_and_cosi() -> None:
    s3cfg = configparser.ConfigParser()
    s3cfg.read_string(render_data([SecretFormat.S3CMD], CRED)[".s3cfg"])
    assert s3cfg["default"]["host_base"] == "127.0.0.1:9000" and s3cfg["default"]["use_https"] == "False"
    info = json.loads(render_data([SecretFormat.COSI], CRED)["BucketInfo"])
    assert info["spec"]["secretS3"]["endpoint"] == "http://127.0.0.1:9000"


def test_formats_do_not_collide() -> None:
    keys = [set(render_data([f], CRED)) for f in SecretFormat]
    assert sum(len(k) for k in keys) == len(set().union(*keys))


def test_credential_repr_hides_the_secret() -> None:
    assert "s3cr3t" not in repr(CRED)
