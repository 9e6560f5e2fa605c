"""Helpers shared by the routers."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import HTTPException

from api.problems import AUTH_RESPONSES, NOT_FOUND

PROTECTED = AUTH_RESPONSES
PROTECTED_404 = {**AUTH_RESPONSES, **NOT_FOUND}


def utc(value: datetime | None) -> datetime | None:
    """Naive UTC (the read model's and Neo4j's convention); naive input is taken as UTC.

    A time whose UTC equivalent falls outside years 1-9999 (``0001-01-01T00:00+05:00``) is a 422, not a crash."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    except OverflowError:
        raise HTTPException(422, f"{value.isoformat()} is out of range in UTC") from None


def not_found(what: str) -> HTTPException:
    return HTTPException(404, f"{what} not found")


def check_window(since: datetime | None, until: datetime | None) -> None:
    """422 when ``since`` is after ``until``; give both through :func:`utc` first (an offset-aware and a naive
    time do not compare)."""
    if since is not None and until is not None and since > until:
        raise HTTPException(422, "since must not be after until")
