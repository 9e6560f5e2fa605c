"""Helpers shared by the routers."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import HTTPException

from api.problems import AUTH_RESPONSES, NOT_FOUND

PROTECTED = AUTH_RESPONSES
PROTECTED_404 = {**AUTH_RESPONSES, **NOT_FOUND}


def utc(value: datetime | None) -> datetime | None:
    """Naive UTC (the read model's and Neo4j's convention); naive input is taken as UTC."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def not_found(what: str) -> HTTPException:
    return HTTPException(404, f"{what} not found")


def check_window(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since > until:
        raise HTTPException(422, "since must not be after until")
