from __future__ import annotations

from datetime import timedelta

import pytest

from keyfob.api.vocabulary import bucket_name_problem, format_duration, parse_duration, prefix_problem


@pytest.mark.parametrize(
    ("text", "seconds"), [("45s", 45), ("90m", 5400), ("1h30m", 5400), ("2d", 172800), ("720h", 2592000)]
)
def test_durations_parse(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)
    assert parse_duration(format_duration(parse_duration(text))) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "1", "1w", "-1h", "1.5h", "h", "1h ", "P1D"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("name", ["data", "my.bucket-1", "a1b"])
def test_good_bucket_names(name: str) -> None:
    assert bucket_name_problem(name) is None


@pytest.mark.parametrize(
    "name",
    ["ab", "Upper", "under_score", "-dash", "dot.", "a..b", "192.168.1.1", "star*", 'quo"te', "arn:aws:s3:::x",
     "a/b", "x" * 64],
)
def test_bad_bucket_names(name: str) -> None:
    assert bucket_name_problem(name) is not None


@pytest.mark.parametrize("prefix", ["", "logs/", "a/b/c-1_(x)!.txt"])
def test_good_prefixes(prefix: str) -> None:
    assert prefix_problem(prefix) is None


@pytest.mark.parametrize(
    "prefix", ["*", "logs/*", "a?b", '"', "'", "${aws:username}", "/abs", "../x", "a/../b", "a/./b", "a\nb", "x" * 513]
)
def test_injection_and_traversal_prefixes_are_refused(prefix: str) -> None:
    assert prefix_problem(prefix) is not None
