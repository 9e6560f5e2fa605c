"""Dependencies: the application context and bearer-token roles (``Annotated[..., Depends(...)]``).

Roles (tokens from ``settings.api``): ``service`` scores transactions; ``investigator`` reads the graph,
rings, traces, transactions and alerts with PII masked; ``investigator_pii`` can do all that and read clear
PII (every such read audited). No token -> 401, a token of the wrong role -> 403.
The dependencies are ``async`` (pure CPU, no I/O) so they never cost a thread-pool hop.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.pii import token_fingerprint
from pixring import logs

if TYPE_CHECKING:
    from api.graphdb import GraphStore
    from api.graphproj import GraphProjectionHolder
    from api.pii import AuditLog
    from api.readmodel import ReadModel
    from api.scoring import ModelHolder
    from pixring.settings import Settings


class Role(StrEnum):
    SERVICE = "service"
    INVESTIGATOR = "investigator"
    INVESTIGATOR_PII = "investigator_pii"


@dataclass
class AppContext:
    """Everything a request needs, built once by the app's lifespan."""

    settings: Settings
    graph: GraphStore
    readmodel: ReadModel
    model: ModelHolder
    audit: AuditLog
    projection: GraphProjectionHolder
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Principal:
    role: Role
    fingerprint: str
    request_id: str


async def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]

_bearer = HTTPBearer(auto_error=False, description="a role token from settings.api (PIXRING_API_TOKEN_*)")


async def get_principal(
    ctx: Ctx, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller's role from its bearer token (constant-time comparison); 401 when absent or unknown."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise HTTPException(401, "bearer token required", headers={"WWW-Authenticate": "Bearer"})
    given = credentials.credentials.encode("utf-8")
    a = ctx.settings.api
    role = None
    for r, secret in ((Role.SERVICE, a.token_service), (Role.INVESTIGATOR, a.token_investigator),
                      (Role.INVESTIGATOR_PII, a.token_investigator_pii)):
        if hmac.compare_digest(given, secret.get_secret_value().encode("utf-8")):
            role = r
    if role is None:
        raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})
    return Principal(role, token_fingerprint(credentials.credentials), logs.correlation_id.get())


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
