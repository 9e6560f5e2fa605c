"""The erasure ledger in the API: an erased account, key or transaction answers 410 Gone.

Applied as a router dependency to every route that takes an id (``/v1/graph``, ``/v1/users``,
``/v1/transactions``), after the caller is authenticated: a path parameter that is in the ledger (an
account or transaction id, a key token, or a clear key whose token is) is refused before any data is read,
so neither the read model nor the graph projection, which refresh on their own clock, can serve it. The
ledger is re-read when its Delta version moves (:class:`pixring.ledger.ErasedCache`).
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from api.deps import AnyCaller, Ctx
from api.pii import key_token
from pixring import ledger

GONE = {410: {"description": "Gone: erased (LGPD)"}}


def _cache(ctx) -> ledger.ErasedCache:
    cache = ctx.extra.get("erased")
    if cache is None:
        cache = ctx.extra.setdefault("erased", ledger.ErasedCache(ctx.settings))
    return cache


def is_erased(ctx, value: str) -> bool:
    """True when ``value`` (an account, transaction or ring member id) is in the erasure ledger."""
    erased = _cache(ctx).get()
    return bool(erased) and value in erased


async def refuse_erased(request: Request, ctx: Ctx, who: AnyCaller) -> None:
    """410 when a path parameter names someone in the erasure ledger."""
    erased = _cache(ctx).get()
    if not erased:
        return
    secret = ctx.settings.security.pii_secret
    for value in request.path_params.values():
        if not isinstance(value, str):
            continue
        try:
            as_key = key_token(value, secret)
        except Exception:  # noqa: BLE001 - not a key: only the plain comparison applies
            as_key = None
        if value in erased or (as_key is not None and as_key in erased.tokens):
            raise HTTPException(status_code=410, detail="erased")
