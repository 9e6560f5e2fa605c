"""One parser for the durations of settings and options: ``"10 minutes"``, ``"30s"``, ``"1 hour"``, ``"15m"``,
``"2d"``, ``"45"`` (a bare number is seconds)."""

from __future__ import annotations

import re

from pixring.errors import PixringError

_UNITS = {"": 1, "s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
          "d": 86400, "day": 86400}
_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*?)s?\s*")


class DurationError(PixringError, ValueError):
    """Not a duration (a :class:`PixringError` for the CLI, a ``ValueError`` for settings validation)."""


def parse_duration(text: str) -> float:
    """The duration ``text`` in seconds, > 0."""
    m = _DURATION.fullmatch((text or "").lower())
    if not m or m.group(2) not in _UNITS or float(m.group(1)) <= 0:
        raise DurationError(f"not a duration: {text!r} (e.g. 30s, 15m, 1h, '10 minutes')")
    return float(m.group(1)) * _UNITS[m.group(2)]
