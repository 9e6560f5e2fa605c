"""pixring.durations: the one parser of the stream's watermark and the graph's rebuild interval."""

from __future__ import annotations

import pytest

from pixring.durations import parse_duration
from pixring.errors import PixringError


def test_both_spellings_parse() -> None:
    assert parse_duration("10 minutes") == 600 and parse_duration("1 hour") == 3600 and parse_duration("2 days") == 172800
    assert parse_duration("15m") == 900 and parse_duration("30s") == 30 and parse_duration("1h") == 3600
    assert parse_duration("45") == 45 and parse_duration("1.5h") == 5400


@pytest.mark.parametrize("bad", ["", "soon", "0m", "m15", "15x", "-5s"])
def test_what_is_not_a_duration_is_one_clear_error(bad: str) -> None:
    with pytest.raises(PixringError, match="not a duration") as err:
        parse_duration(bad)
    assert isinstance(err.value, ValueError)  # settings validators may raise it as they are
