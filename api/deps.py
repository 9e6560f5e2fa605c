"""Dependencies: the application context and bearer-token roles (``Annotated[..., Depends(...)]``).

Roles (from a signed JWT or a static token, :mod:`api.security`): ``service`` scores transactions;
``investigator`` reads the graph, rings, traces, transactions and alerts with PII masked; ``investigator_pii``
can do all that and read clear PII (every such read audited with the caller's subject). No or a bad token ->
401 (answered by :class:`api.security.Guard` before the body is read), a token of the wrong role -> 403.
The dependencies are ``async`` (pure CPU, no I/O) so they never cost a thread-pool hop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.security import Authenticator, AuthError, Principal, RateLimiter, Role
from pixring import logs

if TYPE_CHECKING:
    from api.graphdb import GraphStore
    from api.graphproj import GraphProjectionHolder
    from api.pii import AuditLog
    from api.readmodel import ReadModel
    from api.scoring import ModelHolder
    from pixring.settings import Settings


@dataclass
class AppContext:
    """Everything a request needs, built once by the app's lifespan."""

    settings: Settings
    graph: GraphStore
    readmodel: ReadModel
    model: ModelHolder
    audit: AuditLog
    projection: GraphProjectionHolder
    authenticator: Authenticator
    #: look-ups by a clear value, per caller subject (``settings.api.clear_lookups_per_minute``)
    clear_lookups: RateLimiter
    #: the online store's asyncio Redis client (:mod:`pixring.online`); None when ``PIXRING_REDIS_ENABLED`` is off
    online: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


async def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]

_bearer = HTTPBearer(auto_error=False, description="a signed JWT from `pixring token`, or a static role token "
                     "(PIXRING_API_TOKEN_*; outside PIXRING_ENV=local only the service role's)")


async def get_principal(
    ctx: Ctx, request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller the Guard middleware authenticated (``credentials`` only documents the scheme in OpenAPI);
    authenticated here for a route outside ``/v1/``. 401 when absent or invalid."""
    principal = getattr(request.state, "principal", None)
    if principal is not None:
        return principal
    try:
        return ctx.authenticator.authenticate(request.headers.get("authorization"), logs.correlation_id.get())
    except AuthError as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    allowed = frozenset(roles)

    async def _check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(403, f"role {principal.role.value} may not use this endpoint")
        return principal

    return _check


Investigator = Annotated[Principal, Depends(require(Role.INVESTIGATOR, Role.INVESTIGATOR_PII))]
ServiceCaller = Annotated[Principal, Depends(require(Role.SERVICE))]
AnyCaller = Annotated[Principal, Depends(require(Role.SERVICE, Role.INVESTIGATOR, Role.INVESTIGATOR_PII))]
